/* The CLI's shared option layer (apps/nettool/cli_opts.c): parsing by type,
 * the shared options only where a command accepts them, the -u wipe, the
 * TLS rule, --help generated from the tables; and --json's string escaping
 * (apps/nettool/cli_json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_opts.h"
#include "cli_proxy.h"

typedef struct {
  int seen_x, seen_n;
  long n;
  unsigned long long wait_ms;
  const char *name;
} own_t;

static const cli_opt_t own_rows[] = {
    {"extra", 'x', CLI_T_BOOL, 0, 'x', NULL, "an own flag", 0},
    {"count", 0, CLI_T_UINT, 0, 'n', "N", "a count\nover two lines", 5},
    {"wait", 0, CLI_T_SECS, 0, 'w', "S", "seconds", 0},
    {"name", 0, CLI_T_FILE, 0, 'f', "FILE", "a file", 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

static const cli_cmd_spec_t spec = {
    "demo", "usage: nettool demo ARG\n",
    CLI_S_TLS | CLI_S_TIMES | CLI_S(CLI_O_QUIET) | CLI_S(CLI_O_USER),
    own_rows, NULL, "Exit status: 0.\n",
};

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  own_t *t = ctx;
  switch (o->id) {
  case 'x':
    t->seen_x = 1;
    return 0;
  case 'n':
    t->seen_n = 1;
    t->n = v->num;
    return 0;
  case 'w':
    t->wait_ms = v->ms;
    return 0;
  case 'f':
    t->name = v->str;
    return 0;
  }
  return NT_EXIT_INTERNAL;
}

/* Parses a NULL-terminated list of literal arguments (copied: -u writes). */
static int parse(cli_common_t *co, own_t *t, int *first, char **args) {
  static char store[32][128];
  static char *argv[33];
  int argc = 0;
  for (; args[argc] && argc < 32; argc++) {
    snprintf(store[argc], sizeof store[argc], "%s", args[argc]);
    argv[argc] = store[argc];
  }
  argv[argc] = NULL;
  memset(t, 0, sizeof *t);
  return cli_opts_parse(&spec, argc, argv, co, own, t, first);
}
#define ARGS(...) ((char *[]){"demo", __VA_ARGS__, NULL})

static void test_shared_and_own_by_type(void **state) {
  (void)state;
  cli_common_t co;
  own_t t;
  int first = 0;
  int rc = parse(&co, &t, &first,
                 ARGS("-k", "--cacert", "ca.pem", "-q", "--timeout", "1.5",
                      "--connect-timeout", "2", "--max-time", "0.25", "-x",
                      "--count", "5", "--wait", "3", "host", "path"));
  assert_int_equal(rc, 0);
  assert_int_equal(co.insecure, 1);
  assert_string_equal(co.cacert, "ca.pem");
  assert_int_equal(co.quiet, 1);
  assert_int_equal(co.timeout_ms, 1500);
  assert_int_equal(co.connect_timeout_ms, 2000);
  assert_int_equal(co.max_time_ms, 250);
  assert_true(co.given & CLI_S(CLI_O_TIMEOUT));
  assert_false(co.given & CLI_S(CLI_O_VERBOSE));
  assert_int_equal(t.seen_x, 1);
  assert_int_equal(t.n, 5);
  assert_int_equal(t.wait_ms, 3000);
  assert_int_equal(first, 16); /* "host" */
  cli_common_free(&co);
}

static void test_bad_values_are_usage_errors(void **state) {
  (void)state;
  cli_common_t co;
  own_t t;
  int first;
  assert_int_equal(parse(&co, &t, &first, ARGS("--timeout", "0")), NT_EXIT_USAGE);
  assert_int_equal(parse(&co, &t, &first, ARGS("--max-time", "1x")), NT_EXIT_USAGE);
  assert_int_equal(parse(&co, &t, &first, ARGS("--count", "6")), NT_EXIT_USAGE);
  assert_int_equal(t.seen_n, 0); /* the handler never saw a bad value */
  assert_int_equal(parse(&co, &t, &first, ARGS("--count", "-1")), NT_EXIT_USAGE);
  assert_int_equal(parse(&co, &t, &first, ARGS("--name", "")), NT_EXIT_USAGE);
  assert_int_equal(parse(&co, &t, &first, ARGS("--cacert")), NT_EXIT_USAGE);
  assert_int_equal(parse(&co, &t, &first, ARGS("--bogus")), NT_EXIT_USAGE);
}

static void test_shared_option_only_where_accepted(void **state) {
  (void)state;
  cli_common_t co;
  own_t t;
  int first;
  /* demo does not take --port, -v or --json */
  assert_int_equal(parse(&co, &t, &first, ARGS("--port", "21")), NT_EXIT_USAGE);
  assert_int_equal(parse(&co, &t, &first, ARGS("-v")), NT_EXIT_USAGE);
  assert_int_equal(parse(&co, &t, &first, ARGS("--json")), NT_EXIT_USAGE);
}

static void test_user_password_wiped_from_argv(void **state) {
  (void)state;
  char a0[] = "demo", a1[] = "-u", a2[] = "ann:s3cret", a3[] = "x";
  char *argv[] = {a0, a1, a2, a3, NULL};
  cli_common_t co;
  own_t t;
  int first;
  memset(&t, 0, sizeof t);
  assert_int_equal(cli_opts_parse(&spec, 4, argv, &co, own, &t, &first), 0);
  assert_string_equal(a2, "ann:xxxxxx");
  assert_string_equal(co.user, "ann:s3cret");
  cli_common_free(&co);
  assert_null(co.user);
}

/* -x/--proxy: parsed once (the password wiped from argv), '' for none,
 * a bad URL a usage error; then --proxy or the environment, no_proxy
 * over both (cli_proxy.c). */
static const cli_cmd_spec_t proxy_spec = {
    "pdemo", "usage: nettool pdemo ARG\n", CLI_S(CLI_O_PROXY), NULL, NULL, "Exit status: 0.\n",
};

static void test_proxy_option(void **state) {
  (void)state;
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  unsetenv("http_proxy");
  char a0[] = "pdemo", a1[] = "-x", a2[] = "socks5h://ann:s3cret@proxy.test:1081", a3[] = "arg";
  char *argv[] = {a0, a1, a2, a3, NULL};
  cli_common_t co;
  own_t t;
  int first;
  memset(&t, 0, sizeof t);
  assert_int_equal(cli_opts_parse(&proxy_spec, 4, argv, &co, own, &t, &first), 0);
  assert_string_equal(a2, "socks5h://ann:xxxxxx@proxy.test:1081");
  assert_int_equal(co.proxy.type, NT_PROXY_SOCKS5H);
  assert_string_equal(co.proxy.password, "s3cret");
  assert_int_equal(co.proxy.port, 1081);
  nt_proxy_t out;
  const nt_proxy_t *use;
  assert_int_equal(cli_proxy_for(cli_proxy_given(&co), 0, "http", "h", &out, &use), 0);
  assert_ptr_equal(use, &out);
  assert_string_equal(out.host, "proxy.test");
  setenv("no_proxy", "h", 1); /* no_proxy applies to --proxy too */
  assert_int_equal(cli_proxy_for(cli_proxy_given(&co), 0, "http", "h", &out, &use), 0);
  assert_null(use);
  unsetenv("no_proxy");

  char b1[] = "--proxy", b2[] = "";
  char *argv2[] = {a0, b1, b2, a3, NULL};
  assert_int_equal(cli_opts_parse(&proxy_spec, 4, argv2, &co, own, &t, &first), 0);
  setenv("all_proxy", "socks5://env:1", 1);
  assert_int_equal(cli_proxy_for(cli_proxy_given(&co), 0, "http", "h", &out, &use), 0);
  assert_null(use); /* --proxy '' wins over the environment */

  char *argv3[] = {a0, a3, NULL};
  assert_int_equal(cli_opts_parse(&proxy_spec, 2, argv3, &co, own, &t, &first), 0);
  assert_null(cli_proxy_given(&co));
  assert_int_equal(cli_proxy_for(cli_proxy_given(&co), 0, "ftp", "h", &out, &use), 0);
  assert_non_null(use);
  assert_int_equal(out.port, 1);
  setenv("all_proxy", "socks4://env:1", 1);
  assert_int_equal(cli_proxy_for(NULL, 0, "ftp", "h", &out, &use), NT_EXIT_USAGE);
  unsetenv("all_proxy");

  char c2[] = "https://p.test";
  char *argv4[] = {a0, a1, c2, a3, NULL};
  assert_int_equal(cli_opts_parse(&proxy_spec, 4, argv4, &co, own, &t, &first), NT_EXIT_USAGE);
  /* the demo command does not take it */
  char d2[] = "socks5://p:1";
  char *argv5[] = {a0, b1, d2, a3, NULL};
  assert_int_equal(cli_opts_parse(&spec, 4, argv5, &co, own, &t, &first), NT_EXIT_USAGE);
}

/* URL passwords: the span each URL parser takes (HTTP and proxies: the
 * authority ends at / ? or #; FTP: at /), the userinfo's first ':' to the
 * authority's last '@'. */
static void test_url_password_span(void **state) {
  (void)state;
  size_t len;
  char u1[] = "http://bob:s3:cr@t@h:80/p?q=@x#f@";
  char *p = cli_url_password(u1, "/?#", &len);
  assert_non_null(p);
  assert_int_equal(len, strlen("s3:cr@t"));
  cli_wipe_url_password(u1, "/?#");
  assert_string_equal(u1, "http://bob:xxxxxxx@h:80/p?q=@x#f@");
  char u2[] = "http://h/?a:b@c";
  assert_null(cli_url_password(u2, "/?#", &len));
  assert_int_equal(len, 0);
  char u3[] = "bob:pw@h:8080"; /* no scheme: a proxy's host[:port] form */
  cli_wipe_url_password(u3, "/?#");
  assert_string_equal(u3, "bob:xx@h:8080");
  char u4[] = "ftp://u:pa?s#s@h/dir/f"; /* FTP's authority ends at '/' only */
  cli_wipe_url_password(u4, "/");
  assert_string_equal(u4, "ftp://u:xxxxxx@h/dir/f");
  char u5[] = "ftp://u@h/f:x@y";
  assert_null(cli_url_password(u5, "/", &len));
  char u6[] = "http://:@h/"; /* an empty password: nothing to wipe */
  p = cli_url_password(u6, "/?#", &len);
  assert_non_null(p);
  assert_int_equal(len, 0);
}

/* -H: which headers carry credentials, and what of them leaves argv. */
static void test_secret_headers(void **state) {
  (void)state;
  assert_true(cli_header_is_secret("Authorization: Bearer t"));
  assert_true(cli_header_is_secret("authorization :Basic x"));
  assert_true(cli_header_is_secret("Proxy-Authorization: x"));
  assert_true(cli_header_is_secret("Cookie: a=b"));
  assert_true(cli_header_is_secret("X-Auth-Token: t"));
  assert_true(cli_header_is_secret("X-API-Key: k"));
  assert_true(cli_header_is_secret("X-ApiKey: k"));
  assert_true(cli_header_is_secret("X-Client-Secret: s"));
  assert_true(cli_header_is_secret("X-Password: s"));
  assert_false(cli_header_is_secret("Accept: */*"));
  assert_false(cli_header_is_secret("X-Authorization-Hint: no")); /* not the name */
  assert_false(cli_header_is_secret("Set-Cookie2: x"));
  assert_false(cli_header_is_secret("User-Agent: token/1.0")); /* the value does not count */

  char a[] = "Authorization: Bearer s3cret";
  char *copy = cli_keep_secret(a, a + strlen("Authorization: "));
  assert_non_null(copy);
  assert_string_equal(copy, "Authorization: Bearer s3cret");
  assert_string_equal(a, "Authorization: xxxxxxxxxxxxx");
  char b[] = "Cookie: id=1";
  copy = cli_keep_secret(b, b + strlen("Cookie: "));
  assert_string_equal(copy, "Cookie: id=1"); /* freed at exit */
  assert_string_equal(b, "Cookie: xxxx");
}

static void test_help_from_the_tables(void **state) {
  (void)state;
  char a0[] = "demo", a1[] = "--help";
  char *argv[] = {a0, a1, NULL};
  cli_common_t co;
  own_t t;
  int first;
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  cli_opts_help(&spec, out);
  fclose(out);
  assert_non_null(strstr(buf, "usage: nettool demo ARG\n"));
  assert_non_null(strstr(buf, "  -x, --extra             an own flag\n"));
  assert_non_null(strstr(buf, "  --count N               a count\n"
                              "                          over two lines\n"));
  assert_non_null(strstr(buf, "  -k, --insecure"));
  assert_non_null(strstr(buf, "  -u, --user USER[:PASS]"));
  assert_null(strstr(buf, "--port")); /* not demo's */
  assert_null(strstr(buf, "--json"));
  assert_non_null(strstr(buf, "Exit status: 0.\n"));
  free(buf);
  /* --help itself: printed on stdout, CLI_OPTS_HELP returned */
  FILE *devnull = freopen("/dev/null", "w", stdout);
  assert_non_null(devnull);
  assert_int_equal(cli_opts_parse(&spec, 2, argv, &co, own, &t, &first),
                   CLI_OPTS_HELP);
}

static void test_tls_rule(void **state) {
  (void)state;
  cli_common_t co = {0};
  assert_int_equal(cli_opts_tls_check(&co, 0, "--tls"), 0);
  co.insecure = 1;
  assert_int_equal(cli_opts_tls_check(&co, 0, "--tls"), NT_EXIT_USAGE);
  assert_int_equal(cli_opts_tls_check(&co, 1, "--tls"), 0); /* warns */
  co.insecure = 0;
  co.cacert = "ca.pem";
  assert_int_equal(cli_opts_tls_check(&co, 0, "--tls"), NT_EXIT_USAGE);
}

static char *json_of(const char *s) {
  static char out[256];
  FILE *f = fmemopen(out, sizeof out, "w");
  cli_json_string(f, s);
  fclose(f);
  return out;
}

static void test_json_strings(void **state) {
  (void)state;
  assert_string_equal(json_of("plain"), "\"plain\"");
  assert_string_equal(json_of("q\"b\\s"), "\"q\\\"b\\\\s\"");
  assert_string_equal(json_of("a\nb\x01\x7f"), "\"a\\u000ab\\u0001\\u007f\"");
  /* valid UTF-8 kept, other bytes become U+FFFD */
  assert_string_equal(json_of("Gr\xc3\xbc\xc3\x9f" "e"), "\"Gr\xc3\xbc\xc3\x9f" "e\"");
  assert_string_equal(json_of("caf\xe9!"), "\"caf\\ufffd!\"");
  assert_string_equal(json_of("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shared_and_own_by_type),
      cmocka_unit_test(test_bad_values_are_usage_errors),
      cmocka_unit_test(test_shared_option_only_where_accepted),
      cmocka_unit_test(test_user_password_wiped_from_argv),
      cmocka_unit_test(test_proxy_option),
      cmocka_unit_test(test_url_password_span),
      cmocka_unit_test(test_secret_headers),
      cmocka_unit_test(test_tls_rule),
      cmocka_unit_test(test_json_strings),
      cmocka_unit_test(test_help_from_the_tables),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
