/* UDP: bound and connected datagram endpoints and the datagram protocol. */
#ifndef NETTOOL_UDP_H
#define NETTOOL_UDP_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <nettool/reactor.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef struct nt_udp_s nt_udp_t;
typedef struct nt_datagram_protocol_s nt_datagram_protocol_t;
typedef struct nt_datagram_protocol_ops_s nt_datagram_protocol_ops_t;

/*
 * A datagram protocol is a struct whose first member is
 * nt_datagram_protocol_t. Lifecycle: connection_made (the endpoint is bound),
 * datagram_received and error_received any number of times, connection_lost
 * once after nt_udp_close, then destroy. data is valid only during the call.
 */
struct nt_datagram_protocol_ops_s {
  void (*connection_made)(nt_datagram_protocol_t *p, nt_udp_t *u);
  void (*datagram_received)(nt_datagram_protocol_t *p, const char *data,
                            size_t len, const struct sockaddr *from,
                            socklen_t fromlen);
  /* An error reported by the socket, e.g. NT_ECONNREFUSED on a connected
   * endpoint after the peer's port answered ICMP unreachable. */
  void (*error_received)(nt_datagram_protocol_t *p, int err);
  void (*connection_lost)(nt_datagram_protocol_t *p, int status);
  void (*destroy)(nt_datagram_protocol_t *p);
};

struct nt_datagram_protocol_s {
  const nt_datagram_protocol_ops_t *ops;
  nt_udp_t *udp; /* set before connection_made */
};

typedef struct nt_udp_options_s {
  int reuseport; /* SO_REUSEPORT: several reactors share the port */
  int ipv6_only;
} nt_udp_options_t;

/* Largest datagram delivered whole; longer ones are truncated by the kernel
 * and reported through error_received(NT_EMSGSIZE). */
#define NT_UDP_MAX_DATAGRAM 65536

/*
 * Binds addr:port (numeric; NULL or "" is "::" dual-stack; port 0 picks one)
 * and starts p on it (connection_made runs before this returns). The endpoint
 * is the caller's until nt_udp_close(). Returns 0 or a negative code.
 */
int nt_udp_bind_sized(size_t opts_size, nt_reactor_t *r, const char *addr,
                      int port, nt_datagram_protocol_t *p,
                      const nt_udp_options_t *opts, nt_udp_t **out);
#define nt_udp_bind(...) \
  nt_udp_bind_sized(sizeof(nt_udp_options_t), __VA_ARGS__)

/* Connected UDP: only datagrams from host:port are received, nt_udp_send
 * needs no address, and ICMP errors come back as error_received. */
int nt_udp_connect(nt_udp_t *u, const char *host, int port);
int nt_udp_connect_addr(nt_udp_t *u, const struct sockaddr *sa,
                        socklen_t len);

/* Sends one datagram. The data (and the address) are copied before the
 * call returns: the caller's buffers are free to change at once.
 * On epoll and poll the datagram is sent now and never queued: a full
 * socket buffer gives NT_EAGAIN and the datagram is dropped, as the network
 * may drop it; errors (NT_EMSGSIZE, NT_ECONNREFUSED...) are returned here.
 * On io_uring it is queued and handed to the kernel with the loop's next
 * turn, so it is on the wire when the loop next runs, not when this
 * returns; a full socket buffer makes it wait (not dropped) while the
 * endpoint's queue holds it: 1024 datagrams or 1 MiB, beyond which
 * NT_EAGAIN. Errors the kernel finds when sending then come back through
 * error_received, from the loop; this returns only NT_ECLOSED, NT_EAGAIN,
 * NT_ENOMEM or NT_EINVAL. Datagrams queued before nt_udp_close are handed
 * to the kernel by it; those still waiting for room are dropped. */
int nt_udp_sendto(nt_udp_t *u, const void *data, size_t len,
                  const struct sockaddr *to, socklen_t tolen);
int nt_udp_send(nt_udp_t *u, const void *data, size_t len);
/* One datagram gathered from several buffers (to may be NULL when
 * connected). */
int nt_udp_sendtov(nt_udp_t *u, const struct iovec *iov, int iovcnt,
                   const struct sockaddr *to, socklen_t tolen);

int nt_udp_local_address(const nt_udp_t *u, struct sockaddr_storage *ss,
                         socklen_t *len);
int nt_udp_port(const nt_udp_t *u);

/* The reactor the endpoint runs on. */
nt_reactor_t *nt_udp_reactor(const nt_udp_t *u);

/* Closes the endpoint; connection_lost(0) and destroy follow from the loop. */
void nt_udp_close(nt_udp_t *u);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
