/* Integration tests for TLS: real sockets on loopback (127.0.0.1, ::1), our
 * client against our server and against `openssl s_server`, on both reactor
 * backends. The test PKI is made at test time (tests/tls/make-certs.sh).
 *
 * Every wait is bounded (run_until with a deadline; s_server is waited for
 * at most 5 s and stopped by its PID, which this program started). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include "../unit/test_tls_common.h"
#include "nettool/tcp.h"

extern char **environ;

#include "itest_backends.h"

/* Ends a test: what the test closed may need a moment to finish closing
 * (the peer's side of a loopback connection sees the FIN on a later turn),
 * at most 2 s; then the reactor must be empty. */
static void reactor_free(nt_reactor_t *r) {
  uint64_t deadline = mono_ms() + 2000;
  while (nt_reactor_live(r, NULL) && mono_ms() < deadline) {
    if (nt_reactor_run_once(r, 0) <= 0) usleep(1000);
  }
  assert_int_equal(nt_test_reactor_free(r), 0);
}

typedef int (*cond_fn)(void *arg);
typedef struct {
  nt_timer_t t;
  cond_fn cond;
  void *arg;
  uint64_t deadline;
} waiter_t;

static void waiter_cb(nt_timer_t *t) {
  waiter_t *w = t->data;
  if (w->cond(w->arg) || mono_ms() >= w->deadline) nt_reactor_stop(t->reactor);
}

/* Runs until cond(arg) holds, at most ms; returns cond(arg). */
static int run_until(nt_reactor_t *r, cond_fn cond, void *arg, uint64_t ms) {
  if (cond(arg)) return 1;
  waiter_t w = {.cond = cond, .arg = arg, .deadline = mono_ms() + ms};
  nt_reactor_update_time(r);
  nt_timer_init(r, &w.t, waiter_cb);
  w.t.data = &w;
  nt_timer_unref(&w.t);
  nt_timer_start(&w.t, 2, 2);
  nt_reactor_run(r);
  nt_timer_stop(&w.t);
  return cond(arg);
}

static int ipv6_available(void) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
  int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

/* --- conditions ---------------------------------------------------------------- */

typedef struct {
  rfac_t *f;
  size_t want;
  int base; /* connections built before this one */
} got_t;

static int client_done(void *arg) {
  rfac_t *f = arg;
  return f->failed || (f->nbuilt && f->built[f->nbuilt - 1]->lost);
}

static int client_got(void *arg) {
  got_t *g = arg;
  rec_t *c = g->f->nbuilt > g->base ? g->f->built[g->f->nbuilt - 1] : NULL;
  return g->f->failed || (c && (c->lost || c->in_len >= g->want));
}

static int server_built(void *arg) {
  rfac_t *f = arg;
  return f->nbuilt > 0;
}

static int client_paused(void *arg) {
  rec_t *c = arg;
  return c->pauses > 0 || c->lost;
}

/* --- our client against our server ---------------------------------------------- */

typedef struct {
  nt_reactor_t *r;
  nt_tls_ctx_t *sctx, *cctx;
  rfac_t sf, cf;
  nt_tls_factory_t stf, ctf;
  nt_listener_t *l;
  int port;
} loop_t;

static void loop_open(loop_t *t, const char *bind, nt_tls_ctx_t *cctx) {
  memset(t, 0, sizeof *t);
  t->r = reactor_new();
  t->sctx = server_ctx();
  t->cctx = cctx;
  rfac_init(&t->sf);
  rfac_init(&t->cf);
  t->sf.echo = 1;
  assert_int_equal(nt_tls_factory_init(&t->stf, t->sctx, &t->sf.base, NULL), 0);
  assert_int_equal(nt_tcp_listen(t->r, bind, 0, &t->stf.base, NULL, &t->l), 0);
  t->port = nt_listener_port(t->l);
}

static void loop_connect(loop_t *t, const char *host, const nt_tls_options_t *o) {
  t->cf.failed = 0;
  assert_int_equal(nt_tls_factory_init(&t->ctf, t->cctx, &t->cf.base, o), 0);
  assert_int_equal(nt_tcp_connect(t->r, host, t->port, &t->ctf.base, NULL, NULL),
                   0);
}

static void loop_close(loop_t *t) {
  nt_listener_close(t->l);
  reactor_free(t->r);
  rfac_free(&t->sf);
  rfac_free(&t->cf);
  nt_tls_ctx_free(t->sctx);
  nt_tls_ctx_free(t->cctx);
}

static void echo_run(const char *bind, const char *host, const char *name) {
  loop_t t;
  loop_open(&t, bind, client_ctx());
  nt_tls_options_t o = {.server_name = name};
  loop_connect(&t, host, &o);
  got_t g = {&t.cf, 0, 0};
  assert_true(run_until(t.r, client_got, &g, 5000));
  if (t.cf.failed) fail_msg("%s: %s", nt_strerror(t.cf.fail_status), t.cf.fail_reason);
  rec_t *c = t.cf.built[0];
  nt_transport_t *lower = nt_tls_lower(c->t);
  assert_non_null(lower);
  assert_string_equal(lower->ops->name, "tcp");
  assert_true(nt_tcp_fileno(lower) >= 0);
  /* Backpressure through TLS over real TCP: the server stops reading, so
   * one 16 MiB write fills the kernel's buffers (loopback autotuning takes
   * up to ~10 MiB), then the TCP queue, then the TLS queue: pause_writing.
   * Reading again drains it all: resume_writing, every byte echoed. */
  assert_true(run_until(t.r, server_built, &t.sf, 5000));
  rec_t *s = t.sf.built[0];
  nt_transport_pause_reading(s->t);
  const size_t total = 16u << 20;
  char *data = malloc(total);
  for (size_t i = 0; i < total; i++) data[i] = (char)(i * 13 + (i >> 10));
  assert_int_equal(nt_transport_write(c->t, data, total), 0);
  assert_true(run_until(t.r, client_paused, c, 10000));
  assert_true(nt_transport_write_buffer_size(c->t) > NT_DEFAULT_HIGH_WATER);
  nt_transport_resume_reading(s->t);
  g.want = total;
  assert_true(run_until(t.r, client_got, &g, 20000));
  assert_int_equal(c->in_len, total);
  assert_memory_equal(c->in, data, total);
  assert_true(c->resumes >= 1);
  nt_transport_lose_connection(c->t);
  assert_true(run_until(t.r, client_done, &t.cf, 5000));
  assert_int_equal(c->lost_status, 0);
  for (int i = 0; i < 100 && !s->lost; i++) nt_reactor_run_once(t.r, 0);
  free(data);
  loop_close(&t);
}

static void test_echo_ipv4(void **state) {
  (void)state;
  echo_run("127.0.0.1", "127.0.0.1", "localhost");
}

static void test_echo_ipv6(void **state) {
  (void)state;
  if (!ipv6_available()) skip();
  /* No name: the address reached, ::1, is checked against the IP SANs. */
  echo_run("::1", "::1", NULL);
}

static void test_resumption_over_tcp(void **state) {
  (void)state;
  loop_t t;
  loop_open(&t, "127.0.0.1", client_ctx());
  nt_tls_options_t o = {.server_name = "localhost"};
  nt_tls_session_t *sess = NULL;
  for (int i = 0; i < 2; i++) {
    got_t g = {&t.cf, 0, t.cf.nbuilt};
    loop_connect(&t, "127.0.0.1", &o);
    assert_true(run_until(t.r, client_got, &g, 5000));
    g.want = 4;
    rec_t *c = t.cf.built[t.cf.nbuilt - 1];
    assert_int_equal(nt_tls_session_reused(c->t), i > 0);
    nt_transport_write_str(c->t, "ping"); /* the echo brings the ticket */
    assert_true(run_until(t.r, client_got, &g, 5000));
    if (!sess) sess = nt_tls_get_session(c->t);
    nt_transport_lose_connection(c->t);
    assert_true(run_until(t.r, client_done, &t.cf, 5000));
  }
  /* An explicit session on another context (an FTPS data connection). */
  nt_tls_ctx_t *other = client_ctx_ex(0, 0, 0);
  assert_int_equal(nt_tls_factory_init(&t.ctf, other, &t.cf.base,
                                       &(nt_tls_options_t){.server_name = "localhost",
                                                           .session = sess}),
                   0);
  got_t g = {&t.cf, 0, t.cf.nbuilt};
  assert_int_equal(nt_tcp_connect(t.r, "127.0.0.1", t.port, &t.ctf.base, NULL, NULL), 0);
  assert_true(run_until(t.r, client_got, &g, 5000));
  /* The factory's context and session were needed until the connection
   * was built; it holds its own references now. */
  nt_tls_session_free(sess);
  nt_tls_ctx_free(other);
  rec_t *c = t.cf.built[t.cf.nbuilt - 1];
  assert_true(nt_tls_session_reused(c->t));
  nt_transport_lose_connection(c->t);
  assert_true(run_until(t.r, client_done, &t.cf, 5000));
  loop_close(&t);
}

static void test_connect_refused(void **state) {
  (void)state;
  loop_t t;
  loop_open(&t, "127.0.0.1", client_ctx());
  t.port = free_port();
  loop_connect(&t, "127.0.0.1", NULL);
  assert_true(run_until(t.r, client_done, &t.cf, 5000));
  assert_int_equal(t.cf.fail_status, NT_ECONNREFUSED);
  assert_non_null(t.cf.fail_conn); /* TCP's own failure, passed through */
  loop_close(&t);
}

/* A server that drops TCP under TLS: the client reports truncation. */
static void trunc_data(nt_protocol_t *p, const char *d, size_t n) {
  rec_data(p, d, n);
  nt_transport_write_str(p->transport, "half an answer");
  nt_transport_lose_connection(nt_tls_lower(p->transport));
}
static const nt_protocol_ops_t trunc_ops = {rec_made, trunc_data, rec_eof,
                                            rec_lost, NULL,       NULL,
                                            rec_destroy};
static nt_protocol_t *trunc_build(nt_factory_t *f, const struct sockaddr *a,
                                  socklen_t l) {
  nt_protocol_t *p = rfac_build(f, a, l);
  p->ops = &trunc_ops;
  return p;
}
static const nt_factory_ops_t trunc_factory_ops = {trunc_build, NULL, rfac_failed};

static void test_truncation_over_tcp(void **state) {
  (void)state;
  loop_t t;
  loop_open(&t, "127.0.0.1", client_ctx());
  t.sf.base.ops = &trunc_factory_ops;
  t.sf.echo = 0;
  loop_connect(&t, "127.0.0.1", NULL);
  got_t g = {&t.cf, 0, 0};
  assert_true(run_until(t.r, client_got, &g, 5000));
  rec_t *c = t.cf.built[0];
  nt_transport_write_str(c->t, "question");
  assert_true(run_until(t.r, client_done, &t.cf, 5000));
  assert_string_equal(c->in, "half an answer");
  assert_int_equal(c->eofs, 0);
  assert_int_equal(c->lost_status, NT_ETLS_TRUNCATED);
  loop_close(&t);
}

/* --- our client against openssl s_server ---------------------------------------- */

typedef struct {
  pid_t pid;
  int port;
  char log[600];
} sserver_t;

static int port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static void sserver_stop(sserver_t *s) {
  if (s->pid <= 0) return;
  kill(s->pid, SIGTERM);
  int st;
  for (int i = 0; i < 300; i++) { /* 3 s, then KILL */
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
      s->pid = 0;
      return;
    }
    usleep(10000);
  }
  kill(s->pid, SIGKILL);
  waitpid(s->pid, &st, 0);
  s->pid = 0;
}

/* Starts `openssl s_server -rev` (each line comes back reversed) with the
 * certificate `crt` on a free loopback port; extra: e.g. "-tls1_2". */
static int sserver_start(sserver_t *s, const char *crt, const char *extra) {
  for (int attempt = 0; attempt < 3; attempt++) {
    memset(s, 0, sizeof *s);
    s->port = free_port();
    char accept[64], c[600], k[600];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", s->port);
    snprintf(c, sizeof c, "%s/%s.crt", certs_dir, crt);
    snprintf(k, sizeof k, "%s/%s.key", certs_dir, crt);
    snprintf(s->log, sizeof s->log, "%s/s_server-%d.log", certs_dir, s->port);
    char *argv[16];
    int n = 0;
    argv[n++] = "openssl";
    argv[n++] = "s_server";
    argv[n++] = "-accept";
    argv[n++] = accept;
    argv[n++] = "-cert";
    argv[n++] = c;
    argv[n++] = "-key";
    argv[n++] = k;
    argv[n++] = "-rev";
    argv[n++] = "-quiet";
    if (extra) argv[n++] = (char *)extra;
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, s->log, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawnp(&s->pid, "openssl", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) return -1;
    for (int i = 0; i < 500; i++) { /* 5 s */
      if (port_open(s->port)) return 0;
      int st;
      if (waitpid(s->pid, &st, WNOHANG) == s->pid) { /* port taken? again */
        s->pid = 0;
        break;
      }
      usleep(10000);
    }
    sserver_stop(s);
  }
  return -1;
}

/* One connection from our client to s_server; returns the client record
 * (or NULL when the handshake failed: see f). */
static rec_t *talk(nt_reactor_t *r, rfac_t *f, nt_tls_factory_t *tf,
                   nt_tls_ctx_t *ctx, int port, const char *name,
                   nt_tls_session_t *sess) {
  nt_tls_options_t o = {.server_name = name, .session = sess};
  f->failed = 0;
  int before = f->nbuilt;
  assert_int_equal(nt_tls_factory_init(tf, ctx, &f->base, &o), 0);
  assert_int_equal(nt_tcp_connect(r, "127.0.0.1", port, &tf->base, NULL, NULL), 0);
  got_t g = {f, 0, before};
  assert_true(run_until(r, client_got, &g, 5000));
  if (f->failed) return NULL;
  assert_int_equal(f->nbuilt, before + 1);
  rec_t *c = f->built[f->nbuilt - 1];
  nt_transport_write_str(c->t, "hello tls\n");
  g.want = 10;
  assert_true(run_until(r, client_got, &g, 5000));
  assert_string_equal(c->in, "slt olleh\n");
  return c;
}

static void test_against_s_server(void **state) {
  (void)state;
  static const struct {
    const char *crt, *name, *extra, *version;
  } good[] = {
      {"server", "localhost", NULL, "TLSv1.3"},
      {"server", "127.0.0.1", "-tls1_2", "TLSv1.2"},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    sserver_t s;
    if (sserver_start(&s, good[i].crt, good[i].extra)) fail_msg("no s_server");
    nt_reactor_t *r = reactor_new();
    nt_tls_ctx_t *ctx = client_ctx();
    rfac_t f;
    rfac_init(&f);
    nt_tls_factory_t tf;
    rec_t *c = talk(r, &f, &tf, ctx, s.port, good[i].name, NULL);
    if (!c) fail_msg("%s: %s", good[i].version, f.fail_reason);
    assert_string_equal(nt_tls_version(c->t), good[i].version);
    assert_false(nt_tls_session_reused(c->t));
    nt_transport_lose_connection(c->t);
    assert_true(run_until(r, client_done, &f, 5000));
    assert_int_equal(c->lost_status, 0);
    /* s_server serves one client at a time; the next one resumes. */
    c = talk(r, &f, &tf, ctx, s.port, good[i].name, NULL);
    assert_non_null(c);
    assert_true(nt_tls_session_reused(c->t));
    nt_transport_lose_connection(c->t);
    assert_true(run_until(r, client_done, &f, 5000));
    reactor_free(r);
    rfac_free(&f);
    nt_tls_ctx_free(ctx);
    sserver_stop(&s);
  }
}

static void test_s_server_bad_certificates(void **state) {
  (void)state;
  static const struct {
    const char *crt;
    int status;
    const char *reason;
  } bad[] = {
      {"expired", NT_ETLS_CERT_EXPIRED, "certificate has expired"},
      {"wronghost", NT_ETLS_HOSTNAME, "hostname mismatch"},
      {"selfsigned", NT_ETLS_UNKNOWN_CA, "self-signed certificate"},
      {"untrusted", NT_ETLS_UNKNOWN_CA, "unknown CA"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sserver_t s;
    if (sserver_start(&s, bad[i].crt, NULL)) fail_msg("no s_server");
    nt_reactor_t *r = reactor_new();
    nt_tls_ctx_t *ctx = client_ctx();
    rfac_t f;
    rfac_init(&f);
    nt_tls_factory_t tf;
    assert_null(talk(r, &f, &tf, ctx, s.port, "localhost", NULL));
    if (f.fail_status != bad[i].status || !strstr(f.fail_reason, bad[i].reason))
      fail_msg("%s: got %s \"%s\"", bad[i].crt, nt_err_name(f.fail_status),
               f.fail_reason);
    assert_null(f.fail_conn);
    reactor_free(r);
    rfac_free(&f);
    nt_tls_ctx_free(ctx);
    sserver_stop(&s);
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_echo_ipv4),
      cmocka_unit_test(test_echo_ipv6),
      cmocka_unit_test(test_resumption_over_tcp),
      cmocka_unit_test(test_connect_refused),
      cmocka_unit_test(test_truncation_over_tcp),
      cmocka_unit_test(test_against_s_server),
      cmocka_unit_test(test_s_server_bad_certificates),
  };
  itest_group_setup = certs_setup;
  return itest_run_backends("tls", tests) ? 1 : 0;
}
