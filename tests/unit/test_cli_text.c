/* The one sanitiser every client uses for text from a peer
 * (apps/nettool/cli_text.c), and durations in messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli_text.h"

static const char *clean(const char *in, size_t len, int flags) {
  static char out[256];
  return cli_text_clean(out, sizeof out, in, len, flags);
}
#define CLEAN(lit, flags) clean(lit, sizeof lit - 1, flags)

static void test_escapes_c0_c1_del(void **state) {
  (void)state;
  /* ESC [ 2 J (clear screen), OSC title, BEL */
  assert_string_equal(CLEAN("a\x1b[2Jb", 0), "a?[2Jb");
  assert_string_equal(CLEAN("\x1b]0;pwned\x07x", 0), "?]0;pwned?x");
  assert_string_equal(CLEAN("del\x7f", 0), "del?");
  /* C1 CSI as a raw byte, and UTF-8 encoded (U+009B) */
  assert_string_equal(CLEAN("a\x9b" "31mb", 0), "a?31mb");
  assert_string_equal(CLEAN("a\xc2\x9b" "31mb", 0), "a?31mb");
  assert_string_equal(CLEAN("x\xc2\x85y", 0), "x?y"); /* NEL */
  assert_string_equal(CLEAN("tab\tkept", 0), "tab\tkept");
}

static void test_utf8_kept_and_invalid_replaced(void **state) {
  (void)state;
  assert_string_equal(CLEAN("Gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5", 0),
                      "Gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5");
  assert_string_equal(CLEAN("\xf0\x9f\x98\x80", 0), "\xf0\x9f\x98\x80");
  /* Latin-1 bytes, an overlong '/', a surrogate, a truncated sequence */
  assert_string_equal(CLEAN("caf\xe9", 0), "caf?");
  assert_string_equal(CLEAN("\xc0\xaf", 0), "??");
  assert_string_equal(CLEAN("\xed\xa0\x80", 0), "???");
  assert_string_equal(CLEAN("ab\xe6\x97", 0), "ab??");
}

static void test_line_ends(void **state) {
  (void)state;
  assert_string_equal(CLEAN("a\nb", 0), "a?b");
  assert_string_equal(CLEAN("a\r\nb\n", CLI_TEXT_KEEP_LF), "a\nb\n");
  assert_string_equal(CLEAN("550-one\r\n550 two\r\n", CLI_TEXT_LF_SPACE | CLI_TEXT_TRIM),
                      "550-one 550 two");
  assert_string_equal(CLEAN("a\rb", CLI_TEXT_KEEP_LF), "a?b");
  assert_string_equal(cli_text("HTTP/1.1 200 \x1b[31mOK\r\n", 22), "HTTP/1.1 200 ?[31mOK");
}

static void test_truncation_keeps_characters_whole(void **state) {
  (void)state;
  char out[10];
  cli_text_clean(out, sizeof out, "abcdefghijklmnop", 16, 0);
  assert_string_equal(out, "abcdef...");
  /* a 2-byte character straddling the cut is not split */
  cli_text_clean(out, sizeof out, "abcde\xc3\xbc" "fghijk", 12, 0);
  assert_string_equal(out, "abcde...");
  cli_text_clean(out, sizeof out, "short", 5, 0);
  assert_string_equal(out, "short");
}

static void test_seconds(void **state) {
  (void)state;
  assert_string_equal(cli_secs(1500), "1.5 s");
  assert_string_equal(cli_secs(30000), "30 s");
  assert_string_equal(cli_secs(250), "0.25 s");
  assert_string_equal(cli_secs(1), "0.001 s");
  assert_string_equal(cli_secs(2000), "2 s");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escapes_c0_c1_del),
      cmocka_unit_test(test_utf8_kept_and_invalid_replaced),
      cmocka_unit_test(test_line_ends),
      cmocka_unit_test(test_truncation_keeps_characters_whole),
      cmocka_unit_test(test_seconds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
