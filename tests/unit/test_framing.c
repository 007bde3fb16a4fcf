/* Line and length-prefixed framing, fed at every byte boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nettool/framing.h"
#include "nettool/testing.h"

/* --- the line reader alone ---------------------------------------------------- */

typedef struct {
  char lines[32][128];
  size_t lens[32];
  int n;
  int stop_after;
} lines_t;

static int collect(void *arg, const char *line, size_t len) {
  lines_t *l = arg;
  assert_true(l->n < 32 && len < 128);
  memcpy(l->lines[l->n], line, len);
  l->lines[l->n][len] = 0;
  l->lens[l->n] = len;
  l->n++;
  return l->stop_after && l->n == l->stop_after;
}

static void test_line_reader_every_split(void **state) {
  (void)state;
  const char *in = "first\r\nsecond\n\r\nfourth line\r\npartial";
  size_t len = strlen(in);
  /* each cut into three pieces, at every pair of boundaries */
  for (size_t a = 0; a <= len; a++) {
    for (size_t b = a; b <= len; b++) {
      nt_line_reader_t lr;
      lines_t got;
      memset(&got, 0, sizeof got);
      nt_line_reader_init(&lr, 64);
      assert_int_equal(nt_line_reader_feed(&lr, in, a, collect, &got, NULL), 0);
      assert_int_equal(nt_line_reader_feed(&lr, in + a, b - a, collect, &got, NULL), 0);
      assert_int_equal(nt_line_reader_feed(&lr, in + b, len - b, collect, &got, NULL), 0);
      assert_int_equal(got.n, 4);
      assert_string_equal(got.lines[0], "first");
      assert_string_equal(got.lines[1], "second");
      assert_string_equal(got.lines[2], "");
      assert_string_equal(got.lines[3], "fourth line");
      assert_int_equal(nt_line_reader_pending(&lr), 7);
      nt_line_reader_free(&lr);
    }
  }
}

static void test_line_reader_limits(void **state) {
  (void)state;
  nt_line_reader_t lr;
  lines_t got;
  memset(&got, 0, sizeof got);
  nt_line_reader_init(&lr, 5);
  /* exactly the limit passes, with \r\n split from it */
  assert_int_equal(nt_line_reader_feed(&lr, "abcde\r", 6, collect, &got, NULL), 0);
  assert_int_equal(nt_line_reader_feed(&lr, "\n", 1, collect, &got, NULL), 0);
  assert_int_equal(got.n, 1);
  assert_string_equal(got.lines[0], "abcde");
  /* one over, whole in one chunk */
  assert_int_equal(nt_line_reader_feed(&lr, "abcdef\n", 7, collect, &got, NULL),
                   NT_ELINETOOLONG);
  nt_line_reader_reset(&lr);
  /* one over, no newline yet: refused before it is buffered past the limit */
  assert_int_equal(nt_line_reader_feed(&lr, "abc", 3, collect, &got, NULL), 0);
  assert_int_equal(nt_line_reader_feed(&lr, "defg", 4, collect, &got, NULL),
                   NT_ELINETOOLONG);
  nt_line_reader_free(&lr);
}

static void test_line_reader_stop(void **state) {
  (void)state;
  nt_line_reader_t lr;
  lines_t got;
  memset(&got, 0, sizeof got);
  got.stop_after = 1;
  nt_line_reader_init(&lr, 64);
  size_t used = 0;
  assert_int_equal(nt_line_reader_feed(&lr, "one\ntwo\n", 8, collect, &got, &used), 1);
  assert_int_equal(used, 4); /* "two\n" left for whoever takes over */
  assert_int_equal(got.n, 1);
  nt_line_reader_free(&lr);
}

/* --- the line receiver protocol, every split ------------------------------------ */

typedef struct {
  nt_line_receiver_t lr;
  lines_t *out;
  int *lost_status;
  int *lost;
} lproto_t;

static void lp_line(nt_line_receiver_t *lr, const char *line, size_t len) {
  lproto_t *p = (lproto_t *)lr;
  collect(p->out, line, len);
  /* answer each line, to check writes from inside the callback */
  nt_line_receiver_send(lr, line, len, 1);
}
static void lp_lost(nt_line_receiver_t *lr, int status) {
  lproto_t *p = (lproto_t *)lr;
  *p->lost_status = status;
  (*p->lost)++;
}
static void lp_destroy(nt_line_receiver_t *lr) { free(lr); }

static const nt_line_receiver_ops_t lp_ops = {
    .line_received = lp_line, .connection_lost = lp_lost, .destroy = lp_destroy};

typedef struct {
  lines_t out;
  int lost_status, lost;
  size_t max;
  const char *expect_output;
  int expect_status;
  int expect_lines;
} lctx_t;

static nt_protocol_t *build_lp(void *arg) {
  lctx_t *c = arg;
  memset(&c->out, 0, sizeof c->out);
  c->lost = 0;
  c->lost_status = 1;
  lproto_t *p = calloc(1, sizeof *p);
  nt_line_receiver_init(&p->lr, &lp_ops, c->max);
  p->out = &c->out;
  p->lost_status = &c->lost_status;
  p->lost = &c->lost;
  return &p->lr.base;
}

static void check_lp(void *arg, nt_test_transport_t *tt, const char *how) {
  lctx_t *c = arg;
  if (c->out.n != c->expect_lines)
    fail_msg("%s: %d lines, want %d", how, c->out.n, c->expect_lines);
  if (c->expect_output)
    assert_string_equal(nt_test_output(tt, NULL), c->expect_output);
  if (c->expect_status != 1) {
    if (!c->lost) fail_msg("%s: connection not lost", how);
    if (c->lost_status != c->expect_status)
      fail_msg("%s: status %d want %d", how, c->lost_status, c->expect_status);
  }
}

static void test_line_receiver_splits(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  lctx_t c;
  memset(&c, 0, sizeof c);
  c.max = 16;
  c.expect_output = "a\r\nbb\r\nccc\r\n";
  c.expect_lines = 3;
  c.expect_status = 0; /* EOF after the input: clean close */
  const char *in = "a\nbb\r\nccc\n";
  size_t runs = nt_test_each_split(r, in, strlen(in), 1, build_lp, check_lp, &c);
  assert_int_equal(runs, strlen(in) + 1);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_line_receiver_too_long(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  lctx_t c;
  memset(&c, 0, sizeof c);
  c.max = 8;
  c.expect_lines = 1; /* the good line before it still counts */
  c.expect_output = "ok\r\n";
  c.expect_status = NT_ELINETOOLONG;
  const char *in = "ok\nthis line is too long\nnever\n";
  nt_test_each_split(r, in, strlen(in), 0, build_lp, check_lp, &c);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- length-prefixed ------------------------------------------------------------------ */

typedef struct {
  nt_msg_receiver_t mr;
  void *ctx;
} mproto_t;

typedef struct {
  char msgs[8][64];
  size_t lens[8];
  int n;
  int lost, lost_status;
  int expect_n, expect_status;
} mctx_t;

static void mp_msg(nt_msg_receiver_t *mr, const char *d, size_t len) {
  mctx_t *c = ((mproto_t *)mr)->ctx;
  assert_true(c->n < 8 && len <= 64);
  memcpy(c->msgs[c->n], d, len);
  c->lens[c->n++] = len;
  nt_msg_write(mr->base.transport, d, len); /* echo, framed */
}
static void mp_lost(nt_msg_receiver_t *mr, int status) {
  mctx_t *c = ((mproto_t *)mr)->ctx;
  c->lost++;
  c->lost_status = status;
}
static void mp_destroy(nt_msg_receiver_t *mr) { free(mr); }

static const nt_msg_receiver_ops_t mp_ops = {
    .message_received = mp_msg, .connection_lost = mp_lost,
    .destroy = mp_destroy};

static nt_protocol_t *build_mp(void *arg) {
  mctx_t *c = arg;
  c->n = 0;
  c->lost = 0;
  mproto_t *p = calloc(1, sizeof *p);
  nt_msg_receiver_init(&p->mr, &mp_ops, 32);
  p->ctx = c;
  return &p->mr.base;
}

static const char framed[] = "\0\0\0\5hello\0\0\0\0\0\0\0\3abc";
#define FRAMED_LEN (sizeof framed - 1)

static void check_mp(void *arg, nt_test_transport_t *tt, const char *how) {
  mctx_t *c = arg;
  if (c->n != c->expect_n) fail_msg("%s: %d messages", how, c->n);
  if (c->expect_n == 3) {
    assert_int_equal(c->lens[0], 5);
    assert_memory_equal(c->msgs[0], "hello", 5);
    assert_int_equal(c->lens[1], 0);
    assert_int_equal(c->lens[2], 3);
    assert_memory_equal(c->msgs[2], "abc", 3);
    size_t n;
    const char *out = nt_test_output(tt, &n);
    assert_int_equal(n, FRAMED_LEN); /* echoed with the same framing */
    assert_memory_equal(out, framed, FRAMED_LEN);
  }
  if (c->expect_status != 1) {
    assert_int_equal(c->lost, 1);
    assert_int_equal(c->lost_status, c->expect_status);
  }
}

static void test_msg_receiver_splits(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  mctx_t c;
  memset(&c, 0, sizeof c);
  c.expect_n = 3;
  c.expect_status = 1; /* still open */
  nt_test_each_split(r, framed, FRAMED_LEN, 0, build_mp, check_mp, &c);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_msg_receiver_too_big(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  mctx_t c;
  memset(&c, 0, sizeof c);
  c.expect_n = 1;
  c.expect_status = NT_ETOOBIG;
  /* "hi", then a header announcing 33 bytes (limit 32), then body */
  const char in[] = "\0\0\0\2hi\0\0\0\41xxxxxxxx";
  nt_test_each_split(r, in, sizeof in - 1, 0, build_mp, check_mp, &c);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_msg_reader_stop(void **state) {
  (void)state;
  nt_msg_reader_t mr;
  nt_msg_reader_init(&mr, 100);
  lines_t got;
  memset(&got, 0, sizeof got);
  got.stop_after = 1;
  size_t used;
  assert_int_equal(nt_msg_reader_feed(&mr, framed, FRAMED_LEN, collect, &got, &used), 1);
  assert_int_equal(used, 9);
  assert_string_equal(got.lines[0], "hello");
  nt_msg_reader_free(&mr);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_line_reader_every_split),
      cmocka_unit_test(test_line_reader_limits),
      cmocka_unit_test(test_line_reader_stop),
      cmocka_unit_test(test_line_receiver_splits),
      cmocka_unit_test(test_line_receiver_too_long),
      cmocka_unit_test(test_msg_receiver_splits),
      cmocka_unit_test(test_msg_receiver_too_big),
      cmocka_unit_test(test_msg_reader_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
