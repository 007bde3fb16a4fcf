/* Internals of the NZB downloader shared by nzb_get.c and nzb_state.c. */
#ifndef NETTOOL_NZB_INT_H
#define NETTOOL_NZB_INT_H

#include <stdint.h>

#include "nettool/nzb.h"

/* What the downloader knows of one segment. */
typedef struct nt__nzb_seg_s {
  uint8_t status; /* nt_nzb_seg_status_t */
  uint8_t server; /* the server it is queued on / was last asked of */
  uint8_t tries;  /* connection failures while it was in flight */
  uint8_t broke_server; /* the server it left after `tries` breakages */
  int error;      /* the last NT_E* cause */
  int broke_error; /* why it left that server (0: it never did): a 430 on
                      a later one is then not proof that it is missing */
  uint64_t begin; /* =ypart begin - 1: the byte offset in the file */
  uint64_t len;   /* decoded bytes */
  uint32_t crc;   /* their CRC32 */
} nt__nzb_seg_t;

/* The state file (NAME.part.state) of one output file:
 *   nettool-nzb-state 1
 *   file NSEGMENTS SIZE CRC32|-
 *   seg INDEX BEGIN LEN CRC32 MESSAGE-ID      (one per segment written)
 * Loading marks the listed segments RESUMED (when the index and the
 * Message-ID match the NZB's); anything else in the file makes it ignored.
 * Returns 1 (loaded), 0 (no usable state). */
int nt__nzb_state_load(const char *path, const nt_nzb_file_t *f,
                       nt__nzb_seg_t *segs, uint64_t *size, int *has_crc,
                       uint32_t *crc);
/* Writes PATH.tmp, then renames it over PATH. 0 or -errno. */
int nt__nzb_state_save(const char *path, const nt_nzb_file_t *f,
                       const nt__nzb_seg_t *segs, uint64_t size, int has_crc,
                       uint32_t crc);

/* Test hook (tests/unit/test_nzb_get.c): makes the downloader's NNTP
 * clients instead of nt_nntp_connect, with the same contract (the client
 * in *out, its callbacks later from the loop). */
typedef int (*nt__nzb_connect_fn)(void *arg, nt_reactor_t *r, const char *host,
                                  int port, const nt_nntp_options_t *o,
                                  const nt_nntp_callbacks_t *cbs, void *cb_arg,
                                  nt_nntp_t **out);
void nt__nzb_get_set_connect_hook(nt_nzb_get_t *g, nt__nzb_connect_fn fn, void *arg);

#endif
