/* Entry points of the subcommands; argv[0] is the subcommand's name. */
#ifndef NETTOOL_COMMANDS_H
#define NETTOOL_COMMANDS_H

#include "cli_opts.h"

/* Each command's option table and help (cli_opts.h), in its cmd_*.c. */
extern const cli_cmd_spec_t cli_spec_ts_server, cli_spec_ts_client,
    cli_spec_resolve, cli_spec_nntp_read, cli_spec_nntp_list,
    cli_spec_nntp_post, cli_spec_nntp_get, cli_spec_http_upload, cli_spec_http_get,
    cli_spec_ftp_get, cli_spec_ftp_put, cli_spec_ftp_ls;

int cmd_ts_server(int argc, char **argv);
int cmd_ts_client(int argc, char **argv);
int cmd_resolve(int argc, char **argv);

/* NNTP reader (issue 7): cmd_nntp_read.c, cmd_nntp_list.c, cmd_nntp_post.c;
 * their shared session plumbing is cmd_nntp_common.c. */
int cmd_nntp_read(int argc, char **argv);
int cmd_nntp_list(int argc, char **argv);
int cmd_nntp_post(int argc, char **argv);
/* NZB download (issue 13): cmd_nntp_get.c on nettool/nzb.h. */
int cmd_nntp_get(int argc, char **argv);

struct nt_reactor_s;
struct nt_nntp_s;
struct nt_nntp_result_s;

/* One NNTP session of a command: the common options, the server, the loop. */
typedef struct nntp_cli_s {
  /* common options (nntp_cli_own, nntp_cli_common) */
  const char *server, *user_spec, *cacert;
  int tls, insecure, quiet, verbose, port_opt;
  /* DESIGN.md "Time and timeouts": connect (default: timeout_ms), reply,
   * total (0: none) */
  unsigned long long connect_timeout_ms, timeout_ms, max_time_ms;
  /* from the options, the URL or $NNTPSERVER (nntp_cli_target) */
  char host[256];
  int port, implicit_tls, url_article;
  char *user, *pass;
  /* the session */
  struct nt_reactor_s *reactor;
  struct nt_nntp_s *client;
  void (*on_ready)(struct nntp_cli_s *s); /* the command's work starts */
  void *data;
  int exit_code, finished;
  const nt_proxy_t *proxy_given; /* --proxy (cli_proxy_given) */
  nt_proxy_t proxy;              /* the one in use */
  /* pipelining ceiling (0: the library's; 1: off), COMPRESS off; the
   * options the session connected with (valid while nntp_cli_run runs:
   * more connections to the same server, nettool/nntp_pool.h) */
  unsigned pipeline;
  int no_compress;
  const struct nt_nntp_options_s *conn_opts;
  int handed_over; /* the command goes on without the session: its end is
                      no error (nntp-read's fall-back from pipelining) */
  /* --retry N / --retry-delay S (cli_opts.h): a session lost to a
   * transient failure (nntp_cli_transient) is opened again after the
   * backoff and on_ready runs again (the command redoes what was not
   * done); retried counts the retries made */
  int retries, retried;
  unsigned long long retry_delay_ms;
  int retry_pending; /* a reconnect is due: failures say nothing */
  /* after the loop, before the reactor is freed (also after Ctrl-C): the
   * command stops its own timers; NULL: none */
  void (*on_stop)(struct nntp_cli_s *s);
} nntp_cli_t;

/* NNTP's own options besides the shared ones (cli_opts.h), for the
 * commands' cli_opt_t tables; handled by nntp_cli_own. */
#define NNTP_CLI_ROWS                                                         \
  {"server", 0, CLI_T_STR, 0, 'S', "HOST[:PORT]",                             \
   "news server (default: the URL's, else $NNTPSERVER;\n"                     \
   "port 119, 563 = NNTPS)", 0},                                              \
      {"tls", 0, CLI_T_BOOL, 0, 'T', NULL,                                    \
       "STARTTLS (NNTPS on port 563 or nntps:// URLs)", 0}
#define NNTP_CLI_SHARED                                                       \
  (CLI_S_TLS | CLI_S_TIMES | CLI_S(CLI_O_QUIET) | CLI_S(CLI_O_VERBOSE) |      \
   CLI_S(CLI_O_USER) | CLI_S(CLI_O_PORT) | CLI_S(CLI_O_PROXY))
extern const char *const nntp_cli_shared_help[];

void nntp_cli_init(nntp_cli_t *s);
/* Handles an option of NNTP_CLI_ROWS: 0 or an exit code. */
int nntp_cli_own(nntp_cli_t *s, const cli_opt_t *o, const cli_val_t *v);
/* Takes the shared options' values (after cli_opts_parse). */
void nntp_cli_common(nntp_cli_t *s, const cli_common_t *co);
/* Takes GROUP or a news://, nntp://, nntps:// URL (or news:GROUP); sets
 * the server (--server, else the URL's, else $NNTPSERVER) and *group
 * (malloc'ed). Returns 0 or an exit code (message printed). */
int nntp_cli_target(nntp_cli_t *s, const char *arg, char **group);
/* Settles the server without a group argument (nntp-list). */
int nntp_cli_server(nntp_cli_t *s);
/* Connects, runs the loop until the session is over, frees it; on_ready
 * does the command's work. Returns the exit code. */
int nntp_cli_run(nntp_cli_t *s);
/* Frees what the option and target parsing allocated (run does it too). */
void nntp_cli_cleanup(nntp_cli_t *s);
/* Ends the session (QUIT) with exit_code (the first failure is kept). */
void nntp_cli_end(nntp_cli_t *s, int exit_code);
/* Reports a failed command in the server's words and ends the session:
 * "WHAT: 411 No such group" -> exit code for the status. */
void nntp_cli_fail(nntp_cli_t *s, const char *what,
                   const struct nt_nntp_result_s *r);
/* Exit code for an NT_E* status of an NNTP session. */
int nntp_cli_exit(int status);
/* A failure that may heal by itself (connection refused, reset or closed,
 * a timeout): worth a --retry; a server's refusal (4xx/5xx), TLS and name
 * errors are not. */
int nntp_cli_transient(int status);
/* The backoff before retry n (0-based): --retry-delay (default 1 s)
 * doubled n times, at most 60 s, with jitter (half to all of it). */
unsigned long long nntp_cli_backoff(const nntp_cli_t *s, int n);

/* HTTP client (issue 5): cmd_http_upload.c, cmd_http_get.c; shared code in
 * cmd_http_common.c/.h and cmd_http_progress.c. */
int cmd_http_upload(int argc, char **argv);
int cmd_http_get(int argc, char **argv);

/* FTP client (issue 6): cmd_ftp_get.c, cmd_ftp_put.c, cmd_ftp_ls.c; shared
 * code in cmd_ftp_common.c/.h, the progress bar in progress.c/.h. */
int cmd_ftp_get(int argc, char **argv);
int cmd_ftp_put(int argc, char **argv);
int cmd_ftp_ls(int argc, char **argv);

#endif
