/* The FTP control connection on the test reactor, with scripted servers
 * fed at every byte boundary: login, multi-line replies, FEAT, the simple
 * commands, 421 at any time, unexpected closes, garbage and over-long lines,
 * reply timeouts, refused logins, command injection, explicit TLS refused. */
#include "test_ftp_common.h"

static nt_ftp_t *F;

/* --- a whole session, every split ---------------------------------------------- */

static nt_protocol_t *build_session(void *arg) {
  (void)arg;
  F = client_new();
  assert_int_equal(nt_ftp_login(F, NULL, NULL, done, "login"), 0);
  assert_int_equal(nt_ftp_feat(F, done, "feat"), 0);
  assert_int_equal(nt_ftp_utf8(F, done, "utf8"), 0);
  assert_int_equal(nt_ftp_pwd(F, done, "pwd"), 0);
  assert_int_equal(nt_ftp_cwd(F, "pub", done, "cwd"), 0);
  assert_int_equal(nt_ftp_mdtm(F, "f", done, "mdtm"), 0);
  assert_int_equal(nt_ftp_size(F, "f", done, "size"), 0);
  assert_int_equal(nt_ftp_quit(F, done, "quit"), 0);
  return nt_ftp_protocol(F);
}

static void check_session(void *arg, nt_test_transport_t *tt, const char *how) {
  check_log(arg, tt, how);
  assert_int_equal(rec.ready, 1);
}

static void test_session_every_split(void **state) {
  (void)state;
  const char *server =
      "220-Welcome to the\r\n"
      "220-  scripted server\r\n"
      "220 ready\r\n"
      "331 Please specify the password.\r\n"
      "230 Login successful.\r\n"
      "211-Features:\r\n"
      " EPRT\r\n"
      " EPSV\r\n"
      " MDTM\r\n"
      " MLST type*;size*;modify*;\r\n"
      " REST STREAM\r\n"
      " SIZE\r\n"
      " UTF8\r\n"
      "211 End\r\n"
      "200 Always in UTF8 mode.\r\n"
      "257 \"/pub \"\"x\"\"\" is the current directory\r\n"
      "250 Directory successfully changed.\r\n"
      "213 20261122151100\r\n"
      "200 Switching to Binary mode.\r\n"
      "213 1234\r\n"
      "221 Goodbye.\r\n";
  expect_log =
      "login:ok:230[Login successful.]\n"
      "feat:ok:211[Features:| EPRT| EPSV| MDTM| MLST type*;size*;modify*;| REST "
      "STREAM| SIZE| UTF8|End]\n"
      "utf8:ok:200[Always in UTF8 mode.]\n"
      "pwd:ok:257[\"/pub \"\"x\"\"\" is the current directory] path=/pub \"x\"\n"
      "cwd:ok:250[Directory successfully changed.]\n"
      "mdtm:ok:213[20261122151100] mtime=1795360260\n"
      "size:ok:213[1234] size=1234\n"
      "quit:ok:221[Goodbye.]\n"
      "closed:ok\n";
  expect_out =
      "USER anonymous\r\nPASS anonymous@\r\nFEAT\r\nOPTS UTF8 ON\r\nPWD\r\n"
      "CWD pub\r\nMDTM f\r\nTYPE I\r\nSIZE f\r\nQUIT\r\n";
  size_t runs = nt_test_each_split(R, server, strlen(server), 0, build_session,
                                   check_session, NULL);
  assert_int_equal(runs, strlen(server) + 1);
}

static void test_features_parsed(void **state) {
  (void)state;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_feat(f, done, "feat"), 0);
  nt_test_feed_str(tt, "220 hi\r\n211-Extensions supported:\r\n EPSV\r\n MLST size*;\r\n"
                       " AUTH TLS\r\n UTF8\r\n SIZE\r\n REST STREAM\r\n211 END\r\n");
  nt_test_run_pending(R);
  unsigned want = NT_FTP_FEAT_EPSV | NT_FTP_FEAT_MLST | NT_FTP_FEAT_AUTH_TLS |
                  NT_FTP_FEAT_UTF8 | NT_FTP_FEAT_SIZE | NT_FTP_FEAT_REST;
  assert_int_equal(nt_ftp_features(f), want);
  /* no FEAT at all is not an error: no features */
  assert_int_equal(nt_ftp_feat(f, done, "feat2"), 0);
  nt_test_feed_str(tt, "500 Unknown command.\r\n");
  assert_int_equal(nt_ftp_features(f), 0);
  assert_non_null(strstr(rec.log, "feat2:ok:500[Unknown command.]"));
  nt_test_transport_free(tt);
}

/* --- user, password, refused login ------------------------------------------------ */

static void test_login_with_password_and_refusal(void **state) {
  (void)state;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, "bob", "s3cret", done, "login"), 0);
  assert_int_equal(nt_ftp_pwd(f, done, "pwd"), 0);
  nt_test_feed_str(tt, "220 hi\r\n331 pw\r\n530 Login incorrect.\r\n");
  assert_string_equal(nt_test_output(tt, NULL), "USER bob\r\nPASS s3cret\r\nPWD\r\n");
  assert_string_equal(rec.log, "login:EFTP_LOGIN:530[Login incorrect.]\n");
  /* the queue goes on: the program decides */
  nt_test_feed_str(tt, "530 Please login with USER and PASS.\r\n");
  assert_string_equal(rec.log, "login:EFTP_LOGIN:530[Login incorrect.]\n"
                               "pwd:EFTP_REPLY:530[Please login with USER and PASS.]\n");
  nt_test_transport_free(tt);
}

static void test_user_without_password(void **state) {
  (void)state;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, "ftp", NULL, done, "login"), 0);
  nt_test_feed_str(tt, "220 hi\r\n230 already in\r\n");
  assert_string_equal(nt_test_output(tt, NULL), "USER ftp\r\n");
  assert_string_equal(rec.log, "login:ok:230[already in]\n");
  nt_test_transport_free(tt);
}

/* --- 421 and closes ------------------------------------------------------------------------ */

static void test_421_while_idle(void **state) {
  (void)state;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
  nt_test_feed_str(tt, "220 hi\r\n331 pw\r\n230 ok\r\n421 Timeout.\r\n");
  nt_test_run_pending(R);
  assert_true(nt_test_peer_got_eof(tt));
  nt_test_feed_eof(tt);
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "login:ok:230[ok]\nclosed:EFTP_CLOSED\n");
  nt_test_transport_free(tt);
}

static void test_421_mid_session(void **state) {
  (void)state;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
  assert_int_equal(nt_ftp_cwd(f, "pub", done, "cwd"), 0);
  assert_int_equal(nt_ftp_pwd(f, done, "pwd"), 0);
  nt_test_feed_str(tt, "220 hi\r\n331 pw\r\n230 ok\r\n421-Service not available,\r\n"
                       "421 closing control connection.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log,
                      "login:ok:230[ok]\n"
                      "cwd:EFTP_CLOSED:421[Service not available,|closing control connection.]\n"
                      "pwd:EFTP_CLOSED:421[Service not available,|closing control connection.]\n"
                      "closed:EFTP_CLOSED\n");
  nt_test_transport_free(tt);
}

static void test_greeting_refused(void **state) {
  (void)state;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
  nt_test_feed_str(tt, "421 There are too many connected users.\r\n");
  nt_test_feed_eof(tt);
  nt_test_run_pending(R);
  assert_string_equal(rec.log,
                      "login:EFTP_CLOSED:421[There are too many connected users.]\n"
                      "closed:EFTP_CLOSED\n");
  assert_string_equal(nt_test_output(tt, NULL), "");
  assert_int_equal(rec.ready, 0);
  nt_test_transport_free(tt);
}

static void test_unexpected_close(void **state) {
  (void)state;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
  assert_int_equal(nt_ftp_noop(f, done, "noop"), 0);
  nt_test_feed_str(tt, "220 hi\r\n331 p");
  nt_test_feed_eof(tt);
  nt_test_run_pending(R);
  assert_string_equal(rec.log,
                      "login:EUNEXPECTEDEOF:0[]\n"
                      "noop:EUNEXPECTEDEOF:0[]\n"
                      "closed:EUNEXPECTEDEOF\n");
  nt_test_transport_free(tt);
  /* a reset */
  f = client_new();
  tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
  nt_test_feed_str(tt, "220 hi\r\n");
  nt_test_reset(tt);
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "login:ECONNRESET:0[]\nclosed:ECONNRESET\n");
  nt_test_transport_free(tt);
}

static nt_protocol_t *build_login_cwd(void *arg) {
  (void)arg;
  F = client_new();
  assert_int_equal(nt_ftp_login(F, NULL, NULL, done, "login"), 0);
  assert_int_equal(nt_ftp_cwd(F, "pub", done, "cwd"), 0);
  assert_int_equal(nt_ftp_pwd(F, done, "pwd"), 0);
  return nt_ftp_protocol(F);
}

static void test_421_mid_session_every_split(void **state) {
  (void)state;
  const char *server = "220 hi\r\n331 pw\r\n230 ok\r\n"
                       "421-Service not available,\r\n421 closing control connection.\r\n";
  expect_log = "login:ok:230[ok]\n"
               "cwd:EFTP_CLOSED:421[Service not available,|closing control connection.]\n"
               "pwd:EFTP_CLOSED:421[Service not available,|closing control connection.]\n"
               "closed:EFTP_CLOSED\n";
  expect_out = "USER anonymous\r\nPASS anonymous@\r\nCWD pub\r\n";
  nt_test_each_split(R, server, strlen(server), 1, build_login_cwd, check_log, NULL);
}

static void test_garbage_every_split(void **state) {
  (void)state;
  const char *server = "220 hi\r\n331 pw\r\nthis is no FTP reply\r\n230 ok\r\n";
  expect_log = "login:EPROTO:0[]\ncwd:EPROTO:0[]\npwd:EPROTO:0[]\nclosed:EPROTO\n";
  expect_out = "USER anonymous\r\nPASS anonymous@\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_login_cwd, check_log, NULL);
}

static void test_overlong_every_split(void **state) {
  (void)state;
  char server[300];
  int n = snprintf(server, sizeof server, "220 hi\r\n331 pw\r\n230-");
  memset(server + n, 'x', 150);
  memcpy(server + n + 150, "\r\n230 ok\r\n", 11);
  test_opts.max_line = 128;
  expect_log = "login:ELINETOOLONG:0[]\ncwd:ELINETOOLONG:0[]\npwd:ELINETOOLONG:0[]\n"
               "closed:ELINETOOLONG\n";
  expect_out = "USER anonymous\r\nPASS anonymous@\r\n";
  nt_test_each_split(R, server, (size_t)n + 161, 0, build_login_cwd, check_log, NULL);
}

/* --- bad input --------------------------------------------------------------------------------- */

static void test_garbage_and_overlong(void **state) {
  (void)state;
  const char *bad[] = {"hello there\r\n", "2x0 no\r\n", "600 out of range\r\n",
                       "22\r\n", "220 hi\r\n\x01\x02\x03\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    nt_ftp_t *f = client_new();
    nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
    assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
    nt_test_feed_str(tt, bad[i]);
    nt_test_run_pending(R);
    assert_string_equal(rec.log, "login:EPROTO:0[]\nclosed:EPROTO\n");
    nt_test_transport_free(tt);
  }
  /* a line over max_line, and a multi-line reply over max_reply */
  test_opts.max_line = 128;
  test_opts.max_reply = 1024;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
  char line[300];
  memset(line, 'x', sizeof line);
  memcpy(line, "220 ", 4);
  nt_test_feed(tt, line, sizeof line);
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "login:ELINETOOLONG:0[]\nclosed:ELINETOOLONG\n");
  nt_test_transport_free(tt);

  f = client_new();
  tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
  nt_test_feed_str(tt, "220 hi\r\n331 pw\r\n230-motd\r\n");
  for (int i = 0; i < 40 && !rec.closed; i++)
    nt_test_feed_str(tt, " forty bytes of message of the day text.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "login:ETOOBIG:0[]\nclosed:ETOOBIG\n");
  nt_test_transport_free(tt);
}

static void test_multiline_lookalikes(void **state) {
  (void)state;
  /* only "NNN " with the same code ends a multi-line reply */
  const char *server =
      "220 hi\r\n"
      "211-Status:\r\n"
      "211-still going\r\n"
      "123 not the end\r\n"
      "211x not the end either\r\n"
      "211\r\n";
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_feat(f, done, "feat"), 0);
  nt_test_feed_str(tt, server);
  assert_string_equal(rec.log, "feat:ok:211[Status:|211-still going|123 not the end|"
                               "211x not the end either|]\n");
  nt_test_transport_free(tt);
}

/* --- time --------------------------------------------------------------------------------------- */

static void test_reply_timeout(void **state) {
  (void)state;
  test_opts.reply_timeout_ms = 5000;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
  nt_test_clock_advance(R, 4999);
  nt_test_feed_str(tt, "220 hi\r\n");
  nt_test_clock_advance(R, 4999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_string_equal(rec.log, "login:ETIMEDOUT:0[]\nclosed:ETIMEDOUT\n");
  nt_test_transport_free(tt);
}


/* A server trickling a byte a second never completes a reply: the whole
 * reply must come within the reply timeout of its command (issue 10). */
static void test_trickling_server_times_out(void **state) {
  (void)state;
  test_opts.reply_timeout_ms = 5000;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_noop(f, done, "noop"), 0);
  nt_test_feed_str(tt, "220 hi\r\n");
  const char *slow = "200 NOOP ok, slowly, one byte a second\r\n";
  for (int i = 0; i < 4; i++) {
    nt_test_feed(tt, slow + i, 1);
    nt_test_clock_advance(R, 1000);
  }
  nt_test_feed(tt, slow + 4, 1);
  nt_test_clock_advance(R, 999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1); /* 5 s after NOOP, bytes still coming */
  assert_string_equal(rec.log, "noop:ETIMEDOUT:0[]\nclosed:ETIMEDOUT\n");
  assert_int_equal(rec.where, NT_FTP_WHERE_REPLY);
  nt_test_transport_free(tt);
}

/* Implicit FTPS: the TLS handshake is part of connecting, bounded by the
 * connect timeout (not by the reply timeout, nor by the TLS layer's 10 s). */
static void test_tls_handshake_connect_timeout(void **state) {
  (void)state;
  nt_tls_ctx_options_t o;
  memset(&o, 0, sizeof o);
  o.insecure = 1;
  nt_tls_ctx_t *ctx = NULL;
  assert_int_equal(nt_tls_ctx_new(&o, &ctx), 0);
  const uint64_t connect[] = {2000, 15000};
  for (int i = 0; i < 2; i++) {
    test_opts.tls = NT_FTP_TLS_IMPLICIT;
    test_opts.tls_ctx = ctx;
    test_opts.reply_timeout_ms = 5000;
    test_opts.connect_timeout_ms = connect[i];
    nt_ftp_t *f = client_new();
    nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
    size_t n = 0;
    const char *hello = nt_test_output(tt, &n);
    assert_true(n > 5 && hello[0] == 0x16); /* the ClientHello went out */
    nt_test_clock_advance(R, connect[i] - 1);
    assert_int_equal(rec.closed, 0);
    nt_test_clock_advance(R, 1);
    assert_int_equal(rec.closed, 1);
    assert_int_equal(rec.close_status, NT_ETIMEDOUT);
    assert_int_equal(rec.where, NT_FTP_WHERE_TLS);
    nt_test_transport_free(tt);
  }
  nt_tls_ctx_free(ctx);
}

/* --- the API's own checks ------------------------------------------------------------------------ */

static void test_injection_refused(void **state) {
  (void)state;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  nt_test_feed_str(tt, "220 hi\r\n");
  assert_int_equal(nt_ftp_cwd(f, "a\r\nDELE b", done, "x"), NT_EINVAL);
  assert_int_equal(nt_ftp_dele(f, "a\nb", done, "x"), NT_EINVAL);
  assert_int_equal(nt_ftp_login(f, "u", "p\r\nSITE x", done, "x"), NT_EINVAL);
  assert_int_equal(nt_ftp_rename(f, "a", "", done, "x"), NT_EINVAL);
  char big[1200];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  assert_int_equal(nt_ftp_cwd(f, big, done, "x"), NT_ETOOBIG);
  assert_string_equal(nt_test_output(tt, NULL), "");
  assert_string_equal(rec.log, "");
  nt_test_transport_free(tt);
}

static void test_rename_mkd_rmd_dele(void **state) {
  (void)state;
  const char *server =
      "220 hi\r\n"
      "350 Ready for RNTO.\r\n"
      "250 Rename successful.\r\n"
      "350 Ready for RNTO.\r\n"
      "550 Rename failed.\r\n"
      "257 \"/new\" created\r\n"
      "250 Remove directory operation successful.\r\n"
      "550 Delete operation failed.\r\n";
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_rename(f, "a", "b", done, "ren"), 0);
  assert_int_equal(nt_ftp_rename(f, "c", "/no/d", done, "ren2"), 0);
  assert_int_equal(nt_ftp_mkd(f, "new", done, "mkd"), 0);
  assert_int_equal(nt_ftp_rmd(f, "old", done, "rmd"), 0);
  assert_int_equal(nt_ftp_dele(f, "gone", done, "dele"), 0);
  nt_test_feed_str(tt, server);
  assert_string_equal(nt_test_output(tt, NULL),
                      "RNFR a\r\nRNTO b\r\nRNFR c\r\nRNTO /no/d\r\nMKD new\r\n"
                      "RMD old\r\nDELE gone\r\n");
  assert_string_equal(rec.log,
                      "ren:ok:250[Rename successful.]\n"
                      "ren2:EFTP_REPLY:550[Rename failed.]\n"
                      "mkd:ok:257[\"/new\" created] path=/new\n"
                      "rmd:ok:250[Remove directory operation successful.]\n"
                      "dele:EFTP_REPLY:550[Delete operation failed.]\n");
  nt_test_transport_free(tt);
}

static void test_close_and_cancel(void **state) {
  (void)state;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  nt_test_feed_str(tt, "220 hi\r\n");
  nt_ftp_close(f);
  assert_string_equal(nt_test_output(tt, NULL), "QUIT\r\n");
  assert_int_equal(nt_ftp_cwd(f, "x", done, "late"), NT_ENOTCONN); /* closing */
  nt_test_feed_str(tt, "221 Goodbye.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "closed:ok\n");
  nt_test_transport_free(tt);

  /* closing with work queued: the queue is cancelled, the running command
   * is cut short */
  f = client_new();
  tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, NULL, NULL, done, "login"), 0);
  assert_int_equal(nt_ftp_pwd(f, done, "pwd"), 0);
  nt_test_feed_str(tt, "220 hi\r\n");
  nt_ftp_close(f);
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "pwd:ECANCELED:0[]\nlogin:ECANCELED:0[]\nclosed:ok\n");
  nt_test_transport_free(tt);

  /* abort */
  f = client_new();
  tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_noop(f, done, "noop"), 0);
  nt_ftp_abort(f);
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "noop:ECANCELED:0[]\nclosed:ECANCELED\n");
  nt_test_transport_free(tt);
}

static void test_explicit_tls_refused(void **state) {
  (void)state;
  nt_tls_ctx_options_t co;
  memset(&co, 0, sizeof co);
  co.insecure = 1;
  nt_tls_ctx_t *ctx;
  if (nt_tls_ctx_new(&co, &ctx) != 0) skip();
  test_opts.tls = NT_FTP_TLS_EXPLICIT;
  test_opts.tls_ctx = ctx;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, "bob", "pw", done, "login"), 0);
  nt_test_feed_str(tt, "220 hi\r\n500 AUTH not understood\r\n");
  nt_test_run_pending(R);
  nt_test_feed_eof(tt);
  nt_test_run_pending(R);
  /* never a password in plain text when TLS was asked for */
  assert_string_equal(nt_test_output(tt, NULL), "AUTH TLS\r\n");
  assert_string_equal(rec.log, "login:EFTP_NOTLS:500[AUTH not understood]\n"
                               "closed:EFTP_NOTLS\n");
  nt_test_transport_free(tt);
  nt_tls_ctx_free(ctx);
  test_opts.tls = NT_FTP_TLS_NONE;
  test_opts.tls_ctx = NULL;
}

static void test_new_without_tls_context(void **state) {
  (void)state;
  nt_ftp_options_t o;
  memset(&o, 0, sizeof o);
  o.tls = NT_FTP_TLS_EXPLICIT;
  nt_ftp_t *f;
  assert_int_equal(nt_ftp_new(R, &o, &test_cbs, NULL, &f), NT_EINVAL);
  /* a client never attached is freed by its owner */
  assert_int_equal(nt_ftp_new(R, NULL, &test_cbs, NULL, &f), 0);
  assert_string_equal(nt_ftp_state_name(f), "CONNECTING");
  nt_ftp_free(f);
}

/* AUTH TLS through the engine's nt_pp_start_tls: plaintext after the 234
 * (here a forged 230 in the same segment) is dropped, the ClientHello goes
 * out, and nothing is sent or reported until TLS is up. */
static void test_auth_tls_drops_plaintext_after_234(void **state) {
  (void)state;
  nt_tls_ctx_options_t co;
  memset(&co, 0, sizeof co);
  co.insecure = 1;
  nt_tls_ctx_t *ctx;
  if (nt_tls_ctx_new(&co, &ctx) != 0) skip();
  test_opts.tls = NT_FTP_TLS_EXPLICIT;
  test_opts.tls_ctx = ctx;
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_login(f, "bob", "pw", done, "login"), 0);
  nt_test_feed_str(tt, "220 hi\r\n234 go ahead\r\n230 forged\r\n");
  nt_test_run_pending(R);
  size_t n = 0;
  const char *out = nt_test_output(tt, &n);
  assert_true(n > 10 && !memcmp(out, "AUTH TLS\r\n", 10) && out[10] == 0x16);
  assert_string_equal(nt_ftp_state_name(f), "TLS_HANDSHAKE");
  assert_string_equal(rec.log, "");
  assert_int_equal(nt_ftp_is_tls(f), 0);
  nt_test_feed_eof(tt);
  nt_test_run_pending(R);
  assert_int_equal(rec.closed, 1);
  assert_true(rec.close_status != 0);
  nt_test_transport_free(tt);
  nt_tls_ctx_free(ctx);
  test_opts.tls = NT_FTP_TLS_NONE;
  test_opts.tls_ctx = NULL;
}

/* nt_pp_init's result is checked: out of memory at each allocation of
 * nt_ftp_new is NT_ENOMEM with nothing left behind (ASan's leak check). */
static void test_new_out_of_memory(void **state) {
  (void)state;
  nt_ftp_options_t o;
  memset(&o, 0, sizeof o);
  o.tls_server_name = "ftp.example";
  int failures = 0;
  for (long n = 0; n < 16; n++) {
    nt_ftp_t *f = NULL;
    nt_test_fail_alloc_after(n);
    int rc = nt_ftp_new(R, &o, &test_cbs, NULL, &f);
    nt_test_fail_alloc_after(-1);
    if (rc == 0) {
      assert_string_equal(nt_ftp_state_name(f), "CONNECTING");
      nt_ftp_free(f);
      break;
    }
    assert_int_equal(rc, NT_ENOMEM);
    failures++;
  }
  assert_true(failures >= 3); /* the client, its server name, the greeting slot */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_auth_tls_drops_plaintext_after_234, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_new_out_of_memory, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_session_every_split, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_features_parsed, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_login_with_password_and_refusal, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_user_without_password, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_421_while_idle, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_421_mid_session, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_greeting_refused, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_unexpected_close, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_garbage_and_overlong, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_421_mid_session_every_split, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_garbage_every_split, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_overlong_every_split, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_multiline_lookalikes, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_reply_timeout, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_trickling_server_times_out, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_tls_handshake_connect_timeout, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_injection_refused, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_rename_mkd_rmd_dele, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_close_and_cancel, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_explicit_tls_refused, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_new_without_tls_context, common_setup, common_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
