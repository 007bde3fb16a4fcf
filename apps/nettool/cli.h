/* Helpers shared by the subcommands: messages, argument checks, and the
 * mapping from nettool error codes to exit codes. */
#ifndef NETTOOL_CLI_H
#define NETTOOL_CLI_H

#include "exitcodes.h"

/* The running subcommand's name, for messages ("ts-server"). */
extern const char *cli_cmd;

/* Prints "nettool: <cmd>: <message>" on stderr, one line. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message cli_error printed (without "nettool: <cmd>: "), for
 * --json's "error". */
extern char cli_last_error[1024];

/* Prints a usage error with a pointer to --help; returns NT_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a port argument; prints a usage error and returns -1 if bad. */
int cli_port(const char *s, int allow_zero, const char *what);

/* Parses a positive decimal number of seconds (fractions allowed) into ms;
 * returns 0 on success. */
int cli_seconds(const char *s, unsigned long long *ms);

/* Whether err is one of the resolver's NT_EDNS_* / TLS's NT_ETLS_* codes. */
int cli_is_dns_error(int err);
int cli_is_tls_error(int err);

/* Exit code for an NT_E* code met while connecting, or while talking to a
 * peer. */
int cli_exit_for_connect(int err);
/* NT_EPROXY_*: the proxy's exit code (usage, proxy, proxy auth, connect);
 * 0 for any other error. */
int cli_exit_for_proxy(int err);
int cli_exit_for_session(int err);
int cli_exit_for_listen(int err);

#endif
