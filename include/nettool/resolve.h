/* Asynchronous name resolution (c-ares, driven by the reactor) and the
 * address type the connector races. */
#ifndef NETTOOL_RESOLVE_H
#define NETTOOL_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <nettool/reactor.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Ownership: a resolver belongs to its creator and to one reactor; free it
 * with nt_resolver_free() before the reactor. Lookups are nettool's: a lookup
 * handle is valid until its callback has run. Callbacks always run from the
 * loop, never from inside nt_resolve().
 *
 * Every socket c-ares opens is watched by the reactor's backend and its
 * timeouts run on one reactor timer; nothing blocks and no thread is used.
 */

typedef struct nt_resolver_s nt_resolver_t;
typedef struct nt_resolve_s nt_resolve_t;

typedef struct nt_address_s {
  struct sockaddr_storage addr;
  socklen_t len;
} nt_address_t;

typedef struct nt_resolver_options_s {
  /* Comma-separated servers, each "IP" or "IP:PORT" ("[IPv6]:PORT"); NULL
   * takes /etc/resolv.conf. */
  const char *servers;
  uint64_t timeout_ms; /* per try; 0: the system's (resolv.conf) or 2 s */
  int tries;           /* 0: the system's or 3 */
  int no_hosts_file;   /* non-zero: skip /etc/hosts */
  /* Most lookups handed to c-ares at once; more wait in FIFO order. A burst
   * of thousands of UDP queries overflows a server's socket buffer and then
   * waits out retry timeouts; a window keeps the pipe full without that.
   * 0: 64. */
  int max_inflight;
} nt_resolver_options_t;

/* Creates a resolver. Returns 0, NT_EINVAL for a bad server list,
 * NT_ENOMEM, or NT_EDNS_FAIL if c-ares cannot start. */
int nt_resolver_new_sized(size_t opts_size, nt_reactor_t *r,
                          const nt_resolver_options_t *opts,
                          nt_resolver_t **out);
#define nt_resolver_new(...) \
  nt_resolver_new_sized(sizeof(nt_resolver_options_t), __VA_ARGS__)

/* Frees the resolver; lookups still waiting for an answer get NT_ECANCELED
 * before it returns (answers already queued are delivered from the loop). */
void nt_resolver_free(nt_resolver_t *res);

/* The reactor's shared resolver (system configuration), made on first use
 * and freed with the reactor. NULL if it cannot be made. */
nt_resolver_t *nt_reactor_resolver(nt_reactor_t *r);

/*
 * Called once per lookup: status 0 with n >= 1 addresses in RFC 6724 order
 * (port set to the port asked for), or a negative code: NT_EDNS_NXDOMAIN,
 * NT_EDNS_NODATA, NT_EDNS_TIMEOUT, NT_EDNS_REFUSED, NT_EDNS_SERVFAIL,
 * NT_ECANCELED... addrs is valid only during the call.
 */
typedef void (*nt_resolve_cb)(void *arg, int status, const nt_address_t *addrs,
                              size_t n);

/*
 * Looks up name (family AF_UNSPEC, AF_INET or AF_INET6). A numeric address
 * answers without DNS. Names are checked before any packet is sent: empty,
 * over 253 bytes, a label over 63 bytes or empty, or a byte that cannot be in
 * a host name gives NT_EDNS_BADNAME right away (no callback); a port outside
 * 0..65535 gives NT_EBADPORT. Any number of lookups may be in flight.
 */
int nt_resolve(nt_resolver_t *res, const char *name, int port, int family,
               nt_resolve_cb cb, void *arg, nt_resolve_t **out);

/* Cancels a pending lookup: its callback runs with NT_ECANCELED, from the
 * loop. */
void nt_resolve_cancel(nt_resolve_t *q);

/* Checks a host name as nt_resolve does; 0 or NT_EDNS_BADNAME, with a short
 * reason in *why (static text) when why is not NULL. */
int nt_hostname_check(const char *name, const char **why);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
