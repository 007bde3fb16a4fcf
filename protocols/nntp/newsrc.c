/* .newsrc read marks (nettool/newsrc.h). The file is a list of lines; a
 * group line keeps its raw text until the group changes, so a file
 * written by tin or slrn comes back byte for byte except where we marked
 * something. Ranges are kept sorted and merged: marking is a binary
 * search and at most one merge with the neighbours. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nettool/newsrc.h"
#include "nntp-int.h"
#include "reactor-int.h"

#define MAX_FILE ((size_t)64 << 20)
#define MAX_NUM ((uint64_t)1 << 63)

typedef struct {
  uint64_t lo, hi;
} range_t;

typedef struct {
  char *raw;   /* the line as read (no newline); NULL once changed */
  char *group; /* NULL: not a group line (options, comments, unknown) */
  int sub;
  range_t *r;
  size_t nr, cap;
} line_t;

struct nt_newsrc_s {
  line_t *lines;
  size_t n, cap;
  int final_newline; /* the text ended with a newline (or was empty) */
};

static line_t *find(const nt_newsrc_t *n, const char *group) {
  for (size_t i = 0; i < n->n; i++)
    if (n->lines[i].group && !strcmp(n->lines[i].group, group)) return &n->lines[i];
  return NULL;
}

/* Inserts lo..hi, merging with neighbours that touch or overlap. */
static int add_range(line_t *l, uint64_t lo, uint64_t hi) {
  size_t a = 0, b = l->nr;
  while (a < b) { /* the first range that ends at or after lo - 1 */
    size_t m = (a + b) / 2;
    if (l->r[m].hi + 1 < lo)
      a = m + 1;
    else
      b = m;
  }
  size_t j = a;
  while (j < l->nr && l->r[j].lo <= hi + 1) j++; /* hi <= 2^63: no overflow */
  if (j > a) { /* merge r[a..j) into one */
    if (l->r[a].lo < lo) lo = l->r[a].lo;
    if (l->r[j - 1].hi > hi) hi = l->r[j - 1].hi;
    l->r[a].lo = lo;
    l->r[a].hi = hi;
    memmove(&l->r[a + 1], &l->r[j], (l->nr - j) * sizeof *l->r);
    l->nr -= j - a - 1;
    return 0;
  }
  if (l->nr == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4;
    range_t *r = nt__realloc(l->r, cap * sizeof *r);
    if (!r) return NT_ENOMEM;
    l->r = r;
    l->cap = cap;
  }
  memmove(&l->r[a + 1], &l->r[a], (l->nr - a) * sizeof *l->r);
  l->r[a].lo = lo;
  l->r[a].hi = hi;
  l->nr++;
  return 0;
}

static int parse_num(const char **p, const char *end, uint64_t *out) {
  uint64_t v = 0;
  const char *s = *p;
  if (s >= end || *s < '0' || *s > '9') return -1;
  while (s < end && *s >= '0' && *s <= '9') {
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > MAX_NUM) return -1;
    s++;
  }
  *p = s;
  *out = v;
  return 0;
}

/* "name: 1-5,7" / "name! 1-5" / "name:" -> l; -1: not a group line. */
static int parse_group(line_t *l, const char *s, size_t len) {
  const char *end = s + len, *p = s;
  while (p < end && *p != ':' && *p != '!' && *p != ' ' && *p != '\t') p++;
  if (p == s || p == end || (*p != ':' && *p != '!')) return -1;
  size_t gl = (size_t)(p - s);
  l->sub = *p == ':';
  p++;
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  while (p < end) {
    uint64_t lo, hi;
    if (parse_num(&p, end, &lo)) return -1;
    hi = lo;
    if (p < end && *p == '-') {
      p++;
      if (parse_num(&p, end, &hi) || hi < lo) return -1;
    }
    if (add_range(l, lo, hi)) return NT_ENOMEM;
    if (p < end && *p == ',') {
      p++;
      continue;
    }
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    if (p != end) return -1;
  }
  l->group = nt__malloc(gl + 1);
  if (!l->group) return NT_ENOMEM;
  memcpy(l->group, s, gl);
  l->group[gl] = 0;
  return 0;
}

static void line_clear(line_t *l) {
  nt__free(l->raw);
  nt__free(l->group);
  nt__free(l->r);
  memset(l, 0, sizeof *l);
}

static line_t *new_line(nt_newsrc_t *n) {
  if (n->n == n->cap) {
    size_t cap = n->cap ? n->cap * 2 : 16;
    line_t *l = nt__realloc(n->lines, cap * sizeof *l);
    if (!l) return NULL;
    n->lines = l;
    n->cap = cap;
  }
  line_t *l = &n->lines[n->n++];
  memset(l, 0, sizeof *l);
  return l;
}

void nt_newsrc_free(nt_newsrc_t *n) {
  if (!n) return;
  for (size_t i = 0; i < n->n; i++) line_clear(&n->lines[i]);
  nt__free(n->lines);
  nt__free(n);
}

int nt_newsrc_parse(const char *text, size_t len, nt_newsrc_t **out) {
  if (len > MAX_FILE) return NT_ETOOBIG;
  nt_newsrc_t *n = nt__calloc(1, sizeof *n);
  if (!n) return NT_ENOMEM;
  n->final_newline = len == 0 || text[len - 1] == '\n';
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    line_t *l = new_line(n);
    if (!l) goto oom;
    l->raw = nt__malloc((size_t)(e - p) + 1);
    if (!l->raw) goto oom;
    memcpy(l->raw, p, (size_t)(e - p));
    l->raw[e - p] = 0;
    /* options lines and their continuations, comments: kept as they are */
    int plain = (size_t)(e - p) >= 7 && !memcmp(p, "options", 7) &&
                (e - p == 7 || p[7] == ' ' || p[7] == '\t');
    if (!plain && p < e && *p != ' ' && *p != '\t' && *p != '#') {
      int rc = parse_group(l, p, (size_t)(e - p));
      if (rc == NT_ENOMEM) goto oom;
      if (rc == 0 && find(n, l->group) != l) rc = -1; /* a second line */
      if (rc) { /* kept as it is, not a group we know */
        nt__free(l->r);
        nt__free(l->group);
        l->r = NULL;
        l->group = NULL;
        l->nr = l->cap = 0;
      }
    }
    p = nl ? nl + 1 : end;
  }
  *out = n;
  return 0;
oom:
  nt_newsrc_free(n);
  return NT_ENOMEM;
}

int nt_newsrc_load(const char *path, nt_newsrc_t **out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return nt_newsrc_parse("", 0, out);
    return -errno;
  }
  struct stat st;
  if (fstat(fd, &st) || st.st_size < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  if ((uint64_t)st.st_size > MAX_FILE) {
    close(fd);
    return NT_ETOOBIG;
  }
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *buf = nt__malloc(cap);
  if (!buf) {
    close(fd);
    return NT_ENOMEM;
  }
  for (;;) {
    ssize_t k = read(fd, buf + len, cap - len);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      int e = -errno;
      nt__free(buf);
      close(fd);
      return e;
    }
    if (k == 0) break;
    len += (size_t)k;
    if (len == cap) break; /* grew meanwhile: what we sized for */
  }
  close(fd);
  int rc = nt_newsrc_parse(buf, len, out);
  nt__free(buf);
  return rc;
}

/* --- writing ---------------------------------------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} buf_t;

static void put(buf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = nt__realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void put_ranges(buf_t *b, const line_t *l) {
  char t[48];
  for (size_t i = 0; i < l->nr; i++) {
    int k = l->r[i].lo == l->r[i].hi
                ? snprintf(t, sizeof t, "%s%llu", i ? "," : "", (unsigned long long)l->r[i].lo)
                : snprintf(t, sizeof t, "%s%llu-%llu", i ? "," : "",
                           (unsigned long long)l->r[i].lo, (unsigned long long)l->r[i].hi);
    put(b, t, (size_t)k);
  }
}

int nt_newsrc_format(const nt_newsrc_t *n, char **out, size_t *len) {
  buf_t b = {0};
  put(&b, "", 0);
  for (size_t i = 0; i < n->n; i++) {
    const line_t *l = &n->lines[i];
    if (l->raw) {
      put(&b, l->raw, strlen(l->raw));
    } else {
      put(&b, l->group, strlen(l->group));
      put(&b, l->sub ? ":" : "!", 1);
      if (l->nr) put(&b, " ", 1);
      put_ranges(&b, l);
    }
    if (i + 1 < n->n || n->final_newline) put(&b, "\n", 1);
  }
  if (b.oom) {
    nt__free(b.p);
    return NT_ENOMEM;
  }
  *out = b.p;
  if (len) *len = b.len;
  return 0;
}

int nt_newsrc_save(const nt_newsrc_t *n, const char *path) {
  char *text;
  size_t len;
  int rc = nt_newsrc_format(n, &text, &len);
  if (rc) return rc;
  size_t pl = strlen(path);
  char *tmp = nt__malloc(pl + 5);
  if (!tmp) {
    nt__free(text);
    return NT_ENOMEM;
  }
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".tmp", 5);
  struct stat st;
  mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0600;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  rc = fd < 0 ? -errno : 0;
  for (size_t off = 0; !rc && off < len;) {
    ssize_t k = write(fd, text + off, len - off);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) rc = -errno;
    else off += (size_t)k;
  }
  if (!rc && fsync(fd)) rc = -errno;
  if (fd >= 0 && close(fd) && !rc) rc = -errno;
  if (!rc && rename(tmp, path)) rc = -errno;
  if (rc && fd >= 0) unlink(tmp);
  nt__free(tmp);
  nt__free(text);
  return rc;
}

/* --- queries and marks ------------------------------------------------------------------ */

int nt_newsrc_subscribed(const nt_newsrc_t *n, const char *group) {
  const line_t *l = find(n, group);
  return l ? l->sub : -1;
}

static line_t *get(nt_newsrc_t *n, const char *group, int *err) {
  line_t *l = find(n, group);
  if (l) return l;
  if (!nt_nntp_valid_group(group)) {
    *err = NT_EINVAL;
    return NULL;
  }
  l = new_line(n);
  if (!l || !(l->group = nt__strdup(group))) {
    if (l) n->n--;
    *err = NT_ENOMEM;
    return NULL;
  }
  l->sub = 1;
  n->final_newline = 1;
  return l;
}

int nt_newsrc_add(nt_newsrc_t *n, const char *group) {
  int err = 0;
  return get(n, group, &err) ? 0 : err;
}

int nt_newsrc_is_read(const nt_newsrc_t *n, const char *group, uint64_t num) {
  const line_t *l = find(n, group);
  if (!l) return 0;
  size_t a = 0, b = l->nr;
  while (a < b) {
    size_t m = (a + b) / 2;
    if (l->r[m].hi < num)
      a = m + 1;
    else
      b = m;
  }
  return a < l->nr && l->r[a].lo <= num;
}

int nt_newsrc_mark_read(nt_newsrc_t *n, const char *group, uint64_t lo,
                        uint64_t hi) {
  if (!lo || lo > hi || hi > MAX_NUM) return NT_EINVAL;
  int err = 0;
  line_t *l = get(n, group, &err);
  if (!l) return err;
  int rc = add_range(l, lo, hi);
  if (rc) return rc;
  nt__free(l->raw); /* written anew */
  l->raw = NULL;
  return 0;
}

uint64_t nt_newsrc_unread(const nt_newsrc_t *n, const char *group,
                          uint64_t low, uint64_t high,
                          void (*cb)(uint64_t lo, uint64_t hi, void *arg),
                          void *arg) {
  if (low == 0) low = 1;
  if (low > high) return 0;
  const line_t *l = find(n, group);
  uint64_t count = 0, at = low;
  for (size_t i = 0; l && i < l->nr && at <= high; i++) {
    if (l->r[i].hi < at) continue;
    if (l->r[i].lo > at) {
      uint64_t e = l->r[i].lo - 1 < high ? l->r[i].lo - 1 : high;
      if (cb) cb(at, e, arg);
      count += e - at + 1;
    }
    if (l->r[i].hi >= high) return count;
    at = l->r[i].hi + 1;
  }
  if (at <= high) {
    if (cb) cb(at, high, arg);
    count += high - at + 1;
  }
  return count;
}

size_t nt_newsrc_ranges(const nt_newsrc_t *n, const char *group, char *out,
                        size_t size) {
  const line_t *l = find(n, group);
  buf_t b = {0};
  put(&b, "", 0);
  if (l) put_ranges(&b, l);
  size_t need = b.oom ? 0 : b.len;
  if (size) snprintf(out, size, "%s", b.p && !b.oom ? b.p : "");
  nt__free(b.p);
  return need;
}
