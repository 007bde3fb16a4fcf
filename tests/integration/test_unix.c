/* Integration tests for UNIX domain sockets, on every backend.
 *
 * The stream behaviour is the stream core's and must be TCP's: this file
 * compiles test_tcp.c's recording peers and stream tests (backpressure,
 * write_file, half-close, lose/abort, pause_reading, close_all...) with the
 * listener and the connector swapped for UNIX ones, a filesystem path and an
 * abstract name in turn, and runs them again. Then what only UNIX sockets
 * have: names and stale files, peer credentials, descriptor passing,
 * datagrams, endpoints. */
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
#include <unistd.h>

#include "nettool/endpoint.h"
#include "nettool/tcp.h"
#include "nettool/unix.h"

/* --- test_tcp.c over UNIX sockets ------------------------------------------ */

static char g_dir[64];
static char g_name[108]; /* the current listener's name */
static int g_seq;

static int ux_listen(nt_reactor_t *r, nt_factory_t *f,
                     nt_unix_listener_t **out) {
  /* Odd: a path in the test's directory; even: an abstract name. */
  g_seq++;
  if (g_seq % 2)
    snprintf(g_name, sizeof g_name, "%s/s%d.sock", g_dir, g_seq);
  else
    snprintf(g_name, sizeof g_name, "@nt-test-%d-%d", (int)getpid(), g_seq);
  return nt_unix_listen(r, g_name, f, NULL, out);
}

static int ux_connect(nt_reactor_t *r, nt_factory_t *f,
                      const nt_tcp_connect_options_t *o, nt_connector_t **out) {
  nt_unix_connect_options_t uo = {0};
  if (o) uo.timeout_ms = o->timeout_ms;
  return nt_unix_connect(r, g_name, f, &uo, out);
}

static int ux_listener_address(const nt_unix_listener_t *l,
                               struct sockaddr_storage *ss, socklen_t *len) {
  *len = sizeof *ss;
  return getsockname(nt_unix_listener_fileno(l), (struct sockaddr *)ss, len);
}

#undef nt_tcp_listen
#undef nt_tcp_connect
#define nt_tcp_listen(r, a, p, f, o, out)                                      \
  ((void)(a), (void)(p), (void)(o), ux_listen(r, f, out))
#define nt_tcp_connect(r, h, p, f, o, out) ((void)(h), (void)(p), ux_connect(r, f, o, out))
#define nt_listener_t nt_unix_listener_t
#define nt_listener_port(l) ((void)(l), 1)
#define nt_listener_close nt_unix_listener_close
#define nt_listener_address ux_listener_address
#define main tcp_main
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include "test_tcp.c"
#pragma GCC diagnostic pop
#undef main
#undef nt_listener_t
#undef nt_listener_port
#undef nt_listener_close
#undef nt_listener_address

/* --- helpers ----------------------------------------------------------------- */

static void make_name(char *buf, size_t size, const char *tag, int abstract) {
  g_seq++;
  if (abstract)
    snprintf(buf, size, "@nt-test-%d-%s-%d", (int)getpid(), tag, g_seq);
  else
    snprintf(buf, size, "%s/%s-%d.sock", g_dir, tag, g_seq);
}

static int file_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* A socket file whose owner is gone: bound, never listened on, closed. */
static void make_stale(const char *path) {
  struct sockaddr_storage ss;
  socklen_t len;
  assert_int_equal(nt_unix_addr(path, &ss, &len), 0);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
  close(fd);
  assert_true(file_exists(path));
}

/* --- echo over a path and an abstract name; credentials; addresses --------- */

/* At connection_made: both ends are UNIX transports and see this process
 * as the peer. */
static void check_unix_transport(peer_t *p) {
  nt_transport_t *t = p->t;
  nt_unix_cred_t cr;
  if (strcmp(t->ops->name, "unix") || !nt_unix_is_unix(t) ||
      nt_unix_fileno(t) < 0)
    violate(p, "not a UNIX transport: %s", t->ops->name);
  else if (nt_unix_peer_cred(t, &cr) != 0)
    violate(p, "nt_unix_peer_cred failed");
  else if (cr.pid != getpid() || cr.uid != getuid() || cr.gid != getgid())
    violate(p, "credentials %d/%d/%d", (int)cr.pid, (int)cr.uid, (int)cr.gid);
  else
    p->n1 = 1;
  if (p->is_client) echo_cli_made(p);
}

static void echo_cred_setup(peer_t *p) {
  echo_setup(p);
  p->h_made = check_unix_transport;
}

static void echo_unix(int abstract) {
  tctx_t c;
  ctx_init(&c);
  c.setup = echo_cred_setup;
  make_name(g_name, sizeof g_name, "echo", abstract);
  assert_status(nt_unix_listen(c.r, g_name, &c.sfact, NULL, &c.listener), 0);
  assert_string_equal(nt_unix_listener_name(c.listener), g_name);
  assert_int_equal(file_exists(g_name), !abstract);
  ctx_connect(&c, NULL, NULL);
  peer_t *cl = &c.cli[0], *sv = &c.srv[0];
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  assert_int_equal(cl->rx_len, strlen(echo_msg));
  assert_memory_equal(cl->rx, echo_msg, strlen(echo_msg));
  assert_true(sv->eof);
  assert_clean(cl);
  assert_clean(sv);
  assert_true(cl->n1 && sv->n1);
  /* The client's peer is the listener's name; the server's is unnamed. */
  char buf[128];
  assert_string_equal(nt_unix_addr_format((struct sockaddr *)&cl->peer_ss,
                                          cl->peer_len, buf, sizeof buf),
                      g_name);
  assert_string_equal(nt_unix_addr_format((struct sockaddr *)&sv->peer_ss,
                                          sv->peer_len, buf, sizeof buf),
                      "(unnamed)");
  char saved[108];
  snprintf(saved, sizeof saved, "%s", g_name);
  ctx_finish(&c); /* closes the listener: the file goes with it */
  assert_false(file_exists(saved));
}

static void test_echo_path(void **state) {
  (void)state;
  echo_unix(0);
}

static void test_echo_abstract(void **state) {
  (void)state;
  echo_unix(1);
}

/* Credentials and the UNIX calls refuse other transports. */
static void test_not_unix(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_status(nt_test_reactor_new(&r), 0);
  peer_t p;
  memset(&p, 0, sizeof p);
  nt_protocol_init(&p.base, &peer_ops);
  nt_test_transport_t *tt = nt_test_transport_new(r, &p.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  nt_unix_cred_t cr;
  int fd = 0;
  assert_false(nt_unix_is_unix(t));
  assert_int_equal(nt_unix_fileno(t), -1);
  assert_status(nt_unix_peer_cred(t, &cr), NT_EINVAL);
  assert_status(nt_unix_send_fds(t, "x", 1, &fd, 1), NT_EINVAL);
  assert_status(nt_unix_recv_fds(t, 4), NT_EINVAL);
  assert_status(nt_unix_take_fds(t, &fd, 1), NT_EINVAL);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- names and stale socket files --------------------------------------------- */

static void test_names(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  socklen_t len;
  char longname[200];
  memset(longname, 'a', sizeof longname - 1);
  longname[0] = '/';
  longname[sizeof longname - 1] = 0;
  assert_status(nt_unix_addr(longname, &ss, &len), -ENAMETOOLONG);
  longname[0] = '@';
  assert_status(nt_unix_addr(longname, &ss, &len), -ENAMETOOLONG);
  assert_status(nt_unix_addr("", &ss, &len), NT_EINVAL);
  assert_status(nt_unix_addr(NULL, &ss, &len), NT_EINVAL);
  /* 107 bytes of path is the most sun_path holds (with its NUL). */
  longname[0] = '/';
  longname[107] = 0;
  assert_status(nt_unix_addr(longname, &ss, &len), 0);
  longname[107] = 'a';
  longname[108] = 0;
  assert_status(nt_unix_addr(longname, &ss, &len), -ENAMETOOLONG);
  assert_status(nt_unix_addr("@x", &ss, &len), 0);
  assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 2);
  assert_int_equal(((struct sockaddr_un *)&ss)->sun_path[0], 0);
  char buf[64];
  assert_string_equal(
      nt_unix_addr_format((struct sockaddr *)&ss, len, buf, sizeof buf), "@x");
}

static void test_stale_file_removed(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  c.setup = echo_setup;
  make_name(g_name, sizeof g_name, "stale", 0);
  make_stale(g_name);
  /* Nobody accepts behind it: it is removed and the name taken. */
  assert_status(nt_unix_listen(c.r, g_name, &c.sfact, NULL, &c.listener), 0);
  ctx_connect(&c, NULL, NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  assert_int_equal(c.cli[0].rx_len, strlen(echo_msg));
  ctx_finish(&c);
  assert_false(file_exists(g_name));
}

static void test_live_socket_kept(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  nt_factory_t f = {&srv_fops, NULL};
  char name[108];
  /* Live: another listener (this process's own, as another's would be). */
  make_name(name, sizeof name, "live", 0);
  nt_unix_listener_t *l1 = NULL, *l2 = NULL;
  assert_status(nt_unix_listen(r, name, &f, NULL, &l1), 0);
  assert_status(nt_unix_listen(r, name, &f, NULL, &l2), NT_EADDRINUSE);
  assert_null(l2);
  assert_true(file_exists(name));
  /* Also a live listener with a full backlog, which connect answers EAGAIN. */
  nt_unix_listener_close(l1);
  assert_false(file_exists(name));
  struct sockaddr_storage ss;
  socklen_t len;
  assert_int_equal(nt_unix_addr(name, &ss, &len), 0);
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_int_equal(bind(lfd, (struct sockaddr *)&ss, len), 0);
  assert_int_equal(listen(lfd, 0), 0);
  int filler[4];
  for (int i = 0; i < 4; i++) {
    filler[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    (void)connect(filler[i], (struct sockaddr *)&ss, len);
  }
  assert_status(nt_unix_listen(r, name, &f, NULL, &l2), NT_EADDRINUSE);
  assert_true(file_exists(name));
  for (int i = 0; i < 4; i++) close(filler[i]);
  close(lfd);
  /* Now it is stale. */
  assert_status(nt_unix_listen(r, name, &f, NULL, &l2), 0);
  nt_unix_listener_close(l2);
  /* Not a socket: never removed. */
  int fd = open(name, O_CREAT | O_WRONLY, 0600);
  assert_true(fd >= 0);
  close(fd);
  assert_status(nt_unix_listen(r, name, &f, NULL, &l2), NT_EADDRINUSE);
  assert_true(file_exists(name));
  unlink(name);
  /* Abstract names in use are refused (nothing to remove). */
  make_name(name, sizeof name, "live", 1);
  assert_status(nt_unix_listen(r, name, &f, NULL, &l1), 0);
  assert_status(nt_unix_listen(r, name, &f, NULL, &l2), NT_EADDRINUSE);
  nt_unix_listener_close(l1);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* Close removes the file only if it is still the one bound. */
static void test_close_keeps_replaced_file(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  nt_factory_t f = {&srv_fops, NULL};
  char name[108];
  make_name(name, sizeof name, "replaced", 0);
  nt_unix_listener_t *l = NULL;
  nt_unix_listen_options_t o = {.mode = 0600};
  assert_status(nt_unix_listen(r, name, &f, &o, &l), 0);
  struct stat st;
  assert_int_equal(lstat(name, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(unlink(name), 0);
  int fd = open(name, O_CREAT | O_WRONLY, 0600);
  assert_true(fd >= 0);
  close(fd);
  nt_unix_listener_close(l);
  assert_true(file_exists(name));
  unlink(name);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void connect_fails(const char *name, int want) {
  tctx_t c;
  ctx_init(&c);
  snprintf(g_name, sizeof g_name, "%s", name);
  ctx_connect(&c, NULL, NULL);
  assert_true(run_until(c.r, c_failed, &c, 5000));
  assert_status(c.fail_status, want);
  ctx_finish(&c);
}

static void test_connect_errors(void **state) {
  (void)state;
  char name[108];
  make_name(name, sizeof name, "missing", 0);
  connect_fails(name, NT_ENOENT);
  make_name(name, sizeof name, "missing", 1);
  connect_fails(name, NT_ECONNREFUSED);
  make_name(name, sizeof name, "dead", 0);
  make_stale(name);
  connect_fails(name, NT_ECONNREFUSED);
  unlink(name);
  /* Too long: refused at once, no callback. */
  nt_reactor_t *r = reactor_new();
  nt_factory_t f = {&cli_fops, NULL};
  char longname[200];
  memset(longname, 'b', sizeof longname - 1);
  longname[0] = '/';
  longname[sizeof longname - 1] = 0;
  nt_connector_t *conn = NULL;
  assert_status(nt_unix_connect(r, longname, &f, NULL, &conn), -ENAMETOOLONG);
  assert_status(nt_unix_connect(r, "", &f, NULL, &conn), NT_EINVAL);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- descriptor passing --------------------------------------------------------- */

typedef struct {
  int fds[8];
  int nfds;
  uint64_t before[8]; /* bytes received before the chunk that brought it */
  uint64_t after[8];  /* ... and with it */
  int enable;         /* nt_unix_recv_fds(max) at connection_made; 0: off */
  int leave;          /* do not take them */
} fdrx_t;

static fdrx_t g_fdrx;

static void fdrx_made(peer_t *p) {
  if (g_fdrx.enable) assert_status(nt_unix_recv_fds(p->t, (unsigned)g_fdrx.enable), 0);
}

static void fdrx_data(peer_t *p, const char *d, size_t n) {
  (void)d;
  if (g_fdrx.leave) return;
  int got[8];
  int k = nt_unix_take_fds(p->t, got, 8 - g_fdrx.nfds);
  for (int i = 0; i < k; i++) {
    g_fdrx.before[g_fdrx.nfds] = p->rx_total - n;
    g_fdrx.after[g_fdrx.nfds] = p->rx_total;
    g_fdrx.fds[g_fdrx.nfds++] = got[i];
  }
}

/* Sender: a big write first so the socket queue is full and what follows
 * waits in the transport; the descriptors must still ride on their own
 * bytes, after everything written before them. */
#define FD_BIG (4u << 20)
static int g_pipe_a[2], g_pipe_b[2];

static void fdtx_made(peer_t *p) {
  char *big = malloc(FD_BIG);
  assert_non_null(big);
  memset(big, 'a', FD_BIG);
  assert_status(nt_transport_write(p->t, big, FD_BIG), 0);
  free(big);
  assert_true(nt_transport_write_buffer_size(p->t) > 0);
  assert_status(nt_unix_send_fds(p->t, "B", 1, &g_pipe_a[1], 1), 0);
  assert_status(nt_transport_write(p->t, "ccc", 3), 0);
  int two[2] = {g_pipe_b[1], g_pipe_a[1]};
  assert_status(nt_unix_send_fds(p->t, "DD", 2, two, 2), 0);
  /* Bad calls: no data, too many, closed. */
  assert_status(nt_unix_send_fds(p->t, "", 0, two, 1), NT_EINVAL);
  assert_status(nt_unix_send_fds(p->t, "x", 1, two, NT_UNIX_MAX_FDS + 1),
                NT_EINVAL);
  int bad = 999;
  assert_status(nt_unix_send_fds(p->t, "x", 1, &bad, 1), NT_EBADF);
  nt_transport_lose_connection(p->t);
  assert_status(nt_unix_send_fds(p->t, "x", 1, two, 1), NT_ECLOSED);
}

static void fd_setup(peer_t *p) {
  p->store = 0;
  if (p->is_client) {
    p->h_made = fdtx_made;
  } else {
    p->h_made = fdrx_made;
    p->h_data = fdrx_data;
  }
}

static ino_t ino_of(int fd) {
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  return st.st_ino;
}

static void test_fd_passing(void **state) {
  (void)state;
  assert_int_equal(pipe2(g_pipe_a, O_CLOEXEC), 0);
  assert_int_equal(pipe2(g_pipe_b, O_CLOEXEC), 0);
  int fds_before = count_fds();
  memset(&g_fdrx, 0, sizeof g_fdrx);
  g_fdrx.enable = 4;
  tctx_t c;
  ctx_init(&c);
  c.setup = fd_setup;
  assert_status(ux_listen(c.r, &c.sfact, &c.listener), 0);
  ctx_connect(&c, NULL, NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 20000));
  assert_status(c.cli[0].lost_status, 0);
  assert_status(c.srv[0].lost_status, 0);
  assert_int_equal(c.srv[0].rx_total, FD_BIG + 1 + 3 + 2);
  assert_int_equal(g_fdrx.nfds, 3);
  /* In order, each with its own bytes: "B" is byte FD_BIG, "DD" FD_BIG+4. */
  assert_int_equal(ino_of(g_fdrx.fds[0]), ino_of(g_pipe_a[1]));
  assert_int_equal(ino_of(g_fdrx.fds[1]), ino_of(g_pipe_b[1]));
  assert_int_equal(ino_of(g_fdrx.fds[2]), ino_of(g_pipe_a[1]));
  assert_true(g_fdrx.before[0] <= FD_BIG && g_fdrx.after[0] > FD_BIG);
  assert_true(g_fdrx.before[1] <= FD_BIG + 4 && g_fdrx.after[1] > FD_BIG + 4);
  /* Received descriptors are close-on-exec and work: write through one. */
  assert_true(fcntl(g_fdrx.fds[0], F_GETFD) & FD_CLOEXEC);
  assert_int_equal(write(g_fdrx.fds[1], "via fd", 6), 6);
  char buf[16];
  assert_int_equal(read(g_pipe_b[0], buf, sizeof buf), 6);
  assert_memory_equal(buf, "via fd", 6);
  for (int i = 0; i < g_fdrx.nfds; i++) close(g_fdrx.fds[i]);
  ctx_finish(&c);
  /* The sender's dups and everything else are gone. */
  assert_int_equal(count_fds(), fds_before);
  close(g_pipe_a[0]);
  close(g_pipe_a[1]);
  close(g_pipe_b[0]);
  close(g_pipe_b[1]);
}

/* Receiving off: the kernel drops them; over the limit: NT_ETOOBIG; held
 * and never taken: closed with the connection. No descriptor leaks. */
static void fd_case(int enable, int leave, int want_srv_status) {
  assert_int_equal(pipe2(g_pipe_a, O_CLOEXEC), 0);
  assert_int_equal(pipe2(g_pipe_b, O_CLOEXEC), 0);
  int fds_before = count_fds();
  memset(&g_fdrx, 0, sizeof g_fdrx);
  g_fdrx.enable = enable;
  g_fdrx.leave = leave;
  tctx_t c;
  ctx_init(&c);
  c.setup = fd_setup;
  assert_status(ux_listen(c.r, &c.sfact, &c.listener), 0);
  ctx_connect(&c, NULL, NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 20000));
  assert_status(c.srv[0].lost_status, want_srv_status);
  assert_int_equal(g_fdrx.nfds, 0);
  ctx_finish(&c);
  assert_int_equal(count_fds(), fds_before);
  close(g_pipe_a[0]);
  close(g_pipe_a[1]);
  close(g_pipe_b[0]);
  close(g_pipe_b[1]);
}

static void test_fd_receiving_off(void **state) {
  (void)state;
  fd_case(0, 0, 0);
}

static void test_fd_over_limit(void **state) {
  (void)state;
  fd_case(2, 1, NT_ETOOBIG); /* the third one is over */
}

static void test_fd_held_closed(void **state) {
  (void)state;
  fd_case(8, 1, 0);
}

/* --- socketpair through nt_unix_wrap_fd ----------------------------------------- */

static void test_wrap_socketpair(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  c.setup = echo_setup;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  nt_protocol_t *srv = build_peer(&c, c.srv, &c.nsrv, 0);
  nt_protocol_t *cli = build_peer(&c, c.cli, &c.ncli, 1);
  nt_transport_t *t = NULL;
  assert_status(nt_unix_wrap_fd(c.r, sv[0], srv, &t), 0);
  assert_non_null(t);
  assert_status(nt_unix_wrap_fd(c.r, sv[1], cli, NULL), 0);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  assert_int_equal(c.cli[0].rx_len, strlen(echo_msg));
  nt_unix_cred_t cr;
  (void)cr;
  ctx_finish(&c);
}

/* --- datagrams -------------------------------------------------------------------- */

typedef struct {
  nt_datagram_protocol_t base;
  char last[64];
  struct sockaddr_storage from;
  socklen_t fromlen;
  int got, lost, destroyed, echo;
} dg_t;

static void dg_made(nt_datagram_protocol_t *p, nt_udp_t *u) {
  (void)p;
  (void)u;
}

static void dg_recv(nt_datagram_protocol_t *bp, const char *d, size_t n,
                    const struct sockaddr *from, socklen_t fromlen) {
  dg_t *p = (dg_t *)bp;
  snprintf(p->last, sizeof p->last, "%.*s", (int)n, d);
  memcpy(&p->from, from, fromlen);
  p->fromlen = fromlen;
  p->got++;
  if (p->echo) nt_udp_sendto(bp->udp, d, n, from, fromlen);
}

static void dg_lost(nt_datagram_protocol_t *bp, int status) {
  dg_t *p = (dg_t *)bp;
  assert_int_equal(status, 0);
  p->lost++;
}

static void dg_destroy(nt_datagram_protocol_t *bp) {
  ((dg_t *)bp)->destroyed++;
}

static const nt_datagram_protocol_ops_t dg_ops = {
    .connection_made = dg_made,
    .datagram_received = dg_recv,
    .connection_lost = dg_lost,
    .destroy = dg_destroy,
};

static int c_dg_got(void *arg) { return ((dg_t *)arg)->got > 0; }

static void dgram_case(int abstract) {
  nt_reactor_t *r = reactor_new();
  char name[108];
  make_name(name, sizeof name, "dgram", abstract);
  dg_t srv = {.base = {&dg_ops, NULL}, .echo = 1};
  dg_t cli = {.base = {&dg_ops, NULL}};
  nt_udp_t *us = NULL, *uc = NULL;
  if (!abstract) make_stale(name); /* a dead one is taken over */
  assert_status(nt_unix_dgram_bind(r, name, &srv.base, &us), 0);
  nt_udp_t *again = NULL;
  assert_status(nt_unix_dgram_bind(r, name, &cli.base, &again), NT_EADDRINUSE);
  assert_status(nt_unix_dgram_bind(r, NULL, &cli.base, &uc), 0); /* autobind */
  struct sockaddr_storage ss;
  socklen_t len;
  assert_int_equal(nt_unix_addr(name, &ss, &len), 0);
  assert_status(nt_udp_sendto(uc, "ping", 4, (struct sockaddr *)&ss, len), 0);
  assert_true(run_until(r, c_dg_got, &cli, 5000));
  assert_string_equal(srv.last, "ping");
  assert_string_equal(cli.last, "ping");
  char buf[128];
  assert_string_equal(nt_unix_addr_format((struct sockaddr *)&cli.from,
                                          cli.fromlen, buf, sizeof buf),
                      name);
  /* The client's autobound name is abstract. */
  assert_int_equal(nt_unix_addr_format((struct sockaddr *)&srv.from,
                                       srv.fromlen, buf, sizeof buf)[0],
                   '@');
  /* Connected: send with no address. */
  assert_status(nt_udp_connect_addr(uc, (struct sockaddr *)&ss, len), 0);
  cli.got = 0;
  assert_status(nt_udp_send(uc, "pong", 4), 0);
  assert_true(run_until(r, c_dg_got, &cli, 5000));
  assert_string_equal(cli.last, "pong");
  nt_udp_close(us);
  nt_udp_close(uc);
  assert_true(run_bounded(r, 3000));
  assert_int_equal(srv.lost + cli.lost, 2);
  assert_int_equal(srv.destroyed + cli.destroyed, 2);
  if (!abstract) assert_false(file_exists(name));
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_dgram_path(void **state) {
  (void)state;
  dgram_case(0);
}

static void test_dgram_abstract(void **state) {
  (void)state;
  dgram_case(1);
}

/* --- endpoints: listen and connect by string ------------------------------------- */

static void endpoint_echo(const char *server, const char *client) {
  tctx_t c;
  ctx_init(&c);
  c.setup = echo_setup;
  char err[200];
  nt_endpoint_t *se = NULL, *ce = NULL;
  assert_status(nt_endpoint_parse(server, NT_ENDPOINT_SERVER, &se, err,
                                  sizeof err), 0);
  nt_endpoint_listener_t *l = NULL;
  assert_status(nt_endpoint_listen(c.r, se, &c.sfact, NULL, &l), 0);
  nt_endpoint_free(se);
  char cspec[200];
  snprintf(cspec, sizeof cspec, client, nt_endpoint_listener_port(l));
  assert_status(nt_endpoint_parse(cspec, NT_ENDPOINT_CLIENT, &ce, err,
                                  sizeof err), 0);
  nt_connector_t *conn = NULL;
  assert_status(nt_endpoint_connect(c.r, ce, &c.cfact, NULL, &conn), 0);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  assert_int_equal(c.cli[0].rx_len, strlen(echo_msg));
  assert_memory_equal(c.cli[0].rx, echo_msg, strlen(echo_msg));
  char desc[200];
  nt_endpoint_listener_describe(l, desc, sizeof desc);
  nt_endpoint_listener_close(l);
  nt_endpoint_free(ce);
  ctx_finish(&c);
  if (!strncmp(server, "unix:", 5))
    assert_string_equal(desc + 5, server + 5);
  else if (!strncmp(server, "tls:", 4))
    assert_true(!strncmp(desc, "tls 127.0.0.1:", 14));
  else
    assert_true(!strncmp(desc, "tcp 127.0.0.1:", 14));
}

/* tls: endpoints, with the test PKI (tests/tls/make-certs.sh, found next to
 * this file): the listener makes its context from cert= and key=, the
 * connector from cacert= and checks the name. */
static void test_endpoint_tls(void **state) {
  (void)state;
  char dir[160], cmd[600], s[400], cl[400];
  snprintf(dir, sizeof dir, "%s/certs", g_dir);
  const char *here = __FILE__;
  const char *slash = strrchr(here, '/');
  snprintf(cmd, sizeof cmd, "sh '%.*s/../tls/make-certs.sh' '%s'",
           (int)(slash ? slash - here : 1), slash ? here : ".", dir);
  assert_int_equal(system(cmd), 0);
  snprintf(s, sizeof s, "tls:0:interface=127.0.0.1:cert=%s/server.crt:key=%s/server.key",
           dir, dir);
  snprintf(cl, sizeof cl, "tls:localhost:%%d:cacert=%s/ca.crt:timeout=5", dir);
  endpoint_echo(s, cl);
  /* A bad cert= fails the listen with the TLS configuration error. */
  tctx_t c;
  ctx_init(&c);
  nt_endpoint_t *ep;
  char err[200];
  assert_status(nt_endpoint_parse("tls:0:cert=/nonexistent.pem", NT_ENDPOINT_SERVER,
                                  &ep, err, sizeof err), 0);
  nt_endpoint_listener_t *l = NULL;
  assert_true(nt_endpoint_listen(c.r, ep, &c.sfact, NULL, &l) != 0);
  assert_null(l);
  nt_endpoint_free(ep);
  ctx_finish(&c);
}

static void test_endpoint_echo(void **state) {
  (void)state;
  char s[160], cl[160];
  snprintf(s, sizeof s, "unix:%s/ep.sock", g_dir);
  snprintf(cl, sizeof cl, "unix:%s/ep.sock", g_dir);
  endpoint_echo(s, cl);
  snprintf(s, sizeof s, "unix:@nt-ep-%d", (int)getpid());
  endpoint_echo(s, s);
  endpoint_echo("tcp:0:interface=127.0.0.1", "tcp:127.0.0.1:%d");
  endpoint_echo("tcp:port=0:interface=127.0.0.1",
                "tcp:host=127.0.0.1:port=%d:timeout=5");
}

/* --- main ------------------------------------------------------------------------- */

static int rm_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/nt-unix-XXXXXX");
  if (!mkdtemp(g_dir)) return 1;
  const struct CMUnitTest tests[] = {
      /* test_tcp.c's stream tests, over UNIX sockets */
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
      cmocka_unit_test(test_connector_cancel),
      cmocka_unit_test(test_server_refuses_in_build),
      cmocka_unit_test(test_close_all),
      cmocka_unit_test(test_pause_reading),
      cmocka_unit_test(test_many_connections),
      /* UNIX only */
      cmocka_unit_test(test_echo_path),
      cmocka_unit_test(test_echo_abstract),
      cmocka_unit_test(test_not_unix),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_stale_file_removed),
      cmocka_unit_test(test_live_socket_kept),
      cmocka_unit_test(test_close_keeps_replaced_file),
      cmocka_unit_test(test_connect_errors),
      cmocka_unit_test(test_fd_passing),
      cmocka_unit_test(test_fd_receiving_off),
      cmocka_unit_test(test_fd_over_limit),
      cmocka_unit_test(test_fd_held_closed),
      cmocka_unit_test(test_wrap_socketpair),
      cmocka_unit_test(test_dgram_path),
      cmocka_unit_test(test_dgram_abstract),
      cmocka_unit_test(test_endpoint_echo),
      cmocka_unit_test(test_endpoint_tls),
  };
  int failed = itest_run_backends("unix", tests);
  rm_dir();
  return failed ? 1 : 0;
}
