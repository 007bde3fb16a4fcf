/* Shared by the io_uring backend's own tests (test_uring.c,
 * test_uring_setup.c, test_uring_batch.c): a monotonic clock, a reactor on
 * io_uring (asserted: not the epoll fallback), whether the ring can be set
 * up here at all (the programs exit 77, skipped, when it cannot), and a
 * bounded run of the loop.
 *
 * Header-only and all static, like itest_backends.h: include it once per
 * program, after <cmocka.h>. */
#ifndef NETTOOL_ITEST_URING_H
#define NETTOOL_ITEST_URING_H

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "nettool/reactor.h"

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static nt_reactor_t *uring_new(void) {
  nt_reactor_options_t o = {.backend = "io_uring"};
  nt_reactor_t *r = NULL;
  assert_int_equal(nt_reactor_new(&r, &o), 0);
  assert_string_equal(nt_reactor_backend_name(r), "io_uring");
  return r;
}

/* r, when non-NULL, gets the reactor instead of its being freed. */
static int uring_available_r(nt_reactor_t **out) {
  nt_reactor_options_t o = {.backend = "io_uring"};
  nt_reactor_t *r = NULL;
  if (nt_reactor_new(&r, &o)) return 0;
  int ok = !strcmp(nt_reactor_backend_name(r), "io_uring");
  if (out && ok)
    *out = r;
  else
    nt_reactor_free(r);
  return ok;
}

static inline int uring_available(void) { return uring_available_r(NULL); }

/* A timer that does nothing: run loops start it so that no wait sleeps
 * longer than its period. */
static inline void tick_cb(nt_timer_t *t) { (void)t; }

/* Runs turns of at most 2 ms each for ms. */
static inline void run_for(nt_reactor_t *r, uint64_t ms) {
  uint64_t end = mono_ms() + ms;
  nt_timer_t tick;
  nt_timer_init(r, &tick, tick_cb);
  nt_timer_start(&tick, 2, 2);
  while (mono_ms() < end) assert_true(nt_reactor_run_once(r, 1) >= 0);
  nt_timer_stop(&tick);
}

#endif
