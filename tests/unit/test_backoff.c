/* The one retry wait (reactor/backoff.c) used by HTTP download, FTP
 * transfers, tus, the NZB downloader's reconnects and the CLI: its bounds
 * (half the schedule to just under it), the doubling, the cap (and no
 * overflow past it), the jitter's range and spread, a schedule's reset,
 * and the public nt_backoff_delay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff-int.h"
#include "nettool/backoff.h"

static void test_bounds_and_doubling(void **state) {
  (void)state;
  assert_int_equal(nt__backoff(1000, 60000, 0, 0), 500);
  assert_true(nt__backoff(1000, 60000, 0, UINT32_MAX) <= 999);
  assert_true(nt__backoff(1000, 60000, 0, UINT32_MAX) >= 998);
  for (int n = 0; n < 6; n++) { /* 1, 2, 4, 8, 16, 32 s: [d/2, d) */
    uint64_t d = 1000ull << n;
    assert_int_equal(nt__backoff(1000, 60000, n, 0), d / 2);
    assert_true(nt__backoff(1000, 60000, n, UINT32_MAX) < d);
    assert_true(nt__backoff(1000, 60000, n, 1u << 31) == d / 2 + d / 4);
  }
}

static void test_cap(void **state) {
  (void)state;
  assert_int_equal(nt__backoff(1000, 5000, 3, 0), 2500); /* 8 s capped at 5 */
  assert_int_equal(nt__backoff(1000, 5000, 10, 0), 2500);
  assert_int_equal(nt__backoff(1000, 5000, 1000, 0), 2500);
  assert_true(nt__backoff(1000, 5000, 1000, UINT32_MAX) < 5000);
  /* no overflow on the way to a huge cap */
  uint64_t big = nt__backoff(1000, UINT64_MAX, 200, 0);
  assert_true(big >= (UINT64_MAX / 4));
  /* a cap below the base: the cap (the HTTP/FTP callers raise it first) */
  assert_int_equal(nt__backoff(8000, 2000, 0, 0), 1000);
}

static void test_schedule_and_reset(void **state) {
  (void)state;
  nt__backoff_t b = {.base = 100, .cap = 1000, .rng = 12345};
  uint64_t lo[] = {50, 100, 200, 400, 500, 500, 500};
  for (int i = 0; i < 7; i++) {
    uint64_t d = nt__backoff_next(&b);
    assert_true(d >= lo[i] && d < lo[i] * 2);
  }
  assert_int_equal(b.n, 7);
  nt__backoff_reset(&b);
  uint64_t d = nt__backoff_next(&b);
  assert_true(d >= 50 && d < 100);
  /* defaults: 1 s, 60 s; a zero rng is seeded */
  nt__backoff_t z = {0};
  d = nt__backoff_next(&z);
  assert_true(d >= 500 && d < 1000);
  assert_true(z.rng != 0);
}

static void test_jitter_spreads(void **state) {
  (void)state;
  /* 200 draws of the public call for retry 3 (8 s): all in [4, 8) s, and
   * spread (not one value; both halves of the range seen) */
  uint64_t min = UINT64_MAX, max = 0;
  int low = 0, high = 0;
  for (int i = 0; i < 200; i++) {
    uint64_t d = nt_backoff_delay(1000, 60000, 3);
    assert_true(d >= 4000 && d < 8000);
    if (d < min) min = d;
    if (d > max) max = d;
    if (d < 6000) low++;
    else high++;
  }
  assert_true(max - min > 1000);
  assert_true(low > 20 && high > 20);
  /* zeros are the defaults */
  uint64_t d = nt_backoff_delay(0, 0, 0);
  assert_true(d >= 500 && d < 1000);
  d = nt_backoff_delay(0, 0, 100000);
  assert_true(d >= 30000 && d < 60000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bounds_and_doubling),
      cmocka_unit_test(test_cap),
      cmocka_unit_test(test_schedule_and_reset),
      cmocka_unit_test(test_jitter_spreads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
