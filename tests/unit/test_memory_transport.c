/* The stream core through the in-memory transport: try-write-first, queueing
 * on short writes, water marks, closing, half-close, resets, pausing, and the
 * test helpers themselves (splits, pairs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/testing.h"
#include "nettool/transport.h"

/* A recording protocol. */
typedef struct {
  nt_protocol_t base;
  char in[8192];
  size_t in_len;
  int made, eofs, lost, destroyed, pauses, resumes;
  int lost_status;
  int keep_half_open;
  int *destroyed_flag; /* outlives the protocol */
} rec_t;

static void rec_made(nt_protocol_t *p, nt_transport_t *t) {
  rec_t *r = (rec_t *)p;
  assert_ptr_equal(p->transport, t);
  r->made++;
}
static void rec_data(nt_protocol_t *p, const char *d, size_t n) {
  rec_t *r = (rec_t *)p;
  assert_true(r->in_len + n <= sizeof r->in);
  memcpy(r->in + r->in_len, d, n);
  r->in_len += n;
}
static int rec_eof(nt_protocol_t *p) {
  rec_t *r = (rec_t *)p;
  r->eofs++;
  return r->keep_half_open;
}
static void rec_lost(nt_protocol_t *p, int status) {
  rec_t *r = (rec_t *)p;
  r->lost++;
  r->lost_status = status;
}
static void rec_pause(nt_protocol_t *p) { ((rec_t *)p)->pauses++; }
static void rec_resume(nt_protocol_t *p) { ((rec_t *)p)->resumes++; }
static void rec_destroy(nt_protocol_t *p) {
  rec_t *r = (rec_t *)p;
  r->destroyed++;
  if (r->destroyed_flag) *r->destroyed_flag = 1;
}

static const nt_protocol_ops_t rec_ops = {
    .connection_made = rec_made,
    .data_received = rec_data,
    .eof_received = rec_eof,
    .connection_lost = rec_lost,
    .pause_writing = rec_pause,
    .resume_writing = rec_resume,
    .destroy = rec_destroy,
};

static void rec_init(rec_t *r) {
  memset(r, 0, sizeof *r);
  nt_protocol_init(&r->base, &rec_ops);
}

#include "test_reactor_fixture.h"

static void test_write_passes_through(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  assert_int_equal(p.made, 1);
  assert_int_equal(nt_transport_write_str(t, "hello "), 0);
  struct iovec iov[2] = {{"wor", 3}, {"ld", 2}};
  assert_int_equal(nt_transport_writev(t, iov, 2), 0);
  size_t n;
  const char *out = nt_test_output(tt, &n);
  assert_int_equal(n, 11);
  assert_string_equal(out, "hello world");
  assert_int_equal(nt_transport_write_buffer_size(t), 0);
  nt_test_feed_str(tt, "abc");
  assert_int_equal(p.in_len, 3);
  nt_test_transport_free(tt);
  assert_int_equal(p.lost, 1);
  assert_int_equal(p.lost_status, NT_ECONNABORTED);
  assert_int_equal(p.destroyed, 1);
}

/* Short writes: the socket takes 4 bytes; the rest is queued in order,
 * crossing high water pauses the producer, draining below low resumes it. */
static void test_short_writes_and_water_marks(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_transport_set_write_limits(t, 100, 20);
  nt_test_set_room(tt, 4);
  char chunk[50];
  for (int i = 0; i < 50; i++) chunk[i] = (char)('a' + i % 26);
  assert_int_equal(nt_transport_write(t, chunk, 50), 0);
  assert_int_equal(nt_transport_write_buffer_size(t), 46);
  assert_int_equal(p.pauses, 0);
  assert_int_equal(nt_transport_write(t, chunk, 50), 0);
  assert_int_equal(nt_transport_write(t, chunk, 50), 0);
  assert_int_equal(nt_transport_write_buffer_size(t), 146);
  assert_int_equal(p.pauses, 1); /* once, when crossing */
  nt_test_drain(tt, 100);
  assert_int_equal(nt_transport_write_buffer_size(t), 46);
  assert_int_equal(p.resumes, 0); /* still above low water */
  nt_test_drain(tt, 30);
  assert_int_equal(nt_transport_write_buffer_size(t), 16);
  assert_int_equal(p.resumes, 1);
  nt_test_set_room(tt, SIZE_MAX);
  nt_test_drain(tt, 0);
  size_t n;
  const char *out = nt_test_output(tt, &n);
  assert_int_equal(n, 150);
  for (int i = 0; i < 150; i++) assert_int_equal(out[i], chunk[i % 50]);
  nt_test_transport_free(tt);
}

static void test_lose_connection_flushes_first(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_test_set_room(tt, 3);
  nt_transport_write_str(t, "goodbye");
  nt_transport_lose_connection(t);
  assert_true(nt_transport_is_closing(t));
  assert_int_equal(nt_transport_write_str(t, "more"), NT_ECLOSED);
  nt_test_run_pending(f->r);
  assert_int_equal(p.lost, 0); /* still flushing */
  nt_test_feed_str(tt, "ignored"); /* no reads while closing */
  assert_int_equal(p.in_len, 0);
  nt_test_drain(tt, 100);
  nt_test_run_pending(f->r);
  assert_int_equal(p.lost, 1);
  assert_int_equal(p.lost_status, 0);
  assert_int_equal(p.destroyed, 1);
  assert_true(nt_test_peer_got_eof(tt));
  assert_string_equal(nt_test_output(tt, NULL), "goodbye");
  nt_test_transport_free(tt);
  assert_int_equal(p.lost, 1); /* not twice */
}

static void test_abort_drops_queue(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_test_set_room(tt, 2);
  nt_transport_write_str(t, "abcdef");
  nt_transport_abort(t);
  assert_int_equal(p.lost, 0); /* never from inside the caller */
  nt_test_run_pending(f->r);
  assert_int_equal(p.lost, 1);
  assert_int_equal(p.lost_status, NT_ECONNABORTED);
  assert_string_equal(nt_test_output(tt, NULL), "ab");
  nt_test_transport_free(tt);
}

static void test_peer_eof_closes_by_default(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_test_feed_str(tt, "last words");
  nt_test_feed_eof(tt);
  nt_test_run_pending(f->r);
  assert_int_equal(p.eofs, 1);
  assert_int_equal(p.lost, 1);
  assert_int_equal(p.lost_status, 0);
  assert_int_equal(p.in_len, 10);
  nt_test_transport_free(tt);
}

static void test_half_close_both_ways(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  p.keep_half_open = 1;
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_test_feed_eof(tt);
  nt_test_run_pending(f->r);
  assert_int_equal(p.eofs, 1);
  assert_int_equal(p.lost, 0); /* half-open: we may still write */
  assert_false(nt_test_reading(tt));
  assert_int_equal(nt_transport_write_str(t, "reply"), 0);
  assert_int_equal(nt_transport_write_eof(t), 0);
  assert_int_equal(nt_transport_write_str(t, "late"), NT_ECLOSED);
  nt_test_run_pending(f->r);
  assert_true(nt_test_peer_got_eof(tt));
  assert_int_equal(p.lost, 1); /* both directions done */
  assert_int_equal(p.lost_status, 0);
  assert_string_equal(nt_test_output(tt, NULL), "reply");
  nt_test_transport_free(tt);
}

static void test_write_eof_then_read_on(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_test_set_room(tt, 1);
  nt_transport_write_str(t, "req");
  nt_transport_write_eof(t);
  assert_false(nt_test_peer_got_eof(tt)); /* after the queue drains */
  nt_test_drain(tt, 10);
  assert_true(nt_test_peer_got_eof(tt));
  nt_test_feed_str(tt, "response");
  assert_int_equal(p.in_len, 8);
  nt_test_feed_eof(tt);
  nt_test_run_pending(f->r);
  assert_int_equal(p.lost, 1);
  assert_int_equal(p.lost_status, 0);
  nt_test_transport_free(tt);
}

static void test_reset_mid_stream(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_test_set_room(tt, 0);
  nt_transport_write_str(t, "queued");
  nt_test_feed_str(tt, "par");
  nt_test_reset(tt);
  nt_test_feed_str(tt, "tial"); /* after the reset: gone */
  nt_test_run_pending(f->r);
  assert_int_equal(p.in_len, 3);
  assert_int_equal(p.lost, 1);
  assert_int_equal(p.lost_status, NT_ECONNRESET);
  assert_int_equal(nt_transport_write_str(t, "x"), NT_ECLOSED);
  nt_test_transport_free(tt);
}

static void test_pause_reading_backlog(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_transport_pause_reading(t);
  nt_test_feed_str(tt, "held ");
  nt_test_feed_str(tt, "back");
  nt_test_feed_eof(tt);
  nt_test_run_pending(f->r);
  assert_int_equal(p.in_len, 0);
  assert_int_equal(p.eofs, 0);
  nt_transport_resume_reading(t);
  assert_int_equal(p.in_len, 0); /* delivered from the loop, not inline */
  nt_test_run_pending(f->r);
  assert_int_equal(p.in_len, 9);
  assert_memory_equal(p.in, "held back", 9);
  assert_int_equal(p.eofs, 1);
  assert_int_equal(p.lost, 1);
  nt_test_transport_free(tt);
}

static void test_write_file(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  char path[] = "/tmp/nt-unit-file-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  char data[40000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7);
  assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_test_set_room(tt, 0);
  nt_transport_write_str(t, "<");
  assert_int_equal(nt_transport_write_file(t, fd, 100, 30000), 0);
  close(fd); /* the transport has its own descriptor */
  nt_transport_write_str(t, ">");
  assert_int_equal(nt_transport_write_buffer_size(t), 30002);
  for (int i = 0; i < 100 && nt_transport_write_buffer_size(t); i++)
    nt_test_drain(tt, 1000);
  size_t n;
  const char *out = nt_test_output(tt, &n);
  assert_int_equal(n, 30002);
  assert_int_equal(out[0], '<');
  assert_memory_equal(out + 1, data + 100, 30000);
  assert_int_equal(out[30001], '>');
  nt_test_transport_free(tt);
}

static void test_write_file_shrunk(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  char path[] = "/tmp/nt-unit-file-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  assert_int_equal(write(fd, "short", 5), 5);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_test_set_room(tt, 0);
  assert_int_equal(nt_transport_write_file(t, fd, 0, 100), 0);
  close(fd);
  nt_test_drain(tt, 1000);
  nt_test_run_pending(f->r);
  assert_int_equal(p.lost, 1);
  assert_int_equal(p.lost_status, NT_EUNEXPECTEDEOF);
  nt_test_transport_free(tt);
}

/* A protocol that closes the connection from inside data_received: no more
 * data may arrive, and it must not be freed while on the stack. */
typedef struct {
  rec_t rec;
} closer_t;

static void closer_data(nt_protocol_t *p, const char *d, size_t n) {
  rec_data(p, d, n);
  nt_transport_lose_connection(p->transport);
  nt_transport_lose_connection(p->transport); /* idempotent */
  assert_int_equal(((rec_t *)p)->destroyed, 0);
}

static const nt_protocol_ops_t closer_ops = {
    .connection_made = rec_made,
    .data_received = closer_data,
    .eof_received = rec_eof,
    .connection_lost = rec_lost,
    .destroy = rec_destroy,
};

static void test_close_from_callback(void **state) {
  fixture *f = *state;
  rec_t p;
  rec_init(&p);
  p.base.ops = &closer_ops;
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &p.base);
  nt_test_feed_str(tt, "one");
  nt_test_feed_str(tt, "two");
  nt_test_run_pending(f->r);
  assert_int_equal(p.in_len, 3);
  assert_int_equal(p.lost, 1);
  assert_int_equal(p.destroyed, 1);
  nt_test_transport_free(tt);
}

/* The split helper: every cut and byte by byte reach the protocol whole. */
typedef struct {
  rec_t *last; /* alive until destroyed */
  rec_t final; /* what it had when destroyed */
  size_t runs;
} split_ctx;

static split_ctx *current_split;

static void rec_destroy_free(nt_protocol_t *p) {
  if (current_split && current_split->last == (rec_t *)p) {
    current_split->final = *(rec_t *)p;
    current_split->last = NULL;
  }
  free(p);
}

static const nt_protocol_ops_t rec_free_ops = {
    .connection_made = rec_made,
    .data_received = rec_data,
    .eof_received = rec_eof,
    .connection_lost = rec_lost,
    .pause_writing = rec_pause,
    .resume_writing = rec_resume,
    .destroy = rec_destroy_free,
};

static nt_protocol_t *build_rec(void *arg) {
  split_ctx *c = arg;
  rec_t *r = malloc(sizeof *r);
  rec_init(r);
  r->base.ops = &rec_free_ops;
  c->last = r;
  return &r->base;
}

static void check_rec(void *arg, nt_test_transport_t *tt, const char *how) {
  split_ctx *c = arg;
  /* with the peer's EOF the protocol closed and was destroyed already */
  assert_true(nt_test_is_lost(tt));
  assert_null(c->last);
  if (c->final.in_len != 5 || memcmp(c->final.in, "hello", 5))
    fail_msg("%s: got %zu bytes", how, c->final.in_len);
  assert_int_equal(c->final.eofs, 1);
  assert_int_equal(c->final.lost_status, 0);
  c->runs++;
}

static void test_each_split(void **state) {
  fixture *f = *state;
  static split_ctx c;
  current_split = &c;
  size_t runs = nt_test_each_split(f->r, "hello", 5, 1, build_rec, check_rec, &c);
  /* whole + 4 two-piece cuts + byte by byte */
  assert_int_equal(runs, 6);
  assert_int_equal(c.runs, 6);
  current_split = NULL;
}

/* Two protocols connected through memory. */
static void echo_data(nt_protocol_t *p, const char *d, size_t n) {
  rec_data(p, d, n);
  nt_transport_write(p->transport, d, n);
}
static const nt_protocol_ops_t echo_ops = {
    .connection_made = rec_made,
    .data_received = echo_data,
    .eof_received = rec_eof,
    .connection_lost = rec_lost,
    .destroy = rec_destroy,
};

static void test_pair(void **state) {
  fixture *f = *state;
  rec_t client, server;
  rec_init(&client);
  rec_init(&server);
  server.base.ops = &echo_ops;
  nt_test_pair_t *pr = nt_test_pair_new(f->r, &client.base, &server.base);
  nt_transport_t *ct = nt_test_transport_base(nt_test_pair_client(pr));
  nt_transport_write_str(ct, "ping");
  assert_true(nt_test_pair_pump(pr) > 0);
  assert_int_equal(server.in_len, 4);
  assert_int_equal(client.in_len, 4);
  assert_memory_equal(client.in, "ping", 4);
  nt_transport_lose_connection(ct);
  nt_test_pair_pump(pr);
  assert_int_equal(client.lost, 1);
  assert_int_equal(server.eofs, 1);
  assert_int_equal(server.lost, 1);
  assert_int_equal(server.lost_status, 0);
  nt_test_pair_free(pr);
}

static void test_addresses(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  socklen_t len;
  char buf[NT_ADDRSTRLEN];
  assert_int_equal(nt_addr_parse("127.0.0.1", 80, &ss, &len), 0);
  assert_string_equal(nt_addr_format((struct sockaddr *)&ss, buf, sizeof buf),
                      "127.0.0.1:80");
  assert_int_equal(nt_addr_parse("[::1]", 8080, &ss, &len), 0);
  assert_string_equal(nt_addr_format((struct sockaddr *)&ss, buf, sizeof buf),
                      "[::1]:8080");
  assert_int_equal(nt_addr_parse("localhost", 1, &ss, &len), NT_EBADADDR);
  assert_int_equal(nt_addr_parse("1.2.3.4", 70000, &ss, &len), NT_EBADPORT);
  assert_int_equal(nt_port_parse("65535", 0), 65535);
  assert_int_equal(nt_port_parse("65536", 0), NT_EBADPORT);
  assert_int_equal(nt_port_parse("0", 0), NT_EBADPORT);
  assert_int_equal(nt_port_parse("0", 1), 0);
  assert_int_equal(nt_port_parse("12a", 0), NT_EBADPORT);
  assert_int_equal(nt_port_parse("", 0), NT_EBADPORT);
  assert_int_equal(nt_port_parse("-1", 0), NT_EBADPORT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_write_passes_through, setup, teardown),
      cmocka_unit_test_setup_teardown(test_short_writes_and_water_marks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lose_connection_flushes_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_drops_queue, setup, teardown),
      cmocka_unit_test_setup_teardown(test_peer_eof_closes_by_default, setup, teardown),
      cmocka_unit_test_setup_teardown(test_half_close_both_ways, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_eof_then_read_on, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_mid_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pause_reading_backlog, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_file_shrunk, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_each_split, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pair, setup, teardown),
      cmocka_unit_test(test_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
