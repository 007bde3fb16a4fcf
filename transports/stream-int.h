/* Private: the stream core shared by every byte-stream transport (TCP, the
 * in-memory test transport, later TLS). It owns the write queue, the
 * high/low-water logic and the close lifecycle; each transport supplies only
 * the "socket" operations below. */
#ifndef NETTOOL_STREAM_INT_H
#define NETTOOL_STREAM_INT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "nettool/transport.h"

/* A write-queue segment: memory (fd < 0, bytes data[start..end)) or a file
 * range (fd >= 0, owned dup, flen bytes from foff). */
typedef struct nt__wseg {
  struct nt__wseg *next;
  size_t start, end, cap;
  int fd;
  uint64_t foff, flen;
  char data[];
} nt__wseg_t;

typedef struct nt__wq {
  nt__wseg_t *head, *tail;
  size_t bytes;
} nt__wq_t;

typedef struct nt__stream nt__stream_t;

/* The socket underneath. sendv/sendfile return bytes taken, or a negative
 * code (NT_EAGAIN when nothing fits now). */
typedef struct nt__stream_io {
  ssize_t (*sendv)(nt__stream_t *s, const struct iovec *iov, int iovcnt);
  ssize_t (*sendfile)(nt__stream_t *s, int fd, uint64_t *off, size_t len);
  /* Ask to be told (nt__stream_flush) when the socket can take more. */
  void (*want_write)(nt__stream_t *s, int on);
  void (*read_enable)(nt__stream_t *s, int on);
  int (*shutdown_write)(nt__stream_t *s);
  /* Release the socket (stop watching, close the fd). */
  void (*close)(nt__stream_t *s);
  /* Free the transport's memory, after the protocol is gone. */
  void (*free)(nt__stream_t *s);
  /* Optional (NULL: NT_ENOTSUP): bytes the socket took that the peer has
   * not acknowledged yet (nt_transport_unacked adds the queue). */
  int (*unacked)(nt__stream_t *s, uint64_t *out);
  /* Optional (NULL: NT_ENOTSUP): the socket's descriptor, for the
   * address ops below, or a negative code (NT_ENOTCONN once closed,
   * NT_ENOTSUP where the stream is not over a socket). */
  int (*sockfd)(nt__stream_t *s);
} nt__stream_io_t;

struct nt__stream {
  nt_transport_t base;
  const nt__stream_io_t *io;
  nt__wq_t wq;
  int close_status;
};

/* dup(2) with close-on-exec (common.c). */
int nt__dup_cloexec(int fd);

void nt__stream_init(nt__stream_t *s, nt_reactor_t *r,
                     const nt_transport_ops_t *ops, const nt__stream_io_t *io);

/* Starts the protocol on the stream: sets p->transport, connection_made. */
void nt__stream_start(nt__stream_t *s, nt_protocol_t *p);

/* Delivers received bytes / end of stream / a socket error. */
void nt__stream_deliver(nt__stream_t *s, const char *data, size_t len);
void nt__stream_deliver_eof(nt__stream_t *s);
void nt__stream_fail(nt__stream_t *s, int status);

/* The socket can take more: flush the queue. */
void nt__stream_flush(nt__stream_t *s);

/* Generic implementations of the transport ops, for the ops tables. */
int nt__stream_writev(nt_transport_t *t, const struct iovec *iov, int iovcnt);
int nt__stream_write_file(nt_transport_t *t, int fd, uint64_t off,
                          uint64_t len);
int nt__stream_write_eof(nt_transport_t *t);
void nt__stream_lose_connection(nt_transport_t *t);
void nt__stream_abort(nt_transport_t *t, int status);
void nt__stream_pause_reading(nt_transport_t *t);
void nt__stream_resume_reading(nt_transport_t *t);
size_t nt__stream_write_buffer_size(nt_transport_t *t);
/* getpeername/getsockname on io->sockfd's descriptor; *len is set to
 * sizeof *ss first, whatever the result. */
int nt__stream_peer_address(nt_transport_t *t, struct sockaddr_storage *ss,
                            socklen_t *len);
int nt__stream_host_address(nt_transport_t *t, struct sockaddr_storage *ss,
                            socklen_t *len);

#endif
