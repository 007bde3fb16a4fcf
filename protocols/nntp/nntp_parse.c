/* NNTP client: parsers of reply texts and response lines (GROUP, article
 * replies, overview, LIST ACTIVE, DATE, RFC 5322 dates, capabilities) and
 * argument checks. No I/O, no allocation: they are fuzzed as they are. */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nntp-int.h"

int nt__nntp_parse_u64(const char *s, size_t len, uint64_t *out) {
  if (!len || len > 19) return NT_EINVAL; /* 19 digits never overflow */
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return NT_EINVAL;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

nt_nntp_str_t nt__nntp_token(const char **p, const char *end) {
  const char *s = *p;
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  const char *e = s;
  while (e < end && *e != ' ' && *e != '\t') e++;
  *p = e;
  nt_nntp_str_t t = {s, (size_t)(e - s)};
  return t;
}

static int token_u64(const char **p, const char *end, uint64_t *out) {
  nt_nntp_str_t t = nt__nntp_token(p, end);
  return nt__nntp_parse_u64(t.p, t.n, out);
}

int nt_nntp_parse_group(const char *text, size_t len, uint64_t *count,
                        uint64_t *low, uint64_t *high, nt_nntp_str_t *group) {
  const char *p = text, *end = text + len;
  if (token_u64(&p, end, count) || token_u64(&p, end, low) ||
      token_u64(&p, end, high))
    return NT_ENNTP_BADREPLY;
  *group = nt__nntp_token(&p, end);
  return 0; /* LISTGROUP's 211 may omit the group; an empty name is fine */
}

int nt_nntp_parse_article_reply(const char *text, size_t len, uint64_t *number,
                                nt_nntp_str_t *message_id) {
  const char *p = text, *end = text + len;
  if (token_u64(&p, end, number)) return NT_ENNTP_BADREPLY;
  nt_nntp_str_t id = nt__nntp_token(&p, end);
  if (id.n && (id.p[0] != '<' || id.p[id.n - 1] != '>')) id.n = 0;
  *message_id = id;
  return 0;
}

/* Next tab-separated field of [*p, end); 0 when there is none. */
static int field(const char **p, const char *end, nt_nntp_str_t *f) {
  if (*p > end) return 0;
  const char *s = *p;
  const char *tab = memchr(s, '\t', (size_t)(end - s));
  const char *e = tab ? tab : end;
  f->p = s;
  f->n = (size_t)(e - s);
  *p = tab ? tab + 1 : end + 1;
  return 1;
}

static uint64_t lenient_u64(nt_nntp_str_t f) {
  uint64_t v = 0;
  while (f.n && (*f.p == ' ')) f.p++, f.n--;
  while (f.n && f.p[f.n - 1] == ' ') f.n--;
  if (nt__nntp_parse_u64(f.p, f.n, &v)) return 0;
  return v;
}

int nt_nntp_parse_overview(const char *line, size_t len, nt_nntp_overview_t *o) {
  const char *p = line, *end = line + len;
  nt_nntp_str_t num, bytes, lines;
  memset(o, 0, sizeof *o);
  if (!field(&p, end, &num) || !field(&p, end, &o->subject) ||
      !field(&p, end, &o->from) || !field(&p, end, &o->date) ||
      !field(&p, end, &o->message_id) || !field(&p, end, &o->references) ||
      !field(&p, end, &bytes) || !field(&p, end, &lines))
    return NT_ENNTP_BADREPLY;
  if (nt__nntp_parse_u64(num.p, num.n, &o->number)) return NT_ENNTP_BADREPLY;
  o->bytes = lenient_u64(bytes);
  o->lines = lenient_u64(lines);
  if (p <= end) {
    o->extra.p = p;
    o->extra.n = (size_t)(end - p);
  } else {
    o->extra.p = end;
  }
  return 0;
}

int nt_nntp_parse_active(const char *line, size_t len, nt_nntp_active_t *a) {
  const char *p = line, *end = line + len;
  memset(a, 0, sizeof *a);
  a->group = nt__nntp_token(&p, end);
  if (!a->group.n || token_u64(&p, end, &a->high) || token_u64(&p, end, &a->low))
    return NT_ENNTP_BADREPLY;
  nt_nntp_str_t st = nt__nntp_token(&p, end);
  if (!st.n) return NT_ENNTP_BADREPLY;
  a->status = st.p[0];
  if (a->status == '=') { /* an alias: "=target.group" */
    a->alias_of.p = st.p + 1;
    a->alias_of.n = st.n - 1;
  }
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (no timegm needed). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int make_time(int y, int mo, int d, int h, int mi, int s, long off,
                     time_t *out) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 ||
      y < 1000 || y > 9999)
    return NT_EINVAL;
  int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
              mi * 60 + s - off;
  *out = (time_t)t;
  return 0;
}

static int digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int nt_nntp_parse_date(const char *text, size_t len, time_t *out) {
  while (len && *text == ' ') text++, len--;
  if (len < 14) return NT_EINVAL;
  if (len > 14 && text[14] != ' ') return NT_EINVAL;
  int y = digits(text, 4), mo = digits(text + 4, 2), d = digits(text + 6, 2),
      h = digits(text + 8, 2), mi = digits(text + 10, 2), s = digits(text + 12, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return NT_EINVAL;
  return make_time(y, mo, d, h, mi, s, 0, out);
}

/* RFC 5322 3.3 with the obsolete forms: [day ","] d mon y hh:mm[:ss] zone */
int nt_nntp_parse_rfc5322_date(const char *s, size_t len, time_t *out) {
  static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
  const char *p = s, *end = s + len;
  nt_nntp_str_t t = nt__nntp_token(&p, end);
  if (t.n && (t.p[0] < '0' || t.p[0] > '9')) { /* day name */
    t = nt__nntp_token(&p, end);
    if (t.n == 1 && t.p[0] == ',') t = nt__nntp_token(&p, end);
  }
  if (!t.n || t.n > 2) return NT_EINVAL;
  int d = digits(t.p, (int)t.n);
  t = nt__nntp_token(&p, end);
  if (t.n < 3) return NT_EINVAL;
  int mo = 0;
  for (int i = 0; i < 12; i++)
    if (!strncasecmp(t.p, months + 3 * i, 3)) mo = i + 1;
  t = nt__nntp_token(&p, end);
  if (t.n != 2 && t.n != 4) return NT_EINVAL;
  int y = digits(t.p, (int)t.n);
  if (y < 0) return NT_EINVAL;
  if (t.n == 2) y += y < 50 ? 2000 : 1900;
  t = nt__nntp_token(&p, end);
  if (t.n != 5 && t.n != 8) return NT_EINVAL;
  int h = digits(t.p, 2), mi = digits(t.p + 3, 2), sec = 0;
  if (t.p[2] != ':' || h < 0 || mi < 0) return NT_EINVAL;
  if (t.n == 8 && (t.p[5] != ':' || (sec = digits(t.p + 6, 2)) < 0))
    return NT_EINVAL;
  long off = 0;
  t = nt__nntp_token(&p, end);
  if (t.n == 5 && (t.p[0] == '+' || t.p[0] == '-')) {
    int z = digits(t.p + 1, 4);
    if (z < 0) return NT_EINVAL;
    off = (z / 100) * 3600L + (z % 100) * 60L;
    if (t.p[0] == '-') off = -off;
  } else if (t.n) {
    static const struct { const char *n; int h; } zones[] = {
        {"EST", -5}, {"EDT", -4}, {"CST", -6}, {"CDT", -5},
        {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
      if (t.n == 3 && !strncasecmp(t.p, zones[i].n, 3)) off = zones[i].h * 3600L;
  }
  if (d < 0) return NT_EINVAL;
  return make_time(y, mo, d, h, mi, sec, off, out);
}

int nt_nntp_valid_message_id(const char *s) {
  if (!s) return 0;
  size_t n = strlen(s);
  if (n < 3 || n > 250 || s[0] != '<' || s[n - 1] != '>') return 0;
  for (size_t i = 1; i + 1 < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= ' ' || ch >= 0x7f || ch == '<' || ch == '>') return 0;
  }
  return 1;
}

int nt_nntp_valid_group(const char *s) {
  if (!s || !*s || strlen(s) > 400) return 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p <= ' ' || *p == 0x7f || *p == ',' || *p == '*' || *p == '?' ||
        *p == '[' || *p == '\\' || *p == '!')
      return 0;
  return 1;
}

int nt_nntp_valid_range(const char *s) {
  if (!s || !*s) return 0;
  const char *dash = strchr(s, '-');
  uint64_t a, b;
  if (!dash) return nt__nntp_parse_u64(s, strlen(s), &a) == 0;
  if (nt__nntp_parse_u64(s, (size_t)(dash - s), &a)) return 0;
  if (!dash[1]) return 1;
  return nt__nntp_parse_u64(dash + 1, strlen(dash + 1), &b) == 0;
}

/* One line of the CAPABILITIES list. */
void nt__nntp_caps_line(nt_nntp_t *c, const char *line, size_t len) {
  static const struct { const char *name; unsigned bit; } caps[] = {
      {"READER", NT__CAP_READER},     {"MODE-READER", NT__CAP_MODE_READER},
      {"OVER", NT__CAP_OVER},         {"HDR", NT__CAP_HDR},
      {"POST", NT__CAP_POST},         {"STARTTLS", NT__CAP_STARTTLS},
      {"AUTHINFO", NT__CAP_AUTHINFO}, {"LIST", NT__CAP_LIST},
      {"NEWNEWS", NT__CAP_NEWNEWS}};
  const char *p = line, *end = line + len;
  nt_nntp_str_t w = nt__nntp_token(&p, end);
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
    if (w.n == strlen(caps[i].name) && !strncasecmp(w.p, caps[i].name, w.n))
      c->caps |= caps[i].bit;
  if (w.n == 7 && !strncasecmp(w.p, "VERSION", 7)) {
    nt_nntp_str_t v = nt__nntp_token(&p, end);
    if (v.n == 1 && v.p[0] == '2') c->caps |= NT__CAP_VERSION2;
  }
  if (w.n == 8 && !strncasecmp(w.p, "COMPRESS", 8)) { /* RFC 8054 */
    for (nt_nntp_str_t a = nt__nntp_token(&p, end); a.n; a = nt__nntp_token(&p, end))
      if (a.n == 7 && !strncasecmp(a.p, "DEFLATE", 7)) c->caps |= NT__CAP_COMPRESS;
  }
}

int nt_nntp_has_capability(const nt_nntp_t *c, const char *name) {
  static const struct { const char *name; unsigned bit; } caps[] = {
      {"READER", NT__CAP_READER},     {"MODE-READER", NT__CAP_MODE_READER},
      {"OVER", NT__CAP_OVER},         {"HDR", NT__CAP_HDR},
      {"POST", NT__CAP_POST},         {"STARTTLS", NT__CAP_STARTTLS},
      {"AUTHINFO", NT__CAP_AUTHINFO}, {"LIST", NT__CAP_LIST},
      {"NEWNEWS", NT__CAP_NEWNEWS}, {"COMPRESS", NT__CAP_COMPRESS}};
  if (c->caps_known < 0) return -1;
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
    if (!strcasecmp(name, caps[i].name)) return (c->caps & caps[i].bit) != 0;
  return 0;
}

int nt__nntp_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p;
    if (c < 0x80) {
      p++;
      continue;
    }
    size_t k;
    unsigned min;
    if ((c & 0xe0) == 0xc0) k = 1, min = 0x80, c &= 0x1f;
    else if ((c & 0xf0) == 0xe0) k = 2, min = 0x800, c &= 0x0f;
    else if ((c & 0xf8) == 0xf0) k = 3, min = 0x10000, c &= 0x07;
    else return 0;
    if ((size_t)(end - p) <= k) return 0;
    for (size_t i = 1; i <= k; i++) {
      if ((p[i] & 0xc0) != 0x80) return 0;
      c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    p += k + 1;
  }
  return 1;
}
