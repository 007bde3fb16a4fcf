/* The control connection's state machine: one enum (ftp-int.h), one name
 * table, one setter, and one switch that decides what every reply means in
 * the state it arrives in. Data-connection events come in through
 * nt__ftp_data_event and move the same states.
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
    if (op->xo.offset) {
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
  int rc = nt__ftp_data_listen(f, eprt, arg, sizeof arg);
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
  if (f->opts.active) {
    active_setup(f);
  } else if (!f->no_epsv) {
    cmd(f, NT__FTP_EPSV, 0, "EPSV");
  } else if (nt__ftp_peer_family(f) == AF_INET) {
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
  int rc = nt__ftp_data_connect(f, port);
  if (rc) nt__ftp_op_finish(f, rc);
}

/* --- transfers: the end ---------------------------------------------------------------- */

static void maybe_upload(nt_ftp_t *f) {
  nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER || !is_upload(op) || !op->prelim ||
      op->upload_started || op->status || !nt__ftp_data_ready(f))
    return;
  op->upload_started = 1;
  nt__ftp_data_start_upload(f);
}

/* Done once the final reply was positive AND the data connection ended. */
static void maybe_complete(nt_ftp_t *f) {
  nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER || !op->final_ok) return;
  if (!op->data_done) {
    if (f->dp || f->dconn) return; /* the data connection still runs */
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

void nt__ftp_data_event(nt_ftp_t *f, nt__ftp_data_ev_t ev, int status) {
  nt__ftp_op_t *op = f->cur;
  if (!op || op->kind != NT__OP_XFER) return;
  switch (ev) {
  case NT__DATA_CONNECTED:
    if (f->state == NT__FTP_DATA_CONNECT) xfer_next(f, NT__FTP_DATA_CONNECT);
    break;
  case NT__DATA_READY:
    maybe_upload(f);
    break;
  case NT__DATA_FAILED:
    f->where = NT_FTP_WHERE_DATA_CONNECT;
    if (f->state == NT__FTP_DATA_CONNECT) nt__ftp_op_finish(f, status);
    break;
  case NT__DATA_DONE:
    op->data_done = 1;
    /* A TLS data stream that ends without close_notify is accepted only
     * with the control connection's positive reply and a matching size. */
    if (status && status != NT_ETLS_TRUNCATED) op->data_err = status;
    if (!status && is_upload(op) && !op->upload_started)
      op->data_err = NT_EUNEXPECTEDEOF; /* closed before we sent a byte */
    if (op->data_err) f->where = op->data_err_tls ? NT_FTP_WHERE_DATA_TLS : NT_FTP_WHERE_DATA;
    if (op->data_err == NT_ETIMEDOUT && op->data_err_tls) {
      nt__ftp_fail_session(f, NT_ETIMEDOUT); /* the handshake's connect timeout */
      break;
    }
    if (op->data_err && !op->final_ok) {
      /* The final reply decides (a 550 after a reset is a refusal), if
       * it comes soon; the data timer gives it a short grace. */
      nt__ftp_data_failed(f);
      break;
    }
    maybe_complete(f);
    break;
  }
}

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

static void start_tls(nt_ftp_t *f) {
  nt_tls_options_t to;
  memset(&to, 0, sizeof to);
  to.server_name = f->server_name;
  /* Nothing after "234" belongs to the plain text conversation. */
  f->pp.lr.stopped = 1;
  nt__ftp_set_state(f, NT__FTP_TLS_HANDSHAKE);
  to.handshake_timeout_ms = f->opts.connect_timeout_ms;
  int rc = nt_tls_start(nt_pp_transport(&f->pp), f->opts.tls_ctx,
                        &f->pp.lr.base, &to, NULL);
  if (rc) {
    f->pp.lr.stopped = 0;
    nt__ftp_fail_session(f, rc);
  }
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
    if (code == 234)
      start_tls(f);
    else /* never fall back to plain text when TLS was asked for */
      end_with(f, NT_EFTP_NOTLS, code, text, len);
    break;
  case NT__FTP_USER:
    if (code == 230) {
      nt__ftp_op_set_reply(op, code, text, len);
      login_done(f);
    } else if (code == 331 || code == 332) {
      cmd(f, NT__FTP_PASS, NT_PP_SECRET, "PASS %s", op->a2);
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
    } else if (code >= 500 && nt__ftp_peer_family(f) == AF_INET) {
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
    } else if (code >= 500 && nt__ftp_peer_family(f) == AF_INET) {
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
    nt__ftp_data_start_tls(f); /* a server that skipped the 1xx */
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
  nt__ftp_data_start_tls(f); /* the server is ready for the handshake now */
  maybe_upload(f);
}

int nt__ftp_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                  size_t len) {
  nt_ftp_t *f = arg;
  (void)pp;
  if (code < 0) return NT_PP_DONE; /* the connection ended: closed() says */
  if (code < 200) {
    on_preliminary(f, code, text, len);
    return NT_PP_MORE;
  }
  on_final(f, code, text, len);
  return NT_PP_DONE;
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
