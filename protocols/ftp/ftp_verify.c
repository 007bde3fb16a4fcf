/* Reading the checksum features and replies of FTP servers:
 * draft-bryan-ftpext-hash-02 (FEAT " HASH SHA-1;SHA-256*;MD5", reply
 * "213 SHA-256 0-1023 <hex> <name>") and the older X commands (FEAT
 * " XSHA256", reply "250 <hex>" or "213 <hex> <name>"). Pure functions. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "digest-int.h"
#include "nettool/ftp_transfer.h"

static int word_is(const char *p, size_t n, const char *w) {
  size_t wl = strlen(w);
  return n == wl && !strncasecmp(p, w, wl);
}

/* One " HASH a;b*;c" line's algorithms. */
static unsigned hash_algs(const char *p, size_t n) {
  unsigned f = 0;
  size_t i = 0;
  while (i < n) {
    size_t s = i;
    while (i < n && p[i] != ';') i++;
    size_t e = i;
    while (e > s && (p[e - 1] == '*' || p[e - 1] == ' ')) e--;
    while (s < e && p[s] == ' ') s++;
    if (word_is(p + s, e - s, "SHA-256")) f |= NT_FTP_HASH_SHA256;
    else if (word_is(p + s, e - s, "SHA-512")) f |= NT_FTP_HASH_SHA512;
    else if (word_is(p + s, e - s, "SHA-1")) f |= NT_FTP_HASH_SHA1;
    else if (word_is(p + s, e - s, "MD5")) f |= NT_FTP_HASH_MD5;
    else if (word_is(p + s, e - s, "CRC32")) f |= NT_FTP_HASH_CRC32;
    i++;
  }
  return f;
}

unsigned nt_ftp_parse_feat_hash(const char *text, size_t len) {
  unsigned f = 0;
  size_t i = 0;
  while (i < len) {
    size_t s = i;
    while (i < len && text[i] != '\n') i++;
    size_t e = i++;
    if (e > s && text[e - 1] == '\r') e--;
    /* feature lines start with a space; the first and last are "211" */
    while (s < e && text[s] == ' ') s++;
    size_t w = s;
    while (w < e && text[w] != ' ') w++;
    if (word_is(text + s, w - s, "HASH")) f |= hash_algs(text + w, e - w);
    else if (word_is(text + s, w - s, "XSHA256")) f |= NT_FTP_XSHA256;
    else if (word_is(text + s, w - s, "XSHA512")) f |= NT_FTP_XSHA512;
    else if (word_is(text + s, w - s, "XSHA1") || word_is(text + s, w - s, "XSHA"))
      f |= NT_FTP_XSHA1;
    else if (word_is(text + s, w - s, "XMD5")) f |= NT_FTP_XMD5;
    else if (word_is(text + s, w - s, "XCRC")) f |= NT_FTP_XCRC;
  }
  return f;
}

int nt_ftp_parse_hash_reply(const char *text, size_t len, size_t want_len,
                            unsigned char *out) {
  size_t i = 0;
  if (!want_len || want_len > NT__DG_MAX) return NT_EFTP_BADREPLY;
  while (i < len) {
    while (i < len && isspace((unsigned char)text[i])) i++;
    size_t s = i;
    while (i < len && !isspace((unsigned char)text[i])) i++;
    if (i - s == 2 * want_len &&
        nt__hex_decode(text + s, i - s, out, want_len) == (int)want_len)
      return 0;
  }
  return NT_EFTP_BADREPLY;
}
