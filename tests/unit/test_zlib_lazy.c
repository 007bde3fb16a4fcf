/* NT_ZLIB_LAZY: zlib is not linked with the library; the first deflate
 * layer, the first NNTP client to ask for COMPRESS DEFLATE, or the first
 * yEnc CRC32 loads it (issue 13: a process that does none of them does
 * not carry it). The program is not linked with zlib (tests/CMakeLists.txt). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "compress-int.h"
#include "nettool/yenc.h"

static void test_loaded_by_the_first_crc(void **state) {
  (void)state;
  assert_null(dlopen(NT_ZLIB_SONAME, RTLD_NOW | RTLD_NOLOAD));
  /* the check value of CRC-32/ISO-HDLC: short (zlib's, loading it) */
  const char *nine = "123456789";
  assert_int_equal(nt_yenc_crc32(0, nine, 9), 0xcbf43926u);
  void *h = dlopen(NT_ZLIB_SONAME, RTLD_NOW | RTLD_NOLOAD);
  assert_non_null(h); /* loaded now */
  dlclose(h);
  /* long (the folding where the CPU has PCLMULQDQ, zlib for the ends),
   * and the combining, at every cut */
  char big[1000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = nine[i % 9];
  uint32_t whole = nt_yenc_crc32(0, big, sizeof big);
  for (size_t cut = 0; cut <= sizeof big; cut += 37) {
    uint32_t a = nt_yenc_crc32(0, big, cut);
    uint32_t b = nt_yenc_crc32(0, big + cut, sizeof big - cut);
    assert_int_equal(nt_yenc_crc_combine(a, b, sizeof big - cut), whole);
  }
  assert_int_equal(nt_yenc_crc_combine(0x12345678u, 0, 0), 0x12345678u);
  assert_int_equal(nt__compress_load(), 0); /* once */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loaded_by_the_first_crc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
