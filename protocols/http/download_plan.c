/* The pure parts of a download's decisions (download-int.h): reading
 * Content-Range, Retry-After and the digest fields, which errors heal, and
 * the backoff. No I/O: unit-tested and fuzzed directly. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "download-int.h"
#include "reactor-int.h"

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* A decimal number of at most 18 digits at *p: 0 and *out, or -1. */
static int number(const char **p, int64_t *out) {
  const char *s = *p;
  int64_t v = 0;
  int n = 0;
  while (isdigit((unsigned char)*s)) {
    if (++n > 18) return -1;
    v = v * 10 + (*s++ - '0');
  }
  if (!n) return -1;
  *out = v;
  *p = s;
  return 0;
}

int nt__dl_parse_content_range(const char *v, int64_t *first, int64_t *last,
                               int64_t *complete) {
  *first = *last = *complete = -1;
  if (!v) return -1;
  const char *p = skip_ws(v);
  if (strncasecmp(p, "bytes", 5)) return -1;
  p += 5;
  if (*p != ' ' && *p != '\t') return -1;
  p = skip_ws(p);
  if (*p == '*') {
    p++;
  } else {
    if (number(&p, first) || *p++ != '-' || number(&p, last) || *last < *first)
      return -1;
  }
  if (*p++ != '/') return -1;
  if (*p == '*') {
    if (*first < 0) return -1; /* a star on both sides says nothing */
    p++;
  } else {
    if (number(&p, complete)) return -1;
    if (*first >= 0 && *last >= *complete) return -1;
  }
  p = skip_ws(p);
  return *p ? -1 : 0;
}

int64_t nt__dl_parse_retry_after(const char *v, int64_t now_wall) {
  if (!v) return -1;
  const char *p = skip_ws(v);
  if (isdigit((unsigned char)*p)) {
    int64_t s;
    if (number(&p, &s)) return -1;
    p = skip_ws(p);
    if (*p) return -1;
    if (s > 365LL * 86400) s = 365LL * 86400;
    return s * 1000;
  }
  /* IMF-fixdate, as RFC 9110 says senders use: "Sun, 06 Nov 1994 08:49:37
   * GMT" (the obsolete forms are not worth a parser here). */
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = strptime(p, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *skip_ws(end)) return -1;
  int64_t t = (int64_t)timegm(&tm);
  if (t <= now_wall) return 0;
  int64_t d = t - now_wall;
  if (d > 365LL * 86400) d = 365LL * 86400;
  return d * 1000;
}

static nt__dg_alg_t http_alg(const char *name, size_t n) {
  static const struct {
    const char *name;
    nt__dg_alg_t alg;
  } algs[] = {{"sha-512", NT__DG_SHA512}, {"sha-256", NT__DG_SHA256},
              {"md5", NT__DG_MD5}, {"sha", NT__DG_SHA1}};
  for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
    if (strlen(algs[i].name) == n && !strncasecmp(name, algs[i].name, n))
      return algs[i].alg;
  return NT__DG_NONE;
}

/* The strength order: a later algorithm is preferred. */
static int rank(nt__dg_alg_t a) {
  switch (a) {
  case NT__DG_SHA512: return 4;
  case NT__DG_SHA256: return 3;
  case NT__DG_SHA1: return 2;
  case NT__DG_MD5: return 1;
  default: return 0;
  }
}

int nt__dl_parse_digest_field(const char *v, nt__dl_digest_t *d) {
  memset(d, 0, sizeof *d);
  if (!v) return 0;
  const char *p = v;
  for (;;) {
    p = skip_ws(p);
    if (!*p) break;
    const char *key = p;
    while (*p && (isalnum((unsigned char)*p) || *p == '-' || *p == '_' ||
                  *p == '.' || *p == '*'))
      p++;
    size_t klen = (size_t)(p - key);
    if (!klen || *p++ != '=') return -1;
    if (*p != ':') { /* not a byte sequence: skip the member */
      while (*p && *p != ',') p++;
    } else {
      const char *b = ++p;
      while (*p && *p != ':') p++;
      if (*p != ':') return -1;
      size_t blen = (size_t)(p - b);
      p++;
      /* parameters (";k=v") are allowed and ignored */
      while (*p && *p != ',') p++;
      nt__dg_alg_t alg = http_alg(key, klen);
      if (alg != NT__DG_NONE && rank(alg) > rank(d->alg)) {
        unsigned char buf[NT__DG_MAX];
        int n = nt__b64_decode(b, blen, buf, sizeof buf);
        if (n < 0 || (size_t)n != nt__digest_len(alg)) return -1;
        d->alg = alg;
        d->len = (size_t)n;
        memcpy(d->want, buf, (size_t)n);
      }
    }
    p = skip_ws(p);
    if (*p == ',') p++;
    else if (*p) return -1;
  }
  return 0;
}

int nt__dl_parse_content_md5(const char *v, nt__dl_digest_t *d) {
  memset(d, 0, sizeof *d);
  if (!v) return 0;
  const char *p = skip_ws(v);
  size_t n = strlen(p);
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  int got = nt__b64_decode(p, n, d->want, sizeof d->want);
  if (got != 16) {
    memset(d, 0, sizeof *d);
    return -1;
  }
  d->alg = NT__DG_MD5;
  d->len = 16;
  return 0;
}

int nt__dl_transient(int status) {
  switch (status) {
  case NT_ECANCELED:
  case NT_ENOMEM:
  case NT_EINVAL:
  case NT_EDNS_NXDOMAIN:
  case NT_EDNS_NODATA:
  case NT_EDNS_BADNAME:
  case NT_EHTTP_BAD_URL:
  case NT_EHTTP_SCHEME:
  case NT_EHTTP_REDIRECTS:
  case NT_EHTTP_BAD_REDIRECT:
  case NT_EHTTP_HEADERS_TOO_BIG:
  case NT_EHTTP_NO_REPLAY:
  case NT_EHTTP_FILE_CHANGED:
  case NT_ETLS_VERIFY:
  case NT_ETLS_CERT_EXPIRED:
  case NT_ETLS_HOSTNAME:
  case NT_ETLS_UNKNOWN_CA:
  case NT_ETLS_CONFIG:
  case NT_EBADPORT:
  case NT_ENOSPC:
  case NT_EACCES:
  case NT_EBADF:
  case NT_EIO:
  case NT_EDIGEST:
    return 0;
  default:
    return status < 0;
  }
}

int nt__dl_retryable_status(int s) {
  return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

