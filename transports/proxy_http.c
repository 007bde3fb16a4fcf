/* HTTP CONNECT (RFC 9110 section 9.3.6) with basic proxy authentication:
 * the client side of the handshake, as a machine over bytes (proxy-int.h).
 *
 *   > CONNECT host:port HTTP/1.1, Host, [Proxy-Authorization: Basic ...]
 *   < HTTP/1.x 2xx ... headers ... empty line: the tunnel is open; any
 *     other status fails (407, and 401 which tinyproxy sends for a wrong
 *     password: authentication; 403: denied; 500-504: the proxy could not
 *     reach the destination).
 * A 2xx reply to CONNECT has no body (RFC 9110), so the head's empty line
 * is the last byte that is the proxy's. */
#include <stdio.h>
#include <string.h>

#include "nettool/errno.h"
#include "proxy-int.h"
#include "reactor-int.h"

static size_t base64(const unsigned char *in, size_t n, char *out) {
  static const char t[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)in[i] << 16;
    if (i + 1 < n) v |= (unsigned)in[i + 1] << 8;
    if (i + 2 < n) v |= in[i + 2];
    out[k++] = t[(v >> 18) & 63];
    out[k++] = t[(v >> 12) & 63];
    out[k++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
    out[k++] = i + 2 < n ? t[v & 63] : '=';
  }
  out[k] = 0;
  return k;
}

int nt__proxy_http_start(nt__proxy_hs_t *hs) {
  size_t ul = strlen(hs->proxy.user), pl = strlen(hs->proxy.password);
  if (ul > 255 || pl > 255) return NT_EPROXY_BADURL;
  char authority[270];
  int v6 = strchr(hs->host, ':') != NULL;
  snprintf(authority, sizeof authority, "%s%s%s:%d", v6 ? "[" : "", hs->host,
           v6 ? "]" : "", hs->port);
  char *o = (char *)hs->out;
  size_t cap = sizeof hs->out;
  int n = snprintf(o, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", authority, authority);
  NT__DEBUG("> CONNECT %s HTTP/1.1", authority);
  if (ul) {
    unsigned char cred[512];
    char b64[700];
    memcpy(cred, hs->proxy.user, ul);
    cred[ul] = ':';
    memcpy(cred + ul + 1, hs->proxy.password, pl);
    base64(cred, ul + 1 + pl, b64);
    n += snprintf(o + n, cap - (size_t)n, "Proxy-Authorization: Basic %s\r\n", b64);
    explicit_bzero(cred, sizeof cred);
    explicit_bzero(b64, sizeof b64);
    NT__DEBUG("> Proxy-Authorization: Basic ****");
  }
  n += snprintf(o + n, cap - (size_t)n, "\r\n");
  hs->out_len = (size_t)n;
  hs->state = NT__PX_HTTP_REPLY;
  return 0;
}

/* The head is complete: judge the status line. */
static int on_head(nt__proxy_hs_t *hs) {
  const char *h = (const char *)hs->in;
  size_t line = 0;
  while (line < hs->in_len && h[line] != '\n') line++;
  size_t shown = line && h[line - 1] == '\r' ? line - 1 : line;
  char status_line[160];
  nt__proxy_escape(status_line, sizeof status_line, h, shown);
  if (shown < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[7] < '0' || h[7] > '9' ||
      h[8] != ' ' || h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' ||
      h[11] < '0' || h[11] > '9' || (shown > 12 && h[12] != ' '))
    return nt__proxy_fail(hs, NT_EPROXY_PROTO, "not an HTTP reply: '%s'", status_line);
  int code = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
  NT__DEBUG("< %s", status_line);
  if (code >= 200 && code < 300) {
    hs->state = NT__PX_DONE;
    return 1;
  }
  if (code == 407 || code == 401)
    return nt__proxy_fail(hs, NT_EPROXY_AUTH, "%s%s", status_line,
                          hs->proxy.user[0] ? ""
                                            : " (give USER:PASSWORD in the proxy URL)");
  if (code >= 500 && code <= 504)
    return nt__proxy_fail(hs, NT_EPROXY_TARGET, "CONNECT %s port %d: %s", hs->host,
                          hs->port, status_line);
  return nt__proxy_fail(hs, NT_EPROXY_DENIED, "CONNECT %s port %d: %s", hs->host,
                        hs->port, status_line);
}

int nt__proxy_http_feed(nt__proxy_hs_t *hs, const unsigned char *d, size_t len,
                        size_t *used) {
  unsigned char *in = hs->in;
  while (*used < len) {
    if (hs->in_len == sizeof hs->in)
      return nt__proxy_fail(hs, NT_EPROXY_PROTO, "reply head over %zu bytes",
                            sizeof hs->in);
    size_t k = hs->in_len;
    in[k] = d[(*used)++];
    hs->in_len = ++k;
    if (in[k - 1] != '\n' || k < 2) continue;
    /* the empty line: LF LF, or CR LF CR LF (a lone CR before LF too) */
    if (in[k - 2] == '\n' || (k >= 3 && in[k - 2] == '\r' && in[k - 3] == '\n'))
      return on_head(hs);
  }
  return 0;
}
