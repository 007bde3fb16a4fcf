/* Proxies: every TCP client can reach its server through a SOCKS5 proxy
 * (RFC 1928, user/password RFC 1929) or an HTTP proxy's CONNECT tunnel
 * (basic auth). The tunnel is set up by the connector (tcp.h, the `proxy`
 * field of nt_tcp_connect_options_t) on the TCP stream to the proxy, before
 * the protocol (and before TLS, which then runs end to end through the
 * tunnel and verifies the ORIGIN host's name) sees the connection. */
#ifndef NETTOOL_PROXY_H
#define NETTOOL_PROXY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef enum {
  NT_PROXY_NONE = 0,
  NT_PROXY_HTTP,    /* http://: CONNECT host:port, basic auth */
  NT_PROXY_SOCKS5,  /* socks5://: names resolved here, the proxy gets IPs */
  NT_PROXY_SOCKS5H, /* socks5h://: names resolved by the proxy */
} nt_proxy_type_t;

#define NT_PROXY_DEFAULT_PORT 1080

/*
 * A proxy, by value: plain strings, so it can be copied freely (the
 * connector keeps its own copy for the whole connect). A zeroed struct is
 * "no proxy". user/password are empty when none; each at most 255 bytes
 * (RFC 1929's limit, checked by nt_proxy_parse).
 */
typedef struct nt_proxy_s {
  int type;      /* nt_proxy_type_t */
  int port;      /* 1..65535 */
  char host[256]; /* name or numeric address, IPv6 without brackets */
  char user[256];
  char password[256];
} nt_proxy_t;

/*
 * Parses a proxy URL as curl takes them: [SCHEME://][USER[:PASSWORD]@]HOST
 * [:PORT][/], SCHEME one of http, socks5, socks5h (no scheme: http; "socks"
 * is not guessed), PORT by default 1080, user and password percent-decoded,
 * IPv6 hosts in brackets. Returns 0, or NT_EPROXY_BADURL (malformed, an
 * unsupported scheme such as https:// or socks4://, a credential over 255
 * bytes). *out is zeroed first.
 */
int nt_proxy_parse(const char *url, nt_proxy_t *out);

/*
 * Whether host bypasses the proxy by a no_proxy list as curl reads it:
 * names and addresses separated by commas (and/or spaces); "*" alone
 * matches every host; a name matches itself and its subdomains (a leading
 * dot is ignored: ".example.com" and "example.com" both match
 * "www.example.com"), case-insensitively; an IPv4/IPv6 entry matches that
 * address, or a network with /BITS (CIDR), when host is a numeric address.
 * Returns 1 (go direct) or 0.
 */
int nt_proxy_no_proxy_match(const char *no_proxy, const char *host);

/*
 * The proxy the environment names for a URL scheme ("http", "https",
 * "ftp", "nntp"...) and host, read as curl does: no_proxy (then NO_PROXY)
 * first; then SCHEME_proxy in lower case, and in upper case too unless the
 * scheme is http (HTTP_PROXY is ignored: a CGI program gets the request's
 * "Proxy:" header as HTTP_PROXY); then all_proxy, then ALL_PROXY. Empty
 * variables count as unset. Returns 1 with *out set, 0 when the host goes
 * direct, or NT_EPROXY_BADURL when the variable found is malformed.
 */
int nt_proxy_from_env(const char *scheme, const char *host, nt_proxy_t *out);

/* "socks5h://user:****@host:1080" (the password never shown; IPv6 in
 * brackets) into buf; returns buf. */
char *nt_proxy_format(const nt_proxy_t *p, char *buf, size_t size);

/*
 * What the proxy said when the last proxy handshake on this thread failed,
 * e.g. "SOCKS5 proxy 127.0.0.1:1080: connect to 127.0.0.1:1 refused by the
 * ruleset (reply 2)" or "HTTP proxy 127.0.0.1:8888: HTTP/1.0 407 Proxy
 * Authentication Required"; "" when none. Escaped (no control bytes).
 * Thread-local, valid until the next handshake fails on this thread.
 */
const char *nt_proxy_last_error(void);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
