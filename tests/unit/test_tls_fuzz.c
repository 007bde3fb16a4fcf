/* Fuzzing our TLS glue (not OpenSSL's record layer): random bytes, mutated
 * real handshake flights, and random cuts of valid input, fed as the peer
 * into the glue on the test reactor. Nothing may crash or leak (run under
 * ASan in the sanitizer build); every connection must end in a definite
 * state, and valid input cut anywhere must still work. Deterministic: a
 * fixed seed ($NT_FUZZ_SEED overrides; $NT_FUZZ_ROUNDS scales). */
#include "test_tls_common.h"

typedef struct {
  nt_reactor_t *r;
  nt_tls_ctx_t *cctx, *sctx, *cctx12, *sctx12;
} fixture;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static int rounds(int base) {
  const char *s = getenv("NT_FUZZ_ROUNDS");
  int k = s ? atoi(s) : 1;
  return base * (k > 0 ? k : 1);
}

static int setup(void **state) {
  const char *seed = getenv("NT_FUZZ_SEED");
  if (seed) rng_state = strtoull(seed, NULL, 0) | 1;
  fixture *f = calloc(1, sizeof *f);
  if (nt_test_reactor_new(&f->r)) return -1;
  f->cctx = client_ctx();
  f->sctx = server_ctx();
  f->cctx12 = client_ctx_ex(NT_TLS_1_2, 0, 0);
  f->sctx12 = server_ctx_ex("server.crt", "server.key", NT_TLS_1_2);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  nt_test_run_pending(f->r);
  nt_tls_ctx_free(f->cctx);
  nt_tls_ctx_free(f->sctx);
  nt_tls_ctx_free(f->cctx12);
  nt_tls_ctx_free(f->sctx12);
  size_t live = nt_test_reactor_free(f->r);
  free(f);
  assert_int_equal(live, 0); /* each test closed what it opened */
  return 0;
}

/* One glue (client or server) on a lone in-memory transport. */
typedef struct {
  nt_tls_factory_t tf;
  rfac_t rf;
  nt_test_transport_t *tt;
} lone_t;

static void lone_open(fixture *f, lone_t *l, nt_tls_ctx_t *ctx) {
  memset(l, 0, sizeof *l);
  rfac_init(&l->rf);
  l->rf.echo = 1;
  nt_tls_options_t o = {.server_name = "localhost"};
  assert_int_equal(nt_tls_factory_init(&l->tf, ctx, &l->rf.base, &o), 0);
  struct sockaddr_storage ss;
  socklen_t len;
  peer_addr(&ss, &len);
  nt_protocol_t *p =
      l->tf.base.ops->build_protocol(&l->tf.base, (struct sockaddr *)&ss, len);
  assert_non_null(p);
  l->tt = nt_test_transport_new(f->r, p);
  assert_non_null(l->tt);
}

/* Ends it the way a peer would: EOF, then the handshake timeout for a glue
 * still waiting. Afterwards the connection must be over. */
static void lone_finish(fixture *f, lone_t *l) {
  nt_test_feed_eof(l->tt);
  nt_test_run_pending(f->r);
  nt_test_clock_advance(f->r, 11000);
  assert_true(nt_test_is_lost(l->tt));
  if (l->rf.nbuilt == 0) assert_int_equal(l->rf.failed, 1);
  if (l->rf.nbuilt) assert_int_equal(l->rf.built[0]->lost, 1);
  nt_test_transport_free(l->tt);
  rfac_free(&l->rf);
}

static void feed_random(lone_t *l, size_t n) {
  char buf[4096];
  if (n > sizeof buf) n = sizeof buf;
  for (size_t i = 0; i < n; i++) buf[i] = (char)rnd();
  /* Often start like a record, to get past the first check. */
  if (n >= 5 && rnd_below(2)) {
    static const unsigned char types[] = {0x14, 0x15, 0x16, 0x17};
    buf[0] = (char)types[rnd_below(4)];
    buf[1] = 3;
    buf[2] = (char)(1 + rnd_below(4));
    size_t body = rnd_below(2) ? n - 5 : rnd_below(20000);
    buf[3] = (char)(body >> 8);
    buf[4] = (char)body;
  }
  nt_test_feed(l->tt, buf, n);
}

static void test_random_bytes_to_client(void **state) {
  fixture *f = *state;
  for (int i = 0; i < rounds(300); i++) {
    lone_t l;
    lone_open(f, &l, i % 2 ? f->cctx : f->cctx12);
    int pieces = 1 + (int)rnd_below(4);
    for (int k = 0; k < pieces && !nt_test_is_lost(l.tt); k++)
      feed_random(&l, 1 + rnd_below(3000));
    nt_test_run_pending(f->r);
    assert_int_equal(l.rf.nbuilt, 0); /* never a handshake out of noise */
    lone_finish(f, &l);
  }
}

static void test_random_bytes_to_server(void **state) {
  fixture *f = *state;
  for (int i = 0; i < rounds(300); i++) {
    lone_t l;
    lone_open(f, &l, i % 2 ? f->sctx : f->sctx12);
    int pieces = 1 + (int)rnd_below(4);
    for (int k = 0; k < pieces && !nt_test_is_lost(l.tt); k++)
      feed_random(&l, 1 + rnd_below(3000));
    nt_test_run_pending(f->r);
    assert_int_equal(l.rf.nbuilt, 0);
    lone_finish(f, &l);
  }
}

/* Takes what a transport wrote (a copy the caller frees). */
static char *take_output(nt_test_transport_t *tt, size_t *n) {
  const char *o = nt_test_output(tt, n);
  char *copy = malloc(*n ? *n : 1);
  memcpy(copy, o, *n);
  nt_test_output_clear(tt);
  return copy;
}

/* A real exchange, with one flight mutated: flipped bits, cut short,
 * bytes inserted or dropped. */
static void mutate_and_feed(fixture *f, lone_t *to, char *d, size_t n) {
  switch (rnd_below(4)) {
  case 0: /* flip a few bits */
    for (int k = 0, m = 1 + (int)rnd_below(3); k < m && n; k++)
      d[rnd_below(n)] ^= (char)(1u << rnd_below(8));
    nt_test_feed(to->tt, d, n);
    break;
  case 1: /* cut short */
    nt_test_feed(to->tt, d, rnd_below(n));
    break;
  case 2: { /* drop a byte */
    size_t at = rnd_below(n);
    nt_test_feed(to->tt, d, at);
    if (at + 1 < n) nt_test_feed(to->tt, d + at + 1, n - at - 1);
    break;
  }
  default: { /* insert garbage */
    size_t at = rnd_below(n);
    char junk[16];
    for (size_t k = 0; k < sizeof junk; k++) junk[k] = (char)rnd();
    nt_test_feed(to->tt, d, at);
    nt_test_feed(to->tt, junk, 1 + rnd_below(sizeof junk));
    nt_test_feed(to->tt, d + at, n - at);
  }
  }
  (void)f;
}

static void mutated_run(fixture *f, nt_tls_ctx_t *cctx, nt_tls_ctx_t *sctx,
                        int n_rounds) {
  for (int i = 0; i < n_rounds; i++) {
    lone_t c, s;
    lone_open(f, &c, cctx);
    lone_open(f, &s, sctx);
    /* Play the exchange flight by flight; mutate one of them. */
    int victim = (int)rnd_below(4);
    for (int flight = 0; flight < 4; flight++) {
      lone_t *from = flight % 2 ? &s : &c, *to = flight % 2 ? &c : &s;
      size_t n;
      char *d = take_output(from->tt, &n);
      if (n && !nt_test_is_lost(to->tt)) {
        if (flight == victim)
          mutate_and_feed(f, to, d, n);
        else
          nt_test_feed(to->tt, d, n);
      }
      free(d);
      nt_test_run_pending(f->r);
    }
    /* Whatever happened, application data must not crash anything either. */
    if (c.rf.nbuilt && !c.rf.built[0]->lost)
      nt_transport_write_str(c.rf.built[0]->t, "after the storm");
    lone_finish(f, &c);
    lone_finish(f, &s);
  }
}

static void test_mutated_handshake_tls13(void **state) {
  fixture *f = *state;
  mutated_run(f, f->cctx, f->sctx, rounds(150));
}

static void test_mutated_handshake_tls12(void **state) {
  fixture *f = *state;
  mutated_run(f, f->cctx12, f->sctx12, rounds(150));
}

/* Valid input cut at random places (and byte by byte) still works: the glue
 * keeps partial records across reads. */
static void test_random_cuts_still_work(void **state) {
  fixture *f = *state;
  for (int i = 0; i < rounds(40); i++) {
    lone_t c, s;
    lone_open(f, &c, i % 2 ? f->cctx : f->cctx12);
    lone_open(f, &s, i % 2 ? f->sctx : f->sctx12);
    int bytewise = i < 2;
    for (int turn = 0; turn < 50 && !(c.rf.nbuilt && s.rf.nbuilt); turn++) {
      for (int dir = 0; dir < 2; dir++) {
        lone_t *from = dir ? &s : &c, *to = dir ? &c : &s;
        size_t n;
        char *d = take_output(from->tt, &n);
        size_t pos = 0;
        while (pos < n) {
          size_t k = bytewise ? 1 : 1 + rnd_below(n - pos);
          nt_test_feed(to->tt, d + pos, k);
          pos += k;
          if (rnd_below(3) == 0) nt_test_run_pending(f->r);
        }
        free(d);
        nt_test_run_pending(f->r);
      }
    }
    assert_int_equal(c.rf.nbuilt, 1);
    assert_int_equal(s.rf.nbuilt, 1);
    /* And a message through the echoing server, in random pieces. */
    c.rf.built[0]->echo = 0;
    nt_transport_write_str(c.rf.built[0]->t, "hello through the pieces");
    for (int turn = 0; turn < 4; turn++) {
      for (int dir = 0; dir < 2; dir++) {
        lone_t *from = dir ? &s : &c, *to = dir ? &c : &s;
        size_t n;
        char *d = take_output(from->tt, &n);
        size_t pos = 0;
        while (pos < n) {
          size_t k = 1 + rnd_below(n - pos);
          nt_test_feed(to->tt, d + pos, k);
          pos += k;
        }
        free(d);
        nt_test_run_pending(f->r);
      }
    }
    assert_non_null(c.rf.built[0]->in);
    assert_string_equal(c.rf.built[0]->in, "hello through the pieces");
    lone_finish(f, &c);
    lone_finish(f, &s);
  }
}

/* Noise in the middle of an established connection. */
static void test_random_bytes_after_handshake(void **state) {
  fixture *f = *state;
  for (int i = 0; i < rounds(100); i++) {
    tls_pair_t tp;
    tls_pair_open(f->r, &tp, i % 2 ? f->cctx : f->cctx12,
                  i % 2 ? f->sctx : f->sctx12, NULL);
    rec_t *c = tls_client(&tp);
    assert_non_null(c);
    nt_test_transport_t *victim =
        rnd_below(2) ? nt_test_pair_client(tp.pair) : nt_test_pair_server(tp.pair);
    char buf[2048];
    size_t n = 1 + rnd_below(sizeof buf);
    for (size_t k = 0; k < n; k++) buf[k] = (char)rnd();
    if (n >= 5 && rnd_below(2)) {
      buf[0] = 0x17; /* application data */
      buf[1] = 3;
      buf[2] = 3;
      buf[3] = (char)((n - 5) >> 8);
      buf[4] = (char)(n - 5);
    }
    nt_test_feed(victim, buf, n);
    /* A short forgery waits for the rest of its record: then the peer
     * leaves, which is a truncation. */
    if (!nt_test_is_lost(victim)) nt_test_feed_eof(victim);
    nt_test_pair_pump(tp.pair);
    rec_t *hit = victim == nt_test_pair_client(tp.pair) ? c : tls_server(&tp);
    assert_int_equal(hit->lost, 1); /* a forged record never decrypts */
    assert_int_not_equal(hit->lost_status, 0);
    assert_int_equal(hit->in_len, 0);
    tls_pair_close(f->r, &tp);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_random_bytes_to_client, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_bytes_to_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mutated_handshake_tls13, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mutated_handshake_tls12, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_cuts_still_work, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_bytes_after_handshake, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, certs_setup, NULL);
}
