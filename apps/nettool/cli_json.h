/* --json: one JSON object per transfer on stdout, so scripts need not parse
 * English. Strings are escaped per RFC 8259 (control characters as \u00XX,
 * invalid UTF-8 bytes as U+FFFD), numbers are plain. */
#ifndef NETTOOL_CLI_JSON_H
#define NETTOOL_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

/* One transfer's facts; NULL strings and negative numbers are left out. */
typedef struct cli_json_xfer_s {
  const char *command;   /* "http-get" */
  const char *url;       /* the URL asked for (no password) */
  const char *final_url; /* after redirects */
  const char *host;      /* FTP/NNTP: the server */
  int port;              /* 0: left out */
  const char *path;      /* FTP: the remote path; NNTP: the group */
  const char *file;      /* the local file ("-": stdout) */
  int status;            /* the server's last status (200, 226...); -1 */
  int exit_code;         /* nettool's exit status */
  const char *error;     /* the error line, when it failed */
  int64_t bytes;         /* body/file bytes moved */
  double seconds;        /* wall time of the transfer */
  const char *sha256;    /* hex, when asked with --sha256 */
  int64_t articles;      /* NNTP: articles shown; -1 */
} cli_json_xfer_t;

void cli_json_xfer_init(cli_json_xfer_t *x, const char *command);
/* Writes the object and a newline on stdout, then flushes. */
void cli_json_print(const cli_json_xfer_t *x);
/* Writes s as a JSON string (quotes included). */
void cli_json_string(FILE *out, const char *s);

/* Monotonic seconds, for the transfer's duration. */
double cli_now(void);

/* SHA-256 of a stream of bytes (--sha256), hex when finished. */
typedef struct cli_sha256_s cli_sha256_t;
cli_sha256_t *cli_sha256_new(void);
void cli_sha256_update(cli_sha256_t *s, const void *p, size_t n);
/* Writes 64 hex digits and a NUL into hex; frees s. */
void cli_sha256_final(cli_sha256_t *s, char hex[65]);
/* Hash of a whole file; 0 or -errno. */
int cli_sha256_file(const char *path, char hex[65]);

#endif
