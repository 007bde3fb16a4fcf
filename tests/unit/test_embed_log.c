/* nettool/log.h: a handler gets every line that passes the level and
 * nothing reaches stderr; without one, lines go to stderr defanged as
 * before; the level filters both. The lines are the library's own (a
 * reactor freed with a timer still live warns), plus nt__log at each level
 * for the filter. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <nettool/log.h>
#include <nettool/reactor.h>

#include "reactor-int.h"

#define MAX_LINES 16

typedef struct {
  int n;
  int level[MAX_LINES];
  char line[MAX_LINES][1024];
} capture_t;

static void capture(int level, const char *line, void *arg) {
  capture_t *c = arg;
  if (c->n == MAX_LINES) return;
  c->level[c->n] = level;
  snprintf(c->line[c->n], sizeof c->line[0], "%s", line);
  c->n++;
}

/* stderr into a temporary file for the length of a test. */
typedef struct {
  int saved;
  FILE *f;
} stderr_grab_t;

static void grab_start(stderr_grab_t *g) {
  fflush(stderr);
  g->f = tmpfile();
  assert_non_null(g->f);
  g->saved = dup(2);
  assert_true(g->saved >= 0);
  assert_int_equal(dup2(fileno(g->f), 2), 2);
}

/* Restores stderr; returns what was written to it (static buffer). */
static const char *grab_end(stderr_grab_t *g) {
  static char buf[4096];
  fflush(stderr);
  assert_int_equal(dup2(g->saved, 2), 2);
  close(g->saved);
  rewind(g->f);
  size_t n = fread(buf, 1, sizeof buf - 1, g->f);
  buf[n] = '\0';
  fclose(g->f);
  return buf;
}

/* A real library warning: a reactor freed with a timer still started. */
static void free_reactor_with_live_timer(void) {
  nt_reactor_t *r;
  assert_int_equal(nt_reactor_new(&r, NULL), 0);
  nt_timer_t t;
  nt_timer_init(r, &t, NULL);
  nt_timer_start(&t, 1000, 0);
  assert_int_equal(nt_reactor_free(r), 0);
}

static int setup(void **state) {
  (void)state;
  nt_log_set_handler(NULL, NULL);
  assert_int_equal(nt_log_set_level(NT_LOG_WARN), 0);
  return 0;
}

static void test_handler_gets_lines_not_stderr(void **state) {
  (void)state;
  capture_t c = {0};
  stderr_grab_t g;
  grab_start(&g);
  nt_log_set_handler(capture, &c);
  free_reactor_with_live_timer();
  nt__log(NT__LOG_ERROR, "an error with a \x1b[31m colour and %d", 42);
  nt__log(NT__LOG_DEBUG, "debug is filtered at warn");
  const char *err = grab_end(&g);
  assert_string_equal(err, "");
  assert_int_equal(c.n, 2);
  assert_int_equal(c.level[0], NT_LOG_WARN);
  assert_non_null(strstr(c.line[0], "nt_reactor_free: 1 timer(s)"));
  /* The handler gets the line as formatted: no prefix, no newline, not
   * defanged (it decides how to escape). */
  assert_int_equal(c.level[1], NT_LOG_ERROR);
  assert_string_equal(c.line[1], "an error with a \x1b[31m colour and 42");
}

static void test_level_filters_handler(void **state) {
  (void)state;
  capture_t c = {0};
  nt_log_set_handler(capture, &c);
  assert_int_equal(nt_log_set_level(NT_LOG_ERROR), 0);
  assert_int_equal(nt_log_get_level(), NT_LOG_ERROR);
  free_reactor_with_live_timer(); /* a warning: filtered */
  nt__log(NT__LOG_ERROR, "e");
  assert_int_equal(c.n, 1);
  assert_string_equal(c.line[0], "e");

  assert_int_equal(nt_log_set_level(NT_LOG_DEBUG), 0);
  nt__log(NT__LOG_INFO, "i");
  NT__DEBUG("d %s", "x"); /* the macro reads the same level */
  assert_int_equal(c.n, 3);
  assert_int_equal(c.level[1], NT_LOG_INFO);
  assert_int_equal(c.level[2], NT_LOG_DEBUG);
  assert_string_equal(c.line[2], "d x");

  assert_int_equal(nt_log_set_level(NT_LOG_NONE), 0);
  nt__log(NT__LOG_ERROR, "nothing at none");
  assert_int_equal(c.n, 3);

  /* Out of range: refused, the level unchanged. */
  assert_int_equal(nt_log_set_level(NT_LOG_DEBUG + 1), NT_EINVAL);
  assert_int_equal(nt_log_set_level(-2), NT_EINVAL);
  assert_int_equal(nt_log_get_level(), NT_LOG_NONE);
  assert_string_equal(nt_log_level_name(NT_LOG_NONE), "none");
  assert_string_equal(nt_log_level_name(NT_LOG_WARN), "warn");
  assert_string_equal(nt_log_level_name(7), "?");
}

/* No handler: stderr, "nettool[level]: ", control characters defanged. */
static void test_default_is_stderr_defanged(void **state) {
  (void)state;
  stderr_grab_t g;
  grab_start(&g);
  free_reactor_with_live_timer();
  nt__log(NT__LOG_ERROR, "peer said \x1b[2J\r\nbye\x7f \xc2\x9b end");
  nt__log(NT__LOG_INFO, "info is filtered at warn");
  const char *err = grab_end(&g);
  const char *nl = strchr(err, '\n');
  assert_non_null(nl);
  assert_int_equal(strncmp(err, "nettool[warn]: nt_reactor_free: 1 timer(s)", 42), 0);
  assert_string_equal(nl + 1, "nettool[error]: peer said ?[2J??bye? ? end\n");
}

/* Setting NULL after a handler goes back to stderr. */
static void test_handler_removed(void **state) {
  (void)state;
  capture_t c = {0};
  nt_log_set_handler(capture, &c);
  nt__log(NT__LOG_WARN, "to the handler");
  nt_log_set_handler(NULL, &c);
  stderr_grab_t g;
  grab_start(&g);
  nt__log(NT__LOG_WARN, "to stderr");
  const char *err = grab_end(&g);
  assert_int_equal(c.n, 1);
  assert_string_equal(err, "nettool[warn]: to stderr\n");
}

/* A handler may log (nettool does not hold its lock during the call). */
static void relog(int level, const char *line, void *arg) {
  capture_t *c = arg;
  capture(level, line, arg);
  if (c->n == 1) nt__log(NT__LOG_WARN, "again from the handler");
}

static void test_handler_may_log(void **state) {
  (void)state;
  capture_t c = {0};
  nt_log_set_handler(relog, &c);
  nt__log(NT__LOG_WARN, "first");
  assert_int_equal(c.n, 2);
  assert_string_equal(c.line[1], "again from the handler");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_handler_gets_lines_not_stderr, setup),
      cmocka_unit_test_setup(test_level_filters_handler, setup),
      cmocka_unit_test_setup(test_default_is_stderr_defanged, setup),
      cmocka_unit_test_setup(test_handler_removed, setup),
      cmocka_unit_test_setup(test_handler_may_log, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
