/* Shared by http-upload and http-get (cmd_http_*.c): the common options,
 * running one request on a reactor, the output file (OUT.part, renamed on
 * success), the progress bar, and the exit codes. */
#ifndef NETTOOL_CMD_HTTP_COMMON_H
#define NETTOOL_CMD_HTTP_COMMON_H

#include <getopt.h>
#include <stdint.h>

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
  int insecure, quiet;
  unsigned long long timeout_ms, idle_ms, connect_ms, retry_delay_ms;
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
};

/* getopt_long entries shared by both commands, their letters, and help. */
#define HTTP_CLI_LONGOPTS                                                      \
  {"header", required_argument, NULL, 'H'},                                    \
      {"user", required_argument, NULL, 'u'},                                  \
      {"output", required_argument, NULL, 'o'},                                \
      {"cacert", required_argument, NULL, 'C'},                                \
      {"insecure", no_argument, NULL, 'k'},                                    \
      {"timeout", required_argument, NULL, 'T'},                               \
      {"max-time", required_argument, NULL, 'T'},                              \
      {"idle-timeout", required_argument, NULL, 'I'},                          \
      {"connect-timeout", required_argument, NULL, 'N'},                       \
      {"max-redirs", required_argument, NULL, 'R'},                            \
      {"retry", required_argument, NULL, 'r'},                                 \
      {"retry-delay", required_argument, NULL, 'D'},                           \
      {"quiet", no_argument, NULL, 'q'}, {                                     \
    "help", no_argument, NULL, 'h'                                             \
  }
#define HTTP_CLI_SHORTOPTS "H:u:o:kqh"
#define HTTP_CLI_HELP                                                          \
  "  -H, --header 'Name: value'  extra request header ('Name:' removes one)\n" \
  "  -u, --user USER:PASS   Basic authentication (never sent to another "      \
  "host\n"                                                                     \
  "                         after a redirect, never printed, hidden from "   \
  "ps)\n"                                                                      \
  "  -o, --output OUT       write the body to OUT (through OUT.part, "         \
  "renamed\n"                                                                  \
  "                         on success; an existing OUT is never truncated;\n" \
  "                         a transfer cut short keeps OUT.part)\n"           \
  "  --cacert FILE          trust this CA bundle (PEM) for https\n"            \
  "  -k, --insecure         do not verify the server's certificate (warns)\n"  \
  "  --connect-timeout S    each connection (DNS, TCP, TLS handshake) within\n" \
  "                         S seconds (default: the idle timeout)\n"          \
  "  --idle-timeout S       give up when no byte moves for S seconds, from\n"  \
  "                         the first connect attempt on (default 30)\n"      \
  "  --max-time S           give up after S seconds in all, retries included\n"\
  "                         (default: none); --timeout S is the same\n"       \
  "  --max-redirs N         follow at most N redirects (default 10; 0: do "    \
  "not\n"                                                                      \
  "                         follow, the 3xx is the answer)\n"                  \
  "  --retry N              retry transient failures N times (default 0)\n"    \
  "  --retry-delay S        wait S seconds between retries (default 1, "       \
  "doubling)\n"                                                                \
  "  -q, --quiet            no progress bar and no status line\n"

void http_cli_init(http_cli_t *h);
/* Handles a common option: 0 done, -1 not a common one, else an exit code
 * (message printed). */
int http_cli_option(http_cli_t *h, int ch, const char *arg);
/* Runs the request; returns the exit code (messages printed). */
int http_cli_run(http_cli_t *h);

/* Progress bar on stderr, drawn from a timer (cmd_http_progress.c). */
void http_progress_start(http_cli_t *h);
void http_progress_stop(http_cli_t *h);
/* Clears the bar's line before other stderr output. */
void http_progress_clear(http_cli_t *h);

#endif
