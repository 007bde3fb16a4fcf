/* A progress bar for any transfer: one stderr line redrawn from a reactor
 * timer (never from the data path), only when stderr is a terminal. The
 * numbers come from callbacks, so any protocol can feed it. Once bytes
 * reaches a known total while the command still runs, the line says
 * "waiting for the server" (uploads count acknowledged bytes, so this is
 * the server finishing: FTP's 226). */
#ifndef NETTOOL_PROGRESS_H
#define NETTOOL_PROGRESS_H

#include <stdint.h>

#include "nettool/reactor.h"

typedef struct progress_s {
  nt_reactor_t *reactor;
  nt_timer_t timer;
  int on;    /* started and stderr is a terminal */
  int drawn; /* a line is on the screen */
  uint64_t (*bytes)(void *arg); /* moved so far */
  uint64_t (*total)(void *arg); /* expected; UINT64_MAX: unknown */
  void *arg;
  uint64_t start_ms, last_ms, last_bytes;
  double rate; /* bytes/s, smoothed */
} progress_t;

/* Starts drawing every 250 ms when enabled and stderr is a terminal. The
 * timer does not keep the reactor alive. */
void progress_start(progress_t *p, nt_reactor_t *r, int enabled,
                    uint64_t (*bytes)(void *), uint64_t (*total)(void *),
                    void *arg);
/* Stops and erases the line (call before printing anything else). */
void progress_stop(progress_t *p);

/* "1.5 MiB" into buf. */
void progress_human(char *buf, unsigned size, double bytes);

#endif
