/* NT_ZLIB_LAZY: zlib is loaded by the first deflate layer (or an NNTP
 * client about to ask for COMPRESS DEFLATE), not with the library: yEnc's
 * CRC32 is computed without it (issue 13, nntp-get's peak memory). The
 * program is not linked with zlib (tests/CMakeLists.txt). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "compress-int.h"
#include "nettool/yenc.h"

static void test_crc_without_zlib(void **state) {
  (void)state;
  assert_null(dlopen(NT_ZLIB_SONAME, RTLD_NOW | RTLD_NOLOAD));
  /* the check value of CRC-32/ISO-HDLC, short (the tables) and long (the
   * folding where the CPU has PCLMULQDQ) */
  const char *nine = "123456789";
  assert_int_equal(nt_yenc_crc32(0, nine, 9), 0xcbf43926u);
  char big[1000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = nine[i % 9];
  uint32_t whole = nt_yenc_crc32(0, big, sizeof big);
  for (size_t cut = 0; cut <= sizeof big; cut += 37) {
    uint32_t a = nt_yenc_crc32(0, big, cut);
    uint32_t b = nt_yenc_crc32(0, big + cut, sizeof big - cut);
    assert_int_equal(nt_yenc_crc_combine(a, b, sizeof big - cut), whole);
  }
  assert_int_equal(nt_yenc_crc_combine(0x12345678u, 0, 0), 0x12345678u);
  assert_null(dlopen(NT_ZLIB_SONAME, RTLD_NOW | RTLD_NOLOAD)); /* still not */

  assert_int_equal(nt__compress_load(), 0);
  void *h = dlopen(NT_ZLIB_SONAME, RTLD_NOW | RTLD_NOLOAD);
  assert_non_null(h); /* loaded now */
  dlclose(h);
  assert_int_equal(nt__compress_load(), 0); /* once */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc_without_zlib),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
