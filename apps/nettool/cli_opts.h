/* The command line's one option layer (curl's tool_getparam.c model): every
 * option is a row {long, short, type, flags, id, arg, help}. The options
 * several commands share live in one table (cli_shared_opts); each command
 * declares which of them it accepts (a mask) plus a table of its own, and
 * cli_opts_parse parses both by type, so --timeout, -k, -q, -u... are
 * parsed, checked and described in one place and mean the same everywhere.
 *
 * The tables are static arrays, readable by a generator (man pages, shell
 * completions): cli_shared_opts[] here, and each command's cli_cmd_spec_t
 * (cmd_*.c: `static const cli_opt_t own_opts[]` and `cli_cmd_spec_t spec`);
 * cli_commands() lists every command's spec. */
#ifndef NETTOOL_CLI_OPTS_H
#define NETTOOL_CLI_OPTS_H

#include <stdio.h>

#include "nettool/proxy.h"

typedef enum {
  CLI_T_BOOL, /* no argument */
  CLI_T_STR,  /* any string */
  CLI_T_FILE, /* a file name (not empty) */
  CLI_T_SECS, /* seconds > 0, fractions allowed -> ms */
  CLI_T_PORT, /* 1..65535 */
  CLI_T_UINT, /* 0..max (the row's max in cli_opt_t.max) */
} cli_type_t;

enum {
  CLI_F_TLS = 1,    /* about TLS: needs TLS in use (cli_opts_tls_check) */
  CLI_F_SECRET = 2, /* holds a password: wiped from argv once copied */
  CLI_F_REPEAT = 4, /* may be given several times (help says so) */
  CLI_F_HIDDEN = 8, /* an old spelling: accepted, not in --help */
};

/* Ids of the shared options; a command's own options use ids < 1000 (most
 * use a letter). */
enum {
  CLI_O_INSECURE = 1000,
  CLI_O_CACERT,
  CLI_O_QUIET,
  CLI_O_VERBOSE,
  CLI_O_TIMEOUT,
  CLI_O_CONNECT_TIMEOUT,
  CLI_O_MAX_TIME,
  CLI_O_USER,
  CLI_O_JSON,
  CLI_O_PORT,
  CLI_O_HELP,
  CLI_O_PROXY,
  CLI_O_RETRY,
  CLI_O_RETRY_DELAY,
  CLI_O_END_
};
/* The bit of a shared option in cli_cmd_spec_t.shared. */
#define CLI_S(id) (1u << ((id)-CLI_O_INSECURE))
#define CLI_S_TLS (CLI_S(CLI_O_INSECURE) | CLI_S(CLI_O_CACERT))
#define CLI_S_TIMES                                                           \
  (CLI_S(CLI_O_TIMEOUT) | CLI_S(CLI_O_CONNECT_TIMEOUT) | CLI_S(CLI_O_MAX_TIME))
/* --retry N and --retry-delay S: one meaning in every transfer command */
#define CLI_S_RETRY (CLI_S(CLI_O_RETRY) | CLI_S(CLI_O_RETRY_DELAY))

typedef struct cli_opt_s {
  const char *lng;  /* "insecure" */
  int shrt;         /* 'k', or 0 */
  cli_type_t type;
  unsigned flags;   /* CLI_F_* */
  int id;           /* handed to the command's handler */
  const char *arg;  /* "FILE" in the help; NULL for CLI_T_BOOL */
  const char *help; /* lines separated by '\n' */
  long max;         /* CLI_T_UINT: the largest value */
} cli_opt_t;

/* A parsed value: the argument as given, and its value by type. */
typedef struct cli_val_s {
  const char *str;        /* the argument (NULL for CLI_T_BOOL) */
  unsigned long long ms;  /* CLI_T_SECS */
  long num;               /* CLI_T_PORT, CLI_T_UINT */
} cli_val_t;

/* The shared options' values after parsing. */
typedef struct cli_common_s {
  int insecure, quiet, verbose, json;
  const char *cacert;
  char *user; /* -u: a copy (argv's password is wiped), freed at exit or
                 by cli_common_free, which also wipes it */
  unsigned long long timeout_ms, connect_timeout_ms, max_time_ms;
  int port;
  /* --proxy URL, parsed (type NT_PROXY_NONE for --proxy '': no proxy,
   * not even the environment's); the password in argv is wiped */
  nt_proxy_t proxy;
  /* --retry N: transient failures (connection lost, timeout; never a
   * refusal that cannot heal) are retried up to N times, resuming where
   * possible; --retry-delay S: the first wait (0: the command's default,
   * 1 s), doubling with jitter; Retry-After wins where the protocol has it */
  int retries;
  unsigned long long retry_delay_ms;
  unsigned given; /* CLI_S bits of the options that were given */
} cli_common_t;

typedef struct cli_cmd_spec_s {
  const char *name;     /* "ftp-get" */
  const char *synopsis; /* "usage: ..." lines and the description */
  unsigned shared;      /* CLI_S bits of the shared options it accepts */
  const cli_opt_t *own; /* its own options; ends with a row whose lng is
                           NULL */
  /* per shared option, help text that says what it means for this command
   * (NULL: the table's); indexed by id - CLI_O_INSECURE */
  const char *const *shared_help;
  const char *epilog; /* exit statuses */
} cli_cmd_spec_t;

extern const cli_opt_t cli_shared_opts[];

/* The handler of a command's own options: 0, or an exit code (message
 * printed). */
typedef int (*cli_own_fn)(void *ctx, const cli_opt_t *o, const cli_val_t *v);

/* Parses argv (argv[0] the command): shared options into *co, the command's
 * own through fn. Returns 0 with *first set to the first operand, an exit
 * code (usage error printed), or CLI_OPTS_HELP when --help was printed
 * (the command returns 0). */
#define CLI_OPTS_HELP (-1)
int cli_opts_parse(const cli_cmd_spec_t *spec, int argc, char **argv,
                   cli_common_t *co, cli_own_fn fn, void *ctx, int *first);
void cli_common_free(cli_common_t *co);

/* --help, generated from the tables. */
void cli_opts_help(const cli_cmd_spec_t *spec, FILE *out);

/* The TLS rule, written once: --cacert and --insecure mean nothing without
 * TLS (usage error naming how_to_get_tls, exit 2); with TLS, --insecure
 * warns. Returns 0 or the exit code. */
int cli_opts_tls_check(const cli_common_t *co, int tls, const char *how_to_get_tls);
/* The --insecure warning (note: NULL or " (redirected to https)"). */
void cli_warn_insecure(const char *note);

/* Overwrites the password in an argv string "USER:PASS" with 'x' (ps and
 * /proc/PID/cmdline show argv). */
void cli_wipe_password(char *userpass);

/* Where the password is in URL url: from the userinfo's first ':' to the
 * authority's last '@', the authority ending at the first of `ends`, as the
 * URL's own parser splits it ("/?#" for HTTP and proxy URLs, "/" for FTP).
 * NULL (and *len 0) when there is none. */
char *cli_url_password(char *url, const char *ends, size_t *len);
/* Overwrites that password with 'x' in place. */
void cli_wipe_url_password(char *url, const char *ends);

/* 1 if a -H header "Name: value" carries a credential: Authorization,
 * Proxy-Authorization, Cookie, or a name holding "token", "secret",
 * "password" or "api-key"/"apikey" (any case). */
int cli_header_is_secret(const char *header);
/* A copy of argv string arg, owned by the process (wiped and freed at
 * exit); then arg's characters from `from` (inside arg) to its end become
 * 'x' in argv. NULL: out of memory (argv untouched). */
char *cli_keep_secret(char *arg, char *from);

/* -v: the library's debug lines that are the protocol dialogue ("> CMD",
 * "< REPLY", passwords masked by the library) go to stderr, cleaned. */
void cli_verbose_on(void);

/* Every command's spec (main.c's list), for -h and generators. */
typedef struct cli_cmd_s {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
  const cli_cmd_spec_t *spec;
} cli_cmd_t;
const cli_cmd_t *cli_commands(void);

#endif
