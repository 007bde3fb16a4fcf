/* Proxy URLs, the environment's proxy variables and no_proxy, read as curl
 * reads them (lib/url.c detect_proxy, lib/noproxy.c). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nettool/errno.h"
#include "nettool/proxy.h"
#include "nettool/transport.h"

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Percent-decodes s[0..n) into dst (size bytes); -1 if malformed, too long
 * or decoding to a NUL. */
static int pct_decode(char *dst, size_t size, const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (n - i < 3) return -1;
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = hi * 16 + lo;
      i += 2;
      if (!c) return -1;
    }
    if (k + 1 >= size) return -1;
    dst[k++] = (char)c;
  }
  dst[k] = 0;
  return 0;
}

static int host_ok(const char *h) {
  if (!*h) return 0;
  for (; *h; h++) {
    unsigned char c = (unsigned char)*h;
    if (!isalnum(c) && c != '-' && c != '.' && c != '_') return 0;
  }
  return 1;
}

int nt_proxy_parse(const char *url, nt_proxy_t *out) {
  memset(out, 0, sizeof *out);
  if (!url || !*url) return NT_EPROXY_BADURL;
  for (const char *q = url; *q; q++)
    if ((unsigned char)*q <= 0x20 || *q == 0x7f) return NT_EPROXY_BADURL;
  const char *s = url;
  const char *sep = strstr(url, "://");
  int type = NT_PROXY_HTTP;
  if (sep) {
    size_t n = (size_t)(sep - url);
    if (n == 4 && !strncasecmp(url, "http", 4))
      type = NT_PROXY_HTTP;
    else if (n == 6 && !strncasecmp(url, "socks5", 6))
      type = NT_PROXY_SOCKS5;
    else if (n == 7 && !strncasecmp(url, "socks5h", 7))
      type = NT_PROXY_SOCKS5H;
    else
      return NT_EPROXY_BADURL; /* https://, socks4://... not supported */
    s = sep + 3;
  }
  /* the authority ends at a path, which may only be "/" */
  size_t alen = strcspn(s, "/?#");
  if (s[alen] && strcmp(s + alen, "/") != 0) return NT_EPROXY_BADURL;
  const char *at = NULL;
  for (size_t i = 0; i < alen; i++)
    if (s[i] == '@') at = s + i;
  const char *hp = s;
  if (at) {
    const char *colon = memchr(s, ':', (size_t)(at - s));
    size_t ulen = colon ? (size_t)(colon - s) : (size_t)(at - s);
    if (!ulen || pct_decode(out->user, sizeof out->user, s, ulen)) goto bad;
    if (colon &&
        pct_decode(out->password, sizeof out->password, colon + 1, (size_t)(at - colon - 1)))
      goto bad;
    hp = at + 1;
  }
  size_t hplen = alen - (size_t)(hp - s);
  const char *port_s = NULL;
  size_t hlen;
  if (hplen && hp[0] == '[') {
    const char *close = memchr(hp, ']', hplen);
    if (!close) goto bad;
    hlen = (size_t)(close - hp - 1);
    if (!hlen || hlen >= sizeof out->host) goto bad;
    memcpy(out->host, hp + 1, hlen);
    unsigned char a[16];
    if (inet_pton(AF_INET6, out->host, a) != 1) goto bad;
    size_t after = (size_t)(close + 1 - hp);
    if (after < hplen) {
      if (hp[after] != ':') goto bad;
      port_s = hp + after + 1;
    }
  } else {
    const char *colon = memchr(hp, ':', hplen);
    hlen = colon ? (size_t)(colon - hp) : hplen;
    if (!hlen || hlen >= sizeof out->host) goto bad;
    memcpy(out->host, hp, hlen);
    if (!host_ok(out->host)) goto bad;
    if (colon) port_s = colon + 1;
  }
  out->port = NT_PROXY_DEFAULT_PORT;
  if (port_s) {
    char pbuf[8];
    size_t plen = (size_t)(s + alen - port_s);
    if (!plen || plen >= sizeof pbuf) goto bad;
    memcpy(pbuf, port_s, plen);
    pbuf[plen] = 0;
    int port = nt_port_parse(pbuf, 0);
    if (port < 0) goto bad;
    out->port = port;
  }
  out->type = type;
  return 0;
bad:
  explicit_bzero(out, sizeof *out);
  return NT_EPROXY_BADURL;
}

char *nt_proxy_format(const nt_proxy_t *p, char *buf, size_t size) {
  static const char *const scheme[] = {"none", "http", "socks5", "socks5h"};
  const char *sc = p->type >= 0 && p->type <= NT_PROXY_SOCKS5H ? scheme[p->type] : "?";
  int v6 = strchr(p->host, ':') != NULL;
  if (p->user[0])
    snprintf(buf, size, "%s://%.255s%s@%s%.255s%s:%d", sc, p->user,
             p->password[0] ? ":****" : "", v6 ? "[" : "", p->host, v6 ? "]" : "",
             p->port);
  else
    snprintf(buf, size, "%s://%s%.255s%s:%d", sc, v6 ? "[" : "", p->host,
             v6 ? "]" : "", p->port);
  return buf;
}

/* --- no_proxy -------------------------------------------------------------------------- */

/* Whether a and b (same family, `bytes` long) agree in their first bits. */
static int prefix_match(const unsigned char *a, const unsigned char *b,
                        unsigned bits) {
  unsigned full = bits / 8, rest = bits % 8;
  if (memcmp(a, b, full)) return 0;
  if (!rest) return 1;
  unsigned char mask = (unsigned char)(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

static int ip_entry_match(const char *entry, int family,
                          const unsigned char *addr) {
  char buf[64];
  const char *slash = strchr(entry, '/');
  size_t n = slash ? (size_t)(slash - entry) : strlen(entry);
  if (n >= sizeof buf) return 0;
  memcpy(buf, entry, n);
  buf[n] = 0;
  if (n > 2 && buf[0] == '[' && buf[n - 1] == ']') {
    memmove(buf, buf + 1, n - 2);
    buf[n - 2] = 0;
  }
  unsigned char a[16];
  if (inet_pton(family, buf, a) != 1) return 0;
  unsigned maxbits = family == AF_INET ? 32 : 128, bits = maxbits;
  if (slash) {
    char *end;
    long b = strtol(slash + 1, &end, 10);
    if (!slash[1] || *end || b < 0 || b > (long)maxbits) return 0;
    bits = (unsigned)b;
  }
  return prefix_match(a, addr, bits);
}

static int name_entry_match(const char *entry, const char *host) {
  while (*entry == '.') entry++;
  size_t el = strlen(entry), hl = strlen(host);
  while (el && entry[el - 1] == '.') el--;
  if (!el) return 0;
  if (hl == el) return !strncasecmp(host, entry, el);
  return hl > el && host[hl - el - 1] == '.' && !strncasecmp(host + hl - el, entry, el);
}

int nt_proxy_no_proxy_match(const char *no_proxy, const char *host) {
  if (!no_proxy || !host || !*host) return 0;
  char h[256];
  size_t hl = strlen(host);
  if (hl >= sizeof h) return 0;
  memcpy(h, host, hl + 1);
  if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') {
    memmove(h, h + 1, hl - 2);
    h[hl -= 2] = 0;
  }
  while (hl && h[hl - 1] == '.') h[--hl] = 0;
  unsigned char addr[16];
  int family = 0;
  if (inet_pton(AF_INET, h, addr) == 1)
    family = AF_INET;
  else if (inet_pton(AF_INET6, h, addr) == 1)
    family = AF_INET6;
  const char *p = no_proxy;
  while (*p) {
    while (*p == ',' || *p == ' ' || *p == '\t') p++;
    size_t n = strcspn(p, ", \t");
    if (!n) break;
    char entry[300];
    if (n < sizeof entry) {
      memcpy(entry, p, n);
      entry[n] = 0;
      if (!strcmp(entry, "*")) return 1;
      if (family ? ip_entry_match(entry, family, addr) : name_entry_match(entry, h))
        return 1;
    }
    p += n;
  }
  return 0;
}

/* --- the environment ------------------------------------------------------------------- */

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

int nt_proxy_from_env(const char *scheme, const char *host, nt_proxy_t *out) {
  memset(out, 0, sizeof *out);
  const char *np = env("no_proxy");
  if (!np) np = env("NO_PROXY");
  if (np && nt_proxy_no_proxy_match(np, host)) return 0;
  char name[64];
  const char *v = NULL;
  if (scheme && *scheme && strlen(scheme) < 40) {
    size_t i = 0;
    for (; scheme[i]; i++) name[i] = (char)tolower((unsigned char)scheme[i]);
    memcpy(name + i, "_proxy", 7);
    v = env(name);
    /* HTTP_PROXY is never read: in a CGI program it is the request's
     * "Proxy:" header (httpoxy). */
    if (!v && strcmp(name, "http_proxy") != 0) {
      for (size_t k = 0; name[k]; k++) name[k] = (char)toupper((unsigned char)name[k]);
      v = env(name);
    }
  }
  if (!v) v = env("all_proxy");
  if (!v) v = env("ALL_PROXY");
  if (!v) return 0;
  int rc = nt_proxy_parse(v, out);
  return rc ? rc : 1;
}
