/* http-upload --resumable (cmd_http_tus.c): the tus upload's own options and
 * its run, on top of the shared HTTP options in http_cli_t. */
#ifndef NETTOOL_CMD_HTTP_TUS_H
#define NETTOOL_CMD_HTTP_TUS_H

#include <stddef.h>
#include <stdint.h>

#include "cmd_http_common.h"

typedef struct tus_cli_s {
  const char *journal; /* --journal; NULL: FILE.nettool-upload */
  uint64_t chunk_size; /* --chunk-size; 0: the library's default */
  int checksum;        /* NT_UPLOAD_CHECKSUM_* from --checksum */
  int terminate;       /* --delete-on-failure */
} tus_cli_t;

/* Uploads file to h->url (the tus endpoint) with nmeta metadata pairs;
 * returns the exit code (messages printed; the upload URL on stdout). */
int http_tus_run(http_cli_t *h, const char *file, const tus_cli_t *tc,
                 const char *const *meta_keys, const char *const *meta_values,
                 size_t nmeta);

#endif
