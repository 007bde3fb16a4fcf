/* nntp-read's bulk overview (--overview N, --new): the ranges are cut
 * into chunks fetched with pipelined OVER commands, on the session's
 * connection or over --connections N (nettool/nntp_pool.h); rows are
 * kept, sorted by number, optionally threaded by References, and printed
 * as the table or as JSON. On a terminal (not with --json or -q) a progress
 * line on stderr shows the articles of the ranges done of all, the rows,
 * the bytes and the rate while they come. */
#ifndef NETTOOL_NNTP_READ_OVER_H
#define NETTOOL_NNTP_READ_OVER_H

#include <stddef.h>
#include <stdint.h>

#include "commands.h"

typedef struct nntp_over_job_s {
  nntp_cli_t *s;
  const char *group;
  unsigned connections; /* 1: the session's connection */
  int threads, json;
  uint64_t count, low, high; /* the GROUP reply, for the JSON */
  /* called once with the number of rows printed, or an exit code < 0
   * (-exit) when it failed (the error was said) */
  void (*done)(void *arg, int64_t rows);
  void *arg;
  /* private */
  void *impl;
} nntp_over_job_t;

/* Fetches the overview of ranges [lo, hi] (in order). 0 or an exit code. */
int nntp_over_start(nntp_over_job_t *job, const uint64_t (*ranges)[2], size_t n);
/* Prints a row as the table does (for the single-article code paths). */
void nntp_over_table_head(void);
/* Stops the job's timers (the progress line, a --retry wait) and erases
 * the progress line: after the loop, before its reactor is freed. */
void nntp_over_stop(nntp_over_job_t *job);
/* Frees what the job kept. */
void nntp_over_free(nntp_over_job_t *job);

#endif
