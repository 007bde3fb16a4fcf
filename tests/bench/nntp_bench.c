/* NNTP benchmark client (nettool side): in one session, the overview of
 * articles FIRST..LAST of GROUP (every line parsed into its fields), then
 * the bodies of the last NBODIES articles (every line looked at), each
 * streamed and never collected. Prints one line:
 *   overview_ms=... bodies_ms=... total_ms=... over_lines=... body_lines=...
 *   body_bytes=... maxrss_kib=...
 *   nntp_bench HOST PORT GROUP NOVER NBODIES */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nettool/nntp.h"

typedef struct {
  nt_reactor_t *r;
  nt_nntp_t *c;
  const char *group;
  uint64_t nover, nbodies, low, high, next;
  uint64_t over_lines, body_lines, body_bytes, subj_bytes;
  double t0, t_over, t_end;
  int failed;
} bench_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fail(bench_t *b, const char *what, const nt_nntp_result_t *r) {
  fprintf(stderr, "nntp_bench: %s: %s (%d %s)\n", what, nt_strerror(r->status), r->code, r->text);
  b->failed = 1;
  nt_nntp_close(b->c);
}

static void body_line(nt_nntp_t *c, const char *l, size_t n, void *arg) {
  bench_t *b = arg;
  (void)c, (void)l;
  b->body_lines++;
  b->body_bytes += n;
}

static void body_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  bench_t *b = arg;
  if (r->status) {
    fail(b, "BODY", r);
    return;
  }
  if (b->next > b->high) {
    b->t_end = now_ms();
    nt_nntp_close(c);
    return;
  }
  char n[32];
  snprintf(n, sizeof n, "%llu", (unsigned long long)b->next++);
  nt_nntp_fetch(c, NT_NNTP_BODY, n, body_line, body_done, b);
}

static void over_line(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  bench_t *b = arg;
  (void)c;
  b->over_lines++;
  b->subj_bytes += o->subject.n + o->from.n + o->date.n;
}

static void over_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  bench_t *b = arg;
  if (r->status) {
    fail(b, "OVER", r);
    return;
  }
  b->t_over = now_ms();
  if (!b->nbodies) {
    b->t_end = b->t_over;
    nt_nntp_close(c);
    return;
  }
  b->next = b->high >= b->nbodies ? b->high - b->nbodies + 1 : 1;
  if (b->next < b->low) b->next = b->low;
  char n[32];
  snprintf(n, sizeof n, "%llu", (unsigned long long)b->next++);
  nt_nntp_fetch(c, NT_NNTP_BODY, n, body_line, body_done, b);
}

static void group_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  bench_t *b = arg;
  if (r->status) {
    fail(b, "GROUP", r);
    return;
  }
  b->low = r->low;
  b->high = r->high;
  uint64_t first = b->low;
  uint64_t last = first + b->nover - 1 < b->high ? first + b->nover - 1 : b->high;
  char range[64];
  snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)first,
           (unsigned long long)last);
  nt_nntp_over(c, range, over_line, over_done, b);
}

static void ready(nt_nntp_t *c, void *arg) {
  bench_t *b = arg;
  b->t0 = now_ms();
  nt_nntp_group(c, b->group, group_done, b);
}

static void closed(nt_nntp_t *c, int status, void *arg) {
  bench_t *b = arg;
  (void)c;
  if (status) {
    fprintf(stderr, "nntp_bench: session: %s\n", nt_strerror(status));
    b->failed = 1;
  }
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: nntp_bench HOST PORT GROUP NOVER NBODIES\n");
    return 2;
  }
  bench_t b;
  memset(&b, 0, sizeof b);
  b.group = argv[3];
  b.nover = strtoull(argv[4], NULL, 10);
  b.nbodies = strtoull(argv[5], NULL, 10);
  if (nt_reactor_new(&b.r, NULL)) return 1;
  nt_nntp_callbacks_t cbs = {ready, closed};
  nt_nntp_options_t o = {0};
  if (nt_nntp_connect(b.r, argv[1], atoi(argv[2]), &o, &cbs, &b, &b.c)) return 1;
  nt_reactor_run(b.r);
  nt_reactor_free(b.r);
  if (b.failed) return 1;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("overview_ms=%.1f bodies_ms=%.1f total_ms=%.1f over_lines=%llu body_lines=%llu "
         "body_bytes=%llu maxrss_kib=%ld\n",
         b.t_over - b.t0, b.t_end - b.t_over, b.t_end - b.t0,
         (unsigned long long)b.over_lines, (unsigned long long)b.body_lines,
         (unsigned long long)b.body_bytes, ru.ru_maxrss);
  return 0;
}
