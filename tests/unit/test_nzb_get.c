/* The NZB downloader (protocols/nntp/nzb_get.c) on the test reactor: its
 * NNTP clients are made by a test hook and served by scripted news servers
 * on in-memory transports, on the virtual clock. Checked, with the
 * assembled files' bytes and every segment's result:
 *   - one connection, window 2, two files (3 parts and 1): the replies cut
 *     at every byte boundary and byte by byte, arriving ahead of the
 *     commands (nt_test_each_split);
 *   - two connections answering in the opposite order (parts complete out
 *     of order, written at their offsets);
 *   - two connections whose replies arrive interleaved a few bytes at a
 *     time: the parts in flight take the download's one decode buffer from
 *     each other every line (each one's bytes reach its file first);
 *   - a 430 moved to the second server; a CRC32 mismatch there too; a 430
 *     on every server (missing); a damaged part on the last one (damaged);
 *   - "400 too many connections" at set-up (a provider's limit) several
 *     times before the one connection that gets through is ready: no
 *     segment counts a try for it, nothing goes to the second server (which
 *     has nothing: it would answer 430), the reconnect waits (backoff with
 *     jitter) on the virtual clock, no storm of connections;
 *   - a connection reset mid-download: a new one after the backoff wait,
 *     the rest fetched; credentials refused (481): no reconnect, the work
 *     moves to the next server at once;
 *   - a part that breaks the connection every time: it leaves the server
 *     after `retries`, and a 430 on the next one is reported as the failure
 *     it is (not "missing");
 *   - the server's proxy is copied: the caller's struct may go away after
 *     nt_nzb_get_add_server. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/nntp.h"
#include "nettool/nzb.h"
#include "nettool/testing.h"
#include "nettool/yenc.h"
#include "nzb-int.h"

#define MAXC 64
#define PART 300 /* bytes per part */

static nt_reactor_t *R;
static char dir[64];

/* --- the files and their articles ------------------------------------------------ */

static unsigned char fa[3 * PART - 17]; /* a.bin: 3 parts, the last short */
static unsigned char fb[40];            /* b.bin: 1 part */

/* A yEnc article body (dot-stuffed, ending with ".\r\n") for part p (1-based)
 * of total, bytes [off, off+len) of file f (size n). corrupt: the pcrc32
 * lies. */
static char *article(const char *name, const unsigned char *f, size_t n, int p, int total,
                     size_t off, size_t len, int corrupt) {
  size_t cap = nt_yenc_encode_bound(len, 64) * 2 + 512;
  char *enc = malloc(cap), *out = malloc(cap + 512);
  assert_non_null(enc);
  assert_non_null(out);
  size_t el = nt_yenc_encode(enc, f + off, len, 64);
  uint32_t pcrc = nt_yenc_crc32(0, f + off, len) ^ (corrupt ? 1u : 0u);
  uint32_t crc = nt_yenc_crc32(0, f, n);
  size_t o = (size_t)sprintf(out, "=ybegin part=%d total=%d line=64 size=%zu name=%s\r\n", p,
                             total, n, name);
  o += (size_t)sprintf(out + o, "=ypart begin=%zu end=%zu\r\n", off + 1, off + len);
  for (size_t i = 0; i < el;) { /* dot-stuffing, line by line */
    if (enc[i] == '.') out[o++] = '.';
    while (i < el && enc[i] != '\n') out[o++] = enc[i++];
    if (i < el) out[o++] = enc[i++];
  }
  o += (size_t)sprintf(out + o, "=yend size=%zu part=%d pcrc32=%08x crc32=%08x\r\n.\r\n", len, p,
                       pcrc, crc);
  out[o] = 0;
  free(enc);
  return out;
}

/* Message-IDs: a1 a2 a3 (a.bin), b1 (b.bin). */
static const char *const ids[] = {"<a1@t>", "<a2@t>", "<a3@t>", "<b1@t>"};
static char *arts[4], *bad_a2;

static void make_articles(void) {
  for (size_t i = 0; i < sizeof fa; i++) fa[i] = (unsigned char)(i * 7 + 3);
  for (size_t i = 0; i < sizeof fb; i++) fb[i] = (unsigned char)(255 - i);
  fa[5] = '.'; /* a line may start with a dot (escaped or stuffed) */
  for (int p = 0; p < 3; p++) {
    size_t off = (size_t)p * PART, len = p < 2 ? PART : sizeof fa - 2 * PART;
    arts[p] = article("a.bin", fa, sizeof fa, p + 1, 3, off, len, 0);
  }
  arts[3] = article("b.bin", fb, sizeof fb, 1, 1, 0, sizeof fb, 0);
  bad_a2 = article("a.bin", fa, sizeof fa, 2, 3, PART, PART, 1);
}

static const char nzb_xml[] =
    "<?xml version=\"1.0\"?>\n<nzb xmlns=\"http://www.newzbin.com/DTD/2003/nzb\">\n"
    "<file poster=\"t\" date=\"1\" subject=\"&quot;a.bin&quot; yEnc (1/3)\">"
    "<groups><group>t</group></groups><segments>"
    "<segment bytes=\"400\" number=\"1\">a1@t</segment>"
    "<segment bytes=\"400\" number=\"2\">a2@t</segment>"
    "<segment bytes=\"400\" number=\"3\">a3@t</segment></segments></file>\n"
    "<file poster=\"t\" date=\"1\" subject=\"&quot;b.bin&quot; yEnc (1/1)\">"
    "<groups><group>t</group></groups><segments>"
    "<segment bytes=\"60\" number=\"1\">b1@t</segment></segments></file>\n</nzb>\n";

/* --- the scripted servers ------------------------------------------------------------ */

/* What a server does with BODY <id> (by the id's index): 0 the article,
 * 'x' 430, 'c' the corrupt a2, 'r' reset the connection. Set-up: greet
 * ("200" or "400 too many connections"), auth refused ('481'). */
typedef struct {
  char body[4];
  int refuse;  /* greet the next `refuse` connections with 400 */
  int auth481; /* refuse AUTHINFO */
  int hold;    /* do not greet new connections (their set-up waits) */
  int asked;   /* BODY commands received */
  int conns;   /* connections made */
} server_script_t;

typedef struct {
  nt_nntp_t *c;
  nt_test_transport_t *tt;
  int sv;
  size_t seen;
  int greeted, dead;
} sconn_t;

static struct {
  server_script_t sv[2];
  sconn_t c[MAXC];
  int n;
  nt_nzb_t *nzb;
  nt_nzb_get_t *g;
  int done, status;
  int seg_status[2][3], seg_error[2][3], seg_server[2][3];
  int file_status[2];
} T;

static nt_proxy_t seen_proxy; /* what the last connection was given */

static int hook(void *arg, nt_reactor_t *r, const char *host, int port,
                const nt_nntp_options_t *o, const nt_nntp_callbacks_t *cbs, void *cb_arg,
                nt_nntp_t **out) {
  (void)arg, (void)host;
  memset(&seen_proxy, 0, sizeof seen_proxy);
  if (o->proxy) seen_proxy = *o->proxy;
  assert_true(T.n < MAXC);
  int rc = nt_nntp_new(r, o, cbs, cb_arg, out);
  if (rc) return rc;
  sconn_t *k = &T.c[T.n++];
  memset(k, 0, sizeof *k);
  k->c = *out;
  k->sv = port - 1190;
  T.sv[k->sv].conns++;
  return 0;
}

/* Trickle mode (test_interleaved): replies wait in pend[] and go out a
 * few bytes at a time, the connections taking turns. */
static struct {
  int on;
  char buf[4][8192];
  size_t len[4], off[4];
} trickle;

static void feed(sconn_t *k, const char *s) {
  if (k->dead || nt_test_is_lost(k->tt)) return;
  int i = (int)(k - T.c);
  if (!trickle.on || i >= 4) {
    nt_test_feed_str(k->tt, s);
    return;
  }
  size_t n = strlen(s);
  assert_true(trickle.len[i] + n <= sizeof trickle.buf[i]);
  memcpy(trickle.buf[i] + trickle.len[i], s, n);
  trickle.len[i] += n;
}

/* Serves what the client wrote since last time (one pass). */
static int serve_one(sconn_t *k) {
  server_script_t *s = &T.sv[k->sv];
  int moved = 0;
  if (!k->tt) {
    if (s->hold) return 0;
    k->tt = nt_test_transport_new(R, nt_nntp_protocol(k->c));
    moved = 1;
  }
  if (k->dead || nt_test_is_lost(k->tt)) return moved;
  if (!k->greeted) {
    k->greeted = 1;
    if (s->refuse > 0) {
      s->refuse--;
      k->dead = 1;
      nt_test_feed_str(k->tt, "400 too many connections\r\n");
      nt_test_feed_eof(k->tt);
      return 1;
    }
    nt_test_feed_str(k->tt, "200 scripted news\r\n");
    moved = 1;
  }
  size_t len;
  const char *out = nt_test_output(k->tt, &len);
  while (k->seen < len) {
    const char *nl = memchr(out + k->seen, '\n', len - k->seen);
    if (!nl) break;
    char line[256];
    size_t n = (size_t)(nl - (out + k->seen));
    if (n >= sizeof line) n = sizeof line - 1;
    memcpy(line, out + k->seen, n);
    line[n] = 0;
    if (n && line[n - 1] == '\r') line[n - 1] = 0;
    k->seen = (size_t)(nl + 1 - out);
    moved = 1;
    if (!strcmp(line, "CAPABILITIES")) {
      feed(k, "101 caps\r\nVERSION 2\r\nREADER\r\nAUTHINFO USER\r\n.\r\n");
    } else if (!strncmp(line, "AUTHINFO USER", 13)) {
      feed(k, s->auth481 ? "481 no\r\n" : "381 more\r\n");
    } else if (!strncmp(line, "AUTHINFO PASS", 13)) {
      feed(k, "281 ok\r\n");
    } else if (!strcmp(line, "QUIT")) {
      feed(k, "205 bye\r\n");
    } else if (!strncmp(line, "BODY ", 5)) {
      s->asked++;
      int i = 0;
      while (i < 4 && strcmp(line + 5, ids[i])) i++;
      assert_true(i < 4);
      char what = s->body[i];
      if (what == 'x') {
        feed(k, "430 no such article\r\n");
      } else if (what == 'r') {
        nt_test_reset(k->tt);
        k->dead = 1;
        return 1;
      } else {
        char head[64];
        snprintf(head, sizeof head, "222 0 %s\r\n", ids[i]);
        feed(k, head);
        feed(k, what == 'c' ? bad_a2 : arts[i]);
      }
    }
    out = nt_test_output(k->tt, &len);
  }
  return moved;
}

/* Serves every connection until nothing moves (bounded). */
static void serve(void) {
  for (int round = 0; round < 1000; round++) {
    int moved = 0;
    for (int i = 0; i < T.n; i++) moved |= serve_one(&T.c[i]);
    nt_test_run_pending(R);
    if (!moved) return;
  }
  fail_msg("the servers never settled");
}

/* --- the downloader's callbacks ------------------------------------------------- */

static void on_segment(nt_nzb_get_t *g, size_t file, size_t seg, nt_nzb_seg_status_t st,
                       int error, size_t server, void *arg) {
  (void)g, (void)arg;
  T.seg_status[file][seg] = (int)st;
  T.seg_error[file][seg] = error;
  T.seg_server[file][seg] = (int)server;
}
static void on_file(nt_nzb_get_t *g, size_t file, const char *path, int status, void *arg) {
  (void)g, (void)path, (void)arg;
  T.file_status[file] = status;
}
static void on_done(nt_nzb_get_t *g, int status, void *arg) {
  (void)g, (void)arg;
  T.done++;
  T.status = status;
  T.g = NULL;
}
static const nt_nzb_callbacks_t cbs = {
    .segment = on_segment, .file = on_file, .done = on_done};

static void clean(void) {
  const char *names[] = {"a.bin", "b.bin", "a.bin.part", "b.bin.part", "a.bin.part.state",
                         "b.bin.part.state", "a.bin.part.state.tmp", "b.bin.part.state.tmp"};
  char p[256];
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
}

/* A download with nservers servers (ports 1190, 1191), started. */
static void start(int nservers, int conns, int window, const char *user) {
  clean();
  for (int i = 0; i < T.n; i++)
    if (T.c[i].tt) nt_test_transport_free(T.c[i].tt);
  nt_nzb_t *nzb = T.nzb;
  server_script_t sv[2] = {T.sv[0], T.sv[1]};
  memset(&T, 0, sizeof T);
  T.nzb = nzb;
  T.sv[0] = sv[0];
  T.sv[1] = sv[1];
  T.sv[0].conns = T.sv[1].conns = T.sv[0].asked = T.sv[1].asked = 0;
  nt_nzb_get_options_t o = {.dir = dir, .connections = conns, .window = window,
                            .no_resume = 1, .retry_delay_ms = 1000};
  assert_int_equal(nt_nzb_get_new(R, T.nzb, &o, &cbs, NULL, &T.g), 0);
  nt__nzb_get_set_connect_hook(T.g, hook, NULL);
  nt_nntp_options_t no = {.user = user, .pass = user ? "pw" : NULL, .no_compress = 1};
  for (int i = 0; i < nservers; i++)
    assert_int_equal(nt_nzb_get_add_server(T.g, "news.test", 1190 + i, &no, 0), 0);
  assert_int_equal(nt_nzb_get_start(T.g), 0);
}

static void finish(void) {
  for (int i = 0; i < T.n; i++)
    if (T.c[i].tt) {
      nt_test_transport_free(T.c[i].tt);
      T.c[i].tt = NULL;
    }
  nt_test_run_pending(R);
  T.n = 0;
  memset(T.sv, 0, sizeof T.sv);
}

static void same_file(const char *name, const void *want, size_t n) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_RDONLY);
  if (fd < 0) fail_msg("%s: not there", name);
  unsigned char buf[2048];
  ssize_t got = read(fd, buf, sizeof buf);
  close(fd);
  if (got != (ssize_t)n || memcmp(buf, want, n)) fail_msg("%s: %zd bytes, not the file", name, got);
}

static void all_ok(void) {
  assert_int_equal(T.done, 1);
  assert_int_equal(T.status, 0);
  for (int s = 0; s < 3; s++) assert_int_equal(T.seg_status[0][s], NT_NZB_SEG_OK);
  assert_int_equal(T.seg_status[1][0], NT_NZB_SEG_OK);
  same_file("a.bin", fa, sizeof fa);
  same_file("b.bin", fb, sizeof fb);
}

/* --- every byte boundary ----------------------------------------------------------- */

static char *split_input;
static size_t split_runs;

static nt_protocol_t *split_build(void *arg) {
  (void)arg;
  start(1, 1, 2, NULL);
  assert_int_equal(T.n, 1);
  return nt_nntp_protocol(T.c[0].c);
}

static void split_check(void *arg, nt_test_transport_t *tt, const char *how) {
  (void)arg;
  split_runs++;
  nt_test_run_pending(R);
  if (T.done != 1 || T.status != 0) fail_msg("%s: done %d status %d", how, T.done, T.status);
  all_ok();
  size_t len;
  const char *out = nt_test_output(tt, &len);
  /* set-up, then the four BODYs in the NZB's order, then QUIT */
  const char *want = "CAPABILITIES\r\nBODY <a1@t>\r\nBODY <a2@t>\r\nBODY <a3@t>\r\n"
                     "BODY <b1@t>\r\nQUIT\r\n";
  if (strcmp(out, want)) fail_msg("%s: sent:\n%s", how, out);
  T.n = 0; /* each_split frees its transport */
}

static void test_every_split(void **state) {
  (void)state;
  size_t cap = 64 * 1024, o = 0;
  split_input = malloc(cap);
  assert_non_null(split_input);
  o += (size_t)sprintf(split_input + o, "200 hi\r\n101 caps\r\nVERSION 2\r\nREADER\r\n.\r\n");
  for (int i = 0; i < 4; i++)
    o += (size_t)sprintf(split_input + o, "222 0 %s\r\n%s", ids[i], arts[i]);
  o += (size_t)sprintf(split_input + o, "205 bye\r\n");
  size_t runs = nt_test_each_split(R, split_input, o, 0, split_build, split_check, NULL);
  assert_int_equal(runs, split_runs);
  assert_true(runs == o + 1 || runs == o + 2);
  free(split_input);
  clean();
}

/* --- out of order ------------------------------------------------------------------------ */

static void test_out_of_order(void **state) {
  (void)state;
  /* two connections: the second one is served first, so a2/a3 (or b1)
   * complete before a1 */
  T.sv[0].hold = 1;
  start(1, 2, 2, NULL);
  assert_int_equal(T.n, 2);
  T.sv[0].hold = 0;
  assert_int_equal(serve_one(&T.c[1]), 1);
  serve();
  all_ok();
  finish();
}

/* --- interleaved replies: one decode buffer for every connection -------------------- */

static void test_interleaved(void **state) {
  (void)state;
  memset(&trickle, 0, sizeof trickle);
  trickle.on = 1;
  start(1, 2, 2, NULL);
  assert_int_equal(T.n, 2);
  int round = 0;
  for (; round < 20000; round++) {
    int moved = 0;
    for (int i = 0; i < T.n; i++) moved |= serve_one(&T.c[i]);
    for (int i = 0; i < T.n && i < 4; i++) { /* 5 bytes each, in turn */
      size_t n = trickle.len[i] - trickle.off[i];
      if (!n) continue;
      if (n > 5) n = 5;
      if (!T.c[i].dead && !nt_test_is_lost(T.c[i].tt))
        nt_test_feed(T.c[i].tt, trickle.buf[i] + trickle.off[i], n);
      trickle.off[i] += n;
      moved = 1;
      nt_test_run_pending(R);
    }
    nt_test_run_pending(R);
    if (!moved) break;
  }
  trickle.on = 0;
  assert_true(round < 20000);
  assert_int_equal(T.sv[0].asked, 4);
  assert_true(T.c[0].seen && T.c[1].seen); /* both connections worked */
  all_ok();
  finish();
}

/* --- a second server ----------------------------------------------------------------- */

static void test_second_server(void **state) {
  (void)state;
  /* 430 for a1, a corrupt a2 on the first; both good on the second */
  T.sv[0].body[0] = 'x';
  T.sv[0].body[1] = 'c';
  start(2, 1, 2, NULL);
  serve();
  all_ok();
  assert_int_equal(T.seg_server[0][0], 1);
  assert_int_equal(T.seg_server[0][1], 1);
  assert_int_equal(T.seg_server[0][2], 0);
  assert_int_equal(T.sv[1].asked, 2); /* only those two */
  finish();

  /* 430 everywhere for a1; a2 damaged on the last server too */
  T.sv[0].body[0] = T.sv[1].body[0] = 'x';
  T.sv[0].body[1] = T.sv[1].body[1] = 'c';
  start(2, 1, 2, NULL);
  serve();
  assert_int_equal(T.done, 1);
  assert_int_equal(T.status, NT_ENZB_INCOMPLETE);
  assert_int_equal(T.seg_status[0][0], NT_NZB_SEG_MISSING);
  assert_int_equal(T.seg_error[0][0], NT_ENNTP_NOARTICLE);
  assert_int_equal(T.seg_status[0][1], NT_NZB_SEG_DAMAGED);
  assert_int_equal(T.seg_error[0][1], NT_EYENC_CRC);
  assert_int_equal(T.seg_status[0][2], NT_NZB_SEG_OK);
  assert_int_equal(T.file_status[0], NT_ENZB_INCOMPLETE);
  assert_int_equal(T.file_status[1], 0);
  same_file("b.bin", fb, sizeof fb);
  finish();
}

/* --- a provider's connection limit ------------------------------------------------------- */

static void test_refused_at_setup(void **state) {
  (void)state;
  /* 3 connections asked; the provider takes 1. The first one's set-up
   * waits while the other two, and their replacements, are refused with
   * 400 again and again: none of that may count against the segments
   * (before the fix, the fourth refusal sent them to the second server,
   * which has nothing: "430 on every server") */
  T.sv[1].body[0] = T.sv[1].body[1] = T.sv[1].body[2] = T.sv[1].body[3] = 'x';
  T.sv[0].hold = 1;
  start(2, 3, 1, NULL);
  assert_int_equal(T.n, 3);
  T.c[0].tt = nt_test_transport_new(R, nt_nntp_protocol(T.c[0].c)); /* held */
  T.sv[0].hold = 0;
  T.sv[0].refuse = 100;
  T.c[0].greeted = 1; /* not greeted yet: its set-up waits */
  serve();
  assert_int_equal(T.sv[0].conns, 3);
  uint64_t waited = 0;
  for (int round = 0; round < 2; round++) { /* two reconnect waits pass */
    uint64_t t0 = nt_reactor_now(R);
    int before = T.sv[0].conns;
    for (int ms = 0; ms < 70000 && T.sv[0].conns == before; ms += 10)
      nt_test_clock_advance(R, 10);
    waited = nt_reactor_now(R) - t0;
    assert_true(T.sv[0].conns > before);
    /* backoff: [d/2, d) for d = 1 s, 2 s */
    assert_true(waited >= (500u << round) && waited <= (1000u << round) + 10);
    serve();
  }
  assert_int_equal(T.done, 0);
  assert_int_equal(T.sv[1].conns, 0); /* nothing moved on */
  /* the held one is greeted: it does all the work */
  T.sv[0].refuse = 0;
  feed(&T.c[0], "200 hi\r\n");
  int before = T.sv[0].conns;
  serve();
  nt_test_clock_advance(R, 120000); /* any wait left: no new connection */
  serve();
  all_ok();
  assert_int_equal(T.sv[0].conns, before);
  assert_true(T.sv[0].conns <= 7);
  assert_int_equal(T.sv[1].conns, 0);
  finish();

  /* the limit seen after the first one is ready: the refused ones are not
   * replaced at all */
  T.sv[0].refuse = 0;
  T.sv[0].hold = 1;
  start(2, 3, 1, NULL);
  T.sv[0].hold = 0;
  assert_int_equal(serve_one(&T.c[0]), 1);
  nt_test_run_pending(R);
  serve_one(&T.c[0]); /* CAPABILITIES answered: ready */
  nt_test_run_pending(R);
  T.sv[0].refuse = 2;
  serve();
  nt_test_clock_advance(R, 120000);
  serve();
  all_ok();
  assert_int_equal(T.sv[0].conns, 3);
  assert_int_equal(T.sv[1].conns, 0);
  finish();
}

/* --- a connection lost mid-download ---------------------------------------------- */

static void test_reset_then_backoff(void **state) {
  (void)state;
  T.sv[0].body[1] = 'r'; /* a2 resets the connection (once: see below) */
  start(1, 1, 1, NULL);
  serve();
  assert_int_equal(T.done, 0);
  assert_int_equal(T.sv[0].conns, 1);
  assert_int_equal(T.seg_status[0][0], NT_NZB_SEG_OK);
  T.sv[0].body[1] = 0;
  nt_test_clock_advance(R, 499);
  assert_int_equal(T.sv[0].conns, 1); /* not before half the first wait */
  nt_test_clock_advance(R, 501);
  assert_int_equal(T.sv[0].conns, 2);
  serve();
  all_ok();
  finish();

  /* credentials refused: no reconnect, the second server at once */
  T.sv[0].auth481 = 1;
  start(2, 1, 2, "me");
  serve();
  all_ok();
  assert_int_equal(T.sv[0].conns, 1);
  assert_int_equal(T.sv[0].asked, 0);
  for (int s = 0; s < 3; s++) assert_int_equal(T.seg_server[0][s], 1);
  finish();
}

/* A part that breaks the connection every time leaves the server after
 * `retries` (3) breakages; the second server's 430 is then no proof that
 * it is missing: FAILED, with the first server's error. */
static void test_poison_part(void **state) {
  (void)state;
  T.sv[0].body[1] = 'r';
  T.sv[1].body[1] = 'x';
  start(2, 1, 1, NULL);
  for (int i = 0; i < 20 && !T.done; i++) {
    serve();
    nt_test_clock_advance(R, 10000);
  }
  serve();
  assert_int_equal(T.done, 1);
  assert_int_equal(T.status, NT_ENZB_INCOMPLETE);
  assert_int_equal(T.seg_status[0][1], NT_NZB_SEG_FAILED);
  assert_int_equal(T.seg_error[0][1], NT_ECONNRESET);
  assert_int_equal(T.seg_server[0][1], 0);
  assert_int_equal(T.seg_status[0][0], NT_NZB_SEG_OK);
  assert_int_equal(T.seg_status[0][2], NT_NZB_SEG_OK);
  assert_int_equal(T.seg_status[1][0], NT_NZB_SEG_OK);
  assert_int_equal(T.sv[1].asked, 1);
  finish();
}

static void test_proxy_copied(void **state) {
  (void)state;
  clean();
  nt_nzb_t *nzb = T.nzb;
  memset(&T, 0, sizeof T);
  T.nzb = nzb;
  nt_nzb_get_options_t o = {.dir = dir, .connections = 1, .no_resume = 1};
  assert_int_equal(nt_nzb_get_new(R, T.nzb, &o, &cbs, NULL, &T.g), 0);
  nt__nzb_get_set_connect_hook(T.g, hook, NULL);
  nt_proxy_t *px = calloc(1, sizeof *px);
  assert_non_null(px);
  assert_int_equal(nt_proxy_parse("socks5h://u:secret@proxy.test:1080", px), 0);
  nt_nntp_options_t no = {.no_compress = 1, .proxy = px};
  assert_int_equal(nt_nzb_get_add_server(T.g, "news.test", 1190, &no, 0), 0);
  memset(px, 0x55, sizeof *px); /* the caller's copy is gone */
  free(px);
  assert_int_equal(nt_nzb_get_start(T.g), 0);
  assert_int_equal(T.n, 1);
  assert_int_equal(seen_proxy.type, NT_PROXY_SOCKS5H);
  assert_string_equal(seen_proxy.host, "proxy.test");
  assert_int_equal(seen_proxy.port, 1080);
  assert_string_equal(seen_proxy.password, "secret");
  serve();
  all_ok();
  finish();
}

static int setup(void **state) {
  (void)state;
  make_articles();
  snprintf(dir, sizeof dir, "/tmp/nt-nzbget-XXXXXX");
  assert_non_null(mkdtemp(dir));
  assert_int_equal(nt_nzb_parse(nzb_xml, sizeof nzb_xml - 1, &T.nzb, NULL, 0), 0);
  assert_int_equal(nt_test_reactor_new(&R), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  finish();
  clean();
  rmdir(dir);
  nt_nzb_free(T.nzb);
  for (int i = 0; i < 4; i++) free(arts[i]);
  free(bad_a2);
  assert_int_equal(nt_test_reactor_free(R), 0);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_split),
      cmocka_unit_test(test_out_of_order),
      cmocka_unit_test(test_interleaved),
      cmocka_unit_test(test_second_server),
      cmocka_unit_test(test_refused_at_setup),
      cmocka_unit_test(test_reset_then_backoff),
      cmocka_unit_test(test_poison_part),
      cmocka_unit_test(test_proxy_copied),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
