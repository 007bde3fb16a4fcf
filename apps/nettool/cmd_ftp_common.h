/* Shared by ftp-get, ftp-put and ftp-ls (cmd_ftp_*.c): the common options,
 * HOST or ftp:// URL, credentials (-u, the URL, ~/.netrc, anonymous), TLS,
 * one session on a reactor (connect, login, FEAT, the command's work,
 * QUIT), messages in the server's own words and exit codes. */
#ifndef NETTOOL_CMD_FTP_COMMON_H
#define NETTOOL_CMD_FTP_COMMON_H

#include <limits.h>
#include <stdint.h>

#include "cli_opts.h"
#include "nettool/ftp.h"
#include "progress.h"

/* Exit status when SIGINT/SIGTERM stops a transfer (128 + SIGINT). */
#define FTP_EXIT_INTERRUPTED 130

typedef struct ftp_cli_s ftp_cli_t;

struct ftp_cli_s {
  /* common options */
  int port; /* 0: from the URL, else 21 (990 for ftps://) */
  int active, tls, insecure, quiet, ascii, verbose, json, sha256;
  const char *cacert;
  const char *user_spec; /* -u USER[:PASS]; never printed */
  unsigned long long timeout_ms;         /* --timeout; 0: 30 s */
  unsigned long long connect_timeout_ms; /* --connect-timeout; 0: --timeout */
  unsigned long long max_time_ms;        /* --max-time; 0: none */
  /* --keepalive S: NOOP interval during transfers; 0: the library's
   * default (60 s); ULLONG_MAX: --keepalive 0, none */
  unsigned long long keepalive_ms;
  /* the target */
  char host[256];
  char path[NT_FTP_URL_MAX]; /* from the URL or the PATH argument */
  const char *path_name;     /* "PATH" or "REMOTE", for messages */
  int url;                   /* HOST was an ftp:// or ftps:// URL */
  int implicit_tls;
  int url_user_only; /* the URL named a user without a password */
  char user[256], pass[256];
  const nt_proxy_t *proxy_given; /* --proxy (cli_proxy_given) */
  nt_proxy_t proxy;              /* the one in use */
  /* the session */
  nt_reactor_t *reactor;
  nt_ftp_t *ftp;
  nt_tls_ctx_t *tls_ctx;
  void (*work)(ftp_cli_t *c); /* queues the command's operations */
  void *data;
  int connected; /* the control connection is up */
  int ready;     /* the greeting was 220 */
  int exit_code; /* the first failure wins */
  int reported;  /* a message was printed */
  int interrupted;
  int out_of_time;   /* --max-time ran out */
  nt_timer_t max_timer;
  char part_hint[PATH_MAX + 128]; /* a kept part file, for the closing message */
  char fail_what[NT_FTP_URL_MAX]; /* what the deferred failure was about */
  progress_t progress;
  /* --json: what the command's transfer reported */
  const char *json_file;
  int64_t json_bytes;
  int json_status;
  /* A file (ftp-get -o FILE, ftp-put FILE without --append) runs as the
   * library's nt_ftp_transfer (nettool/ftp_transfer.h: sessions retried with
   * --retry, each continuing where the last stopped, then the server's
   * checksum when it has one), set up by the command */
  int retries, verify; /* verify: NT_FTP_VERIFY_* */
  int verify_given;
  unsigned long long retry_delay_ms;
  const char *xfer_local; /* the local file; NULL: no such transfer */
  int xfer_upload, xfer_resume;
  struct nt_ftp_transfer_s *xfer;
  nt_ftp_where_t xfer_where; /* what its last failure was about */
};

/* FTP's own options besides the shared ones (cli_opts.h), for the
 * commands' cli_opt_t tables; handled by ftp_cli_own. */
#define FTP_CLI_ROWS                                                         \
  {"active", 0, CLI_T_BOOL, 0, 'A', NULL,                                    \
   "active mode (EPRT/PORT: the server connects back)\n"                     \
   "instead of passive (EPSV/PASV)", 0},                                     \
      {"tls", 0, CLI_T_BOOL, 0, 'T', NULL,                                   \
       "explicit FTPS: AUTH TLS, then PROT P (data\n"                        \
       "encrypted too); ftps:// URLs use implicit TLS", 0},                  \
      {"ascii", 0, CLI_T_BOOL, 0, 'a', NULL,                                 \
       "TYPE A: line ends converted (CRLF on the wire)", 0}
/* Rows for the commands that move one file (ftp-get, ftp-put). */
#define FTP_CLI_RETRY_ROWS                                                   \
  {"verify", 0, CLI_T_BOOL, 0, 'V', NULL,                                    \
   "require the checksum check: fail when the server\n"                      \
   "has no checksum command (without it the file is\n"                       \
   "checked whenever FEAT offers HASH, XSHA256, XSHA1,\n"                    \
   "XMD5 or XCRC)", 0},                                                      \
      {"no-verify", 0, CLI_T_BOOL, 0, 'W', NULL,                             \
       "do not ask the server for the file's checksum", 0}
/* --keepalive S (ftp-get, ftp-put) */
#define FTP_CLI_KEEPALIVE_ROW                                                \
  {"keepalive", 0, CLI_T_STR, 0, 'K', "S",                                   \
   "send NOOP on the control connection every S seconds\n"                   \
   "while data flows, so NAT boxes keep it (default 60;\n"                  \
   "0: never)", 0}
#define FTP_CLI_SHARED                                                       \
  (CLI_S_TLS | CLI_S_TIMES | CLI_S(CLI_O_QUIET) | CLI_S(CLI_O_VERBOSE) |     \
   CLI_S(CLI_O_USER) | CLI_S(CLI_O_PORT) | CLI_S(CLI_O_PROXY))
extern const char *const ftp_cli_shared_help[];

void ftp_cli_init(ftp_cli_t *c);
/* Handles an option of FTP_CLI_ROWS: 0 or an exit code. */
int ftp_cli_own(ftp_cli_t *c, const cli_opt_t *o, const cli_val_t *v);
/* Takes the shared options' values (after cli_opts_parse). */
void ftp_cli_common(ftp_cli_t *c, const cli_common_t *co);
/* Takes HOST or an ftp:// / ftps:// URL; a URL's path goes to c->path and
 * its password, if any, is wiped from arg (argv shows in ps).
 * Returns 0 or an exit code (message printed). */
int ftp_cli_target(ftp_cli_t *c, char *arg);
/* Connects, logs in, runs work(), quits; returns the exit code. */
int ftp_cli_run(ftp_cli_t *c);
/* Ends the session with QUIT (exit_code kept if none yet). */
void ftp_cli_end(ftp_cli_t *c, int exit_code);
/* Reports a failed operation ("550 /x: No such file" or why) and ends the
 * session; `what` is for failures without a server reply. */
void ftp_cli_fail(ftp_cli_t *c, const char *what, const nt_ftp_result_t *r,
                  const char *part);
/* Exit code for a status. */
int ftp_cli_exit(int status, int local);
/* Progress of the running transfer, for progress_start. */
uint64_t ftp_cli_bytes(void *arg);
uint64_t ftp_cli_total(void *arg);

#endif
