/* The FTP data channel (ftp-data.h): opening a data connection (passive:
 * connect to the address given; active: listen and accept only the peer
 * given), TLS on it (resuming the session given), and moving bytes (a sink
 * for downloads, paused while it lags; write_file or a bounded producer for
 * uploads; lines for listings). It reports through its callbacks table and
 * never calls into the FTP client or its state machine: what the events
 * mean, and the data connection's deadlines, are ftp_state.c's. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftp-data.h"
#include "nettool/framing.h"
#include "reactor-int.h"

#define CHUNK 16384
#define PRODUCE_ROUNDS 16 /* chunks per turn before yielding to the loop */

typedef struct opener opener_t;
typedef struct dproto dproto_t;

struct nt__ftp_dchan {
  nt__ftp_dchan_config_t cfg;
  nt_reactor_t *reactor;
  char *server_name;
  opener_t *dconn; /* pending passive connect or active listener */
  dproto_t *dp;     /* the data connection */
  int foreign_refused;    /* active: a connection from another address */
  int err;                /* our own failure, reported once */
  uint64_t bytes;         /* received, or read from the source */
};

/* Opening: the factory of a passive connect or an active listener. */
struct opener {
  nt_factory_t fac;
  nt__ftp_dchan_t *ch; /* NULL once abandoned */
  nt_reactor_t *reactor;
  void *handle;
  int listening;
  int accepted;
  int port;                     /* active: the port listened on */
  struct sockaddr_storage peer; /* active: the only address accepted */
};

/* The connection's protocol; the transport owns it, and it may outlive
 * the channel (detached: ch NULL). */
struct dproto {
  nt_protocol_t base;
  nt__ftp_dchan_t *ch; /* NULL once detached */
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
  int eof_sent;               /* end_upload: every byte queued, half-closed */
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

const nt__ftp_net_ops_t nt__ftp_tcp_net_ops = {
    .connect = tcp_connect,
    .cancel = tcp_cancel,
    .listen = tcp_listen,
    .unlisten = tcp_unlisten,
};
const nt__ftp_net_ops_t *nt__ftp_net_ops = &nt__ftp_tcp_net_ops;

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

/* --- moving bytes ------------------------------------------------------------------------- */

/* Our own failure: reported once, then the connection ends with it. */
static void data_fail(dproto_t *dp, int status) {
  nt__ftp_dchan_t *ch = dp->ch;
  if (ch && !ch->err) {
    ch->err = status;
    ch->cfg.cbs->error(ch, ch->cfg.arg, status);
  }
  if (dp->base.transport) nt_transport_abort_error(dp->base.transport, status);
}

/* A failure at the end (nothing left to abort): remembered only. */
static void note_error(nt__ftp_dchan_t *ch, int status) {
  if (ch->err) return;
  ch->err = status;
  ch->cfg.cbs->error(ch, ch->cfg.arg, status);
}

static int list_line(void *arg, const char *line, size_t len) {
  dproto_t *dp = arg;
  nt__ftp_dchan_t *ch = dp->ch;
  if (!ch) return 1;
  return ch->cfg.cbs->line(ch, ch->cfg.arg, line, len);
}

static int to_sink(nt__ftp_dchan_t *ch, const char *p, size_t n, int *pause) {
  if (!n) return 0;
  int rc = ch->cfg.sink.data(ch->cfg.sink.ctx, p, n);
  if (rc == NT_EAGAIN) {
    *pause = 1;
    return 0;
  }
  return rc;
}

/* TYPE A: CRLF becomes LF; a CR at the end of a chunk waits for the next. */
static int sink_ascii(dproto_t *dp, const char *p, size_t n, int *pause) {
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
      int rc = to_sink(dp->ch, out, o, pause);
      if (rc) return rc;
      o = 0;
    }
  }
  return to_sink(dp->ch, out, o, pause);
}

static void dp_data(nt_protocol_t *p, const char *data, size_t len) {
  dproto_t *dp = (dproto_t *)p;
  nt__ftp_dchan_t *ch = dp->ch;
  if (!ch || ch->cfg.mode == NT__DCHAN_SOURCE || ch->err) return;
  ch->bytes += len;
  ch->cfg.cbs->progress(ch, ch->cfg.arg, ch->bytes);
  if (dp->ch != ch) return;
  if (ch->cfg.mode == NT__DCHAN_LINES) {
    int rc = nt_line_reader_feed(&dp->lines, data, len, list_line, dp, NULL);
    if (rc < 0) data_fail(dp, rc);
    return;
  }
  int pause = 0;
  int rc = ch->cfg.ascii ? sink_ascii(dp, data, len, &pause)
                         : to_sink(ch, data, len, &pause);
  if (rc) {
    data_fail(dp, rc);
    return;
  }
  if (pause && !dp->paused && p->transport) {
    dp->paused = 1;
    nt_transport_pause_reading(p->transport);
  }
}

/* The end of a download: what was held back goes out. */
static void flush_tail(dproto_t *dp) {
  nt__ftp_dchan_t *ch = dp->ch;
  int pause = 0;
  if (ch->cfg.mode == NT__DCHAN_SINK) {
    if (dp->cr && ch->cfg.ascii) {
      dp->cr = 0;
      int rc = to_sink(ch, "\r", 1, &pause);
      if (rc) note_error(ch, rc);
    }
  } else if (ch->cfg.mode == NT__DCHAN_LINES && nt_line_reader_pending(&dp->lines)) {
    int rc = nt_line_reader_feed(&dp->lines, "\n", 1, list_line, dp, NULL);
    if (rc < 0 && dp->ch) note_error(dp->ch, rc);
  }
}

static void produce(dproto_t *dp);

/* All bytes are queued: half-close (close_notify on TLS) and keep reading
 * until the server closes. Closing outright could reset the connection if
 * the server sent anything we did not read (a TLS 1.3 session ticket), and
 * a reset makes the server drop the upload. */
static void end_upload(dproto_t *dp) {
  int rc = nt_transport_write_eof(dp->base.transport);
  if (rc) data_fail(dp, rc);
  else dp->eof_sent = 1;
}

static void produce_cb(void *arg) {
  dproto_t *dp = arg;
  dp->produce_queued = 0;
  if (dp->destroyed)
    nt__free(dp); /* destroyed while this call was queued */
  else
    produce(dp);
}

/* Uploads that cannot use write_file (TYPE A, pipes): read a chunk, convert
 * it, write it, until the transport asks for a pause. Bounded per turn. */
static void produce(dproto_t *dp) {
  nt__ftp_dchan_t *ch = dp->ch;
  nt_transport_t *t = dp->base.transport;
  if (!ch || !t || !dp->producing) return;
  char in[CHUNK], out[2 * CHUNK];
  for (int round = 0; round < PRODUCE_ROUNDS; round++) {
    if (dp->write_paused || ch->err) return;
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
      data_fail(dp, -errno);
      return;
    }
    if (n == 0) {
      dp->producing = 0;
      end_upload(dp);
      return;
    }
    dp->src_off += (uint64_t)n;
    if (dp->src_left != UINT64_MAX) dp->src_left -= (uint64_t)n;
    ch->bytes += (uint64_t)n;
    ch->cfg.cbs->progress(ch, ch->cfg.arg, ch->bytes);
    if (dp->ch != ch) return;
    const char *w = in;
    size_t wl = (size_t)n;
    if (ch->cfg.ascii) { /* bare LF becomes CRLF */
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
      data_fail(dp, rc);
      return;
    }
    dp->queued += wl;
  }
  if (!dp->produce_queued && nt_call_soon(dp->base.transport->reactor, produce_cb, dp) == 0)
    dp->produce_queued = 1;
}

void nt__ftp_dchan_start_upload(nt__ftp_dchan_t *ch) {
  dproto_t *dp = ch->dp;
  nt_transport_t *t = dp ? dp->base.transport : NULL;
  if (!t) return;
  const nt__ftp_dchan_config_t *c = &ch->cfg;
  dp->src_fd = c->src_fd;
  dp->src_off = c->src_offset;
  dp->src_left = c->src_length;
  struct stat st;
  if (!c->ascii && c->src_length != UINT64_MAX && fstat(c->src_fd, &st) == 0 &&
      S_ISREG(st.st_mode)) {
    /* The whole range at once: sendfile on TCP, 16 KiB at a time on TLS. */
    int rc = nt_transport_write_file(t, c->src_fd, c->src_offset, c->src_length);
    if (rc) {
      data_fail(dp, rc);
      return;
    }
    dp->queued = c->src_length;
    ch->bytes = c->src_length;
    c->cbs->progress(ch, c->arg, ch->bytes);
    if (dp->ch != ch) return;
    end_upload(dp);
    return;
  }
  dp->producing = 1;
  produce(dp);
}

/* --- the data protocol --------------------------------------------------------------------- */

static void dp_made(nt_protocol_t *p, nt_transport_t *t) {
  dproto_t *dp = (dproto_t *)p;
  nt__ftp_dchan_t *ch = dp->ch;
  if (dp->connected) { /* the second connection_made: TLS is up */
    dp->tls_up = 1;
    NT__DEBUG("ftp: data connection TLS up, %s, session reused: %s", nt_tls_version(t),
              nt_tls_session_reused(t) ? "yes" : "no");
    if (ch) ch->cfg.cbs->ready(ch, ch->cfg.arg);
    return;
  }
  dp->connected = 1;
  if (!ch) {
    nt_transport_abort(t);
    return;
  }
  ch->cfg.cbs->connected(ch, ch->cfg.arg);
  if (dp->ch != ch) return;
  /* Protected: the owner starts TLS when the server is ready for it. */
  if (!ch->cfg.tls_ctx) ch->cfg.cbs->ready(ch, ch->cfg.arg);
}

int nt__ftp_dchan_tls_due(const nt__ftp_dchan_t *ch) {
  const dproto_t *dp = ch->dp;
  return ch->cfg.tls_ctx && dp && dp->connected && !dp->tls_started && dp->base.transport;
}

int nt__ftp_dchan_start_tls(nt__ftp_dchan_t *ch, nt_tls_session_t *session) {
  if (!nt__ftp_dchan_tls_due(ch)) return 0;
  dproto_t *dp = ch->dp;
  nt_transport_t *t = dp->base.transport;
  nt_tls_options_t to;
  memset(&to, 0, sizeof to);
  to.server_name = ch->server_name;
  to.session = session;
  to.handshake_timeout_ms = ch->cfg.handshake_timeout_ms; /* fails with NT_ETIMEDOUT */
  dp->tls_started = 1;
  int rc = nt_tls_start(t, ch->cfg.tls_ctx, &dp->base, &to, NULL);
  if (rc) {
    dp->tls_started = 0;
    data_fail(dp, rc);
    return 0;
  }
  return 1;
}

static void dp_lost(nt_protocol_t *p, int status) {
  dproto_t *dp = (dproto_t *)p;
  nt__ftp_dchan_t *ch = dp->ch;
  NT__DEBUG("ftp: data connection ended (%s)%s", status ? nt_err_name(status) : "ok",
            ch ? "" : ", not ours any more");
  if (!ch) return;
  if (!status || status == NT_ETLS_TRUNCATED) flush_tail(dp);
  if (dp->ch != ch) return;
  int in_handshake = status && dp->tls_started && !dp->tls_up;
  ch->dp = NULL;
  dp->ch = NULL;
  ch->cfg.cbs->done(ch, ch->cfg.arg, status, in_handshake);
}

static void dp_pause_writing(nt_protocol_t *p) {
  ((dproto_t *)p)->write_paused = 1;
}

static void dp_resume_writing(nt_protocol_t *p) {
  dproto_t *dp = (dproto_t *)p;
  dp->write_paused = 0;
  if (dp->producing) produce(dp);
}

static void dp_destroy(nt_protocol_t *p) {
  dproto_t *dp = (dproto_t *)p;
  if (dp->ch && dp->ch->dp == dp) dp->ch->dp = NULL;
  dp->ch = NULL;
  dp->destroyed = 1;
  nt_line_reader_free(&dp->lines);
  if (dp->produce_queued) return; /* produce_cb frees it */
  nt__free(dp);
}

static const nt_protocol_ops_t dp_ops = {
    .connection_made = dp_made,
    .data_received = dp_data,
    .connection_lost = dp_lost,
    .pause_writing = dp_pause_writing,
    .resume_writing = dp_resume_writing,
    .destroy = dp_destroy,
};

static dproto_t *dp_new(nt__ftp_dchan_t *ch) {
  dproto_t *dp = nt__calloc(1, sizeof *dp);
  if (!dp) return NULL;
  nt_protocol_init(&dp->base, &dp_ops);
  dp->ch = ch;
  dp->src_fd = -1;
  nt_line_reader_init(&dp->lines, ch->cfg.max_line);
  ch->dp = dp;
  return dp;
}

int nt__ftp_dchan_ready(const nt__ftp_dchan_t *ch) {
  const dproto_t *dp = ch->dp;
  return dp && dp->connected && (ch->cfg.tls_ctx ? dp->tls_up : 1) &&
         dp->base.transport && !nt_transport_is_closing(dp->base.transport);
}

int nt__ftp_dchan_running(const nt__ftp_dchan_t *ch) {
  return ch->dp || ch->dconn;
}

int nt__ftp_dchan_handshaking(const nt__ftp_dchan_t *ch) {
  const dproto_t *dp = ch->dp;
  return dp && dp->tls_started && !dp->tls_up;
}

int nt__ftp_dchan_refused_foreign(const nt__ftp_dchan_t *ch) {
  return ch->foreign_refused && !ch->dp;
}

static int unacked(nt_transport_t *t, uint64_t *out) {
  return nt__ftp_net_ops->unacked ? nt__ftp_net_ops->unacked(t, out)
                                  : nt_transport_unacked(t, out);
}

int nt__ftp_dchan_sent(const nt__ftp_dchan_t *ch, uint64_t *sent) {
  const dproto_t *dp = ch->dp;
  if (!dp || !dp->base.transport) return 0;
  /* What the server's TCP acknowledged (the queue and the kernel's
   * unacknowledged bytes held back), not what the kernel took: the socket
   * buffers can hold megabytes the server has not seen. Transports that
   * cannot say count what left the queue. */
  uint64_t waiting;
  if (unacked(dp->base.transport, &waiting) != 0)
    waiting = nt_transport_write_buffer_size(dp->base.transport);
  *sent = dp->queued > waiting ? dp->queued - waiting : 0;
  return 1;
}

int nt__ftp_dchan_written(const nt__ftp_dchan_t *ch, uint64_t *unacked_out,
                          uint64_t *queued) {
  const dproto_t *dp = ch->dp;
  nt_transport_t *t = dp ? dp->base.transport : NULL;
  if (!t || !dp->eof_sent) return 0;
  size_t own = nt_transport_write_buffer_size(t);
  if (own) return 0; /* not all in the kernel yet */
  uint64_t k;
  if (unacked(t, &k) != 0) k = 0;
  *unacked_out = k;
  *queued = dp->queued;
  return 1;
}

void nt__ftp_dchan_resume(nt__ftp_dchan_t *ch) {
  dproto_t *dp = ch->dp;
  if (!dp || !dp->paused) return;
  dp->paused = 0;
  if (dp->base.transport) nt_transport_resume_reading(dp->base.transport);
}

/* --- opening: passive connects, active listeners -------------------------------------------- */

static void unlisten_cb(void *arg) {
  opener_t *d = arg;
  nt__ftp_net_ops->unlisten(d->handle);
  nt__free(d);
}

/* Abandons a pending connect or listener. */
static void dconn_drop(nt__ftp_dchan_t *ch) {
  opener_t *d = ch->dconn;
  if (!d) return;
  ch->dconn = NULL;
  d->ch = NULL;
  if (!d->listening) {
    nt__ftp_net_ops->cancel(d->handle); /* connection_failed frees it */
  } else if (!d->accepted) {
    /* Never from inside the listener's own callbacks: from the loop. */
    d->accepted = 1;
    if (nt_call_soon(d->reactor, unlisten_cb, d)) { /* out of memory: keep it, refusing */
    }
  }
}

static nt_protocol_t *dconn_build(nt_factory_t *fac, const struct sockaddr *peer,
                                  socklen_t len) {
  opener_t *d = nt__container_of(fac, opener_t, fac);
  nt__ftp_dchan_t *ch = d->ch;
  if (!d->listening) { /* passive: connected */
    if (ch) ch->dconn = NULL;
    nt__free(d); /* the connector does not use its factory after this */
    if (!ch) return NULL;
    dproto_t *dp = dp_new(ch);
    return dp ? &dp->base : NULL;
  }
  if (!ch || d->accepted) return NULL;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  memcpy(&ss, peer, len < sizeof ss ? len : sizeof ss);
  if (!same_ip(&ss, &d->peer)) { /* only the server may connect */
    char a[NT_ADDRSTRLEN];
    ch->foreign_refused = 1;
    NT__DEBUG("ftp: data connection from %s refused",
              nt_addr_format(peer, a, sizeof a));
    return NULL;
  }
  dproto_t *dp = dp_new(ch);
  if (!dp) return NULL;
  d->accepted = 1;
  d->ch = NULL;
  ch->dconn = NULL;
  if (nt_call_soon(d->reactor, unlisten_cb, d)) { /* leak rather than crash */
  }
  return &dp->base;
}

static void dconn_failed(nt_factory_t *fac, nt_connector_t *c, int status) {
  opener_t *d = nt__container_of(fac, opener_t, fac);
  nt__ftp_dchan_t *ch = d->ch;
  (void)c;
  nt__free(d);
  if (!ch) return;
  ch->dconn = NULL;
  ch->cfg.cbs->failed(ch, ch->cfg.arg, status ? status : NT_ECONNREFUSED);
}

static const nt_factory_ops_t dconn_ops = {
    .build_protocol = dconn_build,
    .connection_failed = dconn_failed,
};

static opener_t *dconn_new(nt__ftp_dchan_t *ch, int listening) {
  opener_t *d = nt__calloc(1, sizeof *d);
  if (!d) return NULL;
  d->fac.ops = &dconn_ops;
  d->ch = ch;
  d->reactor = ch->reactor;
  d->listening = listening;
  return d;
}

int nt__ftp_dchan_connect(nt__ftp_dchan_t *ch, const struct sockaddr *sa,
                          socklen_t len) {
  if (ch->dconn || ch->dp) return NT_EINVAL;
  opener_t *d = dconn_new(ch, 0);
  if (!d) return NT_ENOMEM;
  nt_tcp_connect_options_t co;
  memset(&co, 0, sizeof co);
  co.timeout_ms = ch->cfg.connect_timeout_ms;
  ch->dconn = d;
  int rc;
  if (ch->cfg.proxy) { /* the tunnel goes to the server by its name */
    co.proxy = ch->cfg.proxy;
    int port = sa->sa_family == AF_INET6
                   ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
                   : ntohs(((const struct sockaddr_in *)sa)->sin_port);
    nt_connector_t *c = NULL;
    rc = nt_tcp_connect(ch->reactor, ch->cfg.proxy_dest, port, &d->fac, &co, &c);
    d->handle = c;
  } else {
    rc = nt__ftp_net_ops->connect(ch->reactor, sa, len, &d->fac, &co, &d->handle);
  }
  if (rc) {
    ch->dconn = NULL;
    nt__free(d);
  }
  return rc;
}

int nt__ftp_dchan_listen(nt__ftp_dchan_t *ch, const char *ip,
                         const struct sockaddr_storage *peer, int *port) {
  opener_t *d = ch->dconn;
  if (d && d->listening) { /* announced again (EPRT refused, then PORT) */
    *port = d->port;
    return 0;
  }
  if (d || ch->dp) return NT_EINVAL;
  d = dconn_new(ch, 1);
  if (!d) return NT_ENOMEM;
  d->peer = *peer;
  int rc = nt__ftp_net_ops->listen(ch->reactor, ip, &d->fac, &d->handle, &d->port);
  if (rc) {
    nt__free(d);
    return rc;
  }
  ch->dconn = d;
  *port = d->port;
  return 1;
}

/* --- making and closing ------------------------------------------------------------------------ */

int nt__ftp_dchan_new(nt_reactor_t *r, const nt__ftp_dchan_config_t *cfg,
                      nt__ftp_dchan_t **out) {
  nt__ftp_dchan_t *ch = nt__calloc(1, sizeof *ch);
  if (!ch) return NT_ENOMEM;
  ch->cfg = *cfg;
  ch->reactor = r;
  if (cfg->server_name) {
    ch->server_name = nt__strdup(cfg->server_name);
    if (!ch->server_name) {
      nt__free(ch);
      return NT_ENOMEM;
    }
  }
  ch->cfg.server_name = NULL; /* not kept: the copy is */
  *out = ch;
  return 0;
}

void nt__ftp_dchan_close(nt__ftp_dchan_t *ch, int abort) {
  if (!ch) return;
  dconn_drop(ch);
  dproto_t *dp = ch->dp;
  if (dp) {
    ch->dp = NULL;
    dp->ch = NULL;
    if (abort && dp->base.transport) nt_transport_abort(dp->base.transport);
  }
  nt__free(ch->server_name);
  nt__free(ch);
}
