/* NZB parsing: libexpat does the XML (the only file that calls it,
 * through nzb-expat.h: loaded for the parse only); this is the glue that turns its events into nt_nzb_t: <file>
 * with its <groups>/<group> and <segments>/<segment bytes number>, and
 * <head>/<meta type="title|password">. Element names are taken without a
 * namespace prefix. Limits: 64 MiB of XML, 1,000,000 segments, 4 KiB of
 * text per element. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nettool/nzb.h"
#include "nzb-expat.h"
#include "reactor-int.h"

#define MAX_XML (64u << 20)
#define MAX_SEGMENTS 1000000u
#define MAX_TEXT 4096u

/* Where the parser is: the element whose text is being collected. */
enum { T_NONE, T_GROUP, T_SEGMENT, T_META };

typedef struct {
  nt__expat_t x; /* expat's functions, for this parse */
  XML_Parser xp;
  nt_nzb_t *nzb;
  nt_nzb_file_t *file; /* inside <file> */
  int depth_file, text_kind, err;
  char text[MAX_TEXT + 1];
  size_t text_len;
  int text_over;
  uint64_t seg_bytes;
  long seg_number;
  char meta_type[32];
  size_t cap_files, cap_segs, cap_groups, total_segs;
  char msg[160];
} ctx_t;

static const char *local_name(const char *n) {
  const char *c = strrchr(n, ':'); /* "ns:file" or expat's "uri file" */
  return c ? c + 1 : n;
}

static const char *attr(const char **a, const char *name) {
  for (; a && a[0]; a += 2)
    if (!strcmp(local_name(a[0]), name)) return a[1];
  return NULL;
}

static void fail(ctx_t *c, int err, const char *what) {
  if (c->err) return;
  c->err = err;
  snprintf(c->msg, sizeof c->msg, "%s (line %lu)", what,
           (unsigned long)c->x.GetCurrentLineNumber(c->xp));
  c->x.StopParser(c->xp, XML_FALSE);
}

static char *dup_or_empty(const char *s) { return nt__strdup(s ? s : ""); }

static void on_start(void *ud, const char *name, const char **atts) {
  ctx_t *c = ud;
  const char *n = local_name(name);
  c->text_len = 0;
  c->text_over = 0;
  c->text_kind = T_NONE;
  if (!strcmp(n, "file")) {
    if (c->file) return fail(c, NT_ENZB_PARSE, "<file> inside <file>");
    if (c->nzb->nfiles == c->cap_files) {
      size_t nc = c->cap_files ? c->cap_files * 2 : 8;
      void *p = nt__realloc(c->nzb->files, nc * sizeof *c->nzb->files);
      if (!p) return fail(c, NT_ENOMEM, "out of memory");
      c->nzb->files = p;
      c->cap_files = nc;
    }
    c->file = &c->nzb->files[c->nzb->nfiles++];
    memset(c->file, 0, sizeof *c->file);
    c->cap_segs = c->cap_groups = 0;
    c->file->subject = dup_or_empty(attr(atts, "subject"));
    c->file->poster = dup_or_empty(attr(atts, "poster"));
    const char *d = attr(atts, "date");
    c->file->date = d ? (time_t)strtoll(d, NULL, 10) : 0;
    if (!c->file->subject || !c->file->poster) return fail(c, NT_ENOMEM, "out of memory");
  } else if (!strcmp(n, "segment")) {
    if (!c->file) return fail(c, NT_ENZB_PARSE, "<segment> outside <file>");
    const char *b = attr(atts, "bytes"), *num = attr(atts, "number");
    char *end;
    if (!num) return fail(c, NT_ENZB_PARSE, "<segment> without number=");
    errno = 0;
    long v = strtol(num, &end, 10);
    if (errno || *end || end == num || v < 1 || v > 10000000)
      return fail(c, NT_ENZB_PARSE, "<segment> with a bad number=");
    c->seg_number = v;
    c->seg_bytes = b ? strtoull(b, NULL, 10) : 0;
    c->text_kind = T_SEGMENT;
  } else if (!strcmp(n, "group")) {
    if (c->file) c->text_kind = T_GROUP;
  } else if (!strcmp(n, "meta")) {
    const char *t = attr(atts, "type");
    snprintf(c->meta_type, sizeof c->meta_type, "%s", t ? t : "");
    c->text_kind = T_META;
  }
}

static void on_text(void *ud, const char *s, int len) {
  ctx_t *c = ud;
  if (c->text_kind == T_NONE || len <= 0) return;
  if (c->text_len + (size_t)len > MAX_TEXT) {
    c->text_over = 1;
    return;
  }
  memcpy(c->text + c->text_len, s, (size_t)len);
  c->text_len += (size_t)len;
}

static char *trimmed(ctx_t *c) {
  char *p = c->text;
  size_t n = c->text_len;
  while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++, n--;
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n')) n--;
  p[n] = 0;
  return p;
}

static void add_segment(ctx_t *c) {
  nt_nzb_file_t *f = c->file;
  if (c->text_over) return fail(c, NT_ENZB_PARSE, "a Message-ID over 4 KiB");
  char *id = trimmed(c);
  if (++c->total_segs > MAX_SEGMENTS) return fail(c, NT_ETOOBIG, "over 1,000,000 segments");
  char buf[MAX_TEXT + 3];
  snprintf(buf, sizeof buf, id[0] == '<' ? "%s" : "<%s>", id);
  if (!nt_nntp_valid_message_id(buf))
    return fail(c, NT_ENZB_PARSE, "a segment whose Message-ID is not valid");
  if (f->nsegments == c->cap_segs) {
    size_t nc = c->cap_segs ? c->cap_segs * 2 : 16;
    void *p = nt__realloc(f->segments, nc * sizeof *f->segments);
    if (!p) return fail(c, NT_ENOMEM, "out of memory");
    f->segments = p;
    c->cap_segs = nc;
  }
  nt_nzb_segment_t *s = &f->segments[f->nsegments];
  s->bytes = c->seg_bytes;
  s->number = (int)c->seg_number;
  s->message_id = nt__strdup(buf);
  if (!s->message_id) return fail(c, NT_ENOMEM, "out of memory");
  f->nsegments++;
}

static int by_number(const void *a, const void *b) {
  const nt_nzb_segment_t *x = a, *y = b;
  return (x->number > y->number) - (x->number < y->number);
}

static void end_file(ctx_t *c) {
  nt_nzb_file_t *f = c->file;
  c->file = NULL;
  if (!f->nsegments) return fail(c, NT_ENZB_PARSE, "a <file> without segments");
  qsort(f->segments, f->nsegments, sizeof *f->segments, by_number);
  size_t w = 0; /* drop repeated numbers: the first one stays */
  for (size_t i = 0; i < f->nsegments; i++) {
    if (w && f->segments[w - 1].number == f->segments[i].number) {
      nt__free(f->segments[i].message_id);
      continue;
    }
    f->segments[w++] = f->segments[i];
  }
  f->nsegments = w;
  f->bytes = 0;
  for (size_t i = 0; i < w; i++) f->bytes += f->segments[i].bytes;
  char name[256], fb[32];
  snprintf(fb, sizeof fb, "file-%zu", c->nzb->nfiles);
  nt_nzb_safe_name(f->subject, fb, name, sizeof name);
  f->name = nt__strdup(name);
  if (!f->name) fail(c, NT_ENOMEM, "out of memory");
}

static void on_end(void *ud, const char *name) {
  ctx_t *c = ud;
  const char *n = local_name(name);
  int kind = c->text_kind;
  c->text_kind = T_NONE;
  if (!strcmp(n, "segment") && kind == T_SEGMENT) {
    add_segment(c);
  } else if (!strcmp(n, "group") && kind == T_GROUP && c->file) {
    nt_nzb_file_t *f = c->file;
    char *g = trimmed(c);
    if (!*g || c->text_over) return;
    if (f->ngroups == c->cap_groups) {
      size_t nc = c->cap_groups ? c->cap_groups * 2 : 4;
      void *p = nt__realloc(f->groups, nc * sizeof *f->groups);
      if (!p) return fail(c, NT_ENOMEM, "out of memory");
      f->groups = p;
      c->cap_groups = nc;
    }
    if (!(f->groups[f->ngroups] = nt__strdup(g))) return fail(c, NT_ENOMEM, "out of memory");
    f->ngroups++;
  } else if (!strcmp(n, "meta") && kind == T_META) {
    char **slot = !strcmp(c->meta_type, "title")      ? &c->nzb->title
                  : !strcmp(c->meta_type, "password") ? &c->nzb->password
                                                      : NULL;
    if (slot && !c->text_over) {
      char *v = nt__strdup(trimmed(c));
      if (!v) return fail(c, NT_ENOMEM, "out of memory");
      nt__free(*slot);
      *slot = v;
    }
  } else if (!strcmp(n, "file") && c->file) {
    end_file(c);
  }
}

void nt_nzb_free(nt_nzb_t *n) {
  if (!n) return;
  for (size_t i = 0; i < n->nfiles; i++) {
    nt_nzb_file_t *f = &n->files[i];
    nt__free(f->subject);
    nt__free(f->poster);
    nt__free(f->name);
    for (size_t j = 0; j < f->ngroups; j++) nt__free(f->groups[j]);
    nt__free(f->groups);
    for (size_t j = 0; j < f->nsegments; j++) nt__free(f->segments[j].message_id);
    nt__free(f->segments);
  }
  nt__free(n->files);
  nt__free(n->title);
  nt__free(n->password);
  nt__free(n);
}

/* A parse: begun (NULL: *rc says why, err too when expat cannot be
 * loaded), fed in pieces, ended. nt_nzb_load feeds the file a piece at a
 * time (never the whole file in memory: an NZB of a 500 MiB post is ~75
 * KiB, inside nntp-get's peak memory). */
static ctx_t *parse_begin(int *rc, char *err, size_t errlen) {
  ctx_t *c = nt__calloc(1, sizeof *c);
  *rc = NT_ENOMEM;
  if (!c) return NULL;
  if ((*rc = nt__expat_open(&c->x, err, errlen)) != 0) {
    nt__free(c);
    return NULL;
  }
  c->nzb = nt__calloc(1, sizeof *c->nzb);
  c->xp = c->x.ParserCreate(NULL);
  if (!c->nzb || !c->xp) {
    if (c->xp) c->x.ParserFree(c->xp);
    nt__expat_close(&c->x);
    nt__free(c->nzb);
    nt__free(c);
    *rc = NT_ENOMEM;
    return NULL;
  }
  c->x.SetUserData(c->xp, c);
  c->x.SetElementHandler(c->xp, on_start, on_end);
  c->x.SetCharacterDataHandler(c->xp, on_text);
  /* no external entities or DTDs are ever loaded (expat does not unless a
   * handler asks); expat 2.4+ also limits entity expansion */
  return c;
}

static void parse_feed(ctx_t *c, const char *xml, size_t len, int final) {
  if (c->err) return;
  if (c->x.Parse(c->xp, xml, (int)len, final ? XML_TRUE : XML_FALSE) == XML_STATUS_ERROR &&
      !c->err) {
    snprintf(c->msg, sizeof c->msg, "%s (line %lu)",
             c->x.ErrorString(c->x.GetErrorCode(c->xp)),
             (unsigned long)c->x.GetCurrentLineNumber(c->xp));
    c->err = NT_ENZB_PARSE;
  }
}

/* Ends the parse (fed with final set, or failed): frees c. */
static int parse_end(ctx_t *c, nt_nzb_t **out, char *err, size_t errlen) {
  int rc;
  if (!c->err && !c->nzb->nfiles) {
    snprintf(c->msg, sizeof c->msg, "no <file> elements: not an NZB");
    c->err = NT_ENZB_PARSE;
  }
  if (!c->err && (!c->nzb->title && !(c->nzb->title = nt__strdup(""))))
    c->err = NT_ENOMEM;
  if (!c->err && (!c->nzb->password && !(c->nzb->password = nt__strdup(""))))
    c->err = NT_ENOMEM;
  rc = c->err;
  if (rc) {
    /* a half-built <file> is counted in nfiles: freed with the rest */
    if (err) snprintf(err, errlen, "%s", c->msg[0] ? c->msg : nt_strerror(rc));
    nt_nzb_free(c->nzb);
  } else {
    *out = c->nzb;
  }
  c->x.ParserFree(c->xp);
  nt__expat_close(&c->x); /* its pages leave: the download comes next */
  nt__free(c);
  return rc;
}

int nt_nzb_parse(const char *xml, size_t len, nt_nzb_t **out, char *err,
                 size_t errlen) {
  *out = NULL;
  if (err && errlen) err[0] = 0;
  if (len > MAX_XML) {
    if (err) snprintf(err, errlen, "over 64 MiB");
    return NT_ETOOBIG;
  }
  int rc;
  ctx_t *c = parse_begin(&rc, err, errlen);
  if (!c) return rc;
  parse_feed(c, xml, len, 1);
  return parse_end(c, out, err, errlen);
}

int nt_nzb_load(const char *path, nt_nzb_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (err && errlen) err[0] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    if (err) snprintf(err, errlen, "not a regular file");
    return NT_EINVAL;
  }
  if ((uint64_t)st.st_size > MAX_XML) {
    close(fd);
    if (err) snprintf(err, errlen, "over 64 MiB");
    return NT_ETOOBIG;
  }
  /* read as nt_nzb_parse took it before: the bytes there were at fstat
   * (a read error ends it early, as a short file), in pieces of 8 KiB */
  int rc;
  ctx_t *c = parse_begin(&rc, err, errlen);
  if (!c) {
    close(fd);
    return rc;
  }
  size_t n = (size_t)st.st_size, got = 0;
  char buf[8192];
  for (;;) {
    size_t want = n - got < sizeof buf ? n - got : sizeof buf;
    ssize_t r = want ? read(fd, buf, want) : 0;
    if (r < 0 && errno == EINTR) continue;
    int last = r <= 0 || got + (size_t)r == n;
    parse_feed(c, buf, r > 0 ? (size_t)r : 0, last);
    if (last || c->err) break;
    got += (size_t)r;
  }
  close(fd);
  return parse_end(c, out, err, errlen);
}

char *nt_nzb_safe_name(const char *subject, const char *fallback, char *out,
                       size_t cap) {
  const char *s = subject ? subject : "";
  size_t n = strlen(s);
  const char *q1 = strchr(s, '"');
  const char *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
  if (q1 && q2 && q2 > q1 + 1) {
    s = q1 + 1;
    n = (size_t)(q2 - s);
  }
  /* directories stripped (either slash) */
  for (size_t i = n; i > 0; i--)
    if (s[i - 1] == '/' || s[i - 1] == '\\') {
      n -= i;
      s += i;
      break;
    }
  while (n && (*s == '.' || *s == '-' || *s == ' ')) s++, n--;
  while (n && s[n - 1] == ' ') n--;
  size_t lim = cap - 1 < 200 ? cap - 1 : 200, w = 0;
  for (size_t i = 0; i < n && w < lim; i++) {
    unsigned char ch = (unsigned char)s[i];
    out[w++] = ch < 0x20 || ch == 0x7f || ch == '/' ? '_' : (char)ch;
  }
  out[w] = 0;
  if (!w) snprintf(out, cap, "%s", fallback && *fallback ? fallback : "file");
  return out;
}
