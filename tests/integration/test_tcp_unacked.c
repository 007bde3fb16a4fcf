/* nt_transport_unacked over a real TCP connection on loopback (issue 12,
 * honest progress): the sender is a nettool TCP transport (nt_tcp_wrap_fd),
 * the receiver a raw socket that first reads nothing, then everything.
 *
 * What must hold: "written - unacked" (what the peer's TCP stack has
 * acknowledged) never exceeds what the receiver's socket actually got
 * (bytes read + FIONREAD, sampled after); while the receiver does not read,
 * unacked stays above what the transport alone queues (the kernel's
 * unacknowledged send queue counts too: without SIOCOUTQ the sender's
 * socket buffer would pass for acknowledged); once the receiver has read
 * everything, unacked drops to 0. Every wait bounded; epoll and poll. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nettool/errno.h"
#include "nettool/protocol.h"
#include "nettool/reactor.h"
#include "nettool/tcp.h"
#include "nettool/testing.h"
#include "nettool/transport.h"

#define TOTAL (24u * 1024u * 1024u) /* more than loopback's socket buffers */
#define CHUNK (256u * 1024u)

#include "itest_backends.h"

typedef struct {
  nt_protocol_t base;
  nt_transport_t *t;
  uint64_t written;
  int lost, destroyed;
} sender_t;

static void s_made(nt_protocol_t *p, nt_transport_t *t) {
  ((sender_t *)p)->t = t;
}
static void s_lost(nt_protocol_t *p, int status) {
  (void)status;
  ((sender_t *)p)->lost = 1;
}
static void s_destroy(nt_protocol_t *p) { ((sender_t *)p)->destroyed = 1; }
static const nt_protocol_ops_t sender_ops = {
    .connection_made = s_made,
    .connection_lost = s_lost,
    .destroy = s_destroy,
};

static void stop_cb(nt_timer_t *t) { nt_reactor_stop(t->reactor); }

/* One bounded slice of the loop (the write queue flushes meanwhile). */
static void run_for(nt_reactor_t *r, uint64_t ms) {
  nt_timer_t t;
  nt_timer_init(r, &t, stop_cb);
  assert_int_equal(nt_timer_start(&t, ms, 0), 0);
  assert_int_equal(nt_reactor_run(r), 0);
  nt_timer_stop(&t);
}

static void tcp_pair(int *a, int *b) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(l >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(l, 1), 0);
  assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
  *a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(*a >= 0);
  assert_int_equal(connect(*a, (struct sockaddr *)&sa, sizeof sa), 0);
  *b = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  assert_true(*b >= 0);
  close(l);
}

/* Bytes the receiver's socket got: read so far plus still unread. */
static uint64_t received(int fd, uint64_t nread) {
  int n = 0;
  assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
  return nread + (uint64_t)n;
}

/* acked = written - unacked, never more than what the receiver got. */
static uint64_t check_acked(sender_t *s, int rfd, uint64_t nread) {
  uint64_t un = 0;
  assert_int_equal(nt_transport_unacked(s->t, &un), 0);
  assert_true(un <= s->written);
  assert_true(un >= nt_transport_write_buffer_size(s->t));
  uint64_t acked = s->written - un;
  uint64_t got = received(rfd, nread); /* sampled after: only grows */
  if (acked > got)
    fail_msg("acked %llu > received %llu [backend %s]",
             (unsigned long long)acked, (unsigned long long)got, g_backend);
  return un;
}

static void test_unacked_tcp(void **state) {
  (void)state;
  nt_reactor_t *r = NULL;
  nt_reactor_options_t o = {.backend = g_backend};
  assert_int_equal(nt_reactor_new(&r, &o), 0);
  int a, b;
  tcp_pair(&a, &b);
  sender_t s;
  memset(&s, 0, sizeof s);
  nt_protocol_init(&s.base, &sender_ops);
  nt_transport_t *t = NULL;
  assert_int_equal(nt_tcp_wrap_fd(r, a, &s.base, &t), 0);
  assert_ptr_equal(t, s.t);

  uint64_t un = 1;
  assert_int_equal(nt_transport_unacked(t, &un), 0);
  assert_int_equal(un, 0); /* nothing written yet */

  char *buf = malloc(CHUNK);
  assert_non_null(buf);
  memset(buf, 'x', CHUNK);
  while (s.written < TOTAL) {
    assert_int_equal(nt_transport_write(t, buf, CHUNK), 0);
    s.written += CHUNK;
  }
  /* The receiver reads nothing: the kernel buffers fill, and what the
   * sender's kernel holds is unacknowledged. */
  uint64_t last_wbs = 0, t0 = mono_ms();
  for (int i = 0; i < 50 && mono_ms() - t0 < 5000; i++) {
    run_for(r, 40);
    check_acked(&s, b, 0);
    size_t wbs = nt_transport_write_buffer_size(t);
    if (i > 3 && wbs == last_wbs) break; /* the sockets are full */
    last_wbs = wbs;
  }
  un = check_acked(&s, b, 0);
  size_t wbs = nt_transport_write_buffer_size(t);
  assert_true(wbs > 0); /* TOTAL is more than the buffers hold */
  /* Not just the queue: the send buffer's bytes are not acknowledged (the
   * receiver's window is closed). */
  if (un <= wbs)
    fail_msg("unacked %llu, queue %zu: the kernel's share is missing",
             (unsigned long long)un, wbs);

  /* Now the receiver reads everything; unacked falls to 0. */
  uint64_t nread = 0;
  t0 = mono_ms();
  while (nread < TOTAL && mono_ms() - t0 < 20000) {
    for (;;) {
      ssize_t n = read(b, buf, CHUNK);
      if (n > 0) {
        nread += (uint64_t)n;
        continue;
      }
      assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
      break;
    }
    check_acked(&s, b, nread);
    run_for(r, 5);
  }
  assert_int_equal(nread, TOTAL);
  t0 = mono_ms();
  do {
    run_for(r, 5);
    assert_int_equal(nt_transport_unacked(t, &un), 0);
  } while (un && mono_ms() - t0 < 3000);
  assert_int_equal(un, 0);

  nt_transport_lose_connection(t);
  run_for(r, 50);
  assert_true(s.lost && s.destroyed);
  close(b);
  free(buf);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* The in-memory test transport cannot say. */
static void test_unacked_unsupported(void **state) {
  (void)state;
  nt_reactor_t *r = NULL;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  sender_t s;
  memset(&s, 0, sizeof s);
  nt_protocol_init(&s.base, &sender_ops);
  nt_test_transport_t *tt = nt_test_transport_new(r, &s.base);
  uint64_t un = 7;
  assert_int_equal(nt_transport_unacked(nt_test_transport_base(tt), &un),
                   NT_ENOTSUP);
  assert_int_equal(un, 0);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unacked_tcp),
      cmocka_unit_test(test_unacked_unsupported),
  };
  return itest_run_backends("unacked", tests) ? 1 : 0;
}
