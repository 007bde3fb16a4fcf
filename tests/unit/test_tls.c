/* The TLS transport on the test reactor, with no sockets: handshakes,
 * verification failures and their reasons, STARTTLS mid-stream, garbage,
 * truncation, renegotiation, backpressure, pause/resume, write_file,
 * timeouts, session resumption. */
#include <fcntl.h>

#include "nettool/timestamp.h"
#include "test_tls_common.h"
#include "tls-int.h"

#include "test_reactor_fixture.h"

static int contains(const char *hay, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (!memcmp(hay + i, needle, k)) return 1;
  return 0;
}

static void assert_reason(const char *reason, const char *want) {
  if (!strstr(reason, want))
    fail_msg("reason \"%s\" does not say \"%s\"", reason, want);
}

/* --- handshake and data ----------------------------------------------------------- */

static void test_handshake_and_data(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  tls_pair_t tp;
  nt_tls_options_t co = {.server_name = "localhost"};
  tls_pair_open(f->r, &tp, cctx, sctx, &co);
  /* The contexts may go: connections hold their own references. */
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  assert_non_null(c);
  assert_non_null(s);
  assert_int_equal(c->made, 1);
  assert_int_equal(s->made, 1);
  assert_true(nt_tls_is_tls(c->t));
  assert_string_equal(c->t->ops->name, "tls");
  assert_true(nt_tls_handshake_done(c->t));
  assert_string_equal(nt_tls_version(c->t), "TLSv1.3");
  assert_string_equal(nt_tls_version(s->t), "TLSv1.3");
  assert_true(strlen(nt_tls_cipher(c->t)) > 0);
  assert_false(nt_tls_session_reused(c->t));
  assert_string_equal(nt_tls_server_name(s->t), "localhost"); /* SNI */
  assert_string_equal(nt_tls_server_name(c->t), "localhost");
  nt_test_transport_t *ctt = nt_test_pair_client(tp.pair);
  assert_ptr_equal(nt_tls_lower(c->t), nt_test_transport_base(ctt));
  assert_false(nt_tls_is_tls(nt_test_transport_base(ctt)));
  struct sockaddr_storage ss;
  socklen_t len;
  assert_int_equal(nt_transport_peer_address(c->t, &ss, &len), 0);

  /* What goes on the wire is not the plaintext. */
  nt_test_output_clear(ctt);
  assert_int_equal(nt_transport_write_str(c->t, "secret plaintext"), 0);
  size_t n;
  const char *wire = nt_test_output(ctt, &n);
  assert_true(n > 16);
  assert_false(contains(wire, n, "secret"));
  s->echo = 1;
  nt_test_pair_pump(tp.pair);
  assert_string_equal(s->in, "secret plaintext");
  assert_string_equal(c->in, "secret plaintext");

  /* A clean close: close_notify, seen by the peer as eof_received. */
  nt_transport_lose_connection(c->t);
  nt_test_pair_pump(tp.pair);
  assert_int_equal(c->lost, 1);
  assert_int_equal(c->lost_status, 0);
  assert_int_equal(c->destroyed, 1);
  assert_int_equal(s->eofs, 1);
  assert_int_equal(s->lost, 1);
  assert_int_equal(s->lost_status, 0);
  assert_int_equal(s->destroyed, 1);
  tls_pair_close(f->r, &tp);
}

static void test_tls12_and_alpn(void **state) {
  fixture *f = *state;
  static const char *const calpn[] = {"ftp", "http/1.1", NULL};
  static const char *const salpn[] = {"h2", "http/1.1", NULL};
  nt_tls_ctx_options_t o = {0};
  o.ca_file = cert("ca.crt");
  o.max_version = NT_TLS_1_2;
  o.alpn = calpn;
  nt_tls_ctx_t *cctx, *sctx;
  assert_int_equal(nt_tls_ctx_new(&o, &cctx), 0);
  nt_tls_ctx_options_t so = {0};
  so.server = 1;
  so.cert_file = cert("server.crt");
  so.key_file = cert("server.key");
  so.alpn = salpn;
  assert_int_equal(nt_tls_ctx_new(&so, &sctx), 0);
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  assert_non_null(c);
  assert_non_null(s);
  assert_string_equal(nt_tls_version(c->t), "TLSv1.2");
  assert_string_equal(nt_tls_alpn(c->t), "http/1.1");
  assert_string_equal(nt_tls_alpn(s->t), "http/1.1");
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* IP literals are checked against the certificate's IP SANs; no name at
 * all checks the address actually reached (127.0.0.1 here). */
static void test_ip_addresses(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  const char *ok[] = {"127.0.0.1", "::1", "[::1]", NULL};
  for (int i = 0; i < 4; i++) {
    tls_pair_t tp;
    nt_tls_options_t co = {.server_name = ok[i]};
    tls_pair_open(f->r, &tp, cctx, sctx, &co);
    if (!tls_client(&tp))
      fail_msg("%s: %s", ok[i] ? ok[i] : "(none)", tp.cf.fail_reason);
    assert_string_equal(nt_tls_server_name(tls_server(&tp)->t), ""); /* no SNI */
    tls_pair_close(f->r, &tp);
  }
  tls_pair_t tp;
  nt_tls_options_t co = {.server_name = "10.1.2.3"};
  tls_pair_open(f->r, &tp, cctx, sctx, &co);
  assert_null(tls_client(&tp));
  assert_int_equal(tp.cf.failed, 1);
  assert_int_equal(tp.cf.fail_status, NT_ETLS_HOSTNAME);
  assert_reason(tp.cf.fail_reason, "IP address mismatch");
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* --- verification failures, each with a reason that says why ------------------------ */

static void test_verify_failures(void **state) {
  fixture *f = *state;
  static const struct {
    const char *crt, *name;
    int status;
    const char *reason;
  } cases[] = {
      {"expired", "localhost", NT_ETLS_CERT_EXPIRED, "certificate has expired"},
      {"wronghost", "localhost", NT_ETLS_HOSTNAME, "hostname mismatch"},
      {"server", "wrong.example.invalid", NT_ETLS_HOSTNAME, "hostname mismatch"},
      {"selfsigned", "localhost", NT_ETLS_UNKNOWN_CA, "self-signed certificate"},
      {"untrusted", "localhost", NT_ETLS_UNKNOWN_CA,
       "unable to get local issuer certificate (unknown CA)"},
  };
  nt_tls_ctx_t *cctx = client_ctx();
  nt_tls_ctx_t *insecure = client_ctx_ex(0, 1, 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char crt[64], key[64];
    snprintf(crt, sizeof crt, "%s.crt", cases[i].crt);
    snprintf(key, sizeof key, "%s.key", cases[i].crt);
    nt_tls_ctx_t *sctx = server_ctx_ex(crt, key, 0);
    tls_pair_t tp;
    nt_tls_options_t co = {.server_name = cases[i].name};
    tls_pair_open(f->r, &tp, cctx, sctx, &co);
    assert_null(tls_client(&tp));
    assert_null(tls_server(&tp));
    if (tp.cf.failed != 1 || tp.cf.fail_status != cases[i].status)
      fail_msg("%s: failed %d status %s (%s)", cases[i].crt, tp.cf.failed,
               nt_err_name(tp.cf.fail_status), tp.cf.fail_reason);
    assert_reason(tp.cf.fail_reason, cases[i].reason);
    assert_null(tp.cf.fail_conn); /* no connector once TCP had connected */
    assert_reason(nt_strerror(tp.cf.fail_status), "TLS certificate");
    /* The server hears why from the client's alert. */
    assert_int_equal(tp.sf.failed, 1);
    assert_int_equal(tp.sf.fail_status, NT_ETLS_HANDSHAKE);
    assert_reason(tp.sf.fail_reason, "alert");
    assert_true(nt_test_is_lost(nt_test_pair_client(tp.pair)));
    assert_true(nt_test_is_lost(nt_test_pair_server(tp.pair)));
    tls_pair_close(f->r, &tp);

    /* The explicit insecure flag accepts them all. */
    tls_pair_open(f->r, &tp, insecure, sctx, &co);
    if (!tls_client(&tp)) fail_msg("insecure %s: %s", crt, tp.cf.fail_reason);
    tls_pair_close(f->r, &tp);
    nt_tls_ctx_free(sctx);
  }
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(insecure);
}

/* Verified by default: a client with no CA given uses the system store,
 * which does not know the test CA. */
static void test_verified_by_default(void **state) {
  fixture *f = *state;
  nt_tls_ctx_options_t o = {0};
  nt_tls_ctx_t *cctx, *sctx = server_ctx();
  assert_int_equal(nt_tls_ctx_new(&o, &cctx), 0);
  tls_pair_t tp;
  nt_tls_options_t co = {.server_name = "localhost"};
  tls_pair_open(f->r, &tp, cctx, sctx, &co);
  assert_null(tls_client(&tp));
  assert_int_equal(tp.cf.fail_status, NT_ETLS_UNKNOWN_CA);
  assert_reason(tp.cf.fail_reason, "unknown CA");
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

static void test_mutual_tls(void **state) {
  fixture *f = *state;
  nt_tls_ctx_options_t so = {0};
  so.server = 1;
  so.cert_file = cert("server.crt");
  so.key_file = cert("server.key");
  so.ca_file = cert("ca.crt");
  so.verify_client = 1;
  nt_tls_ctx_t *sctx, *with, *without = client_ctx();
  assert_int_equal(nt_tls_ctx_new(&so, &sctx), 0);
  nt_tls_ctx_options_t co = {0};
  co.ca_file = cert("ca.crt");
  co.cert_file = cert("client.crt");
  co.key_file = cert("client.key");
  assert_int_equal(nt_tls_ctx_new(&co, &with), 0);
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, with, sctx, NULL);
  assert_non_null(tls_server(&tp));
  tls_pair_close(f->r, &tp);
  tls_pair_open(f->r, &tp, without, sctx, NULL);
  assert_null(tls_server(&tp));
  assert_int_equal(tp.sf.fail_status, NT_ETLS_VERIFY);
  assert_reason(tp.sf.fail_reason, "no certificate");
  /* TLS 1.3: the client finishes first, then learns of the refusal. */
  assert_true(tp.cf.failed == 1 || (tls_client(&tp) && tls_client(&tp)->lost));
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(sctx);
  nt_tls_ctx_free(with);
  nt_tls_ctx_free(without);
}

/* --- STARTTLS ----------------------------------------------------------------------- */

/* A tiny line protocol: the client sends "STARTTLS\n", the server answers
 * "OK\n" in plaintext and both upgrade; everything after is TLS. */
typedef struct st_proto {
  rec_t rec;
  int server;
  int pipelined; /* client: start TLS right after the command, no wait */
  nt_tls_ctx_t *ctx;
  nt_transport_t *plain, *tls;
  int upgrade_rc;
} st_proto_t;

static void st_made(nt_protocol_t *p, nt_transport_t *t) {
  st_proto_t *s = (st_proto_t *)p;
  rec_made(p, t);
  if (s->rec.made == 1) {
    s->plain = t;
    if (!s->server) {
      nt_transport_write_str(t, "STARTTLS\n");
      if (s->pipelined) {
        nt_tls_options_t o = {.server_name = "localhost"};
        s->upgrade_rc = nt_tls_start(t, s->ctx, p, &o, &s->tls);
      }
    }
    return;
  }
  /* The second connection_made: TLS is up. */
  assert_ptr_equal(t, s->tls);
  nt_transport_write_str(t, s->server ? "welcome\n" : "over tls\n");
}

static void st_data(nt_protocol_t *p, const char *d, size_t n) {
  st_proto_t *s = (st_proto_t *)p;
  if (p->transport == s->tls) {
    rec_data(p, d, n);
    return;
  }
  /* plaintext phase */
  if (s->server) {
    assert_true(n >= 9);
    assert_memory_equal(d, "STARTTLS\n", 9);
    if (!s->pipelined) nt_transport_write_str(p->transport, "OK\n");
    nt_tls_options_t o = {0};
    o.initial_data = d + 9; /* a pipelining client's ClientHello */
    o.initial_len = n - 9;
    s->upgrade_rc = nt_tls_start(p->transport, s->ctx, p, &o, &s->tls);
  } else {
    assert_int_equal(n, 3);
    assert_memory_equal(d, "OK\n", 3);
    nt_tls_options_t o = {.server_name = "localhost"};
    s->upgrade_rc = nt_tls_start(p->transport, s->ctx, p, &o, &s->tls);
    assert_int_equal(s->upgrade_rc, 0);
    /* Written before the handshake is done: queued, then encrypted. */
    assert_int_equal(nt_transport_write_str(s->tls, "early\n"), 0);
    assert_int_equal(s->rec.made, 1); /* never from inside nt_tls_start */
  }
}

static const nt_protocol_ops_t st_ops = {st_made,  st_data,   rec_eof,
                                         rec_lost, rec_pause, rec_resume,
                                         rec_destroy};

static void starttls_run(fixture *f, int pipelined) {
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  st_proto_t c, s;
  memset(&c, 0, sizeof c);
  memset(&s, 0, sizeof s);
  rec_init(&c.rec);
  rec_init(&s.rec);
  c.rec.base.ops = s.rec.base.ops = &st_ops;
  c.ctx = cctx;
  s.ctx = sctx;
  s.server = 1;
  c.pipelined = s.pipelined = pipelined;
  nt_test_pair_t *pr = nt_test_pair_new(f->r, &c.rec.base, &s.rec.base);
  nt_test_pair_pump(pr);
  assert_int_equal(c.upgrade_rc, 0);
  assert_int_equal(s.upgrade_rc, 0);
  assert_non_null(c.tls);
  assert_non_null(s.tls);
  assert_int_equal(c.rec.made, 2);
  assert_int_equal(s.rec.made, 2);
  assert_true(nt_tls_is_tls(c.tls));
  assert_ptr_equal(nt_tls_lower(c.tls), c.plain);
  assert_string_equal(s.rec.in, pipelined ? "over tls\n" : "early\nover tls\n");
  assert_string_equal(c.rec.in, "welcome\n");
  /* Only ciphertext on the wire now. */
  nt_test_transport_t *ctt = nt_test_pair_client(pr);
  nt_test_output_clear(ctt);
  nt_transport_write_str(c.tls, "classified");
  size_t n;
  const char *wire = nt_test_output(ctt, &n);
  assert_false(contains(wire, n, "classified"));
  nt_test_pair_pump(pr);
  assert_true(strstr(s.rec.in, "classified") != NULL);
  nt_transport_lose_connection(c.tls);
  nt_test_pair_pump(pr);
  assert_int_equal(c.rec.lost, 1);
  assert_int_equal(c.rec.lost_status, 0);
  assert_int_equal(s.rec.lost, 1);
  assert_int_equal(s.rec.lost_status, 0);
  assert_int_equal(c.rec.destroyed, 1);
  assert_int_equal(s.rec.destroyed, 1);
  nt_test_pair_free(pr);
  nt_test_run_pending(f->r);
  rec_clear(&c.rec);
  rec_clear(&s.rec);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

static void test_starttls(void **state) { starttls_run(*state, 0); }

/* The client starts TLS right after the command: its ClientHello arrives
 * in the same read as "STARTTLS\n" and reaches TLS as initial_data. */
static void test_starttls_pipelined(void **state) { starttls_run(*state, 1); }

static void test_start_errors(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx();
  rec_t plain, up;
  rec_init(&plain);
  rec_init(&up);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &plain.base);
  nt_transport_t *t = nt_test_transport_base(tt);
  assert_int_equal(nt_tls_start(NULL, cctx, &up.base, NULL, NULL), NT_EINVAL);
  assert_int_equal(nt_tls_start(t, NULL, &up.base, NULL, NULL), NT_EINVAL);
  nt_transport_lose_connection(t);
  assert_int_equal(nt_tls_start(t, cctx, &up.base, NULL, NULL), NT_ECLOSED);
  assert_ptr_equal(t->protocol, &plain.base); /* nothing changed */
  assert_null(up.base.transport);
  nt_test_transport_free(tt);
  nt_tls_ctx_free(cctx);
}

/* The upper protocol gives up during the handshake. */
static void test_abort_during_handshake(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx();
  rec_t plain, up;
  rec_init(&plain);
  rec_init(&up);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, &plain.base);
  nt_transport_t *tls;
  nt_tls_options_t o = {.server_name = "localhost"};
  assert_int_equal(nt_tls_start(nt_test_transport_base(tt), cctx, &up.base, &o,
                                &tls),
                   0);
  assert_ptr_equal(up.base.transport, tls);
  size_t n;
  nt_test_output(tt, &n);
  assert_true(n > 0); /* the ClientHello */
  nt_transport_abort(tls);
  assert_int_equal(up.lost, 0);
  nt_test_run_pending(f->r);
  assert_int_equal(up.made, 0);
  assert_int_equal(up.lost, 1);
  assert_int_equal(up.lost_status, NT_ECONNABORTED);
  assert_int_equal(up.destroyed, 1);
  assert_true(nt_test_is_lost(tt));
  assert_int_equal(plain.lost, 0); /* detached: the caller's again */
  nt_test_transport_free(tt);
  nt_tls_ctx_free(cctx);
}

/* --- a peer that does not speak TLS ---------------------------------------------------- */

static void test_garbage_instead_of_server_hello(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx();
  rfac_t cf;
  rfac_init(&cf);
  nt_tls_factory_t tf;
  nt_tls_options_t co = {.server_name = "localhost"};
  assert_int_equal(nt_tls_factory_init(&tf, cctx, &cf.base, &co), 0);
  struct sockaddr_storage ss;
  socklen_t len;
  peer_addr(&ss, &len);
  nt_protocol_t *p =
      tf.base.ops->build_protocol(&tf.base, (struct sockaddr *)&ss, len);
  nt_tls_ctx_free(cctx); /* the connection has its own reference now */
  nt_test_transport_t *tt = nt_test_transport_new(f->r, p);
  size_t n;
  const unsigned char *hello = (const unsigned char *)nt_test_output(tt, &n);
  assert_true(n > 5);
  assert_int_equal(hello[0], 0x16); /* a handshake record */
  nt_test_feed_str(tt, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  nt_test_run_pending(f->r);
  assert_int_equal(cf.nbuilt, 0);
  assert_int_equal(cf.failed, 1);
  assert_int_equal(cf.fail_status, NT_ETLS_HANDSHAKE);
  assert_reason(cf.fail_reason, "wrong version number");
  assert_true(nt_test_is_lost(tt));
  nt_test_transport_free(tt);
}

static void test_garbage_to_server(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *sctx = server_ctx();
  rfac_t sf;
  rfac_init(&sf);
  nt_tls_factory_t tf;
  assert_int_equal(nt_tls_factory_init(&tf, sctx, &sf.base, NULL), 0);
  nt_protocol_t *p = tf.base.ops->build_protocol(&tf.base, NULL, 0);
  nt_test_transport_t *tt = nt_test_transport_new(f->r, p);
  nt_test_feed_str(tt, "GET / HTTP/1.0\r\n\r\n");
  nt_test_run_pending(f->r);
  assert_int_equal(sf.nbuilt, 0);
  assert_int_equal(sf.failed, 1);
  assert_int_equal(sf.fail_status, NT_ETLS_HANDSHAKE);
  assert_reason(sf.fail_reason, "http request");
  assert_true(nt_test_is_lost(tt));
  nt_test_transport_free(tt);
  nt_tls_ctx_free(sctx);
}

/* --- closing ------------------------------------------------------------------------------ */

/* The peer's lower connection ends without close_notify: truncation. */
static void test_truncation(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  assert_non_null(c);
  nt_transport_write_str(s->t, "partial answer");
  /* Close the server's TCP-level connection under TLS's feet. */
  nt_transport_abort(nt_test_transport_base(nt_test_pair_server(tp.pair)));
  nt_test_pair_pump(tp.pair);
  assert_string_equal(c->in, "partial answer");
  assert_int_equal(c->eofs, 0); /* not a clean end */
  assert_int_equal(c->lost, 1);
  assert_int_equal(c->lost_status, NT_ETLS_TRUNCATED);
  assert_reason(c->reason, "without a TLS close_notify");
  assert_int_equal(s->lost, 1);
  assert_int_equal(s->lost_status, NT_ECONNABORTED);
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* Cut in the middle of a record: nothing of it is delivered. */
static void test_truncation_mid_record(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  nt_test_transport_t *ctt = nt_test_pair_client(tp.pair);
  nt_test_transport_t *stt = nt_test_pair_server(tp.pair);
  char big[10000];
  memset(big, 'x', sizeof big);
  nt_test_output_clear(ctt);
  nt_transport_write(c->t, big, sizeof big);
  size_t n;
  const char *wire = nt_test_output(ctt, &n);
  assert_true(n > sizeof big);
  char *half = malloc(n / 2);
  memcpy(half, wire, n / 2);
  nt_test_output_clear(ctt);
  nt_test_feed(stt, half, n / 2);
  free(half);
  nt_test_feed_eof(stt);
  nt_test_run_pending(f->r);
  assert_int_equal(s->in_len, 0);
  assert_int_equal(s->lost, 1);
  assert_int_equal(s->lost_status, NT_ETLS_TRUNCATED);
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* write_eof sends close_notify; the peer may still answer (half-close). */
static void test_half_close(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  s->keep_half_open = 1;
  c->keep_half_open = 1;
  nt_transport_write_str(c->t, "request");
  assert_int_equal(nt_transport_write_eof(c->t), 0);
  assert_int_equal(nt_transport_write_str(c->t, "late"), NT_ECLOSED);
  nt_test_pair_pump(tp.pair);
  assert_string_equal(s->in, "request");
  assert_int_equal(s->eofs, 1);
  assert_int_equal(s->lost, 0);
  assert_int_equal(nt_transport_write_str(s->t, "response"), 0);
  nt_transport_lose_connection(s->t);
  nt_test_pair_pump(tp.pair);
  assert_string_equal(c->in, "response");
  assert_int_equal(c->eofs, 1);
  assert_int_equal(c->lost, 1);
  assert_int_equal(c->lost_status, 0);
  assert_int_equal(s->lost, 1);
  assert_int_equal(s->lost_status, 0);
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* A server factory that refuses after the handshake: close_notify, a clean
 * end for the client. */
static void test_factory_refuses(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  tls_pair_t tp;
  memset(&tp, 0, sizeof tp);
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  tls_pair_close(f->r, &tp);
  /* again, refusing */
  rfac_init(&tp.cf);
  rfac_init(&tp.sf);
  tp.sf.refuse = 1;
  nt_tls_factory_init(&tp.ctf, cctx, &tp.cf.base, NULL);
  nt_tls_factory_init(&tp.stf, sctx, &tp.sf.base, NULL);
  struct sockaddr_storage ss;
  socklen_t len;
  peer_addr(&ss, &len);
  tp.pair = nt_test_pair_new(
      f->r,
      tp.ctf.base.ops->build_protocol(&tp.ctf.base, (struct sockaddr *)&ss, len),
      tp.stf.base.ops->build_protocol(&tp.stf.base, (struct sockaddr *)&ss, len));
  nt_test_pair_pump(tp.pair);
  rec_t *c = tls_client(&tp);
  assert_non_null(c);
  assert_int_equal(c->eofs, 1);
  assert_int_equal(c->lost, 1);
  assert_int_equal(c->lost_status, 0);
  assert_int_equal(tp.sf.failed, 0);
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* --- renegotiation ---------------------------------------------------------------------------- */

static void renegotiate_run(fixture *f, int from_server) {
  nt_tls_ctx_t *cctx = client_ctx_ex(NT_TLS_1_2, 0, 0);
  nt_tls_ctx_t *sctx = server_ctx_ex("server.crt", "server.key", NT_TLS_1_2);
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  assert_non_null(c);
  assert_string_equal(nt_tls_version(c->t), "TLSv1.2");
  rec_t *asker = from_server ? s : c, *refuser = from_server ? c : s;
  assert_int_equal(nt__tls_test_renegotiate(asker->t), 0);
  nt_test_pair_pump(tp.pair);
  /* Refused: the side that asked gives up the connection with a reason;
   * no second handshake ever completes. */
  assert_int_equal(asker->lost, 1);
  assert_int_equal(asker->lost_status, NT_ETLS_PROTOCOL);
  assert_reason(asker->reason, "renegotiation");
  assert_int_equal(refuser->lost, 1);
  assert_int_not_equal(refuser->lost_status, 0);
  assert_int_equal(c->made, 1);
  assert_int_equal(s->made, 1);
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

static void test_renegotiation_refused_by_server(void **state) {
  renegotiate_run(*state, 0);
}
static void test_renegotiation_refused_by_client(void **state) {
  renegotiate_run(*state, 1);
}

/* --- backpressure ------------------------------------------------------------------------------- */

/* One write far over the high-water mark while the socket takes nothing:
 * pause_writing, then resume_writing as it drains, and every byte arrives. */
static void test_big_write_backpressure(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  nt_test_transport_t *ctt = nt_test_pair_client(tp.pair);
  const size_t total = 1u << 20;
  char *data = malloc(total);
  for (size_t i = 0; i < total; i++) data[i] = (char)(i * 31 + (i >> 12));
  nt_test_set_room(ctt, 0);
  assert_int_equal(nt_transport_write(c->t, data, total), 0);
  assert_int_equal(c->pauses, 1);
  /* Plaintext waits above TLS; only about the lower's high-water mark of
   * ciphertext was made. */
  assert_true(nt_transport_write_buffer_size(c->t) > NT_DEFAULT_HIGH_WATER);
  size_t lower_q = nt_transport_write_buffer_size(nt_test_transport_base(ctt));
  assert_true(lower_q >= NT_DEFAULT_HIGH_WATER);
  assert_true(lower_q < NT_DEFAULT_HIGH_WATER + 2 * 16500);
  for (int i = 0; i < 10000 && s->in_len < total; i++) {
    nt_test_drain(ctt, 20000);
    nt_test_pair_pump(tp.pair);
  }
  assert_int_equal(s->in_len, total);
  assert_memory_equal(s->in, data, total);
  assert_int_equal(c->resumes, 1);
  assert_int_equal(nt_transport_write_buffer_size(c->t), 0);
  free(data);
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

static void test_pause_reading(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  nt_transport_pause_reading(s->t);
  nt_transport_write_str(c->t, "held ");
  nt_test_pair_pump(tp.pair);
  nt_transport_write_str(c->t, "back");
  nt_transport_lose_connection(c->t);
  nt_test_pair_pump(tp.pair);
  assert_int_equal(s->in_len, 0);
  assert_int_equal(s->eofs, 0);
  nt_transport_resume_reading(s->t);
  assert_int_equal(s->in_len, 0); /* from the loop, not inline */
  nt_test_pair_pump(tp.pair);
  assert_string_equal(s->in, "held back");
  assert_int_equal(s->eofs, 1);
  assert_int_equal(s->lost, 1);
  assert_int_equal(s->lost_status, 0);
  assert_int_equal(c->lost_status, 0);
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* The timestamp server over TLS facing a client that sends and never reads
 * (the server's socket takes nothing): the replies fill the TCP transport up
 * to its mark, then the plaintext above TLS up to its own, and the server's
 * pause_reading on the TLS transport stops reading the lower transport; the
 * rest of what the client sends waits on its side. When the client reads,
 * everything is answered in order. */
typedef struct {
  nt_factory_t base, ts;
  nt_protocol_t *built;
} ts_fac_t;

static nt_protocol_t *ts_fac_build(nt_factory_t *f, const struct sockaddr *peer,
                                   socklen_t len) {
  ts_fac_t *tf = (ts_fac_t *)f;
  tf->built = tf->ts.ops->build_protocol(&tf->ts, peer, len);
  return tf->built;
}

static const nt_factory_ops_t ts_fac_ops = {ts_fac_build, NULL, NULL};

static void test_ts_server_backpressure(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  ts_fac_t tsf = {.base = {&ts_fac_ops, NULL}};
  nt_ts_server_factory_init(&tsf.ts);
  rfac_t cf;
  rfac_init(&cf);
  nt_tls_factory_t ctf, stf;
  assert_int_equal(nt_tls_factory_init(&ctf, cctx, &cf.base, NULL), 0);
  assert_int_equal(nt_tls_factory_init(&stf, sctx, &tsf.base, NULL), 0);
  struct sockaddr_storage ss;
  socklen_t len;
  peer_addr(&ss, &len);
  nt_test_pair_t *pair = nt_test_pair_new(
      f->r, ctf.base.ops->build_protocol(&ctf.base, (struct sockaddr *)&ss, len),
      stf.base.ops->build_protocol(&stf.base, (struct sockaddr *)&ss, len));
  nt_test_pair_pump(pair);
  rec_t *c = cf.nbuilt ? cf.built[0] : NULL;
  assert_non_null(c);
  assert_non_null(tsf.built);
  nt_transport_t *st = tsf.built->transport; /* the server's TLS transport */
  assert_true(nt_tls_is_tls(st));
  nt_test_transport_t *stt = nt_test_pair_server(pair);
  nt_transport_t *slower = nt_test_transport_base(stt);

  nt_test_set_room(stt, 0); /* the client reads nothing */
  enum { CHUNK = 10000, CHUNKS = 100 }; /* 1 MB sent */
  static char chunk[CHUNK];
  size_t max_upper = 0, max_lower = 0;
  for (int i = 0; i < CHUNKS; i++) {
    memset(chunk, 'a' + i % 26, sizeof chunk);
    assert_int_equal(nt_transport_write(c->t, chunk, sizeof chunk), 0);
    nt_test_pair_pump(pair);
    size_t u = nt_transport_write_buffer_size(st);
    size_t l = nt_transport_write_buffer_size(slower);
    if (u > max_upper) max_upper = u;
    if (l > max_lower) max_lower = l;
  }
  assert_false(nt_test_reading(stt)); /* the TCP socket is not read */
  assert_true(st->flags & NT_TRANSPORT_READ_PAUSED);
  assert_true(max_lower <= NT_DEFAULT_HIGH_WATER + 2 * 16500);
  assert_true(max_upper <= NT_DEFAULT_HIGH_WATER + 16384 + NT_TS_PREFIX_MAX);
  /* The server read no more than about two marks of the megabyte. */
  assert_true(c->in_len == 0);

  /* The client reads: everything comes back, in order. */
  for (int k = 0; k < 20000; k++) {
    nt_test_drain(stt, 30000);
    nt_test_pair_pump(pair);
    nt_test_run_pending(f->r);
    if (nt_test_reading(stt) && nt_transport_write_buffer_size(st) == 0 &&
        nt_transport_write_buffer_size(slower) == 0 &&
        (k > 100 || c->in_len > (size_t)CHUNKS * CHUNK))
      break;
  }
  assert_true(nt_test_reading(stt));
  size_t pos = 0, payload = 0;
  const char *pre = "[Sun Nov 22 15:11:00 2026]: ";
  while (pos < c->in_len) {
    if (c->in[pos] == '[') {
      const char *e = memchr(c->in + pos, ']', c->in_len - pos);
      assert_non_null(e);
      assert_int_equal(e - (c->in + pos), strlen(pre) - 3);
      pos += strlen(pre);
      continue;
    }
    if (c->in[pos] != 'a' + (int)(payload / CHUNK) % 26)
      fail_msg("byte %zu of the payload is '%c'", payload, c->in[pos]);
    pos++;
    payload++;
  }
  assert_int_equal(payload, (size_t)CHUNKS * CHUNK);
  nt_test_pair_free(pair);
  nt_test_run_pending(f->r);
  rfac_free(&cf);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* A server that sat idle (the clock moved on with no connection) gives the
 * next client its whole handshake timeout, counted from when it connected
 * (issue 10: ts-server --tls dropped the first client after an idle 10 s). */
static void test_handshake_timeout_after_idle(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *sctx = server_ctx();
  rfac_t sf;
  rfac_init(&sf);
  nt_tls_factory_t stf;
  nt_tls_factory_init(&stf, sctx, &sf.base, NULL); /* default: 10 s */
  nt_test_clock_advance(f->r, 60000); /* idle for a minute */
  struct sockaddr_storage ss;
  socklen_t len;
  peer_addr(&ss, &len);
  nt_test_transport_t *st = nt_test_transport_new(
      f->r, stf.base.ops->build_protocol(&stf.base, (struct sockaddr *)&ss, len));
  nt_test_run_pending(f->r);
  assert_int_equal(sf.failed, 0);
  nt_test_clock_advance(f->r, 9999);
  assert_int_equal(sf.failed, 0);
  assert_false(nt_test_is_lost(st));
  nt_test_clock_advance(f->r, 1);
  assert_int_equal(sf.failed, 1);
  assert_int_equal(sf.fail_status, NT_ETIMEDOUT);
  nt_test_transport_free(st);
  nt_test_run_pending(f->r);
  rfac_free(&sf);
  nt_tls_ctx_free(sctx);
}

/* write_file is read and encrypted a record at a time as the lower
 * transport drains, never the whole file at once. */
static void test_write_file(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  nt_test_transport_t *ctt = nt_test_pair_client(tp.pair);
  char path[] = "/tmp/nt-tls-file-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  const size_t size = 600000;
  char *data = malloc(size);
  for (size_t i = 0; i < size; i++) data[i] = (char)(i * 7 + 3);
  assert_int_equal(write(fd, data, size), (ssize_t)size);
  nt_test_set_room(ctt, 0);
  nt_transport_write_str(c->t, "<");
  assert_int_equal(nt_transport_write_file(c->t, fd, 100, size - 100), 0);
  close(fd);
  nt_transport_write_str(c->t, ">");
  nt_transport_lose_connection(c->t);
  size_t lower_q = nt_transport_write_buffer_size(nt_test_transport_base(ctt));
  assert_true(lower_q < NT_DEFAULT_HIGH_WATER + 2 * 16500);
  assert_true(nt_transport_write_buffer_size(c->t) > size / 2);
  for (int i = 0; i < 10000 && !s->lost; i++) {
    nt_test_drain(ctt, 30000);
    nt_test_pair_pump(tp.pair);
  }
  if (s->in_len != size - 100 + 2)
    fail_msg("got %zu; server lost %d %s (%s); client lost %d %s (%s)",
             s->in_len, s->lost, nt_err_name(s->lost_status), s->reason,
             c->lost, nt_err_name(c->lost_status), c->reason);
  assert_int_equal(s->in[0], '<');
  assert_memory_equal(s->in + 1, data + 100, size - 100);
  assert_int_equal(s->in[size - 100 + 1], '>');
  assert_int_equal(s->lost_status, 0);
  assert_int_equal(c->lost_status, 0);
  free(data);
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* Files one after another on one connection: the file buffer is kept
 * through a file's many reads and given back at its end (an idle connection
 * holds none), then made again for the next file; no byte is lost or
 * reordered, with plain writes between the files. */
static void test_write_files_in_a_row(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  tls_pair_t tp;
  tls_pair_open(f->r, &tp, cctx, sctx, NULL);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  nt_test_transport_t *ctt = nt_test_pair_client(tp.pair);
  char path[] = "/tmp/nt-tls-files-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  const size_t size = 300000;
  char *data = malloc(size);
  for (size_t i = 0; i < size; i++) data[i] = (char)(i * 13 + 1);
  assert_int_equal(write(fd, data, size), (ssize_t)size);
  size_t want = 0;
  for (int k = 0; k < 3; k++) {
    /* room 0: the files queue; then they drain in small steps, so each is
     * read in many pieces */
    nt_test_set_room(ctt, 0);
    assert_int_equal(nt_transport_write_str(c->t, "|"), 0);
    assert_int_equal(nt_transport_write_file(c->t, fd, 0, size), 0);
    want += 1 + size;
    for (int i = 0; i < 10000 && s->in_len < want; i++) {
      nt_test_drain(ctt, 20000);
      nt_test_pair_pump(tp.pair);
    }
    assert_int_equal(s->in_len, want);
    assert_int_equal(nt_transport_write_buffer_size(c->t), 0);
  }
  close(fd);
  for (int k = 0; k < 3; k++) {
    const char *piece = s->in + (size_t)k * (1 + size);
    assert_int_equal(piece[0], '|');
    assert_memory_equal(piece + 1, data, size);
  }
  assert_int_equal(c->lost, 0);
  assert_int_equal(s->lost, 0);
  free(data);
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* --- timeouts ------------------------------------------------------------------------------------ */

static void test_handshake_timeout(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  rfac_t cf, sf;
  rfac_init(&cf);
  rfac_init(&sf);
  nt_tls_factory_t ctf, stf;
  nt_tls_options_t co = {.handshake_timeout_ms = 5000};
  nt_tls_factory_init(&ctf, cctx, &cf.base, &co);
  nt_tls_factory_init(&stf, sctx, &sf.base, NULL); /* default: 10 s */
  struct sockaddr_storage ss;
  socklen_t len;
  peer_addr(&ss, &len);
  /* Both peers are silent (nobody moves their bytes). */
  nt_test_transport_t *ct = nt_test_transport_new(
      f->r, ctf.base.ops->build_protocol(&ctf.base, (struct sockaddr *)&ss, len));
  nt_test_transport_t *st = nt_test_transport_new(
      f->r, stf.base.ops->build_protocol(&stf.base, (struct sockaddr *)&ss, len));
  nt_test_clock_advance(f->r, 4999);
  assert_int_equal(cf.failed, 0);
  nt_test_clock_advance(f->r, 1);
  assert_int_equal(cf.failed, 1);
  assert_int_equal(cf.fail_status, NT_ETIMEDOUT);
  assert_reason(cf.fail_reason, "timed out");
  assert_true(nt_test_is_lost(ct));
  assert_int_equal(sf.failed, 0);
  nt_test_clock_advance(f->r, 5000);
  assert_int_equal(sf.failed, 1);
  assert_int_equal(sf.fail_status, NT_ETIMEDOUT);
  assert_true(nt_test_is_lost(st));
  nt_test_transport_free(ct);
  nt_test_transport_free(st);
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

/* --- sessions ------------------------------------------------------------------------------------ */

static void sessions_run(fixture *f, int version) {
  nt_tls_ctx_t *cached = client_ctx_ex(version, 0, 1);
  nt_tls_ctx_t *plain = client_ctx_ex(version, 0, 0);
  nt_tls_ctx_t *sctx = server_ctx_ex("server.crt", "server.key", version);
  tls_pair_t tp;
  nt_tls_options_t co = {.server_name = "localhost"};
  tls_pair_open(f->r, &tp, cached, sctx, &co);
  rec_t *c = tls_client(&tp), *s = tls_server(&tp);
  assert_false(nt_tls_session_reused(c->t));
  /* Some application data both ways: a TLS 1.3 ticket comes after the
   * handshake. */
  s->echo = 1;
  nt_transport_write_str(c->t, "ping");
  nt_test_pair_pump(tp.pair);
  nt_tls_session_t *sess = nt_tls_get_session(c->t);
  assert_non_null(sess);
  assert_true(nt_tls_session_resumable(sess));
  nt_transport_lose_connection(c->t);
  nt_test_pair_pump(tp.pair);
  tls_pair_close(f->r, &tp);

  /* An explicit session on a context without a cache (FTPS data
   * connection reusing the control connection's session). */
  nt_tls_options_t with = {.server_name = "localhost", .session = sess};
  tls_pair_open(f->r, &tp, plain, sctx, &with);
  c = tls_client(&tp);
  s = tls_server(&tp);
  assert_non_null(c);
  assert_true(nt_tls_session_reused(c->t));
  assert_true(nt_tls_session_reused(s->t));
  tls_pair_close(f->r, &tp);
  /* The same session, again and again (each connection resumes a copy),
   * on both contexts. */
  for (int i = 0; i < 4; i++) {
    tls_pair_open(f->r, &tp, i % 2 ? plain : cached, sctx, &with);
    if (!nt_tls_session_reused(tls_client(&tp)->t))
      fail_msg("offer %d of the same session was not resumed", i + 2);
    tls_pair_close(f->r, &tp);
  }
  assert_true(nt_tls_session_resumable(sess));
  nt_tls_session_free(sess);

  /* The cached context resumes by itself for the same name... */
  tls_pair_open(f->r, &tp, cached, sctx, &co);
  assert_true(nt_tls_session_reused(tls_client(&tp)->t));
  tls_pair_close(f->r, &tp);
  /* ...but not for another name. */
  nt_tls_options_t other = {.server_name = "127.0.0.1"};
  tls_pair_open(f->r, &tp, cached, sctx, &other);
  assert_false(nt_tls_session_reused(tls_client(&tp)->t));
  tls_pair_close(f->r, &tp);
  nt_tls_ctx_free(cached);
  nt_tls_ctx_free(plain);
  nt_tls_ctx_free(sctx);
}

static void test_sessions_tls13(void **state) { sessions_run(*state, 0); }
static void test_sessions_tls12(void **state) {
  sessions_run(*state, NT_TLS_1_2);
}

/* --- contexts ------------------------------------------------------------------------------------- */

/* nt_tls_ctx_ref: another owner's reference; the context lives until the
 * last one goes, and connections made after the first owner left work. */
static void test_ctx_ref(void **state) {
  fixture *f = *state;
  assert_null(nt_tls_ctx_ref(NULL));
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  nt_tls_ctx_t *worker = nt_tls_ctx_ref(sctx);
  assert_ptr_equal(worker, sctx);
  nt_tls_ctx_free(sctx); /* the first owner is done; the worker is not */
  for (int k = 0; k < 2; k++) {
    tls_pair_t tp;
    nt_tls_options_t co = {.server_name = "localhost"};
    tls_pair_open(f->r, &tp, cctx, worker, &co);
    rec_t *c = tls_client(&tp), *s = tls_server(&tp);
    assert_non_null(c);
    assert_non_null(s);
    assert_true(nt_tls_handshake_done(c->t));
    assert_int_equal(nt_transport_write_str(c->t, "ping"), 0);
    nt_test_pair_pump(tp.pair);
    assert_int_equal(s->in_len, 4);
    assert_memory_equal(s->in, "ping", 4);
    tls_pair_close(f->r, &tp);
  }
  nt_tls_ctx_free(worker); /* the last reference (ASan: nothing leaks) */
  nt_tls_ctx_free(cctx);
}

static void test_ctx_errors(void **state) {
  (void)state;
  nt_tls_ctx_t *ctx = NULL;
  nt_tls_ctx_options_t o = {0};
  o.server = 1;
  assert_int_equal(nt_tls_ctx_new(&o, &ctx), NT_EINVAL); /* no certificate */
  assert_reason(nt_tls_last_error(), "certificate");
  o.cert_file = "/nonexistent/server.crt";
  assert_int_equal(nt_tls_ctx_new(&o, &ctx), NT_ENOENT);
  assert_reason(nt_tls_last_error(), "/nonexistent/server.crt");
  o.cert_file = cert("server.crt");
  o.key_file = cert("expired.key");
  assert_int_equal(nt_tls_ctx_new(&o, &ctx), NT_ETLS_CONFIG);
  assert_reason(nt_tls_last_error(), "does not match");
  o.cert_file = NT_TLS_MAKE_CERTS; /* not a certificate */
  o.key_file = cert("server.key");
  assert_int_equal(nt_tls_ctx_new(&o, &ctx), NT_ETLS_CONFIG);
  assert_reason(nt_tls_last_error(), "cannot load certificate");
  nt_tls_ctx_options_t c = {0};
  c.min_version = 0x0301; /* TLS 1.0 */
  assert_int_equal(nt_tls_ctx_new(&c, &ctx), NT_EINVAL);
  c.min_version = 0;
  c.ca_file = "/nonexistent/ca.crt";
  assert_int_equal(nt_tls_ctx_new(&c, &ctx), NT_ENOENT);
  static const char *const bad_alpn[] = {"", NULL};
  c.ca_file = NULL;
  c.alpn = bad_alpn;
  assert_int_equal(nt_tls_ctx_new(&c, &ctx), NT_EINVAL);
  assert_null(ctx);
  nt_tls_factory_t tf;
  nt_factory_t inner = {0};
  assert_int_equal(nt_tls_factory_init(&tf, NULL, &inner, NULL), NT_EINVAL);
  assert_string_equal(nt_err_name(NT_ETLS_TRUNCATED), "ETLS_TRUNCATED");
}

/* --- allocation failures ------------------------------------------------------------ */

/* Moves bytes both ways between two lone in-memory transports until quiet
 * (the pair helper cannot be used: its own allocations fail too). */
static void pump2(nt_reactor_t *r, nt_test_transport_t *a, nt_test_transport_t *b) {
  for (int i = 0; i < 200; i++) {
    size_t moved = 0;
    for (int dir = 0; dir < 2; dir++) {
      nt_test_transport_t *from = dir ? b : a, *to = dir ? a : b;
      size_t n;
      const char *o = nt_test_output(from, &n);
      if (!n) continue;
      char *copy = malloc(n);
      memcpy(copy, o, n);
      nt_test_output_clear(from);
      nt_test_feed(to, copy, n);
      free(copy);
      moved += n;
    }
    nt_test_run_pending(r);
    if (!moved) break;
  }
}

/* Every nettool allocation of a connect-handshake-talk-close cycle fails in
 * turn (OpenSSL's own allocations are not injected): whatever breaks, it
 * must end cleanly, with no crash and no leak (ASan checks). */
static void test_allocation_failures(void **state) {
  fixture *f = *state;
  nt_tls_ctx_t *cctx = client_ctx(), *sctx = server_ctx();
  struct sockaddr_storage ss;
  socklen_t len;
  peer_addr(&ss, &len);
  int completed = 0;
  for (long n = 0; n < 1000 && !completed; n++) {
    rfac_t cf, sf;
    rfac_init(&cf);
    rfac_init(&sf);
    sf.echo = 1;
    nt_tls_factory_t ctf, stf;
    nt_tls_factory_init(&ctf, cctx, &cf.base, NULL);
    nt_tls_factory_init(&stf, sctx, &sf.base, NULL);
    nt_test_fail_alloc_after(n);
    nt_protocol_t *cp =
        ctf.base.ops->build_protocol(&ctf.base, (struct sockaddr *)&ss, len);
    nt_protocol_t *sp =
        stf.base.ops->build_protocol(&stf.base, (struct sockaddr *)&ss, len);
    nt_test_transport_t *ct = cp ? nt_test_transport_new(f->r, cp) : NULL;
    nt_test_transport_t *st = sp ? nt_test_transport_new(f->r, sp) : NULL;
    /* A protocol whose transport could not be made is still ours. */
    if (cp && !ct) cp->ops->destroy(cp);
    if (sp && !st) sp->ops->destroy(sp);
    if (ct && st) {
      pump2(f->r, ct, st);
      rec_t *c = cf.nbuilt ? cf.built[0] : NULL;
      if (c && !c->lost) {
        char big[40000];
        memset(big, 'z', sizeof big);
        nt_transport_write(c->t, big, sizeof big);
        pump2(f->r, ct, st);
        if (c->in_len == sizeof big) completed = (int)n + 1;
        if (!c->lost) nt_transport_lose_connection(c->t);
        pump2(f->r, ct, st);
      }
    }
    nt_test_fail_alloc_after(-1);
    nt_test_transport_free(ct);
    nt_test_transport_free(st);
    nt_test_run_pending(f->r);
    rfac_free(&cf);
    rfac_free(&sf);
  }
  assert_true(completed); /* the sweep reached the end of the cycle */
  nt_tls_ctx_free(cctx);
  nt_tls_ctx_free(sctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_handshake_and_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tls12_and_alpn, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ip_addresses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verified_by_default, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mutual_tls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_starttls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_starttls_pipelined, setup, teardown),
      cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_during_handshake, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_instead_of_server_hello, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_garbage_to_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncation_mid_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_factory_refuses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_renegotiation_refused_by_server, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_renegotiation_refused_by_client, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_big_write_backpressure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pause_reading, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ts_server_backpressure, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_handshake_timeout_after_idle, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_write_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_files_in_a_row, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_ctx_ref, setup, teardown),
      cmocka_unit_test_setup_teardown(test_handshake_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sessions_tls13, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sessions_tls12, setup, teardown),
      cmocka_unit_test(test_ctx_errors),
      cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
  };
  return cmocka_run_group_tests(tests, certs_setup, NULL);
}
