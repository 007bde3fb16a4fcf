/* --proxy and the proxy environment variables, the same for every command
 * (the library does the tunnelling: nettool/proxy.h). */
#ifndef NETTOOL_CLI_PROXY_H
#define NETTOOL_CLI_PROXY_H

#include "cli_opts.h"
#include "nettool/proxy.h"

/* --proxy URL: parsed into co->proxy ('' means none), the password in
 * argv wiped. Returns 0 or an exit code (usage error printed, without the
 * password). */
int cli_proxy_option(cli_common_t *co, char *arg);

/*
 * The proxy for a connection to host by URL scheme ("http", "https",
 * "ftp", "nntp", "ts"): `given` (--proxy) when not NULL, else the environment
 * (nt_proxy_from_env); no_proxy/NO_PROXY apply to both, as in curl.
 * Returns 0 with *use = out (a proxy) or NULL (direct), or an exit code
 * (a malformed proxy variable: usage error printed). With verbose, says
 * which proxy on stderr ("* proxy socks5h://user:****@host:1080 for
 * HOST (from --proxy)").
 */
int cli_proxy_for(const nt_proxy_t *given, int verbose, const char *scheme,
                  const char *host, nt_proxy_t *out, const nt_proxy_t **use);
/* --proxy's value for cli_proxy_for: NULL when --proxy was not given. */
const nt_proxy_t *cli_proxy_given(const cli_common_t *co);

/* For error messages: what the proxy said when err is an NT_EPROXY_* code
 * (nt_proxy_last_error), else NULL. */
const char *cli_proxy_detail(int err);

#endif
