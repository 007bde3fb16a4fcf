/* The NNTP client on the test reactor: scripted servers fed at every byte
 * boundary (a whole session with dot-stuffed lines, folded and encoded
 * headers, overview), set-up variants (no CAPABILITIES: MODE READER and
 * XOVER/XHDR fallbacks; 201; 400), 480 then AUTHINFO then the command again,
 * POST with dot-stuffing (340/240/440/441), a block cut off by a close,
 * over-long lines, timeouts, and STARTTLS through a real TLS handshake in
 * memory (with a response injected after the 382 dropped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "nettool/nntp.h"
#include "nettool/testing.h"

static nt_reactor_t *R;

typedef struct {
  char log[8192];
  size_t len;
  int ready, closed, close_status;
  nt_nntp_t *c;
  nt_nntp_article_t art;
  int scenario;
} rec_t;
static rec_t rec;
static char last_reply[256], last_line[256]; /* at closed() */
static nt_nntp_state_t end_state;

static void logf_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (rec.len < sizeof rec.log)
    rec.len += (size_t)vsnprintf(rec.log + rec.len, sizeof rec.log - rec.len, fmt, ap);
  va_end(ap);
}

static void on_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  (void)c;
  logf_("%s:%d/%d[%s]", (const char *)arg, r->status, r->code, r->text);
  if (r->group[0]) logf_(" g=%s %llu %llu-%llu", r->group, (unsigned long long)r->count,
                         (unsigned long long)r->low, (unsigned long long)r->high);
  if (r->message_id[0]) logf_(" n=%llu id=%s", (unsigned long long)r->number, r->message_id);
  if (r->lines) logf_(" lines=%llu", (unsigned long long)r->lines);
  logf_("\n");
}
static void on_line(nt_nntp_t *c, const char *l, size_t n, void *arg) {
  (void)c, (void)arg;
  logf_("  |%.*s|\n", (int)n, l);
  nt_nntp_article_feed(&rec.art, l, n);
}
static void on_over(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  (void)c, (void)arg;
  logf_("  over %llu [%.*s] [%.*s] %llu %llu [%.*s]\n", (unsigned long long)o->number,
        (int)o->subject.n, o->subject.p, (int)o->references.n, o->references.p,
        (unsigned long long)o->bytes, (unsigned long long)o->lines, (int)o->extra.n,
        o->extra.p);
}
static void on_hdr(nt_nntp_t *c, uint64_t n, const char *v, size_t len, void *arg) {
  (void)c, (void)arg;
  logf_("  hdr %llu [%.*s]\n", (unsigned long long)n, (int)len, v);
}
static void close_done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  on_done(c, r, arg);
  nt_nntp_close(c);
}

/* What each scenario queues once READY. */
static void on_ready(nt_nntp_t *c, void *arg) {
  (void)arg;
  rec.ready++;
  logf_("ready posting=%d tls=%d\n", nt_nntp_posting_allowed(c), nt_nntp_is_tls(c));
  switch (rec.scenario) {
  case 0: /* a reading session */
    assert_int_equal(nt_nntp_group(c, "local.test", on_done, "group"), 0);
    assert_int_equal(nt_nntp_fetch(c, NT_NNTP_ARTICLE, "3", on_line, on_done, "article"), 0);
    assert_int_equal(nt_nntp_over(c, "1-2", on_over, close_done, "over"), 0);
    break;
  case 1: /* fallbacks */
    assert_int_equal(nt_nntp_over(c, "1-2", on_over, on_done, "over"), 0);
    assert_int_equal(nt_nntp_hdr(c, "Subject", "1-2", on_hdr, on_done, "hdr"), 0);
    assert_int_equal(nt_nntp_over(c, NULL, on_over, close_done, "over2"), 0);
    break;
  case 2: /* auth on demand */
    assert_int_equal(nt_nntp_group(c, "priv.test", on_done, "group"), 0);
    assert_int_equal(nt_nntp_date(c, close_done, "date"), 0);
    break;
  case 3: /* post */
    assert_int_equal(nt_nntp_post(c, "From: a@b\nSubject: s\n\n.dot\nbody\n..\n", 35,
                                  close_done, "post"), 0);
    break;
  default:
    break;
  }
}
static void on_closed(nt_nntp_t *c, int status, void *arg) {
  (void)arg;
  rec.closed++;
  rec.close_status = status;
  logf_("closed %d last=%d\n", status, nt_nntp_last_code(c));
  snprintf(last_reply, sizeof last_reply, "%s", nt_nntp_last_reply(c));
  snprintf(last_line, sizeof last_line, "%s", nt_nntp_last_line(c));
  end_state = nt_nntp_end_state(c);
}

static const nt_nntp_callbacks_t cbs = {.ready = on_ready, .closed = on_closed};

static nt_protocol_t *build_opts(const nt_nntp_options_t *o) {
  nt_nntp_article_free(&rec.art);
  int scenario = rec.scenario;
  memset(&rec, 0, sizeof rec);
  rec.scenario = scenario;
  nt_nntp_article_init(&rec.art);
  nt_nntp_t *c;
  assert_int_equal(nt_nntp_new(R, o, &cbs, NULL, &c), 0);
  rec.c = c;
  return nt_nntp_protocol(c);
}
static nt_protocol_t *build(void *arg) {
  (void)arg;
  return build_opts(NULL);
}
static nt_protocol_t *build_auth(void *arg) {
  (void)arg;
  nt_nntp_options_t o = {0};
  o.user = "bob";
  o.pass = "s3cret";
  return build_opts(&o);
}

static const char *want_log, *want_out;
static void check(void *arg, nt_test_transport_t *tt, const char *how) {
  (void)arg;
  if (strcmp(rec.log, want_log))
    fail_msg("%s:\n got:\n%s\n want:\n%s", how, rec.log, want_log);
  const char *out = nt_test_output(tt, NULL);
  if (strcmp(out, want_out)) fail_msg("%s: sent:\n%s\nwant:\n%s", how, out, want_out);
}

static void test_session_every_split(void **state) {
  (void)state;
  rec.scenario = 0;
  const char *server =
      "200 news.test ready (posting ok)\r\n"
      "101 Capability list:\r\n"
      "VERSION 2\r\nREADER\r\nOVER\r\nHDR\r\n.\r\n"
      "211 3 1 3 local.test\r\n"
      "220 3 <a3@x> article\r\n"
      "From: =?ISO-8859-1?Q?J=F6rg?= <j@x>\r\n"
      "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"
      "\t=?UTF-8?Q?_aus_K=C3=B6ln?= folded\r\n"
      "\r\n"
      "..dot-stuffed\r\n"
      "...\r\n"
      "body\r\n"
      ".\r\n"
      "224 overview follows\r\n"
      "1\tSubj 1\tA <a@x>\tMon, 23 Nov 2026 12:00:00 +0000\t<a1@x>\t\t100\t5\tXref: x\r\n"
      "2\tSubj 2\tB <b@x>\t23 Nov 2026 12:00 GMT\t<a2@x>\t<a1@x>\t200\t7\r\n"
      ".\r\n"
      "205 bye\r\n";
  want_log =
      "ready posting=1 tls=0\n"
      "group:0/211[3 1 3 local.test] g=local.test 3 1-3\n"
      "  |From: =?ISO-8859-1?Q?J=F6rg?= <j@x>|\n"
      "  |Subject: =?UTF-8?B?R3LDvMOfZQ==?=|\n"
      "  |\t=?UTF-8?Q?_aus_K=C3=B6ln?= folded|\n"
      "  ||\n"
      "  |.dot-stuffed|\n"
      "  |..|\n"
      "  |body|\n"
      "article:0/220[3 <a3@x> article] n=3 id=<a3@x> lines=7\n"
      "  over 1 [Subj 1] [] 100 5 [Xref: x]\n"
      "  over 2 [Subj 2] [<a1@x>] 200 7 []\n"
      "over:0/224[overview follows] lines=2\n"
      "closed 0 last=205\n";
  want_out = "CAPABILITIES\r\nGROUP local.test\r\nARTICLE 3\r\nOVER 1-2\r\nQUIT\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build, check, NULL);
  /* the article model of the last run */
  char *from = nt_nntp_article_header_utf8(&rec.art, "from");
  char *subj = nt_nntp_article_header_utf8(&rec.art, "Subject");
  assert_string_equal(from, "Jörg <j@x>");
  assert_string_equal(subj, "Grüße aus Köln folded");
  free(from);
  free(subj);
  assert_int_equal(rec.art.nlines, 3);
  assert_string_equal(rec.art.lines[0], ".dot-stuffed");
  nt_nntp_article_free(&rec.art);
}

static void test_no_capabilities_fallbacks(void **state) {
  (void)state;
  rec.scenario = 1;
  const char *server =
      "201 old server, no posting\r\n"
      "500 What?\r\n"                  /* CAPABILITIES */
      "201 still no posting\r\n"       /* MODE READER */
      "500 What?\r\n"                  /* OVER */
      "224 follows\r\n1\ts\tf\td\t<m>\t\t1\t1\r\n.\r\n" /* XOVER */
      "500 What?\r\n"                  /* HDR */
      "221 Subject follows\r\n1 first\r\n2 second one\r\n.\r\n" /* XHDR */
      "224 follows\r\n.\r\n"           /* XOVER straight away now */
      "205 bye\r\n";
  want_log =
      "ready posting=0 tls=0\n"
      "  over 1 [s] [] 1 1 []\n"
      "over:0/224[follows] lines=1\n"
      "  hdr 1 [first]\n"
      "  hdr 2 [second one]\n"
      "hdr:0/221[Subject follows] lines=2\n"
      "over2:0/224[follows]\n"
      "closed 0 last=205\n";
  want_out = "CAPABILITIES\r\nMODE READER\r\nOVER 1-2\r\nXOVER 1-2\r\n"
             "HDR Subject 1-2\r\nXHDR Subject 1-2\r\nXOVER\r\nQUIT\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build, check, NULL);
}

static nt_protocol_t *build_lazy_auth(void *arg) {
  (void)arg;
  nt_nntp_options_t o = {0};
  o.user = "bob";
  o.pass = "s3cret";
  o.auth_when_asked = 1;
  return build_opts(&o);
}

static void test_480_then_authinfo_every_split(void **state) {
  (void)state;
  rec.scenario = 2;
  /* GROUP -> 480, AUTHINFO, capabilities again, GROUP again */
  const char *server =
      "200 hi\r\n"
      "101 caps\r\nVERSION 2\r\nREADER\r\n.\r\n"
      "480 Authentication required\r\n"
      "381 Password please\r\n"
      "281 Welcome\r\n"
      "101 caps\r\nVERSION 2\r\nREADER\r\nPOST\r\n.\r\n"
      "211 1 5 5 priv.test\r\n"
      "111 20261122151100\r\n"
      "205 bye\r\n";
  want_log =
      "ready posting=1 tls=0\n"
      "group:0/211[1 5 5 priv.test] g=priv.test 1 5-5\n"
      "date:0/111[20261122151100]\n"
      "closed 0 last=205\n";
  want_out = "CAPABILITIES\r\nGROUP priv.test\r\nAUTHINFO USER bob\r\n"
             "AUTHINFO PASS s3cret\r\nCAPABILITIES\r\nGROUP priv.test\r\nDATE\r\nQUIT\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_lazy_auth, check, NULL);
  /* a second 480 for the same command is not retried: it fails */
  const char *again =
      "200 hi\r\n101 caps\r\nREADER\r\n.\r\n480 auth\r\n281 ok\r\n101 c\r\nREADER\r\n.\r\n"
      "480 still no\r\n111 20261122151100\r\n205 bye\r\n";
  want_log = "ready posting=1 tls=0\n"
             "group:-3505/480[still no]\n"
             "date:0/111[20261122151100]\n"
             "closed 0 last=205\n";
  want_out = "CAPABILITIES\r\nGROUP priv.test\r\nAUTHINFO USER bob\r\nCAPABILITIES\r\n"
             "GROUP priv.test\r\nDATE\r\nQUIT\r\n";
  nt_test_each_split(R, again, strlen(again), 0, build_lazy_auth, check, NULL);
  /* without credentials a 480 is the command's answer */
  const char *none = "200 hi\r\n101 caps\r\nREADER\r\n.\r\n480 Login first\r\n111 20261122151100\r\n205 bye\r\n";
  want_log = "ready posting=1 tls=0\ngroup:-3505/480[Login first]\n"
             "date:0/111[20261122151100]\nclosed 0 last=205\n";
  want_out = "CAPABILITIES\r\nGROUP priv.test\r\nDATE\r\nQUIT\r\n";
  nt_test_each_split(R, none, strlen(none), 0, build, check, NULL);
}

/* With credentials (and auth_when_asked off), set-up authenticates; here
 * the server refuses them: the session ends with its words. */
static void test_auth_rejected(void **state) {
  (void)state;
  rec.scenario = 9;
  nt_test_transport_t *tt = nt_test_transport_new(R, build_auth(NULL));
  nt_test_feed_str(tt, "200 hi\r\n500 no caps\r\n200 reader\r\n");
  nt_test_run_pending(R);
  const char *out = nt_test_output(tt, NULL);
  assert_string_equal(out, "CAPABILITIES\r\nMODE READER\r\nAUTHINFO USER bob\r\n");
  nt_test_feed_str(tt, "381 more\r\n481 Authentication failed\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ENNTP_AUTHFAIL);
  assert_non_null(strstr(rec.log, "last=481"));
  assert_null(strstr(rec.log, "ready"));
  nt_test_transport_free(tt);
}

static void test_post_every_split(void **state) {
  (void)state;
  rec.scenario = 3;
  const char *server = "200 ok\r\n101 c\r\nREADER\r\n.\r\n340 send it\r\n240 Article received <x@y>\r\n205 bye\r\n";
  want_log = "ready posting=1 tls=0\npost:0/240[Article received <x@y>]\nclosed 0 last=205\n";
  want_out = "CAPABILITIES\r\nPOST\r\nFrom: a@b\r\nSubject: s\r\n\r\n..dot\r\nbody\r\n...\r\n.\r\nQUIT\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build, check, NULL);
  const char *refused = "200 ok\r\n101 c\r\nREADER\r\n.\r\n440 Posting not permitted\r\n205 bye\r\n";
  want_log = "ready posting=1 tls=0\npost:-3503/440[Posting not permitted]\nclosed 0 last=205\n";
  want_out = "CAPABILITIES\r\nPOST\r\nQUIT\r\n";
  nt_test_each_split(R, refused, strlen(refused), 0, build, check, NULL);
  const char *failed = "200 ok\r\n101 c\r\nREADER\r\n.\r\n340 go\r\n441 Duplicate\r\n205 bye\r\n";
  want_log = "ready posting=1 tls=0\npost:-3504/441[Duplicate]\nclosed 0 last=205\n";
  want_out = "CAPABILITIES\r\nPOST\r\nFrom: a@b\r\nSubject: s\r\n\r\n..dot\r\nbody\r\n...\r\n.\r\nQUIT\r\n";
  nt_test_each_split(R, failed, strlen(failed), 0, build, check, NULL);
}

static void test_block_cut_by_close(void **state) {
  (void)state;
  rec.scenario = 0;
  const char *server = "200 ok\r\n101 c\r\nREADER\r\n.\r\n211 3 1 3 local.test\r\n"
                       "220 3 <a3@x>\r\nSubject: x\r\n\r\nhalf a bo";
  want_log = "ready posting=1 tls=0\n"
             "group:0/211[3 1 3 local.test] g=local.test 3 1-3\n"
             "  |Subject: x|\n  ||\n"
             "article:-3006/220[3 <a3@x>] n=3 id=<a3@x> lines=2\n"
             "over:-3006/0[]\n"
             "closed -3006 last=220\n";
  /* XOVER (the server lists no OVER) is pipelined behind ARTICLE */
  want_out = "CAPABILITIES\r\nGROUP local.test\r\nARTICLE 3\r\nXOVER 1-2\r\n";
  nt_test_each_split(R, server, strlen(server), 1, build, check, NULL);
}

static void test_limits_and_bad_replies(void **state) {
  (void)state;
  rec.scenario = 0;
  /* an over-long line in a block: lines inside an article have their own,
   * larger limit (max_block_line) than status lines (max_line) */
  nt_nntp_options_t o = {0};
  o.max_line = 64;
  o.max_block_line = 128;
  nt_test_transport_t *tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n101 c\r\nREADER\r\n.\r\n211 3 1 3 g\r\n220 3 <a@b>\r\n");
  char line[200];
  memset(line, 'x', sizeof line);
  nt_test_feed(tt, line, 100); /* over max_line, within max_block_line */
  nt_test_feed_str(tt, "\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 0);
  nt_test_feed(tt, line, sizeof line);
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ELINETOOLONG);
  assert_non_null(strstr(rec.log, "article:-3001/220"));
  nt_test_transport_free(tt);
  /* the default block limit takes a 70 KB header line (the status line
   * limit stays 64 KiB); after the block, status lines are held to it */
  tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "200 ok\r\n101 c\r\nREADER\r\n.\r\n211 3 1 3 g\r\n220 3 <a@b>\r\n");
  size_t big = 70 * 1024;
  char *h = malloc(big + 2);
  memset(h, 'r', big);
  memcpy(h, "References: ", 12);
  memcpy(h + big, "\r\n", 2);
  nt_test_feed(tt, h, big + 2);
  nt_test_feed_str(tt, "\r\nbody\r\n.\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 0);
  assert_int_equal(nt_nntp_pending(rec.c), 1); /* the article is done: OVER */
  nt_test_feed(tt, "224 ", 4); /* a status line of 70 KB: refused */
  nt_test_feed(tt, h, big + 2);
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ELINETOOLONG);
  free(h);
  nt_test_transport_free(tt);
  /* a multi-line response over max_block */
  o.max_line = 0;
  o.max_block = 100;
  tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n101 c\r\nREADER\r\n.\r\n211 3 1 3 g\r\n220 3 <a@b>\r\n");
  for (int i = 0; i < 10; i++) nt_test_feed_str(tt, "twenty bytes of it\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ETOOBIG);
  nt_test_transport_free(tt);
  /* a GROUP reply without numbers */
  tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "200 ok\r\n101 c\r\nREADER\r\n.\r\n211 lots of articles\r\n");
  nt_test_run_pending(R);
  assert_non_null(strstr(rec.log, "group:-3512/211"));
  nt_test_transport_free(tt);
  /* greeting 400: the set-up fails in the server's words */
  tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "400 Service temporarily unavailable\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ENNTP_UNAVAILABLE);
  assert_string_equal(last_reply, "Service temporarily unavailable");
  nt_test_transport_free(tt);
  /* not a reply at all: the line is kept to be quoted */
  tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "SSH-2.0-OpenSSH\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_EPROTO);
  assert_string_equal(last_line, "SSH-2.0-OpenSSH");
  assert_int_equal(end_state, NT_NNTP_GREETING);
  nt_test_transport_free(tt);
  tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "999 hi\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_EPROTO);
  assert_string_equal(last_line, "999 hi");
  nt_test_transport_free(tt);
  /* any 4xx/5xx greeting is a refusal in the server's words; another code
   * is not an NNTP greeting */
  tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "505 go away\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ENNTP_UNAVAILABLE);
  assert_string_equal(last_reply, "go away");
  nt_test_transport_free(tt);
  tt = nt_test_transport_new(R, build(NULL));
  nt_test_feed_str(tt, "100 hello\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ENNTP_BADREPLY);
  assert_string_equal(last_reply, "hello");
  nt_test_transport_free(tt);
}

static void test_timeouts(void **state) {
  (void)state;
  rec.scenario = 0;
  nt_nntp_options_t o = {0};
  o.timeout_ms = 2000;
  nt_test_transport_t *tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_clock_advance(R, 1999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  nt_test_transport_free(tt);
  /* a block that stalls half way */
  tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n101 c\r\nREADER\r\n.\r\n211 3 1 3 g\r\n220 3 <a@b>\r\nSubj");
  nt_test_clock_advance(R, 1500);
  nt_test_feed_str(tt, "ect: x\r\n"); /* progress re-arms */
  nt_test_clock_advance(R, 1500);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 500);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  assert_non_null(strstr(rec.log, "article:-110/220"));
  assert_non_null(strstr(rec.log, "over:-110/0"));
  nt_test_transport_free(tt);
  /* a server trickling one byte a second: the reply must be complete
   * within the timeout of its command, bytes do not extend it */
  tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n");
  const char *caps = "101 Capability list:\r\n";
  for (int i = 0; i < 5 && !rec.closed; i++) {
    nt_test_feed(tt, caps + i, 1);
    nt_test_clock_advance(R, 1000);
  }
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  assert_int_equal(end_state, NT_NNTP_CAPABILITIES);
  nt_test_transport_free(tt);
}

static void test_arguments_and_close(void **state) {
  (void)state;
  rec.scenario = 9;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(NULL));
  nt_nntp_t *c = rec.c;
  assert_int_equal(nt_nntp_state(c), NT_NNTP_GREETING);
  assert_string_equal(nt_nntp_state_name(NT_NNTP_TLS_HANDSHAKE), "TLS_HANDSHAKE");
  assert_string_equal(nt_nntp_state_name((nt_nntp_state_t)99), "?");
  assert_int_equal(nt_nntp_group(c, "bad group", on_done, "x"), NT_EINVAL);
  assert_int_equal(nt_nntp_group(c, "a\r\nQUIT", on_done, "x"), NT_EINVAL);
  assert_int_equal(nt_nntp_fetch(c, NT_NNTP_BODY, "<no end", on_line, on_done, "x"), NT_EINVAL);
  assert_int_equal(nt_nntp_fetch(c, NT_NNTP_BODY, "<a b@c>", on_line, on_done, "x"), NT_EINVAL);
  assert_int_equal(nt_nntp_fetch(c, NT_NNTP_BODY, "12x", on_line, on_done, "x"), NT_EINVAL);
  assert_int_equal(nt_nntp_over(c, "5-x", on_over, on_done, "x"), NT_EINVAL);
  assert_int_equal(nt_nntp_list(c, "ACTIVE", "a b", on_line, on_done, "x"), NT_EINVAL);
  assert_int_equal(nt_nntp_post(c, "a\0b", 3, on_done, "x"), NT_EINVAL);
  /* queued before READY: sent after set-up, in order; close sends QUIT last */
  assert_int_equal(nt_nntp_date(c, on_done, "date"), 0);
  assert_int_equal(nt_nntp_fetch(c, NT_NNTP_STAT, "<a@b>", NULL, on_done, "stat"), 0);
  nt_nntp_close(c);
  assert_int_equal(nt_nntp_date(c, on_done, "late"), NT_ENOTCONN);
  assert_int_equal(nt_nntp_pending(c), 3);
  nt_test_feed_str(tt, "200 ok\r\n101 c\r\nREADER\r\n.\r\n111 20261122151100\r\n223 0 <a@b>\r\n205 bye\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "CAPABILITIES\r\nDATE\r\nSTAT <a@b>\r\nQUIT\r\n");
  assert_string_equal(rec.log, "ready posting=1 tls=0\n"
                               "date:0/111[20261122151100]\n"
                               "stat:0/223[0 <a@b>] n=0 id=<a@b>\n"
                               "closed 0 last=205\n");
  nt_test_transport_free(tt);
  /* the connection reset while commands wait: each hears it once */
  tt = nt_test_transport_new(R, build(NULL));
  c = rec.c;
  assert_int_equal(nt_nntp_date(c, on_done, "d1"), 0);
  assert_int_equal(nt_nntp_date(c, on_done, "d2"), 0);
  nt_test_feed_str(tt, "200 ok\r\n101 c\r\nREADER\r\n.\r\n");
  nt_test_reset(tt);
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "ready posting=1 tls=0\nd1:-104/0[]\nd2:-104/0[]\nclosed -104 last=101\n");
  nt_test_transport_free(tt);
}

/* --- STARTTLS, with a real handshake through memory ------------------------------- */

static char certs[512];

typedef struct {
  nt_protocol_t base;
  nt_tls_ctx_t *ctx;
  int tls, inject;
  char buf[4096];
  size_t len;
  char seen[1024];
} srv_t;

static void srv_write(srv_t *s, const char *txt) { nt_transport_write_str(s->base.transport, txt); }

static void srv_made(nt_protocol_t *p, nt_transport_t *t) {
  srv_t *s = (srv_t *)p;
  (void)t;
  if (!s->tls) srv_write(s, "200 tls test server\r\n");
}

static void srv_command(srv_t *s, const char *cmd) {
  size_t used = strlen(s->seen);
  snprintf(s->seen + used, sizeof s->seen - used, "%.200s%s", cmd, s->tls ? "(tls)\n" : "\n");
  if (!strcmp(cmd, "CAPABILITIES")) {
    srv_write(s, s->tls ? "101 c\r\nVERSION 2\r\nREADER\r\n.\r\n"
                        : "101 c\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\n.\r\n");
  } else if (!strcmp(cmd, "STARTTLS")) {
    /* the injected reply rides in the same segment as the 382 */
    srv_write(s, s->inject ? "382 go\r\n211 666 6 6 evil\r\n" : "382 go\r\n");
    nt_tls_options_t o = {0};
    s->tls = 1;
    assert_int_equal(nt_tls_start(s->base.transport, s->ctx, &s->base, &o, NULL), 0);
  } else if (!strncmp(cmd, "GROUP ", 6)) {
    srv_write(s, "211 1 1 1 secure.test\r\n");
  } else if (!strcmp(cmd, "QUIT")) {
    srv_write(s, "205 bye\r\n");
    nt_transport_lose_connection(s->base.transport);
  } else {
    srv_write(s, "500 what\r\n");
  }
}

static void srv_data(nt_protocol_t *p, const char *d, size_t n) {
  srv_t *s = (srv_t *)p;
  assert_true(s->len + n < sizeof s->buf);
  memcpy(s->buf + s->len, d, n);
  s->len += n;
  char *nl;
  while ((nl = memchr(s->buf, '\n', s->len))) {
    *nl = 0;
    if (nl > s->buf && nl[-1] == '\r') nl[-1] = 0;
    char cmd[sizeof s->buf];
    memcpy(cmd, s->buf, (size_t)(nl - s->buf) + 1);
    size_t used = (size_t)(nl + 1 - s->buf);
    memmove(s->buf, nl + 1, s->len - used);
    s->len -= used;
    srv_command(s, cmd);
    if (!strcmp(cmd, "STARTTLS")) break; /* the rest is TLS */
  }
}

static const nt_protocol_ops_t srv_ops = {.connection_made = srv_made,
                                          .data_received = srv_data};

static void starttls_run(int inject) {
  char path[600];
  nt_tls_ctx_options_t so = {0};
  so.server = 1;
  snprintf(path, sizeof path, "%s/server.crt", certs);
  so.cert_file = path;
  char key[600];
  snprintf(key, sizeof key, "%s/server.key", certs);
  so.key_file = key;
  nt_tls_ctx_t *sctx, *cctx;
  assert_int_equal(nt_tls_ctx_new(&so, &sctx), 0);
  nt_tls_ctx_options_t co = {0};
  char ca[600];
  snprintf(ca, sizeof ca, "%s/ca.crt", certs);
  co.ca_file = ca;
  assert_int_equal(nt_tls_ctx_new(&co, &cctx), 0);

  rec.scenario = 9;
  nt_nntp_options_t o = {0};
  o.tls = NT_NNTP_TLS_STARTTLS;
  o.tls_ctx = cctx;
  o.tls_server_name = "localhost";
  nt_protocol_t *cp = build_opts(&o);
  srv_t srv;
  memset(&srv, 0, sizeof srv);
  nt_protocol_init(&srv.base, &srv_ops);
  srv.ctx = sctx;
  srv.inject = inject;
  nt_test_pair_t *pair = nt_test_pair_new(R, cp, &srv.base);
  for (int i = 0; i < 50 && !rec.ready && !rec.closed; i++) nt_test_pair_pump(pair);
  assert_int_equal(rec.ready, 1);
  assert_int_equal(nt_nntp_state(rec.c), NT_NNTP_READY);
  assert_int_equal(nt_nntp_is_tls(rec.c), 1);
  assert_int_equal(nt_nntp_group(rec.c, "secure.test", close_done, "group"), 0);
  for (int i = 0; i < 50 && !rec.closed; i++) nt_test_pair_pump(pair);
  assert_string_equal(srv.seen, "CAPABILITIES\nSTARTTLS\nCAPABILITIES(tls)\n"
                                "GROUP secure.test(tls)\nQUIT(tls)\n");
  /* the injected "211 666" never reached the client */
  assert_string_equal(rec.log, "ready posting=1 tls=1\n"
                               "group:0/211[1 1 1 secure.test] g=secure.test 1 1-1\n"
                               "closed 0 last=205\n");
  nt_test_pair_free(pair);
  nt_test_run_pending(R);
  nt_tls_ctx_free(sctx);
  nt_tls_ctx_free(cctx);
}

static void test_starttls(void **state) {
  (void)state;
  starttls_run(0);
}
static void test_starttls_injection_dropped(void **state) {
  (void)state;
  starttls_run(1);
}

static void test_starttls_not_offered(void **state) {
  (void)state;
  nt_tls_ctx_options_t co = {0};
  nt_tls_ctx_t *cctx;
  assert_int_equal(nt_tls_ctx_new(&co, &cctx), 0);
  nt_nntp_options_t o = {0};
  o.tls = NT_NNTP_TLS_STARTTLS;
  o.tls_ctx = cctx;
  rec.scenario = 9;
  nt_test_transport_t *tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n101 c\r\nREADER\r\n.\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ENNTP_NOTLS);
  nt_test_transport_free(tt);
  /* and a server that refuses it: 580 */
  tt = nt_test_transport_new(R, build_opts(&o));
  nt_test_feed_str(tt, "200 ok\r\n500 no caps\r\n200 ok\r\n580 Can not initiate TLS negotiation\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "CAPABILITIES\r\nMODE READER\r\nSTARTTLS\r\n");
  assert_int_equal(rec.close_status, NT_ENNTP_NOTLS);
  nt_test_transport_free(tt);
  nt_tls_ctx_free(cctx);
  nt_nntp_options_t bad = {0};
  bad.tls = NT_NNTP_TLS_STARTTLS; /* no context */
  nt_nntp_t *c;
  assert_int_equal(nt_nntp_new(R, &bad, &cbs, NULL, &c), NT_EINVAL);
  bad.tls = 0;
  bad.user = "u"; /* no password */
  assert_int_equal(nt_nntp_new(R, &bad, &cbs, NULL, &c), NT_EINVAL);
}

/* The engine's nt_pp_start_tls on its own (pingpong.h), against the same
 * server: a command queued while the handshake runs goes out over TLS once
 * it is up, connected() runs again, and an injected plaintext reply riding
 * with the 382 never answers it. */
typedef struct {
  nt_pp_t pp;
  nt_tls_ctx_t *ctx;
  int connected;
  char log[512];
} ppc_t;

static int ppc_group(nt_pp_t *pp, void *arg, int code, const char *text, size_t len) {
  ppc_t *c = (ppc_t *)pp;
  (void)arg;
  size_t used = strlen(c->log);
  snprintf(c->log + used, sizeof c->log - used, "group:%d[%.*s]\n", code, (int)len, text);
  return NT_PP_DONE;
}

static int ppc_starttls(nt_pp_t *pp, void *arg, int code, const char *text, size_t len) {
  ppc_t *c = (ppc_t *)pp;
  (void)arg, (void)text, (void)len;
  assert_int_equal(code, 382);
  nt_tls_options_t o = {.server_name = "localhost", .handshake_timeout_ms = 5000};
  assert_int_equal(nt_pp_start_tls(pp, c->ctx, &o), 0);
  assert_int_equal(nt_pp_command(pp, 0, ppc_group, NULL, NULL, "GROUP secure.test"), 0);
  return NT_PP_DONE;
}

static int ppc_greeting(nt_pp_t *pp, void *arg, int code, const char *text, size_t len) {
  (void)arg, (void)text, (void)len;
  assert_int_equal(code, 200);
  assert_int_equal(nt_pp_command(pp, 0, ppc_starttls, NULL, NULL, "STARTTLS"), 0);
  return NT_PP_DONE;
}

static void ppc_connected(nt_pp_t *pp) { ((ppc_t *)pp)->connected++; }
static void ppc_destroy(nt_pp_t *pp) { free(pp); }

static const nt_pp_ops_t ppc_ops = {.connected = ppc_connected, .destroy = ppc_destroy};

static void pp_start_tls_run(int inject) {
  char path[600], key[600], ca[600];
  snprintf(path, sizeof path, "%s/server.crt", certs);
  snprintf(key, sizeof key, "%s/server.key", certs);
  snprintf(ca, sizeof ca, "%s/ca.crt", certs);
  nt_tls_ctx_options_t so = {.server = 1, .cert_file = path, .key_file = key};
  nt_tls_ctx_options_t co = {.ca_file = ca};
  nt_tls_ctx_t *sctx, *cctx;
  assert_int_equal(nt_tls_ctx_new(&so, &sctx), 0);
  assert_int_equal(nt_tls_ctx_new(&co, &cctx), 0);
  ppc_t *c = calloc(1, sizeof *c);
  c->ctx = cctx;
  nt_pp_options_t po = {.grammar = &nt_pp_grammar_nntp, .timeout_ms = 5000};
  assert_int_equal(nt_pp_init(&c->pp, R, &ppc_ops, &po, ppc_greeting, NULL), 0);
  srv_t srv;
  memset(&srv, 0, sizeof srv);
  nt_protocol_init(&srv.base, &srv_ops);
  srv.ctx = sctx;
  srv.inject = inject;
  nt_test_pair_t *pair = nt_test_pair_new(R, nt_pp_protocol(&c->pp), &srv.base);
  for (int i = 0; i < 50 && !c->log[0]; i++) nt_test_pair_pump(pair);
  assert_int_equal(c->connected, 2);
  assert_string_equal(srv.seen, "STARTTLS\nGROUP secure.test(tls)\n");
  assert_string_equal(c->log, "group:211[1 1 1 secure.test]\n");
  assert_int_equal(nt_pp_pending(&c->pp), 0);
  nt_test_pair_free(pair);
  nt_test_run_pending(R);
  nt_tls_ctx_free(sctx);
  nt_tls_ctx_free(cctx);
}

/* Out of memory at each allocation of nt_nntp_new, the engine's greeting
 * slot included (nt_pp_init's result is checked): NT_ENOMEM, nothing
 * leaked (ASan), and enough memory gives a working client. */
static void test_new_out_of_memory(void **state) {
  (void)state;
  nt_nntp_options_t o = {.user = "reader", .pass = "pw"};
  long n;
  for (n = 0; n < 20; n++) {
    nt_nntp_t *c = NULL;
    nt_test_fail_alloc_after(n);
    int rc = nt_nntp_new(R, &o, &cbs, NULL, &c);
    nt_test_fail_alloc_after(-1);
    if (rc) {
      assert_int_equal(rc, NT_ENOMEM);
      continue;
    }
    nt_test_transport_t *tt = nt_test_transport_new(R, nt_nntp_protocol(c));
    nt_test_feed_str(tt, "200 ok\r\n");
    assert_string_equal(nt_test_output(tt, NULL), "CAPABILITIES\r\n");
    nt_test_transport_free(tt);
    nt_test_run_pending(R);
    break;
  }
  assert_true(n >= 4 && n < 20); /* client, user, password, greeting slot */
}

static void test_pp_start_tls(void **state) {
  (void)state;
  pp_start_tls_run(0);
}
static void test_pp_start_tls_injection_dropped(void **state) {
  (void)state;
  pp_start_tls_run(1);
}

static int setup(void **state) {
  (void)state;
  return nt_test_reactor_new(&R);
}
static int teardown(void **state) {
  (void)state;
  nt_nntp_article_free(&rec.art);
  assert_int_equal(nt_test_reactor_free(R), 0); /* the test closed all */
  return 0;
}

static int certs_setup(void **state) {
  (void)state;
  const char *d = getenv("NT_TLS_CERTS");
  snprintf(certs, sizeof certs, "%s", d && *d ? d : NT_TLS_CERTS_DIR);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "sh '%s' '%s' >/dev/null", NT_TLS_MAKE_CERTS, certs);
  return system(cmd) == 0 ? 0 : -1;
}

/* NNTPS on the real reactor: nt_nntp_close while the TLS handshake runs
 * (TCP is up, so the connector is already freed; a listener that never
 * accepts keeps the handshake waiting) ends it at once with closed(0). It
 * used to cancel the freed connector, and then wait out the handshake. */
static int hs_closed, hs_status;
static void hs_on_closed(nt_nntp_t *c, int st, void *arg) {
  (void)c, (void)arg;
  hs_closed++;
  hs_status = st;
}
static void hs_close_later(void *arg) { nt_nntp_close(arg); }
static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
static void test_close_during_nntps_handshake(void **state) {
  (void)state;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(ls, 4), 0);
  assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
  nt_reactor_t *r;
  assert_int_equal(nt_reactor_new(&r, NULL), 0);
  nt_tls_ctx_options_t co = {0};
  co.insecure = 1;
  nt_tls_ctx_t *ctx;
  assert_int_equal(nt_tls_ctx_new(&co, &ctx), 0);
  nt_nntp_options_t o = {0};
  o.tls = NT_NNTP_TLS_IMPLICIT;
  o.tls_ctx = ctx;
  o.connect_timeout_ms = 10000;
  nt_nntp_callbacks_t cb = {.closed = hs_on_closed};
  nt_nntp_t *c;
  hs_closed = 0;
  assert_int_equal(nt_nntp_connect(r, "127.0.0.1", ntohs(sa.sin_port), &o, &cb, NULL, &c), 0);
  assert_non_null(nt_call_later(r, 300, hs_close_later, c));
  uint64_t t0 = now_ms();
  assert_int_equal(nt_reactor_run(r), 0);
  uint64_t took = now_ms() - t0;
  assert_int_equal(hs_closed, 1);
  assert_int_equal(hs_status, 0);
  if (took > 3000) fail_msg("closing took %llu ms", (unsigned long long)took);
  nt_tls_ctx_free(ctx);
  close(ls);
  /* run() returned because nothing was left: the attempt, its TLS and
   * its timers are all gone. */
  assert_int_equal(nt_test_reactor_free(r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_session_every_split, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_capabilities_fallbacks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_480_then_authinfo_every_split, setup, teardown),
      cmocka_unit_test_setup_teardown(test_auth_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_post_every_split, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block_cut_by_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits_and_bad_replies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_arguments_and_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_starttls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_starttls_injection_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_starttls_not_offered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pp_start_tls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_out_of_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pp_start_tls_injection_dropped, setup, teardown),
      cmocka_unit_test(test_close_during_nntps_handshake),
  };
  return cmocka_run_group_tests(tests, certs_setup, NULL);
}
