/* A server that refuses pipelining, on the test reactor: the client falls
 * back by itself (nntp_refuse.c). The scripted server answers each command
 * it reads; when a second command is already there before it answered the
 * first, it refuses the way real servers do: it hangs up (EOF or a reset),
 * answers 500 to the extra commands, or says 400 and hangs up. Every reply
 * (and the greeting) is delivered cut at every byte position, and byte by
 * byte. The client must connect again (options.reconnect hands it a new
 * in-memory transport), log in again (and COMPRESS DEFLATE again, when the
 * server lists it: the cuts then fall in the deflate stream), select the
 * group and the current
 * article again, send the commands that had no answer one at a time, and
 * give each done() once, in order, with the right result. Also: no second
 * connection when the lost command was sent alone or no reconnect is
 * possible, or when the connection ended inside the reply the client
 * awaited (a cut, not a refusal: the window is kept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "nettool/nntp.h"
#include "nettool/testing.h"

static nt_reactor_t *R;

enum { HANGUP, RESET, ANSWER_500, SAY_400, CUT_BLOCK, DROP_ALONE, CUT_RESET, CUT_STATUS };

#define MAX_CONNS 4
#define BYTEWISE ((size_t)-1)

typedef struct {
  nt_test_transport_t *tt;
  size_t read; /* output bytes already taken */
  char text[4096]; /* what the client sent, inflated when compressed */
  size_t tlen, tread;
  int group;   /* local.test selected */
  unsigned cur; /* current article */
  int gone;
  int z;       /* COMPRESS DEFLATE is on (RFC 8054): both ways raw deflate */
  z_stream in, out;
} sconn_t;

static struct {
  int mode;
  size_t cut; /* each reply fed in two pieces cut here; 0 whole; BYTEWISE */
  int no_hook;
  int compress; /* the server lists COMPRESS DEFLATE */
  int scenario; /* 0: the burst; 1: one BODY alone */
  sconn_t conns[MAX_CONNS];
  int nconns;
  char wire[8192]; /* "N CMD" per command received on connection N */
  size_t wlen;
  char log[8192];
  size_t len;
  int closed, status;
  int refused, peak, window; /* seen in the last done() */
  nt_protocol_t *waiting; /* handed over by options.reconnect */
} S;

static void add(char *buf, size_t *len, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (*len < cap) *len += (size_t)vsnprintf(buf + *len, cap - *len, fmt, ap);
  va_end(ap);
}
#define LOG(...) add(S.log, &S.len, sizeof S.log, __VA_ARGS__)
#define WIRE(...) add(S.wire, &S.wlen, sizeof S.wire, __VA_ARGS__)

/* --- the server ------------------------------------------------------------------ */

static void feed(sconn_t *k, const char *text) {
  const char *s = text;
  size_t n = strlen(text);
  unsigned char z[8192];
  if (k->z) { /* one deflate block per reply, flushed */
    k->out.next_in = (unsigned char *)text;
    k->out.avail_in = (unsigned)n;
    k->out.next_out = z;
    k->out.avail_out = sizeof z;
    assert_int_equal(deflate(&k->out, Z_SYNC_FLUSH), Z_OK);
    s = (const char *)z;
    n = sizeof z - k->out.avail_out;
  }
  if (S.cut == BYTEWISE) {
    for (size_t i = 0; i < n && !k->gone; i++) {
      nt_test_feed(k->tt, s + i, 1);
      nt_test_run_pending(R);
    }
    return;
  }
  size_t cut = S.cut && S.cut < n ? S.cut : n;
  nt_test_feed(k->tt, s, cut);
  nt_test_run_pending(R);
  if (cut < n) {
    nt_test_feed(k->tt, s + cut, n - cut);
    nt_test_run_pending(R);
  }
}

static void hang_up(sconn_t *k, int reset) {
  WIRE("%d hangs up\n", (int)(k - S.conns) + 1);
  k->gone = 1;
  if (reset)
    nt_test_reset(k->tt);
  else
    nt_test_feed_eof(k->tt);
  nt_test_run_pending(R);
}

static void answer(sconn_t *k, const char *cmd) {
  char out[512];
  unsigned n;
  char id[64];
  if (!strcmp(cmd, "CAPABILITIES") && S.compress)
    feed(k, "101 caps\r\nVERSION 2\r\nREADER\r\nOVER\r\nAUTHINFO USER\r\n"
            "COMPRESS DEFLATE\r\n.\r\n");
  else if (!strcmp(cmd, "CAPABILITIES"))
    feed(k, "101 caps\r\nVERSION 2\r\nREADER\r\nOVER\r\nAUTHINFO USER\r\n.\r\n");
  else if (!strcmp(cmd, "COMPRESS DEFLATE") && S.compress) {
    /* the client sends nothing between COMPRESS and the 206: every byte
     * from it after the ones read so far is deflate */
    feed(k, "206 compressing\r\n");
    assert_int_equal(inflateInit2(&k->in, -15), Z_OK);
    assert_int_equal(deflateInit2(&k->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
                                  Z_DEFAULT_STRATEGY),
                     Z_OK);
    k->z = 1;
  }
  else if (!strcmp(cmd, "AUTHINFO USER u"))
    feed(k, "381 more\r\n");
  else if (!strcmp(cmd, "AUTHINFO PASS pw"))
    feed(k, "281 ok\r\n");
  else if (!strcmp(cmd, "GROUP local.test")) {
    k->group = 1;
    k->cur = 1;
    feed(k, "211 3 1 3 local.test\r\n");
  } else if (!strcmp(cmd, "QUIT")) {
    feed(k, "205 bye\r\n");
    hang_up(k, 0);
  } else if (sscanf(cmd, "BODY %63s", id) == 1 && id[0] == '<') {
    snprintf(out, sizeof out, "222 0 %s\r\nid body\r\n.\r\n", id);
    feed(k, out);
  } else if (!k->group) {
    feed(k, "412 no group selected\r\n");
  } else if (sscanf(cmd, "STAT %u", &n) == 1 && n >= 1 && n <= 3) {
    k->cur = n;
    snprintf(out, sizeof out, "223 %u <b%u@x>\r\n", n, n);
    feed(k, out);
  } else if (!strcmp(cmd, "NEXT")) {
    if (k->cur >= 3) {
      feed(k, "421 no next article\r\n");
      return;
    }
    k->cur++;
    snprintf(out, sizeof out, "223 %u <b%u@x>\r\n", k->cur, k->cur);
    feed(k, out);
  } else if (sscanf(cmd, "BODY %u", &n) == 1 && n >= 1 && n <= 3) {
    k->cur = n;
    snprintf(out, sizeof out, "222 %u <b%u@x>\r\nbody %u\r\n..dot %u\r\n.\r\n", n, n, n, n);
    feed(k, out);
  } else if (!strcmp(cmd, "OVER 1-3")) {
    feed(k, "224 overview\r\n"
            "1\tS1\tf\td\t<b1@x>\t\t10\t1\r\n2\tS2\tf\td\t<b2@x>\t\t10\t1\r\n"
            "3\tS3\tf\td\t<b3@x>\t\t10\t1\r\n.\r\n");
  } else {
    feed(k, "500 what?\r\n");
  }
}

/* A refusing server's turn: the commands the client wrote since the last
 * look. More than one means it did not wait for an answer. */
static int serve_once(sconn_t *k) {
  if (k->gone) return 0;
  size_t n;
  const char *raw = nt_test_output(k->tt, &n);
  if (k->read < n) { /* new bytes from the client: its commands */
    size_t room = sizeof k->text - k->tlen;
    if (k->z) {
      k->in.next_in = (unsigned char *)raw + k->read;
      k->in.avail_in = (unsigned)(n - k->read);
      k->in.next_out = (unsigned char *)k->text + k->tlen;
      k->in.avail_out = (unsigned)room;
      int zr = inflate(&k->in, Z_SYNC_FLUSH);
      assert_true(zr == Z_OK || zr == Z_BUF_ERROR);
      k->tlen += room - k->in.avail_out;
    } else {
      assert_true(n - k->read <= room);
      memcpy(k->text + k->tlen, raw + k->read, n - k->read);
      k->tlen += n - k->read;
    }
    k->read = n;
  }
  const char *out = k->text;
  char cmds[16][128];
  int nc = 0;
  /* one command at a time up to COMPRESS: what follows it is deflate */
  while (k->tread < k->tlen && nc < 16) {
    const char *nl = memchr(out + k->tread, '\n', k->tlen - k->tread);
    if (!nl) break;
    size_t len = (size_t)(nl - (out + k->tread));
    if (len && out[k->tread + len - 1] == '\r') len--;
    if (len >= sizeof cmds[0]) len = sizeof cmds[0] - 1;
    memcpy(cmds[nc], out + k->tread, len);
    cmds[nc][len] = 0;
    k->tread = (size_t)(nl - out) + 1;
    WIRE("%d %s\n", (int)(k - S.conns) + 1, cmds[nc]);
    nc++;
  }
  if (!nc) return 0;
  if (S.mode == DROP_ALONE && !strcmp(cmds[0], "BODY 1")) {
    hang_up(k, 0);
    return 1;
  }
  if (nc == 1) {
    answer(k, cmds[0]);
    return 1;
  }
  switch (S.mode) {
  case HANGUP:
  case DROP_ALONE:
    hang_up(k, 0);
    break;
  case RESET:
    hang_up(k, 1);
    break;
  case ANSWER_500:
    answer(k, cmds[0]);
    for (int i = 1; i < nc && !k->gone; i++) feed(k, "500 what?\r\n");
    break;
  case SAY_400:
    answer(k, cmds[0]);
    feed(k, "400 one command at a time\r\n");
    hang_up(k, 0);
    break;
  case CUT_BLOCK: /* the awaited reply begun, then an end (EOF, reset) */
  case CUT_RESET:
    answer(k, cmds[0]);
    feed(k, "222 1 <b1@x>\r\nbody 1\r\n");
    hang_up(k, S.mode == CUT_RESET);
    break;
  case CUT_STATUS: /* a reset inside the awaited reply's status line */
    answer(k, cmds[0]);
    feed(k, "222 1 <b");
    hang_up(k, 1);
    break;
  }
  return 1;
}

static void new_conn(nt_protocol_t *p);

static void serve(void) {
  for (int round = 0; round < 200; round++) {
    int any = 0;
    if (S.waiting) { /* the client's new connection is accepted */
      nt_protocol_t *p = S.waiting;
      S.waiting = NULL;
      new_conn(p);
      any = 1;
    }
    for (int i = 0; i < S.nconns; i++) any |= serve_once(&S.conns[i]);
    nt_test_run_pending(R);
    if (!any) return;
  }
  fail_msg("the conversation did not end");
}

static void new_conn(nt_protocol_t *p) {
  assert_true(S.nconns < MAX_CONNS);
  sconn_t *k = &S.conns[S.nconns++];
  memset(k, 0, sizeof *k);
  k->tt = nt_test_transport_new(R, p);
  assert_non_null(k->tt);
  feed(k, "200 refusing.test ready\r\n");
}

/* options.reconnect: the new connection is another in-memory one */
static int reconnect(nt_nntp_t *c, nt_protocol_t *p, void *arg) {
  (void)c, (void)arg;
  LOG("(connecting again)\n");
  S.waiting = p;
  return 0;
}

/* --- the client ------------------------------------------------------------------ */

static void on_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  (void)c;
  LOG("%s:%d/%d", (const char *)arg, r->status, r->code);
  if (r->message_id[0]) LOG(" %s", r->message_id);
  if (r->lines) LOG(" lines=%llu", (unsigned long long)r->lines);
  LOG("\n");
}
static void on_line(nt_nntp_t *c, const char *l, size_t n, void *arg) {
  (void)c, (void)arg;
  LOG("  |%.*s|\n", (int)n, l);
}
static void on_over(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  (void)c, (void)arg;
  LOG("  over %llu [%.*s]\n", (unsigned long long)o->number, (int)o->subject.n,
      o->subject.p);
}
static void last_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  on_done(c, r, arg);
  S.refused = nt_nntp_pipeline_refused(c);
  S.peak = (int)nt_nntp_peak_in_flight(c);
  S.window = (int)nt_nntp_pipeline_window(c);
  nt_nntp_close(c);
}

/* STAT 2 answered: five commands at once (a pipeline) */
static void stat_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  on_done(c, r, arg);
  assert_int_equal(nt_nntp_next(c, on_done, "next"), 0);
  assert_int_equal(nt_nntp_fetch(c, NT_NNTP_BODY, "1", on_line, on_done, "body"), 0);
  assert_int_equal(nt_nntp_fetch(c, NT_NNTP_BODY, "<m@x>", on_line, on_done, "body"), 0);
  assert_int_equal(nt_nntp_over(c, "1-3", on_over, on_done, "over"), 0);
  assert_int_equal(nt_nntp_fetch(c, NT_NNTP_BODY, "3", on_line, last_done, "body"), 0);
}

static void group_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  on_done(c, r, arg);
  if (S.scenario == 1) {
    assert_int_equal(nt_nntp_fetch(c, NT_NNTP_BODY, "1", on_line, last_done, "body"), 0);
    return;
  }
  assert_int_equal(nt_nntp_fetch(c, NT_NNTP_STAT, "2", NULL, stat_done, "stat"), 0);
}

static void on_ready(nt_nntp_t *c, void *arg) {
  (void)arg;
  LOG("ready\n");
  assert_int_equal(nt_nntp_group(c, "local.test", group_done, "group"), 0);
}
static void on_closed(nt_nntp_t *c, int status, void *arg) {
  (void)c, (void)arg;
  S.closed++;
  S.status = status;
  LOG("closed %d\n", status);
}
static const nt_nntp_callbacks_t cbs = {.ready = on_ready, .closed = on_closed};

/* Runs the whole conversation; the transports are freed after. */
static void run(int mode, size_t cut) {
  int scenario = S.scenario, no_hook = S.no_hook, compress = S.compress;
  memset(&S, 0, sizeof S);
  S.compress = compress;
  S.mode = mode;
  S.cut = cut;
  S.scenario = scenario;
  S.no_hook = no_hook;
  nt_nntp_options_t o = {0};
  o.user = "u";
  o.pass = "pw";
  if (!no_hook) o.reconnect = reconnect;
  nt_nntp_t *c;
  assert_int_equal(nt_nntp_new(R, &o, &cbs, NULL, &c), 0);
  new_conn(nt_nntp_protocol(c));
  serve();
  for (int i = 0; i < S.nconns; i++) {
    nt_test_transport_free(S.conns[i].tt);
    if (S.conns[i].z) {
      inflateEnd(&S.conns[i].in);
      deflateEnd(&S.conns[i].out);
    }
  }
  nt_test_run_pending(R);
}

static const char setup_cmds[] =
    "%d CAPABILITIES\n%d AUTHINFO USER u\n%d AUTHINFO PASS pw\n%d CAPABILITIES\n";

static void want_setup(char *buf, size_t *len, size_t cap, int k) {
  add(buf, len, cap, setup_cmds, k, k, k, k);
  if (S.compress) add(buf, len, cap, "%d COMPRESS DEFLATE\n", k);
}

/* The results, whatever the server did to the pipeline. */
static const char log_all[] =
    "ready\n"
    "group:0/211\n"
    "stat:0/223 <b2@x>\n"
    "next:0/223 <b3@x>\n"
    "%s" /* (connecting again) here or after next */
    "  |body 1|\n  |.dot 1|\nbody:0/222 <b1@x> lines=2\n"
    "  |id body|\nbody:0/222 <m@x> lines=1\n"
    "  over 1 [S1]\n  over 2 [S2]\n  over 3 [S3]\nover:0/224 lines=3\n"
    "  |body 3|\n  |.dot 3|\nbody:0/222 <b3@x> lines=2\n"
    "closed 0\n";

static void check_fallback(int mode, const char *how) {
  char want[4096], wire[4096];
  size_t wl = 0;
  /* hung up on the burst: NEXT goes again on the new connection (after
   * the group and the current article, 2, are selected there); answered
   * first (500, 400): NEXT's answer counts and the current article is 3 */
  int next_again = mode == HANGUP || mode == RESET;
  if (next_again) {
    const char *a = strstr(log_all, "next:");
    snprintf(want, sizeof want, "%.*s(connecting again)\n%s", (int)(a - log_all), log_all,
             a);
    char *p = strstr(want, "%s");
    memmove(p, p + 2, strlen(p + 2) + 1);
  } else {
    snprintf(want, sizeof want, log_all, "");
    /* "(connecting again)" comes right after next's answer */
    char tmp[4096];
    char *a = strstr(want, "  |body 1|");
    snprintf(tmp, sizeof tmp, "%.*s(connecting again)\n%s", (int)(a - want), want, a);
    strcpy(want, tmp);
  }
  if (strcmp(S.log, want)) fail_msg("%s: log:\n%s\nwant:\n%s", how, S.log, want);
  want_setup(wire, &wl, sizeof wire, 1);
  add(wire, &wl, sizeof wire,
      "1 GROUP local.test\n1 STAT 2\n1 NEXT\n1 BODY 1\n1 BODY <m@x>\n1 OVER 1-3\n"
      "1 BODY 3\n1 hangs up\n");
  if (mode == ANSWER_500) wl -= strlen("1 hangs up\n"), wire[wl] = 0; /* the client left */
  want_setup(wire, &wl, sizeof wire, 2);
  add(wire, &wl, sizeof wire, "2 GROUP local.test\n2 STAT %d\n%s", next_again ? 2 : 3,
      next_again ? "2 NEXT\n" : "");
  add(wire, &wl, sizeof wire,
      "2 BODY 1\n2 BODY <m@x>\n2 OVER 1-3\n2 BODY 3\n2 QUIT\n2 hangs up\n");
  if (strcmp(S.wire, wire)) fail_msg("%s: wire:\n%s\nwant:\n%s", how, S.wire, wire);
  assert_int_equal(S.nconns, 2);
  assert_int_equal(S.refused, 1);
  assert_int_equal(S.peak, 1); /* one at a time on the new connection */
  assert_int_equal(S.window, 1);
  assert_int_equal(S.closed, 1);
}

static void each_cut(int mode) {
  char how[64];
  size_t cuts[80 + 2];
  size_t n = 0;
  cuts[n++] = 0;
  for (size_t k = 1; k <= 80; k++) cuts[n++] = k;
  cuts[n++] = BYTEWISE;
  for (size_t i = 0; i < n; i++) {
    run(mode, cuts[i]);
    if (cuts[i] == BYTEWISE)
      snprintf(how, sizeof how, "mode %d, byte by byte", mode);
    else
      snprintf(how, sizeof how, "mode %d, replies cut at %zu", mode, cuts[i]);
    check_fallback(mode, how);
  }
}

static void test_hangup(void **state) {
  (void)state;
  each_cut(HANGUP);
}
static void test_reset(void **state) {
  (void)state;
  each_cut(RESET);
}
static void test_500(void **state) {
  (void)state;
  each_cut(ANSWER_500);
}
static void test_400(void **state) {
  (void)state;
  each_cut(SAY_400);
}

/* The same over COMPRESS DEFLATE (RFC 8054, after AUTHINFO): the new
 * connection negotiates it again; the cuts fall in the deflate stream. */
static void test_compressed(void **state) {
  (void)state;
  S.compress = 1;
  each_cut(HANGUP);
  each_cut(ANSWER_500);
  S.compress = 0;
}

/* The connection ended in the middle of BODY 1's reply, with three more
 * commands in flight behind it: the server was answering, so this is a
 * cut (a network, a restart), not a refusal of pipelining. The commands
 * fail with the cause (BODY 1's lines were delivered), there is no second
 * connection, and the client keeps its window (it fell back for good
 * here before: a flaky network cost it pipelining). Also when the end
 * came inside BODY 1's status line (bytes of it, no CRLF). A reset with no
 * byte of the awaited reply still falls back (test_reset). */
static void check_cut(int mode, size_t cut, int status) {
  char want[1024], how[64], body1[128];
  run(mode, cut);
  snprintf(how, sizeof how, "mode %d, cut %zu", mode, cut);
  if (mode == CUT_STATUS) /* no status line: no code, no lines */
    snprintf(body1, sizeof body1, "body:%d/0\n", status);
  else
    snprintf(body1, sizeof body1, "  |body 1|\nbody:%d/222 <b1@x> lines=1\n", status);
  snprintf(want, sizeof want,
           "ready\ngroup:0/211\nstat:0/223 <b2@x>\nnext:0/223 <b3@x>\n"
           "%sbody:%d/0\nover:%d/0\nbody:%d/0\nclosed %d\n",
           body1, status, status, status, status);
  if (strcmp(S.log, want)) fail_msg("%s: log:\n%s\nwant:\n%s", how, S.log, want);
  assert_int_equal(S.nconns, 1);
  assert_int_equal(S.refused, 0);
  assert_true(S.window > 1); /* not dropped to one */
  assert_int_equal(S.closed, 1);
}

static void test_reply_begun(void **state) {
  (void)state;
  size_t cuts[] = {0, 1, 5, BYTEWISE};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    check_cut(CUT_BLOCK, cuts[i], NT_EUNEXPECTEDEOF);
    check_cut(CUT_RESET, cuts[i], NT_ECONNRESET);
    check_cut(CUT_STATUS, cuts[i], NT_ECONNRESET);
  }
}

/* A command sent alone that gets no answer is a lost connection, not a
 * refusal; without options.reconnect, a refusal ends the client too. */
static void test_no_fallback(void **state) {
  (void)state;
  char w[128];
  S.scenario = 1;
  run(DROP_ALONE, 0);
  snprintf(w, sizeof w, "ready\ngroup:0/211\nbody:%d/0\nclosed %d\n", NT_EUNEXPECTEDEOF,
           NT_EUNEXPECTEDEOF);
  assert_string_equal(S.log, w);
  assert_int_equal(S.nconns, 1);

  S.scenario = 0;
  S.no_hook = 1;
  run(HANGUP, 0);
  assert_int_equal(S.nconns, 1);
  snprintf(w, sizeof w, "next:%d/0\n", NT_EUNEXPECTEDEOF);
  assert_non_null(strstr(S.log, w));
  snprintf(w, sizeof w, "body:%d/0\nclosed %d\n", NT_EUNEXPECTEDEOF, NT_EUNEXPECTEDEOF);
  assert_non_null(strstr(S.log, w));
  assert_int_equal(S.closed, 1);
}

static int setup(void **state) {
  (void)state;
  memset(&S, 0, sizeof S);
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
      cmocka_unit_test_setup_teardown(test_hangup, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_500, setup, teardown),
      cmocka_unit_test_setup_teardown(test_400, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compressed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reply_begun, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_fallback, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
