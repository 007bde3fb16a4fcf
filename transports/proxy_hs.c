/* The proxy handshake's common part: set-up, dispatch to the SOCKS5 or
 * HTTP CONNECT machine, failures and their detail (nt_proxy_last_error). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nettool/errno.h"
#include "proxy-int.h"
#include "reactor-int.h"

static __thread char tl_last_error[512];

const char *nt_proxy_last_error(void) { return tl_last_error; }

void nt__proxy_escape(char *dst, size_t size, const void *src, size_t len) {
  const unsigned char *s = src;
  size_t k = 0;
  if (!size) return;
  for (size_t i = 0; i < len && k + 1 < size; i++)
    dst[k++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
  dst[k] = 0;
}

const char *nt__proxy_name(const nt__proxy_hs_t *hs, char *buf, size_t size) {
  const char *kind = hs->proxy.type == NT_PROXY_HTTP ? "HTTP" : "SOCKS5";
  if (strchr(hs->proxy.host, ':'))
    snprintf(buf, size, "%s proxy [%s]:%d", kind, hs->proxy.host, hs->proxy.port);
  else
    snprintf(buf, size, "%s proxy %s:%d", kind, hs->proxy.host, hs->proxy.port);
  return buf;
}

int nt__proxy_fail(nt__proxy_hs_t *hs, int status, const char *fmt, ...) {
  char name[300], what[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  char line[sizeof name + sizeof what + 2];
  snprintf(line, sizeof line, "%s: %s", nt__proxy_name(hs, name, sizeof name),
           what);
  /* bounded: a long host name cuts the message (said so, not a -O3 warning) */
  snprintf(hs->detail, sizeof hs->detail, "%.*s", (int)sizeof hs->detail - 1,
           line);
  snprintf(tl_last_error, sizeof tl_last_error, "%s", hs->detail);
  hs->state = NT__PX_FAILED;
  hs->status = status;
  explicit_bzero(hs->out, sizeof hs->out);
  hs->out_len = 0;
  explicit_bzero(hs->auth, sizeof hs->auth);
  hs->auth_len = 0;
  NT__DEBUG("proxy: %s", hs->detail);
  return status;
}

int nt__proxy_unreachable(const nt_proxy_t *p, int status) {
  const char *kind = p->type == NT_PROXY_HTTP ? "HTTP" : "SOCKS5";
  int v6 = strchr(p->host, ':') != NULL;
  snprintf(tl_last_error, sizeof tl_last_error, "%s proxy %s%.255s%s:%d: %.100s", kind,
           v6 ? "[" : "", p->host, v6 ? "]" : "", p->port, nt_strerror(status));
  NT__DEBUG("proxy: %s", tl_last_error);
  return NT_EPROXY_CONNECT;
}

/* Bytes a request line or a SOCKS5 name may not carry. */
static int bad_host(const char *h) {
  size_t n = strlen(h);
  if (!n || n > 255) return 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)h[i];
    if (c <= 0x20 || c == 0x7f || c == '/' || c == '@') return 1;
  }
  return 0;
}

int nt__proxy_check(const nt_proxy_t *p, const char *host, int port) {
  if (!p || !host || bad_host(host) || port <= 0 || port > 65535 || !p->host[0] ||
      p->port <= 0 || p->port > 65535 ||
      (p->type != NT_PROXY_HTTP && p->type != NT_PROXY_SOCKS5 && p->type != NT_PROXY_SOCKS5H))
    return NT_EINVAL;
  if (strnlen(p->user, sizeof p->user) > 255 || strnlen(p->password, sizeof p->password) > 255)
    return NT_EPROXY_BADURL;
  return 0;
}

int nt__proxy_hs_init(nt__proxy_hs_t *hs, const nt_proxy_t *p,
                      const char *host, int port) {
  memset(hs, 0, sizeof *hs);
  if (!p || !host || bad_host(host) || port <= 0 || port > 65535 ||
      !p->host[0] || p->port <= 0 || p->port > 65535)
    return NT_EINVAL;
  hs->proxy = *p;
  /* A caller's struct may lack the terminators. */
  hs->proxy.host[sizeof hs->proxy.host - 1] = 0;
  hs->proxy.user[sizeof hs->proxy.user - 1] = 0;
  hs->proxy.password[sizeof hs->proxy.password - 1] = 0;
  snprintf(hs->host, sizeof hs->host, "%s", host);
  hs->port = port;
  int rc;
  switch (p->type) {
  case NT_PROXY_SOCKS5:
  case NT_PROXY_SOCKS5H:
    rc = nt__proxy_socks5_start(hs);
    break;
  case NT_PROXY_HTTP:
    rc = nt__proxy_http_start(hs);
    break;
  default:
    rc = NT_EINVAL;
  }
  /* The machine keeps only what it sends; the copy's secret goes. */
  explicit_bzero(hs->proxy.password, sizeof hs->proxy.password);
  if (rc) {
    explicit_bzero(hs->out, sizeof hs->out);
    hs->out_len = 0;
    explicit_bzero(hs->auth, sizeof hs->auth);
    hs->auth_len = 0;
  }
  return rc;
}

const unsigned char *nt__proxy_hs_output(const nt__proxy_hs_t *hs,
                                         size_t *len) {
  *len = hs->out_len;
  return hs->out;
}

void nt__proxy_hs_sent(nt__proxy_hs_t *hs) {
  explicit_bzero(hs->out, hs->out_len);
  hs->out_len = 0;
}

int nt__proxy_hs_feed(nt__proxy_hs_t *hs, const void *data, size_t len,
                      size_t *used) {
  *used = 0;
  switch (hs->state) {
  case NT__PX_DONE:
    return 1;
  case NT__PX_FAILED:
    return hs->status;
  case NT__PX_HTTP_REPLY:
    return nt__proxy_http_feed(hs, data, len, used);
  default:
    return nt__proxy_socks5_feed(hs, data, len, used);
  }
}
