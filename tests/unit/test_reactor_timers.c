/* Timers, delayed calls and the call-soon queue on the virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nettool/reactor.h"
#include "nettool/testing.h"
#include "reactor-int.h"

typedef struct {
  int order[4096];
  int n;
} log_t;

typedef struct {
  nt_timer_t t;
  int id;
  log_t *log;
  uint64_t fired_at;
} ttimer_t;

static void record(nt_timer_t *t) {
  ttimer_t *tt = (ttimer_t *)t;
  tt->fired_at = nt_reactor_now(t->reactor);
  tt->log->order[tt->log->n++] = tt->id;
}

static nt_reactor_t *new_reactor(void) {
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  return r;
}

static void test_fire_in_due_order(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  log_t log = {{0}, 0};
  ttimer_t t[5];
  uint64_t delays[5] = {50, 10, 30, 10, 0};
  for (int i = 0; i < 5; i++) {
    nt_timer_init(r, &t[i].t, record);
    t[i].id = i;
    t[i].log = &log;
    assert_int_equal(nt_timer_start(&t[i].t, delays[i], 0), 0);
  }
  nt_test_clock_advance(r, 9);
  assert_int_equal(log.n, 1); /* only the 0 ms one */
  assert_int_equal(log.order[0], 4);
  nt_test_clock_advance(r, 100);
  assert_int_equal(log.n, 5);
  /* equal due times fire in start order */
  int want[5] = {4, 1, 3, 2, 0};
  for (int i = 0; i < 5; i++) assert_int_equal(log.order[i], want[i]);
  assert_int_equal(t[0].fired_at, 50);
  assert_int_equal(t[2].fired_at, 30);
  assert_false(nt_timer_is_active(&t[0].t));
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_stop_and_restart(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  log_t log = {{0}, 0};
  ttimer_t a, b;
  nt_timer_init(r, &a.t, record);
  nt_timer_init(r, &b.t, record);
  a.id = 1, b.id = 2;
  a.log = b.log = &log;
  nt_timer_start(&a.t, 10, 0);
  nt_timer_start(&b.t, 20, 0);
  nt_timer_stop(&a.t);
  nt_timer_stop(&a.t); /* twice is fine */
  nt_test_clock_advance(r, 15);
  assert_int_equal(log.n, 0);
  nt_timer_start(&b.t, 100, 0); /* restart pushes it later */
  nt_test_clock_advance(r, 50);
  assert_int_equal(log.n, 0);
  nt_test_clock_advance(r, 50);
  assert_int_equal(log.n, 1);
  assert_int_equal(b.fired_at, 115);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_repeating(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  log_t log = {{0}, 0};
  ttimer_t a;
  nt_timer_init(r, &a.t, record);
  a.id = 7;
  a.log = &log;
  nt_timer_start(&a.t, 5, 10);
  nt_test_clock_advance(r, 36); /* fires at 5, 15, 25, 35 */
  assert_int_equal(log.n, 4);
  assert_int_equal(a.fired_at, 35);
  assert_true(nt_timer_is_active(&a.t));
  nt_timer_stop(&a.t);
  nt_test_clock_advance(r, 100);
  assert_int_equal(log.n, 4);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void stop_self(nt_timer_t *t) {
  int *count = t->data;
  if (++*count == 3) nt_timer_stop(t);
}

static void test_repeating_stops_itself(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_timer_t t;
  int count = 0;
  nt_timer_init(r, &t, stop_self);
  t.data = &count;
  nt_timer_start(&t, 1, 1);
  /* run() returns once the timer is gone: nothing else keeps it alive */
  assert_int_equal(nt_reactor_run(r), 0);
  assert_int_equal(count, 3);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* Many timers with random delays, a third cancelled: the heap keeps its
 * order through O(log n) removals from the middle. */
static void test_heap_random(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  enum { N = 2000 };
  ttimer_t *t = calloc(N, sizeof *t);
  log_t *log = calloc(1, sizeof *log);
  srand(1234);
  uint64_t last = 0;
  int fired = 0;
  for (int i = 0; i < N; i++) {
    nt_timer_init(r, &t[i].t, record);
    t[i].id = i;
    t[i].log = log;
    nt_timer_start(&t[i].t, (uint64_t)(rand() % 5000), 0);
  }
  for (int i = 0; i < N; i += 3) nt_timer_stop(&t[i].t);
  for (uint64_t ms = 0; ms <= 5000; ms += 7) {
    log->n = 0;
    nt_test_clock_advance(r, 7);
    for (int k = 0; k < log->n && k < 64; k++) {
      ttimer_t *x = &t[log->order[k]];
      assert_true(x->id % 3 != 0);
      assert_true(x->fired_at >= last);
      last = x->fired_at;
    }
    fired += log->n;
  }
  assert_int_equal(fired, N - (N + 2) / 3);
  free(t);
  free(log);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void count_cb(void *arg) { (*(int *)arg)++; }

static void test_call_later_and_cancel(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  int a = 0, b = 0, e = 0;
  nt_timer_t *ha = nt_call_later(r, 100, count_cb, &a);
  nt_timer_t *hb = nt_call_later(r, 100, count_cb, &b);
  nt_timer_t *he = nt_call_every(r, 30, count_cb, &e);
  assert_non_null(ha);
  assert_non_null(hb);
  nt_call_cancel(hb);
  nt_test_clock_advance(r, 99);
  assert_int_equal(a, 0);
  assert_int_equal(e, 3);
  nt_test_clock_advance(r, 1);
  assert_int_equal(a, 1);
  assert_int_equal(b, 0);
  nt_call_cancel(he);
  nt_test_clock_advance(r, 1000);
  assert_int_equal(e, 3);
  /* pending delayed calls are freed with the reactor (ASan checks it), and
   * reported as still live */
  nt_call_later(r, 5000, count_cb, &a);
  assert_int_equal(nt_test_reactor_free(r), 1);
}

typedef struct {
  nt_reactor_t *r;
  int seq[16];
  int n;
} soon_t;

static void soon_a(void *arg);
static void soon_b(void *arg) {
  soon_t *s = arg;
  s->seq[s->n++] = 2;
}
static void soon_a(void *arg) {
  soon_t *s = arg;
  s->seq[s->n++] = 1;
  nt_call_soon(s->r, soon_b, s); /* runs next turn, after already-queued */
}
static void soon_c(void *arg) {
  soon_t *s = arg;
  s->seq[s->n++] = 3;
}

static void test_call_soon_fifo(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  soon_t s = {r, {0}, 0};
  nt_call_soon(r, soon_a, &s);
  nt_call_soon(r, soon_c, &s);
  assert_int_equal(nt_reactor_run_once(r, 0), 1); /* b still queued */
  assert_int_equal(s.n, 2);
  assert_int_equal(s.seq[0], 1);
  assert_int_equal(s.seq[1], 3);
  nt_reactor_run(r);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.seq[2], 2);
  /* many calls: the ring grows and keeps order */
  int count = 0;
  for (int i = 0; i < 1000; i++) nt_call_soon(r, count_cb, &count);
  nt_test_run_pending(r);
  assert_int_equal(count, 1000);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_run_jumps_virtual_time(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  int a = 0;
  nt_call_later(r, 3600 * 1000, count_cb, &a); /* an hour, instantly */
  assert_int_equal(nt_reactor_run(r), 0);
  assert_int_equal(a, 1);
  assert_int_equal(nt_reactor_now(r), 3600 * 1000);
  struct timespec ts;
  nt_reactor_walltime(r, &ts);
  assert_int_equal(ts.tv_sec, 1795360260 + 3600);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_unref_timer_does_not_keep_alive(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_timer_t t;
  log_t log = {{0}, 0};
  ttimer_t x;
  (void)t;
  nt_timer_init(r, &x.t, record);
  x.log = &log;
  x.id = 1;
  nt_timer_unref(&x.t);
  nt_timer_start(&x.t, 1000, 1000);
  assert_int_equal(nt_reactor_run(r), 0); /* returns at once */
  assert_int_equal(log.n, 0);
  nt_timer_stop(&x.t);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_alloc_failure(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_test_fail_alloc_after(0);
  int a = 0;
  assert_null(nt_call_later(r, 10, count_cb, &a));
  nt_test_fail_alloc_after(-1);
  assert_non_null(nt_call_later(r, 10, count_cb, &a));
  nt_test_clock_advance(r, 10);
  assert_int_equal(a, 1);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* Starting a timer allocates nothing, so it cannot fail, even when every
 * allocation would (the heap array it replaced had to grow). */
static void test_start_needs_no_memory(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  enum { N = 100 };
  ttimer_t *t = calloc(N, sizeof *t);
  log_t *log = calloc(1, sizeof *log);
  nt_test_fail_alloc_after(0);
  for (int i = 0; i < N; i++) {
    nt_timer_init(r, &t[i].t, record);
    t[i].id = i;
    t[i].log = log;
    assert_int_equal(nt_timer_start(&t[i].t, (uint64_t)(N - i), 0), 0);
  }
  nt_test_fail_alloc_after(-1);
  nt_test_clock_advance(r, N);
  assert_int_equal(log->n, N);
  for (int i = 0; i < N; i++) assert_int_equal(log->order[i], N - 1 - i);
  free(t);
  free(log);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* Walks the tree: every link mended, the heap order kept, the count right. */
static uint32_t check_subtree(struct nt__timer_links *n,
                              struct nt__timer_links *parent) {
  if (!n) return 0;
  assert_ptr_equal(n->parent, parent);
  const nt_timer_t *t = (const nt_timer_t *)((const char *)n - offsetof(nt_timer_t, links_));
  if (parent) {
    const nt_timer_t *p = (const nt_timer_t *)((const char *)parent - offsetof(nt_timer_t, links_));
    assert_true(p->due < t->due || (p->due == t->due && p->seq < t->seq));
  }
  return 1 + check_subtree(n->left, n) + check_subtree(n->right, n);
}

/* Random starts, restarts and stops, with the tree checked after each. */
static void test_heap_shape_under_churn(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  enum { N = 300 };
  ttimer_t *t = calloc(N, sizeof *t);
  log_t *log = calloc(1, sizeof *log);
  int active = 0;
  srand(99);
  for (int i = 0; i < N; i++) {
    nt_timer_init(r, &t[i].t, record);
    t[i].log = log;
  }
  for (int step = 0; step < 20000; step++) {
    ttimer_t *x = &t[rand() % N];
    int was = nt_timer_is_active(&x->t);
    if (rand() % 3) {
      nt_timer_start(&x->t, (uint64_t)(rand() % 50), 0);
      active += !was;
    } else {
      nt_timer_stop(&x->t);
      active -= was;
    }
    if (step % 97 == 0) {
      log->n = 0;
      nt_test_clock_advance(r, 1);
      active -= log->n;
    }
    assert_int_equal(r->timer_count, (uint32_t)active);
    assert_int_equal(check_subtree(r->timer_root, NULL), (uint32_t)active);
  }
  for (int i = 0; i < N; i++) nt_timer_stop(&t[i].t);
  assert_null(r->timer_root);
  free(t);
  free(log);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* Teardown check: a reactor freed with things still live says how many. */
static void test_free_reports_live(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  assert_int_equal(nt_reactor_live(r, NULL), 0);
  nt_timer_t t;
  nt_timer_init(r, &t, NULL);
  nt_timer_start(&t, 1000, 0);
  int a = 0;
  nt_call_later(r, 5, count_cb, &a);
  nt_reactor_live_t l;
  assert_int_equal(nt_reactor_live(r, &l), 2);
  assert_int_equal(l.timers, 2);
  assert_int_equal(l.watchers + l.handles + l.calls, 0);
  assert_int_equal(nt_test_reactor_free(r), 2); /* (and a warning line) */

  r = new_reactor();
  nt_timer_init(r, &t, NULL);
  nt_timer_start(&t, 1000, 0);
  nt_timer_stop(&t);
  nt_call_later(r, 5, count_cb, &a);
  nt_test_clock_advance(r, 5);
  assert_int_equal(a, 1);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fire_in_due_order),
      cmocka_unit_test(test_stop_and_restart),
      cmocka_unit_test(test_repeating),
      cmocka_unit_test(test_repeating_stops_itself),
      cmocka_unit_test(test_heap_random),
      cmocka_unit_test(test_call_later_and_cancel),
      cmocka_unit_test(test_call_soon_fifo),
      cmocka_unit_test(test_run_jumps_virtual_time),
      cmocka_unit_test(test_unref_timer_does_not_keep_alive),
      cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_start_needs_no_memory),
      cmocka_unit_test(test_heap_shape_under_churn),
      cmocka_unit_test(test_free_reports_live),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
