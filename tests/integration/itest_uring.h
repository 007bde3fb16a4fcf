/* Shared by the io_uring backend's own tests (test_uring.c,
 * test_uring_setup.c, test_uring_batch.c): a monotonic clock, a reactor on
 * io_uring (asserted: not the epoll fallback), and whether the ring can be
 * set up here at all (the programs exit 77, skipped, when it cannot).
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

#endif
