/* URLs: parsing http/https URLs (IPv6 literals, ports, userinfo,
 * percent-encoding), resolving references (Location), formatting. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http-int.h"
#include "nettool/resolve.h"
#include "reactor-int.h"

static char *dup_n(const char *s, size_t n) {
  char *d = nt__malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..n) into a new string; NT_EHTTP_BAD_URL for a bad
 * escape or a decoded NUL. */
static int decode(const char *s, size_t n, char **out) {
  char *d = nt__malloc(n + 1);
  if (!d) return NT_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
      int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
        nt__free(d);
        return NT_EHTTP_BAD_URL;
      }
      d[k++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      d[k++] = s[i];
    }
  }
  d[k] = 0;
  *out = d;
  return 0;
}

/* Bytes sent as they are in a path or query (RFC 3986 pchar, "/", "?");
 * everything else is percent-encoded. */
static int plain(unsigned char c) {
  if (isalnum(c)) return 1;
  return strchr("-._~!$&'()*+,;=:@/?", c) != NULL && c;
}

/* Path and query, percent-encoded where needed ("%" kept when it starts a
 * valid escape). */
static char *encode_target(const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  char *d = nt__malloc(3 * n + 1);
  if (!d) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (plain(c)) {
      d[k++] = (char)c;
    } else if (c == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
               hexval((unsigned char)s[i + 2]) >= 0) {
      d[k++] = '%';
    } else {
      d[k++] = '%';
      d[k++] = hex[c >> 4];
      d[k++] = hex[c & 15];
    }
  }
  d[k] = 0;
  return d;
}

/* RFC 3986 5.2.4 on an absolute path ("/..."; no query), in place: "."
 * and ".." segments go, a ".." taking the segment before it along. */
static void remove_dots(char *path) {
  char *out = path; /* output holds "/seg/seg..." */
  const char *in = path + 1;
  for (;;) {
    const char *slash = strchr(in, '/');
    size_t n = slash ? (size_t)(slash - in) : strlen(in);
    int last = slash == NULL;
    if (n == 1 && in[0] == '.') {
      if (last) *out++ = '/';
    } else if (n == 2 && in[0] == '.' && in[1] == '.') {
      while (out > path && *--out != '/') {
      }
      if (last) *out++ = '/';
    } else {
      *out++ = '/';
      memmove(out, in, n);
      out += n;
    }
    if (last) break;
    in = slash + 1;
  }
  *out = 0;
}

/* Builds u->target from a path+query (maybe empty), encoding and removing
 * dot segments from the path. */
static int set_target(nt_url_t *u, const char *s, size_t n) {
  char *enc = encode_target(s, n);
  if (!enc) return NT_ENOMEM;
  size_t el = strlen(enc);
  char *t = nt__malloc(el + 2); /* with a leading "/" if it lacks one */
  if (!t) {
    nt__free(enc);
    return NT_ENOMEM;
  }
  size_t k = 0;
  if (enc[0] != '/') t[k++] = '/';
  memcpy(t + k, enc, el + 1);
  nt__free(enc);
  char *q = strchr(t, '?');
  char *query = NULL;
  if (q) {
    query = nt__strdup(q);
    *q = 0;
    if (!query) {
      nt__free(t);
      return NT_ENOMEM;
    }
  }
  remove_dots(t);
  size_t pl = strlen(t), ql = query ? strlen(query) : 0;
  char *full = nt__malloc(pl + ql + 1);
  if (!full) {
    nt__free(t);
    nt__free(query);
    return NT_ENOMEM;
  }
  memcpy(full, t, pl);
  if (query) memcpy(full + pl, query, ql);
  full[pl + ql] = 0;
  nt__free(t);
  nt__free(query);
  u->target = full;
  return 0;
}

static int bad_byte(unsigned char c) { return c <= 0x20 || c == 0x7f; }

/* host[:port] from the authority (userinfo removed). */
static int parse_hostport(nt_url_t *u, const char *s, size_t n) {
  const char *end = s + n, *port = NULL;
  if (n && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (!close) return NT_EHTTP_BAD_URL;
    size_t hl = (size_t)(close - s - 1);
    char tmp[INET6_ADDRSTRLEN + 1];
    struct in6_addr a;
    if (hl == 0 || hl >= sizeof tmp) return NT_EHTTP_BAD_URL;
    memcpy(tmp, s + 1, hl);
    tmp[hl] = 0;
    if (inet_pton(AF_INET6, tmp, &a) != 1) return NT_EHTTP_BAD_URL;
    if (!(u->host = dup_n(tmp, hl))) return NT_ENOMEM;
    if (close + 1 < end) {
      if (close[1] != ':') return NT_EHTTP_BAD_URL;
      port = close + 2;
    }
  } else {
    const char *colon = memchr(s, ':', n);
    size_t hl = colon ? (size_t)(colon - s) : n;
    if (hl == 0 || hl > 253) return NT_EHTTP_BAD_URL;
    char *h;
    int rc = decode(s, hl, &h);
    if (rc) return rc;
    for (char *c = h; *c; c++) *c = (char)tolower((unsigned char)*c);
    struct in_addr a4;
    const char *why;
    if (inet_pton(AF_INET, h, &a4) != 1 && nt_hostname_check(h, &why) != 0) {
      nt__free(h);
      return NT_EHTTP_BAD_URL;
    }
    u->host = h;
    if (colon) port = colon + 1;
  }
  u->port = u->https ? 443 : 80;
  if (port && port < end) {
    long v = 0;
    for (const char *c = port; c < end; c++) {
      if (*c < '0' || *c > '9') return NT_EBADPORT;
      v = v * 10 + (*c - '0');
      if (v > 65535) return NT_EBADPORT;
    }
    if (v == 0) return NT_EBADPORT;
    u->port = (int)v;
  }
  return 0;
}

static int parse_userinfo(nt_url_t *u, const char *s, size_t n) {
  const char *colon = memchr(s, ':', n);
  size_t ul = colon ? (size_t)(colon - s) : n;
  int rc = decode(s, ul, &u->user);
  if (rc) return rc;
  if (colon) return decode(colon + 1, n - ul - 1, &u->password);
  return 0;
}

static int scheme_len(const char *s) {
  if (!isalpha((unsigned char)s[0])) return 0;
  int i = 1;
  while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
         s[i] == '.')
    i++;
  return s[i] == ':' ? i : 0;
}

static int parse(const char *s, nt_url_t *u) {
  memset(u, 0, sizeof *u);
  if (!s) return NT_EHTTP_BAD_URL;
  size_t total = strlen(s);
  if (total == 0 || total > NT_URL_MAX) return NT_EHTTP_BAD_URL;
  for (size_t i = 0; i < total; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return NT_EHTTP_BAD_URL;
  const char *p = s;
  const char *sep = strstr(s, "://");
  if (sep && sep < s + strcspn(s, "/?#")) {
    int sl = scheme_len(s);
    if (sl != sep - s) return NT_EHTTP_BAD_URL;
    if (sl == 4 && !strncasecmp(s, "http", 4))
      u->https = 0;
    else if (sl == 5 && !strncasecmp(s, "https", 5))
      u->https = 1;
    else
      return NT_EHTTP_SCHEME;
    p = sep + 3;
  }
  size_t alen = strcspn(p, "/?#");
  const char *auth = p, *rest = p + alen;
  for (size_t i = 0; i < alen; i++)
    if (bad_byte((unsigned char)auth[i])) return NT_EHTTP_BAD_URL;
  const char *at = NULL;
  for (size_t i = 0; i < alen; i++)
    if (auth[i] == '@') at = auth + i;
  int rc;
  if (at) {
    if ((rc = parse_userinfo(u, auth, (size_t)(at - auth)))) return rc;
    if ((rc = parse_hostport(u, at + 1, (size_t)(auth + alen - at - 1))))
      return rc;
  } else if ((rc = parse_hostport(u, auth, alen))) {
    return rc;
  }
  size_t tlen = strcspn(rest, "#");
  return set_target(u, rest, tlen);
}

int nt_url_parse(const char *s, nt_url_t *u) {
  int rc = parse(s, u);
  if (rc) nt_url_free(u);
  return rc;
}

void nt_url_free(nt_url_t *u) {
  if (!u) return;
  nt__free(u->host);
  nt__free(u->target);
  nt__free(u->user);
  nt__free(u->password);
  memset(u, 0, sizeof *u);
}

static char *dup_or_null(const char *s, int *fail) {
  if (!s) return NULL;
  char *d = nt__strdup(s);
  if (!d) *fail = 1;
  return d;
}

int nt_url_copy(nt_url_t *dst, const nt_url_t *src) {
  int fail = 0;
  nt_url_t u = *src;
  u.host = dup_or_null(src->host, &fail);
  u.target = dup_or_null(src->target, &fail);
  u.user = dup_or_null(src->user, &fail);
  u.password = dup_or_null(src->password, &fail);
  if (fail) {
    nt_url_free(&u);
    memset(dst, 0, sizeof *dst);
    return NT_ENOMEM;
  }
  *dst = u;
  return 0;
}

int nt_url_same_origin(const nt_url_t *a, const nt_url_t *b) {
  return a->https == b->https && a->port == b->port && a->host && b->host &&
         !strcasecmp(a->host, b->host);
}

size_t nt_url_host_header(const nt_url_t *u, char *buf, size_t size) {
  int v6 = strchr(u->host, ':') != NULL;
  int dflt = u->port == (u->https ? 443 : 80);
  int n;
  if (dflt)
    n = snprintf(buf, size, v6 ? "[%s]" : "%s", u->host);
  else
    n = snprintf(buf, size, v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
  return n < 0 ? 0 : (size_t)n;
}

size_t nt_url_format(const nt_url_t *u, char *buf, size_t size) {
  char hh[300];
  nt_url_host_header(u, hh, sizeof hh);
  int n = snprintf(buf, size, "%s://%s%s", u->https ? "https" : "http", hh,
                   u->target ? u->target : "/");
  return n < 0 ? 0 : (size_t)n;
}

/* --- references (RFC 3986 section 5.2) ------------------------------------ */

int nt_url_resolve(const nt_url_t *base, const char *ref, nt_url_t *out) {
  memset(out, 0, sizeof *out);
  if (!ref) return NT_EHTTP_BAD_URL;
  size_t rl = strlen(ref);
  if (rl > NT_URL_MAX) return NT_EHTTP_BAD_URL;
  for (size_t i = 0; i < rl; i++)
    if ((unsigned char)ref[i] < 0x20 || ref[i] == 0x7f) return NT_EHTTP_BAD_URL;
  while (*ref == ' ') ref++;
  int sl = scheme_len(ref);
  if (sl) {
    if (!strncmp(ref + sl, "://", 3)) return nt_url_parse(ref, out);
    if (!((sl == 4 && !strncasecmp(ref, "http", 4)) ||
          (sl == 5 && !strncasecmp(ref, "https", 5))))
      return NT_EHTTP_SCHEME;
    ref += sl + 1; /* "http:path": same scheme, relative */
  }
  if (ref[0] == '/' && ref[1] == '/') {
    size_t need = strlen(ref) + 8;
    char *abs = nt__malloc(need);
    if (!abs) return NT_ENOMEM;
    snprintf(abs, need, "%s:%s", base->https ? "https" : "http", ref);
    int rc = nt_url_parse(abs, out);
    nt__free(abs);
    return rc;
  }
  out->https = base->https;
  out->port = base->port;
  if (!(out->host = nt__strdup(base->host))) return NT_ENOMEM;
  size_t n = strcspn(ref, "#");
  int rc;
  if (n == 0) {
    rc = (out->target = nt__strdup(base->target)) ? 0 : NT_ENOMEM;
  } else if (ref[0] == '/') {
    rc = set_target(out, ref, n);
  } else {
    /* Merge with the base path: its directory, or the path itself for a
     * query-only reference. */
    const char *bt = base->target;
    size_t bpath = strcspn(bt, "?");
    size_t keep;
    if (ref[0] == '?') {
      keep = bpath;
    } else {
      keep = bpath;
      while (keep && bt[keep - 1] != '/') keep--;
    }
    char *m = nt__malloc(keep + n + 1);
    if (!m) {
      nt_url_free(out);
      return NT_ENOMEM;
    }
    memcpy(m, bt, keep);
    memcpy(m + keep, ref, n);
    m[keep + n] = 0;
    rc = set_target(out, m, keep + n);
    nt__free(m);
  }
  if (rc) nt_url_free(out);
  return rc;
}
