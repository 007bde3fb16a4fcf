/* Shared by ftp-get, ftp-put and ftp-ls (cmd_ftp_*.c): the common options,
 * HOST or ftp:// URL, credentials (-u, the URL, ~/.netrc, anonymous), TLS,
 * one session on a reactor (connect, login, FEAT, the command's work,
 * QUIT), messages in the server's own words and exit codes. */
#ifndef NETTOOL_CMD_FTP_COMMON_H
#define NETTOOL_CMD_FTP_COMMON_H

#include <getopt.h>
#include <limits.h>
#include <stdint.h>

#include "nettool/ftp.h"
#include "progress.h"

/* Exit status when SIGINT/SIGTERM stops a transfer (128 + SIGINT). */
#define FTP_EXIT_INTERRUPTED 130

typedef struct ftp_cli_s ftp_cli_t;

struct ftp_cli_s {
  /* common options */
  int port; /* 0: from the URL, else 21 (990 for ftps://) */
  int active, tls, insecure, quiet, ascii;
  const char *cacert;
  const char *user_spec; /* -u USER[:PASS]; never printed */
  unsigned long long timeout_ms;         /* --timeout; 0: 30 s */
  unsigned long long connect_timeout_ms; /* --connect-timeout; 0: --timeout */
  unsigned long long max_time_ms;        /* --max-time; 0: none */
  /* the target */
  char host[256];
  char path[NT_FTP_URL_MAX]; /* from the URL or the PATH argument */
  const char *path_name;     /* "PATH" or "REMOTE", for messages */
  int url;                   /* HOST was an ftp:// or ftps:// URL */
  int implicit_tls;
  int url_user_only; /* the URL named a user without a password */
  char user[256], pass[256];
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
};

#define FTP_CLI_LONGOPTS                                                     \
  {"port", required_argument, NULL, 'P'},                                    \
      {"user", required_argument, NULL, 'u'},                                \
      {"active", no_argument, NULL, 'A'},                                    \
      {"tls", no_argument, NULL, 'T'},                                       \
      {"cacert", required_argument, NULL, 'C'},                              \
      {"insecure", no_argument, NULL, 'k'},                                  \
      {"ascii", no_argument, NULL, 'a'},                                     \
      {"timeout", required_argument, NULL, 'W'},                             \
      {"connect-timeout", required_argument, NULL, 'N'},                     \
      {"max-time", required_argument, NULL, 'X'},                            \
      {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'}
#define FTP_CLI_SHORTOPTS "u:kqh"
#define FTP_CLI_HELP                                                         \
  "  --port N              server port (default 21; 990 for ftps:// URLs)\n" \
  "  -u, --user USER[:PASS] log in as USER (default: the URL's user, else\n" \
  "                        ~/.netrc, else anonymous); without :PASS the\n"   \
  "                        password comes from ~/.netrc or the terminal.\n"  \
  "                        Passwords are never printed.\n"                   \
  "  --active              active mode (EPRT/PORT: the server connects back)\n" \
  "                        instead of passive (EPSV/PASV)\n"                 \
  "  --tls                 explicit FTPS: AUTH TLS, then PROT P (data\n"     \
  "                        encrypted too); ftps:// URLs use implicit TLS\n"  \
  "  --cacert FILE         trust this CA bundle (PEM) for TLS\n"             \
  "  -k, --insecure        do not verify the server's certificate (warns)\n" \
  "  --ascii               TYPE A: line ends converted (CRLF on the wire)\n" \
  "  --connect-timeout S   resolving, connecting and TLS handshakes (data\n" \
  "                        connections too) in seconds (default: --timeout)\n" \
  "  --timeout S           a reply must be complete within S of its command;\n" \
  "                        a data connection may go S without progress\n"   \
  "                        (default 30)\n"                                  \
  "  --max-time S          give up after S in all (default: no limit)\n"   \
  "  -q, --quiet           no progress bar\n"

void ftp_cli_init(ftp_cli_t *c);
/* Handles a common option: 0 done, -1 not a common one, else an exit code
 * (message printed). */
int ftp_cli_option(ftp_cli_t *c, int ch, const char *arg);
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
