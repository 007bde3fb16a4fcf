/* Any file descriptor as a stream transport: stdin/stdout, pipes, a TTY, a
 * socket made elsewhere, a regular file (Twisted's StandardIO and
 * FileDescriptor, libuv's uv_pipe_open/uv_tty_t). */
#ifndef NETTOOL_FDSTREAM_H
#define NETTOOL_FDSTREAM_H

#include <stddef.h>

#include <nettool/protocol.h>
#include <nettool/reactor.h>
#include <nettool/transport.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * The transport reads rfd and writes wfd through the shared stream core, so
 * writes, water marks, write_eof, lose_connection and abort behave as on TCP
 * (transport.h). Either fd may be -1 for a one-way stream (a read-only
 * stream starts with its write side finished: writes return NT_ECLOSED; a
 * write-only one ends after write_eof has flushed, or when the reader of
 * its pipe goes away); both may be the same fd (a TTY, a socket).
 *
 * How each fd is served:
 *   - pipes, sockets, TTYs and other pollable fds are made non-blocking
 *     (O_NONBLOCK) and watched by the reactor; their file status flags are
 *     put back when the transport closes. O_NONBLOCK is a property of the
 *     open file description, so a TTY or pipe shared with another process
 *     (the shell's terminal) sees it too while the transport is open;
 *   - regular files, and fds the backend refuses (epoll refuses /dev/null),
 *     are served with no thread by a zero-delay timer: one bounded read per
 *     loop turn while reading, and writes straight to the file (the kernel
 *     never answers EAGAIN for one).
 * write_eof closes wfd (when it differs from rfd) so its reader sees end of
 * file; on a socket it is shutdown(SHUT_WR); a TTY used both ways cannot
 * half-close. peer/host addresses: sockets only, else NT_ENOTSUP.
 *
 * Ownership: the fds become the transport's; it closes them when it closes
 * (standard fds 0-2 are pointed at /dev/null instead, so their numbers stay
 * taken), unless keep_open. The transport is nettool's, freed after the
 * protocol's connection_lost and destroy; nt_reactor_close_all ends it. While
 * open it keeps the reactor running.
 */
typedef struct nt_fdstream_options_s {
  /* Non-zero: the fds stay open after the transport closes (their flags
   * are still put back). */
  int keep_open;
} nt_fdstream_options_t;

/* Starts protocol p on a stream over rfd/wfd: connection_made runs before
 * this returns. opts may be NULL. Returns 0, NT_EBADF (both fds -1 or not
 * open), NT_EINVAL (p NULL), NT_ENOMEM, or the error of fcntl/the backend;
 * on an error nothing is closed and no callback runs. */
int nt_fdstream_open_sized(size_t opts_size, nt_reactor_t *r, int rfd, int wfd,
                           nt_protocol_t *p, const nt_fdstream_options_t *opts,
                           nt_transport_t **out);
#define nt_fdstream_open(...) \
  nt_fdstream_open_sized(sizeof(nt_fdstream_options_t), __VA_ARGS__)

/* The same over standard input and output (fds 0 and 1). */
int nt_stdio_open_sized(size_t opts_size, nt_reactor_t *r, nt_protocol_t *p,
                        const nt_fdstream_options_t *opts,
                        nt_transport_t **out);
#define nt_stdio_open(...) \
  nt_stdio_open_sized(sizeof(nt_fdstream_options_t), __VA_ARGS__)

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
