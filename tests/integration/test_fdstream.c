/* Any fd as a stream transport (nettool/fdstream.h), against real fds: two
 * pipes through a real `cat`, a regular file read and written with no
 * poller (the pump), /dev/null (which epoll refuses), a pseudo terminal,
 * and stdin/stdout themselves. Both backends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "nettool/errno.h"
#include "nettool/fdstream.h"
#include "nettool/process.h"
#include "nettool/reactor.h"
#include "nettool/transport.h"

#include "itest_backends.h"

static inline unsigned char pat(uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull;
  return (unsigned char)(x >> 56);
}

/* --- a checking protocol ------------------------------------------------------ */

typedef struct peer {
  nt_protocol_t base;
  nt_transport_t *t;
  int made, eof, lost, destroyed, lost_status;
  uint64_t got, bad_at;
  int bad;
  char text[256];
  size_t textlen;
  int keep_half_open;
  /* writer */
  uint64_t total, sent;
  int paused;
  /* pause reading after `pause_after` bytes, check nothing comes, resume */
  uint64_t pause_after;
  int paused_reading, data_while_paused;
  nt_timer_t resume;
} peer_t;

static void pump_out(peer_t *p) {
  static unsigned char buf[65536];
  while (!p->paused && p->sent < p->total) {
    size_t n = p->total - p->sent < sizeof buf ? (size_t)(p->total - p->sent)
                                               : sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = pat(p->sent + i);
    assert_status(nt_transport_write(p->t, buf, n), 0);
    p->sent += n;
  }
  if (p->total && p->sent == p->total) {
    assert_status(nt_transport_write_eof(p->t), 0);
    p->sent++;
  }
}

static void pr_made(nt_protocol_t *b, nt_transport_t *t) {
  peer_t *p = (peer_t *)b;
  p->made++;
  p->t = t;
  pump_out(p);
}

static void resume_cb(nt_timer_t *t) {
  peer_t *p = t->data;
  p->paused_reading = 0;
  nt_transport_resume_reading(p->t);
}

static void pr_data(nt_protocol_t *b, const char *d, size_t n) {
  peer_t *p = (peer_t *)b;
  if (p->paused_reading) p->data_while_paused++;
  for (size_t i = 0; i < n && p->total == 0 && p->textlen < sizeof p->text - 1; i++)
    p->text[p->textlen++] = d[i];
  if (p->total || p->pause_after)
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)d[i] != pat(p->got + i) && !p->bad) {
        p->bad = 1;
        p->bad_at = p->got + i;
      }
  p->got += n;
  if (p->pause_after && p->got >= p->pause_after) {
    p->pause_after = 0;
    p->paused_reading = 1;
    nt_transport_pause_reading(p->t);
    nt_timer_start(&p->resume, 30, 0);
  }
}

static int pr_eof(nt_protocol_t *b) {
  peer_t *p = (peer_t *)b;
  p->eof++;
  return p->keep_half_open;
}

static void pr_lost(nt_protocol_t *b, int status) {
  peer_t *p = (peer_t *)b;
  p->lost++;
  p->lost_status = status;
}

static void pr_pause(nt_protocol_t *b) { ((peer_t *)b)->paused = 1; }
static void pr_resume(nt_protocol_t *b) {
  peer_t *p = (peer_t *)b;
  p->paused = 0;
  pump_out(p);
}
static void pr_destroy(nt_protocol_t *b) { ((peer_t *)b)->destroyed++; }

static const nt_protocol_ops_t peer_ops = {
    .connection_made = pr_made,
    .data_received = pr_data,
    .eof_received = pr_eof,
    .connection_lost = pr_lost,
    .pause_writing = pr_pause,
    .resume_writing = pr_resume,
    .destroy = pr_destroy,
};

static void peer_init(peer_t *p, nt_reactor_t *r) {
  memset(p, 0, sizeof *p);
  nt_protocol_init(&p->base, &peer_ops);
  nt_timer_init(r, &p->resume, resume_cb);
  p->resume.data = p;
}

static void assert_peer_done(peer_t *p) {
  assert_int_equal(p->made, 1);
  assert_int_equal(p->lost, 1);
  assert_int_equal(p->destroyed, 1);
  assert_status(p->lost_status, 0);
  if (p->bad) fail_msg("byte %llu differs", (unsigned long long)p->bad_at);
}

/* --- process protocol that only waits --------------------------------------------- */

typedef struct waiter {
  nt_process_protocol_t base;
  int exited, status;
} waiter_t;

static void w_exited(nt_process_protocol_t *pp, int status, int sig) {
  waiter_t *w = (waiter_t *)pp;
  w->exited++;
  w->status = sig ? -sig : status;
}
static const nt_process_protocol_ops_t waiter_ops = {.child_exited = w_exited};

/* --- tests ---------------------------------------------------------------------- */

/* 16 MB through a real cat over two pipes we made ourselves: we write pipe
 * A, cat copies it to pipe B, we read B; write_eof closes A so cat ends, and
 * B's end of file ends the stream. */
static void test_two_pipes_through_cat(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  int a[2], b[2];
  assert_int_equal(pipe2(a, O_CLOEXEC), 0);
  assert_int_equal(pipe2(b, O_CLOEXEC), 0);
  waiter_t w;
  memset(&w, 0, sizeof w);
  w.base.ops = &waiter_ops;
  nt_process_options_t o;
  memset(&o, 0, sizeof o);
  o.stdio[0].mode = NT_STDIO_FD;
  o.stdio[0].fd = a[0];
  o.stdio[1].mode = NT_STDIO_FD;
  o.stdio[1].fd = b[1];
  o.stdio[2].mode = NT_STDIO_INHERIT;
  const char *argv[] = {"cat", NULL};
  assert_status(nt_process_spawn(r, "cat", argv, &w.base, &o, NULL), 0);
  close(a[0]);
  close(b[1]);
  peer_t p;
  peer_init(&p, r);
  p.total = 16u << 20;
  nt_transport_t *t = NULL;
  assert_status(nt_fdstream_open(r, b[0], a[1], &p.base, NULL, &t), 0);
  assert_string_equal(t->ops->name, "fd");
  assert_true(run_bounded(r, 60000));
  assert_peer_done(&p);
  assert_int_equal(p.eof, 1);
  assert_true(p.got == 16u << 20);
  assert_int_equal(w.exited, 1);
  assert_int_equal(w.status, 0);
  /* the transport closed both fds */
  assert_int_equal(fcntl(b[0], F_GETFD), -1);
  assert_int_equal(fcntl(a[1], F_GETFD), -1);
  reactor_done(r);
}

static char *temp_file(uint64_t size) {
  static char path[64];
  strcpy(path, "/tmp/nt-fdstream-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unsigned char buf[4096];
  for (uint64_t off = 0; off < size; off += sizeof buf) {
    size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = pat(off + i);
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
  }
  close(fd);
  return path;
}

/* A regular file read with no poller and no thread; pause_reading holds. */
static void test_regular_file_read(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  char *path = temp_file(3u << 20);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  unlink(path);
  peer_t p;
  peer_init(&p, r);
  p.pause_after = 1u << 20;
  assert_status(nt_fdstream_open(r, fd, -1, &p.base, NULL, NULL), 0);
  assert_true(run_bounded(r, 30000));
  assert_peer_done(&p);
  assert_int_equal(p.eof, 1);
  assert_true(p.got == 3u << 20);
  assert_int_equal(p.data_while_paused, 0);
  reactor_done(r);
}

/* A regular file written (memory and write_file) and half-closed. */
static void test_regular_file_write(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  char *src = temp_file(1u << 20);
  char srcpath[64];
  strcpy(srcpath, src);
  char dst[] = "/tmp/nt-fdstream-out-XXXXXX";
  int fd = mkstemp(dst);
  assert_true(fd >= 0);
  peer_t p;
  peer_init(&p, r);
  p.total = 2u << 20;
  nt_transport_t *t;
  assert_status(nt_fdstream_open(r, -1, fd, &p.base, NULL, &t), 0);
  assert_true(run_bounded(r, 30000));
  assert_peer_done(&p);
  struct stat st;
  assert_int_equal(stat(dst, &st), 0);
  assert_int_equal(st.st_size, 2u << 20);
  /* write_file: a file range copied into another file */
  fd = open(dst, O_WRONLY | O_TRUNC | O_CLOEXEC);
  int in = open(srcpath, O_RDONLY | O_CLOEXEC);
  peer_t q;
  peer_init(&q, r);
  assert_status(nt_fdstream_open(r, -1, fd, &q.base, NULL, &t), 0);
  assert_status(nt_transport_write_file(t, in, 1000, 500000), 0);
  close(in);
  assert_status(nt_transport_write_eof(t), 0);
  assert_true(run_bounded(r, 30000));
  assert_peer_done(&q);
  in = open(dst, O_RDONLY | O_CLOEXEC);
  static unsigned char buf[500001];
  assert_int_equal(read(in, buf, sizeof buf), 500000);
  close(in);
  for (size_t i = 0; i < 500000; i++)
    if (buf[i] != pat(1000 + i)) fail_msg("byte %zu", i);
  unlink(dst);
  unlink(srcpath);
  reactor_done(r);
}

/* /dev/null: epoll refuses it (EPERM), so it is pumped; poll watches it. */
static void test_dev_null(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  peer_t p;
  peer_init(&p, r);
  p.keep_half_open = 1;
  nt_transport_t *t;
  assert_status(nt_fdstream_open(r, fd, fd, &p.base, NULL, &t), 0);
  assert_status(nt_transport_write(t, "into the void", 13), 0);
  assert_true(run_bounded(r, 100) == 0); /* half-open: still there */
  assert_int_equal(p.eof, 1);
  nt_transport_lose_connection(t);
  assert_true(run_bounded(r, 5000));
  assert_peer_done(&p);
  assert_int_equal(p.got, 0);
  reactor_done(r);
}

/* A pseudo terminal: the transport on the slave side (one fd both ways),
 * the test on the master. O_NONBLOCK is put back when it closes. */
static void test_pty(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  assert_true(m >= 0);
  assert_int_equal(grantpt(m), 0);
  assert_int_equal(unlockpt(m), 0);
  int s = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
  assert_true(s >= 0);
  struct termios tio; /* raw: no echo back to the master */
  assert_int_equal(tcgetattr(s, &tio), 0);
  cfmakeraw(&tio);
  assert_int_equal(tcsetattr(s, TCSANOW, &tio), 0);
  int before = fcntl(s, F_GETFL);
  assert_false(before & O_NONBLOCK);
  peer_t p;
  peer_init(&p, r);
  nt_transport_t *t;
  nt_fdstream_options_t o = {.keep_open = 1};
  assert_status(nt_fdstream_open(r, s, s, &p.base, &o, &t), 0);
  assert_true(fcntl(s, F_GETFL) & O_NONBLOCK);
  assert_int_equal(write(m, "hello tty\n", 10), 10);
  run_bounded(r, 200);
  assert_string_equal(p.text, "hello tty\n");
  assert_status(nt_transport_write(t, "back", 4), 0);
  char buf[64];
  ssize_t n = read(m, buf, sizeof buf);
  assert_true(n >= 4);
  assert_memory_equal(buf, "back", 4);
  nt_transport_lose_connection(t);
  assert_true(run_bounded(r, 5000));
  assert_peer_done(&p);
  assert_int_equal(fcntl(s, F_GETFL), before); /* flags put back, fd open */
  close(s);
  close(m);
  reactor_done(r);
}

/* stdin/stdout: a pipe dup'ed onto each; when the transport closes, fds 0
 * and 1 are /dev/null rather than free numbers. */
static void test_stdio(void **state) {
  (void)state;
  int save0 = dup(0), save1 = dup(1);
  int in[2], out[2];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(out), 0);
  dup2(in[0], 0);
  dup2(out[1], 1);
  close(in[0]);
  close(out[1]);
  assert_int_equal(write(in[1], "from stdin", 10), 10);
  close(in[1]);
  nt_reactor_t *r = reactor_new();
  peer_t p;
  peer_init(&p, r);
  p.keep_half_open = 1;
  nt_transport_t *t;
  assert_status(nt_stdio_open(r, &p.base, NULL, &t), 0);
  assert_status(nt_transport_write(t, "to stdout", 9), 0);
  assert_status(nt_transport_write_eof(t), 0);
  int done = run_bounded(r, 5000);
  struct stat st0, st1;
  fstat(0, &st0);
  fstat(1, &st1);
  char buf[64] = {0};
  ssize_t n = read(out[0], buf, sizeof buf - 1);
  close(out[0]);
  dup2(save0, 0);
  dup2(save1, 1);
  close(save0);
  close(save1);
  assert_true(done);
  assert_peer_done(&p);
  assert_string_equal(p.text, "from stdin");
  assert_int_equal(n, 9);
  assert_string_equal(buf, "to stdout");
  assert_true(S_ISCHR(st0.st_mode));
  assert_true(S_ISCHR(st1.st_mode));
  reactor_done(r);
}

/* nt_reactor_close_all ends an fd stream: connection_lost(NT_ECONNABORTED)
 * and destroy before it returns, the queue dropped, the fds closed. */
static void test_close_all(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  int a[2];
  assert_int_equal(pipe2(a, O_CLOEXEC), 0);
  peer_t p;
  peer_init(&p, r);
  nt_transport_t *t;
  assert_status(nt_fdstream_open(r, -1, a[1], &p.base, NULL, &t), 0);
  static char big[1 << 20]; /* more than the pipe holds: some stays queued */
  assert_status(nt_transport_write(t, big, sizeof big), 0);
  assert_true(nt_transport_write_buffer_size(t) > 0);
  nt_reactor_close_all(r);
  assert_int_equal(p.lost, 1);
  assert_int_equal(p.destroyed, 1);
  assert_status(p.lost_status, NT_ECONNABORTED);
  assert_int_equal(fcntl(a[1], F_GETFD), -1);
  close(a[0]);
  assert_true(run_bounded(r, 2000));
  reactor_done(r);
}

/* Addresses come from the stream core's getpeername/getsockname on a
 * socket (a bound UNIX socket shows its name on both ends), and a pipe has
 * none: NT_ENOTSUP. */
static void test_addresses(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  char path[64];
  snprintf(path, sizeof path, "/tmp/nt-fdstream-addr-%d", (int)getpid());
  unlink(path);
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  strcpy(un.sun_path, path);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(lfd >= 0);
  assert_int_equal(bind(lfd, (struct sockaddr *)&un, sizeof un), 0);
  assert_int_equal(listen(lfd, 1), 0);
  int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(cfd >= 0);
  assert_int_equal(connect(cfd, (struct sockaddr *)&un, sizeof un), 0);
  int sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  assert_true(sfd >= 0);
  close(lfd);
  unlink(path);
  peer_t p;
  peer_init(&p, r);
  nt_transport_t *t = NULL;
  assert_status(nt_fdstream_open(r, cfd, cfd, &p.base, NULL, &t), 0);
  struct sockaddr_storage ss;
  socklen_t len = 0;
  assert_status(nt_transport_peer_address(t, &ss, &len), 0);
  assert_int_equal(ss.ss_family, AF_UNIX);
  assert_string_equal(((struct sockaddr_un *)&ss)->sun_path, path);
  len = 0;
  assert_status(nt_transport_host_address(t, &ss, &len), 0);
  assert_int_equal(ss.ss_family, AF_UNIX);
  assert_int_equal(len, sizeof(sa_family_t)); /* the client is unnamed */
  nt_transport_lose_connection(t);
  int a[2];
  assert_int_equal(pipe2(a, O_CLOEXEC), 0);
  peer_t q;
  peer_init(&q, r);
  assert_status(nt_fdstream_open(r, a[0], a[1], &q.base, NULL, &t), 0);
  len = 0;
  assert_status(nt_transport_peer_address(t, &ss, &len), NT_ENOTSUP);
  assert_int_equal(len, sizeof ss);
  assert_status(nt_transport_host_address(t, &ss, &len), NT_ENOTSUP);
  nt_transport_lose_connection(t);
  assert_true(run_bounded(r, 5000));
  assert_int_equal(p.destroyed, 1);
  assert_int_equal(q.destroyed, 1);
  close(sfd);
  reactor_done(r);
}

static void test_bad_fds(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  peer_t p;
  peer_init(&p, r);
  assert_status(nt_fdstream_open(r, -1, -1, &p.base, NULL, NULL), NT_EBADF);
  assert_status(nt_fdstream_open(r, 999, -1, &p.base, NULL, NULL), NT_EBADF);
  assert_int_equal(p.made, 0);
  reactor_done(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_pipes_through_cat),
      cmocka_unit_test(test_regular_file_read),
      cmocka_unit_test(test_regular_file_write),
      cmocka_unit_test(test_dev_null),
      cmocka_unit_test(test_pty),
      cmocka_unit_test(test_stdio),
      cmocka_unit_test(test_close_all),
      cmocka_unit_test(test_bad_fds),
      cmocka_unit_test(test_addresses),
  };
  return itest_run_backends("fdstream", tests) ? 1 : 0;
}
