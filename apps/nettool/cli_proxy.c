/* --proxy and the proxy environment variables (cli_proxy.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_proxy.h"
#include "exitcodes.h"
#include "nettool/errno.h"

int cli_proxy_option(cli_common_t *co, char *arg) {
  memset(&co->proxy, 0, sizeof co->proxy);
  if (!*arg) return 0; /* --proxy '': no proxy at all */
  int rc = nt_proxy_parse(arg, &co->proxy);
  /* "scheme://user:pass@host": the password leaves argv (ps and
   * /proc/PID/cmdline show it), split as nt_proxy_parse splits it */
  cli_wipe_url_password(arg, "/?#");
  if (rc)
    return cli_usage_error("bad --proxy '%s': expected [http|socks5|socks5h]://"
                           "[USER[:PASS]@]HOST[:PORT]",
                           arg);
  return 0;
}

static const char *no_proxy_env(void) {
  const char *v = getenv("no_proxy");
  if (!v || !*v) v = getenv("NO_PROXY");
  return v && *v ? v : NULL;
}

const nt_proxy_t *cli_proxy_given(const cli_common_t *co) {
  return co->given & CLI_S(CLI_O_PROXY) ? &co->proxy : NULL;
}

int cli_proxy_for(const nt_proxy_t *given, int verbose, const char *scheme,
                  const char *host, nt_proxy_t *out, const nt_proxy_t **use) {
  *use = NULL;
  const char *from = "--proxy";
  if (given) {
    if (given->type == NT_PROXY_NONE) return 0;
    if (nt_proxy_no_proxy_match(no_proxy_env(), host)) return 0;
    *out = *given;
  } else {
    int rc = nt_proxy_from_env(scheme, host, out);
    if (rc < 0)
      return cli_usage_error("bad proxy in the environment (%s_proxy or all_proxy): "
                             "expected [http|socks5|socks5h]://[USER[:PASS]@]HOST[:PORT]",
                             scheme);
    if (rc == 0) return 0;
    from = "the environment";
  }
  *use = out;
  if (verbose) {
    char buf[700];
    fprintf(stderr, "* proxy %s for %s (from %s)\n", nt_proxy_format(out, buf, sizeof buf),
            host, from);
  }
  return 0;
}

const char *cli_proxy_detail(int err) {
  if (!(err <= -3600 && err > -3700)) return NULL;
  const char *d = nt_proxy_last_error();
  return d && *d ? d : NULL;
}
