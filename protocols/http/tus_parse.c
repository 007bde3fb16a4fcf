/* The header values of resumable uploads, parsed by hand (tus-int.h):
 * numbers, comma lists, Retry-After, Upload-Metadata. Fuzzed
 * (tests/fuzz/fuzz_tus.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-int.h"
#include "reactor-int.h"
#include "tus-int.h"

static int is_sp(char c) { return c == ' ' || c == '\t'; }

int nt__tus_parse_u64(const char *s, uint64_t *out) {
  if (!s) return -1;
  while (is_sp(*s)) s++;
  if (*s < '0' || *s > '9') return -1;
  uint64_t x = 0;
  while (*s >= '0' && *s <= '9') {
    unsigned d = (unsigned)(*s - '0');
    if (x > (UINT64_MAX - d) / 10) return -1;
    x = x * 10 + d;
    s++;
  }
  while (is_sp(*s)) s++;
  if (*s) return -1;
  *out = x;
  return 0;
}

int nt__tus_list_has(const char *s, const char *item) {
  if (!s || !item) return 0;
  size_t il = strlen(item);
  while (*s) {
    while (is_sp(*s) || *s == ',') s++;
    const char *b = s;
    while (*s && *s != ',') s++;
    const char *e = s;
    while (e > b && is_sp(e[-1])) e--;
    if ((size_t)(e - b) == il && il && strncasecmp(b, item, il) == 0) return 1;
  }
  return 0;
}

const char *nt__tus_checksum_name(nt__up_ck_t ck) {
  switch (ck) {
  case NT__UP_CK_SHA1: return "sha1";
  case NT__UP_CK_SHA256: return "sha256";
  case NT__UP_CK_MD5: return "md5";
  case NT__UP_CK_NONE: break;
  }
  return NULL;
}

nt__up_ck_t nt__tus_pick_checksum(const char *list) {
  static const nt__up_ck_t order[] = {NT__UP_CK_SHA1, NT__UP_CK_SHA256, NT__UP_CK_MD5};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if (nt__tus_list_has(list, nt__tus_checksum_name(order[i]))) return order[i];
  return NT__UP_CK_NONE;
}

uint64_t nt__tus_retry_after(const char *s) {
  uint64_t secs;
  if (nt__tus_parse_u64(s, &secs)) return 0;
  if (secs > 3600) secs = 3600;
  return secs * 1000;
}

static int meta_key_ok(const char *k) {
  size_t n = strlen(k);
  if (n == 0 || n > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = k[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

int nt__tus_metadata_encode(const char *const *keys, const char *const *values,
                            size_t n, char **out) {
  *out = NULL;
  if (n > NT_UPLOAD_MAX_METADATA) return NT_EINVAL;
  size_t cap = 1;
  for (size_t i = 0; i < n; i++) {
    if (!keys[i] || !values || !values[i] || !meta_key_ok(keys[i])) return NT_EINVAL;
    for (size_t k = 0; k < i; k++)
      if (!strcmp(keys[k], keys[i])) return NT_EINVAL;
    size_t vl = strlen(values[i]);
    if (vl > (16u << 10)) return NT_EINVAL;
    cap += strlen(keys[i]) + 2 + (vl + 2) / 3 * 4 + 1;
  }
  char *buf = nt__malloc(cap);
  if (!buf) return NT_ENOMEM;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (i) buf[o++] = ',';
    size_t kl = strlen(keys[i]);
    memcpy(buf + o, keys[i], kl);
    o += kl;
    size_t vl = strlen(values[i]);
    if (vl) {
      buf[o++] = ' ';
      o += nt__base64((const unsigned char *)values[i], vl, buf + o);
    }
  }
  buf[o] = 0;
  *out = buf;
  return 0;
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int nt__tus_metadata_decode(const char *s,
                            void (*fn)(void *arg, const char *key,
                                       const char *value, size_t len),
                            void *arg) {
  if (!s) return -1;
  while (is_sp(*s)) s++;
  if (!*s) return 0;
  for (;;) {
    while (is_sp(*s)) s++;
    const char *kb = s;
    while (*s && *s != ' ' && *s != ',') s++;
    size_t kl = (size_t)(s - kb);
    if (kl == 0 || kl > 64) return -1;
    char key[65];
    memcpy(key, kb, kl);
    key[kl] = 0;
    if (!meta_key_ok(key)) return -1;
    const char *vb = s, *ve = s;
    if (*s == ' ') {
      while (*s == ' ') s++;
      vb = s;
      while (*s && *s != ',' && *s != ' ') s++;
      ve = s;
      while (*s == ' ') s++;
    }
    size_t el = (size_t)(ve - vb);
    if (el % 4) return -1;
    char *val = nt__malloc(el / 4 * 3 + 1);
    if (!val) return -1;
    size_t o = 0;
    for (size_t i = 0; i < el; i += 4) {
      int a = b64val(vb[i]), b = b64val(vb[i + 1]);
      int c = vb[i + 2] == '=' ? -2 : b64val(vb[i + 2]);
      int d = vb[i + 3] == '=' ? -2 : b64val(vb[i + 3]);
      /* padding only at the very end, and "x=y" is not a form */
      if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2) ||
          ((c == -2 || d == -2) && i + 4 != el)) {
        nt__free(val);
        return -1;
      }
      val[o++] = (char)(a << 2 | b >> 4);
      if (c >= 0) val[o++] = (char)((b & 15) << 4 | c >> 2);
      if (d >= 0) val[o++] = (char)((c & 3) << 6 | d);
    }
    val[o] = 0;
    if (fn) fn(arg, key, val, o);
    nt__free(val);
    if (!*s) return 0;
    if (*s != ',') return -1;
    s++;
  }
}
