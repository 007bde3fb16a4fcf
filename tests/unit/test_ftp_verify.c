/* The FTP checksum readers (protocols/ftp/ftp_verify.c): which checksum
 * commands a FEAT reply offers (HASH with its algorithm list, the X
 * commands), and the digest in HASH / XSHA256 / XMD5 / XCRC replies as
 * ProFTPD's mod_digest and others write them, fed whole and cut short at
 * every byte (a cut reply never yields a digest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "digest-int.h"
#include "nettool/ftp_transfer.h"

static void test_feat(void **state) {
  (void)state;
  /* ProFTPD 1.3.8 + mod_digest, as nt_ftp's FEAT result text has it */
  const char *proftpd =
      "Features:\n AUTH TLS\n EPSV\n HASH CRC32;MD5;SHA-1*;SHA-256;SHA-512;\n"
      " MDTM\n REST STREAM\n SIZE\n XCRC\n XMD5\n XSHA\n XSHA1\n XSHA256\n"
      " XSHA512\nEnd";
  unsigned f = nt_ftp_parse_feat_hash(proftpd, strlen(proftpd));
  assert_int_equal(f, NT_FTP_HASH_SHA256 | NT_FTP_HASH_SHA512 | NT_FTP_HASH_SHA1 |
                          NT_FTP_HASH_MD5 | NT_FTP_HASH_CRC32 | NT_FTP_XSHA256 |
                          NT_FTP_XSHA512 | NT_FTP_XSHA1 | NT_FTP_XMD5 | NT_FTP_XCRC);
  /* vsftpd: none */
  const char *vsftpd = "Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n"
                       " SIZE\r\n TVFS\r\nEnd";
  assert_int_equal(nt_ftp_parse_feat_hash(vsftpd, strlen(vsftpd)), 0);
  /* case, CRLF, only some algorithms; a word that only starts like one */
  const char *some = "Features:\r\n hash sha-256*\r\n XMD5\r\n XSHA256X\r\n HASHES MD5\r\nEnd";
  assert_int_equal(nt_ftp_parse_feat_hash(some, strlen(some)),
                   NT_FTP_HASH_SHA256 | NT_FTP_XMD5);
  assert_int_equal(nt_ftp_parse_feat_hash("", 0), 0);
}

static void test_hash_replies(void **state) {
  (void)state;
  const char *sha =
      "2547c27cb114602bedb74a01a951b58f76fc4a049efc91dbfac2c5cf7b0cd390";
  unsigned char want[32], got[NT__DG_MAX];
  assert_int_equal(nt__hex_decode(sha, 64, want, sizeof want), 32);
  const char *replies[] = {
      /* HASH (draft-bryan-ftpext-hash-02), ProFTPD's two lines */
      "Computing SHA-256 digest\nSHA-256 0-1048576 "
      "2547c27cb114602bedb74a01a951b58f76fc4a049efc91dbfac2c5cf7b0cd390 digest.bin",
      /* XSHA256 with and without the name, upper case */
      "2547c27cb114602bedb74a01a951b58f76fc4a049efc91dbfac2c5cf7b0cd390",
      "2547C27CB114602BEDB74A01A951B58F76FC4A049EFC91DBFAC2C5CF7B0CD390 digest.bin",
  };
  for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
    size_t n = strlen(replies[i]);
    memset(got, 0, sizeof got);
    assert_int_equal(nt_ftp_parse_hash_reply(replies[i], n, 32, got), 0);
    assert_memory_equal(got, want, 32);
    /* cut short anywhere inside the digest: never a (wrong) digest */
    const char *d = strstr(replies[i], "2547");
    if (!d) d = strstr(replies[i], "2547C");
    size_t start = (size_t)(d - replies[i]);
    for (size_t cut = start; cut < start + 64; cut++)
      assert_int_equal(nt_ftp_parse_hash_reply(replies[i], cut, 32, got),
                       NT_EFTP_BADREPLY);
  }
  /* XCRC: 8 hex digits */
  unsigned char crc[4];
  assert_int_equal(nt_ftp_parse_hash_reply("0ea6afee", 8, 4, crc), 0);
  assert_int_equal(crc[0], 0x0e);
  assert_int_equal(crc[3], 0xee);
  /* the wrong length, not hex, nothing */
  assert_int_equal(nt_ftp_parse_hash_reply("0ea6afee", 8, 32, got), NT_EFTP_BADREPLY);
  assert_int_equal(nt_ftp_parse_hash_reply("0ea6afeg", 8, 4, crc), NT_EFTP_BADREPLY);
  assert_int_equal(nt_ftp_parse_hash_reply("", 0, 4, crc), NT_EFTP_BADREPLY);
  assert_int_equal(nt_ftp_parse_hash_reply("abcd", 4, 0, crc), NT_EFTP_BADREPLY);
}

static void test_crc32(void **state) {
  (void)state;
  /* the check value of CRC-32/ISO-HDLC */
  nt__digest_t *d = nt__digest_new(NT__DG_CRC32);
  nt__digest_update(d, "123456789", 9);
  unsigned char out[NT__DG_MAX];
  assert_int_equal(nt__digest_final(d, out), 4);
  assert_int_equal(out[0], 0xcb);
  assert_int_equal(out[1], 0xf4);
  assert_int_equal(out[2], 0x39);
  assert_int_equal(out[3], 0x26);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_feat),
      cmocka_unit_test(test_hash_replies),
      cmocka_unit_test(test_crc32),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
