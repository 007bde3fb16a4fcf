/* The wait for a transfer's final reply (226) on the test reactor: once an
 * upload is written, what the kernel still holds unacknowledged (played by
 * the test through the opener hook's `unacked`) at the rate the transfer
 * went extends the data connection's idle deadline and, after the data
 * connection ended, the reply timeout; a small remainder leaves both as
 * they were. Deadlines are checked to the millisecond on the virtual clock.
 * The formula itself (nt__ftp_final_wait_ms) with fixed numbers. */
#include <fcntl.h>
#include <sys/stat.h>

#include "test_ftp_common.h"

#define BASE 2000   /* reply and data timeouts */
#define N 2000000   /* the file */

static char dir[256], local[300];

static void tmp_setup(void) {
  snprintf(dir, sizeof dir, "/tmp/nt-ftp-final-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(local, sizeof local, "%s/up.bin", dir);
  int fd = open(local, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, N), 0);
  close(fd);
}

static void tmp_cleanup(void) {
  unlink(local);
  rmdir(dir);
}

static void test_formula(void **state) {
  (void)state;
  assert_int_equal(nt__ftp_final_wait_ms(2000, 0, 5000000, 1000), 2000); /* nothing left */
  /* 1 MB left at 1 MB/s: twice its 1 s */
  assert_int_equal(nt__ftp_final_wait_ms(2000, 1000000, 1000000, 1000), 4000);
  assert_int_equal(nt__ftp_final_wait_ms(30000, 4000000, 500000, 1000), 30000 + 16000);
  /* a small remainder at a fast rate adds nothing */
  assert_int_equal(nt__ftp_final_wait_ms(2000, 1000, 1999000, 1200), 2000);
  /* rate unknown (under 100 ms, or nothing acknowledged): 256 KiB/s */
  assert_int_equal(nt__ftp_final_wait_ms(2000, 1000000, 0, 5000), 2000 + 7628);
  assert_int_equal(nt__ftp_final_wait_ms(2000, 1000000, 1000000, 50), 2000 + 7628);
  /* capped at 1 h, but never under the base */
  assert_int_equal(nt__ftp_final_wait_ms(2000, UINT64_MAX, 1, 1000), 3600000);
  assert_int_equal(nt__ftp_final_wait_ms(2000, 1000000000, 1000, 1000), 3600000);
  assert_int_equal(nt__ftp_final_wait_ms(5000000, 1, 1, 1000), 5000000);
}

/* An upload of N bytes: the "socket" takes 100 kB every 100 ms for 1 s,
 * each acknowledged at once (1 MB/s), then the other 1 MB at once, `hold`
 * bytes of which the server's TCP has not acknowledged. Runs until the
 * client noticed the upload is written (its data timer samples every
 * BASE/10); returns the control transport. */
static int verify_size; /* upload_written: SIZE after the upload */

static nt_test_transport_t *upload_written(nt_ftp_t **fp, uint64_t hold) {
  test_opts.data_timeout_ms = BASE;
  test_opts.reply_timeout_ms = BASE;
  test_opts.keepalive_ms = NT_FTP_KEEPALIVE_OFF;
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  nt_ftp_file_options_t fo = {.verify_size = verify_size};
  assert_int_equal(nt_ftp_put_file(f, local, "up", &fo, done, "put"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_transport_t *dt = fakes[0].tt;
  assert_non_null(dt);
  nt_test_set_room(dt, 0);
  uint64_t t0 = nt_reactor_now(R);
  nt_test_feed_str(tt, "150 go\r\n"); /* the upload begins */
  nt_test_run_pending(R);
  for (int i = 0; i < 10; i++) {
    nt_test_clock_advance(R, 100);
    nt_test_drain(dt, 100000);
  }
  assert_int_equal(f->final_at, 0); /* half of it still in our queue */
  fake_kernel_unacked = hold;
  nt_test_drain(dt, N - 1000000);
  nt_test_clock_advance(R, BASE / 10);
  assert_true(f->final_at > t0 + 1000 && f->final_at <= t0 + 1000 + BASE / 10);
  assert_int_equal(f->final_wait_ms,
                   nt__ftp_final_wait_ms(BASE, hold, N - hold, f->final_at - t0));
  assert_int_equal(rec.closed, 0);
  *fp = f;
  return tt;
}

/* Advances the clock to time t (from now). */
static void clock_to(uint64_t t) {
  uint64_t now = nt_reactor_now(R);
  assert_true(t >= now);
  nt_test_clock_advance(R, t - now);
}

/* 1 MB still in the kernel: the data connection may stay quiet for twice
 * its drain time past the idle timeout (which alone failed it at
 * final_at + BASE), exactly; then, once acknowledged and closed, the 226
 * completes it. */
static void test_big_remainder_extends_idle(void **state) {
  (void)state;
  tmp_setup();
  nt_ftp_t *f;
  nt_test_transport_t *tt = upload_written(&f, 1000000);
  uint64_t end = f->final_at + f->final_wait_ms;
  assert_true(f->final_wait_ms >= BASE + 2000); /* 2 x 1 MB at ~1 MB/s */
  clock_to(end - 1);
  assert_int_equal(rec.closed, 0); /* a fixed wait ended at final_at + BASE */
  fake_kernel_unacked = 0;         /* the server caught up */
  nt_test_feed_eof(fakes[0].tt);
  nt_test_feed_str(tt, "226 ok\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "put:ok:226[ok] bytes=2000000 size=2000000\n");
  nt_test_transport_free(tt);
  fakes_free();

  /* the same, and the server never answers: it fails at the end, exactly */
  memset(&rec, 0, sizeof rec);
  tt = upload_written(&f, 1000000);
  end = f->final_at + f->final_wait_ms;
  clock_to(end - 1);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_string_equal(rec.log, "put:ETIMEDOUT:150[go] bytes=2000000\nclosed:ETIMEDOUT\n");
  assert_int_equal(rec.where, NT_FTP_WHERE_DATA);
  nt_test_transport_free(tt);
  tmp_cleanup();
}

/* A few bytes in the kernel at this rate drain in under a millisecond:
 * the idle deadline stays last progress + BASE. */
static void test_small_remainder_changes_nothing(void **state) {
  (void)state;
  tmp_setup();
  nt_ftp_t *f;
  nt_test_transport_t *tt = upload_written(&f, 1000);
  assert_int_equal(f->final_wait_ms, BASE);
  assert_int_equal(f->progress_at, f->final_at); /* the last acknowledgement */
  clock_to(f->final_at + BASE - 1);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.where, NT_FTP_WHERE_DATA);
  nt_test_transport_free(tt);
  tmp_cleanup();
}

/* The data connection ends (the server read it all) while the final wait
 * runs: the reply timeout, which would end at the last progress + BASE,
 * ends at the final wait's end instead; a 226 just before it completes. */
static void test_big_remainder_extends_reply_timeout(void **state) {
  (void)state;
  tmp_setup();
  for (int late = 0; late < 2; late++) {
    memset(&rec, 0, sizeof rec);
    nt_ftp_t *f;
    nt_test_transport_t *tt = upload_written(&f, 1000000);
    uint64_t end = f->final_at + f->final_wait_ms;
    nt_test_clock_advance(R, 500);
    fake_kernel_unacked = 0; /* acknowledged (progress: the reply timeout restarts) */
    nt_test_clock_advance(R, BASE / 10);
    uint64_t last_progress = f->progress_at;
    assert_true(last_progress + BASE < end);
    nt_test_feed_eof(fakes[0].tt); /* the server closes: data done */
    nt_test_run_pending(R);
    clock_to(end - 1);
    assert_int_equal(rec.closed, 0); /* the plain reply timeout: at last_progress + BASE */
    if (!late) {
      nt_test_feed_str(tt, "226 ok\r\n");
      nt_test_run_pending(R);
      assert_string_equal(rec.log, "put:ok:226[ok] bytes=2000000 size=2000000\n");
    } else {
      nt_test_clock_advance(R, 1);
      assert_int_equal(rec.closed, 1);
      assert_int_equal(rec.close_status, NT_ETIMEDOUT);
      assert_int_equal(rec.where, NT_FTP_WHERE_REPLY);
    }
    nt_test_transport_free(tt);
    fakes_free();
  }
  tmp_cleanup();
}

/* The 226 came early: the SIZE that checks the upload then has its own
 * reply timeout, not the rest of the final wait. */
static void test_verify_size_after_the_final_reply(void **state) {
  (void)state;
  tmp_setup();
  verify_size = 1;
  nt_ftp_t *f;
  nt_test_transport_t *tt = upload_written(&f, 1000000);
  uint64_t end = f->final_at + f->final_wait_ms;
  fake_kernel_unacked = 0;
  nt_test_feed_eof(fakes[0].tt);
  nt_test_feed_str(tt, "226 ok\r\n"); /* SIZE up goes out now */
  nt_test_run_pending(R);
  uint64_t sent = nt_reactor_now(R);
  assert_true(sent + BASE < end);
  assert_non_null(strstr(nt_test_output(tt, NULL), "SIZE up\r\n"));
  nt_test_clock_advance(R, BASE - 1);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.where, NT_FTP_WHERE_REPLY);
  verify_size = 0;
  nt_test_transport_free(tt);
  tmp_cleanup();
}

/* A download's data ends with the server's close: nothing of ours is
 * buffered, the final reply gets the reply timeout from its last
 * progress, as before. */
static void test_download_waits_the_reply_timeout(void **state) {
  (void)state;
  test_opts.data_timeout_ms = BASE;
  test_opts.reply_timeout_ms = BASE;
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 5\r\n229 (|||40001|)\r\n150 go\r\n");
  nt_test_run_pending(R);
  nt_test_clock_advance(R, 700);
  nt_test_feed_str(fakes[0].tt, "hello");
  nt_test_feed_eof(fakes[0].tt);
  nt_test_run_pending(R);
  assert_int_equal(f->final_at, 700);
  assert_int_equal(f->final_wait_ms, BASE);
  nt_test_clock_advance(R, BASE - 1);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.where, NT_FTP_WHERE_REPLY);
  nt_test_transport_free(tt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_formula),
      cmocka_unit_test_setup_teardown(test_big_remainder_extends_idle, common_setup,
                                      common_teardown),
      cmocka_unit_test_setup_teardown(test_small_remainder_changes_nothing, common_setup,
                                      common_teardown),
      cmocka_unit_test_setup_teardown(test_big_remainder_extends_reply_timeout, common_setup,
                                      common_teardown),
      cmocka_unit_test_setup_teardown(test_verify_size_after_the_final_reply, common_setup,
                                      common_teardown),
      cmocka_unit_test_setup_teardown(test_download_waits_the_reply_timeout, common_setup,
                                      common_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
