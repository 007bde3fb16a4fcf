/* Private: one TCP connection attempt, and adopting a connected socket. The
 * connector (connect.c) races attempts; unit tests replace nt__attempt_ops
 * with scripted attempts to run the race on the virtual clock. */
#ifndef NETTOOL_TCP_INT_H
#define NETTOOL_TCP_INT_H

#include <sys/socket.h>

#include "nettool/protocol.h"
#include "nettool/reactor.h"

typedef struct nt__attempt nt__attempt_t;

/* status 0: connected, and fd is now the callee's; otherwise fd is -1. Runs
 * from the loop; the attempt is freed after it returns. */
typedef void (*nt__attempt_cb)(void *arg, nt__attempt_t *a, int status,
                               int fd);

typedef struct nt__attempt_ops {
  /* Returns 0 (the callback follows, unless cancelled) or an error (none). */
  int (*start)(nt_reactor_t *r, const struct sockaddr *sa, socklen_t salen,
               nt__attempt_cb cb, void *arg, nt__attempt_t **out);
  /* No callback after this; frees the attempt. */
  void (*cancel)(nt__attempt_t *a);
} nt__attempt_ops_t;

extern const nt__attempt_ops_t nt__tcp_attempt_ops;
extern const nt__attempt_ops_t *nt__attempt_ops; /* test hook */

/* Test hook: non-zero makes every sendfile(2) of a TCP connection fail as
 * a file system without splice support does (EINVAL), so the read + send
 * fallback of file ranges can be tested. */
extern int nt__tcp_sendfile_refused;

/* Starts fd (connected, non-blocking) as a TCP connection running the
 * factory's protocol; takes the fd in all cases. */
int nt__tcp_adopt(nt_reactor_t *r, int fd, nt_factory_t *f,
                  const struct sockaddr *peer, socklen_t plen, int nodelay,
                  int keepalive_s);

#endif
