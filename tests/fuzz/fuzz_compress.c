/* Fuzz the COMPRESS DEFLATE stream handling as a hostile server: an NNTP
 * client on the in-memory transport is taken through set-up to COMPRESS
 * (206), then the input is fed as the server's compressed stream, in
 * chunks whose sizes come from the first byte (a corrupt stream, a
 * compression bomb, a stream that ends, pauses in between). Half of the
 * runs feed raw input (what zlib must refuse cleanly); the other half
 * deflate the input first, so the NNTP layer above sees the fuzzer's
 * replies. Anything may happen except a crash, a leak or unbounded
 * memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nettool/nntp.h"
#include "nettool/testing.h"

static void done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  (void)c, (void)r, (void)arg;
}
static void line(nt_nntp_t *c, const char *l, size_t n, void *arg) {
  (void)c, (void)arg;
  if (l && memchr(l, '\n', n)) abort();
}
static void ready(nt_nntp_t *c, void *arg) {
  (void)arg;
  nt_nntp_group(c, "local.test", done, NULL);
  for (int i = 0; i < 4; i++) nt_nntp_fetch(c, NT_NNTP_BODY, "<a@b>", line, done, NULL);
  nt_nntp_over(c, "1-9", NULL, done, NULL);
}
static const nt_nntp_callbacks_t cbs = {.ready = ready};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t chunk = (data[0] & 0x3f) + 1;
  int squeeze = data[0] & 0x40;
  data++, size--;
  nt_reactor_t *r;
  if (nt_test_reactor_new(&r)) return 0;
  nt_nntp_options_t o = {0};
  o.max_block = 1u << 20;
  nt_nntp_t *c;
  if (nt_nntp_new(r, &o, &cbs, NULL, &c)) {
    nt_test_reactor_free(r);
    return 0;
  }
  nt_test_transport_t *tt = nt_test_transport_new(r, nt_nntp_protocol(c));
  nt_test_feed_str(tt, "200 ok\r\n101 c\r\nREADER\r\nOVER\r\nCOMPRESS DEFLATE\r\n.\r\n"
                       "206 on\r\n");
  nt_test_run_pending(r);
  const uint8_t *in = data;
  size_t n = size;
  unsigned char *z = NULL;
  if (squeeze) { /* the input as the plaintext of a valid stream */
    uLong cap = compressBound((uLong)size) + 64;
    z = malloc(cap);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (z && deflateInit2(&s, 1, Z_DEFLATED, -9, 1, Z_DEFAULT_STRATEGY) == Z_OK) {
      s.next_in = (Bytef *)data;
      s.avail_in = (uInt)size;
      s.next_out = z;
      s.avail_out = (uInt)cap;
      deflate(&s, Z_SYNC_FLUSH);
      n = cap - s.avail_out;
      in = z;
      deflateEnd(&s);
    }
  }
  for (size_t off = 0; off < n && !nt_test_is_lost(tt); off += chunk) {
    size_t k = n - off < chunk ? n - off : chunk;
    nt_test_feed(tt, in + off, k);
    nt_test_run_pending(r);
  }
  free(z);
  nt_test_transport_free(tt);
  nt_test_run_pending(r);
  nt_test_reactor_free(r);
  return 0;
}
