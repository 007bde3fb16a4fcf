/* URLs (parsing, percent-encoding, references), the request head writer
 * (credentials, overrides, framing headers) and base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http-int.h"
#include "nettool/http.h"
#include "nettool/version.h"

static void check_url(const char *in, int https, const char *host, int port,
                      const char *target, const char *user, const char *pass) {
  nt_url_t u;
  int rc = nt_url_parse(in, &u);
  if (rc) fail_msg("%s: %s", in, nt_strerror(rc));
  assert_int_equal(u.https, https);
  assert_string_equal(u.host, host);
  assert_int_equal(u.port, port);
  assert_string_equal(u.target, target);
  if (user)
    assert_string_equal(u.user, user);
  else
    assert_null(u.user);
  if (pass)
    assert_string_equal(u.password, pass);
  else
    assert_null(u.password);
  nt_url_free(&u);
}

static void test_parse(void **state) {
  (void)state;
  check_url("http://example.org", 0, "example.org", 80, "/", NULL, NULL);
  check_url("HTTPS://Example.ORG/", 1, "example.org", 443, "/", NULL, NULL);
  check_url("http://127.0.0.1:8080/up?x=1&y=2#frag", 0, "127.0.0.1", 8080,
            "/up?x=1&y=2", NULL, NULL);
  check_url("http://[::1]:9000/a", 0, "::1", 9000, "/a", NULL, NULL);
  check_url("https://[2001:db8::1]/", 1, "2001:db8::1", 443, "/", NULL, NULL);
  check_url("http://user:p%40ss%3Aword@host.test/", 0, "host.test", 80, "/",
            "user", "p@ss:word");
  check_url("http://only%20user@host.test:81", 0, "host.test", 81, "/",
            "only user", NULL);
  check_url("http://u:@h.test/", 0, "h.test", 80, "/", "u", "");
  check_url("localhost:8080/x", 0, "localhost", 8080, "/x", NULL, NULL);
  check_url("http://h.test?q", 0, "h.test", 80, "/?q", NULL, NULL);
  check_url("http://h.test:/p", 0, "h.test", 80, "/p", NULL, NULL);
  /* encoding: spaces, quotes, non-ASCII; valid escapes kept, bad ones encoded
   */
  check_url("http://h.test/a b/\"c\"/\xc3\xa9?q=a b", 0, "h.test", 80,
            "/a%20b/%22c%22/%C3%A9?q=a%20b", NULL, NULL);
  check_url("http://h.test/%41%2f%zz%", 0, "h.test", 80, "/%41%2f%25zz%25",
            NULL, NULL);
  /* dot segments */
  check_url("http://h.test/a/b/../c/./d/..", 0, "h.test", 80, "/a/c/", NULL,
            NULL);
  check_url("http://h.test/../../x", 0, "h.test", 80, "/x", NULL, NULL);
  check_url("http://h.test/a/.?q=../", 0, "h.test", 80, "/a/?q=../", NULL,
            NULL);
}

static void test_parse_errors(void **state) {
  (void)state;
  nt_url_t u;
  const struct {
    const char *url;
    int err;
  } bad[] = {
      {"ftp://h.test/", NT_EHTTP_SCHEME},
      {"gopher://h/", NT_EHTTP_SCHEME},
      {"http://", NT_EHTTP_BAD_URL},
      {"http:///path", NT_EHTTP_BAD_URL},
      {"http://h.test:0/", NT_EBADPORT},
      {"http://h.test:65536/", NT_EBADPORT},
      {"http://h.test:8x/", NT_EBADPORT},
      {"http://[::1/", NT_EHTTP_BAD_URL},
      {"http://[::g]/", NT_EHTTP_BAD_URL},
      {"http://[::1]x/", NT_EHTTP_BAD_URL},
      {"http://bad host/", NT_EHTTP_BAD_URL},
      {"http://h.test/\r\nX: y", NT_EHTTP_BAD_URL},
      {"http://u%zz@h.test/", NT_EHTTP_BAD_URL},
      {"http://u%00@h.test/", NT_EHTTP_BAD_URL},
      {"", NT_EHTTP_BAD_URL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = nt_url_parse(bad[i].url, &u);
    if (rc != bad[i].err)
      fail_msg("%s: got %s, want %s", bad[i].url, nt_err_name(rc),
               nt_err_name(bad[i].err));
    assert_null(u.host);
  }
  assert_int_equal(nt_url_parse(NULL, &u), NT_EHTTP_BAD_URL);
  char *huge = malloc(NT_URL_MAX + 20);
  memset(huge, 'a', NT_URL_MAX + 19);
  memcpy(huge, "http://h/", 9);
  huge[NT_URL_MAX + 19] = 0;
  assert_int_equal(nt_url_parse(huge, &u), NT_EHTTP_BAD_URL);
  free(huge);
}

static void check_ref(const char *base, const char *ref, const char *want) {
  nt_url_t b, r;
  assert_int_equal(nt_url_parse(base, &b), 0);
  int rc = nt_url_resolve(&b, ref, &r);
  if (rc) fail_msg("%s + %s: %s", base, ref, nt_strerror(rc));
  char buf[512];
  nt_url_format(&r, buf, sizeof buf);
  if (strcmp(buf, want))
    fail_msg("%s + %s = %s, want %s", base, ref, buf, want);
  nt_url_free(&b);
  nt_url_free(&r);
}

static void test_resolve(void **state) {
  (void)state;
  const char *base = "http://a.test:8080/b/c/d;p?q";
  /* RFC 3986 5.4.1, the ones that apply to http */
  check_ref(base, "g", "http://a.test:8080/b/c/g");
  check_ref(base, "./g", "http://a.test:8080/b/c/g");
  check_ref(base, "g/", "http://a.test:8080/b/c/g/");
  check_ref(base, "/g", "http://a.test:8080/g");
  check_ref(base, "//g.test", "http://g.test/");
  check_ref(base, "?y", "http://a.test:8080/b/c/d;p?y");
  check_ref(base, "g?y", "http://a.test:8080/b/c/g?y");
  check_ref(base, "#s", "http://a.test:8080/b/c/d;p?q");
  check_ref(base, "", "http://a.test:8080/b/c/d;p?q");
  check_ref(base, ".", "http://a.test:8080/b/c/");
  check_ref(base, "..", "http://a.test:8080/b/");
  check_ref(base, "../g", "http://a.test:8080/b/g");
  check_ref(base, "../../../g", "http://a.test:8080/g");
  check_ref(base, "https://other.test/x y", "https://other.test/x%20y");
  check_ref("https://s.test/a", "//t.test:444/z", "https://t.test:444/z");
  check_ref("http://[::1]:81/a/b", "c", "http://[::1]:81/a/c");
  nt_url_t b, r;
  assert_int_equal(nt_url_parse("http://u:p@a.test/", &b), 0);
  assert_int_equal(nt_url_resolve(&b, "/x", &r), 0);
  assert_null(r.user); /* credentials do not follow relative references */
  nt_url_free(&r);
  assert_int_equal(nt_url_resolve(&b, "ftp://x/", &r), NT_EHTTP_SCHEME);
  assert_int_equal(nt_url_resolve(&b, "/a\nb", &r), NT_EHTTP_BAD_URL);
  nt_url_free(&b);
}

static void test_origin_and_format(void **state) {
  (void)state;
  nt_url_t a, b, c, d;
  assert_int_equal(nt_url_parse("http://H.test/x", &a), 0);
  assert_int_equal(nt_url_parse("http://h.test:80/y", &b), 0);
  assert_int_equal(nt_url_parse("https://h.test/y", &c), 0);
  assert_int_equal(nt_url_parse("http://secret:pw@[::1]:8080/p?q", &d), 0);
  assert_true(nt_url_same_origin(&a, &b));
  assert_false(nt_url_same_origin(&a, &c));
  assert_false(nt_url_same_origin(&a, &d));
  char buf[256];
  nt_url_format(&d, buf, sizeof buf);
  assert_string_equal(buf, "http://[::1]:8080/p?q"); /* no credentials */
  nt_url_host_header(&d, buf, sizeof buf);
  assert_string_equal(buf, "[::1]:8080");
  nt_url_host_header(&c, buf, sizeof buf);
  assert_string_equal(buf, "h.test");
  nt_url_t e;
  assert_int_equal(nt_url_copy(&e, &d), 0);
  assert_string_equal(e.password, "pw");
  nt_url_free(&e);
  nt_url_free(&a);
  nt_url_free(&b);
  nt_url_free(&c);
  nt_url_free(&d);
}

static void test_base64(void **state) {
  (void)state;
  char out[64];
  const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *want[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    nt__base64((const unsigned char *)in[i], strlen(in[i]), out);
    assert_string_equal(out, want[i]);
  }
}

static char *head(const char *method, const char *url, const char *const *extra,
                  int drop, const char *user, int64_t clen, int expect) {
  nt_url_t u;
  assert_int_equal(nt_url_parse(url, &u), 0);
  nt__http_head_params_t hp;
  memset(&hp, 0, sizeof hp);
  hp.method = method;
  hp.url = &u;
  hp.extra = extra;
  hp.drop_credentials = drop;
  hp.user = user;
  hp.password = user ? "open sesame" : NULL;
  hp.content_type = clen != -2 ? "text/plain" : NULL;
  hp.content_length = clen;
  hp.expect_continue = expect;
  char *out;
  size_t len;
  assert_int_equal(nt__http_build_head(&hp, &out, &len), 0);
  assert_int_equal(strlen(out), len);
  nt_url_free(&u);
  return out;
}

static void test_request_head(void **state) {
  (void)state;
  char *h = head("GET", "http://h.test:8080/p?q", NULL, 0, NULL, -2, 0);
  assert_string_equal(h, "GET /p?q HTTP/1.1\r\nHost: h.test:8080\r\n"
                         "User-Agent: nettool/" NT_VERSION_STRING "\r\nAccept: */*\r\n\r\n");
  free(h);
  h = head("POST", "http://h.test/", NULL, 0, "Aladdin", 5, 1);
  assert_non_null(
      strstr(h, "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"));
  assert_non_null(
      strstr(h, "Content-Type: text/plain\r\nContent-Length: 5\r\n"));
  assert_non_null(strstr(h, "Expect: 100-continue\r\n"));
  assert_null(strstr(h, "chunked"));
  free(h);
  h = head("POST", "http://h.test/", NULL, 0, NULL, -1, 0);
  assert_non_null(strstr(h, "Transfer-Encoding: chunked\r\n"));
  assert_null(strstr(h, "Content-Length"));
  free(h);
  /* extras replace, remove, add; framing headers cannot be overridden */
  const char *extra[] = {"user-agent: custom/1",
                         "Accept:",
                         "X-Thing:  v  ",
                         "Content-Length: 999",
                         "Transfer-Encoding: gzip",
                         "Authorization: Bearer tok",
                         "Cookie: c=1",
                         NULL};
  h = head("PUT", "http://h.test/", extra, 0, "u", 3, 0);
  assert_non_null(strstr(h, "user-agent: custom/1\r\n"));
  assert_null(strstr(h, "nettool/" NT_VERSION_STRING));
  assert_null(strstr(h, "Accept"));
  assert_non_null(strstr(h, "X-Thing: v  \r\n"));
  assert_non_null(strstr(h, "Content-Length: 3\r\n"));
  assert_null(strstr(h, "999"));
  assert_null(strstr(h, "gzip"));
  assert_non_null(strstr(h, "Authorization: Bearer tok\r\n"));
  assert_null(strstr(h, "Basic")); /* the caller's Authorization wins */
  free(h);
  /* another origin after a redirect: no credentials of any kind */
  h = head("GET", "http://other.test/", extra, 1, "u", -2, 0);
  assert_null(strstr(h, "Authorization"));
  assert_null(strstr(h, "Cookie"));
  assert_non_null(strstr(h, "X-Thing"));
  free(h);
  h = head("GET", "http://[::1]:81/", NULL, 0, NULL, -2, 0);
  assert_non_null(strstr(h, "Host: [::1]:81\r\n"));
  free(h);
}

static void test_header_lines(void **state) {
  (void)state;
  assert_int_equal(nt__http_check_header_line("X-A: b"), 0);
  assert_int_equal(nt__http_check_header_line("X-A:"), 0);
  assert_int_equal(nt__http_check_header_line("X A: b"), NT_EINVAL);
  assert_int_equal(nt__http_check_header_line(": b"), NT_EINVAL);
  assert_int_equal(nt__http_check_header_line("X-A b"), NT_EINVAL);
  assert_int_equal(nt__http_check_header_line("X-A: b\r\nInjected: 1"),
                   NT_EINVAL);
  assert_int_equal(nt__http_check_header_line("X-A: b\n"), NT_EINVAL);
  assert_int_equal(nt__http_check_header_line(""), NT_EINVAL);
  assert_int_equal(nt__http_check_header_line(NULL), NT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_origin_and_format),
      cmocka_unit_test(test_base64),
      cmocka_unit_test(test_request_head),
      cmocka_unit_test(test_header_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
