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
      cmocka_unit_test(test_tls_rule),
      cmocka_unit_test(test_json_strings),
      cmocka_unit_test(test_help_from_the_tables),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
