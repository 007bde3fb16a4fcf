/* Shared command-line helpers: one-line messages and exit-code mapping. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nettool/errno.h"
#include "nettool/transport.h"

const char *cli_cmd = "nettool";

char cli_last_error[1024];

static void vmsg(const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  vsnprintf(cli_last_error, sizeof cli_last_error, fmt, copy);
  va_end(copy);
  fprintf(stderr, "nettool: %s: ", cli_cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmsg(fmt, ap);
  va_end(ap);
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nettool: %s: ", cli_cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see 'nettool %s --help')\n", cli_cmd);
  va_end(ap);
  return NT_EXIT_USAGE;
}

int cli_port(const char *s, int allow_zero, const char *what) {
  int p = nt_port_parse(s, allow_zero);
  if (p < 0) {
    cli_usage_error("bad %s '%s': expected a number from %d to 65535", what, s,
                    allow_zero ? 0 : 1);
    return -1;
  }
  return p;
}

int cli_seconds(const char *s, unsigned long long *ms) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end || !(v > 0) || v > 86400.0 * 365) return -1;
  *ms = (unsigned long long)(v * 1000.0 + 0.5);
  if (*ms == 0) *ms = 1;
  return 0;
}

int cli_is_dns_error(int err) { return err <= -3100 && err > -3200; }
int cli_is_tls_error(int err) { return err <= -3200 && err > -3300; }

int cli_exit_for_proxy(int err) {
  switch (err) {
  case NT_EPROXY_BADURL:
    return NT_EXIT_USAGE;
  case NT_EPROXY_AUTH:
    return NT_EXIT_PROXY_AUTH;
  case NT_EPROXY_TARGET: /* through the proxy: could not connect */
  case NT_EPROXY_CONNECT: /* to the proxy */
    return NT_EXIT_CONNECT;
  default:
    return err <= -3600 && err > -3700 ? NT_EXIT_PROXY : 0;
  }
}

int cli_exit_for_connect(int err) {
  if (cli_exit_for_proxy(err)) return cli_exit_for_proxy(err);
  if (cli_is_dns_error(err)) return NT_EXIT_RESOLVE;
  if (cli_is_tls_error(err)) return NT_EXIT_TLS;
  switch (err) {
  case NT_ETIMEDOUT:
    return NT_EXIT_TIMEOUT;
  case NT_EBADADDR:
  case NT_EBADPORT:
    return NT_EXIT_USAGE;
  case NT_EMFILE:
  case NT_ENOMEM:
  case NT_EADDRNOTAVAIL:
    return NT_EXIT_LOCAL;
  default:
    return NT_EXIT_CONNECT;
  }
}

int cli_exit_for_session(int err) {
  if (cli_exit_for_proxy(err)) return cli_exit_for_proxy(err);
  if (cli_is_tls_error(err)) return NT_EXIT_TLS;
  switch (err) {
  case 0:
    return NT_EXIT_OK;
  case NT_ETIMEDOUT:
    return NT_EXIT_TIMEOUT;
  case NT_ECONNREFUSED:
  case NT_ENETUNREACH:
  case NT_EHOSTUNREACH:
    return NT_EXIT_CONNECT;
  default:
    return NT_EXIT_PROTOCOL;
  }
}

int cli_exit_for_listen(int err) {
  switch (err) {
  case NT_EBADADDR:
  case NT_EBADPORT:
    return NT_EXIT_USAGE;
  default:
    return NT_EXIT_LOCAL;
  }
}
