/* SOCKS5 (RFC 1928) with user/password authentication (RFC 1929): the
 * client side of the handshake, as a machine over bytes (proxy-int.h).
 *
 *   > 05 N METHODS...        (00 none; 02 user/password when we have one)
 *   < 05 METHOD              (FF: none acceptable)
 *   > 01 ULEN USER PLEN PASS (METHOD 02 only)
 *   < 01 STATUS              (00: accepted)
 *   > 05 01 00 ATYP DST.ADDR DST.PORT   (ATYP 01 IPv4, 04 IPv6, 03 a name)
 *   < 05 REP 00 ATYP BND.ADDR BND.PORT  (REP 00: the tunnel is open)
 */
#include <arpa/inet.h>
#include <string.h>

#include "nettool/errno.h"
#include "proxy-int.h"
#include "reactor-int.h"

static const char *const rep_text[] = {
    "succeeded",
    "general SOCKS server failure",
    "connection not allowed by ruleset",
    "network unreachable",
    "host unreachable",
    "connection refused",
    "TTL expired",
    "command not supported",
    "address type not supported",
};

/* Builds the CONNECT request: numeric addresses as such, names (socks5h,
 * or anything not numeric) as ATYP 03 for the proxy to resolve. */
static void build_request(nt__proxy_hs_t *hs) {
  unsigned char *o = hs->out;
  size_t n = 0;
  o[n++] = 5;
  o[n++] = 1; /* CONNECT */
  o[n++] = 0;
  unsigned char a[16];
  if (inet_pton(AF_INET, hs->host, a) == 1) {
    o[n++] = 1;
    memcpy(o + n, a, 4);
    n += 4;
  } else if (inet_pton(AF_INET6, hs->host, a) == 1) {
    o[n++] = 4;
    memcpy(o + n, a, 16);
    n += 16;
  } else {
    size_t hl = strlen(hs->host); /* <= 255: checked at init */
    o[n++] = 3;
    o[n++] = (unsigned char)hl;
    memcpy(o + n, hs->host, hl);
    n += hl;
  }
  o[n++] = (unsigned char)(hs->port >> 8);
  o[n++] = (unsigned char)(hs->port & 0xff);
  hs->out_len = n;
  hs->in_len = 0;
  hs->state = NT__PX_S5_REPLY;
  explicit_bzero(hs->auth, sizeof hs->auth); /* not needed any more */
  hs->auth_len = 0;
  NT__DEBUG("> SOCKS5 CONNECT %s%s%s:%d", strchr(hs->host, ':') ? "[" : "",
            hs->host, strchr(hs->host, ':') ? "]" : "", hs->port);
}

int nt__proxy_socks5_start(nt__proxy_hs_t *hs) {
  size_t ul = strlen(hs->proxy.user), pl = strlen(hs->proxy.password);
  if (ul > 255 || pl > 255) return NT_EPROXY_BADURL;
  unsigned char *o = hs->out;
  o[0] = 5;
  if (ul) {
    o[1] = 2;
    o[2] = 0; /* no authentication */
    o[3] = 2; /* user/password */
    hs->out_len = 4;
    unsigned char *a = hs->auth;
    size_t n = 0;
    a[n++] = 1;
    a[n++] = (unsigned char)ul;
    memcpy(a + n, hs->proxy.user, ul);
    n += ul;
    a[n++] = (unsigned char)pl;
    memcpy(a + n, hs->proxy.password, pl);
    n += pl;
    hs->auth_len = n;
  } else {
    o[1] = 1;
    o[2] = 0;
    hs->out_len = 3;
  }
  hs->state = NT__PX_S5_METHOD;
  NT__DEBUG("> SOCKS5 hello (methods: none%s)", ul ? ", user/password" : "");
  return 0;
}

/* Collects the reply into hs->in until it holds `want` bytes: 1 when it
 * does, 0 when the input ran out first. */
static int collect(nt__proxy_hs_t *hs, const unsigned char *d, size_t len,
                   size_t *used, size_t want) {
  size_t take = want > hs->in_len ? want - hs->in_len : 0;
  size_t left = len - *used;
  if (take > left) take = left;
  memcpy(hs->in + hs->in_len, d + *used, take);
  hs->in_len += take;
  *used += take;
  return hs->in_len >= want;
}

static int on_method(nt__proxy_hs_t *hs) {
  int ver = hs->in[0], m = hs->in[1];
  if (ver != 5) return nt__proxy_fail(hs, NT_EPROXY_PROTO, "not a SOCKS5 reply (version %d)", ver);
  NT__DEBUG("< SOCKS5 method %d", m);
  if (m == 0) {
    build_request(hs);
    return 0;
  }
  if (m == 2 && hs->auth_len) {
    memcpy(hs->out, hs->auth, hs->auth_len);
    hs->out_len = hs->auth_len;
    explicit_bzero(hs->auth, sizeof hs->auth);
    hs->auth_len = 0;
    hs->in_len = 0;
    hs->state = NT__PX_S5_AUTH;
    NT__DEBUG("> SOCKS5 user/password: %s ****", hs->proxy.user);
    return 0;
  }
  if (m == 0xff)
    return hs->proxy.user[0]
               ? nt__proxy_fail(hs, NT_EPROXY_AUTH,
                                "no acceptable authentication method (offered: none, user/password)")
               : nt__proxy_fail(hs, NT_EPROXY_AUTH,
                                "authentication required (no acceptable method; "
                                "give USER:PASSWORD in the proxy URL)");
  return nt__proxy_fail(hs, NT_EPROXY_PROTO, "chose method %d, which was not offered", m);
}

static int on_auth(nt__proxy_hs_t *hs) {
  int ver = hs->in[0], st = hs->in[1];
  NT__DEBUG("< SOCKS5 user/password status %d", st);
  /* RFC 1929 says version 1; some servers echo the SOCKS version. */
  if (ver != 1 && ver != 5)
    return nt__proxy_fail(hs, NT_EPROXY_PROTO, "bad user/password reply (version %d)", ver);
  if (st != 0)
    return nt__proxy_fail(hs, NT_EPROXY_AUTH,
                          "user '%.64s' rejected (user/password status %d)",
                          hs->proxy.user, st);
  build_request(hs);
  return 0;
}

static int reply_failed(nt__proxy_hs_t *hs, int rep) {
  int status;
  switch (rep) {
  case 1: case 3: case 4: case 5: case 6:
    status = NT_EPROXY_TARGET;
    break;
  case 2: case 7: case 8:
    status = NT_EPROXY_DENIED;
    break;
  default:
    return nt__proxy_fail(hs, NT_EPROXY_PROTO, "CONNECT %s port %d: unknown reply %d",
                          hs->host, hs->port, rep);
  }
  return nt__proxy_fail(hs, status, "CONNECT %s port %d: %s (reply %d)", hs->host,
                        hs->port, rep_text[rep], rep);
}

int nt__proxy_socks5_feed(nt__proxy_hs_t *hs, const unsigned char *d,
                          size_t len, size_t *used) {
  while (*used < len || hs->state == NT__PX_S5_REPLY) {
    switch (hs->state) {
    case NT__PX_S5_METHOD:
      if (!collect(hs, d, len, used, 2)) return 0;
      if (on_method(hs)) return hs->status;
      /* the next message must go out before more of the reply can come */
      return 0;
    case NT__PX_S5_AUTH:
      if (!collect(hs, d, len, used, 2)) return 0;
      if (on_auth(hs)) return hs->status;
      return 0;
    case NT__PX_S5_REPLY: {
      /* VER REP decide; a refusal needs no more (some proxies close
       * right after it). */
      if (!collect(hs, d, len, used, 2)) return 0;
      if (hs->in[0] != 5)
        return nt__proxy_fail(hs, NT_EPROXY_PROTO, "not a SOCKS5 reply (version %d)", hs->in[0]);
      if (hs->in[1] != 0) return reply_failed(hs, hs->in[1]);
      if (!collect(hs, d, len, used, 4)) return 0;
      size_t want;
      switch (hs->in[3]) {
      case 1:
        want = 4 + 4 + 2;
        break;
      case 4:
        want = 4 + 16 + 2;
        break;
      case 3:
        if (!collect(hs, d, len, used, 5)) return 0;
        want = 5 + (size_t)hs->in[4] + 2;
        break;
      default:
        return nt__proxy_fail(hs, NT_EPROXY_PROTO, "bad address type %d in the reply", hs->in[3]);
      }
      if (!collect(hs, d, len, used, want)) return 0;
      NT__DEBUG("< SOCKS5 reply 0 (succeeded)");
      hs->state = NT__PX_DONE;
      return 1;
    }
    default:
      return NT_EINVAL;
    }
  }
  return 0;
}
