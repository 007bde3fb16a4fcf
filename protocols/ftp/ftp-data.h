/* Private to protocols/ftp/: the data channel, one FTP data connection on
 * its own. It opens (passive: connects to an address; active: listens and
 * accepts one peer), moves bytes (to a sink, as lines, or from a file
 * descriptor, converting line ends for TYPE A), runs TLS when asked, and
 * reports through its callbacks. It knows nothing of the control
 * connection, the client or its states: the state machine (ftp_state.c)
 * creates it, drives it and decides what its events mean. Calls go one way:
 * client -> state -> data; the data channel calls back only through the
 * table it was given. */
#ifndef NETTOOL_FTP_DATA_H
#define NETTOOL_FTP_DATA_H

#include <stdint.h>
#include <sys/socket.h>

#include "nettool/ftp.h"
#include "nettool/tcp.h"
#include "nettool/tls.h"

/* The data-connection opener: TCP by default; unit tests swap it. */
typedef struct nt__ftp_net_ops {
  int (*connect)(nt_reactor_t *r, const struct sockaddr *sa, socklen_t len,
                 nt_factory_t *fac, const nt_tcp_connect_options_t *o,
                 void **handle);
  void (*cancel)(void *handle); /* connection_failed(NT_ECANCELED) follows */
  int (*listen)(nt_reactor_t *r, const char *addr, nt_factory_t *fac,
                void **handle, int *port);
  void (*unlisten)(void *handle); /* never from inside build_protocol */
  /* A data connection's unacknowledged bytes, as nt_transport_unacked
   * (NULL: that function; the in-memory transports of the unit tests cannot
   * say, so the tests play the kernel's send queue here). */
  int (*unacked)(nt_transport_t *t, uint64_t *out);
} nt__ftp_net_ops_t;

extern const nt__ftp_net_ops_t nt__ftp_tcp_net_ops;
extern const nt__ftp_net_ops_t *nt__ftp_net_ops; /* test hook */

typedef struct nt__ftp_dchan nt__ftp_dchan_t;

/* What the channel does with the bytes. */
typedef enum {
  NT__DCHAN_SINK,   /* download: received bytes go to the sink */
  NT__DCHAN_LINES,  /* listing: received bytes are split into lines */
  NT__DCHAN_SOURCE, /* upload: bytes come from a file descriptor */
} nt__ftp_dchan_mode_t;

/* The channel's reports. Each may close the channel (nt__ftp_dchan_close);
 * the channel touches nothing of itself after a report that did. */
typedef struct nt__ftp_dchan_cbs {
  /* The TCP connection is up (passive: connected; active: accepted). */
  void (*connected)(nt__ftp_dchan_t *ch, void *arg);
  /* Bytes may flow: TCP up (unprotected) or TLS up (protected). */
  void (*ready)(nt__ftp_dchan_t *ch, void *arg);
  /* The byte count changed: received (SINK, LINES) or read from the
   * source (SOURCE); `bytes` is the total. */
  void (*progress)(nt__ftp_dchan_t *ch, void *arg, uint64_t bytes);
  /* One listing line (LINES), without its line end; nonzero stops. */
  int (*line)(nt__ftp_dchan_t *ch, void *arg, const char *line, size_t len);
  /* The channel's own failure (the sink, a long line, the source, TLS
   * start): reported once, then the connection is aborted with it. */
  void (*error)(nt__ftp_dchan_t *ch, void *arg, int status);
  /* The connection ended (0: cleanly); in_handshake: during its TLS
   * handshake. */
  void (*done)(nt__ftp_dchan_t *ch, void *arg, int status, int in_handshake);
  /* The passive connect failed. */
  void (*failed)(nt__ftp_dchan_t *ch, void *arg, int status);
} nt__ftp_dchan_cbs_t;

typedef struct nt__ftp_dchan_config {
  nt__ftp_dchan_mode_t mode;
  int ascii;          /* TYPE A: CRLF <-> LF */
  nt_ftp_sink_t sink; /* SINK */
  size_t max_line;    /* LINES */
  int src_fd;         /* SOURCE: the descriptor, where and how much */
  uint64_t src_offset;
  uint64_t src_length; /* UINT64_MAX: read(2) to the end */
  uint64_t connect_timeout_ms; /* passive connect */
  nt_tls_ctx_t *tls_ctx;       /* NULL: unprotected */
  const char *server_name;     /* copied */
  uint64_t handshake_timeout_ms;
  const nt__ftp_dchan_cbs_t *cbs;
  void *arg;
  /* Passive through a proxy: to proxy_dest (the control connection's
   * host, not copied) at the port of the address given to connect. */
  const nt_proxy_t *proxy;
  const char *proxy_dest;
} nt__ftp_dchan_config_t;

int nt__ftp_dchan_new(nt_reactor_t *r, const nt__ftp_dchan_config_t *cfg,
                      nt__ftp_dchan_t **out);
/* Passive: connects to sa (the control connection's peer, its port set). */
int nt__ftp_dchan_connect(nt__ftp_dchan_t *ch, const struct sockaddr *sa,
                          socklen_t len);
/* Active: listens on ip and accepts only `peer`'s address; *port is the
 * port listened on. 1: a new listener; 0: the pending one again. */
int nt__ftp_dchan_listen(nt__ftp_dchan_t *ch, const char *ip,
                         const struct sockaddr_storage *peer, int *port);
/* Starts TLS on a connected, protected channel (once), resuming `session`
 * if given: 1 if it started, 0 if there was nothing to start; a failure is
 * reported through `error` and aborts the connection. */
int nt__ftp_dchan_start_tls(nt__ftp_dchan_t *ch, nt_tls_session_t *session);
/* Whether start_tls would start the handshake now. */
int nt__ftp_dchan_tls_due(const nt__ftp_dchan_t *ch);
void nt__ftp_dchan_start_upload(nt__ftp_dchan_t *ch);
void nt__ftp_dchan_resume(nt__ftp_dchan_t *ch); /* the sink caught up */
/* Abandons the channel and frees it: a pending connect or listener is
 * dropped, a connection detached (aborted when `abort`). */
void nt__ftp_dchan_close(nt__ftp_dchan_t *ch, int abort);

/* Queries. */
int nt__ftp_dchan_ready(const nt__ftp_dchan_t *ch); /* bytes may flow */
int nt__ftp_dchan_running(const nt__ftp_dchan_t *ch); /* opening or open */
int nt__ftp_dchan_handshaking(const nt__ftp_dchan_t *ch);
/* Active: a connection from another address was refused and none from the
 * server came yet. */
int nt__ftp_dchan_refused_foreign(const nt__ftp_dchan_t *ch);
/* Uploads: bytes the server's TCP acknowledged (nt_transport_unacked; where
 * the transport cannot say, bytes gone from its buffer); 0 when there is no
 * connection (then *sent is left alone). */
int nt__ftp_dchan_sent(const nt__ftp_dchan_t *ch, uint64_t *sent);
/* Uploads: 1 once we finished writing: every byte is queued, the write
 * side half-closed, and the transport's own queue is empty (all of it is
 * in the kernel). Then *unacked is what the kernel still holds unsent or
 * unacknowledged (0 where the transport cannot say) and *queued every byte
 * written. 0 before that, or without a connection. */
int nt__ftp_dchan_written(const nt__ftp_dchan_t *ch, uint64_t *unacked,
                          uint64_t *queued);

#endif
