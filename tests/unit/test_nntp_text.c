/* NNTP text helpers without I/O: the meaningful-lines filter on crafted
 * bodies, RFC 2047 decoding (B/Q, charsets, adjacent words, bad input),
 * the article model (folded headers, charset and quoted-printable bodies),
 * and the reply/overview/active/date parsers. */
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

/* Runs the filter over lines ('\n'-separated) and returns what shows. */
static char *filter(const char *body, size_t max) {
  static char out[4096];
  size_t o = 0;
  nt_nntp_filter_t f;
  nt_nntp_filter_init(&f, max);
  const char *p = body;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    size_t len = n;
    int k = nt_nntp_filter_line(&f, p, &len);
    if (k == NT_NNTP_FILTER_BLANK_SHOW) out[o++] = '\n';
    if (k != NT_NNTP_FILTER_SKIP) {
      memcpy(out + o, p, len);
      o += len;
      out[o++] = '\n';
    }
    p += n + (nl != NULL);
  }
  out[o] = 0;
  return out;
}

static void test_filter(void **state) {
  (void)state;
  const char *body =
      "\n\n"
      "In article <123@host>, Ann <ann@x> wrote:\n"
      "> quoted\n"
      "> > deeper\n"
      "| bar quoted\n"
      ">>> print('prompt kept')\n"
      "Bob Smith writes:   \n"
      "Real line one   \n"
      "\n\n\n"
      "Real line two\n"
      "  indented stays\n"
      "IN ARTICLE upper case attribution\n"
      "he WROTE:\n"
      "\n";
  assert_string_equal(filter(body, 20),
                      ">>> print('prompt kept')\n"
                      "Real line one\n"
                      "\n"
                      "Real line two\n"
                      "  indented stays\n");
  /* at most N non-blank lines; blank lines do not count */
  assert_string_equal(filter("a\n\nb\nc\nd\n", 2), "a\n\nb\n");
  assert_string_equal(filter("> all\n> quoted\n", 20), "");
  assert_string_equal(filter("x\n", 0), "");
  nt_nntp_filter_t f;
  nt_nntp_filter_init(&f, 1);
  size_t n = 3;
  assert_int_equal(nt_nntp_filter_line(&f, "one", &n), NT_NNTP_FILTER_SHOW);
  assert_true(nt_nntp_filter_full(&f));
  n = 3;
  assert_int_equal(nt_nntp_filter_line(&f, "two", &n), NT_NNTP_FILTER_SKIP);
}

static char *dec(const char *in, const char *fallback) {
  static char buf[1024];
  char *out = NULL;
  size_t n;
  assert_int_equal(nt_nntp_decode_header(in, strlen(in), fallback, &out, &n), 0);
  assert_int_equal(n, strlen(out));
  snprintf(buf, sizeof buf, "%s", out);
  free(out);
  return buf;
}

static void test_encoded_words(void **state) {
  (void)state;
  assert_string_equal(dec("plain ascii", NULL), "plain ascii");
  assert_string_equal(dec("=?UTF-8?B?R3LDvMOfZQ==?=", NULL), "Grüße");
  assert_string_equal(dec("=?ISO-8859-1?Q?J=F6rg_M=FCller?= <j@x>", NULL), "Jörg Müller <j@x>");
  assert_string_equal(dec("=?iso-8859-1?q?a?= =?iso-8859-1?q?b?=", NULL), "ab"); /* RFC 2047 8 */
  assert_string_equal(dec("=?UTF-8?Q?a?=  \t =?UTF-8?Q?_b?=", NULL), "a b");
  assert_string_equal(dec("=?UTF-8?Q?a?= x =?UTF-8?Q?b?=", NULL), "a x b");
  /* a character split across two words */
  assert_string_equal(dec("=?UTF-8?B?w6k=?= =?UTF-8?B?w6g=?=", NULL), "éè");
  assert_string_equal(dec("=?UTF-8?B?ww==?= =?UTF-8?B?qQ==?=", NULL), "é");
  assert_string_equal(dec("=?UTF-8*en?Q?lang?=", NULL), "lang"); /* RFC 2231 */
  assert_string_equal(dec("=?KOI8-R?B?8NLJ18XU?=", NULL), "Привет");
  assert_string_equal(dec("=?windows-1252?Q?=80?=", NULL), "€");
  /* unknown charset: kept as it is */
  assert_string_equal(dec("=?x-nope?Q?abc?= z", NULL), "=?x-nope?Q?abc?= z");
  /* not encoded words */
  assert_string_equal(dec("=?UTF-8?X?abc?=", NULL), "=?UTF-8?X?abc?=");
  assert_string_equal(dec("=?UTF-8?Q?has space?=", NULL), "=?UTF-8?Q?has space?=");
  assert_string_equal(dec("=?", NULL), "=?");
  assert_string_equal(dec("a =?UTF-8?Q?unterminated", NULL), "a =?UTF-8?Q?unterminated");
  /* invalid UTF-8 inside a word: U+FFFD */
  assert_string_equal(dec("=?UTF-8?Q?a=FFb?=", NULL), "a\xef\xbf\xbd" "b");
  /* raw 8-bit: UTF-8 kept, otherwise the fallback charset */
  assert_string_equal(dec("K\xc3\xb6ln", NULL), "Köln");
  assert_string_equal(dec("K\xf6ln", NULL), "Köln");
  assert_string_equal(dec("\x80", "windows-1252"), "€");
  char *out;
  assert_int_equal(nt_nntp_to_utf8("ISO-8859-15", "\xa4", 1, &out, NULL), 0);
  assert_string_equal(out, "€");
  free(out);
  assert_int_equal(nt_nntp_to_utf8("no-such-charset", "x", 1, &out, NULL), NT_EINVAL);
}

static void test_encode_roundtrip(void **state) {
  (void)state;
  const char *samples[] = {"ascii stays", "Grüße aus Köln — ✓",
                           ("a very long subject with ünïcödé that needs several "
                            "encoded words to stay under seventy-five characters each ✓✓✓")};
  for (size_t i = 0; i < 3; i++) {
    char *enc, *back;
    assert_int_equal(nt_nntp_encode_header(samples[i], &enc), 0);
    if (i == 0) assert_string_equal(enc, samples[i]);
    for (char *w = strstr(enc, "=?"); w; w = strstr(w + 2, "=?")) {
      char *e = strstr(w, "?=");
      assert_non_null(e);
      assert_true(e + 2 - w <= 75);
    }
    assert_int_equal(nt_nntp_decode_header(enc, strlen(enc), NULL, &back, NULL), 0);
    assert_string_equal(back, samples[i]);
    free(enc);
    free(back);
  }
}

static void feed_all(nt_nntp_article_t *a, const char *text) {
  const char *p = text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    assert_int_equal(nt_nntp_article_feed(a, p, n), 0);
    p += n + (nl != NULL);
  }
  assert_int_equal(nt_nntp_article_end(a), 0);
}

static void test_article_model(void **state) {
  (void)state;
  nt_nntp_article_t a;
  nt_nntp_article_init(&a);
  feed_all(&a,
           "From: =?ISO-8859-1?Q?Andr=E9?= <a@x>\n"
           "Subject: =?UTF-8?B?8J+Ygg==?= folded\n"
           "  across =?UTF-8?Q?tw=C3=B6?=\n"
           "\tlines\n"
           "Content-Type: text/plain; charset=\"iso-8859-1\"\n"
           "Content-Transfer-Encoding: quoted-printable\n"
           "X-Empty:\n"
           "not a header line\n"
           "\n"
           "caf=E9 soft=\n"
           "break joined\n"
           "raw \xe9t\xe9\n"
           "=3D=20end=\n");
  assert_int_equal(a.nheaders, 5);
  assert_string_equal(nt_nntp_article_header(&a, "subject"),
                      "=?UTF-8?B?8J+Ygg==?= folded  across =?UTF-8?Q?tw=C3=B6?=\tlines");
  assert_string_equal(nt_nntp_article_header(&a, "X-Empty"), "");
  assert_null(nt_nntp_article_header(&a, "Newsgroups"));
  char *s = nt_nntp_article_header_utf8(&a, "Subject");
  assert_string_equal(s, "😂 folded  across twö\tlines");
  free(s);
  s = nt_nntp_article_header_utf8(&a, "From");
  assert_string_equal(s, "André <a@x>");
  free(s);
  assert_int_equal(a.nlines, 3);
  assert_string_equal(a.lines[0], "café softbreak joined");
  assert_string_equal(a.lines[1], "raw été");
  assert_string_equal(a.lines[2], "= end");
  nt_nntp_article_free(&a);

  /* limits: headers, and a collected body */
  nt_nntp_article_init(&a);
  a.max_header_bytes = 64;
  assert_int_equal(nt_nntp_article_feed(&a, "A: 0123456789012345678901234567890123456789", 43), 0);
  assert_int_equal(nt_nntp_article_feed(&a, "B: 0123456789012345678901234567890123456789", 43),
                   NT_ETOOBIG);
  nt_nntp_article_free(&a);
  nt_nntp_article_init(&a);
  a.max_body = 10;
  nt_nntp_article_begin_body(&a);
  assert_int_equal(nt_nntp_article_feed(&a, "12345", 5), 0);
  assert_int_equal(nt_nntp_article_feed(&a, "12345", 5), NT_ETOOBIG);
  nt_nntp_article_free(&a);
  /* out of memory anywhere: an error, never a crash or a leak */
  for (long k = 0; k < 12; k++) {
    nt_nntp_article_init(&a);
    nt_test_fail_alloc_after(k);
    const char *lines[] = {"Subject: =?UTF-8?Q?x?=", " folded", "Content-Type: text/plain; charset=latin1",
                           "", "b\xe9", "c"};
    for (size_t i = 0; i < 6; i++) nt_nntp_article_feed(&a, lines[i], strlen(lines[i]));
    char *v = nt_nntp_article_header_utf8(&a, "Subject");
    nt_test_fail_alloc_after(-1);
    free(v);
    nt_nntp_article_free(&a);
  }
}

/* MIME (issue 10 item 18): the first text/plain part of nested multiparts,
 * base64 decoded across encoded-line boundaries, its own charset; other
 * parts, preamble and epilogue left out; 8-bit text without a charset read
 * as ISO-8859-1 like headers. */
static void test_article_mime(void **state) {
  (void)state;
  nt_nntp_article_t a;
  nt_nntp_article_init(&a);
  /* "Grüße\r\nzweite Zeile\n" in ISO-8859-1, base64 in 8-char lines */
  feed_all(&a,
           "Subject: m\n"
           "MIME-Version: 1.0\n"
           "Content-Type: multipart/mixed;\n"
           "  boundary=\"=_outer; x\"\n"
           "\n"
           "preamble\n"
           "--=_outer; x\n"
           "Content-Type: multipart/alternative; boundary=in\n"
           "\n"
           "--in\n"
           "Content-Type: text/html\n"
           "\n"
           "<p>html first</p>\n"
           "--in  \n"
           "Content-Type: text/plain;\n"
           "\tcharset=iso-8859-1\n"
           "Content-Transfer-Encoding: BASE64\n"
           "\n"
           "R3L832UN\n"
           "Cnp3ZWl0\n"
           "ZSBaZWls\n"
           "ZQo=\n"
           "--in--\n"
           "--=_outer; x\n"
           "Content-Type: text/plain\n"
           "\n"
           "a second text part\n"
           "--=_outer; x--\n"
           "epilogue\n");
  assert_int_equal(a.text_found, 1);
  assert_int_equal(a.nlines, 2);
  assert_string_equal(a.lines[0], "Grüße");
  assert_string_equal(a.lines[1], "zweite Zeile");
  nt_nntp_article_free(&a);

  /* quoted-printable part with no Content-Type: text/plain by default */
  nt_nntp_article_init(&a);
  feed_all(&a,
           "Content-Type: multipart/mixed; boundary=b\n"
           "\n"
           "--b\n"
           "Content-Transfer-Encoding: quoted-printable\n"
           "\n"
           "caf=C3=A9 =\n"
           "au lait\n"
           "--b--\n");
  assert_int_equal(a.nlines, 1);
  assert_string_equal(a.lines[0], "café au lait");
  nt_nntp_article_free(&a);

  /* no text part at all */
  nt_nntp_article_init(&a);
  feed_all(&a,
           "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
           "Content-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0K\n--b--\n");
  assert_int_equal(a.text_found, 0);
  assert_int_equal(a.nlines, 0);
  nt_nntp_article_free(&a);

  /* a single-part base64 text body; and 8-bit text with no charset */
  nt_nntp_article_init(&a);
  feed_all(&a,
           "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
           "b25lCnR3bw==\n");
  assert_int_equal(a.nlines, 2);
  assert_string_equal(a.lines[1], "two");
  nt_nntp_article_free(&a);
  nt_nntp_article_init(&a);
  feed_all(&a, "Subject: x\n\nna\xefve caf\xe9\nvalid UTF-8 \xc3\xa9\n");
  assert_string_equal(a.lines[0], "naïve café");
  assert_string_equal(a.lines[1], "valid UTF-8 é");
  nt_nntp_article_free(&a);
}

static void test_parsers(void **state) {
  (void)state;
  uint64_t count, low, high, num;
  nt_nntp_str_t s;
  const char *g = "1234 5 1238 comp.lang.c more";
  assert_int_equal(nt_nntp_parse_group(g, strlen(g), &count, &low, &high, &s), 0);
  assert_true(count == 1234 && low == 5 && high == 1238);
  assert_int_equal(s.n, 11);
  assert_int_equal(nt_nntp_parse_group("1 2", 3, &count, &low, &high, &s), NT_ENNTP_BADREPLY);
  assert_int_equal(nt_nntp_parse_group("99999999999999999999 1 2 g", 26, &count, &low, &high, &s),
                   NT_ENNTP_BADREPLY);
  assert_int_equal(nt_nntp_parse_article_reply("10 <a@b> article", 16, &num, &s), 0);
  assert_true(num == 10 && s.n == 5);
  assert_int_equal(nt_nntp_parse_article_reply("0 junk", 6, &num, &s), 0);
  assert_int_equal(s.n, 0);

  nt_nntp_overview_t o;
  const char *l = "7\tSubj\tA <a@b>\tMon, 1 Jan 2024 00:00:00 +0000\t<m@b>\t<r@b>\t 1234\t 56\tXref: a:7\tX-Other: y";
  assert_int_equal(nt_nntp_parse_overview(l, strlen(l), &o), 0);
  assert_true(o.number == 7 && o.bytes == 1234 && o.lines == 56);
  assert_int_equal(o.subject.n, 4);
  assert_int_equal(o.extra.n, strlen("Xref: a:7\tX-Other: y"));
  assert_int_equal(nt_nntp_parse_overview("7\ta\tb", 5, &o), NT_ENNTP_BADREPLY);
  assert_int_equal(nt_nntp_parse_overview("x\ta\tb\tc\td\te\tf\tg", 15, &o), NT_ENNTP_BADREPLY);
  assert_int_equal(nt_nntp_parse_overview("1\t\t\t\t\t\t\t", 8, &o), 0);
  assert_int_equal(o.extra.n, 0);

  nt_nntp_active_t a;
  assert_int_equal(nt_nntp_parse_active("local.test 0000000005 0000000001 y", 34, &a), 0);
  assert_true(a.high == 5 && a.low == 1 && a.status == 'y' && a.group.n == 10);
  assert_int_equal(nt_nntp_parse_active("g 1 2", 5, &a), NT_ENNTP_BADREPLY);

  time_t t;
  assert_int_equal(nt_nntp_parse_date("20261122151100", 14, &t), 0);
  assert_int_equal((long long)t, 1795360260LL);
  assert_int_equal(nt_nntp_parse_date("2026112215110", 13, &t), NT_EINVAL);
  assert_int_equal(nt_nntp_parse_date("20261322151100", 14, &t), NT_EINVAL);
  const char *d = "Sun, 22 Nov 2026 16:11:00 +0100";
  assert_int_equal(nt_nntp_parse_rfc5322_date(d, strlen(d), &t), 0);
  assert_int_equal((long long)t, 1795360260LL);
  d = "22 Nov 26 10:11 EST";
  assert_int_equal(nt_nntp_parse_rfc5322_date(d, strlen(d), &t), 0);
  assert_int_equal((long long)t, 1795360260LL);
  d = "Mon, 23 Nov 2026 13:02:53 -0000 (UTC)";
  assert_int_equal(nt_nntp_parse_rfc5322_date(d, strlen(d), &t), 0);
  assert_int_equal(nt_nntp_parse_rfc5322_date("yesterday", 9, &t), NT_EINVAL);
  assert_int_equal(nt_nntp_parse_rfc5322_date("", 0, &t), NT_EINVAL);

  assert_true(nt_nntp_valid_message_id("<a@b>"));
  assert_false(nt_nntp_valid_message_id("<a b>"));
  assert_false(nt_nntp_valid_message_id("a@b"));
  assert_false(nt_nntp_valid_message_id("<>"));
  assert_true(nt_nntp_valid_group("comp.lang.c"));
  assert_false(nt_nntp_valid_group("a b"));
  assert_false(nt_nntp_valid_group("a*"));
  assert_true(nt_nntp_valid_range("5"));
  assert_true(nt_nntp_valid_range("5-"));
  assert_true(nt_nntp_valid_range("5-10"));
  assert_false(nt_nntp_valid_range("-5"));
  assert_false(nt_nntp_valid_range("5-x"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter),
      cmocka_unit_test(test_encoded_words),
      cmocka_unit_test(test_encode_roundtrip),
      cmocka_unit_test(test_article_model),
      cmocka_unit_test(test_article_mime),
      cmocka_unit_test(test_parsers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
