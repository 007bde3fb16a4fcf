/* test_tcp.c's stream-behaviour tests again, over fdstream transports on
 * pairs of pipes: each "connection" is two pipes, the client reading one and
 * writing the other, the server the other way round. So backpressure,
 * half-close (write_eof closes a pipe's write end), lose_connection's flush,
 * abort and pause_reading are checked to behave as on TCP, through the same
 * stream core, on every backend. (Resets and addresses have no pipe
 * equivalent; connect errors belong to TCP: those tests are not run.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nettool/fdstream.h"
#include "nettool/reactor.h"
#include "nettool/tcp.h"

/* --- a "listener" and "connector" made of pipes ------------------------------- */

typedef struct pipe_listener {
  nt_reactor_t *r;
  nt_factory_t *f;
} pipe_listener_t;

static pipe_listener_t *g_listener;

typedef struct pipe_conn {
  pipe_listener_t *l;
  nt_factory_t *f;
  nt_reactor_t *r;
} pipe_conn_t;

static void connect_now(void *arg) {
  pipe_conn_t *c = arg;
  int a[2], b[2]; /* a: client -> server, b: server -> client */
  assert_int_equal(pipe2(a, O_CLOEXEC), 0);
  assert_int_equal(pipe2(b, O_CLOEXEC), 0);
  struct sockaddr_storage ss = {0}; /* an unnamed AF_UNIX peer, like socketpair's */
  ss.ss_family = AF_UNIX;
  socklen_t sl = sizeof(sa_family_t);
  nt_protocol_t *sp = c->l->f->ops->build_protocol(c->l->f, (struct sockaddr *)&ss, sl);
  assert_non_null(sp);
  assert_int_equal(nt_fdstream_open(c->r, a[0], b[1], sp, NULL, NULL), 0);
  nt_protocol_t *cp = c->f->ops->build_protocol(c->f, (struct sockaddr *)&ss, sl);
  assert_non_null(cp);
  assert_int_equal(nt_fdstream_open(c->r, b[0], a[1], cp, NULL, NULL), 0);
  nt_reactor_unref(c->r);
  free(c);
}

static int pp_listen(nt_reactor_t *r, nt_factory_t *f, pipe_listener_t **out) {
  pipe_listener_t *l = calloc(1, sizeof *l);
  l->r = r;
  l->f = f;
  g_listener = l;
  *out = l;
  return 0;
}

static int pp_connect(nt_reactor_t *r, nt_factory_t *f, nt_connector_t **out) {
  pipe_conn_t *c = calloc(1, sizeof *c);
  c->l = g_listener;
  c->f = f;
  c->r = r;
  nt_reactor_ref(r); /* as a pending connect does */
  /* A token: the tests only check it is there. */
  if (f->ops->started_connecting)
    f->ops->started_connecting(f, (nt_connector_t *)c);
  if (out) *out = (nt_connector_t *)c;
  /* Connected from the loop, never inside the call, as TCP does. */
  return nt_call_soon(r, connect_now, c);
}

static void pp_close(pipe_listener_t *l) {
  if (g_listener == l) g_listener = NULL;
  free(l);
}

static int pp_address(const pipe_listener_t *l, struct sockaddr_storage *ss,
                      socklen_t *len) {
  (void)l, (void)ss, (void)len;
  return NT_ENOTSUP;
}

#undef nt_tcp_listen
#undef nt_tcp_connect
#define nt_tcp_listen(r, a, p, f, o, out)                                      \
  ((void)(a), (void)(p), (void)(o), pp_listen(r, f, out))
#define nt_tcp_connect(r, h, p, f, o, out)                                     \
  ((void)(h), (void)(p), (void)(o), pp_connect(r, f, out))
#define nt_listener_t pipe_listener_t
#define nt_listener_port(l) ((void)(l), 1)
#define nt_listener_close pp_close
#define nt_listener_address pp_address
#define main tcp_main
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include "test_tcp.c"
#pragma GCC diagnostic pop
#undef main

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backpressure_large_transfer),
      cmocka_unit_test(test_backpressure_lose_inside_resume),
      cmocka_unit_test(test_backpressure_big_write_inside_resume),
      cmocka_unit_test(test_backpressure_write_eof_inside_resume),
      cmocka_unit_test(test_write_file),
      cmocka_unit_test(test_half_close),
      cmocka_unit_test(test_half_close_both_sides),
      cmocka_unit_test(test_lose_connection_flushes),
      cmocka_unit_test(test_abort_drops_queue),
      cmocka_unit_test(test_abort_error_status),
      cmocka_unit_test(test_pause_reading),
      cmocka_unit_test(test_many_connections),
  };
  return itest_run_backends("fdstream-pipes", tests) ? 1 : 0;
}
