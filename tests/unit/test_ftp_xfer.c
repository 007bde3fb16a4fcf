/* FTP transfers on the test reactor, data connections scripted through the
 * opener hook: passive downloads at every split of the control replies,
 * EPSV refused then PASV (whose address is ignored), active mode with EPRT
 * refused then PORT and foreign peers refused, data connections dropped
 * mid-transfer (the part file kept and resumed with REST), size mismatches,
 * 550s, sinks that lag (pause_reading), uploads (write_file, TYPE A, size
 * verification), MLSD listings at every split of the data, idle timeouts,
 * 421 during a transfer. */
#include <fcntl.h>
#include <sys/stat.h>

#include "test_ftp_common.h"

static nt_ftp_t *F;

static const char *retr_ok =
    "220 hi\r\n331 pw\r\n230 ok\r\n"
    "200 Switching to Binary mode.\r\n"
    "213 11\r\n"
    "229 Entering Extended Passive Mode (|||40001|)\r\n"
    "150 Opening BINARY mode data connection for f (11 bytes).\r\n"
    "226 Transfer complete.\r\n";

static nt_protocol_t *build_retr(void *arg) {
  (void)arg;
  F = client_new();
  assert_int_equal(nt_ftp_login(F, NULL, NULL, done, "login"), 0);
  assert_int_equal(nt_ftp_retrieve(F, "f", NULL, &test_sink, done, "retr"), 0);
  return nt_ftp_protocol(F);
}

static void check_retr(void *arg, nt_test_transport_t *tt, const char *how) {
  if (rec.data_len != 11 || memcmp(rec.data, "hello world", 11))
    fail_msg("%s: data '%.*s'", how, (int)rec.data_len, rec.data);
  assert_int_equal(nfakes, 1);
  assert_string_equal(fakes[0].addr, "127.0.0.1:40001");
  check_log(arg, tt, how);
}

static void test_retr_passive_every_split(void **state) {
  (void)state;
  sync_open = 1;
  data_plan(DATA_SEND_EOF, "hello world");
  expect_log = "login:ok:230[ok]\n"
               "retr:ok:226[Transfer complete.] bytes=11 size=11\n";
  expect_out = "USER anonymous\r\nPASS anonymous@\r\nTYPE I\r\nSIZE f\r\nEPSV\r\nRETR f\r\n";
  /* The data connection is made inside the connect call here, so that the
   * whole script may come in one read without replies running ahead of the
   * commands; the other tests make it from the loop, as TCP does. */
  nt_test_each_split(R, retr_ok, strlen(retr_ok), 0, build_retr, check_retr, NULL);
}

/* --- EPSV refused, PASV pointing elsewhere ------------------------------------------ */

static nt_protocol_t *build_two(void *arg) {
  (void)arg;
  F = client_new();
  assert_int_equal(nt_ftp_login(F, NULL, NULL, done, "login"), 0);
  assert_int_equal(nt_ftp_retrieve(F, "f", NULL, &test_sink, done, "f"), 0);
  assert_int_equal(nt_ftp_retrieve(F, "g", NULL, &test_sink, done, "g"), 0);
  return nt_ftp_protocol(F);
}

/* After the first transfer (fed at every split), the second one: PASV
 * straight away, EPSV is not tried again. */
static void check_two(void *arg, nt_test_transport_t *tt, const char *how) {
  nt_test_feed_str(tt, "213 11\r\n"
                       "227 Entering Passive Mode 10,9,8,7,156,66\r\n"
                       "150 go\r\n"
                       "226 done\r\n");
  nt_test_run_pending(R);
  assert_int_equal(nfakes, 2);
  /* the address in the PASV reply (10.9.8.7) is never used */
  if (strcmp(fakes[0].addr, "127.0.0.1:40001") || strcmp(fakes[1].addr, "127.0.0.1:40002"))
    fail_msg("%s: connected to %s and %s", how, fakes[0].addr, fakes[1].addr);
  check_log(arg, tt, how);
}

static void test_epsv_refused_then_pasv_elsewhere(void **state) {
  (void)state;
  const char *server =
      "220 hi\r\n331 pw\r\n230 ok\r\n"
      "200 Switching to Binary mode.\r\n"
      "213 11\r\n"
      "500 EPSV not understood.\r\n"
      "227 Entering Passive Mode (10,9,8,7,156,65).\r\n"
      "150 go\r\n"
      "226 done\r\n";
  sync_open = 1;
  data_plan(DATA_SEND_EOF, "hello world");
  expect_log = "login:ok:230[ok]\n"
               "f:ok:226[done] bytes=11 size=11\n"
               "g:ok:226[done] bytes=11 size=11\n";
  expect_out = "USER anonymous\r\nPASS anonymous@\r\nTYPE I\r\nSIZE f\r\nEPSV\r\nPASV\r\n"
               "RETR f\r\nSIZE g\r\nPASV\r\nRETR g\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_two, check_two, NULL);
}

static void test_bad_pasv_replies(void **state) {
  (void)state;
  const char *bad[] = {"229 Entering Extended Passive Mode (|||0|)\r\n",
                       "229 Entering Extended Passive Mode (|||70000|)\r\n",
                       "229 nothing here\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    nt_ftp_t *f = client_new();
    nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
    assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
    assert_int_equal(nt_ftp_noop(f, done, "noop"), 0);
    nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 1\r\n");
    nt_test_feed_str(tt, bad[i]);
    nt_test_feed_str(tt, "200 NOOP ok\r\n");
    nt_test_run_pending(R);
    assert_int_equal(nfakes, 0);
    assert_non_null(strstr(rec.log, "retr:EFTP_BADREPLY:229["));
    assert_non_null(strstr(rec.log, "noop:ok:200[NOOP ok]")); /* the session goes on */
    nt_test_transport_free(tt);
  }
}

/* --- files: dropped, kept, resumed -------------------------------------------------- */

static char dir[256], local[300], part[310];

static void tmp_setup(void) {
  snprintf(dir, sizeof dir, "/tmp/nt-ftp-unit.XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(local, sizeof local, "%s/file", dir);
  snprintf(part, sizeof part, "%s/file.part", dir);
}

static void tmp_cleanup(void) {
  unlink(part);
  unlink(local);
  rmdir(dir);
}

static void write_file(const char *path, const char *s) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  fputs(s, fp);
  fclose(fp);
}

static int file_is(const char *path, const char *want) {
  char buf[4096];
  FILE *fp = fopen(path, "rb");
  if (!fp) return 0;
  size_t n = fread(buf, 1, sizeof buf, fp);
  fclose(fp);
  return n == strlen(want) && !memcmp(buf, want, n);
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void test_dropped_then_resumed(void **state) {
  (void)state;
  tmp_setup();
  write_file(local, "OLD\n");
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  nt_ftp_file_options_t fo;
  memset(&fo, 0, sizeof fo);
  assert_int_equal(nt_ftp_get_file(f, "f", local, &fo, done, "get"), 0);
  data_plan(DATA_SEND_RESET, "hello");
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 11\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 Opening (11 bytes)\r\n426 Failure writing network stream.\r\n");
  nt_test_run_pending(R);
  char want[1024];
  snprintf(want, sizeof want,
           "get:EFTP_REPLY:426[Failure writing network stream.] bytes=5 size=11 path=%s\n",
           part);
  assert_string_equal(rec.log, want);
  assert_true(file_is(local, "OLD\n")); /* never touched */
  assert_true(file_is(part, "hello"));  /* kept for --resume */
  fakes_free();

  /* --resume: REST from the part file's size */
  rec.len = 0;
  rec.log[0] = 0;
  nt_test_output_clear(tt);
  fo.resume = 1;
  assert_int_equal(nt_ftp_get_file(f, "f", local, &fo, done, "resume"), 0);
  data_plan(DATA_SEND_EOF, " world");
  nt_test_feed_str(tt, "213 11\r\n229 (|||40002|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "350 Restarting at 5.\r\n150 Opening (6 bytes)\r\n226 ok\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "SIZE f\r\nEPSV\r\nREST 5\r\nRETR f\r\n");
  snprintf(want, sizeof want, "resume:ok:226[ok] bytes=6 size=11 path=%s\n", local);
  assert_string_equal(rec.log, want);
  assert_true(file_is(local, "hello world"));
  assert_false(exists(part));
  nt_test_transport_free(tt);
  tmp_cleanup();
}

/* A data connection reset half-way, the server's 426 after it, every split
 * of the control replies: the existing file is untouched, the part file has
 * the bytes that came, and --resume would continue from there. */
static nt_protocol_t *build_get(void *arg) {
  (void)arg;
  write_file(local, "OLD\n");
  unlink(part);
  F = client_new();
  assert_int_equal(nt_ftp_get_file(F, "f", local, NULL, done, "get"), 0);
  return nt_ftp_protocol(F);
}

static void check_dropped(void *arg, nt_test_transport_t *tt, const char *how) {
  (void)arg;
  char want[600];
  snprintf(want, sizeof want,
           "get:EFTP_REPLY:426[Failure writing network stream.] bytes=5 size=11 path=%s\n", part);
  /* whichever comes first, the reset or the 426 (it depends on the split),
   * the server's reply decides: the same result every time */
  if (strcmp(rec.log, want)) fail_msg("%s: %s", how, rec.log);
  if (!file_is(local, "OLD\n") || !file_is(part, "hello")) fail_msg("%s: files", how);
  assert_string_equal(nt_test_output(tt, NULL), "TYPE I\r\nSIZE f\r\nEPSV\r\nRETR f\r\n");
  fakes_free();
}

static void test_dropped_every_split(void **state) {
  (void)state;
  tmp_setup();
  const char *server = "220 hi\r\n200 ok\r\n213 11\r\n229 (|||40001|)\r\n"
                       "150 Opening (11 bytes)\r\n426 Failure writing network stream.\r\n";
  sync_open = 1;
  data_plan(DATA_SEND_RESET, "hello");
  nt_test_each_split(R, server, strlen(server), 0, build_get, check_dropped, NULL);
  tmp_cleanup();
}

static void test_resume_at_or_past_the_end(void **state) {
  (void)state;
  tmp_setup();
  write_file(part, "hello world");
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  nt_ftp_file_options_t fo;
  memset(&fo, 0, sizeof fo);
  fo.resume = 1;
  /* the part file is complete already: no data connection, just renamed */
  assert_int_equal(nt_ftp_get_file(f, "f", local, &fo, done, "get"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 11\r\n");
  nt_test_run_pending(R);
  char want[1024];
  snprintf(want, sizeof want, "get:ok:213[11] size=11 path=%s\n", local);
  assert_string_equal(rec.log, want);
  assert_int_equal(nfakes, 0);
  assert_true(file_is(local, "hello world"));
  assert_false(exists(part));
  /* a part file longer than the server's file is an error, kept as it is */
  rec.len = 0;
  rec.log[0] = 0;
  unlink(local);
  write_file(part, "hello world, and more");
  assert_int_equal(nt_ftp_get_file(f, "f", local, &fo, done, "get"), 0);
  nt_test_feed_str(tt, "213 11\r\n");
  nt_test_run_pending(R);
  snprintf(want, sizeof want, "get:EFTP_SIZE:213[11] size=11 path=%s\n", part);
  assert_string_equal(rec.log, want);
  assert_false(exists(local));
  assert_true(file_is(part, "hello world, and more"));
  nt_test_transport_free(tt);
  tmp_cleanup();
}

static void test_size_mismatch_and_550(void **state) {
  (void)state;
  tmp_setup();
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_get_file(f, "f", local, NULL, done, "get"), 0);
  data_plan(DATA_SEND_EOF, "hello world");
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 20\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 go\r\n226 Transfer complete.\r\n");
  nt_test_run_pending(R);
  char want[1024];
  snprintf(want, sizeof want,
           "get:EFTP_SIZE:226[Transfer complete.] bytes=11 size=20 path=%s\n", part);
  assert_string_equal(rec.log, want);
  assert_false(exists(local));
  assert_true(file_is(part, "hello world"));
  fakes_free();
  unlink(part);

  /* 550: nothing is created, nothing left behind */
  rec.len = 0;
  rec.log[0] = 0;
  write_file(local, "OLD\n");
  assert_int_equal(nt_ftp_get_file(f, "/pub/missing", local, NULL, done, "get"), 0);
  data_plan(DATA_HOLD, NULL);
  nt_test_feed_str(tt, "550 Could not get file size.\r\n229 (|||40002|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "550 /pub/missing: No such file or directory\r\n");
  nt_test_run_pending(R);
  snprintf(want, sizeof want,
           "get:EFTP_REPLY:550[/pub/missing: No such file or directory] path=%s\n", local);
  assert_string_equal(rec.log, want);
  assert_true(file_is(local, "OLD\n"));
  assert_false(exists(part));
  assert_true(nt_test_is_lost(fakes[0].tt)); /* the data connection was closed */
  nt_test_transport_free(tt);
  tmp_cleanup();
}

/* --- active mode -------------------------------------------------------------------------- */

static void test_active_eprt_then_port(void **state) {
  (void)state;
  test_opts.active = 1;
  data_plan(DATA_SEND_EOF, "hello world");
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 11\r\n");
  assert_string_equal(nt_test_output(tt, NULL), "TYPE I\r\nSIZE f\r\nEPRT |1|127.0.0.1|40123|\r\n");
  assert_int_equal(nfakes, 1);
  assert_string_equal(fakes[0].addr, "127.0.0.1"); /* the control connection's side */
  nt_test_feed_str(tt, "500 EPRT not understood\r\n");
  assert_non_null(strstr(nt_test_output(tt, NULL), "PORT 127,0,0,1,156,187\r\n"));
  assert_int_equal(nfakes, 1); /* the same listener */
  nt_test_feed_str(tt, "200 PORT command successful.\r\n");
  nt_test_run_pending(R); /* the server connects */
  nt_test_feed_str(tt, "150 go\r\n226 done\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "retr:ok:226[done] bytes=11 size=11\n");
  assert_true(fakes[0].unlistened);
  assert_string_equal(rec.data, "hello world");
  nt_test_transport_free(tt);
}

static void test_active_foreign_peer_refused(void **state) {
  (void)state;
  test_opts.active = 1;
  test_opts.data_timeout_ms = 3000;
  accept_from = "10.0.0.9";
  data_plan(DATA_SEND_EOF, "evil");
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 11\r\n200 EPRT ok\r\n150 go\r\n");
  nt_test_run_pending(R);
  assert_null(fakes[0].tt); /* refused */
  assert_int_equal(rec.data_len, 0);
  nt_test_clock_advance(R, 2500);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1000);
  assert_string_equal(rec.log, "retr:EFTP_DATA_PEER:150[go] size=11\nclosed:EFTP_DATA_PEER\n");
  nt_test_transport_free(tt);
}

/* --- a sink that lags ------------------------------------------------------------------------ */

static void test_sink_pauses_data(void **state) {
  (void)state;
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 6\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 go\r\n");
  rec.sink_eagain = 1;
  nt_test_transport_t *dt = fakes[0].tt;
  nt_test_feed_str(dt, "abc");
  assert_false(nt_test_reading(dt)); /* paused: the sink is behind */
  nt_test_feed_str(dt, "def");
  nt_test_run_pending(R);
  assert_int_equal(rec.data_len, 3);
  nt_ftp_resume_data(f);
  nt_test_run_pending(R);
  assert_true(nt_test_reading(dt));
  assert_int_equal(rec.data_len, 6);
  nt_test_feed_eof(dt);
  nt_test_feed_str(tt, "226 done\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "retr:ok:226[done] bytes=6 size=6\n");
  nt_test_transport_free(tt);
}

/* --- uploads ------------------------------------------------------------------------------------ */

static void upload(int ascii, const char *size_reply, const char *want_data,
                   const char *want_log, const char *want_out) {
  tmp_setup();
  write_file(local, "line1\nline2\n");
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  nt_ftp_file_options_t fo;
  memset(&fo, 0, sizeof fo);
  fo.ascii = ascii;
  fo.verify_size = 1;
  assert_int_equal(nt_ftp_put_file(f, local, "up.txt", &fo, done, "put"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_transport_t *dt = fakes[0].tt;
  assert_non_null(dt);
  assert_string_equal(nt_test_output(dt, NULL), ""); /* nothing before the 150 */
  nt_test_feed_str(tt, "150 Ok to send data.\r\n");
  for (int i = 0; i < 10; i++) {
    nt_test_drain(dt, 0); /* the "socket" is writable: queued file bytes go */
    nt_test_run_pending(R);
  }
  assert_string_equal(nt_test_output(dt, NULL), want_data);
  assert_true(nt_test_peer_got_eof(dt)); /* half-closed: the end of the file */
  nt_test_feed_eof(dt);                  /* the server closes its side */
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "226 Transfer complete.\r\n");
  if (size_reply) nt_test_feed_str(tt, size_reply);
  nt_test_run_pending(R);
  assert_string_equal(rec.log, want_log);
  assert_string_equal(nt_test_output(tt, NULL), want_out);
  nt_test_transport_free(tt);
  fakes_free();
  tmp_cleanup();
}

static void test_uploads(void **state) {
  (void)state;
  upload(0, "213 12\r\n", "line1\nline2\n", "put:ok:226[Transfer complete.] bytes=12 size=12\n",
         "TYPE I\r\nEPSV\r\nSTOR up.txt\r\nSIZE up.txt\r\n");
  upload(0, "213 5\r\n", "line1\nline2\n", "put:EFTP_SIZE:213[5] bytes=12 size=12\n",
         "TYPE I\r\nEPSV\r\nSTOR up.txt\r\nSIZE up.txt\r\n");
  upload(1, NULL, "line1\r\nline2\r\n", "put:ok:226[Transfer complete.] bytes=12 size=12\n",
         "TYPE A\r\nEPSV\r\nSTOR up.txt\r\n");
}

static void test_upload_refused(void **state) {
  (void)state;
  tmp_setup();
  write_file(local, "x");
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_put_file(f, local, "up.txt", NULL, done, "put"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "553 Could not create file.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "put:EFTP_REPLY:553[Could not create file.]\n");
  assert_string_equal(nt_test_output(fakes[0].tt, NULL), "");
  assert_int_equal(nt_ftp_put_file(f, "/nonexistent/x", "y", NULL, done, "put"), NT_ENOENT);
  nt_test_transport_free(tt);
  tmp_cleanup();
}

/* --- listings -------------------------------------------------------------------------------------- */

static const char *mlsd_data =
    "type=cdir;modify=20261122151100;UNIX.mode=0755; .\r\n"
    "type=pdir;modify=20261122151100; ..\r\n"
    "type=file;size=11;modify=20261122151100;UNIX.mode=0644; hello world.txt\r\n"
    "type=dir;modify=20261122151100; pub\r\n"
    "garbage-without-facts\r\n"
    "type=OS.unix=slink:/etc;size=4; link\r\n"
    " just a name";

static const char *mlsd_log =
    "  entry . type=2 size=-1 mtime=1795360260\n"
    "  entry .. type=3 size=-1 mtime=1795360260\n"
    "  entry hello world.txt type=0 size=11 mtime=1795360260\n"
    "  entry pub type=1 size=-1 mtime=1795360260\n"
    "  line garbage-without-facts\n"
    "  entry link type=4 size=4 mtime=-1\n"
    "  entry just a name type=6 size=-1 mtime=-1\n"
    "ls:ok:226[Directory send OK.] bytes=271\n";

static void test_mlsd_every_data_split(void **state) {
  (void)state;
  size_t len = strlen(mlsd_data);
  for (size_t k = 0; k < len; k++) {
    data_plan(DATA_HOLD, NULL);
    nt_ftp_t *f = client_new();
    nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
    assert_int_equal(nt_ftp_list(f, NT_FTP_LIST_MLSD, "pub", on_line, NULL, done, "ls"), 0);
    nt_test_feed_str(tt, "220 hi\r\n200 Switching to ASCII mode.\r\n229 (|||40001|)\r\n");
    nt_test_run_pending(R);
    nt_test_feed_str(tt, "150 Here comes the directory listing.\r\n");
    nt_test_transport_t *dt = fakes[0].tt;
    if (k) nt_test_feed(dt, mlsd_data, k);
    nt_test_run_pending(R);
    nt_test_feed(dt, mlsd_data + k, len - k);
    nt_test_feed_eof(dt);
    nt_test_run_pending(R);
    nt_test_feed_str(tt, "226 Directory send OK.\r\n");
    nt_test_run_pending(R);
    if (strcmp(rec.log, mlsd_log)) fail_msg("split at %zu:\n%s", k, rec.log);
    assert_string_equal(nt_test_output(tt, NULL), "TYPE A\r\nEPSV\r\nMLSD pub\r\n");
    nt_test_transport_free(tt);
    fakes_free();
  }
}

static void test_list_line_too_long(void **state) {
  (void)state;
  test_opts.max_list_line = 32;
  data_plan(DATA_SEND_EOF,
            "short\r\nthis line is much longer than thirty-two bytes\r\n");
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_list(f, NT_FTP_LIST_NLST, NULL, on_line, NULL, done, "ls"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 go\r\n226 ok\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "TYPE A\r\nEPSV\r\nNLST\r\n");
  assert_string_equal(rec.log, "  line short\nls:ELINETOOLONG:226[ok] bytes=55\n");
  nt_test_transport_free(tt);
}

/* --- time ------------------------------------------------------------------------------------------- */

static void test_data_idle_timeout(void **state) {
  (void)state;
  test_opts.data_timeout_ms = 3000;
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 6\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 go\r\n");
  nt_test_feed_str(fakes[0].tt, "ab");
  nt_test_clock_advance(R, 2900);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 2000);
  assert_string_equal(rec.log, "retr:ETIMEDOUT:150[go] bytes=2 size=6\nclosed:ETIMEDOUT\n");
  nt_test_transport_free(tt);
}

static void test_slow_transfer_keeps_control_alive(void **state) {
  (void)state;
  test_opts.reply_timeout_ms = 5000;
  test_opts.data_timeout_ms = 3000;
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 10\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 go\r\n");
  for (int i = 0; i < 10; i++) { /* 20 s: longer than both timeouts */
    nt_test_feed_str(fakes[0].tt, "x");
    nt_test_clock_advance(R, 2000);
  }
  assert_int_equal(rec.closed, 0);
  nt_test_feed_eof(fakes[0].tt);
  nt_test_feed_str(tt, "226 done\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "retr:ok:226[done] bytes=10 size=10\n");
  nt_test_transport_free(tt);
}

/* --- other endings ------------------------------------------------------------------------------------ */

static void test_421_during_transfer(void **state) {
  (void)state;
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  assert_int_equal(nt_ftp_noop(f, done, "noop"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 6\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 go\r\n");
  nt_test_feed_str(fakes[0].tt, "abc");
  nt_test_feed_str(tt, "421 Service shutting down.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log,
                      "retr:EFTP_CLOSED:421[Service shutting down.] bytes=3 size=6\n"
                      "noop:EFTP_CLOSED:421[Service shutting down.]\n"
                      "closed:EFTP_CLOSED\n");
  assert_true(nt_test_is_lost(fakes[0].tt));
  nt_test_transport_free(tt);
}

static void test_passive_connect_refused(void **state) {
  (void)state;
  data_plan(DATA_REFUSE, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_list(f, NT_FTP_LIST_LIST, "/", on_line, NULL, done, "ls"), 0);
  assert_int_equal(nt_ftp_noop(f, done, "noop"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "200 NOOP ok\r\n");
  assert_string_equal(rec.log, "ls:ECONNREFUSED:0[]\nnoop:ok:200[NOOP ok]\n");
  assert_string_equal(nt_test_output(tt, NULL), "TYPE A\r\nEPSV\r\nNOOP\r\n");
  nt_test_transport_free(tt);
}

static void test_ascii_download_crlf(void **state) {
  (void)state;
  const char *in = "a\r\nb\r\r\nc\r";
  size_t len = strlen(in);
  for (size_t k = 0; k <= len; k++) {
    data_plan(DATA_HOLD, NULL);
    nt_ftp_t *f = client_new();
    nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
    nt_ftp_xfer_options_t xo;
    memset(&xo, 0, sizeof xo);
    xo.ascii = 1;
    xo.fd = -1;
    assert_int_equal(nt_ftp_retrieve(f, "f", &xo, &test_sink, done, "retr"), 0);
    nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n229 (|||40001|)\r\n");
    nt_test_run_pending(R);
    nt_test_feed_str(tt, "150 go\r\n226 done\r\n");
    nt_test_feed(fakes[0].tt, in, k);
    nt_test_feed(fakes[0].tt, in + k, len - k);
    nt_test_feed_eof(fakes[0].tt);
    nt_test_run_pending(R);
    assert_string_equal(rec.log, "retr:ok:226[done] bytes=9\n");
    if (rec.data_len != 7 || memcmp(rec.data, "a\nb\r\nc\r", 7))
      fail_msg("split %zu: '%.*s'", k, (int)rec.data_len, rec.data);
    nt_test_transport_free(tt);
    fakes_free();
  }
}


/* --- issue 10: a refusal wins over a reset, exact deadlines, FTPS data --------------------------- */

/* Some servers reset the data connection, then send 550: every split of
 * the control replies gives the server's refusal, never the reset. */
static nt_protocol_t *build_refused(void *arg) {
  (void)arg;
  F = client_new();
  assert_int_equal(nt_ftp_retrieve(F, "/pub/x", NULL, &test_sink, done, "retr"), 0);
  return nt_ftp_protocol(F);
}

static void test_refusal_wins_over_reset(void **state) {
  (void)state;
  const char *server = "220 hi\r\n200 ok\r\n213 6\r\n229 (|||40001|)\r\n"
                       "550 Failed to open file.\r\n";
  sync_open = 1;
  data_plan(DATA_SEND_RESET, NULL); /* the reset comes before the 550 */
  expect_log = "retr:EFTP_REPLY:550[Failed to open file.] size=6\n";
  expect_out = "TYPE I\r\nSIZE /pub/x\r\nEPSV\r\nRETR /pub/x\r\n";
  nt_test_each_split(R, server, strlen(server), 0, build_refused, check_log, NULL);
  /* listings and uploads alike */
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_list(f, NT_FTP_LIST_MLSD, "x", on_line, NULL, done, "ls"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n229 (|||40001|)\r\n");
  nt_test_feed_str(tt, "550 No such directory.\r\n");
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "ls:EFTP_REPLY:550[No such directory.]\n");
  assert_int_equal(nt_ftp_failure_where(f), NT_FTP_WHERE_NONE); /* still open */
  nt_test_transport_free(tt);
}

/* A reset and then silence: the transfer fails with the reset after a
 * short grace for the server's reply, not after the reply timeout. */
static void test_reset_then_silence_fails_fast(void **state) {
  (void)state;
  test_opts.reply_timeout_ms = 30000;
  data_plan(DATA_SEND_RESET, "abc");
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 6\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_feed_str(tt, "150 go\r\n");
  nt_test_run_pending(R);
  assert_true(nt_test_is_lost(fakes[0].tt));
  nt_test_clock_advance(R, 999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_string_equal(rec.log, "retr:ECONNRESET:150[go] bytes=3 size=6\nclosed:ECONNRESET\n");
  assert_int_equal(rec.where, NT_FTP_WHERE_DATA);
  nt_test_transport_free(tt);
}

/* "No progress for S" is last progress + S, to the millisecond. */
static void test_data_idle_deadline_is_exact(void **state) {
  (void)state;
  const uint64_t limits[] = {3000, 500};
  for (size_t i = 0; i < 2; i++) {
    uint64_t S = limits[i];
    test_opts.data_timeout_ms = S;
    test_opts.reply_timeout_ms = 60000;
    data_plan(DATA_HOLD, NULL);
    nt_ftp_t *f = client_new();
    nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
    assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
    nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 6\r\n229 (|||40001|)\r\n");
    nt_test_run_pending(R);
    nt_test_feed_str(tt, "150 go\r\n");
    nt_test_feed_str(fakes[0].tt, "ab");
    nt_test_clock_advance(R, S / 3);
    nt_test_feed_str(fakes[0].tt, "c"); /* the last progress */
    nt_test_clock_advance(R, S - 1);
    if (rec.closed) fail_msg("S=%llu: closed early: %s", (unsigned long long)S, rec.log);
    nt_test_clock_advance(R, 1);
    assert_string_equal(rec.log, "retr:ETIMEDOUT:150[go] bytes=3 size=6\nclosed:ETIMEDOUT\n");
    assert_int_equal(rec.where, NT_FTP_WHERE_DATA);
    nt_test_transport_free(tt);
    fakes_free();
  }
}

/* A stalled upload: its progress is sampled (every S/10 here), so it fails
 * within S + S/10 of its last progress, not 2S. */
static void test_upload_idle_deadline(void **state) {
  (void)state;
  tmp_setup();
  write_file(local, "0123456789");
  test_opts.data_timeout_ms = 2000;
  test_opts.reply_timeout_ms = 60000;
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_put_file(f, local, "up", NULL, done, "put"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_set_room(fakes[0].tt, 4); /* the server takes 4 bytes, then stalls */
  nt_test_feed_str(tt, "150 go\r\n");
  nt_test_run_pending(R);
  nt_test_clock_advance(R, 1000);
  nt_test_drain(fakes[0].tt, 2); /* 2 more at t=1000: the last progress */
  nt_test_clock_advance(R, 1999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 201); /* S + the sampling period (S/10) */
  assert_int_equal(rec.closed, 1);
  assert_non_null(strstr(rec.log, "put:ETIMEDOUT:150[go]"));
  nt_test_transport_free(tt);
  tmp_cleanup();
}

static nt_tls_ctx_t *client_tls_ctx(void) {
  nt_tls_ctx_options_t o;
  memset(&o, 0, sizeof o);
  o.insecure = 1;
  nt_tls_ctx_t *ctx = NULL;
  assert_int_equal(nt_tls_ctx_new(&o, &ctx), 0);
  return ctx;
}

/* PROT P: the data connection's ClientHello goes out only after the 1xx
 * (a server may drop a data connection with bytes waiting before it starts
 * the transfer); a reset during the handshake fails fast with the reset. */
static void test_data_tls_after_1xx(void **state) {
  (void)state;
  nt_tls_ctx_t *ctx = client_tls_ctx();
  test_opts.tls_ctx = ctx;
  test_opts.reply_timeout_ms = 30000;
  data_plan(DATA_HOLD, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  f->prot_p = 1; /* as after PBSZ 0 / PROT P on a TLS control connection */
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 6\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  assert_string_equal(nt_test_output(tt, NULL), "TYPE I\r\nSIZE f\r\nEPSV\r\nRETR f\r\n");
  size_t n = 0;
  nt_test_output(fakes[0].tt, &n);
  assert_int_equal(n, 0); /* nothing on the data connection before the 150 */
  nt_test_feed_str(tt, "150 Opening BINARY mode data connection.\r\n");
  nt_test_run_pending(R);
  const char *hello = nt_test_output(fakes[0].tt, &n);
  assert_true(n > 5 && hello[0] == 0x16); /* a TLS handshake record */
  nt_test_reset(fakes[0].tt);
  nt_test_clock_advance(R, 999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_string_equal(rec.log, "retr:ECONNRESET:150[Opening BINARY mode data connection.] "
                               "size=6\nclosed:ECONNRESET\n");
  assert_int_equal(rec.where, NT_FTP_WHERE_DATA_TLS);
  nt_test_transport_free(tt);
  fakes_free();

  /* active mode: the server connects after RETR, the 150 may come first */
  memset(&rec, 0, sizeof rec);
  test_opts.active = 1;
  auto_accept = 0;
  f = client_new();
  tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  f->prot_p = 1;
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 6\r\n200 EPRT ok\r\n150 go\r\n");
  nt_test_run_pending(R);
  fake_open(&fakes[0]);
  hello = nt_test_output(fakes[0].tt, &n);
  assert_true(n > 5 && hello[0] == 0x16);
  /* the server never answers the handshake: the connect timeout (30 s
   * default) ends it, with the reply timeout longer */
  nt_test_clock_advance(R, 29999);
  assert_int_equal(rec.closed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.closed, 1);
  assert_int_equal(rec.close_status, NT_ETIMEDOUT);
  assert_int_equal(rec.where, NT_FTP_WHERE_DATA_TLS);
  nt_test_transport_free(tt);
  fakes_free();
  nt_tls_ctx_free(ctx);
}

/* Connecting a data connection is the connect limit's, not the idle one's. */
static void test_data_connect_timeout(void **state) {
  (void)state;
  test_opts.connect_timeout_ms = 5000;
  test_opts.data_timeout_ms = 1000;
  data_plan(DATA_PENDING, NULL);
  nt_ftp_t *f = client_new();
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  assert_int_equal(nt_ftp_retrieve(f, "f", NULL, &test_sink, done, "retr"), 0);
  nt_test_feed_str(tt, "220 hi\r\n200 ok\r\n213 6\r\n229 (|||40001|)\r\n");
  nt_test_run_pending(R);
  nt_test_clock_advance(R, 4999);
  assert_string_equal(rec.log, "");
  nt_test_clock_advance(R, 1);
  assert_string_equal(rec.log, "retr:ETIMEDOUT:213[6] size=6\n");
  assert_int_equal(nt_ftp_failure_where(f), NT_FTP_WHERE_DATA_CONNECT);
  assert_true(fakes[0].cancelled);
  assert_int_equal(nt_ftp_noop(f, done, "noop"), 0);
  nt_test_feed_str(tt, "200 NOOP ok\r\n"); /* the session goes on */
  assert_string_equal(rec.log, "retr:ETIMEDOUT:213[6] size=6\nnoop:ok:200[NOOP ok]\n");
  nt_test_transport_free(tt);
}

/* --- the data channel on its own (ftp-data.h): no FTP client at all ---------------- */

static int dch_stop_after; /* line: stop after this many lines (0: never) */

static void dch_log_connected(nt__ftp_dchan_t *ch, void *arg) {
  (void)ch, (void)arg;
  logf_("connected\n");
}
static void dch_log_ready(nt__ftp_dchan_t *ch, void *arg) {
  (void)ch, (void)arg;
  logf_("ready\n");
}
static void dch_log_progress(nt__ftp_dchan_t *ch, void *arg, uint64_t bytes) {
  (void)ch, (void)arg;
  logf_("progress %llu\n", (unsigned long long)bytes);
}
static int dch_log_line(nt__ftp_dchan_t *ch, void *arg, const char *line, size_t len) {
  (void)ch;
  int *n = arg;
  logf_("line %.*s\n", (int)len, line);
  return dch_stop_after && ++*n >= dch_stop_after;
}
static void dch_log_error(nt__ftp_dchan_t *ch, void *arg, int status) {
  (void)ch, (void)arg;
  logf_("error %s\n", nt_err_name(status));
}
static void dch_log_done(nt__ftp_dchan_t *ch, void *arg, int status, int hs) {
  (void)ch, (void)arg;
  logf_("done %s%s\n", status ? nt_err_name(status) : "ok", hs ? " in handshake" : "");
}
static void dch_log_failed(nt__ftp_dchan_t *ch, void *arg, int status) {
  (void)ch, (void)arg;
  logf_("failed %s\n", nt_err_name(status));
}

static const nt__ftp_dchan_cbs_t dch_log_cbs = {
    .connected = dch_log_connected,
    .ready = dch_log_ready,
    .progress = dch_log_progress,
    .line = dch_log_line,
    .error = dch_log_error,
    .done = dch_log_done,
    .failed = dch_log_failed,
};

static nt__ftp_dchan_t *dch_new(nt__ftp_dchan_mode_t mode, int ascii, int *lines) {
  nt__ftp_dchan_config_t c;
  memset(&c, 0, sizeof c);
  c.mode = mode;
  c.ascii = ascii;
  c.sink = test_sink;
  c.max_line = 16;
  c.src_fd = -1;
  c.connect_timeout_ms = 1000;
  c.cbs = &dch_log_cbs;
  c.arg = lines;
  nt__ftp_dchan_t *ch;
  assert_int_equal(nt__ftp_dchan_new(R, &c, &ch), 0);
  return ch;
}

/* Passive download in TYPE A: connect, convert CRLF, flush the held-back CR
 * at the end, report in order; then a refused connect reports `failed`. */
static void test_dchan_alone_download(void **state) {
  (void)state;
  memset(&rec, 0, sizeof rec);
  struct sockaddr_storage ss;
  socklen_t len;
  assert_int_equal(nt_addr_parse("127.0.0.1", 2121, &ss, &len), 0);
  nt__ftp_dchan_t *ch = dch_new(NT__DCHAN_SINK, 1, NULL);
  data_plan(DATA_SEND_EOF, "one\r\ntwo\r");
  assert_int_equal(nt__ftp_dchan_connect(ch, (struct sockaddr *)&ss, len), 0);
  assert_true(nt__ftp_dchan_running(ch));
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "connected\nready\nprogress 9\ndone ok\n");
  assert_int_equal(rec.data_len, 8);
  assert_memory_equal(rec.data, "one\ntwo\r", 8);
  assert_false(nt__ftp_dchan_running(ch));
  assert_string_equal(fakes[0].addr, "127.0.0.1:2121");
  nt__ftp_dchan_close(ch, 0);

  memset(&rec, 0, sizeof rec);
  ch = dch_new(NT__DCHAN_SINK, 0, NULL);
  data_plan(DATA_REFUSE, NULL);
  assert_int_equal(nt__ftp_dchan_connect(ch, (struct sockaddr *)&ss, len), 0);
  nt_test_run_pending(R);
  assert_string_equal(rec.log, "failed ECONNREFUSED\n");
  assert_false(nt__ftp_dchan_running(ch));
  nt__ftp_dchan_close(ch, 1);
}

/* Active listing: a stranger is refused (and said so), the peer's lines
 * come one by one, the last without its line end; a line callback that
 * says stop gets no more. */
static void test_dchan_alone_listing(void **state) {
  (void)state;
  memset(&rec, 0, sizeof rec);
  struct sockaddr_storage peer;
  socklen_t len;
  assert_int_equal(nt_addr_parse("127.0.0.1", 21, &peer, &len), 0);
  int lines = 0;
  nt__ftp_dchan_t *ch = dch_new(NT__DCHAN_LINES, 1, &lines);
  accept_from = "127.0.0.2";
  int port = 0;
  assert_int_equal(nt__ftp_dchan_listen(ch, "127.0.0.1", &peer, &port), 1);
  assert_int_equal(port, 40123);
  assert_int_equal(nt__ftp_dchan_listen(ch, "127.0.0.1", &peer, &port), 0); /* again */
  nt_test_run_pending(R);
  assert_true(nt__ftp_dchan_refused_foreign(ch));
  assert_string_equal(rec.log, "");
  nt__ftp_dchan_close(ch, 1);
  nt_test_run_pending(R);
  assert_true(fakes[0].unlistened);

  accept_from = "127.0.0.1";
  data_plan(DATA_SEND_EOF, "a\r\nbb\r\nc");
  ch = dch_new(NT__DCHAN_LINES, 1, &lines);
  assert_int_equal(nt__ftp_dchan_listen(ch, "127.0.0.1", &peer, &port), 1);
  nt_test_run_pending(R);
  assert_string_equal(rec.log,
                      "connected\nready\nprogress 8\nline a\nline bb\nline c\ndone ok\n");
  nt__ftp_dchan_close(ch, 0);

  memset(&rec, 0, sizeof rec);
  dch_stop_after = 1;
  lines = 0;
  ch = dch_new(NT__DCHAN_LINES, 1, &lines);
  assert_int_equal(nt__ftp_dchan_listen(ch, "127.0.0.1", &peer, &port), 1);
  nt_test_run_pending(R);
  dch_stop_after = 0;
  assert_string_equal(rec.log, "connected\nready\nprogress 8\nline a\ndone ok\n");
  nt__ftp_dchan_close(ch, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_retr_passive_every_split, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_epsv_refused_then_pasv_elsewhere, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_bad_pasv_replies, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_dropped_then_resumed, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_dropped_every_split, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_resume_at_or_past_the_end, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_size_mismatch_and_550, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_active_eprt_then_port, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_active_foreign_peer_refused, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_sink_pauses_data, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_uploads, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_upload_refused, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_mlsd_every_data_split, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_list_line_too_long, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_data_idle_timeout, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_slow_transfer_keeps_control_alive, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_421_during_transfer, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_passive_connect_refused, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_ascii_download_crlf, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_refusal_wins_over_reset, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_reset_then_silence_fails_fast, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_data_idle_deadline_is_exact, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_upload_idle_deadline, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_data_tls_after_1xx, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_data_connect_timeout, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_dchan_alone_download, common_setup, common_teardown),
      cmocka_unit_test_setup_teardown(test_dchan_alone_listing, common_setup, common_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
