/* The timestamp service on the test reactor: exact replies on the virtual
 * wall clock, every split of input and replies, the client's timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nettool/testing.h"
#include "nettool/timestamp.h"

#define PREFIX "[Sun Nov 22 15:11:00 2026]: "

static nt_reactor_t *new_reactor(void) {
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  return r;
}

static void test_prefix_format(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  char buf[NT_TS_PREFIX_MAX];
  assert_int_equal(nt_ts_prefix(r, buf, sizeof buf), strlen(PREFIX));
  assert_string_equal(buf, PREFIX);
  nt_test_clock_advance(r, 61 * 1000);
  nt_ts_prefix(r, buf, sizeof buf);
  assert_string_equal(buf, "[Sun Nov 22 15:12:01 2026]: ");
  /* ctime pads a one-digit day with a space */
  nt_test_clock_set_wall(r, 1793632260 - 61); /* Mon Nov  2 15:11:00 2026 */
  nt_ts_prefix(r, buf, sizeof buf);
  assert_string_equal(buf, "[Mon Nov  2 15:11:00 2026]: ");
  /* a small buffer is truncated, never overrun */
  char small[8];
  nt_ts_prefix(r, small, sizeof small);
  assert_string_equal(small, "[Mon No");
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- server: one reply per chunk, whatever the split ---------------------------- */

typedef struct {
  nt_factory_t factory;
  size_t chunks;
} sctx_t;

static nt_protocol_t *build_server(void *arg) {
  sctx_t *c = arg;
  return c->factory.ops->build_protocol(&c->factory, NULL, 0);
}

static void check_server(void *arg, nt_test_transport_t *tt, const char *how) {
  (void)arg;
  size_t n;
  const char *out = nt_test_output(tt, &n);
  /* strip every prefix: what is left is the input, in order */
  char rest[256];
  size_t rl = 0, replies = 0;
  const char *p = out;
  while (p < out + n) {
    if (strncmp(p, PREFIX, strlen(PREFIX)))
      fail_msg("%s: reply %zu lacks the prefix: %s", how, replies, out);
    p += strlen(PREFIX);
    replies++;
    const char *next = strstr(p, "[Sun Nov");
    size_t len = next ? (size_t)(next - p) : (size_t)(out + n - p);
    memcpy(rest + rl, p, len);
    rl += len;
    p += len;
  }
  rest[rl] = 0;
  assert_string_equal(rest, "hello\nworld\n");
  if (!strcmp(how, "whole")) assert_int_equal(replies, 1);
  if (!strcmp(how, "byte by byte")) assert_int_equal(replies, 12);
  if (!strncmp(how, "split", 5)) assert_int_equal(replies, 2);
}

static void test_server_every_split(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  sctx_t c;
  memset(&c, 0, sizeof c);
  nt_ts_server_factory_init(&c.factory);
  const char *in = "hello\nworld\n";
  size_t runs = nt_test_each_split(r, in, strlen(in), 1, build_server,
                                   check_server, &c);
  assert_int_equal(runs, strlen(in) + 1);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_server_binary_and_short_writes(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_factory_t f;
  nt_ts_server_factory_init(&f);
  nt_protocol_t *p = f.ops->build_protocol(&f, NULL, 0);
  nt_test_transport_t *tt = nt_test_transport_new(r, p);
  nt_test_set_room(tt, 5); /* the socket takes 5 bytes, then blocks */
  nt_test_feed(tt, "\x00\xff\x01", 3);
  nt_transport_t *t = nt_test_transport_base(tt);
  assert_int_equal(nt_transport_write_buffer_size(t), strlen(PREFIX) + 3 - 5);
  nt_test_set_room(tt, SIZE_MAX);
  nt_test_drain(tt, 0);
  size_t n;
  const char *out = nt_test_output(tt, &n);
  assert_int_equal(n, strlen(PREFIX) + 3);
  assert_memory_equal(out + strlen(PREFIX), "\x00\xff\x01", 3);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* A peer that sends and never reads: once the replies waiting for it pass
 * the high-water mark the server stops reading (what the peer sends then
 * waits on its side, as in the kernel's buffers), and it reads again when
 * the peer drained them below the low-water mark. Every byte is answered,
 * in order, and the server never holds much more than the mark. */
static void test_server_backpressure(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_factory_t f;
  nt_ts_server_factory_init(&f);
  nt_test_transport_t *tt =
      nt_test_transport_new(r, f.ops->build_protocol(&f, NULL, 0));
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_test_set_room(tt, 0); /* the peer reads nothing */
  enum { CHUNK = 8192, CHUNKS = 64 }; /* 512 KiB sent in all */
  static char chunk[CHUNK];
  size_t max_queued = 0;
  int fed_while_paused = 0;
  for (int i = 0; i < CHUNKS; i++) {
    memset(chunk, 'a' + i % 26, sizeof chunk);
    if (!nt_test_reading(tt)) fed_while_paused++;
    nt_test_feed(tt, chunk, sizeof chunk);
    size_t q = nt_transport_write_buffer_size(t);
    if (q > max_queued) max_queued = q;
  }
  /* Reading stopped as soon as the mark was passed, and stayed stopped. */
  assert_false(nt_test_reading(tt));
  assert_true(fed_while_paused >= CHUNKS - 10);
  assert_true(max_queued > NT_DEFAULT_HIGH_WATER);
  assert_true(max_queued <= NT_DEFAULT_HIGH_WATER + CHUNK + NT_TS_PREFIX_MAX);
  nt_test_run_pending(r);
  assert_false(nt_test_reading(tt));
  /* Draining less than the way down to the low-water mark is not enough. */
  size_t q0 = nt_transport_write_buffer_size(t);
  nt_test_drain(tt, q0 - NT_DEFAULT_LOW_WATER - 1);
  nt_test_run_pending(r);
  assert_false(nt_test_reading(tt));
  /* The peer reads as it goes: everything is answered, in order. */
  for (int k = 0; k < 10000; k++) {
    nt_test_drain(tt, 20000);
    nt_test_run_pending(r);
    if (nt_test_reading(tt) && nt_transport_write_buffer_size(t) == 0) break;
  }
  assert_true(nt_test_reading(tt));
  assert_int_equal(nt_transport_write_buffer_size(t), 0);
  size_t n;
  const char *out = nt_test_output(tt, &n);
  size_t pos = 0, payload = 0;
  int next = 0;
  while (pos < n) {
    assert_memory_equal(out + pos, PREFIX, strlen(PREFIX));
    pos += strlen(PREFIX);
    while (pos < n && out[pos] != '[') {
      if (out[pos] != 'a' + (int)(payload / CHUNK) % 26)
        fail_msg("byte %zu of the payload is '%c'", payload, out[pos]);
      pos++;
      payload++;
    }
    next++;
  }
  assert_int_equal(payload, (size_t)CHUNKS * CHUNK);
  assert_true(next > 1);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- client ------------------------------------------------------------------------- */

typedef struct {
  int connected;
  char replies[4][256];
  size_t reply_len[4];
  int nreplies;
  int closed;
  int status;
  nt_ts_client_t *client;
} cctx_t;

static void c_connected(nt_ts_client_t *c, void *arg) {
  cctx_t *x = arg;
  x->connected++;
  assert_int_equal(nt_ts_client_send(c, "hello", 5), 0);
  assert_int_equal(nt_ts_client_send(c, "again", 5), NT_EBUSY);
}
static void c_reply(nt_ts_client_t *c, const char *d, size_t n, void *arg) {
  cctx_t *x = arg;
  (void)c;
  assert_true(x->nreplies < 4 && n < 256);
  memcpy(x->replies[x->nreplies], d, n);
  x->replies[x->nreplies][n] = 0;
  x->reply_len[x->nreplies++] = n;
}
static void c_closed(nt_ts_client_t *c, int status, void *arg) {
  cctx_t *x = arg;
  (void)c;
  x->closed++;
  x->status = status;
}

static const nt_ts_client_callbacks_t cbs = {c_connected, c_reply, c_closed};

static cctx_t cc;
static nt_reactor_t *split_reactor;

static nt_protocol_t *build_client(void *arg) {
  (void)arg;
  memset(&cc, 0, sizeof cc);
  assert_int_equal(nt_ts_client_new(split_reactor, NULL, &cbs, &cc, &cc.client), 0);
  return nt_ts_client_protocol(cc.client);
}

static void check_client(void *arg, nt_test_transport_t *tt, const char *how) {
  (void)arg;
  assert_int_equal(cc.connected, 1);
  assert_string_equal(nt_test_output(tt, NULL), "hello\n");
  if (cc.nreplies != 1) fail_msg("%s: %d replies", how, cc.nreplies);
  assert_string_equal(cc.replies[0], PREFIX "hello");
  assert_int_equal(cc.closed, 0);
}

static void test_client_reply_every_split(void **state) {
  (void)state;
  split_reactor = new_reactor();
  const char *reply = PREFIX "hello\r\n";
  nt_test_each_split(split_reactor, reply, strlen(reply), 0, build_client,
                     check_client, NULL);
  assert_int_equal(nt_test_reactor_free(split_reactor), 0);
}

static nt_test_transport_t *start_client(nt_reactor_t *r,
                                         const nt_ts_client_options_t *o) {
  memset(&cc, 0, sizeof cc);
  assert_int_equal(nt_ts_client_new(r, o, &cbs, &cc, &cc.client), 0);
  nt_test_transport_t *tt = nt_test_transport_new(r, nt_ts_client_protocol(cc.client));
  assert_int_equal(cc.connected, 1);
  return tt;
}

static void test_client_quiet_period(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_test_transport_t *tt = start_client(r, NULL);
  nt_test_feed_str(tt, "[no newline] hel");
  nt_test_clock_advance(r, 150);
  nt_test_feed_str(tt, "lo"); /* restarts the quiet period */
  nt_test_clock_advance(r, 150);
  assert_int_equal(cc.nreplies, 0);
  nt_test_clock_advance(r, 60);
  assert_int_equal(cc.nreplies, 1);
  assert_string_equal(cc.replies[0], "[no newline] hello");
  nt_test_transport_free(tt);
  assert_int_equal(cc.closed, 1);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_client_reply_timeout(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_ts_client_options_t o = {.reply_timeout_ms = 2000};
  nt_test_transport_t *tt = start_client(r, &o);
  nt_test_clock_advance(r, 1999);
  assert_int_equal(cc.closed, 0);
  nt_test_clock_advance(r, 1);
  assert_int_equal(cc.closed, 1);
  assert_int_equal(cc.status, NT_ETIMEDOUT);
  assert_true(nt_test_is_lost(tt));
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* The reply limit counts from each request: bytes trickled faster than the
 * quiet period do not extend it, and time spent between requests (waiting
 * for the user's next line) does not shorten the next one. */
static void test_client_reply_timeout_trickle_and_pause(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_ts_client_options_t o = {.reply_timeout_ms = 1000};
  nt_test_transport_t *tt = start_client(r, &o);
  nt_test_feed_str(tt, "[x]: hello\n");
  assert_int_equal(cc.nreplies, 1);
  nt_test_clock_advance(r, 20000); /* the user pauses 20 s */
  assert_int_equal(nt_ts_client_send(cc.client, "next", 4), 0);
  nt_test_clock_advance(r, 999);
  assert_int_equal(cc.closed, 0);
  nt_test_feed_str(tt, "[x]: next\n");
  assert_int_equal(cc.nreplies, 2);
  /* A reply trickled one byte per 100 ms never completes: 1 s and out. */
  assert_int_equal(nt_ts_client_send(cc.client, "slow", 4), 0);
  for (int i = 0; i < 9; i++) {
    nt_test_feed_str(tt, "x");
    nt_test_clock_advance(r, 100);
  }
  nt_test_feed_str(tt, "x");
  assert_int_equal(cc.closed, 0);
  nt_test_clock_advance(r, 100);
  assert_int_equal(cc.closed, 1);
  assert_int_equal(cc.status, NT_ETIMEDOUT);
  assert_int_equal(cc.nreplies, 2);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_client_server_closes_early(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_test_transport_t *tt = start_client(r, NULL);
  nt_test_feed_eof(tt);
  nt_test_run_pending(r);
  assert_int_equal(cc.closed, 1);
  assert_int_equal(cc.status, NT_EUNEXPECTEDEOF);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_client_reset(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_test_transport_t *tt = start_client(r, NULL);
  nt_test_feed_str(tt, "[partial");
  nt_test_reset(tt);
  nt_test_run_pending(r);
  assert_int_equal(cc.nreplies, 1); /* what came is still shown */
  assert_int_equal(cc.closed, 1);
  assert_int_equal(cc.status, NT_ECONNRESET);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_client_reply_too_big(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_test_transport_t *tt = start_client(r, NULL);
  char *big = malloc(70000);
  memset(big, 'x', 70000);
  nt_test_feed(tt, big, 70000);
  free(big);
  nt_test_run_pending(r);
  assert_int_equal(cc.closed, 1);
  assert_int_equal(cc.status, NT_ETOOBIG);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_client_close_is_clean(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_test_transport_t *tt = start_client(r, NULL);
  nt_test_feed_str(tt, "[x]: hello\n");
  assert_int_equal(cc.nreplies, 1);
  nt_ts_client_close(cc.client);
  nt_test_run_pending(r);
  assert_true(nt_test_peer_got_eof(tt));
  assert_int_equal(cc.closed, 1);
  assert_int_equal(cc.status, 0);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* Client and server talking through memory. */
static void test_client_server_pair(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor();
  nt_factory_t f;
  nt_ts_server_factory_init(&f);
  memset(&cc, 0, sizeof cc);
  assert_int_equal(nt_ts_client_new(r, NULL, &cbs, &cc, &cc.client), 0);
  nt_test_pair_t *pr = nt_test_pair_new(r, nt_ts_client_protocol(cc.client),
                                        f.ops->build_protocol(&f, NULL, 0));
  nt_test_pair_pump(pr);
  assert_int_equal(cc.nreplies, 1);
  assert_string_equal(cc.replies[0], PREFIX "hello");
  nt_ts_client_close(cc.client);
  nt_test_pair_pump(pr);
  assert_int_equal(cc.closed, 1);
  assert_int_equal(cc.status, 0);
  assert_true(nt_test_is_lost(nt_test_pair_server(pr)));
  nt_test_pair_free(pr);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

int main(void) {
  setenv("TZ", "UTC", 1);
  tzset();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prefix_format),
      cmocka_unit_test(test_server_every_split),
      cmocka_unit_test(test_server_binary_and_short_writes),
      cmocka_unit_test(test_server_backpressure),
      cmocka_unit_test(test_client_reply_every_split),
      cmocka_unit_test(test_client_quiet_period),
      cmocka_unit_test(test_client_reply_timeout),
      cmocka_unit_test(test_client_reply_timeout_trickle_and_pause),
      cmocka_unit_test(test_client_server_closes_early),
      cmocka_unit_test(test_client_reset),
      cmocka_unit_test(test_client_reply_too_big),
      cmocka_unit_test(test_client_close_is_clean),
      cmocka_unit_test(test_client_server_pair),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
