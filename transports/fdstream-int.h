/* Private: a stream transport over one or two file descriptors (a pipe's
 * ends, a TTY, stdin/stdout, a regular file), on the shared stream core.
 * fdstream.c implements it; the public nettool/fdstream.h and the child
 * processes' pipes (process.c) are built on it. */
#ifndef NETTOOL_FDSTREAM_INT_H
#define NETTOOL_FDSTREAM_INT_H

#include "nettool/protocol.h"
#include "nettool/reactor.h"
#include "nettool/transport.h"

typedef struct nt__fds nt__fds_t;

enum {
  NT__FDS_OWN = 1u << 0,   /* close the fds when the transport closes */
  NT__FDS_NOREF = 1u << 1, /* the owner keeps the reactor alive (process.c) */
  NT__FDS_HANDLE = 1u << 2, /* listed for nt_reactor_close_all */
  NT__FDS_PIPE = 1u << 3,   /* a child's pipe: the ops are named "pipe" */
};

/* Called once the transport is gone (after the protocol's connection_lost
 * and destroy), with the status connection_lost had. */
typedef void (*nt__fds_freed_cb)(void *arg, int status);

/*
 * Makes a transport reading rfd and writing wfd (either may be -1 for a
 * one-way stream; they may be the same fd, a TTY or a socket). Pollable fds
 * are made non-blocking and their file status flags are put back when the
 * transport closes; fds the backend cannot watch (regular files, epoll's
 * EPERM) are served by a zero-delay timer instead, with no thread: a read
 * per turn, and writes, which the kernel never refuses for a file, directly.
 * On failure nothing is closed and no callback runs. The protocol starts
 * with nt__fds_start.
 */
int nt__fds_new(nt_reactor_t *r, int rfd, int wfd, unsigned flags,
                nt__fds_freed_cb freed, void *arg, nt__fds_t **out);
void nt__fds_start(nt__fds_t *f, nt_protocol_t *p);
nt_transport_t *nt__fds_transport(nt__fds_t *f);

#endif
