/* nntp-read's bulk overview: chunks of OVER over the session's connection
 * (pipelined by the client) or, with --connections N > 1, a pool of N that
 * takes the session's connection over as its first (N in all); a server
 * that hangs up on pipelined commands gets the chunks not done again one
 * command at a time (the client does that itself, nntp.h); with --retry a
 * lost connection's chunks go again on a new one after the backoff. Rows are
 * collected per chunk (a chunk sent again starts over), then sorted,
 * threaded by References and printed. One connection by default: accounts
 * limited to one connection keep working. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_text.h"
#include "nettool/nntp.h"
#include "nettool/nntp_pool.h"
#include "nntp_read_over.h"
#include "progress.h"

#define CHUNK 1000       /* articles per OVER command */
#define MIN_CHUNK 100    /* with several connections: at least this */
#define MAX_DEPTH 16     /* indentation of threads stops there */

typedef struct {
  uint64_t number, bytes, lines;
  char *subject, *from, *date, *msgid, *refs;
  int depth;
  size_t parent, first_child, next_sibling; /* threads; SIZE_MAX: none */
} row_t;

typedef struct {
  row_t *rows;
  size_t n, cap;
  char range[64];
  uint64_t lo, hi;
  uint64_t bytes; /* overview lines received for it (the progress bar) */
  int done;
} chunk_t;

typedef struct {
  nntp_over_job_t *job;
  chunk_t *chunks;
  size_t nchunks, pending;
  nt_nntp_pool_t *pool;
  int failed;
  /* --retry: the connection was lost (the session's, or a retry's); the
   * chunks not done go again over a new pool of one after the backoff
   * (rows of done chunks are kept, a chunk cut short starts over: no row
   * twice). A server that refuses pipelining is the client's business
   * (nntp.h: it connects again by itself). */
  int redo;       /* chunks wait for the next try */
  int retry_pool; /* o->pool is a retry's (one try per pool) */
  int retry_status;
  nt_timer_t retry_timer;
  int retry_timer_on;
  /* the progress line (a terminal, not --json or -q): articles of the
   * ranges done, rows, bytes, rate; drawn at once, then every 250 ms */
  int bar, drawn;
  nt_timer_t bar_timer;
  uint64_t last_ms, last_bytes;
  double rate;
} over_t;

static char *dup_str(nt_nntp_str_t s) {
  char *p = malloc(s.n + 1);
  if (!p) return NULL;
  memcpy(p, s.p, s.n);
  p[s.n] = 0;
  return p;
}

static void row_free(row_t *r) {
  free(r->subject);
  free(r->from);
  free(r->date);
  free(r->msgid);
  free(r->refs);
}

static void chunk_reset(chunk_t *c) {
  for (size_t i = 0; i < c->n; i++) row_free(&c->rows[i]);
  c->n = 0;
  c->bytes = 0;
}

/* The bytes of the overview line o came from ("N\t...\r\n"): its fields
 * are slices of it, from the subject to the end; the number is in front. */
static uint64_t line_bytes(const nt_nntp_overview_t *ov) {
  uint64_t digits = 1;
  for (uint64_t n = ov->number; n >= 10; n /= 10) digits++;
  const char *end = ov->extra.p + ov->extra.n;
  return (uint64_t)(end - ov->subject.p) + digits + 1 + 2;
}

static void keep(over_t *o, chunk_t *c, const nt_nntp_overview_t *ov) {
  (void)o;
  c->bytes += line_bytes(ov);
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    row_t *r = realloc(c->rows, cap * sizeof *r);
    if (!r) return; /* the row is lost; the count says so */
    c->rows = r;
    c->cap = cap;
  }
  row_t *r = &c->rows[c->n];
  memset(r, 0, sizeof *r);
  r->number = ov->number;
  r->bytes = ov->bytes;
  r->lines = ov->lines;
  r->subject = dup_str(ov->subject);
  r->from = dup_str(ov->from);
  r->date = dup_str(ov->date);
  r->msgid = dup_str(ov->message_id);
  r->refs = dup_str(ov->references);
  if (!r->subject || !r->from || !r->date || !r->msgid || !r->refs) {
    row_free(r);
    return;
  }
  c->n++;
}

static over_t *current; /* the one job of the process */

/* --- output ------------------------------------------------------------------------------ */

/* "Name <addr>" -> Name; "addr (Name)" -> Name; else as it is. */
static void display_name(const char *from, char *out, size_t size) {
  const char *lt = strchr(from, '<'), *lp = strchr(from, '(');
  const char *s = from, *e = from + strlen(from);
  if (lt && lt > from) {
    e = lt;
  } else if (lp && strchr(lp, ')')) {
    s = lp + 1;
    e = strchr(lp, ')');
  }
  while (s < e && (*s == ' ' || *s == '"')) s++;
  while (e > s && (e[-1] == ' ' || e[-1] == '"')) e--;
  if (s == e) s = from, e = from + strlen(from);
  snprintf(out, size, "%.*s", (int)(e - s), s);
}

/* Terminal columns of one character (see cmd_nntp_read.c's history):
 * wcwidth() under a UTF-8 LC_CTYPE, else a table of the wide ranges. */
static int char_width(unsigned cp) {
  static int utf8_locale = -1;
  if (utf8_locale < 0)
    utf8_locale = setlocale(LC_CTYPE, "C.UTF-8") || setlocale(LC_CTYPE, "C.utf8") ||
                  setlocale(LC_CTYPE, "en_US.UTF-8");
  if (utf8_locale) {
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w;
  }
  if (cp >= 0x300 && cp <= 0x36f) return 0;
  if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
      (cp >= 0x20000 && cp <= 0x3fffd))
    return 2;
  return 1;
}

/* s cut to `cols` terminal columns, padded when pad. */
static void column(const char *s, size_t cols, int pad) {
  char clean[1024];
  cli_text_clean(clean, sizeof clean, s, strlen(s), 0);
  const unsigned char *p = (const unsigned char *)clean;
  size_t i = 0, used = 0;
  while (p[i]) {
    unsigned cp = p[i];
    size_t k = 1;
    if (cp >= 0xc0) {
      k = cp >= 0xf0 ? 4 : cp >= 0xe0 ? 3 : 2;
      cp &= k == 2 ? 0x1f : k == 3 ? 0x0f : 0x07;
      for (size_t j = 1; j < k && p[i + j]; j++) cp = (cp << 6) | (p[i + j] & 0x3f);
    }
    int w = char_width(cp);
    if (used + (size_t)w > cols) break;
    used += (size_t)w;
    i += k;
  }
  fwrite(clean, 1, i, stdout);
  if (pad)
    for (; used < cols; used++) putchar(' ');
}

static char *decode(const char *s) {
  char *out = NULL;
  if (nt_nntp_decode_header(s, strlen(s), NULL, &out, NULL)) return NULL;
  for (char *p = out; *p; p++)
    if (*p == '\t') *p = ' ';
  return out;
}

void nntp_over_table_head(void) {
  printf("  number  date              from                      subject\n");
}

static void print_row(const row_t *r) {
  char date[32] = "";
  time_t t;
  struct tm tm;
  if (nt_nntp_parse_rfc5322_date(r->date, strlen(r->date), &t) == 0 && gmtime_r(&t, &tm))
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
  else
    snprintf(date, sizeof date, "%.16s", r->date);
  for (char *p = date; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
  char *from = decode(r->from), *subject = decode(r->subject);
  char name[256];
  display_name(from ? from : "", name, sizeof name);
  printf("%8llu  %-16s  ", (unsigned long long)r->number, date);
  column(name, 24, 1);
  printf("  ");
  int d = r->depth < MAX_DEPTH ? r->depth : MAX_DEPTH;
  for (int i = 0; i < d; i++) fputs("  ", stdout);
  column(subject ? subject : "", 200, 0);
  putchar('\n');
  free(from);
  free(subject);
}

static void json_field(const char *name, const char *raw, int first) {
  char *v = decode(raw);
  printf("%s\"%s\":", first ? "" : ",", name);
  cli_json_string(stdout, v ? v : raw);
  free(v);
}

static void print_json_row(const row_t *r, int first) {
  printf("%s{\"number\":%llu", first ? "" : ",", (unsigned long long)r->number);
  json_field("subject", r->subject, 0);
  json_field("from", r->from, 0);
  printf(",\"date\":");
  cli_json_string(stdout, r->date);
  time_t t;
  if (nt_nntp_parse_rfc5322_date(r->date, strlen(r->date), &t) == 0)
    printf(",\"time\":%lld", (long long)t);
  printf(",\"message_id\":");
  cli_json_string(stdout, r->msgid);
  printf(",\"references\":");
  cli_json_string(stdout, r->refs);
  printf(",\"bytes\":%llu,\"lines\":%llu,\"depth\":%d}", (unsigned long long)r->bytes,
         (unsigned long long)r->lines, r->depth);
}

/* --- threads ------------------------------------------------------------------------------- */

typedef struct {
  const char *id;
  size_t row;
} idx_t;

static int idx_cmp(const void *a, const void *b) {
  return strcmp(((const idx_t *)a)->id, ((const idx_t *)b)->id);
}
static int row_cmp(const void *a, const void *b) {
  uint64_t x = ((const row_t *)a)->number, y = ((const row_t *)b)->number;
  return x < y ? -1 : x > y;
}

/* Parent: the last message-id in References that is among the rows
 * (older ancestors stand in for an expired parent, as tin and slrn do). */
static size_t find_parent(const row_t *rows, const idx_t *ix, size_t n, size_t self) {
  const char *refs = rows[self].refs;
  const char *end = refs + strlen(refs);
  while (end > refs) {
    const char *gt = end;
    while (gt > refs && gt[-1] != '>') gt--;
    if (gt == refs) break;
    const char *lt = gt - 1;
    while (lt > refs && *lt != '<') lt--;
    if (*lt != '<') break;
    char id[512];
    size_t len = (size_t)(gt - lt);
    if (len < sizeof id) {
      memcpy(id, lt, len);
      id[len] = 0;
      idx_t key = {id, 0};
      const idx_t *hit = bsearch(&key, ix, n, sizeof *ix, idx_cmp);
      if (hit && hit->row != self) return hit->row;
    }
    end = lt;
  }
  return SIZE_MAX;
}

/* Orders rows depth-first by thread (roots and siblings by number). */
static row_t *thread(row_t *rows, size_t n) {
  idx_t *ix = malloc((n ? n : 1) * sizeof *ix);
  row_t *out = malloc((n ? n : 1) * sizeof *out);
  size_t *stack = malloc((n ? n : 1) * sizeof *stack);
  if (!ix || !out || !stack) {
    free(ix), free(out), free(stack);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    ix[i].id = rows[i].msgid;
    ix[i].row = i;
    rows[i].parent = rows[i].first_child = rows[i].next_sibling = SIZE_MAX;
  }
  qsort(ix, n, sizeof *ix, idx_cmp);
  for (size_t i = 0; i < n; i++) {
    size_t p = find_parent(rows, ix, n, i);
    /* a cycle (A refers to B, B to A) would hang the walk: the later one
     * becomes a root */
    for (size_t a = p, k = 0; a != SIZE_MAX && k < n; a = rows[a].parent, k++)
      if (a == i) {
        p = SIZE_MAX;
        break;
      }
    rows[i].parent = p;
  }
  /* children in number order: link from the last row backwards */
  for (size_t i = n; i-- > 0;) {
    size_t p = rows[i].parent;
    if (p == SIZE_MAX) continue;
    rows[i].next_sibling = rows[p].first_child;
    rows[p].first_child = i;
  }
  size_t k = 0;
  for (size_t root = 0; root < n; root++) {
    if (rows[root].parent != SIZE_MAX) continue;
    size_t sp = 0;
    stack[sp++] = root;
    rows[root].depth = 0;
    while (sp) {
      size_t i = stack[--sp];
      out[k++] = rows[i];
      size_t kids[64], nk = 0; /* push children so the first comes out first */
      for (size_t c = rows[i].first_child; c != SIZE_MAX; c = rows[c].next_sibling) {
        rows[c].depth = rows[i].depth + 1;
        if (nk < 64) kids[nk++] = c;
        else stack[sp++] = c; /* beyond 64 children: order among those kept loose */
      }
      while (nk) stack[sp++] = kids[--nk];
    }
  }
  free(ix);
  free(stack);
  if (k != n) { /* cannot happen (cycles were cut); keep every row anyway */
    free(out);
    return NULL;
  }
  return out;
}

/* --- the progress line --------------------------------------------------------------------- */

static void bar_erase(over_t *o) {
  if (!o->drawn) return;
  fputs("\r\033[K", stderr);
  fflush(stderr);
  o->drawn = 0;
}

static void bar_draw(over_t *o) {
  uint64_t total = 0, done = 0, rows = 0, bytes = 0;
  for (size_t i = 0; i < o->nchunks; i++) {
    const chunk_t *c = &o->chunks[i];
    total += c->hi - c->lo + 1;
    if (c->done) done += c->hi - c->lo + 1;
    rows += c->n;
    bytes += c->bytes;
  }
  uint64_t now = nt_reactor_now(o->job->s->reactor);
  if (now - o->last_ms >= 200) {
    double inst = bytes >= o->last_bytes
                      ? (double)(bytes - o->last_bytes) * 1000.0 / (double)(now - o->last_ms)
                      : 0;
    o->rate = o->rate == 0 ? inst : 0.7 * o->rate + 0.3 * inst;
    o->last_ms = now;
    o->last_bytes = bytes;
  }
  int pct = total ? (int)((double)done * 100.0 / (double)total) : 100;
  char bar[21], b[32], r[32];
  for (int i = 0; i < 20; i++) bar[i] = i < pct / 5 ? '#' : '.';
  bar[20] = 0;
  progress_human(b, sizeof b, (double)bytes);
  progress_human(r, sizeof r, o->rate);
  const char *g = o->job->group;
  fprintf(stderr, "\r[%s] %3d%%  %.40s: articles %llu/%llu  rows %llu  %s  %s/s\033[K", bar,
          pct, cli_text(g, strlen(g)), (unsigned long long)done, (unsigned long long)total,
          (unsigned long long)rows, b, r);
  fflush(stderr);
  o->drawn = 1;
}

static void bar_tick(nt_timer_t *t) { bar_draw(t->data); }

static void bar_start(over_t *o) {
  nntp_over_job_t *job = o->job;
  if (job->json || job->s->quiet || !isatty(STDERR_FILENO)) return;
  o->bar = 1;
  nt_timer_init(job->s->reactor, &o->bar_timer, bar_tick);
  o->bar_timer.data = o;
  nt_timer_unref(&o->bar_timer); /* it alone does not keep the loop going */
  o->last_ms = nt_reactor_now(job->s->reactor);
  nt_timer_start(&o->bar_timer, 250, 250);
  bar_draw(o); /* at once: a short run shows it too */
}

static void bar_stop(over_t *o) {
  if (!o->bar) return;
  nt_timer_stop(&o->bar_timer);
  o->bar = 0;
  bar_erase(o);
}

/* --- fetching ------------------------------------------------------------------------------- */

static void finish(over_t *o) {
  nntp_over_job_t *job = o->job;
  bar_stop(o);
  if (o->pool) {
    nt_nntp_pool_close(o->pool);
    o->pool = NULL;
  }
  if (o->failed) {
    job->done(job->arg, -1);
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < o->nchunks; i++) n += o->chunks[i].n;
  row_t *rows = malloc((n ? n : 1) * sizeof *rows);
  if (!rows) {
    cli_error("out of memory");
    job->done(job->arg, -1);
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < o->nchunks; i++) {
    memcpy(rows + k, o->chunks[i].rows, o->chunks[i].n * sizeof *rows);
    k += o->chunks[i].n;
    o->chunks[i].n = 0; /* the rows moved */
  }
  qsort(rows, n, sizeof *rows, row_cmp);
  for (size_t i = 0; i < n; i++) rows[i].depth = 0;
  row_t *show = rows;
  if (job->threads) {
    row_t *t = thread(rows, n);
    if (t) show = t;
  }
  if (job->json) {
    printf("{\"group\":");
    cli_json_string(stdout, job->group);
    printf(",\"count\":%llu,\"low\":%llu,\"high\":%llu,\"articles\":[",
           (unsigned long long)job->count, (unsigned long long)job->low,
           (unsigned long long)job->high);
    for (size_t i = 0; i < n; i++) print_json_row(&show[i], i == 0);
    printf("]}\n");
  } else {
    if (n) nntp_over_table_head();
    for (size_t i = 0; i < n; i++) print_row(&show[i]);
  }
  fflush(stdout);
  for (size_t i = 0; i < n; i++) row_free(&rows[i]);
  if (show != rows) free(show);
  free(rows);
  job->done(job->arg, (int64_t)n);
}

static void chunk_over(nt_nntp_t *c, const nt_nntp_overview_t *ov, void *arg) {
  chunk_t *ch = arg;
  (void)c;
  keep(current, ch, ov);
}

static void start_pool(over_t *o, unsigned connections, unsigned pipeline);
static void retry_later(over_t *o);

static void chunk_done_common(over_t *o, chunk_t *ch, int status, int code,
                              const char *text) {
  nntp_cli_t *s = o->job->s;
  /* the session's connection or a retry's pool of one was lost: again
   * after the backoff (a pool of --connections N retries by itself) */
  int ours = o->pool ? o->retry_pool : 1;
  if (ours && !o->failed && s->retried < s->retries && nntp_cli_transient(status)) {
    o->redo = 1;
    o->retry_status = status;
    s->handed_over = 1;
    chunk_reset(ch);
    if (--o->pending == 0) retry_later(o);
    return;
  }
  ch->done = 1;
  /* 423: no article in that range (a cancelled stretch): simply none */
  if (status && status != NT_ENNTP_NOARTICLE && !o->failed) {
    o->failed = 1;
    bar_stop(o);
    nt_nntp_result_t r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.code = code;
    r.text = text;
    char what[192];
    nt_nntp_t *c = o->job->s->client;
    /* a server that hangs up on pipelined commands (RFC 3977 lets it lack
     * pipelining): say what would work */
    if (!o->pool && c && code == 0 && nt_nntp_peak_in_flight(c) > 1 &&
        (status == NT_EUNEXPECTEDEOF || status == NT_ECONNRESET))
      snprintf(what, sizeof what,
               "overview %s (%zu commands were pipelined; --no-pipelining or "
               "--connections 2 send one at a time)",
               ch->range, nt_nntp_peak_in_flight(c));
    else
      snprintf(what, sizeof what, "overview %s", ch->range);
    /* a pool of --connections N retried on its own: this is the end */
    if (o->pool && !o->retry_pool) s->retried = s->retries;
    nntp_cli_fail(o->job->s, what, &r);
  }
  if (--o->pending == 0) {
    if (o->redo && !o->failed) {
      retry_later(o);
      return;
    }
    finish(o);
  }
}


static void chunk_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  (void)c;
  chunk_done_common(current, arg, r->status, r->code, r->text);
}

static void pool_over(nt_nntp_pool_t *p, const nt_nntp_overview_t *ov, void *arg) {
  chunk_t *ch = arg;
  (void)p;
  if (!ov) { /* sent again elsewhere: start the chunk over */
    chunk_reset(ch);
    return;
  }
  keep(current, ch, ov);
}

static void pool_done(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg) {
  (void)p;
  chunk_done_common(current, arg, r->status, r->code, r->text);
}

static void pool_closed(nt_nntp_pool_t *p, int status, void *arg) {
  (void)p, (void)status, (void)arg;
}

/* The chunks not done yet over a pool of `connections` (pipeline: the
 * ceiling, 1 one at a time, 0 the library's); adopt: the session's
 * connection is one of them. 0 or an exit code. */
static int pool_chunks(over_t *o, unsigned connections, unsigned pipeline, int adopt) {
  nntp_over_job_t *job = o->job;
  nt_nntp_pool_options_t po;
  memset(&po, 0, sizeof po);
  po.connections = connections;
  if (adopt) po.adopt = job->s->client;
  if (o->retry_pool) po.attempts = 1; /* retry_later does the retrying */
  nt_nntp_options_t co = *job->s->conn_opts;
  if (pipeline) co.pipeline = pipeline;
  nt_nntp_pool_callbacks_t cbs = {.closed = pool_closed};
  int rc = nt_nntp_pool_new(job->s->reactor, job->s->host, job->s->port, &co, &po, &cbs,
                            o, &o->pool);
  if (rc) {
    bar_stop(o);
    cli_error("connect to %s port %d: %s", job->s->host, job->s->port, nt_strerror(rc));
    return nntp_cli_exit(rc);
  }
  if (adopt) { /* the session is the pool's now: its end is no error */
    job->s->client = NULL;
    job->s->handed_over = 1;
  }
  o->pending = 0;
  for (size_t i = 0; i < o->nchunks; i++) {
    if (o->chunks[i].done) continue;
    rc = nt_nntp_pool_over(o->pool, job->group, o->chunks[i].range, pool_over, pool_done,
                           &o->chunks[i]);
    if (rc) {
      cli_error("overview: %s", nt_strerror(rc));
      return NT_EXIT_INTERNAL;
    }
    o->pending++;
  }
  if (!o->pending) finish(o);
  return 0;
}

static void start_pool(over_t *o, unsigned connections, unsigned pipeline) {
  int rc = pool_chunks(o, connections, pipeline, 0);
  if (rc) {
    o->failed = 1;
    o->job->s->handed_over = 0;
    nntp_cli_end(o->job->s, rc);
  }
}

static void on_retry_timer(nt_timer_t *t) {
  over_t *o = t->data;
  o->retry_timer_on = 0;
  if (o->job->s->finished) return;
  o->retry_pool = 1;
  start_pool(o, 1, 0);
}

/* The connection was lost under the overview (--retry): after the backoff,
 * a new connection takes the chunks not done. */
static void retry_later(over_t *o) {
  nntp_cli_t *s = o->job->s;
  if (s->finished) return;
  o->redo = 0;
  if (o->pool) { /* the last try's: its connection is gone */
    nt_nntp_pool_close(o->pool);
    o->pool = NULL;
  }
  unsigned long long d = nntp_cli_backoff(s, s->retried);
  s->retried++;
  bar_erase(o); /* drawn again by the next tick */
  cli_error("%s port %d: overview: %s; retrying in %s (%d of %d)", s->host, s->port,
            nt_strerror(o->retry_status), cli_secs(d), s->retried, s->retries);
  nt_timer_init(s->reactor, &o->retry_timer, on_retry_timer);
  o->retry_timer.data = o;
  o->retry_timer_on = 1;
  nt_timer_start(&o->retry_timer, d, 0);
}

int nntp_over_start(nntp_over_job_t *job, const uint64_t (*ranges)[2], size_t n) {
  over_t *o = calloc(1, sizeof *o);
  if (!o) return NT_EXIT_INTERNAL;
  o->job = job;
  job->impl = o;
  current = o;
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) total += ranges[i][1] - ranges[i][0] + 1;
  uint64_t chunk = CHUNK;
  if (job->connections > 1) { /* enough chunks to keep every connection busy */
    uint64_t per = total / ((uint64_t)job->connections * 4);
    chunk = per < MIN_CHUNK ? MIN_CHUNK : per > CHUNK ? CHUNK : per;
  }
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    count += (size_t)((ranges[i][1] - ranges[i][0]) / chunk + 1);
  o->chunks = calloc(count ? count : 1, sizeof *o->chunks);
  if (!o->chunks) return NT_EXIT_INTERNAL;
  for (size_t i = 0; i < n; i++)
    for (uint64_t lo = ranges[i][0]; lo <= ranges[i][1]; lo += chunk) {
      uint64_t hi = ranges[i][1] - lo + 1 > chunk ? lo + chunk - 1 : ranges[i][1];
      chunk_t *ch = &o->chunks[o->nchunks++];
      snprintf(ch->range, sizeof ch->range, "%llu-%llu", (unsigned long long)lo,
               (unsigned long long)hi);
      ch->lo = lo;
      ch->hi = hi;
      if (hi == UINT64_MAX) break;
    }
  if (!o->nchunks) {
    o->pending = 1;
    chunk_done_common(o, &o->chunks[0], 0, 0, "");
    return 0;
  }
  o->pending = o->nchunks;
  bar_start(o);
  /* N connections in all: the session's and N - 1 more */
  if (job->connections > 1) return pool_chunks(o, job->connections, 0, 1);
  for (size_t i = 0; i < o->nchunks; i++) {
    int rc = nt_nntp_over(job->s->client, o->chunks[i].range, chunk_over, chunk_done,
                          &o->chunks[i]);
    if (rc) {
      cli_error("overview: %s", nt_strerror(rc));
      return NT_EXIT_INTERNAL;
    }
  }
  return 0;
}

void nntp_over_stop(nntp_over_job_t *job) {
  over_t *o = job->impl;
  if (!o) return;
  bar_stop(o);
  if (o->retry_timer_on) nt_timer_stop(&o->retry_timer);
  o->retry_timer_on = 0;
}

void nntp_over_free(nntp_over_job_t *job) {
  over_t *o = job->impl;
  if (!o) return;
  for (size_t i = 0; i < o->nchunks; i++) {
    chunk_reset(&o->chunks[i]);
    free(o->chunks[i].rows);
  }
  free(o->chunks);
  free(o);
  job->impl = NULL;
  current = NULL;
}
