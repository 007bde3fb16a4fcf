/* The command/response engine, fed scripted servers at every byte boundary:
 * FTP multi-line and preliminary replies, NNTP dot-terminated blocks,
 * timeouts, failures reaching every waiting command, command injection;
 * grammars written here (POP3, SMTP) on the same engine, secret masking,
 * and STARTTLS's pause (nt_pp_start_tls). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/pingpong.h"
#include "nettool/testing.h"
#include "reactor-int.h" /* nt__log_level: the masking test reads the log */

typedef struct {
  char log[4096];
  size_t len;
  int closed, close_status;
} record_t;

typedef struct {
  nt_pp_t pp;
  record_t *rec;
  int nntp;
} client_t;

static record_t rec;
static nt_reactor_t *R;

static void logf_(record_t *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  r->len += (size_t)vsnprintf(r->log + r->len, sizeof r->log - r->len, fmt, ap);
  va_end(ap);
}

static int on_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                    size_t len) {
  client_t *c = (client_t *)pp;
  const char *what = arg;
  logf_(c->rec, "%s:%d[%.*s]\n", what, code, (int)len, text);
  if (code == 150) return NT_PP_MORE;
  if (code == 215) return NT_PP_BLOCK;
  return NT_PP_DONE;
}

static void on_block(nt_pp_t *pp, void *arg, const char *line, size_t len) {
  client_t *c = (client_t *)pp;
  (void)arg;
  if (line)
    logf_(c->rec, "  |%.*s|\n", (int)len, line);
  else
    logf_(c->rec, "  end\n");
}

static int on_greeting(nt_pp_t *pp, void *arg, int code, const char *text,
                       size_t len) {
  client_t *c = (client_t *)pp;
  (void)arg;
  logf_(c->rec, "greeting:%d[%.*s]\n", code, (int)len, text);
  if (code < 0) return NT_PP_DONE;
  if (c->nntp) {
    assert_int_equal(nt_pp_command(pp, 0, on_reply, on_block, "list", "LIST"), 0);
    assert_int_equal(nt_pp_command(pp, 0, on_reply, NULL, "date", "DATE"), 0);
  } else {
    assert_int_equal(nt_pp_command(pp, 0, on_reply, NULL, "user", "USER %s", "bob"), 0);
    assert_int_equal(nt_pp_command(pp, NT_PP_SECRET, on_reply, NULL, "pass", "PASS %s", "s3cret"), 0);
    assert_int_equal(nt_pp_command(pp, 0, on_reply, NULL, "retr", "RETR f"), 0);
  }
  return NT_PP_DONE;
}

static void on_unsolicited(nt_pp_t *pp, int code, const char *text, size_t len) {
  client_t *c = (client_t *)pp;
  logf_(c->rec, "unsolicited:%d[%.*s]\n", code, (int)len, text);
}
static void on_closed(nt_pp_t *pp, int status) {
  client_t *c = (client_t *)pp;
  c->rec->closed++;
  c->rec->close_status = status;
}
static void on_destroy(nt_pp_t *pp) { free(pp); }

static const nt_pp_ops_t ops = {
    .unsolicited = on_unsolicited, .closed = on_closed, .destroy = on_destroy};

static nt_protocol_t *build(int nntp, uint64_t timeout_ms) {
  client_t *c = calloc(1, sizeof *c);
  nt_pp_options_t o = {.grammar = nntp ? &nt_pp_grammar_nntp : &nt_pp_grammar_ftp,
                       .max_line = 64,
                       .max_reply = 256,
                       .timeout_ms = timeout_ms};
  assert_int_equal(nt_pp_init(&c->pp, R, &ops, &o, on_greeting, NULL), 0);
  c->rec = &rec;
  c->nntp = nntp;
  memset(&rec, 0, sizeof rec);
  return &c->pp.lr.base;
}

static nt_protocol_t *build_ftp(void *arg) {
  (void)arg;
  return build(0, 0);
}
static nt_protocol_t *build_nntp(void *arg) {
  (void)arg;
  return build(1, 0);
}

static const char *expect_log;
static const char *expect_out;

static void check(void *arg, nt_test_transport_t *tt, const char *how) {
  (void)arg;
  if (strcmp(rec.log, expect_log))
    fail_msg("%s:\n got:\n%s\n want:\n%s", how, rec.log, expect_log);
  assert_string_equal(nt_test_output(tt, NULL), expect_out);
}

static void test_ftp_session_every_split(void **state) {
  (void)state;
  const char *server =
      "220-Welcome\r\n"
      "220 ready\r\n"
      "331 Password required\r\n"
      "230-Hello bob\r\n"
      " more text\r\n"
      "230 Logged in\r\n"
      "150 Opening data connection\r\n"
      "226 Transfer complete\r\n";
  expect_log =
      "greeting:220[Welcome\nready]\n"
      "user:331[Password required]\n"
      "pass:230[Hello bob\n more text\nLogged in]\n"
      "retr:150[Opening data connection]\n"
      "retr:226[Transfer complete]\n";
  expect_out = "USER bob\r\nPASS s3cret\r\nRETR f\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_ftp, check, NULL);
}

static void test_nntp_block_every_split(void **state) {
  (void)state;
  const char *server =
      "200 news ready\r\n"
      "215 list follows\r\n"
      "local.test 5 1 y\r\n"
      "..dot-stuffed\r\n"
      "\r\n"
      ".\r\n"
      "111 20261122151100\r\n";
  expect_log =
      "greeting:200[news ready]\n"
      "list:215[list follows]\n"
      "  |local.test 5 1 y|\n"
      "  |.dot-stuffed|\n"
      "  ||\n"
      "  end\n"
      "date:111[20261122151100]\n";
  expect_out = "LIST\r\nDATE\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_nntp, check, NULL);
}

/* The engine knows no protocol: without a grammar it refuses to start. */
static void test_grammar_required(void **state) {
  (void)state;
  nt_pp_t pp;
  nt_pp_options_t o = {.max_line = 64};
  assert_int_equal(nt_pp_init(&pp, R, &ops, &o, on_greeting, NULL), NT_EINVAL);
  assert_int_equal(nt_pp_init(&pp, R, &ops, NULL, on_greeting, NULL), NT_EINVAL);
}

static void test_timeout_fails_every_waiter(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 5000));
  nt_test_feed_str(tt, "220 hi\r\n");
  nt_test_clock_advance(R, 4999);
  assert_int_equal(rec.closed, 0);
  nt_test_feed_str(tt, "331 "); /* half a line does not restart the wait */
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  assert_string_equal(rec.log,
                      "greeting:220[hi]\n"
                      "user:-110[]\n"
                      "pass:-110[]\n"
                      "retr:-110[]\n");
  nt_test_transport_free(tt);
}

/* A server trickling a byte a second never completes a reply: the command
 * still times out timeout_ms after it was sent (it used to stay alive for
 * as long as the bytes kept coming). */
static void test_trickled_reply_times_out(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 5000));
  nt_test_feed_str(tt, "220 hi\r\n"); /* USER goes out now */
  const char *trickle = "331-Please specify\r\n331-the password\r\n";
  for (int i = 0; i < 4; i++) {
    nt_test_clock_advance(R, 1000);
    nt_test_feed(tt, trickle + i, 1);
    assert_int_equal(rec.closed, 0);
  }
  nt_test_clock_advance(R, 999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  nt_test_transport_free(tt);

  /* whole lines of a multi-line reply do not extend it either */
  tt = nt_test_transport_new(R, build(0, 5000));
  nt_test_feed_str(tt, "220 hi\r\n");
  for (int i = 0; i < 4; i++) {
    nt_test_clock_advance(R, 1200);
    nt_test_feed_str(tt, "331-more\r\n");
  }
  nt_test_clock_advance(R, 200);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  nt_test_transport_free(tt);
}

/* Inside a block each complete line is progress; silence is not. */
static void test_block_lines_restart_the_wait(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(1, 5000));
  nt_test_feed_str(tt, "200 ok\r\n215 list\r\n");
  for (int i = 0; i < 5; i++) {
    nt_test_clock_advance(R, 4000);
    nt_test_feed_str(tt, "group 1 1 y\r\n");
  }
  assert_int_equal(rec.closed, 0);
  nt_test_feed_str(tt, "gro"); /* half a line */
  nt_test_clock_advance(R, 4999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  nt_test_transport_free(tt);
}

/* nt_pp_touch: progress the engine cannot see restarts the wait. */
static void test_touch(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 5000));
  client_t *c = (client_t *)nt_test_transport_base(tt)->protocol;
  nt_test_feed_str(tt, "220 hi\r\n");
  nt_test_clock_advance(R, 4000);
  nt_pp_touch(&c->pp);
  nt_test_clock_advance(R, 4000);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1000);
  assert_int_equal(rec.closed, 1);
  nt_test_transport_free(tt);
}

static void test_close_mid_block(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(1, 0));
  nt_test_feed_str(tt, "200 ok\r\n215 list\r\na\r\n");
  nt_test_feed_eof(tt);
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, 0);
  assert_string_equal(rec.log,
                      "greeting:200[ok]\n"
                      "list:215[list]\n"
                      "  |a|\n"
                      "list:-3006[]\n"
                      "date:-3006[]\n");
  nt_test_transport_free(tt);
}

static void test_bad_replies(void **state) {
  (void)state;
  const char *bad[] = {"hello there\r\n", "2x0 no\r\n", "600 out of range\r\n",
                       "22\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 0));
    nt_test_feed_str(tt, bad[i]);
    nt_test_run_pending(R);
    assert_int_equal(rec.closed, 1);
    assert_int_equal(rec.close_status, NT_EPROTO);
    nt_test_transport_free(tt);
  }
  /* a line over the limit (64) and a reply over its limit (256) */
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 0));
  char line[100];
  memset(line, 'x', sizeof line);
  memcpy(line, "220 ", 4);
  nt_test_feed(tt, line, sizeof line);
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ELINETOOLONG);
  nt_test_transport_free(tt);
  tt = nt_test_transport_new(R, build(0, 0));
  nt_test_feed_str(tt, "220-start\r\n");
  for (int i = 0; i < 10; i++) nt_test_feed_str(tt, " forty bytes of continuation text....\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ETOOBIG);
  nt_test_transport_free(tt);
}

static int noop_reply(nt_pp_t *pp, void *arg, int code, const char *t, size_t n) {
  (void)pp, (void)arg, (void)code, (void)t, (void)n;
  return NT_PP_DONE;
}

static void test_injection_refused_and_unsolicited(void **state) {
  (void)state;
  nt_test_transport_t *tt = nt_test_transport_new(R, build(0, 0));
  nt_pp_t *pp = (nt_pp_t *)nt_test_transport_base(tt)->protocol;
  nt_test_feed_str(tt, "220 hi\r\n331 u\r\n230 p\r\n150 go\r\n226 ok\r\n");
  nt_test_output_clear(tt);
  assert_int_equal(nt_pp_command(pp, 0, noop_reply, NULL, NULL, "DELE %s", "a\r\nRMD /"),
                   NT_EINVAL);
  assert_int_equal(nt_pp_command(pp, 0, noop_reply, NULL, NULL, "DELE %s", "a\nb"), NT_EINVAL);
  assert_int_equal(nt_pp_pending(pp), 0);
  assert_string_equal(nt_test_output(tt, NULL), "");
  nt_test_feed_str(tt, "421 Timeout, closing\r\n");
  assert_non_null(strstr(rec.log, "unsolicited:421[Timeout, closing]"));
  assert_int_equal(nt_pp_last_code(pp), 421);
  assert_string_equal(nt_pp_last_reply(pp), "Timeout, closing");
  nt_test_transport_free(tt);
}

/* --- grammars built on the engine ----------------------------------------- */

/* A client whose greeting callback queues `script`'s commands. */
typedef struct {
  const char *cmd, *what;
  int flags;
  int block_code; /* this reply code starts a block */
} step_t;

static const step_t *script;

static int script_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                        size_t len) {
  client_t *c = (client_t *)pp;
  const step_t *st = arg;
  logf_(c->rec, "%s:%d[%.*s]\n", st->what, code, (int)len, text);
  return st->block_code && code == st->block_code ? NT_PP_BLOCK : NT_PP_DONE;
}

static int script_greeting(nt_pp_t *pp, void *arg, int code, const char *text,
                           size_t len) {
  client_t *c = (client_t *)pp;
  (void)arg;
  logf_(c->rec, "greeting:%d[%.*s]\n", code, (int)len, text);
  if (code < 0) return NT_PP_DONE;
  for (const step_t *st = script; st->cmd; st++)
    assert_int_equal(nt_pp_command(pp, st->flags, script_reply, on_block,
                                   (void *)st, "%s", st->cmd),
                     0);
  return NT_PP_DONE;
}

static void on_status_line(nt_pp_t *pp, const char *line, size_t len) {
  client_t *c = (client_t *)pp;
  logf_(c->rec, "status:[%.*s]\n", (int)len, line);
}

static const nt_pp_ops_t ops_status = {.unsolicited = on_unsolicited,
                                       .closed = on_closed,
                                       .destroy = on_destroy,
                                       .status_line = on_status_line};

static const nt_pp_grammar_t *grammar;
static const nt_pp_ops_t *client_ops = &ops;

static nt_protocol_t *build_grammar(void *arg) {
  (void)arg;
  client_t *c = calloc(1, sizeof *c);
  nt_pp_options_t o = {.grammar = grammar, .max_line = 64, .max_reply = 256};
  assert_int_equal(nt_pp_init(&c->pp, R, client_ops, &o, script_greeting, NULL), 0);
  assert_ptr_equal(nt_pp_grammar(&c->pp), grammar);
  c->rec = &rec;
  memset(&rec, 0, sizeof rec);
  return nt_pp_protocol(&c->pp);
}

/* POP3 (RFC 1939): "+OK text" / "-ERR text", no numbers; multi-line
 * answers are dot-terminated blocks. The codes are this client's own. */
enum { POP3_OK = 1, POP3_ERR = 2 };

static int pop3_start(const char *line, size_t len, int *code, size_t *text) {
  if (len >= 3 && !memcmp(line, "+OK", 3) && (len == 3 || line[3] == ' ')) {
    *code = POP3_OK;
    *text = len > 4 ? 4 : len;
    return NT_PP_LINE_LAST;
  }
  if (len >= 4 && !memcmp(line, "-ERR", 4) && (len == 4 || line[4] == ' ')) {
    *code = POP3_ERR;
    *text = len > 5 ? 5 : len;
    return NT_PP_LINE_LAST;
  }
  return NT_EPROTO;
}

static const nt_pp_grammar_t grammar_pop3 = {.name = "pop3", .start = pop3_start};

static void test_pop3_grammar_every_split(void **state) {
  (void)state;
  static const step_t pop3[] = {{"USER alice", "user", 0, 0},
                                {"PASS tanstaaf", "pass", NT_PP_SECRET, 0},
                                {"LIST", "list", 0, POP3_OK},
                                {"RETR 3", "retr", 0, POP3_OK},
                                {NULL, NULL, 0, 0}};
  script = pop3;
  grammar = &grammar_pop3;
  const char *server =
      "+OK POP3 server ready <1896.697170952@dbc.mozart.org>\r\n"
      "+OK\r\n"
      "+OK maildrop has 2 messages (320 octets)\r\n"
      "+OK 2 messages\r\n"
      "1 120\r\n"
      "2 200\r\n"
      ".\r\n"
      "-ERR no such message\r\n";
  expect_log =
      "greeting:1[POP3 server ready <1896.697170952@dbc.mozart.org>]\n"
      "user:1[]\n"
      "pass:1[maildrop has 2 messages (320 octets)]\n"
      "list:1[2 messages]\n"
      "  |1 120|\n"
      "  |2 200|\n"
      "  end\n"
      "retr:2[no such message]\n";
  expect_out = "USER alice\r\nPASS tanstaaf\r\nLIST\r\nRETR 3\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_grammar, check, NULL);

  /* a line that is neither +OK nor -ERR ends the connection */
  nt_test_transport_t *tt = nt_test_transport_new(R, build_grammar(NULL));
  nt_test_feed_str(tt, "+OKAY\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_EPROTO);
  nt_test_transport_free(tt);
}

/* SMTP (RFC 5321 4.2.1): every line of a multi-line reply is "NNN-text"
 * with the same code, the last "NNN text"; anything else is an error. */
static int smtp_code(const char *line, size_t len) {
  if (len < 3 || line[0] < '2' || line[0] > '5') return -1;
  for (int i = 0; i < 3; i++)
    if (line[i] < '0' || line[i] > '9') return -1;
  if (len > 3 && line[3] != ' ' && line[3] != '-') return -1;
  return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static int smtp_start(const char *line, size_t len, int *code, size_t *text) {
  *code = smtp_code(line, len);
  if (*code < 0) return NT_EPROTO;
  *text = len > 4 ? 4 : len;
  return len > 3 && line[3] == '-' ? NT_PP_LINE_MORE : NT_PP_LINE_LAST;
}

static int smtp_next(int code, const char *line, size_t len, size_t *text) {
  int more;
  size_t off;
  if (smtp_start(line, len, &(int){0}, &off) < 0 || smtp_code(line, len) != code)
    return NT_EPROTO;
  more = len > 3 && line[3] == '-' ? NT_PP_LINE_MORE : NT_PP_LINE_LAST;
  *text = off;
  return more;
}

static const nt_pp_grammar_t grammar_smtp = {
    .name = "smtp", .start = smtp_start, .next = smtp_next};

static void test_smtp_grammar_every_split(void **state) {
  (void)state;
  static const step_t smtp[] = {{"EHLO client.example", "ehlo", 0, 0},
                                {"MAIL FROM:<a@client.example>", "mail", 0, 0},
                                {NULL, NULL, 0, 0}};
  script = smtp;
  grammar = &grammar_smtp;
  client_ops = &ops_status;
  const char *server =
      "220-mail.example ESMTP\r\n"
      "220 ready\r\n"
      "250-mail.example\r\n"
      "250-SIZE 1000\r\n"
      "250 HELP\r\n"
      "250 OK\r\n";
  expect_log =
      "status:[220-mail.example ESMTP]\n"
      "status:[220 ready]\n"
      "greeting:220[mail.example ESMTP\nready]\n"
      "status:[250-mail.example]\n"
      "status:[250-SIZE 1000]\n"
      "status:[250 HELP]\n"
      "ehlo:250[mail.example\nSIZE 1000\nHELP]\n"
      "status:[250 OK]\n"
      "mail:250[OK]\n";
  expect_out = "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_grammar, check, NULL);

  /* a continuation with another code, or without one, is refused (FTP's
   * grammar would have taken both as text) */
  const char *bad[] = {"220-a\r\n221 b\r\n", "220-a\r\n just text\r\n"};
  for (size_t i = 0; i < 2; i++) {
    nt_test_transport_t *tt = nt_test_transport_new(R, build_grammar(NULL));
    nt_test_feed_str(tt, bad[i]);
    nt_test_run_pending(R);
    assert_int_equal(rec.close_status, NT_EPROTO);
    nt_test_transport_free(tt);
  }
  client_ops = &ops;
}

/* The FTP grammar knows 1xx is preliminary: a callback that always says
 * DONE still gets the final reply to the same command. */
static void test_ftp_grammar_preliminary(void **state) {
  (void)state;
  static const step_t ftp[] = {{"RETR f", "retr", 0, 0},
                               {"NOOP", "noop", 0, 0},
                               {NULL, NULL, 0, 0}};
  script = ftp;
  grammar = &nt_pp_grammar_ftp;
  const char *server = "220 hi\r\n150 opening\r\n226 done\r\n200 ok\r\n";
  expect_log =
      "greeting:220[hi]\n"
      "retr:150[opening]\n"
      "retr:226[done]\n"
      "noop:200[ok]\n";
  expect_out = "RETR f\r\nNOOP\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_grammar, check, NULL);
  /* NNTP has no such replies: a 1xx completes its command */
  grammar = &nt_pp_grammar_nntp;
  expect_log =
      "greeting:220[hi]\n"
      "retr:150[opening]\n"
      "noop:226[done]\n"
      "unsolicited:200[ok]\n";
  nt_test_each_split(R, server, strlen(server), 0, build_grammar, check, NULL);
}

/* Block lines may be longer than status lines (max_block_line), and the
 * status_line hook sees status lines only, even one the grammar refuses. */
static void test_block_line_limit_and_status_hook(void **state) {
  (void)state;
  static const step_t nntp[] = {{"ARTICLE 1", "article", 0, 220},
                                {NULL, NULL, 0, 0}};
  script = nntp;
  client_t *c = calloc(1, sizeof *c);
  nt_pp_options_t o = {.grammar = &nt_pp_grammar_nntp, .max_line = 64,
                       .max_block_line = 200};
  assert_int_equal(nt_pp_init(&c->pp, R, &ops_status, &o, script_greeting, NULL), 0);
  c->rec = &rec;
  memset(&rec, 0, sizeof rec);
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_pp_protocol(&c->pp));
  char line[152];
  memset(line, 'b', 150);
  memcpy(line + 150, "\r\n", 2);
  nt_test_feed_str(tt, "200 hi\r\n220 1 <a@b> article\r\n");
  assert_true(nt_pp_in_block(&c->pp));
  nt_test_feed(tt, line, sizeof line);
  nt_test_feed_str(tt, ".\r\n");
  assert_false(nt_pp_in_block(&c->pp));
  assert_int_equal(rec.closed, 0);
  assert_string_equal(rec.log,
                      "status:[200 hi]\n"
                      "greeting:200[hi]\n"
                      "status:[220 1 <a@b> article]\n"
                      "article:220[1 <a@b> article]\n"
                      "  |bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb|\n"
                      "  end\n");
  /* outside the block the short limit is back */
  rec.len = 0;
  rec.log[0] = 0;
  memcpy(line, "999 ", 4);
  nt_test_feed(tt, line, 100);
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_ELINETOOLONG);
  nt_test_transport_free(tt);

  tt = nt_test_transport_new(R, build_grammar(NULL));
  nt_test_feed_str(tt, "999 hi\r\n");
  nt_test_run_pending(R);
  assert_int_equal(rec.close_status, NT_EPROTO);
  nt_test_transport_free(tt);
}

/* --- secret commands ------------------------------------------------------ */

/* The debug log of a session that sends secrets both ways. */
static void test_secret_masking(void **state) {
  (void)state;
  static const step_t steps[] = {
      {"PASS s3cret", "pass", NT_PP_SECRET, 0},
      {"AUTHINFO PASS s3cret", "authinfo", NT_PP_SECRET_SHOW(13), 0},
      {"X s3cret", "short", NT_PP_SECRET_SHOW(0), 0},
      {"Y s3cret", "long", NT_PP_SECRET_SHOW(100), 0}, /* whole command */
      {NULL, NULL, 0, 0}};
  script = steps;
  grammar = &nt_pp_grammar_nntp;
  FILE *tf = tmpfile();
  assert_non_null(tf);
  int saved = dup(2), level = nt__log_level;
  assert_true(saved >= 0);
  fflush(stderr);
  assert_true(dup2(fileno(tf), 2) >= 0);
  nt__log_level = NT__LOG_DEBUG;
  nt_test_transport_t *tt = nt_test_transport_new(R, build_grammar(NULL));
  nt_test_feed_str(tt, "200 hi\r\n281 a\r\n281 b\r\n281 c\r\n");
  nt__log_level = level;
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  /* the commands went out whole */
  assert_string_equal(nt_test_output(tt, NULL),
                      "PASS s3cret\r\nAUTHINFO PASS s3cret\r\nX s3cret\r\nY s3cret\r\n");
  nt_test_transport_free(tt);
  char log[4096];
  rewind(tf);
  size_t n = fread(log, 1, sizeof log - 1, tf);
  fclose(tf);
  log[n] = 0;
  assert_non_null(strstr(log, "> PASS ****\n"));
  assert_non_null(strstr(log, "> AUTHINFO PASS ****\n"));
  assert_non_null(strstr(log, "]: >  ****\n"));
  assert_non_null(strstr(log, "> Y s3cret ****\n"));
  /* the only s3cret is the one its queuer chose to show */
  const char *first = strstr(log, "s3cret");
  assert_non_null(first);
  assert_ptr_equal(first, strstr(log, "Y s3cret") + 2);
  assert_null(strstr(first + 1, "s3cret"));
}

/* --- STARTTLS ------------------------------------------------------------- */

static nt_tls_ctx_t *tls_client_ctx;

static int auth_tls_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                          size_t len) {
  client_t *c = (client_t *)pp;
  (void)arg;
  logf_(c->rec, "auth:%d[%.*s]\n", code, (int)len, text);
  if (code != 234) return NT_PP_DONE;
  nt_tls_options_t o = {.server_name = "localhost", .handshake_timeout_ms = 3000};
  assert_int_equal(nt_pp_start_tls(pp, tls_client_ctx, &o), 0);
  /* queued during the handshake: it waits for TLS */
  assert_int_equal(nt_pp_command(pp, 0, on_reply, NULL, "pbsz", "PBSZ 0"), 0);
  return NT_PP_DONE;
}

static int tls_greeting(nt_pp_t *pp, void *arg, int code, const char *text,
                        size_t len) {
  client_t *c = (client_t *)pp;
  (void)arg;
  logf_(c->rec, "greeting:%d[%.*s]\n", code, (int)len, text);
  if (code > 0)
    assert_int_equal(nt_pp_command(pp, 0, auth_tls_reply, NULL, NULL, "AUTH TLS"), 0);
  return NT_PP_DONE;
}

/* nt_pp_start_tls: plaintext after the 234 is dropped, the reply timeout
 * gives way to the handshake's, a command queued meanwhile is not sent in
 * plain text, and a handshake that never ends fails every waiter. (The
 * handshake that succeeds: test_nntp's STARTTLS tests.) */
static void test_start_tls_pauses_the_engine(void **state) {
  (void)state;
  nt_tls_ctx_options_t co = {0};
  assert_int_equal(nt_tls_ctx_new(&co, &tls_client_ctx), 0);
  client_t *c = calloc(1, sizeof *c);
  nt_pp_options_t o = {.grammar = &nt_pp_grammar_ftp, .timeout_ms = 1000};
  assert_int_equal(nt_pp_init(&c->pp, R, &ops, &o, tls_greeting, NULL), 0);
  c->rec = &rec;
  memset(&rec, 0, sizeof rec);
  /* out of memory for the greeting's slot: said, and nothing held */
  client_t *c2 = calloc(1, sizeof *c2);
  nt_test_fail_alloc_after(0);
  assert_int_equal(nt_pp_init(&c2->pp, R, &ops, &o, tls_greeting, NULL), NT_ENOMEM);
  nt_test_fail_alloc_after(-1);
  free(c2);
  /* not connected yet */
  nt_tls_options_t to = {0};
  assert_int_equal(nt_pp_start_tls(&c->pp, tls_client_ctx, &to), NT_ENOTCONN);
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_pp_protocol(&c->pp));
  nt_test_feed_str(tt, "220 hi\r\n");
  assert_string_equal(nt_test_output(tt, NULL), "AUTH TLS\r\n");
  nt_test_output_clear(tt);
  /* an injected reply in the same segment as the 234 */
  nt_test_feed_str(tt, "234 go\r\n200 evil\r\n");
  nt_test_run_pending(R);
  size_t n;
  const char *out = nt_test_output(tt, &n);
  assert_true(n > 0 && (unsigned char)out[0] == 0x16); /* a TLS record */
  assert_null(memmem(out, n, "PBSZ", 4));
  assert_int_equal(nt_pp_pending(&c->pp), 1);
  nt_test_clock_advance(R, 2999); /* well past the 1 s reply timeout */
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  assert_string_equal(rec.log,
                      "greeting:220[hi]\n"
                      "auth:234[go]\n"
                      "pbsz:-110[]\n");
  nt_test_transport_free(tt);
  nt_tls_ctx_free(tls_client_ctx);
}

/* TLS from the first byte (FTPS, NNTPS-like): started in connected() while
 * the greeting is awaited; the handshake's limit, not the reply's, holds. */
static void implicit_tls_connected(nt_pp_t *pp) {
  client_t *c = (client_t *)pp;
  logf_(c->rec, "connected\n");
  nt_tls_options_t o = {.server_name = "localhost", .handshake_timeout_ms = 3000};
  assert_int_equal(nt_pp_start_tls(pp, tls_client_ctx, &o), 0);
}

static const nt_pp_ops_t ops_implicit = {.connected = implicit_tls_connected,
                                         .closed = on_closed,
                                         .destroy = on_destroy};

static void test_start_tls_in_connected(void **state) {
  (void)state;
  nt_tls_ctx_options_t co = {0};
  assert_int_equal(nt_tls_ctx_new(&co, &tls_client_ctx), 0);
  client_t *c = calloc(1, sizeof *c);
  nt_pp_options_t o = {.grammar = &nt_pp_grammar_ftp, .timeout_ms = 1000};
  assert_int_equal(nt_pp_init(&c->pp, R, &ops_implicit, &o, tls_greeting, NULL), 0);
  c->rec = &rec;
  memset(&rec, 0, sizeof rec);
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_pp_protocol(&c->pp));
  nt_test_clock_advance(R, 2999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  assert_string_equal(rec.log, "connected\ngreeting:-110[]\n");
  nt_test_transport_free(tt);
  nt_tls_ctx_free(tls_client_ctx);
}

static int setup(void **state) {
  (void)state;
  return nt_test_reactor_new(&R);
}
static int teardown(void **state) {
  (void)state;
  assert_int_equal(nt_test_reactor_free(R), 0);
  return 0;
}
/* After each test: the reactor is shared, so each test proves it closed
 * what it opened (no engine timer, connection or queued call left). */
static int check_empty(void **state) {
  (void)state;
  nt_test_run_pending(R);
  assert_int_equal(nt_reactor_live(R, NULL), 0);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_ftp_session_every_split, check_empty),
      cmocka_unit_test_teardown(test_nntp_block_every_split, check_empty),
      cmocka_unit_test_teardown(test_grammar_required, check_empty),
      cmocka_unit_test_teardown(test_timeout_fails_every_waiter, check_empty),
      cmocka_unit_test_teardown(test_trickled_reply_times_out, check_empty),
      cmocka_unit_test_teardown(test_block_lines_restart_the_wait, check_empty),
      cmocka_unit_test_teardown(test_touch, check_empty),
      cmocka_unit_test_teardown(test_close_mid_block, check_empty),
      cmocka_unit_test_teardown(test_bad_replies, check_empty),
      cmocka_unit_test_teardown(test_injection_refused_and_unsolicited, check_empty),
      cmocka_unit_test_teardown(test_pop3_grammar_every_split, check_empty),
      cmocka_unit_test_teardown(test_smtp_grammar_every_split, check_empty),
      cmocka_unit_test_teardown(test_ftp_grammar_preliminary, check_empty),
      cmocka_unit_test_teardown(test_block_line_limit_and_status_hook, check_empty),
      cmocka_unit_test_teardown(test_secret_masking, check_empty),
      cmocka_unit_test_teardown(test_start_tls_pauses_the_engine, check_empty),
      cmocka_unit_test_teardown(test_start_tls_in_connected, check_empty),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
