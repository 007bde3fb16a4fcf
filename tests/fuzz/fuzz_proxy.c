/* Fuzz the proxy handshake machines (transports/proxy_socks5.c,
 * proxy_http.c) as a hostile proxy: the first byte picks the proxy type
 * (SOCKS5, socks5h, HTTP), credentials or not, a numeric or named
 * destination and the chunk size; the rest is the proxy's reply, fed in
 * chunks. The machine must consume only what it was given, end at most
 * once (tunnel open or one NT_E* code), never leave more than its limit
 * buffered, and answer a finished machine with the same result. Then the
 * proxy URL parser, no_proxy matching and the formatter get the same bytes
 * as text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nettool/errno.h"
#include "proxy-int.h"

static nt__proxy_hs_t hs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  nt_proxy_t p;
  memset(&p, 0, sizeof p);
  static const int types[] = {NT_PROXY_SOCKS5, NT_PROXY_SOCKS5H, NT_PROXY_HTTP, NT_PROXY_HTTP};
  p.type = types[mode & 3];
  p.port = 1080;
  strcpy(p.host, "127.0.0.1");
  if (mode & 4) {
    strcpy(p.user, "user");
    strcpy(p.password, "secret");
  }
  const char *dest = mode & 8 ? "news.example.test" : (mode & 16 ? "::1" : "127.0.0.1");
  size_t chunk = (size_t)(mode >> 5) * 5 + 1;
  if (nt__proxy_hs_init(&hs, &p, dest, 119) != 0) abort();
  int result = 0;
  for (size_t pos = 1; pos < size;) {
    size_t n = size - pos < chunk ? size - pos : chunk;
    size_t out_len, used = 0;
    nt__proxy_hs_output(&hs, &out_len);
    if (out_len > sizeof hs.out) abort();
    nt__proxy_hs_sent(&hs);
    int rc = nt__proxy_hs_feed(&hs, data + pos, n, &used);
    if (used > n) abort();
    if (hs.in_len > sizeof hs.in) abort();
    pos += used;
    if (rc != 0) {
      result = rc;
      break;
    }
    if (used == 0) abort(); /* no progress while more was needed */
  }
  if (result) { /* finished: the same answer again, nothing consumed */
    size_t used = 1;
    if (nt__proxy_hs_feed(&hs, "x", 1, &used) != result || used != 0) abort();
    if (result < 0 && (result > NT_EPROXY_BADURL || result < NT_EPROXY_CONNECT)) abort();
  }
  /* the same bytes as a proxy URL and a no_proxy list */
  char text[512];
  size_t tl = size - 1 < sizeof text - 1 ? size - 1 : sizeof text - 1;
  memcpy(text, data + 1, tl);
  text[tl] = 0;
  nt_proxy_t q;
  if (nt_proxy_parse(text, &q) == 0) {
    char buf[900];
    nt_proxy_format(&q, buf, sizeof buf);
    if (q.port < 1 || q.port > 65535 || !q.host[0]) abort();
    if (q.password[0] && strstr(buf, q.password) && strcmp(q.password, "****")) {
      /* the password may only appear as part of another field */
      if (!strstr(q.user, q.password) && !strstr(q.host, q.password)) abort();
    }
  }
  (void)nt_proxy_no_proxy_match(text, "www.example.com");
  (void)nt_proxy_no_proxy_match(text, "192.168.1.7");
  (void)nt_proxy_no_proxy_match("example.com,10.0.0.0/8,::1", text);
  return 0;
}
