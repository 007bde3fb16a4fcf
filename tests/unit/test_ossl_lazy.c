/* OpenSSL loaded on first use (transports/ossl-lazy.h, NT_OSSL_LAZY): a
 * program linked with libnettool does not map libssl/libcrypto until it
 * needs them; the first call through a stub reaches the real function with
 * its arguments intact (each case runs its first call in a fresh child,
 * so each goes through the slow path); TLS contexts and digests load it
 * themselves and work. This file is built without OpenSSL linked: every
 * call below goes through the stubs. */
#include "ossl-lazy.h" /* first: the stubs' names */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "digest-int.h"
#include "nettool/reactor.h"
#include "nettool/tls.h"
#include "nettool/yenc.h"

/* 1 if /proc/self/maps names a file containing `what`. */
static int mapped(const char *what) {
  FILE *f = fopen("/proc/self/maps", "r");
  assert_non_null(f);
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, what)) found = 1;
  fclose(f);
  return found;
}

/* Runs fn in a child (a process where OpenSSL is not loaded yet): its exit
 * status, 99 if it died. */
static int in_child(int (*fn)(void)) {
  fflush(NULL);
  pid_t p = fork();
  assert_true(p >= 0);
  if (p == 0) _exit(fn());
  int st = 0;
  assert_int_equal(waitpid(p, &st, 0), p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

/* Runs first: nothing has called OpenSSL yet. */
static void test_not_loaded_without_tls(void **state) {
  (void)state;
  assert_false(mapped("libssl.so"));
  assert_false(mapped("libcrypto.so"));
  /* library work that needs no OpenSSL leaves it unloaded */
  nt_reactor_t *r = NULL;
  assert_int_equal(nt_reactor_new(&r, NULL), 0);
  unsigned char out[64];
  int esc = 0;
  assert_int_equal(nt_yenc_decode_raw(out, "\x8b\x8c\r\n", 4, &esc), 2);
  nt__digest_t *d = nt__digest_new(NT__DG_CRC32);
  assert_non_null(d);
  unsigned char dg[NT__DG_MAX];
  assert_int_equal(nt__digest_final(d, dg), 4);
  nt_reactor_free(r);
  assert_false(mapped("libssl.so"));
  assert_false(mapped("libcrypto.so"));
}

/* one argument (%rdi) through the slow path */
static int first_call_version(void) {
  if (mapped("libcrypto.so")) return 1;
  const char *dir = OpenSSL_version(OPENSSL_DIR);
  if (!dir || strncmp(dir, "OPENSSLDIR:", 11)) return 2;
  if (!mapped("libssl.so") || !mapped("libcrypto.so")) return 3;
  /* the pointer now leads straight there */
  const char *v = OpenSSL_version(OPENSSL_VERSION);
  if (!v || strncmp(v, "OpenSSL ", 8)) return 4;
  return 0;
}

/* three arguments (%rdi, %rsi, %rdx) through the slow path: equal buffers
 * compare 0 only if all three arrived (a length of 0 would also give 0, so
 * the second call, straight through, must see the difference) */
static int first_call_memcmp(void) {
  static const char a[] = "0123456789abcdef", b[] = "0123456789abcdeX";
  if (mapped("libcrypto.so")) return 1;
  if (CRYPTO_memcmp(a, b, 15) != 0) return 2;
  if (CRYPTO_memcmp(a, b, 16) == 0) return 3;
  return 0;
}

/* a TLS context loads it itself (nt__ossl_load first) and works */
static int first_tls_ctx(void) {
  nt_tls_ctx_options_t o;
  memset(&o, 0, sizeof o);
  nt_tls_ctx_t *ctx = NULL;
  if (nt_tls_ctx_new(&o, &ctx) != 0 || !ctx) return 2;
  if (!mapped("libssl.so")) return 3;
  nt_tls_ctx_free(ctx);
  return 0;
}

static int first_digest(void) {
  nt__digest_t *d = nt__digest_new(NT__DG_SHA256);
  if (!d) return 2;
  nt__digest_update(d, "abc", 3);
  unsigned char out[NT__DG_MAX];
  if (nt__digest_final(d, out) != 32) return 3;
  /* SHA-256("abc") starts ba7816bf */
  if (out[0] != 0xba || out[1] != 0x78 || out[2] != 0x16 || out[3] != 0xbf) return 4;
  return 0;
}

static void test_first_calls(void **state) {
  (void)state;
  assert_int_equal(in_child(first_call_version), 0);
  assert_int_equal(in_child(first_call_memcmp), 0);
  assert_int_equal(in_child(first_tls_ctx), 0);
  assert_int_equal(in_child(first_digest), 0);
  /* the children loaded it, this process still has not */
  assert_false(mapped("libssl.so"));
}

static void test_load(void **state) {
  (void)state;
  assert_int_equal(nt__ossl_load(), 0);
  assert_string_equal(nt__ossl_error(), "");
  assert_true(mapped("libssl.so"));
  assert_true(mapped("libcrypto.so"));
  assert_int_equal(nt__ossl_load(), 0); /* once */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_not_loaded_without_tls),
      cmocka_unit_test(test_first_calls),
      cmocka_unit_test(test_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
