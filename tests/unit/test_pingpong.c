/* The command/response engine, fed scripted servers at every byte boundary:
 * FTP multi-line and preliminary replies, NNTP dot-terminated blocks,
 * timeouts, failures reaching every waiting command, command injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nettool/pingpong.h"
#include "nettool/testing.h"

typedef struct {
  char log[4096];
  size_t len;
  int closed, close_status;
} record_t;

typedef struct {
  nt_pp_t pp;
  record_t *rec;
  int nntp;
} client_t;

static record_t rec;
static nt_reactor_t *R;

static void logf_(record_t *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  r->len += (size_t)vsnprintf(r->log + r->len, sizeof r->log - r->len, fmt, ap);
  va_end(ap);
}

static int on_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                    size_t len) {
  client_t *c = (client_t *)pp;
  const char *what = arg;
  logf_(c->rec, "%s:%d[%.*s]\n", what, code, (int)len, text);
  if (code == 150) return NT_PP_MORE;
  if (code == 215) return NT_PP_BLOCK;
  return NT_PP_DONE;
}

static void on_block(nt_pp_t *pp, void *arg, const char *line, size_t len) {
  client_t *c = (client_t *)pp;
  (void)arg;
  if (line)
    logf_(c->rec, "  |%.*s|\n", (int)len, line);
  else
    logf_(c->rec, "  end\n");
}

static int on_greeting(nt_pp_t *pp, void *arg, int code, const char *text,
                       size_t len) {
  client_t *c = (client_t *)pp;
  (void)arg;
  logf_(c->rec, "greeting:%d[%.*s]\n", code, (int)len, text);
  if (code < 0) return NT_PP_DONE;
  if (c->nntp) {
    assert_int_equal(nt_pp_command(pp, 0, on_reply, on_block, "list", "LIST"), 0);
    assert_int_equal(nt_pp_command(pp, 0, on_reply, NULL, "date", "DATE"), 0);
  } else {
    assert_int_equal(nt_pp_command(pp, 0, on_reply, NULL, "user", "USER %s", "bob"), 0);
    assert_int_equal(nt_pp_command(pp, NT_PP_SECRET, on_reply, NULL, "pass", "PASS %s", "s3cret"), 0);
    assert_int_equal(nt_pp_command(pp, 0, on_reply, NULL, "retr", "RETR f"), 0);
  }
  return NT_PP_DONE;
}

static void on_unsolicited(nt_pp_t *pp, int code, const char *text, size_t len) {
  client_t *c = (client_t *)pp;
  logf_(c->rec, "unsolicited:%d[%.*s]\n", code, (int)len, text);
}
static void on_closed(nt_pp_t *pp, int status) {
  client_t *c = (client_t *)pp;
  c->rec->closed++;
  c->rec->close_status = status;
}
static void on_destroy(nt_pp_t *pp) { free(pp); }

static const nt_pp_ops_t ops = {NULL, on_unsolicited, on_closed, on_destroy};

static nt_protocol_t *build(int nntp, uint64_t timeout_ms) {
  client_t *c = calloc(1, sizeof *c);
  nt_pp_options_t o = {nntp ? NT_PP_STYLE_NNTP : NT_PP_STYLE_FTP, 64, 256, 0,
                       timeout_ms};
  nt_pp_init(&c->pp, R, &ops, &o, on_greeting, NULL);
  c->rec = &rec;
  c->nntp = nntp;
  memset(&rec, 0, sizeof rec);
  return &c->pp.lr.base;
}

static nt_protocol_t *build_ftp(void *arg) {
  (void)arg;
  return build(0, 0);
}
static nt_protocol_t *build_nntp(void *arg) {
  (void)arg;
  return build(1, 0);
}

static const char *expect_log;
static const char *expect_out;

static void check(void *arg, nt_test_transport_t *tt, const char *how) {
  (void)arg;
  if (strcmp(rec.log, expect_log))
    fail_msg("%s:\n got:\n%s\n want:\n%s", how, rec.log, expect_log);
  assert_string_equal(nt_test_output(tt, NULL), expect_out);
}

static void test_ftp_session_every_split(void **state) {
  (void)state;
  const char *server =
      "220-Welcome\r\n"
      "220 ready\r\n"
      "331 Password required\r\n"
      "230-Hello bob\r\n"
      " more text\r\n"
      "230 Logged in\r\n"
      "150 Opening data connection\r\n"
      "226 Transfer complete\r\n";
  expect_log =
      "greeting:220[Welcome\nready]\n"
      "user:331[Password required]\n"
      "pass:230[Hello bob\n more text\nLogged in]\n"
      "retr:150[Opening data connection]\n"
      "retr:226[Transfer complete]\n";
  expect_out = "USER bob\r\nPASS s3cret\r\nRETR f\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_ftp, check, NULL);
}

static void test_nntp_block_every_split(void **state) {
  (void)state;
  const char *server =
      "200 news ready\r\n"
      "215 list follows\r\n"
      "local.test 5 1 y\r\n"
      "..dot-stuffed\r\n"
      "\r\n"
      ".\r\n"
      "111 20261122151100\r\n";
  expect_log =
      "greeting:200[news ready]\n"
      "list:215[list follows]\n"
      "  |local.test 5 1 y|\n"
      "  |.dot-stuffed|\n"
      "  ||\n"
      "  end\n"
      "date:111[20261122151100]\n";
  expect_out = "LIST\r\nDATE\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_nntp, check, NULL);
}

static void test_timeout_fails_every_waiter(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 5000));
  nt_test_feed_str(tt, "220 hi\r\n");
  nt_test_clock_advance(R, 4999);
  assert_int_equal(rec.closed, 0);
  nt_test_feed_str(tt, "331 "); /* half a line does not restart the wait */
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  assert_string_equal(rec.log,
                      "greeting:220[hi]\n"
                      "user:-110[]\n"
                      "pass:-110[]\n"
                      "retr:-110[]\n");
  nt_test_transport_free(tt);
}

/* A server trickling a byte a second never completes a reply: the command
 * still times out timeout_ms after it was sent (it used to stay alive for
 * as long as the bytes kept coming). */
static void test_trickled_reply_times_out(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 5000));
  nt_test_feed_str(tt, "220 hi\r\n"); /* USER goes out now */
  const char *trickle = "331-Please specify\r\n331-the password\r\n";
  for (int i = 0; i < 4; i++) {
    nt_test_clock_advance(R, 1000);
    nt_test_feed(tt, trickle + i, 1);
    assert_int_equal(rec.closed, 0);
  }
  nt_test_clock_advance(R, 999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  nt_test_transport_free(tt);

  /* whole lines of a multi-line reply do not extend it either */
  tt = nt_test_transport_new(R, build(0, 5000));
  nt_test_feed_str(tt, "220 hi\r\n");
  for (int i = 0; i < 4; i++) {
    nt_test_clock_advance(R, 1200);
    nt_test_feed_str(tt, "331-more\r\n");
  }
  nt_test_clock_advance(R, 200);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  nt_test_transport_free(tt);
}

/* Inside a block each complete line is progress; silence is not. */
static void test_block_lines_restart_the_wait(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(1, 5000));
  nt_test_feed_str(tt, "200 ok\r\n215 list\r\n");
  for (int i = 0; i < 5; i++) {
    nt_test_clock_advance(R, 4000);
    nt_test_feed_str(tt, "group 1 1 y\r\n");
  }
  assert_int_equal(rec.closed, 0);
  nt_test_feed_str(tt, "gro"); /* half a line */
  nt_test_clock_advance(R, 4999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  nt_test_transport_free(tt);
}

/* nt_pp_touch: progress the engine cannot see restarts the wait. */
static void test_touch(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 5000));
  client_t *c = (client_t *)nt_test_transport_base(tt)->protocol;
  nt_test_feed_str(tt, "220 hi\r\n");
  nt_test_clock_advance(R, 4000);
  nt_pp_touch(&c->pp);
  nt_test_clock_advance(R, 4000);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1000);
  assert_int_equal(rec.closed, 1);
  nt_test_transport_free(tt);
}

static void test_close_mid_block(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(1, 0));
  nt_test_feed_str(tt, "200 ok\r\n215 list\r\na\r\n");
  nt_test_feed_eof(tt);
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, 0);
  assert_string_equal(rec.log,
                      "greeting:200[ok]\n"
                      "list:215[list]\n"
                      "  |a|\n"
                      "list:-3006[]\n"
                      "date:-3006[]\n");
  nt_test_transport_free(tt);
}

static void test_bad_replies(void **state) {
  (void)state;
  const char *bad[] = {"hello there\r\n", "2x0 no\r\n", "600 out of range\r\n",
                       "22\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 0));
    nt_test_feed_str(tt, bad[i]);
    nt_test_run_pending(R);
    assert_int_equal(rec.closed, 1);
    assert_int_equal(rec.close_status, NT_EPROTO);
    nt_test_transport_free(tt);
  }
  /* a line over the limit (64) and a reply over its limit (256) */
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 0));
  char line[100];
  memset(line, 'x', sizeof line);
  memcpy(line, "220 ", 4);
  nt_test_feed(tt, line, sizeof line);
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ELINETOOLONG);
  nt_test_transport_free(tt);
  tt = nt_test_transport_new(R, build(0, 0));
  nt_test_feed_str(tt, "220-start\r\n");
  for (int i = 0; i < 10; i++) nt_test_feed_str(tt, " forty bytes of continuation text....\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ETOOBIG);
  nt_test_transport_free(tt);
}

static int noop_reply(nt_pp_t *pp, void *arg, int code, const char *t, size_t n) {
  (void)pp, (void)arg, (void)code, (void)t, (void)n;
  return NT_PP_DONE;
}

static void test_injection_refused_and_unsolicited(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 0));
  nt_pp_t *pp = (nt_pp_t *)nt_test_transport_base(tt)->protocol;
  nt_test_feed_str(tt, "220 hi\r\n331 u\r\n230 p\r\n150 go\r\n226 ok\r\n");
  nt_test_output_clear(tt);
  assert_int_equal(nt_pp_command(pp, 0, noop_reply, NULL, NULL, "DELE %s", "a\r\nRMD /"),
                   NT_EINVAL);
  assert_int_equal(nt_pp_command(pp, 0, noop_reply, NULL, NULL, "DELE %s", "a\nb"), NT_EINVAL);
  assert_int_equal(nt_pp_pending(pp), 0);
  assert_string_equal(nt_test_output(tt, NULL), "");
  nt_test_feed_str(tt, "421 Timeout, closing\r\n");
  assert_non_null(strstr(rec.log, "unsolicited:421[Timeout, closing]"));
  assert_int_equal(nt_pp_last_code(pp), 421);
  assert_string_equal(nt_pp_last_reply(pp), "Timeout, closing");
  nt_test_transport_free(tt);
}

static int setup(void **state) {
  (void)state;
  return nt_test_reactor_new(&R);
}
static int teardown(void **state) {
  (void)state;
  nt_reactor_free(R);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ftp_session_every_split),
      cmocka_unit_test(test_nntp_block_every_split),
      cmocka_unit_test(test_timeout_fails_every_waiter),
      cmocka_unit_test(test_trickled_reply_times_out),
      cmocka_unit_test(test_block_lines_restart_the_wait),
      cmocka_unit_test(test_touch),
      cmocka_unit_test(test_close_mid_block),
      cmocka_unit_test(test_bad_replies),
      cmocka_unit_test(test_injection_refused_and_unsolicited),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
