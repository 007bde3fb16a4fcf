/* Shared by the TLS unit tests: the test PKI (made at test time by
 * tests/tls/make-certs.sh), a recording protocol, a recording factory, and a
 * TLS client/server pair over the test reactor's in-memory transports. */
#ifndef NETTOOL_TEST_TLS_COMMON_H
#define NETTOOL_TEST_TLS_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/testing.h"
#include "nettool/tls.h"
#include "nettool/transport.h"

/* Not every test program uses every helper. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#ifndef NT_TLS_MAKE_CERTS
#error "NT_TLS_MAKE_CERTS must name tests/tls/make-certs.sh"
#pragma GCC diagnostic pop

#endif
#ifndef NT_TLS_CERTS_DIR
#define NT_TLS_CERTS_DIR "/tmp/nettool-tls-certs"
#pragma GCC diagnostic pop

#endif

static char certs_dir[512];

/* Makes the PKI once (the script is idempotent and atomic, so parallel
 * tests may race on it). $NT_TLS_CERTS overrides the directory. */
static int certs_setup(void **state) {
  (void)state;
  const char *d = getenv("NT_TLS_CERTS");
  snprintf(certs_dir, sizeof certs_dir, "%s", d && *d ? d : NT_TLS_CERTS_DIR);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "sh '%s' '%s' >/dev/null", NT_TLS_MAKE_CERTS,
           certs_dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "cannot make the test certificates: %s\n", cmd);
    return -1;
  }
  return 0;
}

/* A path in the PKI directory; rotating static buffers. */
static const char *cert(const char *name) {
  static char bufs[8][600];
  static int k;
  char *b = bufs[k++ % 8];
  snprintf(b, sizeof bufs[0], "%s/%s", certs_dir, name);
  return b;
}

/* --- a recording protocol ----------------------------------------------------- */

typedef struct rec {
  nt_protocol_t base;
  char *in;
  size_t in_len, in_cap;
  int made, eofs, lost, destroyed, pauses, resumes;
  int lost_status;
  int keep_half_open;
  int echo;
  nt_transport_t *t; /* the transport at the last connection_made */
  char reason[256];  /* nt_tls_error_reason at connection_lost */
} rec_t;

static void rec_made(nt_protocol_t *p, nt_transport_t *t) {
  rec_t *r = (rec_t *)p;
  assert_ptr_equal(p->transport, t);
  r->t = t;
  r->made++;
}
static void rec_data(nt_protocol_t *p, const char *d, size_t n) {
  rec_t *r = (rec_t *)p;
  if (r->in_len + n + 1 > r->in_cap) {
    size_t cap = r->in_cap ? r->in_cap : 1024;
    while (cap < r->in_len + n + 1) cap *= 2;
    r->in = realloc(r->in, cap);
    assert_non_null(r->in);
    r->in_cap = cap;
  }
  memcpy(r->in + r->in_len, d, n);
  r->in_len += n;
  r->in[r->in_len] = 0;
  if (r->echo) nt_transport_write(p->transport, d, n);
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
  snprintf(r->reason, sizeof r->reason, "%s",
           nt_tls_error_reason(p->transport));
}
static void rec_pause(nt_protocol_t *p) { ((rec_t *)p)->pauses++; }
static void rec_resume(nt_protocol_t *p) { ((rec_t *)p)->resumes++; }
static void rec_destroy(nt_protocol_t *p) { ((rec_t *)p)->destroyed++; }

static const nt_protocol_ops_t rec_ops = {rec_made,  rec_data,   rec_eof,
                                          rec_lost,  rec_pause,  rec_resume,
                                          rec_destroy};

static void rec_init(rec_t *r) {
  memset(r, 0, sizeof *r);
  nt_protocol_init(&r->base, &rec_ops);
}

static void rec_clear(rec_t *r) {
  free(r->in);
  r->in = NULL;
  r->in_len = r->in_cap = 0;
}

/* --- a recording factory -------------------------------------------------------- */

#define RFAC_MAX 8
typedef struct rfac {
  nt_factory_t base;
  rec_t *built[RFAC_MAX]; /* kept until rfac_free: tests look at them */
  int nbuilt;
  int refuse; /* build_protocol returns NULL */
  int echo;
  int failed;
  int fail_status;
  nt_connector_t *fail_conn;
  char fail_reason[256]; /* nt_tls_last_error() inside connection_failed */
} rfac_t;

static nt_protocol_t *rfac_build(nt_factory_t *f, const struct sockaddr *peer,
                                 socklen_t len) {
  rfac_t *rf = (rfac_t *)f;
  (void)peer;
  (void)len;
  if (rf->refuse || rf->nbuilt == RFAC_MAX) return NULL;
  rec_t *r = malloc(sizeof *r);
  assert_non_null(r);
  rec_init(r);
  r->echo = rf->echo;
  rf->built[rf->nbuilt++] = r;
  return &r->base;
}

static void rfac_failed(nt_factory_t *f, nt_connector_t *c, int status) {
  rfac_t *rf = (rfac_t *)f;
  rf->fail_conn = c; /* NULL for a handshake failure */
  rf->failed++;
  rf->fail_status = status;
  snprintf(rf->fail_reason, sizeof rf->fail_reason, "%s", nt_tls_last_error());
}

static const nt_factory_ops_t rfac_ops = {rfac_build, NULL, rfac_failed};

static void rfac_init(rfac_t *rf) {
  memset(rf, 0, sizeof *rf);
  rf->base.ops = &rfac_ops;
}

static void rfac_free(rfac_t *rf) {
  for (int i = 0; i < rf->nbuilt; i++) {
    rec_clear(rf->built[i]);
    free(rf->built[i]);
  }
  rf->nbuilt = 0;
}

/* --- contexts -------------------------------------------------------------------- */

static nt_tls_ctx_t *server_ctx_ex(const char *crt, const char *key,
                                   int max_version) {
  nt_tls_ctx_options_t o = {0};
  o.server = 1;
  o.cert_file = cert(crt);
  o.key_file = cert(key);
  o.max_version = max_version;
  nt_tls_ctx_t *ctx = NULL;
  int rc = nt_tls_ctx_new(&o, &ctx);
  if (rc) fail_msg("server ctx: %s: %s", nt_strerror(rc), nt_tls_last_error());
  return ctx;
}

static nt_tls_ctx_t *server_ctx(void) {
  return server_ctx_ex("server.crt", "server.key", 0);
}

static nt_tls_ctx_t *client_ctx_ex(int max_version, int insecure, int cache) {
  nt_tls_ctx_options_t o = {0};
  o.ca_file = cert("ca.crt");
  o.max_version = max_version;
  o.insecure = insecure;
  o.no_session_cache = !cache;
  nt_tls_ctx_t *ctx = NULL;
  int rc = nt_tls_ctx_new(&o, &ctx);
  if (rc) fail_msg("client ctx: %s: %s", nt_strerror(rc), nt_tls_last_error());
  return ctx;
}

static nt_tls_ctx_t *client_ctx(void) { return client_ctx_ex(0, 0, 1); }

/* --- a TLS pair in memory --------------------------------------------------------- */

typedef struct tls_pair {
  nt_tls_factory_t ctf, stf;
  rfac_t cf, sf;
  nt_test_pair_t *pair;
} tls_pair_t;

static void peer_addr(struct sockaddr_storage *ss, socklen_t *len) {
  assert_int_equal(nt_addr_parse("127.0.0.1", 40000, ss, len), 0);
}

/* Connects a TLS client (cctx, opts) to a TLS server (sctx) through memory
 * and pumps until nothing moves. */
static void tls_pair_open(nt_reactor_t *r, tls_pair_t *tp, nt_tls_ctx_t *cctx,
                          nt_tls_ctx_t *sctx, const nt_tls_options_t *copts) {
  memset(tp, 0, sizeof *tp);
  rfac_init(&tp->cf);
  rfac_init(&tp->sf);
  assert_int_equal(nt_tls_factory_init(&tp->ctf, cctx, &tp->cf.base, copts), 0);
  assert_int_equal(nt_tls_factory_init(&tp->stf, sctx, &tp->sf.base, NULL), 0);
  struct sockaddr_storage ss;
  socklen_t len;
  peer_addr(&ss, &len);
  nt_protocol_t *cp =
      tp->ctf.base.ops->build_protocol(&tp->ctf.base, (struct sockaddr *)&ss, len);
  nt_protocol_t *sp =
      tp->stf.base.ops->build_protocol(&tp->stf.base, (struct sockaddr *)&ss, len);
  assert_non_null(cp);
  assert_non_null(sp);
  tp->pair = nt_test_pair_new(r, cp, sp);
  assert_non_null(tp->pair);
  nt_test_pair_pump(tp->pair);
}

static rec_t *tls_client(tls_pair_t *tp) {
  return tp->cf.nbuilt ? tp->cf.built[0] : NULL;
}
static rec_t *tls_server(tls_pair_t *tp) {
  return tp->sf.nbuilt ? tp->sf.built[0] : NULL;
}

static void tls_pair_close(nt_reactor_t *r, tls_pair_t *tp) {
  if (tp->pair) nt_test_pair_free(tp->pair);
  tp->pair = NULL;
  nt_test_run_pending(r);
  rfac_free(&tp->cf);
  rfac_free(&tp->sf);
}

#pragma GCC diagnostic pop

#endif
