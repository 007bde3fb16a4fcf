/* NNTP pipelining and COMPRESS DEFLATE on the test reactor: a scripted
 * server whose replies to a pipelined session are cut at every byte
 * boundary (and arrive before the client could have sent the commands:
 * out of the request/response rhythm), the window (first 8, at most
 * options.pipeline, adapted to the round trip on the virtual clock), the
 * commands that must go alone (POST, OVER before the server listed it,
 * anything while credentials wait), and COMPRESS DEFLATE with a server
 * script compressed by zlib, cut at every byte of the compressed stream,
 * plus a corrupt stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "nettool/compress.h"
#include "nettool/nntp.h"
#include "nettool/testing.h"

static nt_reactor_t *R;

static struct {
  char log[16384];
  size_t len;
  int ready, closed, status;
  nt_nntp_t *c;
  int scenario;
  int nstat;
} rec;

static void logf_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (rec.len < sizeof rec.log)
    rec.len += (size_t)vsnprintf(rec.log + rec.len, sizeof rec.log - rec.len, fmt, ap);
  va_end(ap);
}

static void on_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  (void)c;
  logf_("%s:%d/%d", (const char *)arg, r->status, r->code);
  if (r->message_id[0]) logf_(" %s", r->message_id);
  if (r->lines) logf_(" lines=%llu", (unsigned long long)r->lines);
  logf_("\n");
}
static void on_line(nt_nntp_t *c, const char *l, size_t n, void *arg) {
  (void)c, (void)arg;
  logf_("  |%.*s|\n", (int)n, l);
}
static void on_over(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  (void)c, (void)arg;
  logf_("  over %llu [%.*s]\n", (unsigned long long)o->number, (int)o->subject.n,
        o->subject.p);
}
static void close_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  on_done(c, r, arg);
  nt_nntp_close(c);
}

static const char *const ids[] = {"<a1@x>", "<a2@x>", "<a3@x>", "<a4@x>",
                                  "<a5@x>", "<a6@x>", "<a7@x>", "<a8@x>",
                                  "<a9@x>", "<a10@x>", "<a11@x>", "<a12@x>"};

static void on_ready(nt_nntp_t *c, void *arg) {
  (void)arg;
  rec.ready++;
  logf_("ready compressed=%d\n", nt_nntp_is_compressed(c));
  switch (rec.scenario) {
  case 0: /* a pipelined bulk read: GROUP, 12 BODY (one missing), OVER */
    assert_int_equal(nt_nntp_group(c, "local.test", on_done, "group"), 0);
    for (int i = 0; i < 12; i++)
      assert_int_equal(nt_nntp_fetch(c, NT_NNTP_BODY, ids[i], on_line, on_done, "body"), 0);
    assert_int_equal(nt_nntp_over(c, "1-2", on_over, close_done, "over"), 0);
    break;
  case 1: /* many STATs */
    for (int i = 0; i < rec.nstat; i++) {
      char id[32];
      snprintf(id, sizeof id, "<s%d@x>", i);
      assert_int_equal(nt_nntp_fetch(c, NT_NNTP_STAT, id, NULL, on_done, "stat"), 0);
    }
    break;
  case 2: /* POST goes alone, between pipelined ones */
    assert_int_equal(nt_nntp_fetch(c, NT_NNTP_STAT, "<a1@x>", NULL, on_done, "stat"), 0);
    assert_int_equal(nt_nntp_fetch(c, NT_NNTP_STAT, "<a2@x>", NULL, on_done, "stat"), 0);
    assert_int_equal(nt_nntp_post(c, "Subject: s\n\nhi\n", 15, on_done, "post"), 0);
    assert_int_equal(nt_nntp_fetch(c, NT_NNTP_STAT, "<a3@x>", NULL, close_done, "stat"), 0);
    break;
  default:
    break;
  }
}
static void on_closed(nt_nntp_t *c, int status, void *arg) {
  (void)c, (void)arg;
  rec.closed++;
  rec.status = status;
  logf_("closed %d\n", status);
}
static const nt_nntp_callbacks_t cbs = {.ready = on_ready, .closed = on_closed};

static nt_protocol_t *build_opts(const nt_nntp_options_t *o) {
  int scenario = rec.scenario, nstat = rec.nstat;
  memset(&rec, 0, sizeof rec);
  rec.scenario = scenario;
  rec.nstat = nstat;
  nt_nntp_t *c;
  assert_int_equal(nt_nntp_new(R, o, &cbs, NULL, &c), 0);
  rec.c = c;
  return nt_nntp_protocol(c);
}
static nt_protocol_t *build(void *arg) {
  (void)arg;
  return build_opts(NULL);
}

static const char *want_log, *want_out;
static void check(void *arg, nt_test_transport_t *tt, const char *how) {
  (void)arg;
  if (strcmp(rec.log, want_log))
    fail_msg("%s:\n got:\n%s\n want:\n%s", how, rec.log, want_log);
  const char *out = nt_test_output(tt, NULL);
  if (strcmp(out, want_out)) fail_msg("%s: sent:\n%s\nwant:\n%s", how, out, want_out);
}

/* The replies to scenario 0 after set-up, and what the log must say. */
static const char replies0[] =
    "211 3 1 3 local.test\r\n"
    "222 0 <a1@x>\r\nbody one\r\n..dot\r\n.\r\n"
    "222 0 <a2@x>\r\n.\r\n"
    "430 no such article\r\n"
    "222 0 <a4@x>\r\nfour\r\n.\r\n"
    "222 0 <a5@x>\r\n.\r\n"
    "222 0 <a6@x>\r\n.\r\n"
    "222 0 <a7@x>\r\n.\r\n"
    "222 0 <a8@x>\r\n.\r\n"
    "222 0 <a9@x>\r\nnine\r\n.\r\n"
    "222 0 <a10@x>\r\n.\r\n"
    "222 0 <a11@x>\r\n.\r\n"
    "222 0 <a12@x>\r\ntwelve\r\n.\r\n"
    "224 overview\r\n1\tS1\tf\td\t<a1@x>\t\t10\t1\r\n2\tS2\tf\td\t<a2@x>\t\t10\t1\r\n.\r\n"
    "205 bye\r\n";
static const char log0[] =
    "group:0/211\n"
    "  |body one|\n  |.dot|\nbody:0/222 <a1@x> lines=2\n"
    "body:0/222 <a2@x>\n"
    "body:-3502/430\n"
    "  |four|\nbody:0/222 <a4@x> lines=1\n"
    "body:0/222 <a5@x>\nbody:0/222 <a6@x>\nbody:0/222 <a7@x>\nbody:0/222 <a8@x>\n"
    "  |nine|\nbody:0/222 <a9@x> lines=1\n"
    "body:0/222 <a10@x>\nbody:0/222 <a11@x>\n"
    "  |twelve|\nbody:0/222 <a12@x> lines=1\n"
    "  over 1 [S1]\n  over 2 [S2]\nover:0/224 lines=2\n"
    "closed 0\n";
static const char out0[] =
    "GROUP local.test\r\nBODY <a1@x>\r\nBODY <a2@x>\r\nBODY <a3@x>\r\n"
    "BODY <a4@x>\r\nBODY <a5@x>\r\nBODY <a6@x>\r\nBODY <a7@x>\r\nBODY <a8@x>\r\n"
    "BODY <a9@x>\r\nBODY <a10@x>\r\nBODY <a11@x>\r\nBODY <a12@x>\r\n"
    "OVER 1-2\r\nQUIT\r\n";

static void test_pipelined_session_every_split(void **state) {
  (void)state;
  rec.scenario = 0;
  char server[4096];
  snprintf(server, sizeof server, "%s%s",
           "200 ok\r\n101 caps\r\nVERSION 2\r\nREADER\r\nOVER\r\n.\r\n", replies0);
  char log[4096], out[2048];
  snprintf(log, sizeof log, "ready compressed=0\n%s", log0);
  snprintf(out, sizeof out, "CAPABILITIES\r\n%s", out0);
  want_log = log;
  want_out = out;
  size_t runs = nt_test_each_split(R, server, strlen(server), 0, build, check, NULL);
  assert_true(runs > strlen(server));
}

/* Before any reply, the first window (8) is on the wire, not more; then
 * each reply lets one more go. */
static void test_window_first_and_refill(void **state) {
  (void)state;
  rec.scenario = 1;
  rec.nstat = 20;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "200 ok\r\n101 caps\r\nREADER\r\n.\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.ready, 1);
  size_t n;
  const char *out = nt_test_output(tt, &n);
  int lines = 0;
  for (size_t i = 0; i < n; i++) lines += out[i] == '\n';
  if (lines != 1 + 8) fail_msg("sent:\n%.*s", (int)n, out); /* CAPABILITIES + the first window */
  assert_int_equal(nt_nntp_in_flight(rec.c), 8);
  nt_test_output_clear(tt);
  nt_test_feed_str(tt, "223 0 <s0@x>\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "STAT <s8@x>\r\n");
  /* 7 more replies at the same instant finish a round of 8: no round trip
   * to speak of (0 ms), so the window doubles */
  nt_test_output_clear(tt);
  for (int i = 1; i < 8; i++) {
    char r[64];
    snprintf(r, sizeof r, "223 0 <s%d@x>\r\n", i);
    nt_test_feed_str(tt, r);
  }
  nt_test_run_pending(R);
  assert_int_equal(nt_nntp_pipeline_window(rec.c), 16);
  assert_int_equal(nt_nntp_in_flight(rec.c), 12); /* all that is left */
  assert_int_equal(nt_nntp_peak_in_flight(rec.c), 12);
  nt_test_transport_free(tt);
}

/* The window follows the round trip (20 ms on the virtual clock): it
 * doubles per round while the round trip dominates, up to the ceiling,
 * and shrinks when the server's own time per reply dominates. */
static void test_window_adapts_to_rtt(void **state) {
  (void)state;
  rec.scenario = 1;
  rec.nstat = 2000;
  nt_nntp_options_t o = {0};
  o.pipeline = 64;
  nt_test_transport_t *tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n");
  nt_test_run_pending(R);
  nt_test_clock_advance(R, 20); /* CAPABILITIES takes a 20 ms round trip */
  nt_test_feed_str(tt, "101 caps\r\nREADER\r\n.\r\n");
  nt_test_run_pending(R);
  assert_int_equal(nt_nntp_rtt_ms(rec.c), 20);
  assert_int_equal(nt_nntp_pipeline_window(rec.c), 8);
  int next = 0;
  unsigned seen[8];
  /* round trip bound: a whole window comes back 20 ms after it went out */
  for (int round = 0; round < 5; round++) {
    unsigned w = nt_nntp_pipeline_window(rec.c);
    seen[round] = w;
    nt_test_clock_advance(R, 20);
    for (unsigned i = 0; i < w; i++) {
      char r[64];
      snprintf(r, sizeof r, "223 0 <s%d@x>\r\n", next++);
      nt_test_feed_str(tt, r);
    }
    nt_test_run_pending(R);
  }
  assert_int_equal(seen[0], 8);
  assert_int_equal(seen[1], 16);
  assert_int_equal(seen[2], 32);
  assert_int_equal(seen[3], 64);
  assert_int_equal(seen[4], 64); /* the ceiling */
  /* server bound: a reply every 5 ms; 64 take 320 ms, the aim 4 * 20 / 5
   * = 16 is below the window, which stays (it never shrinks) */
  for (int i = 0; i < 64; i++) {
    char r[64];
    nt_test_clock_advance(R, 5);
    snprintf(r, sizeof r, "223 0 <s%d@x>\r\n", next++);
    nt_test_feed_str(tt, r);
    nt_test_run_pending(R);
  }
  assert_int_equal(nt_nntp_pipeline_window(rec.c), 64);
  nt_test_transport_free(tt);

  /* with a 20 ms round trip and a server that needs 20 ms a reply, growth
   * stops where the aim (4 * 20 / 20 = 4 in flight) is below the window:
   * it stays at 8 */
  rec.scenario = 1;
  rec.nstat = 200;
  tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n");
  nt_test_run_pending(R);
  nt_test_clock_advance(R, 20);
  nt_test_feed_str(tt, "101 caps\r\nREADER\r\n.\r\n");
  nt_test_run_pending(R);
  for (int i = 0; i < 40; i++) {
    char r[64];
    nt_test_clock_advance(R, 20);
    snprintf(r, sizeof r, "223 0 <s%d@x>\r\n", i);
    nt_test_feed_str(tt, r);
    nt_test_run_pending(R);
  }
  assert_int_equal(nt_nntp_pipeline_window(rec.c), 8);
  nt_test_transport_free(tt);
}

/* POST is sent alone: after the replies before it, and nothing follows it
 * until its own; pipeline = 1 sends everything one at a time. */
static void test_post_alone_and_no_pipelining(void **state) {
  (void)state;
  rec.scenario = 2;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "200 ok\r\n101 caps\r\nREADER\r\n.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL),
                      "CAPABILITIES\r\nSTAT <a1@x>\r\nSTAT <a2@x>\r\n");
  nt_test_output_clear(tt);
  nt_test_feed_str(tt, "223 0 <a1@x>\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "");
  nt_test_feed_str(tt, "223 0 <a2@x>\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "POST\r\n");
  nt_test_output_clear(tt);
  nt_test_feed_str(tt, "340 go\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "Subject: s\r\n\r\nhi\r\n.\r\n");
  nt_test_output_clear(tt);
  nt_test_feed_str(tt, "240 ok\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "STAT <a3@x>\r\n");
  nt_test_transport_free(tt);

  rec.scenario = 1;
  rec.nstat = 3;
  nt_nntp_options_t o = {0};
  o.pipeline = 1;
  tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n101 caps\r\nREADER\r\n.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "CAPABILITIES\r\nSTAT <s0@x>\r\n");
  nt_test_output_clear(tt);
  nt_test_feed_str(tt, "223 0 <s0@x>\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "STAT <s1@x>\r\n");
  assert_int_equal(nt_nntp_peak_in_flight(rec.c), 1);
  nt_test_transport_free(tt);
}

/* Credentials given, not yet used (auth_when_asked): a 480 would make the
 * client send a command again, so nothing is pipelined until AUTHINFO
 * went through; then it is. */
static void test_no_pipelining_before_auth(void **state) {
  (void)state;
  rec.scenario = 1;
  rec.nstat = 4;
  nt_nntp_options_t o = {0};
  o.user = "bob";
  o.pass = "pw";
  o.auth_when_asked = 1;
  nt_test_transport_t *tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n101 caps\r\nREADER\r\n.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "CAPABILITIES\r\nSTAT <s0@x>\r\n");
  nt_test_output_clear(tt);
  nt_test_feed_str(tt, "480 auth first\r\n381 more\r\n281 ok\r\n");
  nt_test_run_pending(R);
  /* AUTHINFO, CAPABILITIES again, then the STAT again and the rest at once */
  assert_string_equal(nt_test_output(tt, NULL),
                      "AUTHINFO USER bob\r\nAUTHINFO PASS pw\r\nCAPABILITIES\r\n");
  nt_test_output_clear(tt);
  nt_test_feed_str(tt, "101 caps\r\nREADER\r\n.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL),
                      "STAT <s0@x>\r\nSTAT <s1@x>\r\nSTAT <s2@x>\r\nSTAT <s3@x>\r\n");
  nt_test_transport_free(tt);
}

/* --- COMPRESS DEFLATE ---------------------------------------------------------------- */

/* Raw deflate of s with a sync flush (as a server would send it). */
static size_t deflate_raw(const char *s, size_t n, unsigned char *out, size_t cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = (Bytef *)s;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  size_t made = cap - z.avail_out;
  deflateEnd(&z);
  return made;
}

/* What the client sent after COMPRESS, inflated. */
static void inflate_out(const char *in, size_t n, char *out, size_t cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(inflateInit2(&z, -15), Z_OK);
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)n;
  z.next_out = (Bytef *)out;
  z.avail_out = (uInt)cap - 1;
  int rc = inflate(&z, Z_SYNC_FLUSH);
  assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
  out[cap - 1 - z.avail_out] = 0;
  inflateEnd(&z);
}

static const char setup_plain[] =
    "200 ok\r\n101 caps\r\nVERSION 2\r\nREADER\r\nOVER\r\nCOMPRESS DEFLATE\r\n.\r\n"
    "206 compression active\r\n";

/* Runs scenario 0 over COMPRESS with the compressed replies cut at `cut`
 * (0: whole; SIZE_MAX: a byte at a time). */
static void compress_run(const unsigned char *z, size_t zn, size_t cut) {
  rec.scenario = 0;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, setup_plain);
  assert_int_equal(rec.ready, 0); /* the layer starts from the loop */
  nt_test_run_pending(R);
  assert_int_equal(rec.ready, 1);
  size_t on;
  const char *o = nt_test_output(tt, &on);
  assert_true(on >= 36);
  assert_memory_equal(o, "CAPABILITIES\r\nCOMPRESS DEFLATE\r\n", 32);
  if (cut == SIZE_MAX) {
    for (size_t i = 0; i < zn; i++) {
      nt_test_feed(tt, z + i, 1);
      nt_test_run_pending(R);
    }
  } else {
    if (cut) {
      nt_test_feed(tt, z, cut);
      nt_test_run_pending(R);
    }
    nt_test_feed(tt, z + cut, zn - cut);
    nt_test_run_pending(R);
  }
  char log[4096];
  snprintf(log, sizeof log, "ready compressed=1\n%s", log0);
  if (strcmp(rec.log, log)) fail_msg("cut %zu:\n got:\n%s\n want:\n%s", cut, rec.log, log);
  o = nt_test_output(tt, &on);
  char plain[4096];
  inflate_out(o + 32, on - 32, plain, sizeof plain);
  assert_string_equal(plain, out0);
  nt_test_transport_free(tt);
}

static void test_compress_every_split(void **state) {
  (void)state;
  unsigned char z[4096];
  size_t zn = deflate_raw(replies0, strlen(replies0), z, sizeof z);
  assert_true(zn > 10 && zn < strlen(replies0));
  compress_run(z, zn, 0);
  compress_run(z, zn, SIZE_MAX);
  for (size_t cut = 1; cut < zn; cut++) compress_run(z, zn, cut);
}

/* A corrupt stream ends the session with NT_EPROTO; requests hear it. */
static void test_compress_corrupt(void **state) {
  (void)state;
  rec.scenario = 1;
  rec.nstat = 2;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, setup_plain);
  nt_test_run_pending(R);
  nt_test_run_pending(R);
  assert_int_equal(rec.ready, 1);
  nt_test_feed(tt, "\xff\xff\xff\xff garbage", 12);
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.status, NT_EPROTO);
  assert_non_null(strstr(rec.log, "stat:-71/0\nstat:-71/0\n"));
  nt_test_transport_free(tt);
}

/* no_compress: COMPRESS is never sent, even when listed; a server that
 * says no (403) leaves the session uncompressed. */
static void test_compress_off_and_refused(void **state) {
  (void)state;
  rec.scenario = 1;
  rec.nstat = 1;
  nt_nntp_options_t o = {0};
  o.no_compress = 1;
  nt_test_transport_t *tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n101 caps\r\nREADER\r\nCOMPRESS DEFLATE\r\n.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "CAPABILITIES\r\nSTAT <s0@x>\r\n");
  nt_test_transport_free(tt);
  tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "200 ok\r\n101 caps\r\nREADER\r\nCOMPRESS DEFLATE\r\n.\r\n403 no\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL),
                      "CAPABILITIES\r\nCOMPRESS DEFLATE\r\nSTAT <s0@x>\r\n");
  assert_int_equal(nt_nntp_is_compressed(rec.c), 0);
  nt_test_transport_free(tt);
}

/* The layer alone over a connected pair: both directions, a large write
 * (more than one output chunk), backpressure through pause_reading, and
 * the stats. */
typedef struct {
  nt_protocol_t base;
  char got[300000];
  size_t n;
  int made, lost;
} sink_t;
static void sink_made(nt_protocol_t *p, nt_transport_t *t) {
  (void)t;
  ((sink_t *)p)->made++;
}
static void sink_data(nt_protocol_t *p, const char *d, size_t n) {
  sink_t *s = (sink_t *)p;
  if (s->n + n <= sizeof s->got) memcpy(s->got + s->n, d, n);
  s->n += n;
}
static void sink_lost(nt_protocol_t *p, int st) {
  (void)st;
  ((sink_t *)p)->lost++;
}
static const nt_protocol_ops_t sink_ops = {.connection_made = sink_made,
                                           .data_received = sink_data,
                                           .connection_lost = sink_lost};

static void test_layer_pair(void **state) {
  (void)state;
  static sink_t a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  nt_protocol_init(&a.base, &sink_ops);
  nt_protocol_init(&b.base, &sink_ops);
  nt_test_pair_t *pair = nt_test_pair_new(R, &a.base, &b.base);
  nt_test_pair_pump(pair);
  nt_transport_t *ta = a.base.transport, *tb = b.base.transport;
  nt_transport_t *za, *zb;
  assert_int_equal(nt_compress_start(ta, &a.base, &za), 0);
  assert_int_equal(nt_compress_start(tb, &b.base, &zb), 0);
  assert_true(nt_compress_is(za));
  assert_ptr_equal(nt_compress_lower(za), ta);
  nt_test_run_pending(R);
  assert_int_equal(a.made, 2);
  static char big[250000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + (i * 7 + i / 100) % 26);
  assert_int_equal(nt_transport_write(za, big, sizeof big), 0);
  assert_int_equal(nt_transport_write(zb, "pong\r\n", 6), 0);
  for (int i = 0; i < 50; i++) nt_test_pair_pump(pair);
  assert_int_equal(b.n, sizeof big);
  assert_memory_equal(b.got, big, sizeof big);
  assert_int_equal(a.n, 6);
  nt_compress_stats_t st;
  assert_int_equal(nt_compress_stats(za, &st), 0);
  assert_int_equal(st.data_out, sizeof big);
  assert_true(st.wire_out < sizeof big / 4);
  assert_int_equal(st.data_in, 6);
  /* reading paused on b: nothing arrives until it resumes */
  nt_transport_pause_reading(zb);
  assert_int_equal(nt_transport_write(za, "held\r\n", 6), 0);
  for (int i = 0; i < 5; i++) nt_test_pair_pump(pair);
  assert_int_equal(b.n, sizeof big);
  nt_transport_resume_reading(zb);
  for (int i = 0; i < 5; i++) nt_test_pair_pump(pair);
  assert_int_equal(b.n, sizeof big + 6);
  nt_transport_lose_connection(za);
  for (int i = 0; i < 5; i++) nt_test_pair_pump(pair);
  nt_test_run_pending(R);
  assert_int_equal(a.lost, 1);
  assert_int_equal(b.lost, 1);
  nt_test_pair_free(pair);
}

static int setup(void **state) {
  (void)state;
  memset(&rec, 0, sizeof rec);
  return nt_test_reactor_new(&R);
}
static int teardown(void **state) {
  (void)state;
  nt_test_run_pending(R);
  assert_int_equal(nt_test_reactor_free(R), 0);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pipelined_session_every_split, setup, teardown),
      cmocka_unit_test_setup_teardown(test_window_first_and_refill, setup, teardown),
      cmocka_unit_test_setup_teardown(test_window_adapts_to_rtt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_post_alone_and_no_pipelining, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_pipelining_before_auth, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compress_every_split, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compress_corrupt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compress_off_and_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_layer_pair, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
