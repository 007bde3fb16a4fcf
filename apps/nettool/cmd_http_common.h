/* Shared by http-upload and http-get (cmd_http_*.c): the common options,
 * running one request on a reactor, the output file (OUT.part, renamed on
 * success), the progress bar, and the exit codes. */
#ifndef NETTOOL_CMD_HTTP_COMMON_H
#define NETTOOL_CMD_HTTP_COMMON_H

#include <stdint.h>

#include "cli_opts.h"
#include "nettool/http.h"

/* Exit status of a transfer stopped by SIGINT/SIGTERM (128 + SIGINT, the
 * shell's convention; docs/EXIT-CODES.md). */
#define HTTP_EXIT_INTERRUPTED 130

#define HTTP_MAX_HEADERS 100

typedef struct http_cli_s http_cli_t;

struct http_cli_s {
  /* options */
  const char *url; /* argv's until http_cli_run copies it (url_copy) */
  const char *out_path; /* -o; NULL: stdout */
  const char *cacert;
  const char *userpass; /* -u user:pass; never printed; copied like url */
  char *url_copy, *userpass_copy; /* ours: argv's password is wiped */
  const char *headers[HTTP_MAX_HEADERS + 1];
  size_t nheaders;
  int insecure, quiet, verbose, json, sha256;
  int include_headers;   /* -i: the response head before the body */
  const char *dump_path; /* -D FILE: the response head goes there */
  cli_common_t common;   /* the shared options (owns the -u copy) */
  struct cli_sha256_s *sha; /* --sha256 with --json */
  uint64_t body_bytes, sent_bytes;
  int dump_errno;
  unsigned long long timeout_ms, idle_ms, connect_ms, retry_delay_ms;
  const char *idle_name; /* the option that set idle_ms, for messages */
  int idle_given, connect_given;
  int max_redirs; /* -2: default */
  int retries;
  int upload; /* progress shows the upload, not the download */
  nt_http_body_t *body;
  const char *method;
  /* the run */
  nt_reactor_t *reactor;
  nt_http_client_t *client;
  nt_http_request_t *req;
  int out_fd; /* -1 until the body starts (2xx only with -o) */
  char *part_path;
  int http_status;
  int done, status, connected, body_error, interrupted, out_errno;
  int limit;           /* NT_HTTP_LIMIT_* that ended it, or 0 */
  int warned_insecure; /* the --insecure warning was printed */
  uint64_t out_bytes;  /* written to OUT.part */
  char part_note[300]; /* "; partial download kept in OUT.part" or "" */
  int discard; /* -o and not 2xx: the body is not kept */
  char error[1024];
  char final_url[NT_URL_MAX + 300];
  char reason[128];
  /* called before the reactor is freed (frees the body) */
  void (*cleanup)(http_cli_t *h);
  void *data;
  /* progress bar (cmd_http_progress.c) */
  int bar;
  nt_timer_t bar_timer;
  uint64_t bar_start, bar_last_ms, bar_last_bytes;
  double bar_rate;
  int bar_drawn;
  /* -o OUT with GET: a resumable download (nettool/http_download.h) */
  struct nt_http_download_s *dl;
  int use_dl, no_verify, dl_local;
  char verified[64]; /* the digest the download checked, or "" */
};

/* The options both commands have besides the shared ones (cli_opts.h):
 * rows for their cli_opt_t tables, handled by http_cli_own. */
#define HTTP_CLI_ROWS                                                          \
  {"header", 'H', CLI_T_STR, CLI_F_REPEAT, 'H', "'Name: value'",               \
   "extra request header ('Name:' removes one); the value\n"                  \
   "of a credential (Authorization, Cookie, *Token*...)\n"                    \
   "is hidden from ps", 0},                                                   \
      {"output", 'o', CLI_T_FILE, 0, 'o', "OUT",                               \
       "write the body to OUT (through OUT.part, renamed\n"                    \
       "on success; an existing OUT is never truncated;\n"                     \
       "a transfer cut short keeps OUT.part)", 0},                             \
      {"idle-timeout", 0, CLI_T_SECS, 0, 'I', "S",                             \
       "give up when no byte moves for S seconds, from\n"                      \
       "the first connect attempt on (default 30)", 0},                        \
      {"max-redirs", 0, CLI_T_UINT, 0, 'R', "N",                               \
       "follow at most N redirects (default 10; 0: do not\n"                   \
       "follow, the 3xx is the answer)", 100},                                 \
      {"sha256", 0, CLI_T_BOOL, 0, 'Z', NULL,                                  \
       "with --json: the SHA-256 of the body received", 0},                    \
      {"no-verify", 0, CLI_T_BOOL, 0, 'V', NULL,                               \
       "-o: do not check the server's Repr-Digest,\n"                           \
       "Content-Digest or Content-MD5 (checked by default)", 0}
/* The shared options both commands accept. */
#define HTTP_CLI_SHARED                                                        \
  (CLI_S_TLS | CLI_S_TIMES | CLI_S(CLI_O_QUIET) | CLI_S(CLI_O_VERBOSE) |       \
   CLI_S(CLI_O_USER) | CLI_S(CLI_O_JSON) | CLI_S(CLI_O_PROXY) | CLI_S_RETRY)
/* What the shared options mean for HTTP (cli_cmd_spec_t.shared_help). */
extern const char *const http_cli_shared_help[];

/* Handles an option of HTTP_CLI_ROWS (cli_own_fn; ctx is the http_cli_t). */
int http_cli_own(void *ctx, const cli_opt_t *o, const cli_val_t *v);
/* Takes the shared options' values (after cli_opts_parse). */
void http_cli_common(http_cli_t *h, cli_common_t *co);
/* The client options' proxy fields from --proxy or the environment (a bad
 * proxy variable: usage error printed, its exit code returned; -v names
 * the proxy). */
int http_cli_proxy_options(http_cli_t *h, nt_http_client_options_t *co);

void http_cli_init(http_cli_t *h);
/* Runs the request; returns the exit code (messages printed). */
int http_cli_run(http_cli_t *h);

/* Progress bar on stderr, drawn from a timer (cmd_http_progress.c). */
void http_progress_start(http_cli_t *h);
void http_progress_stop(http_cli_t *h);
/* Clears the bar's line before other stderr output. */
void http_progress_clear(http_cli_t *h);

#endif
