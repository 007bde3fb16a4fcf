/* The NNTP client library against a real INN (started by nntp.sh, which
 * posted the test articles first through nettool nntp-post): the commands
 * the CLI does not use, each checked with what the server answers.
 *   NT_TEST_NNTP=127.0.0.1:PORT nntp_itest */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nettool/nntp.h"
#include "nettool/testing.h"

static char host[64];
static int port;

typedef struct {
  nt_reactor_t *r;
  nt_nntp_t *c;
  int ready, closed, close_status;
  char log[65536];
  size_t len;
  nt_nntp_result_t last;
  char last_text[512], last_id[256];
  size_t lines;
} sess_t;

static void logf_(sess_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (s->len < sizeof s->log)
    s->len += (size_t)vsnprintf(s->log + s->len, sizeof s->log - s->len, fmt, ap);
  va_end(ap);
}

static void on_ready(nt_nntp_t *c, void *arg) {
  (void)c;
  ((sess_t *)arg)->ready = 1;
  nt_reactor_stop(((sess_t *)arg)->r);
}
static void on_closed(nt_nntp_t *c, int status, void *arg) {
  sess_t *s = arg;
  (void)c;
  s->closed = 1;
  s->close_status = status;
  s->c = NULL;
}

static void done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  sess_t *s = arg;
  (void)c;
  s->last = *r;
  snprintf(s->last_text, sizeof s->last_text, "%s", r->text);
  snprintf(s->last_id, sizeof s->last_id, "%s", r->message_id);
  s->last.text = s->last_text;
  s->last.message_id = s->last_id;
  logf_(s, "done %d %d\n", r->status, r->code);
  nt_reactor_stop(s->r);
}
static void line(nt_nntp_t *c, const char *l, size_t n, void *arg) {
  (void)c;
  sess_t *s = arg;
  s->lines++;
  logf_(s, "|%.*s\n", (int)n, l);
}
static void over(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  (void)c;
  sess_t *s = arg;
  s->lines++;
  logf_(s, "over %llu %.*s %.*s\n", (unsigned long long)o->number, (int)o->message_id.n,
        o->message_id.p, (int)o->subject.n, o->subject.p);
}
static void hdr(nt_nntp_t *c, uint64_t n, const char *v, size_t len, void *arg) {
  (void)c;
  sess_t *s = arg;
  s->lines++;
  logf_(s, "hdr %llu %.*s\n", (unsigned long long)n, (int)len, v);
}

static void open_session(sess_t *s) {
  memset(s, 0, sizeof *s);
  assert_int_equal(nt_reactor_new(&s->r, NULL), 0);
  nt_nntp_callbacks_t cbs = {.ready = on_ready, .closed = on_closed};
  nt_nntp_options_t o = {0};
  o.timeout_ms = 10000;
  assert_int_equal(nt_nntp_connect(s->r, host, port, &o, &cbs, s, &s->c), 0);
  nt_reactor_run(s->r);
  assert_true(s->ready);
}

/* Runs until the queued command is done. */
static void wait_done(sess_t *s) {
  s->len = 0;
  s->log[0] = 0;
  s->lines = 0;
  nt_reactor_run(s->r);
}

static void close_session(sess_t *s) {
  if (s->c) nt_nntp_close(s->c);
  nt_reactor_run(s->r);
  assert_true(s->closed);
  assert_int_equal(s->close_status, 0);
  /* run() returned by itself: the connection and its timers are gone. */
  assert_int_equal(nt_test_reactor_free(s->r), 0);
}

static void test_group_commands(void **state) {
  (void)state;
  sess_t s;
  open_session(&s);
  assert_int_equal(nt_nntp_has_capability(s.c, "READER"), 1);
  assert_int_equal(nt_nntp_group(s.c, "local.test", done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.status, 0);
  assert_true(s.last.count >= 4);
  uint64_t low = s.last.low, high = s.last.high;
  assert_int_equal(nt_nntp_listgroup(s.c, "local.test", NULL, line, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.status, 0);
  assert_int_equal(s.lines, high - low + 1);
  /* STAT, NEXT, LAST move the current article */
  assert_int_equal(nt_nntp_fetch(s.c, NT_NNTP_STAT, "1", NULL, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.code, 223);
  assert_int_equal(s.last.number, 1);
  assert_string_equal(s.last.message_id, "<plain@nntp.test>");
  assert_int_equal(nt_nntp_next(s.c, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.number, 2);
  assert_int_equal(nt_nntp_last(s.c, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.number, 1);
  assert_int_equal(nt_nntp_last(s.c, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.status, NT_ENNTP_NOARTICLE);
  assert_int_equal(s.last.code, 422);
  /* HEAD and BODY by message-id */
  assert_int_equal(nt_nntp_fetch(s.c, NT_NNTP_HEAD, "<plain@nntp.test>", line, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.code, 221);
  assert_non_null(strstr(s.log, "|Subject: A plain article"));
  assert_int_equal(nt_nntp_fetch(s.c, NT_NNTP_BODY, "<plain@nntp.test>", line, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.code, 222);
  assert_non_null(strstr(s.log, "|Plain text, two lines.\n|The second line.\n"));
  assert_int_equal(nt_nntp_fetch(s.c, NT_NNTP_BODY, "<nope@nntp.test>", line, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.status, NT_ENNTP_NOARTICLE);
  assert_int_equal(s.last.code, 430);
  /* OVER by message-id and range, HDR */
  assert_int_equal(nt_nntp_over(s.c, "<plain@nntp.test>", over, done, &s), 0);
  wait_done(&s);
  if (s.last.status == 0) /* INN without OVER MSGID says 503 */
    assert_non_null(strstr(s.log, "<plain@nntp.test> A plain article"));
  else
    assert_int_equal(s.last.status, NT_ENNTP_UNSUPPORTED);
  assert_int_equal(nt_nntp_over(s.c, "1-", over, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.lines, high - low + 1);
  assert_int_equal(nt_nntp_hdr(s.c, "Subject", "1-2", hdr, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.status, 0);
  assert_non_null(strstr(s.log, "hdr 1 A plain article\n"));
  close_session(&s);
}

static void test_lists_and_dates(void **state) {
  (void)state;
  sess_t s;
  open_session(&s);
  assert_int_equal(nt_nntp_list(s.c, "NEWSGROUPS", "local.*", line, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.code, 215);
  assert_non_null(strstr(s.log, "|local.empty\tAlways empty."));
  assert_int_equal(nt_nntp_list(s.c, "OVERVIEW.FMT", NULL, line, done, &s), 0);
  wait_done(&s);
  assert_non_null(strstr(s.log, "|Subject:\n"));
  assert_int_equal(nt_nntp_list(s.c, NULL, "local.test", line, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.lines, 1);
  nt_nntp_active_t a;
  assert_int_equal(nt_nntp_parse_active(s.log + 1, strcspn(s.log + 1, "\n"), &a), 0);
  assert_int_equal(a.status, 'y');
  assert_int_equal(nt_nntp_date(s.c, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.code, 111);
  time_t now = time(NULL);
  assert_true(s.last.date > now - 600 && s.last.date < now + 600);
  assert_int_equal(nt_nntp_newgroups(s.c, now - 86400 * 365 * 30, line, done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.code, 231);
  assert_int_equal(nt_nntp_newnews(s.c, "local.*", now - 3600, line, done, &s), 0);
  wait_done(&s);
  /* INN answers 230 with the new message-ids (or 502 if NEWNEWS is off) */
  if (s.last.code != 230 && s.last.code != 502) fail_msg("NEWNEWS: %d %s", s.last.code, s.last_text);
  if (s.last.code == 230) assert_non_null(strstr(s.log, "|<plain@nntp.test>"));
  assert_int_equal(nt_nntp_group(s.c, "local.nope", done, &s), 0);
  wait_done(&s);
  assert_int_equal(s.last.status, NT_ENNTP_NOGROUP);
  assert_int_equal(nt_nntp_group(s.c, "bad group", done, &s), NT_EINVAL);
  close_session(&s);
}

int main(void) {
  const char *e = getenv("NT_TEST_NNTP");
  if (!e || sscanf(e, "%63[^:]:%d", host, &port) != 2) {
    fprintf(stderr, "set NT_TEST_NNTP=HOST:PORT\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_commands),
      cmocka_unit_test(test_lists_and_dates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
