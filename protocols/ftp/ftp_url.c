/* ftp:// and ftps:// URLs, and ~/.netrc look-ups. Both work on bounded
 * copies: every field has a fixed maximum, and a file over 64 KiB is not
 * read. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nettool/ftp.h"
#include "nettool/transport.h"

#define NETRC_MAX (64 * 1024)

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Copies s[0..n) to out, decoding %XX; refuses NUL, CR, LF (raw or
 * escaped). */
static int decode(const char *s, size_t n, char *out, size_t size,
                  const char **why) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= n) {
        *why = "truncated %-escape";
        return NT_EINVAL;
      }
      int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
      if (a < 0 || b < 0) {
        *why = "bad %-escape";
        return NT_EINVAL;
      }
      c = (unsigned char)(a * 16 + b);
      i += 2;
    }
    if (c == 0 || c == '\r' || c == '\n') {
      *why = "NUL, CR or LF in the URL";
      return NT_EINVAL;
    }
    if (o + 1 >= size) {
      *why = "URL part too long";
      return NT_EINVAL;
    }
    out[o++] = (char)c;
  }
  out[o] = 0;
  return 0;
}

int nt_ftp_parse_url(const char *url, nt_ftp_url_t *u, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  memset(u, 0, sizeof *u);
  if (!url) {
    *why = "no URL";
    return NT_EINVAL;
  }
  const char *p;
  if (!strncasecmp(url, "ftp://", 6)) {
    p = url + 6;
  } else if (!strncasecmp(url, "ftps://", 7)) {
    p = url + 7;
    u->tls = 1;
  } else {
    *why = "not an ftp:// or ftps:// URL";
    return NT_EINVAL;
  }
  size_t alen = strcspn(p, "/");
  const char *auth_end = p + alen;
  /* userinfo: up to the last '@' of the authority */
  const char *at = NULL;
  for (const char *q = p; q < auth_end; q++)
    if (*q == '@') at = q;
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    size_t ul = colon ? (size_t)(colon - p) : (size_t)(at - p);
    if (decode(p, ul, u->user, sizeof u->user, why)) return NT_EINVAL;
    u->has_user = 1;
    if (colon) {
      if (decode(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof u->pass, why))
        return NT_EINVAL;
      u->has_pass = 1;
    }
    p = at + 1;
  }
  /* host[:port] */
  const char *host_end;
  const char *port_start = NULL;
  if (*p == '[') {
    const char *rb = memchr(p, ']', (size_t)(auth_end - p));
    if (!rb) {
      *why = "unterminated [IPv6] address";
      return NT_EINVAL;
    }
    size_t hl = (size_t)(rb - p - 1);
    if (!hl || hl >= sizeof u->host) {
      *why = "bad [IPv6] address";
      return NT_EINVAL;
    }
    memcpy(u->host, p + 1, hl);
    u->host[hl] = 0;
    host_end = rb + 1;
    if (host_end < auth_end) {
      if (*host_end != ':') {
        *why = "junk after ]";
        return NT_EINVAL;
      }
      port_start = host_end + 1;
    }
  } else {
    const char *colon = memchr(p, ':', (size_t)(auth_end - p));
    host_end = colon ? colon : auth_end;
    size_t hl = (size_t)(host_end - p);
    if (decode(p, hl, u->host, sizeof u->host, why)) return NT_EINVAL;
    if (colon) port_start = colon + 1;
  }
  if (!u->host[0]) {
    *why = "no host";
    return NT_EINVAL;
  }
  if (port_start) {
    char port[8];
    size_t pl = (size_t)(auth_end - port_start);
    if (!pl || pl >= sizeof port) {
      *why = "bad port";
      return NT_EINVAL;
    }
    memcpy(port, port_start, pl);
    port[pl] = 0;
    int n = nt_port_parse(port, 0);
    if (n < 0) {
      *why = "bad port";
      return NT_EINVAL;
    }
    u->port = n;
  }
  if (*auth_end == '/') {
    const char *path = auth_end + 1;
    if (decode(path, strlen(path), u->path, sizeof u->path, why))
      return NT_EINVAL;
  }
  return 0;
}

/* --- ~/.netrc ------------------------------------------------------------------ */

typedef struct {
  const char *p, *end;
} lexer_t;

/* Next token into tok (quoted "..." with \-escapes allowed). 1: a token,
 * 0: the end, NT_ETOOBIG: too long. */
static int next_token(lexer_t *lx, char *tok, size_t size) {
  while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' ||
                             *lx->p == '\r' || *lx->p == ','))
    lx->p++;
  if (lx->p >= lx->end) return 0;
  size_t n = 0;
  if (*lx->p == '"') {
    lx->p++;
    while (lx->p < lx->end && *lx->p != '"') {
      if (*lx->p == '\\' && lx->p + 1 < lx->end) lx->p++;
      if (n + 1 >= size) return NT_ETOOBIG;
      tok[n++] = *lx->p++;
    }
    if (lx->p < lx->end) lx->p++;
  } else {
    while (lx->p < lx->end && *lx->p != ' ' && *lx->p != '\t' && *lx->p != '\n' &&
           *lx->p != '\r') {
      if (n + 1 >= size) return NT_ETOOBIG;
      tok[n++] = *lx->p++;
    }
  }
  tok[n] = 0;
  return 1;
}

/* macdef NAME: its body runs to the first empty line. */
static void skip_macdef(lexer_t *lx) {
  while (lx->p < lx->end && *lx->p != '\n') lx->p++;
  while (lx->p < lx->end) {
    const char *nl = memchr(lx->p + 1, '\n', (size_t)(lx->end - lx->p - 1));
    if (!nl) {
      lx->p = lx->end;
      return;
    }
    if (nl == lx->p + 1) { /* "\n\n": empty line */
      lx->p = nl + 1;
      return;
    }
    lx->p = nl;
  }
}

static void copy(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

int nt_ftp_netrc_lookup(const char *path, const char *host, const char *user,
                        char *login, size_t login_size, char *password,
                        size_t password_size) {
  char def[4096];
  if (!path) {
    const char *home = getenv("HOME");
    if (!home || !*home) return 0;
    size_t hl = strlen(home);
    if (hl + sizeof "/.netrc" > sizeof def) return 0;
    memcpy(def, home, hl);
    memcpy(def + hl, "/.netrc", sizeof "/.netrc");
    path = def;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return 0;
  }
  if (st.st_size > NETRC_MAX) {
    close(fd);
    return NT_ETOOBIG;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) {
    close(fd);
    return NT_ENOMEM;
  }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);

  lexer_t lx = {buf, buf + got};
  char tok[256], l[256] = "", pw[256] = "";
  int in_entry = 0, matches = 0, found = 0, rc;
  int have_login = 0, have_pw = 0;
  while ((rc = next_token(&lx, tok, sizeof tok)) == 1) {
    if (!strcmp(tok, "machine") || !strcmp(tok, "default")) {
      if (in_entry && matches && have_login + have_pw &&
          (!user || !*user || (have_login && !strcmp(l, user)))) {
        found = 1;
        break;
      }
      int is_default = tok[0] == 'd';
      in_entry = 1;
      have_login = have_pw = 0;
      l[0] = pw[0] = 0;
      if (is_default) {
        matches = 1;
      } else {
        if ((rc = next_token(&lx, tok, sizeof tok)) != 1) break;
        matches = !strcasecmp(tok, host);
      }
    } else if (!strcmp(tok, "login") || !strcmp(tok, "password") ||
               !strcmp(tok, "account")) {
      int which = tok[0];
      if ((rc = next_token(&lx, tok, sizeof tok)) != 1) break;
      if (which == 'l') {
        copy(l, sizeof l, tok);
        have_login = 1;
      } else if (which == 'p') {
        copy(pw, sizeof pw, tok);
        have_pw = 1;
      }
    } else if (!strcmp(tok, "macdef")) {
      skip_macdef(&lx);
    }
  }
  if (rc == NT_ETOOBIG) {
    memset(buf, 0, got);
    free(buf);
    return NT_ETOOBIG;
  }
  if (!found && in_entry && matches && have_login + have_pw &&
      (!user || !*user || (have_login && !strcmp(l, user))))
    found = 1;
  memset(buf, 0, got); /* passwords do not linger */
  free(buf);
  if (found) {
    copy(login, login_size, have_login ? l : (user ? user : ""));
    copy(password, password_size, pw);
  }
  memset(pw, 0, sizeof pw);
  memset(tok, 0, sizeof tok);
  return found;
}
