/* Stream transports: what a protocol writes to. TCP, the in-memory test
 * transport and TLS (tls.h) all implement these operations. */
#ifndef NETTOOL_TRANSPORT_H
#define NETTOOL_TRANSPORT_H

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <nettool/protocol.h>
#include <nettool/reactor.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Writes
 * ------
 * nt_transport_write/writev try the socket first and queue only what it did
 * not take, copying it; the caller's buffer is free again when the call
 * returns. write_file queues a range of a file: the transport dup()s the fd,
 * so the caller may close its own at once; plain TCP sends it with sendfile(2).
 * Queued bytes are counted by write_buffer_size(); crossing the high-water
 * mark calls the protocol's pause_writing, draining below the low-water mark
 * calls resume_writing. Writes after lose_connection, abort or write_eof
 * return NT_ECLOSED. A write error found while flushing later ends the
 * connection and reaches the protocol as connection_lost(status).
 *
 * Closing
 * -------
 * lose_connection: stop reading, flush what is queued, then close; the
 * protocol sees connection_lost(0) (or the error that stopped the flush).
 * abort: close now, dropping the queue; connection_lost(NT_ECONNABORTED) or
 * the status given to nt_transport_abort_error. write_eof: flush, then
 * half-close the sending side (shutdown(SHUT_WR)); reading goes on.
 *
 * Ownership: a transport is created by a listener, connector or test helper
 * and freed by nettool after the protocol's connection_lost and destroy have
 * run. Do not use it after connection_lost.
 */

typedef struct nt_transport_ops_s nt_transport_ops_t;

struct nt_transport_ops_s {
  const char *name; /* "tcp", "memory", "tls" */
  int (*writev)(nt_transport_t *t, const struct iovec *iov, int iovcnt);
  int (*write_file)(nt_transport_t *t, int fd, uint64_t offset, uint64_t len);
  int (*write_eof)(nt_transport_t *t);
  void (*lose_connection)(nt_transport_t *t);
  void (*abort)(nt_transport_t *t, int status);
  void (*pause_reading)(nt_transport_t *t);
  void (*resume_reading)(nt_transport_t *t);
  int (*peer_address)(nt_transport_t *t, struct sockaddr_storage *ss,
                      socklen_t *len);
  int (*host_address)(nt_transport_t *t, struct sockaddr_storage *ss,
                      socklen_t *len);
  size_t (*write_buffer_size)(nt_transport_t *t);
};

/* Transport state flags shared by all implementations. */
enum {
  NT_TRANSPORT_CLOSING = 1u << 0,      /* lose_connection or abort called */
  NT_TRANSPORT_CLOSED = 1u << 1,       /* fd closed; connection_lost queued */
  NT_TRANSPORT_READ_PAUSED = 1u << 2,  /* pause_reading in force */
  NT_TRANSPORT_WRITE_PAUSED = 1u << 3, /* protocol told to pause_writing */
  NT_TRANSPORT_WRITE_EOF = 1u << 4,    /* write_eof called */
  NT_TRANSPORT_EOF_RECEIVED = 1u << 5, /* the peer half-closed */
};

struct nt_transport_s {
  const nt_transport_ops_t *ops;
  nt_protocol_t *protocol;
  nt_reactor_t *reactor;
  uint32_t flags;
  uint32_t high_water; /* bytes; default 64 KiB */
  uint32_t low_water;  /* bytes; default 16 KiB */
};

#define NT_DEFAULT_HIGH_WATER (64u * 1024u)
#define NT_DEFAULT_LOW_WATER (16u * 1024u)

static inline int nt_transport_writev(nt_transport_t *t,
                                      const struct iovec *iov, int iovcnt) {
  return t->ops->writev(t, iov, iovcnt);
}

static inline int nt_transport_write(nt_transport_t *t, const void *data,
                                     size_t len) {
  struct iovec iov;
  iov.iov_base = (void *)data;
  iov.iov_len = len;
  return t->ops->writev(t, &iov, 1);
}

/* Writes a NUL-terminated string. */
int nt_transport_write_str(nt_transport_t *t, const char *s);

static inline int nt_transport_write_file(nt_transport_t *t, int fd,
                                          uint64_t offset, uint64_t len) {
  return t->ops->write_file(t, fd, offset, len);
}
static inline int nt_transport_write_eof(nt_transport_t *t) {
  return t->ops->write_eof(t);
}
static inline void nt_transport_lose_connection(nt_transport_t *t) {
  t->ops->lose_connection(t);
}
static inline void nt_transport_abort(nt_transport_t *t) {
  t->ops->abort(t, NT_ECONNABORTED);
}
/* Aborts and reports status (a negative NT_E* code) to connection_lost. */
static inline void nt_transport_abort_error(nt_transport_t *t, int status) {
  t->ops->abort(t, status);
}
static inline void nt_transport_pause_reading(nt_transport_t *t) {
  t->ops->pause_reading(t);
}
static inline void nt_transport_resume_reading(nt_transport_t *t) {
  t->ops->resume_reading(t);
}
static inline int nt_transport_peer_address(nt_transport_t *t,
                                            struct sockaddr_storage *ss,
                                            socklen_t *len) {
  return t->ops->peer_address(t, ss, len);
}
static inline int nt_transport_host_address(nt_transport_t *t,
                                            struct sockaddr_storage *ss,
                                            socklen_t *len) {
  return t->ops->host_address(t, ss, len);
}
static inline size_t nt_transport_write_buffer_size(nt_transport_t *t) {
  return t->ops->write_buffer_size(t);
}
static inline int nt_transport_is_closing(const nt_transport_t *t) {
  return (t->flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED)) != 0;
}

/* Bytes written to the transport that the peer has not acknowledged yet:
 * the transport's own queue (write_buffer_size) plus what the kernel holds
 * unacknowledged (ioctl SIOCOUTQ on TCP). So "written - unacked" is what
 * the peer's TCP stack has received — not what its application has read:
 * the peer's receive buffer still sits in between. Returns 0 and *out, or
 * NT_ENOTSUP (memory, unix, pipe, fd and compression transports, and
 * transports with their own ops table: *out is 0), NT_ECLOSED, or an
 * ioctl error. TLS: the TCP connection's unacknowledged bytes are
 * ciphertext, so the count is approximate (record headers, MACs and
 * handshake messages count as bytes; about 0.2 % over for large writes). */
int nt_transport_unacked(nt_transport_t *t, uint64_t *out);

/* Sets the high/low water marks (low <= high). */
void nt_transport_set_write_limits(nt_transport_t *t, uint32_t high,
                                   uint32_t low);

/* Hands the transport to another protocol (protocol switching: STARTTLS,
 * HTTP upgrade). The old protocol is neither told nor destroyed: the caller
 * owns it from now on. */
void nt_transport_set_protocol(nt_transport_t *t, nt_protocol_t *p);

/* Formats an address as "1.2.3.4:80" or "[::1]:80" into buf (at least
 * NT_ADDRSTRLEN bytes). Returns buf. */
#define NT_ADDRSTRLEN 64
char *nt_addr_format(const struct sockaddr *sa, char *buf, size_t size);

/* Parses a numeric IPv4/IPv6 address (brackets allowed for IPv6) and a port
 * into ss. Returns 0, NT_EBADADDR (also for NULL or "") or NT_EBADPORT. */
int nt_addr_parse(const char *host, int port, struct sockaddr_storage *ss,
                  socklen_t *len);

/* Parses a port number "1".."65535" (or "0" when allow_zero); returns the
 * port or NT_EBADPORT. */
int nt_port_parse(const char *s, int allow_zero);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
