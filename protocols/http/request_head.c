/* The request head: request line, nettool's headers (Host, User-Agent,
 * Accept, Authorization, Content-Type, Content-Length or chunked, Expect),
 * then the caller's extra lines, which replace or remove nettool's. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <nettool/version.h>

#include "http-int.h"
#include "reactor-int.h"

size_t nt__base64(const unsigned char *src, size_t n, char *dst) {
  static const char tbl[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)src[i] << 16;
    if (i + 1 < n) v |= (unsigned)src[i + 1] << 8;
    if (i + 2 < n) v |= src[i + 2];
    dst[k++] = tbl[(v >> 18) & 63];
    dst[k++] = tbl[(v >> 12) & 63];
    dst[k++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    dst[k++] = i + 2 < n ? tbl[v & 63] : '=';
  }
  dst[k] = 0;
  return k;
}

/* RFC 9110 token characters. */
static int tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int nt__http_check_header_line(const char *line) {
  if (!line) return NT_EINVAL;
  size_t n = strlen(line);
  if (n == 0 || n > NT__HTTP_MAX_EXTRA_LINE) return NT_EINVAL;
  size_t i = 0;
  while (i < n && tchar((unsigned char)line[i])) i++;
  if (i == 0 || line[i] != ':') return NT_EINVAL;
  for (; i < n; i++)
    if (line[i] == '\r' || line[i] == '\n') return NT_EINVAL;
  return 0;
}

static size_t name_len(const char *line) { return strcspn(line, ":"); }

static int name_is(const char *line, const char *name) {
  size_t n = name_len(line);
  return n == strlen(name) && !strncasecmp(line, name, n);
}

/* The caller's line for name, if any. */
static const char *extra_for(const nt__http_head_params_t *hp,
                             const char *name) {
  for (const char *const *e = hp->extra; e && *e; e++)
    if (name_is(*e, name)) return *e;
  return NULL;
}

/* A growing string. */
typedef struct {
  char *s;
  size_t len, cap;
  int oom;
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = nt__realloc(b->s, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}

static void puts_(sbuf_t *b, const char *s) { put(b, s, strlen(s)); }

/* Writes "Name: value\r\n" unless the caller replaces or removes it. */
static void header(sbuf_t *b, const nt__http_head_params_t *hp,
                   const char *name, const char *value) {
  if (extra_for(hp, name)) return; /* written with the extras */
  puts_(b, name);
  puts_(b, ": ");
  puts_(b, value);
  puts_(b, "\r\n");
}

static int is_credential(const char *line) {
  return name_is(line, "Authorization") || name_is(line, "Cookie") ||
         name_is(line, "Proxy-Authorization");
}

/* At debug level each line of the head is logged as "> line" (curl -v's
 * form; nettool -v shows these), credentials masked: "Authorization: Basic
 * ****", "Cookie: ****". */
static void log_head(const char *s, size_t len) {
  const char *p = s, *end = s + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl : end) - p);
    if (n && p[n - 1] == '\r') n--;
    if (!n) break; /* the empty line ends the head */
    if (is_credential(p)) {
      size_t nlen = name_len(p);
      const char *v = p + nlen + 1;
      while (*v == ' ') v++;
      /* the scheme ("Basic") when a credential follows it; else nothing */
      size_t keep = name_is(p, "Cookie") ? 0 : strcspn(v, " \r\n");
      if (v[keep] != ' ') keep = 0;
      nt__log(NT__LOG_DEBUG, "> %.*s: %.*s%s****", (int)nlen, p, (int)keep, v,
              keep ? " " : "");
    } else {
      nt__log(NT__LOG_DEBUG, "> %.*s", (int)n, p);
    }
    p = nl ? nl + 1 : end;
  }
}

int nt__http_build_head(const nt__http_head_params_t *hp, char **out,
                        size_t *len) {
  sbuf_t b = {0};
  char tmp[640];
  puts_(&b, hp->method);
  puts_(&b, " ");
  puts_(&b, hp->url->target);
  puts_(&b, " HTTP/1.1\r\n");
  nt_url_host_header(hp->url, tmp, sizeof tmp);
  header(&b, hp, "Host", tmp);
  header(&b, hp, "User-Agent",
         hp->user_agent ? hp->user_agent : "nettool/" NT_VERSION_STRING);
  header(&b, hp, "Accept", "*/*");
  if (hp->user && !hp->drop_credentials && !extra_for(hp, "Authorization")) {
    size_t ul = strlen(hp->user), pl = hp->password ? strlen(hp->password) : 0;
    size_t raw = ul + 1 + pl;
    char *cred = nt__malloc(raw + 1);
    char *enc = nt__malloc(4 * (raw / 3 + 1) + 1);
    if (!cred || !enc) {
      nt__free(cred);
      nt__free(enc);
      nt__free(b.s);
      return NT_ENOMEM;
    }
    memcpy(cred, hp->user, ul);
    cred[ul] = ':';
    if (pl) memcpy(cred + ul + 1, hp->password, pl);
    nt__base64((const unsigned char *)cred, raw, enc);
    puts_(&b, "Authorization: Basic ");
    puts_(&b, enc);
    puts_(&b, "\r\n");
    memset(cred, 0, raw); /* do not leave the password around */
    nt__free(cred);
    nt__free(enc);
  }
  if (hp->content_length != -2) {
    if (hp->content_type) header(&b, hp, "Content-Type", hp->content_type);
    if (hp->content_length >= 0) {
      snprintf(tmp, sizeof tmp, "%lld", (long long)hp->content_length);
      /* Framing is ours: a caller's Content-Length or Transfer-Encoding
       * would corrupt the stream, so they are dropped below. */
      puts_(&b, "Content-Length: ");
      puts_(&b, tmp);
      puts_(&b, "\r\n");
    } else {
      puts_(&b, "Transfer-Encoding: chunked\r\n");
    }
    if (hp->expect_continue) puts_(&b, "Expect: 100-continue\r\n");
  }
  for (const char *const *e = hp->extra; e && *e; e++) {
    const char *line = *e;
    if (name_is(line, "Content-Length") || name_is(line, "Transfer-Encoding"))
      continue;
    if (name_is(line, "Expect") && hp->content_length != -2) continue;
    if (hp->drop_credentials && is_credential(line)) continue;
    size_t nl = name_len(line);
    const char *v = line + nl + 1;
    while (*v == ' ' || *v == '\t') v++;
    if (!*v) continue; /* "Name:" removes nettool's header */
    put(&b, line, nl);
    puts_(&b, ": ");
    puts_(&b, v);
    puts_(&b, "\r\n");
  }
  puts_(&b, "\r\n");
  if (b.oom) {
    nt__free(b.s);
    return NT_ENOMEM;
  }
  if (nt__log_level >= NT__LOG_DEBUG) log_head(b.s, b.len);
  *out = b.s;
  *len = b.len;
  return 0;
}
