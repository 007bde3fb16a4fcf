/* The FTP client's life and its operation queue: making and connecting a
 * client, the control connection's pingpong callbacks, queueing operations
 * and finishing them, and the end of the session. What each reply means is
 * ftp_state.c's business, and so is every change of state: this file
 * calls into the state machine, which drives the data channel
 * (ftp_data.c); nothing calls back the other way but through callbacks. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ftp-int.h"
#include "reactor-int.h"

#define MAX_ARG 900 /* commands are at most 1 KiB in pingpong */

/* --- helpers -------------------------------------------------------------------- */

static int check_arg(const char *s) {
  if (!s) return NT_EINVAL;
  size_t n = strlen(s);
  if (n > MAX_ARG) return NT_ETOOBIG;
  if (strpbrk(s, "\r\n")) return NT_EINVAL; /* would inject a command */
  return 0;
}

static void wipe_free(char *s) {
  if (!s) return;
  memset(s, 0, strlen(s));
  nt__free(s);
}

void nt__ftp_op_set_reply(nt__ftp_op_t *op, int code, const char *text,
                          size_t len) {
  op->code = code;
  nt__free(op->text);
  op->text = nt__malloc(len + 1);
  if (op->text) {
    memcpy(op->text, text, len);
    op->text[len] = 0;
  }
}

static void op_free(nt__ftp_op_t *op) {
  nt__free(op->a1);
  wipe_free(op->a2);
  nt__free(op->text);
  nt__free(op->path);
  nt__free(op);
}

static void op_report(nt_ftp_t *f, nt__ftp_op_t *op, int status) {
  nt_ftp_result_t r;
  r.status = status;
  r.code = op->code;
  r.text = op->text ? op->text : "";
  r.bytes = op->bytes;
  r.size = op->size;
  r.mtime = op->mtime;
  r.path = op->path ? op->path : "";
  r.local = 0;
  if (op->cb) op->cb(f, op->arg, &r);
}

/* --- the queue -------------------------------------------------------------------- */

void nt__ftp_dispatch(nt_ftp_t *f) {
  if (f->dispatching) return; /* the loop below picks the next one */
  f->dispatching = 1;
  /* Bounded: each turn takes one operation off the queue. */
  while (!f->cur && f->queue && f->state == NT__FTP_READY && !f->closed) {
    nt__ftp_op_t *op = f->queue;
    f->queue = op->next;
    if (!f->queue) f->queue_tail = NULL;
    op->next = NULL;
    f->cur = op;
    nt__ftp_start_op(f, op);
  }
  f->dispatching = 0;
}

void nt__ftp_op_finish(nt_ftp_t *f, int status) {
  nt__ftp_op_t *op = f->cur;
  if (!op) return;
  f->cur = NULL;
  nt__ftp_op_ended(f);
  if (status && !op->text && f->close_text && f->close_status == status) {
    op->code = f->close_code;
    op->text = nt__strdup(f->close_text);
  }
  op_report(f, op, status);
  op_free(op);
  nt__ftp_dispatch(f);
}

static int queue_op(nt_ftp_t *f, nt__ftp_op_t *op) {
  if (f->closed || f->quitting) {
    op_free(op);
    return NT_ENOTCONN;
  }
  if (f->queue_tail)
    f->queue_tail->next = op;
  else
    f->queue = op;
  f->queue_tail = op;
  nt__ftp_dispatch(f);
  return 0;
}

static nt__ftp_op_t *op_new(nt__ftp_op_kind_t kind, nt_ftp_done_cb cb,
                            void *arg) {
  nt__ftp_op_t *op = nt__calloc(1, sizeof *op);
  if (!op) return NULL;
  op->kind = kind;
  op->cb = cb;
  op->arg = arg;
  op->size = UINT64_MAX;
  op->mtime = -1;
  op->xo.fd = -1;
  return op;
}

static int dup_arg(char **dst, const char *s) {
  int rc = check_arg(s);
  if (rc) return rc;
  *dst = nt__strdup(s);
  return *dst ? 0 : NT_ENOMEM;
}

/* Fails the queued operations (not the running one) with status. */
static void fail_queue(nt_ftp_t *f, int status) {
  /* Bounded: callbacks cannot queue more once closed/quitting is set. */
  while (f->queue) {
    nt__ftp_op_t *op = f->queue;
    f->queue = op->next;
    if (!f->queue) f->queue_tail = NULL;
    if (!op->text && f->close_text && status == f->close_status) {
      op->code = f->close_code;
      op->text = nt__strdup(f->close_text);
    }
    op_report(f, op, status);
    op_free(op);
  }
}

/* --- the end of a session ------------------------------------------------------------ */

/* Reports the end once: the running and queued operations, then closed. */
static void end_session(nt_ftp_t *f, int status) {
  if (f->closed) return;
  int st = status;
  if (f->close_status) st = f->close_status;
  else if (f->quitting && (status == 0 || status == NT_ECONNABORTED)) st = 0;
  else if (!status) st = NT_EUNEXPECTEDEOF;
  nt__ftp_session_ended(f, st);
  f->quitting = 1; /* nothing can be queued from the callbacks below */
  if (f->cur) {
    nt__ftp_op_t *op = f->cur;
    /* A QUIT whose connection closed is what was asked for. */
    int ost = (op->kind == NT__OP_QUIT && !f->close_status) ? 0 : (st ? st : NT_ECANCELED);
    f->cur = NULL;
    if (ost && !op->text && f->close_text && ost == f->close_status) {
      op->code = f->close_code;
      op->text = nt__strdup(f->close_text);
    }
    op_report(f, op, ost);
    op_free(op);
  }
  fail_queue(f, st ? st : NT_ECANCELED);
  f->closed = 1;
  if (f->cbs.closed) f->cbs.closed(f, f->arg, st);
}

static void client_free(nt_ftp_t *f) {
  nt_timer_stop(&f->data_timer);
  /* Operations never reported: a client freed before it was attached. */
  if (f->cur) op_free(f->cur);
  while (f->queue) {
    nt__ftp_op_t *op = f->queue;
    f->queue = op->next;
    op_free(op);
  }
  nt__free(f->host);
  nt__free(f->server_name);
  wipe_free(f->close_text);
  nt__free(f);
}

void nt__ftp_fail_session(nt_ftp_t *f, int status) {
  nt_transport_t *t = nt_pp_transport(&f->pp);
  if (!f->close_status) f->close_status = status;
  if (t) nt_transport_abort_error(t, status);
}

/* --- pingpong callbacks ------------------------------------------------------------------- */

static void on_connected(nt_pp_t *pp) {
  nt_ftp_t *f = (nt_ftp_t *)pp;
  f->attached = 1;
  nt__ftp_on_connected(f); /* what it means is the state machine's */
}

static void on_unsolicited(nt_pp_t *pp, int code, const char *text, size_t len) {
  nt__ftp_unsolicited((nt_ftp_t *)pp, code, text, len);
}

static void on_closed(nt_pp_t *pp, int status) {
  end_session((nt_ftp_t *)pp, status);
}

static void on_destroy(nt_pp_t *pp) {
  nt_ftp_t *f = (nt_ftp_t *)pp;
  if (!f->closed) end_session(f, NT_ECONNABORTED);
  client_free(f);
}

static const nt_pp_ops_t pp_ops = {
    .connected = on_connected,
    .unsolicited = on_unsolicited,
    .closed = on_closed,
    .destroy = on_destroy,
};

/* --- making and connecting ------------------------------------------------------------------- */

int nt_ftp_new_sized(size_t opts_size, nt_reactor_t *r,
                     const nt_ftp_options_t *opts,
                     const nt_ftp_callbacks_t *cbs, void *arg, nt_ftp_t **out) {
  nt_ftp_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  nt_ftp_options_t o;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  if (o.tls != NT_FTP_TLS_NONE && !o.tls_ctx) return NT_EINVAL;
  nt_ftp_t *f = nt__calloc(1, sizeof *f);
  if (!f) return NT_ENOMEM;
  if (!o.connect_timeout_ms) o.connect_timeout_ms = 30000;
  if (!o.reply_timeout_ms) o.reply_timeout_ms = 60000;
  if (!o.data_timeout_ms) o.data_timeout_ms = 60000;
  if (!o.keepalive_ms) o.keepalive_ms = 60000;
  if (!o.max_line) o.max_line = 8192;
  if (!o.max_reply) o.max_reply = 64 * 1024;
  if (!o.max_list_line) o.max_list_line = 8192;
  if (o.tls_server_name) {
    f->server_name = nt__strdup(o.tls_server_name);
    if (!f->server_name) {
      nt__free(f);
      return NT_ENOMEM;
    }
  }
  o.tls_server_name = NULL;
  f->opts = o;
  if (cbs) f->cbs = *cbs;
  f->arg = arg;
  f->reactor = r;
  f->state = NT__FTP_CONNECTING;
  nt_pp_options_t po = {
      .grammar = &nt_pp_grammar_ftp,
      .max_line = o.max_line,
      .max_reply = o.max_reply,
      .timeout_ms = o.reply_timeout_ms,
  };
  int rc = nt_pp_init(&f->pp, r, &pp_ops, &po, nt__ftp_reply, f);
  if (rc) { /* the engine holds nothing */
    nt__free(f->server_name);
    nt__free(f);
    return rc;
  }
  nt_timer_init(r, &f->data_timer, nt__ftp_data_tick);
  f->data_timer.data = f;
  *out = f;
  return 0;
}

nt_protocol_t *nt_ftp_protocol(nt_ftp_t *f) { return nt_pp_protocol(&f->pp); }

void nt_ftp_free(nt_ftp_t *f) {
  if (!f || f->attached) return;
  /* Never attached: the pingpong engine holds only its greeting entry;
   * disposing of it runs on_destroy, which frees the client. */
  f->closed = 1;
  nt_pp_dispose(&f->pp);
}

static nt_protocol_t *build(nt_factory_t *fac, const struct sockaddr *peer,
                            socklen_t len) {
  nt_ftp_t *f = nt__container_of(fac, nt_ftp_t, factory);
  (void)peer, (void)len;
  f->connector = NULL;
  return nt_ftp_protocol(f);
}

static void connect_failed(nt_factory_t *fac, nt_connector_t *c, int status) {
  nt_ftp_t *f = nt__container_of(fac, nt_ftp_t, factory);
  (void)c;
  f->connector = NULL;
  end_session(f, status ? status : NT_ECANCELED);
  nt_ftp_free(f);
}

static const nt_factory_ops_t factory_ops = {
    .build_protocol = build,
    .connection_failed = connect_failed,
};

int nt_ftp_connect_sized(size_t opts_size, nt_reactor_t *r, const char *host,
                         int port, const nt_ftp_options_t *opts,
                         const nt_ftp_callbacks_t *cbs, void *arg,
                         nt_ftp_t **out) {
  nt_ftp_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  if (!host || !*host) return NT_EDNS_BADNAME;
  nt_ftp_options_t o;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  if (!port) port = o.tls == NT_FTP_TLS_IMPLICIT ? NT_FTPS_PORT : NT_FTP_PORT;
  if (!o.tls_server_name) o.tls_server_name = host;
  nt_ftp_t *f;
  int rc = nt_ftp_new(r, &o, cbs, arg, &f);
  if (rc) return rc;
  f->host = nt__strdup(host);
  if (!f->host) {
    nt_ftp_free(f);
    return NT_ENOMEM;
  }
  f->factory.ops = &factory_ops;
  f->factory.data = f;
  nt_tcp_connect_options_t co;
  memset(&co, 0, sizeof co);
  co.timeout_ms = f->opts.connect_timeout_ms;
  co.family = o.family;
  co.nodelay = 1;
  co.proxy = o.proxy;
  f->connect_at = nt_reactor_now(r);
  rc = nt_tcp_connect(r, host, port, &f->factory, &co, &f->connector);
  if (rc) {
    nt_ftp_free(f);
    return rc;
  }
  *out = f;
  return 0;
}

void nt_ftp_close(nt_ftp_t *f) {
  if (f->closed || f->quitting) return;
  f->quitting = 1;
  fail_queue(f, NT_ECANCELED);
  if (!f->attached) {
    if (f->connector) nt_connector_cancel(f->connector);
    return;
  }
  nt_transport_t *t = nt_pp_transport(&f->pp);
  if (!t) return;
  if (nt__ftp_quit_if_idle(f) == 0) return; /* QUIT sent */
  nt_transport_abort_error(t, NT_ECONNABORTED);
}

void nt_ftp_abort(nt_ftp_t *f) {
  if (f->closed) return;
  f->quitting = 1;
  if (!f->close_status) f->close_status = NT_ECANCELED;
  fail_queue(f, NT_ECANCELED);
  if (!f->attached) {
    if (f->connector) nt_connector_cancel(f->connector);
    return;
  }
  nt_transport_t *t = nt_pp_transport(&f->pp);
  if (t) nt_transport_abort_error(t, NT_ECANCELED);
}

/* --- operations ----------------------------------------------------------------------------------- */

int nt_ftp_login(nt_ftp_t *f, const char *user, const char *pass,
                 nt_ftp_done_cb cb, void *arg) {
  if (!user || !*user) {
    user = "anonymous";
    if (!pass || !*pass) pass = "anonymous@";
  }
  if (!pass) pass = "";
  nt__ftp_op_t *op = op_new(NT__OP_LOGIN, cb, arg);
  if (!op) return NT_ENOMEM;
  int rc = dup_arg(&op->a1, user);
  if (!rc) rc = dup_arg(&op->a2, pass);
  if (rc) {
    op_free(op);
    return rc;
  }
  return queue_op(f, op);
}

static int simple(nt_ftp_t *f, nt__ftp_op_kind_t kind, const char *verb,
                  const char *a, nt_ftp_done_cb cb, void *arg) {
  nt__ftp_op_t *op = op_new(kind, cb, arg);
  if (!op) return NT_ENOMEM;
  snprintf(op->verb, sizeof op->verb, "%s", verb);
  if (a) {
    int rc = dup_arg(&op->a1, a);
    if (!rc && !*a) rc = NT_EINVAL;
    if (rc) {
      op_free(op);
      return rc;
    }
  }
  return queue_op(f, op);
}

int nt_ftp_feat(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_FEAT, "FEAT", NULL, cb, arg);
}
int nt_ftp_utf8(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_UTF8, "OPTS", NULL, cb, arg);
}
int nt_ftp_cwd(nt_ftp_t *f, const char *dir, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_SIMPLE, "CWD", dir ? dir : "", cb, arg);
}
int nt_ftp_pwd(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_SIMPLE, "PWD", NULL, cb, arg);
}
int nt_ftp_mkd(nt_ftp_t *f, const char *dir, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_SIMPLE, "MKD", dir ? dir : "", cb, arg);
}
int nt_ftp_rmd(nt_ftp_t *f, const char *dir, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_SIMPLE, "RMD", dir ? dir : "", cb, arg);
}
int nt_ftp_dele(nt_ftp_t *f, const char *path, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_SIMPLE, "DELE", path ? path : "", cb, arg);
}
int nt_ftp_noop(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_SIMPLE, "NOOP", NULL, cb, arg);
}
int nt_ftp_size(nt_ftp_t *f, const char *path, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_SIZE, "SIZE", path ? path : "", cb, arg);
}
int nt_ftp_mdtm(nt_ftp_t *f, const char *path, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_SIMPLE, "MDTM", path ? path : "", cb, arg);
}
int nt_ftp_quit(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg) {
  return simple(f, NT__OP_QUIT, "QUIT", NULL, cb, arg);
}
int nt__ftp_simple_cmd(nt_ftp_t *f, const char *verb, const char *a,
                       nt_ftp_done_cb cb, void *arg) {
  if (!verb || strlen(verb) >= sizeof ((nt__ftp_op_t *)0)->verb ||
      strpbrk(verb, " \r\n") || (a && strpbrk(a, "\r\n")))
    return NT_EINVAL;
  return simple(f, NT__OP_SIMPLE, verb, a, cb, arg);
}

int nt_ftp_rename(nt_ftp_t *f, const char *from, const char *to,
                  nt_ftp_done_cb cb, void *arg) {
  nt__ftp_op_t *op = op_new(NT__OP_RENAME, cb, arg);
  if (!op) return NT_ENOMEM;
  int rc = dup_arg(&op->a1, from ? from : "");
  if (!rc) rc = dup_arg(&op->a2, to ? to : "");
  if (!rc && (!*op->a1 || !*op->a2)) rc = NT_EINVAL;
  if (rc) {
    op_free(op);
    return rc;
  }
  return queue_op(f, op);
}

static int xfer(nt__ftp_xcmd_t x, const char *path,
                const nt_ftp_xfer_options_t *xo, nt_ftp_done_cb cb, void *arg,
                nt__ftp_op_t **opp) {
  nt__ftp_op_t *op = op_new(NT__OP_XFER, cb, arg);
  if (!op) return NT_ENOMEM;
  op->xcmd = x;
  if (xo) op->xo = *xo;
  else op->xo.fd = -1;
  int rc = dup_arg(&op->a1, path ? path : "");
  if (!rc && !*op->a1 && x <= NT__X_APPE) rc = NT_EINVAL;
  if (rc) {
    op_free(op);
    return rc;
  }
  *opp = op;
  return 0;
}

int nt_ftp_retrieve_sized(size_t opts_size, nt_ftp_t *f, const char *path,
                          const nt_ftp_xfer_options_t *xo,
                          const nt_ftp_sink_t *sink, nt_ftp_done_cb cb,
                          void *arg) {
  nt_ftp_xfer_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, xo, opts_size)) return NT_ENOTSUP;
  if (xo) xo = &opts_copy_;
  if (!sink || !sink->data) return NT_EINVAL;
  nt__ftp_op_t *op;
  int rc = xfer(NT__X_RETR, path, xo, cb, arg, &op);
  if (rc) return rc;
  op->sink = *sink;
  return queue_op(f, op);
}

int nt_ftp_store_sized(size_t opts_size, nt_ftp_t *f, const char *path,
                       const nt_ftp_xfer_options_t *xo, nt_ftp_done_cb cb,
                       void *arg) {
  nt_ftp_xfer_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, xo, opts_size)) return NT_ENOTSUP;
  if (xo) xo = &opts_copy_;
  if (!xo || xo->fd < 0) return NT_EINVAL;
  nt__ftp_op_t *op;
  int rc = xfer(xo->append ? NT__X_APPE : NT__X_STOR, path, xo, cb, arg, &op);
  if (rc) return rc;
  /* APPE sends no REST (ftp_state.c); the offset is where LOCAL is read
   * from (continuing a partial upload, ftp_transfer.c) */
  return queue_op(f, op);
}

int nt_ftp_list(nt_ftp_t *f, nt_ftp_list_kind_t kind, const char *path,
                nt_ftp_line_cb line, void *line_arg, nt_ftp_done_cb cb,
                void *arg) {
  nt__ftp_xcmd_t x = kind == NT_FTP_LIST_MLSD   ? NT__X_MLSD
                     : kind == NT_FTP_LIST_NLST ? NT__X_NLST
                                                : NT__X_LIST;
  nt_ftp_xfer_options_t xo;
  memset(&xo, 0, sizeof xo);
  xo.fd = -1;
  xo.ascii = 1; /* listings are text (TYPE A), as RFC 959 says */
  nt__ftp_op_t *op;
  int rc = xfer(x, path, &xo, cb, arg, &op);
  if (rc) return rc;
  op->line = line;
  op->line_arg = line_arg;
  return queue_op(f, op);
}

/* --- state ------------------------------------------------------------------------------------------ */

const char *nt_ftp_state_name(const nt_ftp_t *f) {
  return nt__ftp_state_names[f->state];
}
int nt_ftp_last_code(const nt_ftp_t *f) { return nt_pp_last_code(&f->pp); }
const char *nt_ftp_last_reply(const nt_ftp_t *f) {
  return nt_pp_last_reply(&f->pp);
}
int nt_ftp_is_tls(const nt_ftp_t *f) { return f->tls_up; }
nt_ftp_where_t nt_ftp_failure_where(const nt_ftp_t *f) { return f->where; }
unsigned nt_ftp_features(const nt_ftp_t *f) { return f->features; }
