/* UNIX domain sockets: stream listeners and connectors (a path or a Linux
 * abstract name), datagram endpoints, peer credentials and passing file
 * descriptors. A UNIX stream transport is a stream transport like TCP's
 * (transport.h: the same writes, water marks, half-close and closing), on
 * the same stream core. */
#ifndef NETTOOL_UNIX_H
#define NETTOOL_UNIX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <nettool/protocol.h>
#include <nettool/reactor.h>
#include <nettool/transport.h>
#include <nettool/udp.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Names
 * -----
 * A name is a filesystem path ("/run/app.sock", "rel/x.sock") or, on Linux,
 * an abstract name written "@name" (no file; gone with the last socket).
 * Longer than the kernel's sun_path (107 bytes for a path): -ENAMETOOLONG.
 * nt_unix_addr turns a name into a sockaddr_un.
 */
int nt_unix_addr(const char *name, struct sockaddr_storage *ss,
                 socklen_t *len);

/* Formats a UNIX address as its name ("/path", "@abstract") or "(unnamed)"
 * for an unbound peer. Returns buf. */
char *nt_unix_addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
                          size_t size);

/* --- stream listeners -------------------------------------------------------- */

typedef struct nt_unix_listener_s nt_unix_listener_t;

typedef struct nt_unix_listen_options_s {
  int backlog;   /* 0: 511 */
  unsigned mode; /* non-zero: chmod the socket file to this (e.g. 0660) */
} nt_unix_listen_options_t;

/*
 * Listens on a UNIX stream socket. A socket file left at path by a process
 * that is gone (connecting to it is refused) is removed and the name taken,
 * as Twisted does with its lock; one that a live process still accepts on
 * is left alone: NT_EADDRINUSE. Anything at path that is not a socket is
 * never removed (NT_EADDRINUSE). Each accepted connection gets a protocol
 * from f->ops->build_protocol (peer: the client's address, usually
 * unnamed). opts may be NULL. Returns 0, -ENAMETOOLONG, NT_EADDRINUSE,
 * NT_EACCES, NT_ENOENT (no such directory)...
 * The listener is the caller's until nt_unix_listener_close(), which also
 * removes the socket file if it is still the one bound.
 */
int nt_unix_listen_sized(size_t opts_size, nt_reactor_t *r, const char *name,
                         nt_factory_t *f, const nt_unix_listen_options_t *opts,
                         nt_unix_listener_t **out);
#define nt_unix_listen(...) \
  nt_unix_listen_sized(sizeof(nt_unix_listen_options_t), __VA_ARGS__)

/* The bound name as given ("/path" or "@name"). */
const char *nt_unix_listener_name(const nt_unix_listener_t *l);
int nt_unix_listener_fileno(const nt_unix_listener_t *l);

/* Stops accepting, removes the socket file (if still ours) and frees the
 * listener; accepted connections go on. Not from inside build_protocol. */
void nt_unix_listener_close(nt_unix_listener_t *l);

/* --- connecting ----------------------------------------------------------- */

typedef struct nt_unix_connect_options_s {
  uint64_t timeout_ms; /* 0: 30 s */
} nt_unix_connect_options_t;

/*
 * Connects to a UNIX stream socket. As nt_tcp_connect: started_connecting
 * runs before this returns; then connection_made, or connection_failed from
 * the loop (NT_ENOENT: no such socket, NT_ECONNREFUSED: nobody listening,
 * NT_EACCES...). *out may be cancelled with nt_connector_cancel.
 * Returns 0, or -ENAMETOOLONG / NT_EINVAL (no callback then).
 */
int nt_unix_connect_sized(size_t opts_size, nt_reactor_t *r, const char *name,
                          nt_factory_t *f,
                          const nt_unix_connect_options_t *opts,
                          nt_connector_t **out);
#define nt_unix_connect(...) \
  nt_unix_connect_sized(sizeof(nt_unix_connect_options_t), __VA_ARGS__)

/* Wraps a connected UNIX stream socket (socketpair(2), an inherited fd): it
 * becomes the transport's, made non-blocking; connection_made runs before
 * this returns. */
int nt_unix_wrap_fd(nt_reactor_t *r, int fd, nt_protocol_t *p,
                    nt_transport_t **out);

/* --- on a UNIX stream transport ------------------------------------------- */

/* Non-zero if t is a UNIX stream transport. */
int nt_unix_is_unix(const nt_transport_t *t);
int nt_unix_fileno(nt_transport_t *t); /* -1 if not UNIX */

/* The peer's credentials as the kernel recorded them at connect time
 * (SO_PEERCRED). NT_EINVAL on other transports. */
typedef struct nt_unix_cred_s {
  pid_t pid;
  uid_t uid;
  gid_t gid;
} nt_unix_cred_t;
int nt_unix_peer_cred_sized(size_t out_size, nt_transport_t *t,
                            nt_unix_cred_t *out);
#define nt_unix_peer_cred(...) \
  nt_unix_peer_cred_sized(sizeof(nt_unix_cred_t), __VA_ARGS__)

/*
 * Passing file descriptors (SCM_RIGHTS)
 * -------------------------------------
 * Sending: nt_unix_send_fds writes data (at least one byte) with the fds
 * attached to its first byte, in stream order with every other write: bytes
 * written before go first without fds, even if they are still queued. The
 * fds are dup'ed at once (the caller keeps its own); at most
 * NT_UNIX_MAX_FDS per call. Returns as nt_transport_write, or NT_EINVAL.
 *
 * Receiving is off until the protocol turns it on (a transport that does not
 * want descriptors lets the kernel close them): nt_unix_recv_fds(t, max)
 * holds up to max received fds (0: 64) until taken. Descriptors arriving
 * with a chunk are held before that chunk's data_received runs, so the
 * protocol takes them there with nt_unix_take_fds (they are close-on-exec
 * and then the caller's). A peer that sends more than max untaken ends the
 * connection with NT_ETOOBIG; fds still held at close are closed.
 */
#define NT_UNIX_MAX_FDS 64
int nt_unix_send_fds(nt_transport_t *t, const void *data, size_t len,
                     const int *fds, int nfds);
int nt_unix_recv_fds(nt_transport_t *t, unsigned max);
/* Moves up to n held fds (oldest first) to fds[]; returns how many. */
int nt_unix_take_fds(nt_transport_t *t, int *fds, int n);
/* How many are held now. */
int nt_unix_held_fds(nt_transport_t *t);

/* --- datagrams ------------------------------------------------------------------ */

/*
 * A UNIX datagram endpoint is an nt_udp_t (udp.h: the datagram protocol,
 * nt_udp_sendto with a sockaddr_un from nt_unix_addr, nt_udp_connect_addr,
 * nt_udp_close), bound to name, or with name NULL to a fresh abstract name
 * the kernel picks (so peers can answer). A stale socket file is handled as
 * for listeners; nt_udp_close removes the file if still ours. Datagrams up
 * to NT_UDP_MAX_DATAGRAM are delivered whole.
 */
int nt_unix_dgram_bind(nt_reactor_t *r, const char *name,
                       nt_datagram_protocol_t *p, nt_udp_t **out);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
