/* Private: UNIX sockets shared between unix.c (transport, listener,
 * datagrams) and connect.c (which races nt__attempt_ops for any family and
 * hands a connected AF_UNIX socket here instead of to TCP). */
#ifndef NETTOOL_UNIX_INT_H
#define NETTOOL_UNIX_INT_H

#include <sys/socket.h>

#include "nettool/protocol.h"
#include "nettool/reactor.h"
#include "nettool/udp.h"

/* Starts fd (connected, non-blocking AF_UNIX stream socket) as a UNIX
 * transport running the factory's protocol; takes the fd in all cases. */
int nt__unix_adopt(nt_reactor_t *r, int fd, nt_factory_t *f,
                   const struct sockaddr *peer, socklen_t plen);

/* Binds fd to the UNIX address ss, removing a stale socket file first if a
 * probe finds nobody behind it (type: SOCK_STREAM or SOCK_DGRAM). Returns 0
 * or a negative code. */
int nt__unix_bind(int fd, int type, const struct sockaddr_storage *ss,
                  socklen_t len);

/* udp.c: starts p on fd, a bound datagram socket of any family (takes the
 * fd; closes it on failure, when on_close is not called). on_close (may be
 * NULL) runs once, right after nt_udp_close closes the fd. */
int nt__udp_start_fd(nt_reactor_t *r, int fd, nt_datagram_protocol_t *p,
                     void (*on_close)(void *), void *close_arg,
                     nt_udp_t **out);

#endif
