/* The control connection's state machine: one enum (ftp-int.h), one name
 * table, one setter, and one switch that decides what every reply means in
 * the state it arrives in. Calls run one way: the client (ftp_client.c)
 * hands replies, connection events and operations here; this file drives
 * the data channel (ftp_data.c, through ftp-data.h), whose events come back
 * through the callbacks table below and move the same states. The data
 * connection's deadlines (the data timer) are decided here too.
 *
 *   CONNECTING -> [TLS_HANDSHAKE (implicit)] -> GREETING
 *     -> [AUTH_TLS -> TLS_HANDSHAKE (explicit)] -> READY
 *   READY -> one operation at a time, back to READY:
 *     login:    USER -> PASS -> [PBSZ -> PROT]
 *     feat:     FEAT        utf8: OPTS       simple: SIMPLE
 *     rename:   RNFR -> RNTO                 size: [TYPE] -> SIZE
 *     transfer: [TYPE] -> [SIZE] -> EPSV|PASV -> DATA_CONNECT
 *                                 | EPRT|PORT
 *               -> [REST] -> XFER_CMD -> XFER (1xx) -> final reply and the
 *               data connection's end -> [VERIFY]
 *     quit:     QUIT
 *   any -> CLOSED
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ftp-int.h"
#include "reactor-int.h"

const char *const nt__ftp_state_names[NT__FTP_NSTATES] = {
#define NT__FTP_STATE_NAME(name) #name,
    NT__FTP_STATES(NT__FTP_STATE_NAME)
#undef NT__FTP_STATE_NAME
};

void nt__ftp_set_state(nt_ftp_t *f, nt__ftp_state_t s) {
  if (f->state == s) return;
  NT__DEBUG("ftp: %s -> %s", nt__ftp_state_names[f->state],
            nt__ftp_state_names[s]);
  f->state = s;
}

static const char *const xcmd_names[] = {"RETR", "STOR", "APPE",
                                         "LIST", "NLST", "MLSD"};

/* Sends a command and enters the state that awaits its reply; a command
 * that cannot be sent ends the running operation. */
static void cmd(nt_ftp_t *f, nt__ftp_state_t st, int flags, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
static void cmd(nt_ftp_t *f, nt__ftp_state_t st, int flags, const char *fmt,
                ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  nt__ftp_set_state(f, st);
  int rc = (n < 0 || (size_t)n >= sizeof buf)
               ? NT_ETOOBIG
               : nt_pp_command(&f->pp, flags, nt__ftp_reply, NULL, f, "%s", buf);
  memset(buf, 0, sizeof buf); /* it may have held a password */
  if (rc) nt__ftp_op_finish(f, rc);
}

/* The running operation fails with the server's reply. */
static void fail_with(nt_ftp_t *f, int status, int code, const char *text,
                      size_t len) {
  if (f->cur) nt__ftp_op_set_reply(f->cur, code, text, len);
  nt__ftp_op_finish(f, status);
}

static int positive(int code) { return code >= 200 && code < 300; }

static int is_upload(const nt__ftp_op_t *op) {
  return op->xcmd == NT__X_STOR || op->xcmd == NT__X_APPE;
}

/* --- the data connection: addresses, the channel, its deadlines ------------------------- */

static const nt__ftp_dchan_cbs_t dchan_cbs;

static int control_address(nt_ftp_t *f, int local, struct sockaddr_storage *ss,
                           socklen_t *len) {
  nt_transport_t *t = nt_pp_transport(&f->pp);
  if (!t) return NT_ENOTCONN;
  *len = sizeof *ss;
  return local ? nt_transport_host_address(t, ss, len)
               : nt_transport_peer_address(t, ss, len);
}

static int peer_family(nt_ftp_t *f) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (control_address(f, 0, &ss, &len)) return AF_UNSPEC;
  if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) return AF_INET;
  }
  return ss.ss_family;
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
  return f->data && nt__ftp_dchan_handshaking(f->data);
}

/* Data moved (or a connection/handshake finished): the idle deadline moves
 * and so does the reply timeout of the silent control connection. */
static void progress(nt_ftp_t *f) {
  f->progress_at = f->touched_at = nt_reactor_now(f->reactor);
  nt_pp_touch(&f->pp);
}

/* --- the final reply's wait ----------------------------------------------------------
 *
 * Once we finished writing an upload (every byte queued, the write side
 * half-closed, the transport's own queue empty), the kernel may still hold
 * megabytes the server has not received: socket buffers grow to several MB
 * on fast paths, and on a slow link or a server that reads slowly (its
 * disk) they take long to drain. The server's 226 comes only after that.
 * A fixed wait is either too short for a big remainder or far too long for
 * a dead server, so the wait is scaled by what is still buffered at that
 * moment (nt_transport_unacked: SIOCOUTQ) and how fast this transfer
 * actually went:
 *
 *   wait = base + SAFETY * unacked / rate,  within [base, max(base, CAP)]
 *
 * base is the reply timeout (what any reply gets once the server has all
 * the data); rate is the bytes the server's TCP acknowledged so far divided
 * by the time since the upload began (measured over at least RATE_MIN_MS,
 * else GUESS_RATE: a whole file that went into the socket buffer at once
 * says nothing about the link); SAFETY 2 absorbs a rate that falls as the
 * receiver's window fills or the measurement window was optimistic; CAP
 * (1 h) bounds the wait when the numbers are absurd. The wait counts from
 * that moment: it extends the data connection's idle deadline while it
 * drains (a server whose window stays shut acknowledges nothing, yet is
 * working through what it has), and the reply timeout once the data
 * connection has ended, never shortening either. A download's data ends
 * with the server's close: nothing of ours is buffered, so its wait is
 * base, the reply timeout as before. */
#define FINAL_SAFETY 2
#define FINAL_CAP_MS (60ull * 60 * 1000)
#define RATE_MIN_MS 100
#define GUESS_RATE (256u * 1024) /* bytes/s, when the rate is unknown */

uint64_t nt__ftp_final_wait_ms(uint64_t base_ms, uint64_t unacked,
                               uint64_t acked, uint64_t elapsed_ms) {
  uint64_t cap = base_ms > FINAL_CAP_MS ? base_ms : FINAL_CAP_MS;
  if (!unacked) return base_ms;
  uint64_t rate = elapsed_ms >= RATE_MIN_MS && acked ? acked / elapsed_ms * 1000 +
                                                          acked % elapsed_ms * 1000 / elapsed_ms
                                                    : GUESS_RATE;
  if (!rate) rate = 1; /* under a byte a second */
  /* unacked * 1000 * SAFETY / rate ms, without overflowing */
  uint64_t drain_s = unacked / rate, rem = unacked % rate;
  if (drain_s > cap / 1000 / FINAL_SAFETY) return cap;
  uint64_t drain = FINAL_SAFETY * (drain_s * 1000 + rem * 1000 / rate);
  return drain > cap - base_ms ? cap : base_ms + drain;
}

/* The end of the final reply's wait; 0: it has not begun. */
static uint64_t final_end(const nt_ftp_t *f) {
  if (!f->final_at) return 0;
  return f->final_at > UINT64_MAX - f->final_wait_ms ? UINT64_MAX
                                                     : f->final_at + f->final_wait_ms;
}

/* The wait begins: `unacked` bytes still in the kernel, `acked` gone. */
static void final_start(nt_ftp_t *f, uint64_t unacked, uint64_t acked) {
  uint64_t now = nt_reactor_now(f->reactor);
  int timed = f->cur && f->cur->kind == NT__OP_XFER && f->cur->upload_started;
  uint64_t elapsed = timed && now > f->upload_at ? now - f->upload_at : 0;
  f->final_at = now;
  f->final_touched = 0;
  f->final_wait_ms = nt__ftp_final_wait_ms(f->opts.reply_timeout_ms, unacked, acked, elapsed);
  NT__DEBUG("ftp: data written; %" PRIu64 " bytes unacknowledged, %" PRIu64
            " acknowledged in %" PRIu64 " ms: the final reply may take %" PRIu64 " ms",
            unacked, acked, elapsed, f->final_wait_ms);
}

/* Once the final wait began (the data connection draining or ended
 * cleanly, the final reply awaited), the transfer command's reply timeout
 * must not run out before the wait's end: it is restarted (touched) before
 * it could, every half of it, and last at end - reply timeout, so that it
 * runs out exactly at the end (progress restarts it as always). When the
 * next touch is due; UINT64_MAX: none (the wait is no longer than the reply
 * timeout itself, or the last touch is done). */
static uint64_t touch_due(const nt_ftp_t *f) {
  uint64_t rt = f->opts.reply_timeout_ms;
  if (!f->final_at || f->final_touched || f->final_wait_ms <= rt) return UINT64_MAX;
  uint64_t last = final_end(f) - rt, step = rt / 2 ? rt / 2 : 1;
  uint64_t next = f->touched_at + step;
  return next < last ? next : last;
}

static void final_touch(nt_ftp_t *f, uint64_t now) {
  if (now >= final_end(f) - f->opts.reply_timeout_ms) f->final_touched = 1;
  f->touched_at = now;
  nt_pp_touch(&f->pp);
}

static uint64_t deadline(const nt_ftp_t *f, const nt__ftp_op_t *op) {
  if (op->data_done) return f->data_failed_at + min64(FAIL_GRACE_MS, f->opts.reply_timeout_ms);
  /* The TLS layer's handshake timeout fails it at the same time, and the
   * connector's its passive connect: connecting is the connect limit's. */
  if (handshaking(f)) return f->data_hs_at + f->opts.connect_timeout_ms;
  if (f->state == NT__FTP_DATA_CONNECT) return f->progress_at + f->opts.connect_timeout_ms;
  uint64_t idle = f->progress_at + f->opts.data_timeout_ms;
  /* written: what the kernel holds drains for the final wait at least */
  return f->final_at && final_end(f) > idle ? final_end(f) : idle;
}

/* Keepalive: at most this many NOOPs unanswered (a server that reads the
 * control connection only after the transfer gets no more than this). */
#define MAX_NOOPS_OUT 32

/* When the next keepalive NOOP is due: only while data flows after the 1xx
 * (before it, the transfer command's reply is what the server owes). */
static uint64_t keepalive_due(const nt_ftp_t *f, const nt__ftp_op_t *op) {
  uint64_t k = f->opts.keepalive_ms;
  if (k == NT_FTP_KEEPALIVE_OFF || f->state != NT__FTP_XFER || op->data_done ||
      op->final_ok || f->noops_out >= MAX_NOOPS_OUT)
    return UINT64_MAX;
  return f->noop_at > UINT64_MAX - k ? UINT64_MAX : f->noop_at + k;
}

/* Written as it is, not queued in pingpong: the transfer command stays the
 * awaited one (nt__ftp_reply and nt__ftp_unsolicited take the 200s). */
static void send_noop(nt_ftp_t *f) {
  nt_transport_t *t = nt_pp_transport(&f->pp);
  f->noop_at = nt_reactor_now(f->reactor);
  if (!t || nt_transport_is_closing(t)) return;
  NT__DEBUG("> NOOP (keepalive; %u unanswered)", f->noops_out);
  /* A failed write is the transport's to report (the connection ends). */
  if (nt_transport_write(t, "NOOP\r\n", 6) == 0) f->noops_out++;
}

static void arm(nt_ftp_t *f, const nt__ftp_op_t *op) {
  uint64_t now = nt_reactor_now(f->reactor);
  if (op->data_done && !op->data_err) { /* a clean end: the final wait */
    uint64_t t = op->final_ok ? UINT64_MAX : touch_due(f); /* VERIFY: its own */
    if (t == UINT64_MAX)
      nt_timer_stop(&f->data_timer); /* the reply timeout alone */
    else
      nt_timer_start(&f->data_timer, t > now ? t - now : 0, 0);
    return;
  }
  uint64_t due = min64(min64(deadline(f, op), keepalive_due(f, op)), touch_due(f));
  if (is_upload(op) && !op->data_done) {
    uint64_t sample = min64(UPLOAD_SAMPLE_MS, f->opts.data_timeout_ms / 10);
    due = min64(due, now + (sample ? sample : 1));
  }
  nt_timer_start(&f->data_timer, due > now ? due - now : 0, 0);
}

static void tick_start(nt_ftp_t *f) {
  f->progress_seen = 0;
  f->upload_at = f->final_at = f->final_wait_ms = 0;
  f->final_touched = 0;
  f->progress_at = nt_reactor_now(f->reactor);
  arm(f, f->cur);
}

void nt__ftp_data_end(nt_ftp_t *f, int abort) {
  nt_timer_stop(&f->data_timer);
  nt__ftp_dchan_t *ch = f->data;
  f->data = NULL;
  nt__ftp_dchan_close(ch, abort);
}

void nt__ftp_data_tick(nt_timer_t *t) {
  nt_ftp_t *f = t->data;
  nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER) return;
  uint64_t now = nt_reactor_now(f->reactor);
  if (op->data_done && !op->data_err) {
    /* A clean end: the reply timeout watches what is left, restarted so
     * that it ends no earlier than the final wait (not a later command's:
     * SIZE after an upload has its own). */
    if (op->final_ok) return;
    if (now >= touch_due(f)) final_touch(f, now);
    arm(f, op);
    return;
  }
  if (now >= keepalive_due(f, op)) {
    send_noop(f);
  }
  if (now >= touch_due(f)) final_touch(f, now); /* the reply timeout too */
  if (is_upload(op) && !op->data_done) {
    uint64_t seen = nt_ftp_xfer_bytes(f);
    if (seen != f->progress_seen) {
      f->progress_seen = seen;
      progress(f);
    }
    uint64_t unacked, queued;
    if (!f->final_at && f->data && nt__ftp_dchan_written(f->data, &unacked, &queued))
      final_start(f, unacked, queued > unacked ? queued - unacked : 0);
  }
  if (now < deadline(f, op)) {
    arm(f, op);
    return;
  }
  if (op->data_done) { /* failed, and the server said nothing since */
    f->where = op->data_err_tls ? NT_FTP_WHERE_DATA_TLS : NT_FTP_WHERE_DATA;
    nt__ftp_data_end(f, 1);
    nt__ftp_fail_session(f, op->data_err);
    return;
  }
  f->where = handshaking(f)                     ? NT_FTP_WHERE_DATA_TLS
             : f->state == NT__FTP_DATA_CONNECT ? NT_FTP_WHERE_DATA_CONNECT
                                                : NT_FTP_WHERE_DATA;
  NT__DEBUG("ftp: data connection: no progress for %" PRIu64 " ms", now - f->progress_at);
  /* Waiting for the server to connect while someone else tried: say so. */
  int why = f->data && nt__ftp_dchan_refused_foreign(f->data) ? NT_EFTP_DATA_PEER
                                                              : NT_ETIMEDOUT;
  if (op->final_ok || f->state == NT__FTP_DATA_CONNECT) {
    nt__ftp_op_finish(f, why); /* the control connection is in step */
    return;
  }
  /* A transfer command is outstanding: its reply would come who knows when,
   * so the session ends here. */
  nt__ftp_data_end(f, 1);
  nt__ftp_fail_session(f, why);
}

/* The running transfer's channel: what it moves, how, and its TLS. */
static int data_new(nt_ftp_t *f) {
  nt__ftp_op_t *op = f->cur;
  nt__ftp_dchan_config_t c;
  memset(&c, 0, sizeof c);
  c.mode = is_upload(op)              ? NT__DCHAN_SOURCE
           : op->xcmd == NT__X_RETR ? NT__DCHAN_SINK
                                    : NT__DCHAN_LINES;
  c.ascii = op->xo.ascii;
  c.sink = op->sink;
  c.max_line = f->opts.max_list_line;
  c.src_fd = op->xo.fd;
  c.src_offset = op->xo.offset;
  c.src_length = op->xo.length;
  c.connect_timeout_ms = f->opts.connect_timeout_ms;
  c.tls_ctx = f->prot_p ? f->opts.tls_ctx : NULL;
  c.server_name = f->server_name;
  c.handshake_timeout_ms = f->opts.connect_timeout_ms;
  c.cbs = &dchan_cbs;
  c.arg = f;
  c.proxy = f->host ? f->opts.proxy : NULL;
  c.proxy_dest = f->host;
  return nt__ftp_dchan_new(f->reactor, &c, &f->data);
}

/* Passive: connects to the control connection's peer at `port`. */
static int data_connect(nt_ftp_t *f, int port) {
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
  rc = data_new(f);
  if (rc) return rc;
  rc = nt__ftp_dchan_connect(f->data, (const struct sockaddr *)&ss, len);
  if (rc) {
    nt__ftp_data_end(f, 1);
    return rc;
  }
  tick_start(f);
  return 0;
}

/* Active: listens on the control connection's local address (accepting
 * only its peer) and writes "EPRT |1|addr|port|" or the PORT argument. */
static int data_listen(nt_ftp_t *f, int eprt, char *arg, size_t size) {
  struct sockaddr_storage local, peer;
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
  memset(&peer, 0, sizeof peer);
  rc = control_address(f, 0, &peer, &len);
  if (rc) return rc;
  int fresh = !f->data;
  if (fresh && (rc = data_new(f)) != 0) return rc;
  int port;
  rc = nt__ftp_dchan_listen(f->data, ip, &peer, &port);
  if (rc < 0) {
    if (fresh) nt__ftp_data_end(f, 1);
    return rc;
  }
  if (rc == 1) tick_start(f); /* a new listener (else announced again) */
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

/* The handshake waits for the server's 1xx, as lftp does: a server may
 * close a data connection with bytes waiting on it before it starts the
 * transfer (and with them the ClientHello), and then wait forever. */
static void data_start_tls(nt_ftp_t *f) {
  nt__ftp_dchan_t *ch = f->data;
  nt__ftp_op_t *op = f->cur;
  if (!f->prot_p || !ch || !nt__ftp_dchan_tls_due(ch) || !op ||
      op->kind != NT__OP_XFER || !(op->prelim || op->final_ok))
    return;
  nt_transport_t *ct = nt_pp_transport(&f->pp);
  /* vsftpd's require_ssl_reuse: the data connection must resume the
   * control connection's session. */
  nt_tls_session_t *s = ct ? nt_tls_get_session(ct) : NULL;
  f->data_hs_at = nt_reactor_now(f->reactor);
  nt__ftp_dchan_start_tls(ch, s);
  if (s) nt_tls_session_free(s);
  /* The handshake's own deadline (the TLS layer reports a failure to
   * start through the channel's `error`). */
  if (f->data == ch && f->cur == op && handshaking(f)) arm(f, op);
}

uint64_t nt_ftp_xfer_bytes(nt_ftp_t *f) {
  nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER) return 0;
  if (!is_upload(op)) return op->bytes;
  uint64_t sent;
  if (!f->data || !nt__ftp_dchan_sent(f->data, &sent)) return op->data_done ? op->bytes : 0;
  return sent;
}

uint64_t nt_ftp_xfer_size(const nt_ftp_t *f) {
  const nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER) return UINT64_MAX;
  if (is_upload(op))
    return op->xo.length == UINT64_MAX ? UINT64_MAX : op->xo.length;
  return op->size == UINT64_MAX ? UINT64_MAX : op->size - op->xo.offset;
}

void nt_ftp_resume_data(nt_ftp_t *f) {
  if (f->data) nt__ftp_dchan_resume(f->data);
}

/* --- transfers: the steps before the transfer command ---------------------------- */

static void data_setup(nt_ftp_t *f);

/* Goes on with the transfer after the step `after` succeeded. */
static void xfer_next(nt_ftp_t *f, nt__ftp_state_t after) {
  nt__ftp_op_t *op = f->cur;
  char want = op->xo.ascii ? 'A' : 'I';
  switch (after) {
  case NT__FTP_READY:
    if (f->type != want) {
      cmd(f, NT__FTP_TYPE, 0, "TYPE %c", want);
      return;
    }
    /* fall through */
  case NT__FTP_TYPE:
    if (op->xcmd == NT__X_RETR && !op->xo.ascii && op->size == UINT64_MAX &&
        !(f->have_features && !(f->features & NT_FTP_FEAT_SIZE))) {
      cmd(f, NT__FTP_SIZE, 0, "SIZE %s", op->a1);
      return;
    }
    /* fall through */
  case NT__FTP_SIZE:
    if (op->xcmd == NT__X_RETR && op->xo.offset && op->size != UINT64_MAX) {
      if (op->xo.offset == op->size) { /* resumed: nothing left to fetch */
        nt__ftp_op_finish(f, 0);
        return;
      }
      if (op->xo.offset > op->size) { /* resuming past the end */
        nt__ftp_op_finish(f, NT_EFTP_SIZE);
        return;
      }
    }
    data_setup(f);
    return;
  case NT__FTP_DATA_CONNECT:
  case NT__FTP_EPRT:
  case NT__FTP_PORT:
    if (op->xo.offset && op->xcmd != NT__X_APPE) { /* APPE: no REST */
      cmd(f, NT__FTP_REST, 0, "REST %" PRIu64, op->xo.offset);
      return;
    }
    /* fall through */
  case NT__FTP_REST:
    if (op->a1[0])
      cmd(f, NT__FTP_XFER_CMD, 0, "%s %s", xcmd_names[op->xcmd], op->a1);
    else
      cmd(f, NT__FTP_XFER_CMD, 0, "%s", xcmd_names[op->xcmd]);
    return;
  default:
    nt__ftp_op_finish(f, NT_EPROTO); /* not reached */
  }
}

static void active_setup(nt_ftp_t *f) {
  char arg[128];
  int eprt = !f->no_eprt;
  int rc = data_listen(f, eprt, arg, sizeof arg);
  if (rc == NT_EAFNOSUPPORT && eprt) { /* no PORT for IPv6 */
    nt__ftp_op_finish(f, rc);
    return;
  }
  if (rc) {
    nt__ftp_op_finish(f, rc);
    return;
  }
  if (eprt)
    cmd(f, NT__FTP_EPRT, 0, "EPRT %s", arg);
  else
    cmd(f, NT__FTP_PORT, 0, "PORT %s", arg);
}

static void data_setup(nt_ftp_t *f) {
  if (f->opts.active && !f->opts.proxy) { /* through a proxy: passive */
    active_setup(f);
  } else if (!f->no_epsv) {
    cmd(f, NT__FTP_EPSV, 0, "EPSV");
  } else if (peer_family(f) == AF_INET) {
    cmd(f, NT__FTP_PASV, 0, "PASV");
  } else {
    nt__ftp_op_finish(f, NT_EAFNOSUPPORT);
  }
}

static void passive_connect(nt_ftp_t *f, int port, int code, const char *text,
                            size_t len) {
  if (port < 0) {
    fail_with(f, NT_EFTP_BADREPLY, code, text, len);
    return;
  }
  /* The state first: a connection may be made before the call returns. */
  nt__ftp_set_state(f, NT__FTP_DATA_CONNECT);
  int rc = data_connect(f, port);
  if (rc) nt__ftp_op_finish(f, rc);
}

/* --- transfers: the end ---------------------------------------------------------------- */

static void maybe_upload(nt_ftp_t *f) {
  nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER || !is_upload(op) || !op->prelim ||
      op->upload_started || op->status || !f->data || !nt__ftp_dchan_ready(f->data))
    return;
  op->upload_started = 1;
  f->upload_at = nt_reactor_now(f->reactor);
  nt__ftp_dchan_start_upload(f->data);
}

/* Done once the final reply was positive AND the data connection ended. */
static void maybe_complete(nt_ftp_t *f) {
  nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER || !op->final_ok) return;
  if (!op->data_done) {
    if (f->data && nt__ftp_dchan_running(f->data)) return; /* it still runs */
    op->data_done = 1;              /* the server never opened one */
  }
  int st = op->status ? op->status : op->data_err;
  if (!st && op->xcmd == NT__X_RETR && !op->xo.ascii && op->size != UINT64_MAX &&
      op->xo.offset + op->bytes != op->size)
    st = NT_EFTP_SIZE;
  if (!st && is_upload(op) && op->xo.verify_size && !op->xo.append &&
      !op->xo.ascii &&
      !(f->have_features && !(f->features & NT_FTP_FEAT_SIZE))) {
    op->size = op->xo.offset + op->bytes;
    cmd(f, NT__FTP_VERIFY, 0, "SIZE %s", op->a1);
    return;
  }
  if (is_upload(op) && !st) op->size = op->xo.offset + op->bytes;
  nt__ftp_op_finish(f, st);
}

/* --- the data channel's events --------------------------------------------------------- */

/* The channel reports only while it is the running transfer's (it is
 * closed when the operation ends), so f->cur is that transfer. */
static nt_ftp_t *owner(nt__ftp_dchan_t *ch, void *arg) {
  nt_ftp_t *f = arg;
  if (f->data != ch || !f->cur || f->cur->kind != NT__OP_XFER) return NULL;
  return f;
}

static void dch_connected(nt__ftp_dchan_t *ch, void *arg) {
  nt_ftp_t *f = owner(ch, arg);
  if (!f) return;
  progress(f);
  if (f->state == NT__FTP_DATA_CONNECT) xfer_next(f, NT__FTP_DATA_CONNECT);
  if (f->data != ch) return;
  if (f->cur) arm(f, f->cur); /* connected: the idle deadline from now on */
  if (f->prot_p) data_start_tls(f); /* now if the 1xx came first (active mode) */
}

static void dch_ready(nt__ftp_dchan_t *ch, void *arg) {
  nt_ftp_t *f = owner(ch, arg);
  if (!f) return;
  if (f->prot_p) { /* TLS is up: the idle deadline may be the nearer one now */
    progress(f);
    arm(f, f->cur);
  }
  maybe_upload(f);
}

static void dch_progress(nt__ftp_dchan_t *ch, void *arg, uint64_t bytes) {
  nt_ftp_t *f = owner(ch, arg);
  if (!f) return;
  f->cur->bytes = bytes;
  /* Bytes read from an upload's source have not left yet: the data timer
   * samples what the transport sent (data_tick). */
  if (!is_upload(f->cur)) progress(f);
}

static int dch_line(nt__ftp_dchan_t *ch, void *arg, const char *line, size_t len) {
  nt_ftp_t *f = owner(ch, arg);
  if (!f || f->quitting) return 1;
  nt__ftp_op_t *op = f->cur;
  if (!op->line) return 0;
  nt_ftp_entry_t e, *ep = NULL;
  if (op->xcmd == NT__X_MLSD && nt_ftp_parse_mlsd(line, len, &e) == 0) ep = &e;
  op->line(op->line_arg, line, len, ep);
  return 0;
}

static void dch_error(nt__ftp_dchan_t *ch, void *arg, int status) {
  nt_ftp_t *f = owner(ch, arg);
  if (f && !f->cur->status) f->cur->status = status;
}

static void dch_failed(nt__ftp_dchan_t *ch, void *arg, int status) {
  nt_ftp_t *f = owner(ch, arg);
  if (!f) return;
  f->where = NT_FTP_WHERE_DATA_CONNECT;
  if (f->state == NT__FTP_DATA_CONNECT) nt__ftp_op_finish(f, status);
}

static void dch_done(nt__ftp_dchan_t *ch, void *arg, int status, int in_handshake) {
  nt_ftp_t *f = owner(ch, arg);
  if (!f) return;
  nt__ftp_op_t *op = f->cur;
  if (in_handshake) op->data_err_tls = 1;
  op->data_done = 1;
  /* A TLS data stream that ends without close_notify is accepted only
   * with the control connection's positive reply and a matching size. */
  if (status && status != NT_ETLS_TRUNCATED) op->data_err = status;
  if (!status && is_upload(op) && !op->upload_started)
    op->data_err = NT_EUNEXPECTEDEOF; /* closed before we sent a byte */
  if (op->data_err) f->where = op->data_err_tls ? NT_FTP_WHERE_DATA_TLS : NT_FTP_WHERE_DATA;
  if (op->data_err == NT_ETIMEDOUT && op->data_err_tls) {
    nt__ftp_fail_session(f, NT_ETIMEDOUT); /* the handshake's connect timeout */
    return;
  }
  if (op->data_err && !op->final_ok) {
    /* The final reply decides (a 550 after a reset is a refusal), if it
     * comes soon; the data timer gives it a short grace. */
    f->data_failed_at = nt_reactor_now(f->reactor);
    arm(f, op);
    return;
  }
  /* A clean end before we saw the upload written (or a download's end):
   * nothing of ours is buffered any more. */
  if (!op->data_err && !f->final_at) final_start(f, 0, op->bytes);
  maybe_complete(f);
  if (f->cur == op && !op->final_ok && !op->data_err) arm(f, op); /* the final wait */
}

static const nt__ftp_dchan_cbs_t dchan_cbs = {
    .connected = dch_connected,
    .ready = dch_ready,
    .progress = dch_progress,
    .line = dch_line,
    .error = dch_error,
    .done = dch_done,
    .failed = dch_failed,
};

/* --- the replies ----------------------------------------------------------------------- */

static void login_done(nt_ftp_t *f) {
  if (f->tls_up)
    cmd(f, NT__FTP_PBSZ, 0, "PBSZ 0");
  else
    nt__ftp_op_finish(f, 0);
}

static void become_ready(nt_ftp_t *f) {
  nt__ftp_set_state(f, NT__FTP_READY);
  if (f->cbs.ready) f->cbs.ready(f, f->arg);
  nt__ftp_dispatch(f);
}

/* The session cannot go on: remember the server's words, then close. */
static void end_with(nt_ftp_t *f, int status, int code, const char *text,
                     size_t len) {
  f->close_status = status;
  f->close_code = code;
  nt__free(f->close_text);
  f->close_text = nt__malloc(len + 1);
  if (f->close_text) {
    memcpy(f->close_text, text, len);
    f->close_text[len] = 0;
  }
  if (f->cur) nt__ftp_op_set_reply(f->cur, code, text, len);
  nt_transport_t *t = nt_pp_transport(&f->pp);
  if (t) nt_transport_lose_connection(t);
}

/* The control connection becomes TLS in place (AUTH TLS's 234, or the
 * first byte with implicit TLS): the engine drops whatever plaintext
 * follows, holds the reply timeout while the handshake runs (bounded by
 * hs_timeout_ms) and calls connected() again once TLS is up. */
static void start_tls(nt_ftp_t *f, uint64_t hs_timeout_ms) {
  nt_tls_options_t to;
  memset(&to, 0, sizeof to);
  to.server_name = f->server_name;
  to.handshake_timeout_ms = hs_timeout_ms;
  nt__ftp_set_state(f, NT__FTP_TLS_HANDSHAKE);
  int rc = nt_pp_start_tls(&f->pp, f->opts.tls_ctx, &to);
  if (rc) nt__ftp_fail_session(f, rc);
}

/* The control connection's TLS handshake must end within the connect
 * timeout of `from`: the handshake timeout to give the TLS layer. */
static uint64_t hs_timeout(nt_ftp_t *f, uint64_t from) {
  uint64_t now = nt_reactor_now(f->reactor);
  uint64_t due = from + f->opts.connect_timeout_ms;
  return due > now ? due - now : 1;
}

/* The control connection is up: TCP (implicit TLS starts here), or TLS
 * (the second connection_made). */
void nt__ftp_on_connected(nt_ftp_t *f) {
  nt_transport_t *t = nt_pp_transport(&f->pp);
  if (f->state == NT__FTP_TLS_HANDSHAKE) { /* the second connection_made: TLS is up */
    f->tls_up = 1;
    if (f->opts.tls == NT_FTP_TLS_IMPLICIT && nt_pp_last_code(&f->pp) == 0) {
      nt__ftp_set_state(f, NT__FTP_GREETING);
      if (f->cbs.connected) f->cbs.connected(f, f->arg);
      return;
    }
    become_ready(f);
    return;
  }
  if (f->opts.tls == NT_FTP_TLS_IMPLICIT && !nt_tls_is_tls(t)) {
    /* TLS from the first byte: the greeting comes encrypted. The
     * handshake is part of connecting: the connect timeout, counted from
     * nt_ftp_connect, bounds it; the greeting's reply timeout starts once
     * TLS is up (connection_made again). */
    start_tls(f, hs_timeout(f, f->connect_at ? f->connect_at : nt_reactor_now(f->reactor)));
    return;
  }
  nt__ftp_set_state(f, NT__FTP_GREETING);
  if (f->cbs.connected) f->cbs.connected(f, f->arg);
}

static void on_final(nt_ftp_t *f, int code, const char *text, size_t len) {
  nt__ftp_op_t *op = f->cur;
  if (code == 421) { /* service closing: whatever we were doing is over */
    end_with(f, NT_EFTP_CLOSED, code, text, len);
    return;
  }
  switch (f->state) {
  case NT__FTP_GREETING:
    if (code == 220) {
      if (f->opts.tls == NT_FTP_TLS_EXPLICIT && !f->tls_up)
        cmd(f, NT__FTP_AUTH_TLS, 0, "AUTH TLS");
      else
        become_ready(f);
    } else {
      end_with(f, NT_EFTP_REPLY, code, text, len);
    }
    break;
  case NT__FTP_AUTH_TLS:
    if (code == 234) /* the handshake: the connect limit's */
      start_tls(f, f->opts.connect_timeout_ms);
    else /* never fall back to plain text when TLS was asked for */
      end_with(f, NT_EFTP_NOTLS, code, text, len);
    break;
  case NT__FTP_USER:
    if (code == 230) {
      nt__ftp_op_set_reply(op, code, text, len);
      login_done(f);
    } else if (code == 331 || code == 332) {
      cmd(f, NT__FTP_PASS, NT_PP_SECRET_SHOW(4), "PASS %s", op->a2); /* "PASS ****" */
      memset(op->a2, 0, strlen(op->a2));
    } else {
      fail_with(f, NT_EFTP_LOGIN, code, text, len);
    }
    break;
  case NT__FTP_PASS:
    if (code == 230 || code == 202) {
      nt__ftp_op_set_reply(op, code, text, len);
      login_done(f);
    } else
      fail_with(f, NT_EFTP_LOGIN, code, text, len);
    break;
  case NT__FTP_PBSZ:
    if (positive(code))
      cmd(f, NT__FTP_PROT, 0, "PROT P");
    else
      fail_with(f, NT_EFTP_NOTLS, code, text, len);
    break;
  case NT__FTP_PROT:
    if (positive(code)) {
      f->prot_p = 1;
      nt__ftp_op_finish(f, 0);
    } else {
      fail_with(f, NT_EFTP_NOTLS, code, text, len);
    }
    break;
  case NT__FTP_FEAT:
    f->have_features = 1;
    f->features = positive(code) ? nt_ftp_parse_feat(text, len) : 0;
    nt__ftp_op_set_reply(op, code, text, len);
    nt__ftp_op_finish(f, 0); /* no FEAT just means no features */
    break;
  case NT__FTP_OPTS:
  case NT__FTP_RNTO:
    if (positive(code)) {
      nt__ftp_op_set_reply(op, code, text, len);
      nt__ftp_op_finish(f, 0);
    } else {
      fail_with(f, NT_EFTP_REPLY, code, text, len);
    }
    break;
  case NT__FTP_SIMPLE:
    if (!positive(code)) {
      fail_with(f, NT_EFTP_REPLY, code, text, len);
      break;
    }
    nt__ftp_op_set_reply(op, code, text, len);
    if (code == 257) {
      char path[1024];
      if (nt_ftp_parse_pathname(text, len, path, sizeof path) == 0)
        op->path = nt__strdup(path);
    } else if (code == 213 && !strcmp(op->verb, "MDTM")) {
      op->mtime = nt_ftp_parse_time(text, len);
      if (op->mtime < 0) {
        nt__ftp_op_finish(f, NT_EFTP_BADREPLY);
        break;
      }
    }
    nt__ftp_op_finish(f, 0);
    break;
  case NT__FTP_RNFR:
    if (code == 350)
      cmd(f, NT__FTP_RNTO, 0, "RNTO %s", op->a2);
    else
      fail_with(f, NT_EFTP_REPLY, code, text, len);
    break;
  case NT__FTP_TYPE:
    if (!positive(code)) {
      fail_with(f, NT_EFTP_REPLY, code, text, len);
      break;
    }
    f->type = (op->kind == NT__OP_XFER && op->xo.ascii) ? 'A' : 'I';
    if (op->kind == NT__OP_SIZE)
      cmd(f, NT__FTP_SIZE, 0, "SIZE %s", op->a1);
    else
      xfer_next(f, NT__FTP_TYPE);
    break;
  case NT__FTP_SIZE:
    if (op->kind == NT__OP_SIZE) {
      if (code != 213) {
        fail_with(f, NT_EFTP_REPLY, code, text, len);
      } else {
        nt__ftp_op_set_reply(op, code, text, len);
        nt__ftp_op_finish(f, nt_ftp_parse_size(text, len, &op->size));
      }
      break;
    }
    /* before RETR: a size to check the transfer against, if there is one */
    if (code == 213) {
      nt__ftp_op_set_reply(op, code, text, len);
      if (nt_ftp_parse_size(text, len, &op->size) != 0) op->size = UINT64_MAX;
    }
    xfer_next(f, NT__FTP_SIZE);
    break;
  case NT__FTP_EPSV:
    if (code == 229) {
      passive_connect(f, nt_ftp_parse_epsv(text, len), code, text, len);
    } else if (code >= 500 && peer_family(f) == AF_INET) {
      f->no_epsv = 1; /* and PASV from now on */
      cmd(f, NT__FTP_PASV, 0, "PASV");
    } else {
      fail_with(f, NT_EFTP_REPLY, code, text, len);
    }
    break;
  case NT__FTP_PASV: {
    uint8_t ip[4];
    if (code != 227) {
      fail_with(f, NT_EFTP_REPLY, code, text, len);
      break;
    }
    /* The address is ignored: data goes to the control connection's peer
     * (no NAT confusion, no FTP bounce). */
    passive_connect(f, nt_ftp_parse_pasv(text, len, ip), code, text, len);
    break;
  }
  case NT__FTP_EPRT:
    if (positive(code)) {
      xfer_next(f, NT__FTP_EPRT);
    } else if (code >= 500 && peer_family(f) == AF_INET) {
      f->no_eprt = 1;
      active_setup(f); /* the same listener, announced with PORT */
    } else {
      fail_with(f, NT_EFTP_REPLY, code, text, len);
    }
    break;
  case NT__FTP_PORT:
    if (positive(code))
      xfer_next(f, NT__FTP_PORT);
    else
      fail_with(f, NT_EFTP_REPLY, code, text, len);
    break;
  case NT__FTP_REST:
    if (code == 350)
      xfer_next(f, NT__FTP_REST);
    else
      fail_with(f, NT_EFTP_REPLY, code, text, len);
    break;
  case NT__FTP_XFER_CMD:
  case NT__FTP_XFER:
    nt__ftp_op_set_reply(op, code, text, len);
    if (!positive(code)) {
      nt__ftp_op_finish(f, op->status ? op->status : NT_EFTP_REPLY);
      break;
    }
    nt__ftp_set_state(f, NT__FTP_XFER);
    op->final_ok = 1;
    data_start_tls(f); /* a server that skipped the 1xx */
    maybe_complete(f);
    break;
  case NT__FTP_VERIFY: {
    uint64_t size;
    int st = 0;
    if (code == 213 && nt_ftp_parse_size(text, len, &size) == 0 && size != op->size)
      st = NT_EFTP_SIZE; /* the server has a different number of bytes */
    if (st) nt__ftp_op_set_reply(op, code, text, len);
    nt__ftp_op_finish(f, st);
    break;
  }
  case NT__FTP_QUIT: {
    nt_transport_t *t = nt_pp_transport(&f->pp);
    if (op) {
      nt__ftp_op_set_reply(op, code, text, len);
      nt__ftp_op_finish(f, 0);
    }
    if (t) nt_transport_lose_connection(t);
    break;
  }
  default: /* CONNECTING, TLS_HANDSHAKE, READY, DATA_CONNECT, CLOSED */
    NT__DEBUG("ftp: reply %d in state %s ignored", code,
              nt__ftp_state_names[f->state]);
    break;
  }
}

/* A 1xx reply: another one follows. */
static void on_preliminary(nt_ftp_t *f, int code, const char *text, size_t len) {
  nt__ftp_op_t *op = f->cur;
  if (f->state != NT__FTP_XFER_CMD || !op) return;
  op->prelim = 1;
  nt__ftp_op_set_reply(op, code, text, len);
  if (op->size == UINT64_MAX && op->xcmd == NT__X_RETR && !op->xo.ascii) {
    uint64_t n;
    if (nt_ftp_parse_150_size(text, len, &n) == 0) op->size = op->xo.offset + n;
  }
  nt__ftp_set_state(f, NT__FTP_XFER);
  f->noop_at = nt_reactor_now(f->reactor);
  data_start_tls(f); /* the server is ready for the handshake now */
  maybe_upload(f);
  if (f->cur == op && !op->data_done) arm(f, op); /* keepalive from now on */
}

int nt__ftp_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                  size_t len) {
  nt_ftp_t *f = arg;
  (void)pp;
  if (code < 0) return NT_PP_DONE; /* the connection ended: closed() says */
  if (code == 200 && f->noops_out) {
    /* A keepalive NOOP's, answered during the transfer: nothing sent after
     * the NOOPs can be answered before them, and the transfer command's own
     * final reply is 226/250, so the awaited command waits on. */
    f->noops_out--;
    return NT_PP_MORE;
  }
  if (code < 200) {
    on_preliminary(f, code, text, len);
    return NT_PP_MORE;
  }
  on_final(f, code, text, len);
  return NT_PP_DONE;
}

/* --- the session's events from the client ------------------------------------------------ */

void nt__ftp_op_ended(nt_ftp_t *f) {
  nt__ftp_data_end(f, 1);
  if (f->state != NT__FTP_CLOSED && f->state != NT__FTP_QUIT)
    nt__ftp_set_state(f, NT__FTP_READY);
}

void nt__ftp_session_ended(nt_ftp_t *f, int status) {
  /* A timeout nobody else claimed is the pingpong engine's: a reply. */
  if (status == NT_ETIMEDOUT && f->where == NT_FTP_WHERE_NONE)
    f->where = !f->attached                          ? NT_FTP_WHERE_CONNECT
               : f->state == NT__FTP_TLS_HANDSHAKE ? NT_FTP_WHERE_TLS
                                                   : NT_FTP_WHERE_REPLY;
  nt__ftp_data_end(f, 1);
  nt__ftp_set_state(f, NT__FTP_CLOSED);
}

void nt__ftp_unsolicited(nt_ftp_t *f, int code, const char *text, size_t len) {
  if (code == 200 && f->noops_out) { /* a NOOP's, after the transfer's end */
    f->noops_out--;
    return;
  }
  NT__DEBUG("ftp: unsolicited %d %.*s", code, (int)len, text);
  if (code != 421) return;
  /* The server is going away: its words are the session's end. */
  f->close_status = NT_EFTP_CLOSED;
  f->close_code = code;
  if (f->close_text) memset(f->close_text, 0, strlen(f->close_text));
  nt__free(f->close_text);
  f->close_text = nt__malloc(len + 1);
  if (f->close_text) {
    memcpy(f->close_text, text, len);
    f->close_text[len] = 0;
  }
  nt_transport_t *t = nt_pp_transport(&f->pp);
  if (t) nt_transport_lose_connection(t);
}

int nt__ftp_quit_if_idle(nt_ftp_t *f) {
  if (f->state != NT__FTP_READY || f->cur) return NT_EBUSY;
  nt__ftp_set_state(f, NT__FTP_QUIT);
  return nt_pp_command(&f->pp, 0, nt__ftp_reply, NULL, f, "QUIT");
}

/* --- starting an operation ---------------------------------------------------------------- */

void nt__ftp_start_op(nt_ftp_t *f, nt__ftp_op_t *op) {
  f->where = NT_FTP_WHERE_NONE; /* about this operation from now on */
  switch (op->kind) {
  case NT__OP_LOGIN:
    cmd(f, NT__FTP_USER, 0, "USER %s", op->a1);
    break;
  case NT__OP_FEAT:
    cmd(f, NT__FTP_FEAT, 0, "FEAT");
    break;
  case NT__OP_UTF8:
    cmd(f, NT__FTP_OPTS, 0, "OPTS UTF8 ON");
    break;
  case NT__OP_SIMPLE:
    if (op->a1)
      cmd(f, NT__FTP_SIMPLE, 0, "%s %s", op->verb, op->a1);
    else
      cmd(f, NT__FTP_SIMPLE, 0, "%s", op->verb);
    break;
  case NT__OP_RENAME:
    cmd(f, NT__FTP_RNFR, 0, "RNFR %s", op->a1);
    break;
  case NT__OP_SIZE:
    if (f->type != 'I')
      cmd(f, NT__FTP_TYPE, 0, "TYPE I"); /* SIZE is refused in TYPE A by some */
    else
      cmd(f, NT__FTP_SIZE, 0, "SIZE %s", op->a1);
    break;
  case NT__OP_XFER:
    xfer_next(f, NT__FTP_READY);
    break;
  case NT__OP_QUIT:
    f->quitting = 1;
    cmd(f, NT__FTP_QUIT, 0, "QUIT");
    break;
  }
}
