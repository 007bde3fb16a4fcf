/* NNTP pipelining / COMPRESS benchmark client (nettool side, not part of
 * the suite; tests/bench/nntp_pipeline_bench.sh runs it). In one session:
 * the overview of the first NOVER articles of GROUP as OVER commands of
 * 100 articles each, then the bodies of the first NBODIES articles by
 * number (BODY), every command queued at once: with PIPELINE 1 the client
 * sends them one at a time, otherwise up to its window (adapting to the
 * round trip). COMPRESS 0/1 turns COMPRESS DEFLATE off/on. CONNS > 1 runs
 * the bodies over a pool of connections instead (nettool/nntp_pool.h).
 * Prints one line:
 *   overview_ms=... bodies_ms=... over_lines=... body_lines=... body_bytes=...
 *   compressed=0|1 window=N rtt_ms=N maxrss_kib=...
 *   nntp_pipe_bench HOST PORT GROUP NOVER NBODIES PIPELINE COMPRESS [CONNS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nettool/nntp.h"
#include "nettool/nntp_pool.h"

#define OVER_CHUNK 100

typedef struct {
  nt_reactor_t *r;
  nt_nntp_t *c;
  nt_nntp_pool_t *pool;
  const char *host, *group;
  int port;
  nt_nntp_options_t o;
  unsigned conns;
  uint64_t nover, nbodies, low, high, pending;
  uint64_t over_lines, body_lines, body_bytes, field_bytes;
  double t0, t_over, t_end;
  unsigned window;
  uint64_t rtt;
  int failed, compressed;
} bench_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fail(bench_t *b, const char *what, int status, int code, const char *text) {
  fprintf(stderr, "nntp_pipe_bench: %s: %s (%d %s)\n", what, nt_strerror(status), code,
          text ? text : "");
  b->failed = 1;
  if (b->c) nt_nntp_close(b->c);
  if (b->pool) nt_nntp_pool_close(b->pool);
}

static void finish(bench_t *b) {
  b->t_end = now_ms();
  if (b->c) {
    b->window = nt_nntp_pipeline_window(b->c);
    b->rtt = nt_nntp_rtt_ms(b->c);
    b->compressed = nt_nntp_is_compressed(b->c);
    nt_nntp_close(b->c);
  }
  if (b->pool) nt_nntp_pool_close(b->pool);
}

static void body_line(nt_nntp_t *c, const char *l, size_t n, void *arg) {
  bench_t *b = arg;
  (void)c, (void)l;
  b->body_lines++;
  b->body_bytes += n;
}

static void body_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  bench_t *b = arg;
  (void)c;
  if (r->status && r->status != NT_ENNTP_NOARTICLE) {
    fail(b, "BODY", r->status, r->code, r->text);
    return;
  }
  if (--b->pending == 0) finish(b);
}

static void pool_line(nt_nntp_pool_t *p, const char *l, size_t n, void *arg) {
  bench_t *b = arg;
  (void)p, (void)l;
  if (!l) return;
  b->body_lines++;
  b->body_bytes += n;
}

static void pool_done(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg) {
  bench_t *b = arg;
  (void)p;
  if (r->status && r->status != NT_ENNTP_NOARTICLE) {
    fail(b, "BODY (pool)", r->status, r->code, r->text);
    return;
  }
  if (--b->pending == 0) finish(b);
}

static void pool_closed(nt_nntp_pool_t *p, int status, void *arg) {
  bench_t *b = arg;
  (void)p;
  b->pool = NULL;
  if (status) {
    fprintf(stderr, "nntp_pipe_bench: pool: %s\n", nt_strerror(status));
    b->failed = 1;
  }
}

static void start_bodies(bench_t *b) {
  b->t_over = now_ms();
  uint64_t first = b->low, last = b->low + b->nbodies - 1;
  if (last > b->high) last = b->high;
  if (!b->nbodies || first > last) {
    finish(b);
    return;
  }
  b->pending = last - first + 1;
  if (b->conns > 1) {
    nt_nntp_pool_options_t po = {0};
    po.connections = b->conns;
    nt_nntp_pool_callbacks_t cbs = {.closed = pool_closed};
    if (nt_nntp_pool_new(b->r, b->host, b->port, &b->o, &po, &cbs, b, &b->pool)) {
      b->failed = 1;
      return;
    }
    for (uint64_t n = first; n <= last; n++) {
      char spec[32];
      snprintf(spec, sizeof spec, "%llu", (unsigned long long)n);
      nt_nntp_pool_fetch(b->pool, NT_NNTP_BODY, b->group, spec, pool_line, pool_done, b);
    }
    return;
  }
  for (uint64_t n = first; n <= last; n++) {
    char spec[32];
    snprintf(spec, sizeof spec, "%llu", (unsigned long long)n);
    nt_nntp_fetch(b->c, NT_NNTP_BODY, spec, body_line, body_done, b);
  }
}

static void over_line(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  bench_t *b = arg;
  (void)c;
  b->over_lines++;
  b->field_bytes += o->subject.n + o->from.n + o->date.n;
}

static void over_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  bench_t *b = arg;
  (void)c;
  if (r->status && r->status != NT_ENNTP_NOARTICLE) {
    fail(b, "OVER", r->status, r->code, r->text);
    return;
  }
  if (--b->pending == 0) start_bodies(b);
}

static void group_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  bench_t *b = arg;
  if (r->status) {
    fail(b, "GROUP", r->status, r->code, r->text);
    return;
  }
  b->low = r->low;
  b->high = r->high;
  uint64_t last = b->low + b->nover - 1 < b->high ? b->low + b->nover - 1 : b->high;
  if (!b->nover || last < b->low) {
    start_bodies(b);
    return;
  }
  for (uint64_t lo = b->low; lo <= last; lo += OVER_CHUNK) {
    uint64_t hi = lo + OVER_CHUNK - 1 < last ? lo + OVER_CHUNK - 1 : last;
    char range[64];
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)lo,
             (unsigned long long)hi);
    b->pending++;
    nt_nntp_over(c, range, over_line, over_done, b);
  }
}

static void ready(nt_nntp_t *c, void *arg) {
  bench_t *b = arg;
  b->t0 = now_ms();
  nt_nntp_group(c, b->group, group_done, b);
}

static void closed(nt_nntp_t *c, int status, void *arg) {
  bench_t *b = arg;
  (void)c;
  b->c = NULL;
  if (status) {
    fprintf(stderr, "nntp_pipe_bench: session: %s\n", nt_strerror(status));
    b->failed = 1;
  }
}

int main(int argc, char **argv) {
  if (argc != 8 && argc != 9) {
    fprintf(stderr, "usage: nntp_pipe_bench HOST PORT GROUP NOVER NBODIES PIPELINE "
                    "COMPRESS [CONNS]\n");
    return 2;
  }
  bench_t b;
  memset(&b, 0, sizeof b);
  b.host = argv[1];
  b.port = atoi(argv[2]);
  b.group = argv[3];
  b.nover = strtoull(argv[4], NULL, 10);
  b.nbodies = strtoull(argv[5], NULL, 10);
  b.o.pipeline = (unsigned)atoi(argv[6]);
  b.o.no_compress = !atoi(argv[7]);
  b.o.timeout_ms = 120000;
  b.conns = argc == 9 ? (unsigned)atoi(argv[8]) : 1;
  if (nt_reactor_new(&b.r, NULL)) return 1;
  nt_nntp_callbacks_t cbs = {ready, closed};
  if (nt_nntp_connect(b.r, b.host, b.port, &b.o, &cbs, &b, &b.c)) return 1;
  nt_reactor_run(b.r);
  nt_reactor_free(b.r);
  if (b.failed) return 1;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("overview_ms=%.1f bodies_ms=%.1f over_lines=%llu body_lines=%llu body_bytes=%llu "
         "compressed=%d window=%u rtt_ms=%llu maxrss_kib=%ld\n",
         b.t_over - b.t0, b.t_end - b.t_over, (unsigned long long)b.over_lines,
         (unsigned long long)b.body_lines, (unsigned long long)b.body_bytes, b.compressed,
         b.window, (unsigned long long)b.rtt, ru.ru_maxrss);
  return 0;
}
