/* Parsers for what FTP servers send besides the reply framing (which is
 * pingpong's): EPSV/PASV addresses, MLSD facts, quoted path names, times,
 * sizes, FEAT lists. Every one is bounded by the length given, never reads
 * past it, and needs no NUL terminator. */
#include <string.h>

#include "nettool/ftp.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

static int ieq(const char *a, size_t alen, const char *b) {
  size_t blen = strlen(b);
  if (alen != blen) return 0;
  for (size_t i = 0; i < alen; i++)
    if (lower(a[i]) != lower(b[i])) return 0;
  return 1;
}

/* --- data connection addresses ---------------------------------------------- */

int nt_ftp_parse_epsv(const char *text, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (text[i] != '(') continue;
    const char *p = text + i + 1;
    size_t n = len - i - 1;
    if (n < 6) break;
    char d = p[0];
    if (d < 33 || d > 126 || is_digit(d) || p[1] != d || p[2] != d) continue;
    size_t k = 3;
    long port = 0;
    size_t digits = 0;
    while (k < n && is_digit(p[k]) && digits < 6) {
      port = port * 10 + (p[k] - '0');
      k++;
      digits++;
    }
    if (!digits || digits > 5 || port < 1 || port > 65535) continue;
    if (k + 1 >= n || p[k] != d || p[k + 1] != ')') continue;
    return (int)port;
  }
  return NT_EFTP_BADREPLY;
}

/* Up to 3 digits, 0..255. Returns the characters used, 0 if none. */
static size_t octet(const char *p, size_t n, int *v) {
  size_t k = 0;
  int x = 0;
  while (k < n && k < 3 && is_digit(p[k])) x = x * 10 + (p[k++] - '0');
  if (!k || (k < n && is_digit(p[k])) || x > 255) return 0;
  *v = x;
  return k;
}

int nt_ftp_parse_pasv(const char *text, size_t len, uint8_t ip[4]) {
  for (size_t i = 0; i < len; i++) {
    if (!is_digit(text[i]) || (i && is_digit(text[i - 1]))) continue;
    int v[6];
    size_t pos = i, k;
    int ok = 1;
    for (int j = 0; j < 6 && ok; j++) {
      if (j) {
        if (pos >= len || text[pos] != ',') {
          ok = 0;
          break;
        }
        pos++;
        while (pos < len && text[pos] == ' ') pos++; /* "1, 2, 3" seen in the wild */
      }
      k = octet(text + pos, len - pos, &v[j]);
      if (!k) ok = 0;
      pos += k;
    }
    if (!ok) continue;
    int port = v[4] * 256 + v[5];
    if (port == 0) continue;
    for (int j = 0; j < 4; j++) ip[j] = (uint8_t)v[j];
    return port;
  }
  return NT_EFTP_BADREPLY;
}

/* --- numbers and times --------------------------------------------------------- */

int nt_ftp_parse_size(const char *s, size_t len, uint64_t *out) {
  size_t i = 0;
  while (i < len && s[i] == ' ') i++;
  if (i == len || !is_digit(s[i])) return NT_EFTP_BADREPLY;
  uint64_t v = 0;
  while (i < len && is_digit(s[i])) {
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return NT_EFTP_BADREPLY;
    v = v * 10 + d;
    i++;
  }
  while (i < len && s[i] == ' ') i++;
  if (i != len) return NT_EFTP_BADREPLY;
  *out = v;
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int num(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int64_t nt_ftp_parse_time(const char *s, size_t len) {
  while (len && s[len - 1] == ' ') len--;
  while (len && s[0] == ' ') {
    s++;
    len--;
  }
  if (len < 14) return -1;
  if (len > 14) { /* ".sss" fraction, ignored */
    if (s[14] != '.' || len == 15) return -1;
    for (size_t i = 15; i < len; i++)
      if (!is_digit(s[i])) return -1;
  }
  int y = num(s, 4), mo = num(s + 4, 2), d = num(s + 6, 2);
  int h = num(s + 8, 2), mi = num(s + 10, 2), se = num(s + 12, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
      mi < 0 || mi > 59 || se < 0 || se > 60)
    return -1;
  static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30,
                                          31, 31, 30, 31, 30, 31};
  if (d > mdays[mo - 1]) return -1;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    return -1;
  return days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
         mi * 60 + se;
}

int nt_ftp_parse_150_size(const char *text, size_t len, uint64_t *out) {
  static const char tail[] = " bytes)";
  const size_t tl = sizeof tail - 1;
  for (size_t i = 1; i + tl <= len; i++) {
    if (memcmp(text + i, tail, tl) != 0) continue;
    size_t end = i, start = i;
    while (start > 0 && is_digit(text[start - 1])) start--;
    if (start == end || start == 0 || text[start - 1] != '(') continue;
    if (nt_ftp_parse_size(text + start, end - start, out) == 0) return 0;
  }
  return NT_EFTP_BADREPLY;
}

/* --- PWD / MKD -------------------------------------------------------------------- */

int nt_ftp_parse_pathname(const char *text, size_t len, char *out,
                          size_t size) {
  const char *q = memchr(text, '"', len);
  if (!q || !size) return NT_EFTP_BADREPLY;
  size_t i = (size_t)(q - text) + 1, o = 0;
  while (i < len) {
    char c = text[i];
    if (c == '"') {
      if (i + 1 < len && text[i + 1] == '"') { /* "" is one quote */
        i++;
      } else {
        out[o] = 0;
        return 0;
      }
    }
    if (c == '\n' || c == '\r' || c == 0) break;
    if (o + 1 >= size) return NT_ETOOBIG;
    out[o++] = c;
    i++;
  }
  out[0] = 0;
  return NT_EFTP_BADREPLY;
}

/* --- MLSD --------------------------------------------------------------------------- */

static void fact(nt_ftp_entry_t *e, const char *n, size_t nl, const char *v,
                 size_t vl) {
  if (ieq(n, nl, "type")) {
    if (ieq(v, vl, "file"))
      e->type = NT_FTP_ENTRY_FILE;
    else if (ieq(v, vl, "dir"))
      e->type = NT_FTP_ENTRY_DIR;
    else if (ieq(v, vl, "cdir"))
      e->type = NT_FTP_ENTRY_CDIR;
    else if (ieq(v, vl, "pdir"))
      e->type = NT_FTP_ENTRY_PDIR;
    else if ((vl >= 13 && ieq(v, 13, "OS.unix=slink")) ||
             (vl >= 15 && ieq(v, 15, "OS.unix=symlink")))
      e->type = NT_FTP_ENTRY_LINK;
    else
      e->type = NT_FTP_ENTRY_OTHER;
  } else if (ieq(n, nl, "size") || ieq(n, nl, "sizd")) {
    uint64_t s;
    if (nt_ftp_parse_size(v, vl, &s) == 0) e->size = s;
  } else if (ieq(n, nl, "modify")) {
    e->mtime = nt_ftp_parse_time(v, vl);
  } else if (ieq(n, nl, "UNIX.mode")) {
    int m = 0;
    size_t i = 0;
    if (!vl || vl > 6) return;
    for (; i < vl && v[i] >= '0' && v[i] <= '7'; i++) m = m * 8 + (v[i] - '0');
    if (i == vl) e->unix_mode = m;
  }
}

static int ftp_parse_mlsd_full(const char *line, size_t len,
                               nt_ftp_entry_t *e) {
  e->name = NULL;
  e->name_len = 0;
  e->type = NT_FTP_ENTRY_UNKNOWN;
  e->size = UINT64_MAX;
  e->mtime = -1;
  e->unix_mode = -1;
  const char *sp = memchr(line, ' ', len);
  if (!sp) return NT_EFTP_BADREPLY;
  size_t flen = (size_t)(sp - line);
  size_t nlen = len - flen - 1;
  if (!nlen) return NT_EFTP_BADREPLY;
  /* facts: "name=value;" each (a missing last ';' is forgiven) */
  size_t i = 0;
  while (i < flen) {
    const char *semi = memchr(line + i, ';', flen - i);
    size_t end = semi ? (size_t)(semi - line) : flen;
    const char *eq = memchr(line + i, '=', end - i);
    if (!eq || eq == line + i) return NT_EFTP_BADREPLY;
    size_t nl = (size_t)(eq - (line + i));
    fact(e, line + i, nl, eq + 1, end - (size_t)(eq + 1 - line));
    i = end + 1;
  }
  e->name = sp + 1;
  e->name_len = nlen;
  return 0;
}

int nt_ftp_parse_mlsd_sized(size_t out_size, const char *line, size_t len,
                            nt_ftp_entry_t *e) {
  /* the caller's struct may be an older, smaller one (docs/ABI.md) */
  nt_ftp_entry_t full;
  memset(&full, 0, sizeof full);
  int rc = ftp_parse_mlsd_full(line, len, e ? &full : NULL);
  if (e) memcpy(e, &full, out_size < sizeof full ? out_size : sizeof full);
  return rc;
}

/* --- FEAT ------------------------------------------------------------------------- */

static int starts_word(const char *p, size_t n, const char *w) {
  size_t wl = strlen(w);
  if (n < wl) return 0;
  for (size_t i = 0; i < wl; i++)
    if (lower(p[i]) != lower(w[i])) return 0;
  return n == wl || p[wl] == ' ';
}

unsigned nt_ftp_parse_feat(const char *text, size_t len) {
  unsigned f = 0;
  size_t i = 0;
  while (i < len) {
    const char *nl = memchr(text + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - text) : len;
    const char *p = text + i;
    size_t n = end - i;
    while (n && *p == ' ') {
      p++;
      n--;
    }
    while (n && p[n - 1] == ' ') n--;
    if (starts_word(p, n, "MLST")) f |= NT_FTP_FEAT_MLST;
    else if (starts_word(p, n, "SIZE")) f |= NT_FTP_FEAT_SIZE;
    else if (starts_word(p, n, "MDTM")) f |= NT_FTP_FEAT_MDTM;
    else if (starts_word(p, n, "REST")) {
      if (n >= 11 && ieq(p + 5, 6, "STREAM")) f |= NT_FTP_FEAT_REST;
    } else if (starts_word(p, n, "EPSV")) f |= NT_FTP_FEAT_EPSV;
    else if (starts_word(p, n, "EPRT")) f |= NT_FTP_FEAT_EPRT;
    else if (starts_word(p, n, "UTF8")) f |= NT_FTP_FEAT_UTF8;
    else if (starts_word(p, n, "TVFS")) f |= NT_FTP_FEAT_TVFS;
    else if (starts_word(p, n, "AUTH")) {
      /* "AUTH TLS", "AUTH TLS;TLS-C;SSL" */
      for (size_t k = 4; k + 3 <= n; k++)
        if (ieq(p + k, 3, "TLS")) {
          f |= NT_FTP_FEAT_AUTH_TLS;
          break;
        }
    }
    i = end + 1;
  }
  return f;
}
