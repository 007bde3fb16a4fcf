/* NNTP client: the connection and the set-up state machine (greeting,
 * CAPABILITIES, MODE READER, STARTTLS, AUTHINFO), on top of pingpong.
 * States change only through nt__nntp_set_state; replies during set-up go
 * through the one switch in on_setup_reply. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "compress-int.h"
#include "nettool/compress.h"
#include "nntp-int.h"
#include "reactor-int.h"

/* The names come from the same list as the enum (NT_NNTP_STATES). */
#define NT__NNTP_STATE_NAME(name, doc) [NT_NNTP_##name] = #name,
static const char *const state_names[NT_NNTP_STATE_COUNT] = {
    NT_NNTP_STATES(NT__NNTP_STATE_NAME)};
#undef NT__NNTP_STATE_NAME

const char *nt_nntp_state_name(nt_nntp_state_t s) {
  return (unsigned)s < NT_NNTP_STATE_COUNT ? state_names[s] : "?";
}

nt_nntp_state_t nt_nntp_state(const nt_nntp_t *c) { return c->state; }
nt_nntp_state_t nt_nntp_end_state(const nt_nntp_t *c) { return c->end_state; }

/* The ONLY way to change state. */
void nt__nntp_set_state(nt_nntp_t *c, nt_nntp_state_t s) {
  if (s == NT_NNTP_CLOSED && c->state != NT_NNTP_CLOSED) c->end_state = c->state;
  if (c->state != s)
    NT__DEBUG("nntp %p: [%s] -> [%s]", (void *)c, nt_nntp_state_name(c->state),
              nt_nntp_state_name(s));
  c->state = s;
}

/* Ends the session with status (kept for closed()). */
static void fail(nt_nntp_t *c, int status) {
  if (!c->status) c->status = status;
  nt_transport_t *t = nt_pp_transport(&c->pp);
  if (t) nt_transport_abort_error(t, status);
}

static int on_setup_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                          size_t len);

static void on_setup_line(nt_pp_t *pp, void *arg, const char *line,
                          size_t len) {
  nt_nntp_t *c = (nt_nntp_t *)pp;
  (void)arg;
  if (line) {
    nt__nntp_caps_line(c, line, len);
    return;
  }
  c->caps_fresh = 1;
  /* the list is over: go on (the next command is queued behind this one,
   * which pingpong pops when this returns) */
  nt__nntp_setup_next(c);
}

static void setup_cmd(nt_nntp_t *c, nt_nntp_state_t s, int flags,
                      const char *fmt, const char *a1) {
  nt__nntp_set_state(c, s);
  int rc = nt_pp_command(&c->pp, flags, on_setup_reply,
                         s == NT_NNTP_CAPABILITIES ? on_setup_line : NULL,
                         NULL, fmt, a1);
  if (rc) fail(c, rc);
}

static void go_ready(nt_nntp_t *c) {
  nt__nntp_set_state(c, NT_NNTP_READY);
  if (!c->ready_told) {
    c->ready_told = 1;
    if (c->cbs.ready) c->cbs.ready(c, c->arg);
    if (c->state != NT_NNTP_READY) return;
  }
  nt__nntp_submit(c);
}

/* Decides the next set-up step from what is known, and takes it. */
void nt__nntp_setup_next(nt_nntp_t *c) {
  if (c->close_asked && !c->head) {
    nt_transport_lose_connection(nt_pp_transport(&c->pp));
    return;
  }
  if (!c->caps_fresh) {
    setup_cmd(c, NT_NNTP_CAPABILITIES, 0, "%s", "CAPABILITIES");
    return;
  }
  int known = c->caps_known == 1;
  if (!c->mode_reader_done && !c->no_mode_reader &&
      (known ? (c->caps & NT__CAP_MODE_READER) && !(c->caps & NT__CAP_READER)
             : 1)) {
    c->mode_reader_done = 1;
    setup_cmd(c, NT_NNTP_MODE_READER, 0, "%s", "MODE READER");
    return;
  }
  if (c->tls_mode == NT_NNTP_TLS_STARTTLS && !c->tls_active) {
    if (known && !(c->caps & NT__CAP_STARTTLS)) {
      fail(c, NT_ENNTP_NOTLS);
      return;
    }
    setup_cmd(c, NT_NNTP_STARTTLS, 0, "%s", "STARTTLS");
    return;
  }
  if (c->user && !c->authed && !c->auth_failed && !c->auth_when_asked) {
    setup_cmd(c, NT_NNTP_AUTH_USER, 0, "AUTHINFO USER %s", c->user);
    return;
  }
  /* RFC 8054: after STARTTLS and AUTHINFO (a server may list it only
   * then); never twice; not without zlib (loaded here: NT_ZLIB_LAZY) */
  if (!c->compress_done && !c->no_compress && known &&
      (c->caps & NT__CAP_COMPRESS) && nt__compress_load() == 0) {
    c->compress_done = 1;
    setup_cmd(c, NT_NNTP_COMPRESS, 0, "%s", "COMPRESS DEFLATE");
    return;
  }
  go_ready(c);
}

static int compress_layer(nt_transport_t *lower, nt_protocol_t *upper,
                          void *arg) {
  (void)arg;
  return nt_compress_start(lower, upper, NULL);
}

/* A 480 to a queued command: authenticate, then send it again. */
void nt__nntp_auth_start(nt_nntp_t *c) {
  setup_cmd(c, NT_NNTP_AUTH_USER, 0, "AUTHINFO USER %s", c->user);
}

static void auth_done(nt_nntp_t *c, int status) {
  if (!status) {
    c->authed = 1;
    c->caps_fresh = 0; /* RFC 4643 2.5: capabilities may have changed */
    c->retry = NULL;   /* it is still the head of the queue: sent again */
    nt__nntp_setup_next(c);
    return;
  }
  c->auth_failed = 1;
  if (!c->retry) { /* credentials given at set-up were refused */
    fail(c, status);
    return;
  }
  /* A command's 480 led here: that command fails with the reason. */
  c->retry = NULL;
  nt__nntp_set_state(c, NT_NNTP_READY);
  nt__nntp_finish_head(c, status, nt_pp_last_code(&c->pp));
}

static int auth_status(int code) {
  if (code == 483) return NT_ENNTP_TLSREQ;
  if (code == 481 || code == 482 || code == 502) return NT_ENNTP_AUTHFAIL;
  return nt__nntp_code_status(code);
}

/* STARTTLS accepted (382): the connection becomes TLS in place. Bytes the
 * server sent after the 382 in plaintext are dropped (RFC 4642 2.2.2: they
 * could be an injected response). */
static void start_tls(nt_nntp_t *c) {
  nt__nntp_set_state(c, NT_NNTP_TLS_HANDSHAKE);
  nt_tls_options_t o = {
      .server_name = c->tls_name,
      .handshake_timeout_ms = c->connect_timeout_ms, /* DESIGN: time model */
  };
  int rc = nt_pp_start_tls(&c->pp, c->tls_ctx, &o);
  if (rc) {
    snprintf(c->tls_error, sizeof c->tls_error, "%s", nt_tls_last_error());
    fail(c, rc);
  }
}

static int on_setup_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                          size_t len) {
  nt_nntp_t *c = (nt_nntp_t *)pp;
  (void)arg, (void)text, (void)len;
  if (code < 0) return NT_PP_DONE; /* the connection is gone: closed() */
  /* set-up commands go out alone: round-trip samples for the window */
  nt__nntp_window_rtt(c, nt_pp_reply_sent_at(pp));
  switch (c->state) {
  case NT_NNTP_GREETING:
    if (code == 200 || code == 201) {
      c->posting = code == 200;
      nt__nntp_setup_next(c);
    } else {
      /* 400/502 are RFC 3977's refusals; any other 4xx/5xx is a refusal
       * too (its words say why), anything else is not an NNTP greeting */
      fail(c, code >= 400 ? NT_ENNTP_UNAVAILABLE : NT_ENNTP_BADREPLY);
    }
    break;
  case NT_NNTP_CAPABILITIES:
    if (code == 101) {
      c->caps = 0;
      c->caps_known = 1;
      return NT_PP_BLOCK; /* set-up goes on at the end of the list */
    }
    c->caps_known = -1; /* an RFC 977 server: try, then fall back */
    c->caps_fresh = 1;
    nt__nntp_setup_next(c);
    break;
  case NT_NNTP_MODE_READER:
    if (code == 200 || code == 201) {
      c->posting = code == 200;
      if (c->caps_known == 1) c->caps_fresh = 0; /* they may have changed */
    } else if (code == 502 || code == 400) {
      fail(c, NT_ENNTP_UNAVAILABLE);
      break;
    }
    /* 480 (authenticate first), 500, 501: go on without it */
    nt__nntp_setup_next(c);
    break;
  case NT_NNTP_STARTTLS:
    if (code == 382)
      start_tls(c);
    else
      fail(c, code == 580 || code == 502 || code == 500 ? NT_ENNTP_NOTLS
                                                        : nt__nntp_code_status(code));
    break;
  case NT_NNTP_AUTH_USER:
    if (code == 281)
      auth_done(c, 0);
    else if (code == 381 && c->pass)
      /* logged as "AUTHINFO PASS ****" */
      setup_cmd(c, NT_NNTP_AUTH_PASS, NT_PP_SECRET_SHOW(13), "AUTHINFO PASS %s",
                c->pass);
    else
      auth_done(c, auth_status(code));
    break;
  case NT_NNTP_AUTH_PASS:
    auth_done(c, code == 281 ? 0 : auth_status(code));
    break;
  case NT_NNTP_COMPRESS:
    if (code == 206) {
      int rc = nt_pp_start_layer(&c->pp, compress_layer, c);
      if (rc) fail(c, rc);
    } else {
      nt__nntp_setup_next(c); /* 403, 502...: go on uncompressed */
    }
    break;
  default:
    fail(c, NT_EPROTO);
  }
  return NT_PP_DONE;
}

/* --- pingpong callbacks --------------------------------------------------------- */

static void on_connected(nt_pp_t *pp) {
  nt_nntp_t *c = (nt_nntp_t *)pp;
  if (c->state == NT_NNTP_COMPRESS) { /* the deflate layer is in place */
    c->compress_active = 1;
    nt__nntp_setup_next(c);
    return;
  }
  if (c->state == NT_NNTP_TLS_HANDSHAKE) { /* TLS is up; reading resumed */
    c->tls_active = 1;
    c->caps_fresh = 0; /* RFC 4642 2.2.2: ask again over TLS */
    c->caps = 0;
    nt__nntp_setup_next(c);
    return;
  }
  c->connector = NULL;
  if (c->tls_mode == NT_NNTP_TLS_IMPLICIT) c->tls_active = 1;
  nt__nntp_set_state(c, NT_NNTP_GREETING);
  /* (a QUIT queued before a fall-back's new connection still goes out
   * after what was sent again) */
  if (c->close_asked && !(c->tail && c->tail->kind == NT__NNTP_REQ_QUIT))
    nt_transport_lose_connection(nt_pp_transport(pp));
}

static void on_unsolicited(nt_pp_t *pp, int code, const char *text,
                           size_t len) {
  nt_nntp_t *c = (nt_nntp_t *)pp;
  (void)text, (void)len;
  if (code == 400) c->said_400 = 1;
  if (code == 400 || code == 502) /* the server is going away */
    if (!c->status) c->status = NT_ENNTP_UNAVAILABLE;
}

static void on_closed(nt_pp_t *pp, int status) {
  nt_nntp_t *c = (nt_nntp_t *)pp;
  nt_transport_t *t = nt_pp_transport(pp);
  if (nt__nntp_refuse_closed(c)) return; /* connects again (nntp_refuse.c) */
  if (!c->tls_error[0] && t && nt_tls_is_tls(t))
    snprintf(c->tls_error, sizeof c->tls_error, "%s", nt_tls_error_reason(t));
  int st = c->status ? c->status : status;
  if (!st && !c->close_asked && (c->state != NT_NNTP_READY || c->head))
    st = NT_EUNEXPECTEDEOF;
  if (c->close_asked && st == NT_ECONNABORTED) st = 0;
  nt__nntp_set_state(c, NT_NNTP_CLOSED);
  nt__nntp_fail_queue(c, st ? st : NT_ECANCELED);
  c->closed_told = 1;
  if (c->cbs.closed) c->cbs.closed(c, st, c->arg);
}

static void client_free(nt_nntp_t *c) {
  nt__nntp_fail_queue(c, NT_ECANCELED); /* nothing left by now, normally */
  if (c->pass) {
    volatile char *p = c->pass;
    while (*p) *p++ = 0;
  }
  memset(&c->proxy, 0, sizeof c->proxy); /* its password */
  nt__free(c->user);
  nt__free(c->pass);
  nt__free(c->tls_name);
  nt__free(c->host);
  nt__free(c->cur_group);
  nt__free(c);
}

static void on_destroy(nt_pp_t *pp) {
  nt_nntp_t *c = (nt_nntp_t *)pp;
  if (nt__nntp_refuse_destroyed(c)) return; /* lives on: a new connection */
  client_free(c);
}

/* Each status line is kept, so a greeting such as "999 hi" that the
 * grammar refuses as no reply at all can still be quoted. */
static void on_status_line(nt_pp_t *pp, const char *line, size_t len) {
  nt_nntp_t *c = (nt_nntp_t *)pp;
  size_t n = len < sizeof c->last_line - 1 ? len : sizeof c->last_line - 1;
  memcpy(c->last_line, line, n);
  c->last_line[n] = 0;
}

static const nt_pp_ops_t nntp_pp_ops = {
    .connected = on_connected,
    .unsolicited = on_unsolicited,
    .closed = on_closed,
    .destroy = on_destroy,
    .status_line = on_status_line,
};

/* --- connecting ----------------------------------------------------------------- */

static nt_protocol_t *build(nt_factory_t *f, const struct sockaddr *peer,
                            socklen_t len) {
  (void)peer, (void)len;
  return nt_pp_protocol(&((nt_nntp_t *)f->data)->pp);
}

/* Frees a client that never got a transport, through the protocol's own
 * destroy (which frees pingpong's greeting slot too). */
static void destroy_unconnected(nt_nntp_t *c) { nt_pp_dispose(&c->pp); }

/* Ends a client whose engine has no transport: every request hears why,
 * then closed(), then it is freed. */
void nt__nntp_end_unconnected(nt_nntp_t *c, int status) {
  nt__nntp_set_state(c, NT_NNTP_CLOSED);
  int st = c->close_asked ? 0 : status;
  nt__nntp_fail_queue(c, st ? st : NT_ECANCELED);
  c->closed_told = 1;
  if (c->cbs.closed) c->cbs.closed(c, st, c->arg);
  destroy_unconnected(c);
}

static void connect_failed(nt_factory_t *f, nt_connector_t *conn, int status) {
  nt_nntp_t *c = f->data;
  (void)conn;
  c->connector = NULL;
  if (c->tls_mode == NT_NNTP_TLS_IMPLICIT && status <= -3200 && status > -3300)
    snprintf(c->tls_error, sizeof c->tls_error, "%s", nt_tls_last_error());
  nt__nntp_end_unconnected(c, status);
}

static const nt_factory_ops_t nntp_factory_ops = {
    .build_protocol = build,
    .started_connecting = NULL,
    .connection_failed = connect_failed,
};

/* NNTPS: the TCP connector is freed as soon as TCP is up, while the TLS
 * handshake (and state CONNECTING) goes on; this factory sits in front of
 * the TLS one to forget the connector then and keep the handshake's
 * protocol instead, so nt_nntp_close never cancels a freed connector and
 * can end the handshake (it lives until the TLS layer reports to
 * connect_failed or, on success, builds the client: both leave CONNECTING). */
static nt_protocol_t *tls_build(nt_factory_t *f, const struct sockaddr *peer,
                                socklen_t len) {
  nt_nntp_t *c = f->data;
  c->connector = NULL;
  c->handshake = c->tls_factory.base.ops->build_protocol(&c->tls_factory.base, peer, len);
  return c->handshake;
}

static void tls_started(nt_factory_t *f, nt_connector_t *conn) {
  nt_nntp_t *c = f->data;
  if (c->tls_factory.base.ops->started_connecting)
    c->tls_factory.base.ops->started_connecting(&c->tls_factory.base, conn);
}

static void tls_connect_failed(nt_factory_t *f, nt_connector_t *conn, int status) {
  nt_nntp_t *c = f->data;
  c->tls_factory.base.ops->connection_failed(&c->tls_factory.base, conn, status);
}

static const nt_factory_ops_t nntps_tcp_factory_ops = {
    .build_protocol = tls_build,
    .started_connecting = tls_started,
    .connection_failed = tls_connect_failed,
};

static char *dup_opt(const char *s, int *err) {
  if (!s) return NULL;
  char *d = nt__strdup(s);
  if (!d) *err = NT_ENOMEM;
  return d;
}

static int has_crlf(const char *s) { return s && strpbrk(s, "\r\n") != NULL; }

int nt_nntp_new_sized(size_t opts_size, nt_reactor_t *r,
                      const nt_nntp_options_t *opts,
                      const nt_nntp_callbacks_t *cbs, void *arg,
                      nt_nntp_t **out) {
  nt_nntp_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  nt_nntp_options_t o;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  if (!r || !out) return NT_EINVAL;
  if (o.tls && !o.tls_ctx) return NT_EINVAL;
  if (o.tls != NT_NNTP_TLS_NONE && o.tls != NT_NNTP_TLS_STARTTLS &&
      o.tls != NT_NNTP_TLS_IMPLICIT)
    return NT_EINVAL;
  if (o.user && (!o.pass || !*o.user)) return NT_EINVAL;
  if (has_crlf(o.user) || has_crlf(o.pass) ||
      (o.user && (strlen(o.user) > 400 || strlen(o.pass) > 400)))
    return NT_EINVAL;
  nt_nntp_t *c = nt__calloc(1, sizeof *c);
  if (!c) return NT_ENOMEM;
  int err = 0;
  c->user = dup_opt(o.user, &err);
  c->pass = dup_opt(o.pass, &err);
  c->tls_name = dup_opt(o.tls_server_name, &err);
  if (err) {
    client_free(c);
    return err;
  }
  c->reactor = r;
  if (cbs) c->cbs = *cbs;
  c->arg = arg;
  c->tls_mode = o.tls;
  c->tls_ctx = o.tls_ctx;
  c->connect_timeout_ms = o.connect_timeout_ms ? o.connect_timeout_ms : 30000;
  c->timeout_ms = o.timeout_ms ? o.timeout_ms : 60000;
  c->max_line = o.max_line ? o.max_line : 64 * 1024;
  c->max_block_line = o.max_block_line ? o.max_block_line : (size_t)1 << 20;
  if (c->max_block_line < c->max_line) c->max_block_line = c->max_line;
  c->max_block = o.max_block ? o.max_block : (size_t)1 << 30;
  c->no_mode_reader = o.no_mode_reader;
  c->auth_when_asked = o.auth_when_asked;
  c->no_compress = o.no_compress;
  c->max_window = o.pipeline ? o.pipeline : 64;
  if (c->max_window > 1024) c->max_window = 1024;
  c->reconnect = o.reconnect;
  nt__nntp_window_init(c);
  c->state = NT_NNTP_CONNECTING;
  int rc = nt__nntp_pp_init(c);
  if (rc) { /* the engine's destroy never runs for it: free by hand */
    client_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

nt_protocol_t *nt_nntp_protocol(nt_nntp_t *c) { return nt_pp_protocol(&c->pp); }

/* The engine, afresh (also for a fall-back's new connection). */
int nt__nntp_pp_init(nt_nntp_t *c) {
  /* status lines keep the short max_line, lines inside a multi-line
   * response (articles) get max_block_line */
  nt_pp_options_t po = {
      .grammar = &nt_pp_grammar_nntp,
      .max_line = c->max_line,
      .max_block_line = c->max_block_line,
      .max_block = c->max_block,
      .timeout_ms = c->timeout_ms,
  };
  return nt_pp_init(&c->pp, c->reactor, &nntp_pp_ops, &po, on_setup_reply, NULL);
}

static int tcp_connect(nt_nntp_t *c) {
  nt_tcp_connect_options_t co;
  memset(&co, 0, sizeof co);
  co.timeout_ms = c->connect_timeout_ms;
  co.nodelay = 1;
  co.proxy = c->has_proxy ? &c->proxy : NULL;
  c->handshake = NULL;
  nt_factory_t *f = c->tls_mode == NT_NNTP_TLS_IMPLICIT ? &c->tcp_factory : &c->factory;
  return nt_tcp_connect(c->reactor, c->host, c->port, f, &co, &c->connector);
}

/* A fall-back's new connection (nntp_refuse.c). */
int nt__nntp_connect_again(nt_nntp_t *c) {
  if (c->host) return tcp_connect(c);
  return c->reconnect(c, nt_nntp_protocol(c), c->arg);
}

int nt_nntp_connect_sized(size_t opts_size, nt_reactor_t *r, const char *host,
                          int port, const nt_nntp_options_t *opts,
                          const nt_nntp_callbacks_t *cbs, void *arg,
                          nt_nntp_t **out) {
  nt_nntp_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  int tls = opts ? opts->tls : 0;
  if (!host) return NT_EINVAL;
  if (port == 0) port = tls == NT_NNTP_TLS_IMPLICIT ? NT_NNTPS_PORT : NT_NNTP_PORT;
  if (port < 0 || port > 65535) return NT_EBADPORT;
  nt_nntp_t *c;
  int rc = nt_nntp_new(r, opts, cbs, arg, &c);
  if (rc) return rc;
  if (tls && !c->tls_name) {
    c->tls_name = nt__strdup(host);
    if (!c->tls_name) {
      destroy_unconnected(c);
      return NT_ENOMEM;
    }
  }
  /* kept to connect again (a server that refuses pipelining) */
  c->host = nt__strdup(host);
  if (!c->host) {
    destroy_unconnected(c);
    return NT_ENOMEM;
  }
  c->port = port;
  if (opts && opts->proxy) {
    c->proxy = *opts->proxy;
    c->has_proxy = 1;
  }
  c->factory.ops = &nntp_factory_ops;
  c->factory.data = c;
  if (tls == NT_NNTP_TLS_IMPLICIT) {
    nt_tls_options_t to;
    memset(&to, 0, sizeof to);
    to.server_name = c->tls_name;
    to.handshake_timeout_ms = c->connect_timeout_ms;
    rc = nt_tls_factory_init(&c->tls_factory, c->tls_ctx, &c->factory, &to);
    if (rc) {
      destroy_unconnected(c);
      return rc;
    }
    c->tcp_factory.ops = &nntps_tcp_factory_ops;
    c->tcp_factory.data = c;
  }
  rc = tcp_connect(c);
  if (rc) {
    destroy_unconnected(c);
    return rc;
  }
  if (out) *out = c;
  return 0;
}

void nt_nntp_close(nt_nntp_t *c) {
  if (c->close_asked || c->state == NT_NNTP_CLOSED) return;
  c->close_asked = 1;
  if (c->state == NT_NNTP_CONNECTING) {
    if (c->connector)
      nt_connector_cancel(c->connector);
    else if (c->handshake && c->handshake->transport) /* NNTPS handshake */
      nt_transport_abort(c->handshake->transport);
    return;
  }
  if (c->ready_told || c->head) { /* QUIT goes after what is queued */
    nt__nntp_req_t *q = nt__nntp_req_new(NT__NNTP_REQ_QUIT, 0, "QUIT");
    if (q) {
      c->close_asked = 0; /* let the QUIT in */
      int rc = nt__nntp_enqueue(c, q);
      c->close_asked = 1;
      if (!rc) return;
    }
  }
  /* in set-up (or out of memory): just close */
  nt_transport_t *t = nt_pp_transport(&c->pp);
  if (t) nt_transport_lose_connection(t);
}

/* --- facts --------------------------------------------------------------------- */

int nt_nntp_posting_allowed(const nt_nntp_t *c) { return c->posting; }
int nt_nntp_is_tls(const nt_nntp_t *c) { return c->tls_active; }
int nt_nntp_authenticated(const nt_nntp_t *c) { return c->authed; }
int nt_nntp_last_code(const nt_nntp_t *c) { return nt_pp_last_code(&c->pp); }
const char *nt_nntp_last_reply(const nt_nntp_t *c) {
  return nt_pp_last_reply(&c->pp);
}
const char *nt_nntp_tls_error(const nt_nntp_t *c) { return c->tls_error; }
const char *nt_nntp_last_line(const nt_nntp_t *c) { return c->last_line; }
