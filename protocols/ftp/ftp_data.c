/* FTP data connections: opening them (passive: connect to the control
 * connection's peer; active: listen on the control connection's local
 * address and accept only that peer), TLS on them (resuming the control
 * connection's session), moving bytes (a sink for downloads, paused while it
 * lags; write_file or a bounded producer for uploads; lines for listings),
 * and the data-idle timer. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftp-int.h"
#include "reactor-int.h"

#define CHUNK 16384
#define PRODUCE_ROUNDS 16 /* chunks per turn before yielding to the loop */

struct nt__ftp_dconn {
  nt_factory_t fac;
  nt_ftp_t *f; /* NULL once abandoned */
  void *handle;
  int listening;
  int accepted;
  int port;                     /* active: the port listened on */
  struct sockaddr_storage peer; /* active: the only address accepted */
};

struct nt__ftp_data {
  nt_protocol_t base;
  nt_ftp_t *f; /* NULL once detached from the client */
  int connected;
  int tls_started;
  int tls_up;
  int paused;       /* reading paused: the sink lags */
  int write_paused; /* the transport is over its high-water mark */
  int producing;    /* upload through the producer (not write_file) */
  int produce_queued;
  int destroyed;
  int cr;           /* ascii: a CR seen last (held back / just written) */
  nt_line_reader_t lines;
  int src_fd;
  uint64_t src_off, src_left; /* src_left UINT64_MAX: read(2) to the end */
  uint64_t queued;            /* bytes given to the transport */
};

/* --- the default opener: real TCP ----------------------------------------------- */

static int tcp_connect(nt_reactor_t *r, const struct sockaddr *sa,
                       socklen_t len, nt_factory_t *fac,
                       const nt_tcp_connect_options_t *o, void **handle) {
  nt_connector_t *c = NULL;
  int rc = nt_tcp_connect_addr(r, sa, len, fac, o, &c);
  *handle = c;
  return rc;
}
static void tcp_cancel(void *h) { nt_connector_cancel(h); }
static int tcp_listen(nt_reactor_t *r, const char *addr, nt_factory_t *fac,
                      void **handle, int *port) {
  nt_listener_t *l;
  nt_tcp_listen_options_t lo;
  memset(&lo, 0, sizeof lo);
  lo.backlog = 4;
  int rc = nt_tcp_listen(r, addr, 0, fac, &lo, &l);
  if (rc) return rc;
  *handle = l;
  *port = nt_listener_port(l);
  return 0;
}
static void tcp_unlisten(void *h) { nt_listener_close(h); }

const nt__ftp_net_ops_t nt__ftp_tcp_net_ops = {tcp_connect, tcp_cancel,
                                               tcp_listen, tcp_unlisten};

/* --- addresses ------------------------------------------------------------------------ */

int nt__ftp_peer_family(nt_ftp_t *f) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  nt_transport_t *t = nt_pp_transport(&f->pp);
  if (!t || nt_transport_peer_address(t, &ss, &len)) return AF_UNSPEC;
  if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) return AF_INET;
  }
  return ss.ss_family;
}

static int same_ip(const struct sockaddr_storage *a,
                   const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  if (a->ss_family == AF_INET6)
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                   &((const struct sockaddr_in6 *)b)->sin6_addr,
                   sizeof(struct in6_addr));
  return 0;
}

/* --- progress and the idle timer -------------------------------------------------------- */

static int is_upload(const nt__ftp_op_t *op) {
  return op->xcmd == NT__X_STOR || op->xcmd == NT__X_APPE;
}

uint64_t nt_ftp_xfer_bytes(nt_ftp_t *f) {
  nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER) return 0;
  if (!is_upload(op)) return op->bytes;
  nt__ftp_data_t *dp = f->dp;
  if (!dp || !dp->base.transport) return op->data_done ? op->bytes : 0;
  size_t waiting = nt_transport_write_buffer_size(dp->base.transport);
  return dp->queued > waiting ? dp->queued - waiting : 0;
}

uint64_t nt_ftp_xfer_size(const nt_ftp_t *f) {
  const nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER) return UINT64_MAX;
  if (is_upload(op))
    return op->xo.length == UINT64_MAX ? UINT64_MAX : op->xo.length;
  return op->size == UINT64_MAX ? UINT64_MAX : op->size - op->xo.offset;
}

/* The data connection's one timer, armed for the nearest of its deadlines
 * and re-armed for the remainder when it fires early (progress is stamped
 * as it happens, without touching the timer; a change of phase that may
 * bring the deadline nearer re-arms it):
 *  - no progress for data_timeout_ms: last progress + that, exactly;
 *  - the data connection's TLS handshake: its start + connect_timeout_ms
 *    (the TLS layer's own handshake timeout, set the same, may come first);
 *  - the data connection failed before the final reply: that reply gets
 *    FAIL_GRACE_MS (a refusal that follows a reset wins over it), then the
 *    transfer fails with the data connection's error, not a timeout.
 * Uploads have no event for bytes leaving the socket buffer: their progress
 * is sampled every UPLOAD_SAMPLE_MS (at most a tenth of the timeout). */
#define FAIL_GRACE_MS 1000
#define UPLOAD_SAMPLE_MS 250

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static int handshaking(const nt_ftp_t *f) {
  const nt__ftp_data_t *dp = f->dp;
  return dp && dp->tls_started && !dp->tls_up;
}

/* Data moved (or a connection/handshake finished): the idle deadline moves
 * and so does the reply timeout of the silent control connection. */
static void progress(nt_ftp_t *f) {
  f->progress_at = nt_reactor_now(f->reactor);
  nt_pp_touch(&f->pp);
}

static uint64_t deadline(const nt_ftp_t *f, const nt__ftp_op_t *op) {
  if (op->data_done) return f->data_failed_at + min64(FAIL_GRACE_MS, f->opts.reply_timeout_ms);
  /* The TLS layer's handshake timeout fails it at the same time, and the
   * connector's its passive connect: connecting is the connect limit's. */
  if (handshaking(f)) return f->data_hs_at + f->opts.connect_timeout_ms;
  if (f->state == NT__FTP_DATA_CONNECT) return f->progress_at + f->opts.connect_timeout_ms;
  return f->progress_at + f->opts.data_timeout_ms;
}

static void arm(nt_ftp_t *f, const nt__ftp_op_t *op) {
  uint64_t now = nt_reactor_now(f->reactor);
  uint64_t due = deadline(f, op);
  if (is_upload(op) && !op->data_done) {
    uint64_t sample = min64(UPLOAD_SAMPLE_MS, f->opts.data_timeout_ms / 10);
    due = min64(due, now + (sample ? sample : 1));
  }
  nt_timer_start(&f->data_timer, due > now ? due - now : 0, 0);
}

static void tick_start(nt_ftp_t *f) {
  f->foreign_refused = 0;
  f->progress_seen = 0;
  f->progress_at = nt_reactor_now(f->reactor);
  arm(f, f->cur);
}

void nt__ftp_data_failed(nt_ftp_t *f) {
  f->data_failed_at = nt_reactor_now(f->reactor);
  arm(f, f->cur);
}

void nt__ftp_data_tick(nt_timer_t *t) {
  nt_ftp_t *f = t->data;
  nt__ftp_op_t *op = f->cur;
  /* A clean end: the reply timeout watches what is left. */
  if (!op || op->kind != NT__OP_XFER || (op->data_done && !op->data_err)) return;
  uint64_t now = nt_reactor_now(f->reactor);
  if (is_upload(op) && !op->data_done) {
    uint64_t seen = nt_ftp_xfer_bytes(f);
    if (seen != f->progress_seen) {
      f->progress_seen = seen;
      progress(f);
    }
  }
  if (now < deadline(f, op)) {
    arm(f, op);
    return;
  }
  if (op->data_done) { /* failed, and the server said nothing since */
    f->where = op->data_err_tls ? NT_FTP_WHERE_DATA_TLS : NT_FTP_WHERE_DATA;
    nt__ftp_data_close(f, 1);
    nt__ftp_fail_session(f, op->data_err);
    return;
  }
  f->where = handshaking(f)                     ? NT_FTP_WHERE_DATA_TLS
             : f->state == NT__FTP_DATA_CONNECT ? NT_FTP_WHERE_DATA_CONNECT
                                                : NT_FTP_WHERE_DATA;
  NT__DEBUG("ftp: data connection: no progress for %" PRIu64 " ms", now - f->progress_at);
  /* Waiting for the server to connect while someone else tried: say so. */
  int why = f->foreign_refused && !f->dp ? NT_EFTP_DATA_PEER : NT_ETIMEDOUT;
  if (op->final_ok || f->state == NT__FTP_DATA_CONNECT) {
    nt__ftp_op_finish(f, why); /* the control connection is in step */
    return;
  }
  /* A transfer command is outstanding: its reply would come who knows when,
   * so the session ends here. */
  nt__ftp_data_close(f, 1);
  nt__ftp_fail_session(f, why);
}

/* --- the data protocol --------------------------------------------------------------------- */

static nt__ftp_op_t *xfer_op(nt__ftp_data_t *dp) {
  nt_ftp_t *f = dp->f;
  if (!f || !f->cur || f->cur->kind != NT__OP_XFER) return NULL;
  return f->cur;
}

static void data_fail(nt__ftp_data_t *dp, nt__ftp_op_t *op, int status) {
  if (!op->status) op->status = status;
  if (dp->base.transport) nt_transport_abort_error(dp->base.transport, status);
}

static int list_line(void *arg, const char *line, size_t len) {
  nt__ftp_data_t *dp = arg;
  nt__ftp_op_t *op = xfer_op(dp);
  if (!op || dp->f->quitting) return 1;
  if (!op->line) return 0;
  nt_ftp_entry_t e, *ep = NULL;
  if (op->xcmd == NT__X_MLSD && nt_ftp_parse_mlsd(line, len, &e) == 0) ep = &e;
  op->line(op->line_arg, line, len, ep);
  return 0;
}

static int to_sink(nt__ftp_data_t *dp, nt__ftp_op_t *op, const char *p,
                   size_t n, int *pause) {
  if (!n) return 0;
  int rc = op->sink.data(op->sink.ctx, p, n);
  if (rc == NT_EAGAIN) {
    *pause = 1;
    return 0;
  }
  (void)dp;
  return rc;
}

/* TYPE A: CRLF becomes LF; a CR at the end of a chunk waits for the next. */
static int sink_ascii(nt__ftp_data_t *dp, nt__ftp_op_t *op, const char *p,
                      size_t n, int *pause) {
  char out[CHUNK];
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (dp->cr) {
      dp->cr = 0;
      if (c != '\n') out[o++] = '\r';
    }
    if (c == '\r') {
      dp->cr = 1;
    } else {
      out[o++] = c;
    }
    if (o >= sizeof out - 1) {
      int rc = to_sink(dp, op, out, o, pause);
      if (rc) return rc;
      o = 0;
    }
  }
  return to_sink(dp, op, out, o, pause);
}

static void dp_data(nt_protocol_t *p, const char *data, size_t len) {
  nt__ftp_data_t *dp = (nt__ftp_data_t *)p;
  nt__ftp_op_t *op = xfer_op(dp);
  if (!op || is_upload(op) || op->status) return;
  op->bytes += len;
  progress(dp->f);
  if (op->xcmd != NT__X_RETR) {
    int rc = nt_line_reader_feed(&dp->lines, data, len, list_line, dp, NULL);
    if (rc < 0) data_fail(dp, op, rc);
    return;
  }
  int pause = 0;
  int rc = op->xo.ascii ? sink_ascii(dp, op, data, len, &pause)
                        : to_sink(dp, op, data, len, &pause);
  if (rc) {
    data_fail(dp, op, rc);
    return;
  }
  if (pause && !dp->paused && p->transport) {
    dp->paused = 1;
    nt_transport_pause_reading(p->transport);
  }
}

/* The end of a download: what was held back goes out. */
static void flush_tail(nt__ftp_data_t *dp, nt__ftp_op_t *op) {
  int pause = 0;
  if (op->xcmd == NT__X_RETR) {
    if (dp->cr && op->xo.ascii) {
      dp->cr = 0;
      int rc = to_sink(dp, op, "\r", 1, &pause);
      if (rc && !op->status) op->status = rc;
    }
  } else if (!is_upload(op) && nt_line_reader_pending(&dp->lines)) {
    int rc = nt_line_reader_feed(&dp->lines, "\n", 1, list_line, dp, NULL);
    if (rc < 0 && !op->status) op->status = rc;
  }
}

static void produce(nt__ftp_data_t *dp);

/* All bytes are queued: half-close (close_notify on TLS) and keep reading
 * until the server closes. Closing outright could reset the connection if
 * the server sent anything we did not read (a TLS 1.3 session ticket), and
 * a reset makes the server drop the upload. */
static void end_upload(nt__ftp_data_t *dp, nt__ftp_op_t *op) {
  int rc = nt_transport_write_eof(dp->base.transport);
  if (rc) data_fail(dp, op, rc);
}

static void produce_cb(void *arg) {
  nt__ftp_data_t *dp = arg;
  dp->produce_queued = 0;
  if (dp->destroyed)
    nt__free(dp); /* destroyed while this call was queued */
  else
    produce(dp);
}

/* Uploads that cannot use write_file (TYPE A, pipes): read a chunk, convert
 * it, write it, until the transport asks for a pause. Bounded per turn. */
static void produce(nt__ftp_data_t *dp) {
  nt__ftp_op_t *op = xfer_op(dp);
  nt_transport_t *t = dp->base.transport;
  if (!op || !t || !dp->producing) return;
  char in[CHUNK], out[2 * CHUNK];
  for (int round = 0; round < PRODUCE_ROUNDS; round++) {
    if (dp->write_paused || op->status) return;
    size_t want = CHUNK;
    if (dp->src_left != UINT64_MAX && dp->src_left < want) want = (size_t)dp->src_left;
    ssize_t n = 0;
    if (want) {
      do {
        n = dp->src_left == UINT64_MAX
                ? read(dp->src_fd, in, want)
                : pread(dp->src_fd, in, want, (off_t)dp->src_off);
      } while (n < 0 && errno == EINTR);
    }
    if (n < 0) {
      data_fail(dp, op, -errno);
      return;
    }
    if (n == 0) {
      dp->producing = 0;
      end_upload(dp, op);
      return;
    }
    dp->src_off += (uint64_t)n;
    if (dp->src_left != UINT64_MAX) dp->src_left -= (uint64_t)n;
    op->bytes += (uint64_t)n;
    const char *w = in;
    size_t wl = (size_t)n;
    if (op->xo.ascii) { /* bare LF becomes CRLF */
      size_t o = 0;
      for (ssize_t i = 0; i < n; i++) {
        if (in[i] == '\n' && !dp->cr) out[o++] = '\r';
        out[o++] = in[i];
        dp->cr = in[i] == '\r';
      }
      w = out;
      wl = o;
    }
    int rc = nt_transport_write(t, w, wl);
    if (rc) {
      data_fail(dp, op, rc);
      return;
    }
    dp->queued += wl;
  }
  if (!dp->produce_queued && nt_call_soon(dp->base.transport->reactor, produce_cb, dp) == 0)
    dp->produce_queued = 1;
}

void nt__ftp_data_start_upload(nt_ftp_t *f) {
  nt__ftp_data_t *dp = f->dp;
  nt__ftp_op_t *op = f->cur;
  nt_transport_t *t = dp ? dp->base.transport : NULL;
  if (!t) return;
  dp->src_fd = op->xo.fd;
  dp->src_off = op->xo.offset;
  dp->src_left = op->xo.length;
  struct stat st;
  if (!op->xo.ascii && op->xo.length != UINT64_MAX &&
      fstat(op->xo.fd, &st) == 0 && S_ISREG(st.st_mode)) {
    /* The whole range at once: sendfile on TCP, 16 KiB at a time on TLS. */
    int rc = nt_transport_write_file(t, op->xo.fd, op->xo.offset, op->xo.length);
    if (rc) {
      data_fail(dp, op, rc);
      return;
    }
    dp->queued = op->xo.length;
    op->bytes = op->xo.length;
    end_upload(dp, op);
    return;
  }
  dp->producing = 1;
  produce(dp);
}

static void dp_made(nt_protocol_t *p, nt_transport_t *t) {
  nt__ftp_data_t *dp = (nt__ftp_data_t *)p;
  nt_ftp_t *f = dp->f;
  if (dp->connected) { /* the second connection_made: TLS is up */
    dp->tls_up = 1;
    NT__DEBUG("ftp: data connection TLS up, %s, session reused: %s", nt_tls_version(t),
              nt_tls_session_reused(t) ? "yes" : "no");
    if (f) {
      progress(f);
      if (f->cur) arm(f, f->cur); /* the idle deadline may be the nearer one now */
      nt__ftp_data_event(f, NT__DATA_READY, 0);
    }
    return;
  }
  dp->connected = 1;
  if (!f) {
    nt_transport_abort(t);
    return;
  }
  progress(f);
  nt__ftp_data_event(f, NT__DATA_CONNECTED, 0);
  if (!dp->f) return;
  if (f->cur) arm(f, f->cur); /* connected: the idle deadline from now on */
  if (f->prot_p)
    nt__ftp_data_start_tls(f); /* now if the 1xx came first (active mode) */
  else
    nt__ftp_data_event(f, NT__DATA_READY, 0);
}

/* The handshake waits for the server's 1xx, as lftp does: a server may
 * close a data connection with bytes waiting on it before it starts the
 * transfer (and with them the ClientHello), and then wait forever. */
void nt__ftp_data_start_tls(nt_ftp_t *f) {
  nt__ftp_data_t *dp = f->dp;
  nt__ftp_op_t *op = f->cur;
  if (!f->prot_p || !dp || !dp->connected || dp->tls_started || !dp->base.transport ||
      !op || op->kind != NT__OP_XFER || !(op->prelim || op->final_ok))
    return;
  nt_transport_t *t = dp->base.transport;
  nt_tls_options_t to;
  memset(&to, 0, sizeof to);
  to.server_name = f->server_name;
  nt_transport_t *ct = nt_pp_transport(&f->pp);
  /* vsftpd's require_ssl_reuse: the data connection must resume the
   * control connection's session. */
  nt_tls_session_t *s = ct ? nt_tls_get_session(ct) : NULL;
  to.session = s;
  to.handshake_timeout_ms = f->opts.connect_timeout_ms; /* it fails with NT_ETIMEDOUT */
  dp->tls_started = 1;
  f->data_hs_at = nt_reactor_now(f->reactor);
  int rc = nt_tls_start(t, f->opts.tls_ctx, &dp->base, &to, NULL);
  if (s) nt_tls_session_free(s);
  if (rc) {
    dp->tls_started = 0;
    if (!op->status) op->status = rc;
    nt_transport_abort_error(t, rc);
    return;
  }
  if (f->dp == dp && !dp->tls_up) arm(f, op); /* the handshake's own deadline */
}

static void dp_lost(nt_protocol_t *p, int status) {
  nt__ftp_data_t *dp = (nt__ftp_data_t *)p;
  nt__ftp_op_t *op = xfer_op(dp);
  NT__DEBUG("ftp: data connection ended (%s)%s", status ? nt_err_name(status) : "ok",
            op ? "" : ", not ours any more");
  if (!op) return;
  if (!status || status == NT_ETLS_TRUNCATED) flush_tail(dp, op);
  if (status && dp->tls_started && !dp->tls_up) op->data_err_tls = 1;
  nt_ftp_t *f = dp->f;
  f->dp = NULL;
  dp->f = NULL;
  nt__ftp_data_event(f, NT__DATA_DONE, status);
}

static void dp_pause_writing(nt_protocol_t *p) {
  ((nt__ftp_data_t *)p)->write_paused = 1;
}

static void dp_resume_writing(nt_protocol_t *p) {
  nt__ftp_data_t *dp = (nt__ftp_data_t *)p;
  dp->write_paused = 0;
  if (dp->producing) produce(dp);
}

static void dp_destroy(nt_protocol_t *p) {
  nt__ftp_data_t *dp = (nt__ftp_data_t *)p;
  if (dp->f && dp->f->dp == dp) dp->f->dp = NULL;
  dp->f = NULL;
  dp->destroyed = 1;
  nt_line_reader_free(&dp->lines);
  if (dp->produce_queued) return; /* produce_cb frees it */
  nt__free(dp);
}

static const nt_protocol_ops_t dp_ops = {dp_made,          dp_data,
                                         NULL,             dp_lost,
                                         dp_pause_writing, dp_resume_writing,
                                         dp_destroy};

static nt__ftp_data_t *dp_new(nt_ftp_t *f) {
  nt__ftp_data_t *dp = nt__calloc(1, sizeof *dp);
  if (!dp) return NULL;
  nt_protocol_init(&dp->base, &dp_ops);
  dp->f = f;
  dp->src_fd = -1;
  nt_line_reader_init(&dp->lines, f->opts.max_list_line);
  f->dp = dp;
  return dp;
}

int nt__ftp_data_ready(const nt_ftp_t *f) {
  const nt__ftp_data_t *dp = f->dp;
  return dp && dp->connected && (f->prot_p ? dp->tls_up : 1) &&
         dp->base.transport && !nt_transport_is_closing(dp->base.transport);
}

void nt_ftp_resume_data(nt_ftp_t *f) {
  nt__ftp_data_t *dp = f->dp;
  if (!dp || !dp->paused) return;
  dp->paused = 0;
  if (dp->base.transport) nt_transport_resume_reading(dp->base.transport);
}

/* --- opening: passive connects, active listeners -------------------------------------------- */

static void unlisten_cb(void *arg) {
  nt__ftp_dconn_t *d = arg;
  nt__ftp_net_ops->unlisten(d->handle);
  nt__free(d);
}

/* Abandons a pending connect or listener. */
static void dconn_drop(nt_ftp_t *f) {
  nt__ftp_dconn_t *d = f->dconn;
  if (!d) return;
  f->dconn = NULL;
  d->f = NULL;
  if (!d->listening) {
    nt__ftp_net_ops->cancel(d->handle); /* connection_failed frees it */
  } else if (!d->accepted) {
    /* Never from inside the listener's own callbacks: from the loop. */
    d->accepted = 1;
    if (nt_call_soon(f->reactor, unlisten_cb, d)) { /* out of memory: keep it, refusing */
    }
  }
}

static nt_protocol_t *dconn_build(nt_factory_t *fac, const struct sockaddr *peer,
                                  socklen_t len) {
  nt__ftp_dconn_t *d = nt__container_of(fac, nt__ftp_dconn_t, fac);
  nt_ftp_t *f = d->f;
  if (!d->listening) { /* passive: connected */
    if (f) f->dconn = NULL;
    nt__free(d); /* the connector does not use its factory after this */
    return f ? (dp_new(f) ? &f->dp->base : NULL) : NULL;
  }
  if (!f || d->accepted) return NULL;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  memcpy(&ss, peer, len < sizeof ss ? len : sizeof ss);
  if (!same_ip(&ss, &d->peer)) { /* only the server may connect */
    char a[NT_ADDRSTRLEN];
    f->foreign_refused = 1;
    NT__DEBUG("ftp: data connection from %s refused",
              nt_addr_format(peer, a, sizeof a));
    return NULL;
  }
  nt__ftp_data_t *dp = dp_new(f);
  if (!dp) return NULL;
  d->accepted = 1;
  d->f = NULL;
  f->dconn = NULL;
  if (nt_call_soon(f->reactor, unlisten_cb, d)) { /* leak rather than crash */
  }
  return &dp->base;
}

static void dconn_failed(nt_factory_t *fac, nt_connector_t *c, int status) {
  nt__ftp_dconn_t *d = nt__container_of(fac, nt__ftp_dconn_t, fac);
  nt_ftp_t *f = d->f;
  (void)c;
  nt__free(d);
  if (!f) return;
  f->dconn = NULL;
  nt__ftp_data_event(f, NT__DATA_FAILED, status ? status : NT_ECONNREFUSED);
}

static const nt_factory_ops_t dconn_ops = {dconn_build, NULL, dconn_failed};

static int control_address(nt_ftp_t *f, int local, struct sockaddr_storage *ss,
                           socklen_t *len) {
  nt_transport_t *t = nt_pp_transport(&f->pp);
  if (!t) return NT_ENOTCONN;
  *len = sizeof *ss;
  return local ? nt_transport_host_address(t, ss, len)
               : nt_transport_peer_address(t, ss, len);
}

int nt__ftp_data_connect(nt_ftp_t *f, int port) {
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = control_address(f, 0, &ss, &len);
  if (rc) return rc;
  if (ss.ss_family == AF_INET)
    ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
  else if (ss.ss_family == AF_INET6)
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
  else
    return NT_EAFNOSUPPORT;
  nt__ftp_dconn_t *d = nt__calloc(1, sizeof *d);
  if (!d) return NT_ENOMEM;
  d->fac.ops = &dconn_ops;
  d->f = f;
  nt_tcp_connect_options_t co;
  memset(&co, 0, sizeof co);
  co.timeout_ms = f->opts.connect_timeout_ms;
  f->dconn = d;
  rc = nt__ftp_net_ops->connect(f->reactor, (const struct sockaddr *)&ss, len,
                                &d->fac, &co, &d->handle);
  if (rc) {
    f->dconn = NULL;
    nt__free(d);
    return rc;
  }
  tick_start(f);
  return 0;
}

int nt__ftp_data_listen(nt_ftp_t *f, int eprt, char *arg, size_t size) {
  struct sockaddr_storage local;
  socklen_t len;
  int rc = control_address(f, 1, &local, &len);
  if (rc) return rc;
  char ip[INET6_ADDRSTRLEN];
  int family = local.ss_family;
  const void *addr = family == AF_INET
                         ? (const void *)&((struct sockaddr_in *)&local)->sin_addr
                         : (const void *)&((struct sockaddr_in6 *)&local)->sin6_addr;
  if ((family != AF_INET && family != AF_INET6) ||
      !inet_ntop(family, addr, ip, sizeof ip))
    return NT_EAFNOSUPPORT;
  if (!eprt && family != AF_INET) return NT_EAFNOSUPPORT;
  nt__ftp_dconn_t *d = f->dconn;
  if (!d) {
    d = nt__calloc(1, sizeof *d);
    if (!d) return NT_ENOMEM;
    d->fac.ops = &dconn_ops;
    d->f = f;
    d->listening = 1;
    len = sizeof d->peer;
    rc = control_address(f, 0, &d->peer, &len);
    if (!rc)
      rc = nt__ftp_net_ops->listen(f->reactor, ip, &d->fac, &d->handle, &d->port);
    if (rc) {
      nt__free(d);
      return rc;
    }
    f->dconn = d;
    tick_start(f);
  }
  int port = d->port;
  int n;
  if (eprt) {
    n = snprintf(arg, size, "|%d|%s|%d|", family == AF_INET ? 1 : 2, ip, port);
  } else {
    const uint8_t *b = (const uint8_t *)addr;
    n = snprintf(arg, size, "%u,%u,%u,%u,%d,%d", b[0], b[1], b[2], b[3],
                 port >> 8, port & 255);
  }
  return (n < 0 || (size_t)n >= size) ? NT_ETOOBIG : 0;
}

void nt__ftp_data_close(nt_ftp_t *f, int abort) {
  nt_timer_stop(&f->data_timer);
  dconn_drop(f);
  nt__ftp_data_t *dp = f->dp;
  if (!dp) return;
  f->dp = NULL;
  dp->f = NULL;
  if (abort && dp->base.transport) nt_transport_abort(dp->base.transport);
}
