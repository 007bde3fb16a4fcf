/* Endpoint strings -> nt_endpoint_t. The string is split once into fields
 * (unescaping "\:" and "\\", keeping "[...]" whole), the first field names
 * the type, and each type/role has a table of the keys it takes, positional
 * ones first. Every error names the string and the field. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "endpoint-int.h"
#include "nettool/transport.h"
#include "nettool/unix.h"
#include "reactor-int.h"

#define MAX_FIELDS 16
#define MAX_SPEC 4096

enum key_id { K_HOST, K_PORT, K_INTERFACE, K_PATH, K_CACERT, K_CERT, K_KEY,
              K_MODE, K_BACKLOG, K_TIMEOUT };

typedef struct {
  const char *name;
  enum key_id id;
} key_t_;

/* Per type and role: positional keys (in order), then the named-only ones. */
typedef struct {
  const char *type;
  nt_endpoint_kind_t kind;
  int role;
  int npos;
  key_t_ keys[8];
} grammar_t;

static const grammar_t grammars[] = {
    {"tcp", NT_ENDPOINT_TCP, NT_ENDPOINT_SERVER, 1,
     {{"port", K_PORT}, {"interface", K_INTERFACE}, {"backlog", K_BACKLOG}}},
    {"tcp", NT_ENDPOINT_TCP, NT_ENDPOINT_CLIENT, 2,
     {{"host", K_HOST}, {"port", K_PORT}, {"timeout", K_TIMEOUT}}},
    {"tls", NT_ENDPOINT_TLS, NT_ENDPOINT_SERVER, 1,
     {{"port", K_PORT}, {"interface", K_INTERFACE}, {"cert", K_CERT},
      {"key", K_KEY}, {"certKey", K_CERT}, {"privateKey", K_KEY},
      {"backlog", K_BACKLOG}}},
    {"tls", NT_ENDPOINT_TLS, NT_ENDPOINT_CLIENT, 2,
     {{"host", K_HOST}, {"port", K_PORT}, {"cacert", K_CACERT},
      {"timeout", K_TIMEOUT}}},
    {"unix", NT_ENDPOINT_UNIX, NT_ENDPOINT_SERVER, 1,
     {{"path", K_PATH}, {"address", K_PATH}, {"mode", K_MODE},
      {"backlog", K_BACKLOG}}},
    {"unix", NT_ENDPOINT_UNIX, NT_ENDPOINT_CLIENT, 1,
     {{"path", K_PATH}, {"address", K_PATH}, {"timeout", K_TIMEOUT}}},
    {"udp", NT_ENDPOINT_UDP, NT_ENDPOINT_SERVER, 1,
     {{"port", K_PORT}, {"interface", K_INTERFACE}}},
    {"udp", NT_ENDPOINT_UDP, NT_ENDPOINT_CLIENT, 2,
     {{"host", K_HOST}, {"port", K_PORT}}},
};

typedef struct {
  char *err;
  size_t errlen;
  const char *spec;
} perr_t;

__attribute__((format(printf, 2, 3))) static int bad(perr_t *e,
                                                     const char *fmt, ...) {
  if (e->errlen) {
    /* The spec first, shortened if long, so the message stays one line. */
    int n = snprintf(e->err, e->errlen, "%.80s%s: ", e->spec,
                     strlen(e->spec) > 80 ? "..." : "");
    if (n >= 0 && (size_t)n < e->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(e->err + n, e->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
    for (char *p = e->err; *p; p++)
      if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  }
  return NT_EINVAL;
}

/* Splits s (a writable copy) into fields in place. */
static int split(char *s, char **fields, int *n, perr_t *e) {
  int k = 0;
  char *w = s;
  fields[k++] = w;
  int bracket = 0;
  for (char *r = s; *r; r++) {
    if (*r == '\\') {
      if (r[1] != ':' && r[1] != '\\')
        return bad(e, "'\\' must be followed by ':' or '\\'");
      *w++ = *++r;
      continue;
    }
    /* "[::1]" or "host=[::1]": an IPv6 address keeps its colons. */
    if (*r == '[' && (w == fields[k - 1] || w[-1] == '=')) bracket = 1;
    if (*r == ']') bracket = 0;
    if (*r == ':' && !bracket) {
      *w++ = 0;
      if (k == MAX_FIELDS) return bad(e, "more than %d fields", MAX_FIELDS - 1);
      fields[k++] = w;
      continue;
    }
    *w++ = *r;
  }
  *w = 0;
  if (bracket) return bad(e, "'[' without ']'");
  *n = k;
  return 0;
}

static int parse_port(const char *v, int role, perr_t *e) {
  int p = nt_port_parse(v, role == NT_ENDPOINT_SERVER);
  if (p < 0)
    return bad(e, "bad port '%s' (%s-65535)", v,
               role == NT_ENDPOINT_SERVER ? "0" : "1"),
           -1;
  return p;
}

static int parse_uint(const char *v, unsigned long max, int base,
                      unsigned long *out) {
  if (!*v) return -1;
  for (const char *p = v; *p; p++)
    if (!isdigit((unsigned char)*p) || (base == 8 && *p > '7')) return -1;
  errno = 0;
  char *end;
  unsigned long x = strtoul(v, &end, base);
  if (errno || *end || x > max) return -1;
  *out = x;
  return 0;
}

/* Seconds, fractions allowed, > 0. */
static int parse_secs(const char *v, uint64_t *ms) {
  if (!*v || strlen(v) > 20) return -1;
  char *end;
  errno = 0;
  double s = strtod(v, &end);
  if (errno || *end || !(s > 0) || s > 86400.0 * 365 || !isdigit((unsigned char)v[0]))
    return -1;
  *ms = (uint64_t)(s * 1000.0 + 0.5);
  if (!*ms) *ms = 1;
  return 0;
}

static int set_value(nt_endpoint_t *ep, enum key_id id, const char *name,
                     const char *v, perr_t *e) {
  if (!*v) return bad(e, "empty value for %s", name);
  unsigned long x;
  switch (id) {
  case K_PORT: {
    int p = parse_port(v, ep->role, e);
    if (p < 0) return NT_EINVAL;
    ep->port = p;
    return 0;
  }
  case K_HOST:
  case K_INTERFACE: {
    char *h = nt__strdup(v);
    if (!h) return NT_ENOMEM;
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') { /* [::1] -> ::1 */
      memmove(h, h + 1, n - 2);
      h[n - 2] = 0;
    }
    ep->host = h;
    if (id == K_INTERFACE) {
      struct sockaddr_storage ss;
      socklen_t len;
      if (nt_addr_parse(h, 0, &ss, &len) != 0)
        return bad(e, "bad interface '%s': not a numeric IPv4 or IPv6 "
                      "address", v);
    } else if (!*h) {
      return bad(e, "empty host");
    }
    return 0;
  }
  case K_PATH: {
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = nt_unix_addr(v, &ss, &len);
    if (rc == -ENAMETOOLONG)
      return bad(e, "UNIX socket name too long (at most %zu bytes)",
                 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    if (rc || !strcmp(v, "@")) return bad(e, "bad UNIX socket name '%s'", v);
    ep->path = nt__strdup(v);
    return ep->path ? 0 : NT_ENOMEM;
  }
  case K_CACERT:
    ep->cacert = nt__strdup(v);
    return ep->cacert ? 0 : NT_ENOMEM;
  case K_CERT:
    ep->cert = nt__strdup(v);
    return ep->cert ? 0 : NT_ENOMEM;
  case K_KEY:
    ep->key = nt__strdup(v);
    return ep->key ? 0 : NT_ENOMEM;
  case K_MODE:
    if (parse_uint(v, 07777, 8, &x) || x == 0)
      return bad(e, "bad mode '%s' (octal, e.g. 0660)", v);
    ep->mode = (unsigned)x;
    return 0;
  case K_BACKLOG:
    if (parse_uint(v, 65535, 10, &x) || x == 0)
      return bad(e, "bad backlog '%s' (1-65535)", v);
    ep->backlog = (int)x;
    return 0;
  case K_TIMEOUT:
    if (parse_secs(v, &ep->timeout_ms))
      return bad(e, "bad timeout '%s' (seconds > 0)", v);
    return 0;
  }
  return NT_EINVAL;
}

void nt_endpoint_free(nt_endpoint_t *ep) {
  if (!ep) return;
  nt__free(ep->host);
  nt__free(ep->path);
  nt__free(ep->cacert);
  nt__free(ep->cert);
  nt__free(ep->key);
  nt_tls_ctx_free(ep->tls_ctx);
  nt__free(ep);
}

static const char *role_word(int role) {
  return role == NT_ENDPOINT_SERVER ? "listening" : "connecting";
}

static int parse_fields(nt_endpoint_t *ep, char **f, int nf, perr_t *e) {
  const grammar_t *g = NULL;
  int type_known = 0;
  for (size_t i = 0; i < sizeof grammars / sizeof grammars[0]; i++) {
    if (strcasecmp(grammars[i].type, f[0])) continue;
    type_known = 1;
    if (grammars[i].role == ep->role) g = &grammars[i];
  }
  if (!g) {
    if (!*f[0] || nf == 1)
      return bad(e, "expected TYPE:ARGS (tcp, tls, unix or udp)");
    return bad(e, type_known ? "'%s' is not for %s"
                             : "unknown type '%s' (tcp, tls, unix or udp)",
               f[0], role_word(ep->role));
  }
  ep->kind = g->kind;
  ep->port = g->kind == NT_ENDPOINT_UNIX ? -1 : -2; /* -2: not given yet */
  unsigned seen = 0;
  int pos = 0;
  for (int i = 1; i < nf; i++) {
    char *eq = strchr(f[i], '=');
    const key_t_ *k = NULL;
    const char *v = f[i];
    if (eq) {
      *eq = 0;
      v = eq + 1;
      for (int j = 0; j < 8 && g->keys[j].name; j++)
        if (!strcmp(g->keys[j].name, f[i])) k = &g->keys[j];
      if (!k) {
        char known[160] = "";
        for (int j = 0; j < 8 && g->keys[j].name; j++) {
          strncat(known, j ? ", " : "", sizeof known - strlen(known) - 1);
          strncat(known, g->keys[j].name, sizeof known - strlen(known) - 1);
        }
        return bad(e, "unknown key '%s' for %s %s (%s)", f[i], g->type,
                   role_word(ep->role), known);
      }
    } else {
      if (pos >= g->npos) {
        if (g->npos == 1)
          return bad(e, "unexpected '%s': %s %s takes one %s", f[i], g->type,
                     role_word(ep->role), g->keys[0].name);
        return bad(e, "unexpected '%s': %s %s takes %s:%s", f[i], g->type,
                   role_word(ep->role), g->keys[0].name, g->keys[1].name);
      }
      k = &g->keys[pos++];
    }
    if (seen & (1u << k->id)) return bad(e, "%s given twice", k->name);
    seen |= 1u << k->id;
    int rc = set_value(ep, k->id, k->name, v, e);
    if (rc) return rc;
  }
  /* Every positional key is required. */
  for (int j = 0; j < g->npos; j++)
    if (!(seen & (1u << g->keys[j].id)))
      return bad(e, "missing %s (%s %s is %s:%s%s%s)", g->keys[j].name,
                 g->type, role_word(ep->role), g->type,
                 g->keys[0].name, g->npos > 1 ? ":" : "",
                 g->npos > 1 ? g->keys[1].name : "");
  if (g->kind == NT_ENDPOINT_TLS && ep->role == NT_ENDPOINT_SERVER &&
      !ep->cert)
    return bad(e, "a TLS listener needs cert=FILE");
  return 0;
}

int nt_endpoint_parse(const char *spec, int role, nt_endpoint_t **out,
                      char *err, size_t errlen) {
  perr_t e = {err, errlen, spec ? spec : "(null)"};
  if (errlen) err[0] = 0;
  *out = NULL;
  if (role != NT_ENDPOINT_SERVER && role != NT_ENDPOINT_CLIENT)
    return bad(&e, "role must be server or client");
  if (!spec || !*spec) return bad(&e, "empty endpoint");
  size_t len = strlen(spec);
  if (len > MAX_SPEC) return bad(&e, "longer than %d bytes", MAX_SPEC);
  char *copy = nt__strdup(spec);
  nt_endpoint_t *ep = nt__calloc(1, sizeof *ep);
  if (!copy || !ep) {
    nt__free(copy);
    nt__free(ep);
    return bad(&e, "out of memory"), NT_ENOMEM;
  }
  ep->role = role;
  char *fields[MAX_FIELDS];
  int nf = 0;
  int rc = split(copy, fields, &nf, &e);
  if (!rc) rc = parse_fields(ep, fields, nf, &e);
  nt__free(copy);
  if (rc) {
    nt_endpoint_free(ep);
    return rc;
  }
  *out = ep;
  return 0;
}

nt_endpoint_kind_t nt_endpoint_kind(const nt_endpoint_t *ep) {
  return ep->kind;
}
int nt_endpoint_role(const nt_endpoint_t *ep) { return ep->role; }
const char *nt_endpoint_host(const nt_endpoint_t *ep) { return ep->host; }
int nt_endpoint_port(const nt_endpoint_t *ep) { return ep->port; }
const char *nt_endpoint_path(const nt_endpoint_t *ep) { return ep->path; }
const char *nt_endpoint_cacert(const nt_endpoint_t *ep) { return ep->cacert; }
const char *nt_endpoint_cert(const nt_endpoint_t *ep) { return ep->cert; }
const char *nt_endpoint_key(const nt_endpoint_t *ep) { return ep->key; }
uint64_t nt_endpoint_timeout_ms(const nt_endpoint_t *ep) {
  return ep->timeout_ms;
}

/* Appends ":key=value", escaping ':' and '\' in the value. */
static void put(char *buf, size_t size, size_t *n, const char *key,
                const char *v) {
  const char *parts[2] = {":", key};
  for (int i = 0; i < 2; i++)
    for (const char *p = parts[i]; *p && *n + 1 < size; p++) buf[(*n)++] = *p;
  if (*n + 1 < size) buf[(*n)++] = '=';
  for (const char *p = v; *p && *n + 2 < size; p++) {
    if (*p == ':' || *p == '\\') buf[(*n)++] = '\\';
    buf[(*n)++] = *p;
  }
  buf[*n] = 0;
}

char *nt_endpoint_format(const nt_endpoint_t *ep, char *buf, size_t size) {
  static const char *const names[] = {"", "tcp", "tls", "unix", "udp"};
  if (!size) return buf;
  size_t n = (size_t)snprintf(buf, size, "%s", names[ep->kind]);
  if (n >= size) return buf;
  char num[32];
  if (ep->host)
    put(buf, size, &n, ep->role == NT_ENDPOINT_CLIENT ? "host" : "interface",
        ep->host);
  if (ep->port >= 0) {
    snprintf(num, sizeof num, "%d", ep->port);
    put(buf, size, &n, "port", num);
  }
  if (ep->path) put(buf, size, &n, "path", ep->path);
  if (ep->cacert) put(buf, size, &n, "cacert", ep->cacert);
  if (ep->cert) put(buf, size, &n, "cert", ep->cert);
  if (ep->key) put(buf, size, &n, "key", ep->key);
  if (ep->mode) {
    snprintf(num, sizeof num, "0%o", ep->mode);
    put(buf, size, &n, "mode", num);
  }
  if (ep->backlog) {
    snprintf(num, sizeof num, "%d", ep->backlog);
    put(buf, size, &n, "backlog", num);
  }
  if (ep->timeout_ms) {
    snprintf(num, sizeof num, "%.3f", (double)ep->timeout_ms / 1000.0);
    put(buf, size, &n, "timeout", num);
  }
  return buf;
}
