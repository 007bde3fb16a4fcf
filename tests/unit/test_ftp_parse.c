/* The FTP parsers: EPSV/PASV, MLSD facts, quoted path names, times, sizes,
 * "(N bytes)", FEAT lists, ftp:// URLs and ~/.netrc. Every input is also
 * given without a NUL after it (a copy of exactly len bytes), so a parser
 * that reads past len shows up under ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/ftp.h"

/* A heap copy of exactly strlen(s) bytes: no terminator to lean on. */
static char *exact(const char *s, size_t *len) {
  *len = strlen(s);
  char *p = malloc(*len ? *len : 1);
  memcpy(p, s, *len);
  return p;
}

static int epsv(const char *s) {
  size_t n;
  char *p = exact(s, &n);
  int r = nt_ftp_parse_epsv(p, n);
  free(p);
  return r;
}

static int pasv(const char *s, uint8_t ip[4]) {
  size_t n;
  char *p = exact(s, &n);
  int r = nt_ftp_parse_pasv(p, n, ip);
  free(p);
  return r;
}

static void test_epsv(void **state) {
  (void)state;
  assert_int_equal(epsv("Entering Extended Passive Mode (|||6446|)"), 6446);
  assert_int_equal(epsv("Entering Extended Passive Mode (!!!1!)"), 1);
  assert_int_equal(epsv("(|||65535|)"), 65535);
  assert_int_equal(epsv("ok (x) then (|||21|)"), 21);
  assert_int_equal(epsv("(|||65536|)"), NT_EFTP_BADREPLY);
  assert_int_equal(epsv("(|||0|)"), NT_EFTP_BADREPLY);
  assert_int_equal(epsv("(|||6446)"), NT_EFTP_BADREPLY);
  assert_int_equal(epsv("(|||6446|"), NT_EFTP_BADREPLY);
  assert_int_equal(epsv("(||6446|)"), NT_EFTP_BADREPLY);
  assert_int_equal(epsv("(|1|127.0.0.1|6446|)"), NT_EFTP_BADREPLY);
  assert_int_equal(epsv("(111161)"), NT_EFTP_BADREPLY);
  assert_int_equal(epsv("(|||"), NT_EFTP_BADREPLY);
  assert_int_equal(epsv(""), NT_EFTP_BADREPLY);
  assert_int_equal(epsv("(|||0000000006446|)"), NT_EFTP_BADREPLY);
}

static void test_pasv(void **state) {
  (void)state;
  uint8_t ip[4];
  assert_int_equal(pasv("Entering Passive Mode (192,168,1,2,19,137).", ip), 19 * 256 + 137);
  assert_int_equal(ip[0], 192);
  assert_int_equal(ip[3], 2);
  assert_int_equal(pasv("Entering Passive Mode 10,0,0,1,4,1", ip), 1025);
  assert_int_equal(pasv("=127, 0, 0, 1, 200, 10", ip), 200 * 256 + 10);
  assert_int_equal(pasv("(1,2,3,4,0,0)", ip), NT_EFTP_BADREPLY); /* port 0 */
  assert_int_equal(pasv("(256,2,3,4,5,6)", ip), NT_EFTP_BADREPLY);
  assert_int_equal(pasv("(1,2,3,4,5)", ip), NT_EFTP_BADREPLY);
  assert_int_equal(pasv("(1,2,3,4,5,", ip), NT_EFTP_BADREPLY);
  assert_int_equal(pasv("(1,2,3,4,5,6666)", ip), NT_EFTP_BADREPLY);
  assert_int_equal(pasv("version 2 (1,2,3,4,5,6)", ip), 5 * 256 + 6);
  assert_int_equal(pasv("", ip), NT_EFTP_BADREPLY);
}

static void test_mlsd(void **state) {
  (void)state;
  nt_ftp_entry_t e;
  size_t n;
  char *p = exact("Type=file;Size=1024;Modify=20261122151100.123;UNIX.mode=0644; a; b c", &n);
  assert_int_equal(nt_ftp_parse_mlsd(p, n, &e), 0);
  assert_int_equal(e.type, NT_FTP_ENTRY_FILE);
  assert_int_equal(e.size, 1024);
  assert_int_equal(e.mtime, 1795360260);
  assert_int_equal(e.unix_mode, 0644);
  assert_int_equal(e.name_len, 6);
  assert_memory_equal(e.name, "a; b c", 6);
  free(p);
  p = exact("type=dir;sizd=4096; sub", &n);
  assert_int_equal(nt_ftp_parse_mlsd(p, n, &e), 0);
  assert_int_equal(e.type, NT_FTP_ENTRY_DIR);
  assert_int_equal(e.size, 4096);
  assert_int_equal(e.mtime, -1);
  free(p);
  p = exact("type=file;size=12 x", &n); /* no final ';': forgiven */
  assert_int_equal(nt_ftp_parse_mlsd(p, n, &e), 0);
  assert_int_equal(e.size, 12);
  free(p);
  const char *bad[] = {"noname", "type=file; ", "=x; name", "type; name", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    p = exact(bad[i], &n);
    assert_int_equal(nt_ftp_parse_mlsd(p, n, &e), NT_EFTP_BADREPLY);
    free(p);
  }
  /* unparsable facts are unknown values, not errors */
  p = exact("type=weird;size=-1;modify=2026;UNIX.mode=999; n", &n);
  assert_int_equal(nt_ftp_parse_mlsd(p, n, &e), 0);
  assert_int_equal(e.type, NT_FTP_ENTRY_OTHER);
  assert_true(e.size == UINT64_MAX);
  assert_int_equal(e.mtime, -1);
  assert_int_equal(e.unix_mode, -1);
  free(p);
}

static void test_pathname(void **state) {
  (void)state;
  char out[32];
  size_t n;
  char *p = exact("\"/a \"\"b\"\"\" is current directory", &n);
  assert_int_equal(nt_ftp_parse_pathname(p, n, out, sizeof out), 0);
  assert_string_equal(out, "/a \"b\"");
  free(p);
  p = exact("no quotes", &n);
  assert_int_equal(nt_ftp_parse_pathname(p, n, out, sizeof out), NT_EFTP_BADREPLY);
  free(p);
  p = exact("\"unterminated", &n);
  assert_int_equal(nt_ftp_parse_pathname(p, n, out, sizeof out), NT_EFTP_BADREPLY);
  free(p);
  p = exact("\"/a/very/long/path/that/does/not/fit/in/32\"", &n);
  assert_int_equal(nt_ftp_parse_pathname(p, n, out, sizeof out), NT_ETOOBIG);
  free(p);
}

static void test_numbers_and_times(void **state) {
  (void)state;
  uint64_t v;
  assert_int_equal(nt_ftp_parse_size("18446744073709551615", 20, &v), 0);
  assert_true(v == UINT64_MAX);
  assert_int_equal(nt_ftp_parse_size("18446744073709551616", 20, &v), NT_EFTP_BADREPLY);
  assert_int_equal(nt_ftp_parse_size(" 42 ", 4, &v), 0);
  assert_int_equal(v, 42);
  assert_int_equal(nt_ftp_parse_size("4 2", 3, &v), NT_EFTP_BADREPLY);
  assert_int_equal(nt_ftp_parse_size("", 0, &v), NT_EFTP_BADREPLY);
  assert_int_equal(nt_ftp_parse_time("19700101000000", 14), 0);
  assert_int_equal(nt_ftp_parse_time("20000229120000", 14), 951825600);
  assert_int_equal(nt_ftp_parse_time("21000229120000", 14), -1); /* not a leap year */
  assert_int_equal(nt_ftp_parse_time("20261131000000", 14), -1);
  assert_int_equal(nt_ftp_parse_time("2026112215110", 13), -1);
  assert_int_equal(nt_ftp_parse_time("20261122151100.", 15), -1);
  assert_int_equal(nt_ftp_parse_time("2026112215110x", 14), -1);
  const char *t150 = "Opening BINARY mode data connection for f (1234 bytes).";
  assert_int_equal(nt_ftp_parse_150_size(t150, strlen(t150), &v), 0);
  assert_int_equal(v, 1234);
  assert_int_equal(nt_ftp_parse_150_size("Opening (bytes)", 15, &v), NT_EFTP_BADREPLY);
  assert_int_equal(nt_ftp_parse_150_size(" bytes)", 7, &v), NT_EFTP_BADREPLY);
}

static void test_feat(void **state) {
  (void)state;
  const char *t = "Features:\n EPRT\n EPSV\n MDTM\n MLST type*;size*;\n REST STREAM\n"
                  " SIZE\n TVFS\n UTF8\n AUTH TLS;SSL\nEnd";
  unsigned f = nt_ftp_parse_feat(t, strlen(t));
  assert_int_equal(f, NT_FTP_FEAT_EPRT | NT_FTP_FEAT_EPSV | NT_FTP_FEAT_MDTM |
                          NT_FTP_FEAT_MLST | NT_FTP_FEAT_REST | NT_FTP_FEAT_SIZE |
                          NT_FTP_FEAT_TVFS | NT_FTP_FEAT_UTF8 | NT_FTP_FEAT_AUTH_TLS);
  assert_int_equal(nt_ftp_parse_feat(" REST\n SIZES\n MLSTX", 19), 0);
}

static void test_url(void **state) {
  (void)state;
  nt_ftp_url_t u;
  const char *why;
  assert_int_equal(nt_ftp_parse_url("ftp://example.org/pub/file.txt", &u, &why), 0);
  assert_string_equal(u.host, "example.org");
  assert_string_equal(u.path, "pub/file.txt");
  assert_int_equal(u.port, 0);
  assert_int_equal(u.tls, 0);
  assert_false(u.has_user);
  assert_int_equal(nt_ftp_parse_url("FTPS://us%40er:p%3Ass@[::1]:2121//etc/x%20y", &u, &why), 0);
  assert_int_equal(u.tls, 1);
  assert_string_equal(u.user, "us@er");
  assert_string_equal(u.pass, "p:ss");
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 2121);
  assert_string_equal(u.path, "/etc/x y");
  assert_int_equal(nt_ftp_parse_url("ftp://a@b@host", &u, &why), 0);
  assert_string_equal(u.user, "a@b");
  assert_string_equal(u.host, "host");
  assert_string_equal(u.path, "");
  const char *bad[] = {"http://x/", "ftp://", "ftp:///p", "ftp://h:0/", "ftp://h:99999/",
                       "ftp://h:/", "ftp://[::1/", "ftp://[::1]x/", "ftp://h/a%0d%0aDELE",
                       "ftp://h/%zz", "ftp://h/%4", "ftp://u%00@h/"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why = NULL;
    if (nt_ftp_parse_url(bad[i], &u, &why) != NT_EINVAL) fail_msg("accepted %s", bad[i]);
    assert_non_null(why);
  }
}

static void test_netrc(void **state) {
  (void)state;
  char path[] = "/tmp/nt-netrc.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text =
      "machine other.example login o password opw\n"
      "macdef init\ncd /pub\nmachine evil login x password y\n\n"
      "machine ftp.example.org\n  login alice\n  password \"s3 cret\"\n"
      "machine ftp.example.org login bob password bobpw\n"
      "default login anonymous password guest@\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  char l[64], p[64];
  assert_int_equal(nt_ftp_netrc_lookup(path, "FTP.example.org", NULL, l, sizeof l, p, sizeof p), 1);
  assert_string_equal(l, "alice");
  assert_string_equal(p, "s3 cret");
  assert_int_equal(nt_ftp_netrc_lookup(path, "ftp.example.org", "bob", l, sizeof l, p, sizeof p), 1);
  assert_string_equal(p, "bobpw");
  assert_int_equal(nt_ftp_netrc_lookup(path, "evil", NULL, l, sizeof l, p, sizeof p), 1);
  assert_string_equal(l, "anonymous"); /* the macdef body is not an entry */
  assert_int_equal(nt_ftp_netrc_lookup(path, "elsewhere", NULL, l, sizeof l, p, sizeof p), 1);
  assert_string_equal(p, "guest@");
  assert_int_equal(nt_ftp_netrc_lookup("/nonexistent/netrc", "h", NULL, l, sizeof l, p, sizeof p), 0);
  /* a token over 255 bytes */
  fd = open(path, O_WRONLY | O_TRUNC);
  char big[400];
  memset(big, 'a', sizeof big);
  assert_int_equal(write(fd, "machine ", 8), 8);
  assert_int_equal(write(fd, big, sizeof big), (ssize_t)sizeof big);
  close(fd);
  assert_int_equal(nt_ftp_netrc_lookup(path, "h", NULL, l, sizeof l, p, sizeof p), NT_ETOOBIG);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_epsv),     cmocka_unit_test(test_pasv),
      cmocka_unit_test(test_mlsd),     cmocka_unit_test(test_pathname),
      cmocka_unit_test(test_numbers_and_times), cmocka_unit_test(test_feat),
      cmocka_unit_test(test_url),      cmocka_unit_test(test_netrc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
