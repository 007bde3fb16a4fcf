/* FTP keepalive on the test reactor (virtual clock, scripted control and
 * data connections): a NOOP goes out on the control connection every
 * keepalive_ms while a slow transfer's data flows, none when it is off or
 * before the 1xx; their 200 replies are taken whether they come before the
 * transfer's 226 (servers that read the control connection during a
 * transfer) or after it (vsftpd), at every byte split, and the reply to
 * the next command is still matched to it. */
#include "test_ftp_common.h"

static const char *pre =
    "220 hi\r\n200 ok\r\n213 10\r\n229 (|||40001|)\r\n";

/* Starts RETR f (then SIZE g, queued) and lets `ms` pass in 500 ms steps,
 * one data byte per step, after the 150. */
static nt_test_transport_t *slow_retr(nt_ftp_t **fp, uint64_t ms) {
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  assert_int_equal(nt_ftp_size(f, "g", done, "size"), 0);
  nt_test_feed_str(tt, pre);
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 go\r\n");
  for (uint64_t t = 0; t < ms; t += 500) {
    nt_test_feed_str(fakes[0].tt, "x");
    nt_test_clock_advance(R, 500);
  }
  *fp = f;
  return tt;
}

static int count_noops(const char *out) {
  int n = 0;
  for (const char *p = out; (p = strstr(p, "NOOP\r\n")) != NULL; p += 6) n++;
  return n;
}

static void test_noops_every_interval(void **state) {
  (void)state;
  test_opts.keepalive_ms = 1000;
  test_opts.data_timeout_ms = 3000;
  nt_ftp_t *f;
  nt_test_transport_t *tt = slow_retr(&f, 5000);
  /* At 1, 2, 3, 4 and 5 s after the 150, none before it. */
  assert_string_equal(nt_test_output(tt, NULL),
                      "TYPE I\r\nSIZE f\r\nEPSV\r\nRETR f\r\n"
                      "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n");
  nt_test_feed_eof(fakes[0].tt);
  nt_test_clock_advance(R, 3000); /* data ended: no more NOOPs */
  assert_int_equal(count_noops(nt_test_output(tt, NULL)), 5);
  nt_test_feed_str(tt, "226 done\r\n200 a\r\n200 b\r\n200 c\r\n200 d\r\n200 e\r\n213 7\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "retr:ok:226[done] bytes=10 size=10\n"
                               "size:ok:213[7] size=7\n");
  nt_test_transport_free(tt);
}

static void test_default_interval_and_off(void **state) {
  (void)state;
  test_opts.data_timeout_ms = 120000;
  test_opts.reply_timeout_ms = 120000;
  nt_ftp_t *f;
  nt_test_transport_t *tt = slow_retr(&f, 59500); /* default: 60 s */
  assert_int_equal(count_noops(nt_test_output(tt, NULL)), 0);
  nt_test_clock_advance(R, 500);
  assert_int_equal(count_noops(nt_test_output(tt, NULL)), 1);
  nt_test_transport_free(tt);
  fakes_free();
  nfakes = 0;

  test_opts.keepalive_ms = NT_FTP_KEEPALIVE_OFF;
  tt = slow_retr(&f, 200000);
  assert_int_equal(rec.closed, 0);
  assert_int_equal(count_noops(nt_test_output(tt, NULL)), 0);
  nt_test_transport_free(tt);
}

/* Two NOOPs out, data done; then the rest of the control replies, split at
 * every byte (and byte by byte), the 200s before or after the 226. */
static void run_tail(const char *tail, size_t split, int bytewise) {
  nt_ftp_t *f;
  nt_test_transport_t *tt = slow_retr(&f, 2000);
  assert_int_equal(count_noops(nt_test_output(tt, NULL)), 2);
  nt_test_feed_str(fakes[0].tt, "xxxxxx");
  nt_test_feed_eof(fakes[0].tt);
  nt_test_run_pending(R);
  size_t n = strlen(tail);
  if (bytewise) {
    for (size_t i = 0; i < n; i++) {
      nt_test_feed(tt, tail + i, 1);
      nt_test_run_pending(R);
    }
  } else {
    nt_test_feed(tt, tail, split);
    nt_test_run_pending(R);
    nt_test_feed(tt, tail + split, n - split);
    nt_test_run_pending(R);
  }
  char how[160];
  snprintf(how, sizeof how, "'%s' split %zu%s", tail, split, bytewise ? " bytewise" : "");
  expect_log = "retr:ok:226[done] bytes=10 size=10\nsize:ok:213[7] size=7\n";
  /* SIZE g went out once, after the transfer, and nothing after it */
  expect_out = "TYPE I\r\nSIZE f\r\nEPSV\r\nRETR f\r\nNOOP\r\nNOOP\r\nSIZE g\r\n";
  check_log(NULL, tt, how); /* frees the data connections */
  nt_test_transport_free(tt);
  nfakes = 0;
}

static void test_replies_both_orders_every_split(void **state) {
  (void)state;
  test_opts.keepalive_ms = 1000;
  test_opts.data_timeout_ms = 3000;
  static const char *tails[] = {
      "226 done\r\n200 NOOP ok.\r\n200 NOOP ok.\r\n213 7\r\n", /* vsftpd */
      "200 NOOP ok.\r\n200 NOOP ok.\r\n226 done\r\n213 7\r\n", /* during */
      "200 NOOP ok.\r\n226 done\r\n200-NOOP\r\n200 ok.\r\n213 7\r\n", /* mixed */
  };
  for (size_t t = 0; t < sizeof tails / sizeof *tails; t++) {
    for (size_t k = 0; k <= strlen(tails[t]); k++) run_tail(tails[t], k, 0);
    run_tail(tails[t], 0, 1);
  }
}

/* A 200 with no NOOP out is not swallowed (the count is what decides). */
static void test_no_noop_no_swallow(void **state) {
  (void)state;
  test_opts.keepalive_ms = 1000;
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  assert_int_equal(nt_ftp_noop(f, done, "noop"), 0);
  nt_test_feed_str(tt, pre);
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 go\r\n");
  nt_test_feed_str(fakes[0].tt, "0123456789");
  nt_test_feed_eof(fakes[0].tt);
  nt_test_feed_str(tt, "226 done\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "200 mine\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "retr:ok:226[done] bytes=10 size=10\nnoop:ok:200[mine]\n");
  nt_test_transport_free(tt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_noops_every_interval, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_default_interval_and_off, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_replies_both_orders_every_split, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_no_noop_no_swallow, common_setup, common_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
