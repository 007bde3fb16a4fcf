/* .newsrc read marks: files in the format newsrc(5) documents for rn and
 * that tin and slrn write ("group: 1-78,80,85-90", "group! 1-5", an
 * options line with continuation lines, a group with nothing read) come
 * back byte for byte; marks merge with neighbours; unread runs; a changed
 * group is rewritten canonically and the rest untouched; save is atomic
 * and keeps the file's mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/errno.h"
#include "nettool/newsrc.h"

/* The examples of newsrc(5) (B news 2.11, whose format rn, tin and slrn
 * kept), a tin-style file (groups with nothing read end in ":" with no
 * space; unsubscribed with "!"), and slrn's (same format, no options). */
static const char newsrc5[] =
    "options -n all !net.sf-lovers !mod.human-nets -r\n"
    "\t-c\n"
    "general: 1-78,80,85-90\n"
    "comp.laser-printers: 1-7\n"
    "news.misc: 1\n"
    "comp.ai! 1-5\n";
static const char tin_style[] =
    "comp.os.linux.misc: 1-14362,14365,14367-14400\n"
    "news.answers:\n"
    "alt.test! 1-120,125\n"
    "de.comm.software.newsreader: 1-3200\n";
static const char slrn_style[] =
    "news.software.readers: 1-120,125\n"
    "comp.lang.c:\n"
    "local.test: 1-3";

static char *roundtrip(const char *text) {
  nt_newsrc_t *n;
  assert_int_equal(nt_newsrc_parse(text, strlen(text), &n), 0);
  char *out;
  size_t len;
  assert_int_equal(nt_newsrc_format(n, &out, &len), 0);
  assert_int_equal(len, strlen(out));
  nt_newsrc_free(n);
  return out;
}

static void test_roundtrip_examples(void **state) {
  (void)state;
  const char *texts[] = {newsrc5, tin_style, slrn_style, "", "\n", "# comment\n"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    char *out = roundtrip(texts[i]);
    assert_string_equal(out, texts[i]);
    free(out);
  }
}

static void test_queries(void **state) {
  (void)state;
  nt_newsrc_t *n;
  assert_int_equal(nt_newsrc_parse(newsrc5, strlen(newsrc5), &n), 0);
  assert_int_equal(nt_newsrc_subscribed(n, "general"), 1);
  assert_int_equal(nt_newsrc_subscribed(n, "comp.ai"), 0);
  assert_int_equal(nt_newsrc_subscribed(n, "options"), -1); /* not a group */
  assert_int_equal(nt_newsrc_subscribed(n, "nope"), -1);
  assert_true(nt_newsrc_is_read(n, "general", 1));
  assert_true(nt_newsrc_is_read(n, "general", 78));
  assert_false(nt_newsrc_is_read(n, "general", 79));
  assert_true(nt_newsrc_is_read(n, "general", 80));
  assert_false(nt_newsrc_is_read(n, "general", 84));
  assert_true(nt_newsrc_is_read(n, "general", 90));
  assert_false(nt_newsrc_is_read(n, "general", 91));
  char buf[64];
  assert_int_equal(nt_newsrc_ranges(n, "general", buf, sizeof buf), 13);
  assert_string_equal(buf, "1-78,80,85-90");
  /* unread in 70..100: 79, 81-84, 91-100 */
  assert_int_equal(nt_newsrc_unread(n, "general", 70, 100, NULL, NULL), 1 + 4 + 10);
  assert_int_equal(nt_newsrc_unread(n, "general", 1, 78, NULL, NULL), 0);
  assert_int_equal(nt_newsrc_unread(n, "unknown.group", 5, 9, NULL, NULL), 5);
  nt_newsrc_free(n);
}

static char runs[256];
static void run_cb(uint64_t lo, uint64_t hi, void *arg) {
  (void)arg;
  size_t l = strlen(runs);
  snprintf(runs + l, sizeof runs - l, "%llu-%llu;", (unsigned long long)lo,
           (unsigned long long)hi);
}

static void test_marks_merge_and_rewrite(void **state) {
  (void)state;
  nt_newsrc_t *n;
  assert_int_equal(nt_newsrc_parse(tin_style, strlen(tin_style), &n), 0);
  /* fills the gap 14363-14364 and joins both neighbours */
  assert_int_equal(nt_newsrc_mark_read(n, "comp.os.linux.misc", 14363, 14364), 0);
  assert_int_equal(nt_newsrc_mark_read(n, "comp.os.linux.misc", 14366, 14366), 0);
  assert_int_equal(nt_newsrc_mark_read(n, "news.answers", 10, 12), 0);
  assert_int_equal(nt_newsrc_mark_read(n, "news.answers", 5, 5), 0);
  assert_int_equal(nt_newsrc_mark_read(n, "news.answers", 6, 9), 0);
  assert_int_equal(nt_newsrc_mark_read(n, "local.new", 1, 3), 0); /* added */
  assert_int_equal(nt_newsrc_mark_read(n, "local.new", 0, 3), NT_EINVAL);
  assert_int_equal(nt_newsrc_mark_read(n, "local.new", 4, 3), NT_EINVAL);
  assert_int_equal(nt_newsrc_mark_read(n, "bad group", 1, 1), NT_EINVAL);
  runs[0] = 0;
  assert_int_equal(nt_newsrc_unread(n, "news.answers", 1, 20, run_cb, NULL), 4 + 8);
  assert_string_equal(runs, "1-4;13-20;");
  char *out;
  assert_int_equal(nt_newsrc_format(n, &out, NULL), 0);
  assert_string_equal(out, "comp.os.linux.misc: 1-14400\n"
                           "news.answers: 5-12\n"
                           "alt.test! 1-120,125\n" /* untouched: as it was */
                           "de.comm.software.newsreader: 1-3200\n"
                           "local.new: 1-3\n");
  free(out);
  nt_newsrc_free(n);
}

static void test_odd_lines_kept(void **state) {
  (void)state;
  /* a malformed range, a duplicate group line, numbers beyond 2^63, CRLF:
   * kept as they were; the first line of a group is the one that counts */
  const char *text = "a.b: 1-x\n"
                     "c.d: 5-3\n"
                     "e.f: 1-2\n"
                     "e.f: 1-900\n"
                     "g.h: 1-99999999999999999999\n"
                     "i.j: 3,1,2\r\n"
                     "  continuation\n";
  char *out = roundtrip(text);
  assert_string_equal(out, text);
  free(out);
  nt_newsrc_t *n;
  assert_int_equal(nt_newsrc_parse(text, strlen(text), &n), 0);
  assert_int_equal(nt_newsrc_subscribed(n, "a.b"), -1);
  assert_false(nt_newsrc_is_read(n, "e.f", 500));
  assert_true(nt_newsrc_is_read(n, "i.j", 2)); /* out of order, merged */
  char buf[32];
  nt_newsrc_ranges(n, "i.j", buf, sizeof buf);
  assert_string_equal(buf, "1-3");
  nt_newsrc_free(n);
}

static void test_save_load(void **state) {
  (void)state;
  char dir[] = "/tmp/newsrc-testXXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/newsrc", dir);
  nt_newsrc_t *n;
  assert_int_equal(nt_newsrc_load(path, &n), 0); /* missing: empty */
  assert_int_equal(nt_newsrc_mark_read(n, "local.test", 1, 5), 0);
  assert_int_equal(nt_newsrc_save(n, path), 0);
  nt_newsrc_free(n);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  chmod(path, 0644);
  assert_int_equal(nt_newsrc_load(path, &n), 0);
  assert_true(nt_newsrc_is_read(n, "local.test", 5));
  assert_int_equal(nt_newsrc_mark_read(n, "local.test", 7, 7), 0);
  assert_int_equal(nt_newsrc_save(n, path), 0);
  nt_newsrc_free(n);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644); /* kept */
  FILE *f = fopen(path, "r");
  char buf[64] = "";
  assert_non_null(fgets(buf, sizeof buf, f));
  fclose(f);
  assert_string_equal(buf, "local.test: 1-5,7\n");
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  assert_int_not_equal(access(tmp, F_OK), 0); /* renamed away */
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_examples),
      cmocka_unit_test(test_queries),
      cmocka_unit_test(test_marks_merge_and_rewrite),
      cmocka_unit_test(test_odd_lines_kept),
      cmocka_unit_test(test_save_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
