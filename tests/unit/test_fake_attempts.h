/* Shared by the connector tests (test_connect.c, test_reconnect.c):
 * scripted TCP connection attempts in place of sockets, installed as
 * nt__attempt_ops, so the race and the reconnect schedule run on the
 * virtual clock. An attempt that "connects" hands over one end of a UNIX
 * socketpair; the other end is kept in fake_peer_fd (closed by
 * fake_attempts_reset). Header-only and static: include it once per test
 * program, after <cmocka.h>. */
#ifndef NETTOOL_TEST_FAKE_ATTEMPTS_H
#define NETTOOL_TEST_FAKE_ATTEMPTS_H

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nettool/resolve.h"
#include "nettool/testing.h"
#include "tcp-int.h"

#define FAKES_MAX 64

typedef struct {
  char addr[64]; /* nt_addr_format of the address tried */
  uint64_t started_at;
  nt__attempt_cb cb;
  void *arg;
  int cancelled, finished;
} fake_t;

static fake_t fakes[FAKES_MAX];
static int nfakes;
static int fake_peer_fd = -1; /* the far end of the last connected pair */

static int fake_start(nt_reactor_t *r, const struct sockaddr *sa,
                      socklen_t salen, nt__attempt_cb cb, void *arg,
                      nt__attempt_t **out) {
  (void)salen;
  assert_true(nfakes < FAKES_MAX);
  fake_t *f = &fakes[nfakes++];
  memset(f, 0, sizeof *f);
  nt_addr_format(sa, f->addr, sizeof f->addr);
  f->started_at = nt_reactor_now(r);
  f->cb = cb;
  f->arg = arg;
  *out = (nt__attempt_t *)f;
  return 0;
}

static void fake_cancel(nt__attempt_t *a) { ((fake_t *)a)->cancelled = 1; }

static const nt__attempt_ops_t fake_ops = {
    .start = fake_start,
    .cancel = fake_cancel,
};

/* Attempt i ends: connected (status 0: a socketpair's end is handed over)
 * or failed with status. */
static void fake_finish(int i, int status) {
  assert_true(i >= 0 && i < nfakes);
  fake_t *f = &fakes[i];
  assert_false(f->cancelled);
  assert_false(f->finished);
  f->finished = 1;
  int fd = -1;
  if (!status) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    if (fake_peer_fd >= 0) close(fake_peer_fd);
    fd = sv[0];
    fake_peer_fd = sv[1];
  }
  f->cb(f->arg, (nt__attempt_t *)f, status, fd);
}

/* Installs the scripted attempts (on = 1) or the real ones back (on = 0);
 * either way forgets the attempts and closes the kept peer end. */
static void fake_attempts_reset(int on) {
  memset(fakes, 0, sizeof fakes);
  nfakes = 0;
  if (fake_peer_fd >= 0) close(fake_peer_fd);
  fake_peer_fd = -1;
  nt__attempt_ops = on ? &fake_ops : &nt__tcp_attempt_ops;
}

#endif
