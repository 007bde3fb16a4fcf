/* The command/response engine shared by FTP and NNTP (curl's "pingpong"):
 * commands go out one at a time from a queue, replies come back through the
 * line framer and are read by the protocol's grammar, a timer bounds every
 * wait. States per command: queued -> sent -> (reply) -> done | block ->
 * done. Nothing here knows a protocol's words. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nettool/pingpong.h"
#include "reactor-int.h"

#define MAX_COMMAND 1024

struct nt__pp_cmd {
  nt__pp_cmd_t *next;
  nt_pp_reply_cb reply;
  nt_pp_line_cb line;
  void *arg;
  int flags;
  int sent;
  uint64_t sent_at; /* nt_reactor_now when it went out (nt_pp_sent_at) */
  size_t len;
  char text[]; /* with CRLF */
};

/* The greeting is modelled as a command that was "sent" at connect time. */
static nt_pp_t *pp_of(nt_line_receiver_t *lr) { return (nt_pp_t *)lr; }

static int awaiting(const nt_pp_t *pp) { return pp->head && pp->head->sent; }

/* The reply timeout: a reply (all lines of an FTP multi-line reply, or an
 * NNTP status line) must be complete within timeout_ms of the command being
 * sent; bytes that trickle in do not extend it. Inside a block, each whole
 * line re-arms it. */
static void arm_timer(nt_pp_t *pp) {
  if (awaiting(pp))
    nt_timer_start(&pp->timer, pp->timeout_ms, 0);
  else
    nt_timer_stop(&pp->timer);
}

/* A secret command is logged as its first word, or as the first n bytes
 * its queuer chose (NT_PP_SECRET_SHOW), then "****". */
static void log_command(const nt__pp_cmd_t *c) {
  size_t len = c->len - 2; /* without CRLF */
  if (!(c->flags & NT_PP_SECRET)) {
    nt__log(NT__LOG_DEBUG, "> %.*s", (int)len, c->text);
    return;
  }
  unsigned show = (unsigned)c->flags >> 8;
  size_t keep;
  if (show) {
    keep = show - 1 < len ? show - 1 : len;
  } else {
    const char *sp = memchr(c->text, ' ', c->len);
    keep = sp ? (size_t)(sp - c->text) : len;
  }
  nt__log(NT__LOG_DEBUG, "> %.*s ****", (int)keep, c->text);
}

/* The next command to go out, or NULL. Sent commands are a prefix of the
 * queue (head .. last_sent). A command goes out when nothing is awaited,
 * or when it and every awaited one are NT_PP_PIPELINE (RFC 3977 3.5): a
 * command that is not is sent alone and nothing follows it until its
 * reply is complete. */
static nt__pp_cmd_t *next_to_send(const nt_pp_t *pp) {
  if (!pp->head) return NULL;
  if (!pp->head->sent) return pp->head;
  nt__pp_cmd_t *c = pp->last_sent ? pp->last_sent->next : NULL;
  if (!c || c->sent) return NULL;
  if (!(c->flags & NT_PP_PIPELINE) || !(pp->head->flags & NT_PP_PIPELINE))
    return NULL;
  return c;
}

static void send_next(nt_pp_t *pp) {
  nt_transport_t *t = nt_pp_transport(pp);
  if (!t || nt_transport_is_closing(t)) return;
  if (pp->tls_starting) return; /* it goes over TLS, once TLS is up */
  int first = !awaiting(pp);
  nt__pp_cmd_t *c;
  while ((c = next_to_send(pp)) != NULL) {
    c->sent = 1;
    c->sent_at = nt_reactor_now(pp->reactor);
    pp->last_sent = c;
    if (nt__log_level >= NT__LOG_DEBUG) log_command(c);
    int rc = nt_transport_write(t, c->text, c->len);
    if (rc) {
      nt_transport_abort_error(t, rc);
      return;
    }
    if (nt_transport_is_closing(t)) return;
  }
  if (first) arm_timer(pp); /* a reply is awaited from now on */
}

static void pop_head(nt_pp_t *pp) {
  nt__pp_cmd_t *c = pp->head;
  pp->head = c->next;
  if (!pp->head) pp->tail = NULL;
  if (pp->last_sent == c) pp->last_sent = NULL;
  nt__free(c);
  pp->in_block = 0;
  pp->block_bytes = 0;
  arm_timer(pp);
  send_next(pp);
}

static int reply_append(nt_pp_t *pp, const char *p, size_t n, int newline) {
  size_t need = pp->reply_len + n + (newline ? 1 : 0) + 1;
  if (need > pp->max_reply + 1) return NT_ETOOBIG;
  if (need > pp->reply_cap) {
    size_t cap = pp->reply_cap ? pp->reply_cap : 256;
    while (cap < need) cap *= 2;
    char *b = nt__realloc(pp->reply, cap);
    if (!b) return NT_ENOMEM;
    pp->reply = b;
    pp->reply_cap = cap;
  }
  if (newline) pp->reply[pp->reply_len++] = '\n';
  memcpy(pp->reply + pp->reply_len, p, n);
  pp->reply_len += n;
  pp->reply[pp->reply_len] = 0;
  return 0;
}

/* --- the shipped grammars ------------------------------------------------ */

/* "NNN", "NNN text" or "NNN-text", NNN in 100..599; -1 otherwise. */
static int parse_code(const char *line, size_t len) {
  if (len < 3) return -1;
  for (int i = 0; i < 3; i++)
    if (line[i] < '0' || line[i] > '9') return -1;
  if (len > 3 && line[3] != ' ' && line[3] != '-') return -1;
  if (line[0] < '1' || line[0] > '5') return -1;
  return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* The text after "NNN " (nothing for "NNN" or "NNN "). */
static size_t code_text(size_t len) { return len > 4 ? 4 : len; }

static int ftp_start(const char *line, size_t len, int *code, size_t *text) {
  *code = parse_code(line, len);
  if (*code < 0) return NT_EPROTO;
  *text = code_text(len);
  return len > 3 && line[3] == '-' ? NT_PP_LINE_MORE : NT_PP_LINE_LAST;
}

/* Lines until one that starts with the same code and a space; the lines
 * between are kept whole (RFC 959 lets them say anything). */
static int ftp_next(int code, const char *line, size_t len, size_t *text) {
  if (parse_code(line, len) == code && (len == 3 || line[3] == ' ')) {
    *text = code_text(len);
    return NT_PP_LINE_LAST;
  }
  *text = 0;
  return NT_PP_LINE_MORE;
}

static int ftp_preliminary(int code) { return code >= 100 && code < 200; }

static int nntp_start(const char *line, size_t len, int *code, size_t *text) {
  *code = parse_code(line, len);
  if (*code < 0) return NT_EPROTO;
  *text = code_text(len);
  return NT_PP_LINE_LAST;
}

const nt_pp_grammar_t nt_pp_grammar_ftp = {
    .name = "ftp", .start = ftp_start, .next = ftp_next,
    .preliminary = ftp_preliminary};
const nt_pp_grammar_t nt_pp_grammar_nntp = {
    .name = "nntp", .start = nntp_start, .next = NULL, .preliminary = NULL};

/* --- replies ---------------------------------------------------------------- */

/* A complete reply: hand it to whoever waits for it. */
static void complete_reply(nt_pp_t *pp) {
  int code = pp->reply_code;
  pp->last_code = code;
  pp->multi = 0;
  NT__DEBUG("< %d %s", code, pp->reply ? pp->reply : "");
  nt__pp_cmd_t *c = pp->head;
  const char *text = pp->reply ? pp->reply : "";
  if (!c || !c->sent) {
    if (pp->ops->unsolicited) pp->ops->unsolicited(pp, code, text, pp->reply_len);
    return;
  }
  int next = c->reply ? c->reply(pp, c->arg, code, text, pp->reply_len) : NT_PP_DONE;
  if (pp->head != c) return; /* the connection went away inside the callback */
  if (next == NT_PP_DONE && pp->grammar->preliminary &&
      pp->grammar->preliminary(code))
    next = NT_PP_MORE;
  if (next == NT_PP_BLOCK) {
    pp->in_block = 1;
    pp->block_bytes = 0;
    arm_timer(pp);
  } else if (next == NT_PP_MORE) {
    arm_timer(pp); /* a preliminary reply (FTP 1xx): the final one follows */
  } else {
    pop_head(pp);
  }
}

static void fail(nt_pp_t *pp, int err) {
  nt_transport_t *t = nt_pp_transport(pp);
  if (t) nt_transport_abort_error(t, err);
}

static void block_line(nt_pp_t *pp, const char *line, size_t len) {
  nt__pp_cmd_t *c = pp->head;
  /* A block is a transfer: each complete line is progress (a partial one
   * is not, so a server trickling bytes cannot hold the command open).
   * The reactor's clock moves once per turn of the loop, so the lines of
   * one read would all set the same deadline: only the first pays for
   * the timer heap (per line, that was 2% of nntp-get's CPU). */
  if (!nt_timer_is_active(&pp->timer) ||
      pp->timer.due != nt_reactor_now(pp->reactor) + pp->timeout_ms)
    arm_timer(pp);
  if (len == 1 && line[0] == '.') {
    if (c->line) c->line(pp, c->arg, NULL, 0);
    if (pp->head == c) pop_head(pp);
    return;
  }
  if (len && line[0] == '.') { /* dot-stuffing */
    line++;
    len--;
  }
  pp->block_bytes += len + 2;
  if (pp->max_block && pp->block_bytes > pp->max_block) {
    fail(pp, NT_ETOOBIG);
    return;
  }
  if (c->line) c->line(pp, c->arg, line, len);
}

/* One line of a reply, read by the grammar: kept, and handed over once the
 * grammar says the reply is complete. */
static void reply_line(nt_pp_t *pp, const char *line, size_t len) {
  if (pp->ops->status_line) pp->ops->status_line(pp, line, len);
  const nt_pp_grammar_t *g = pp->grammar;
  size_t text = 0;
  int more;
  if (pp->multi) {
    more = g->next ? g->next(pp->reply_code, line, len, &text) : NT_PP_LINE_LAST;
  } else {
    int code = -1;
    more = g->start(line, len, &code, &text);
    if (more >= 0 && code < 0) more = NT_EPROTO; /* codes < 0 mean failure */
    if (more >= 0) {
      pp->reply_len = 0;
      pp->reply_code = code;
    }
  }
  if (more < 0) {
    fail(pp, more);
    return;
  }
  if (text > len) text = len;
  int rc = reply_append(pp, line + text, len - text, pp->multi);
  if (rc) {
    fail(pp, rc);
    return;
  }
  if (more == NT_PP_LINE_MORE) {
    pp->multi = 1;
    return;
  }
  complete_reply(pp);
}

static void on_line(nt_line_receiver_t *lr, const char *line, size_t len) {
  nt_pp_t *pp = pp_of(lr);
  if (pp->in_block && pp->head)
    block_line(pp, line, len);
  else
    reply_line(pp, line, len);
  /* The limit of the next line follows the phase: reply lines are short,
   * a block's lines (articles) may be longer. */
  lr->reader.max_line = pp->in_block ? pp->max_block_line : pp->max_line;
}

static void timeout_cb(nt_timer_t *t) {
  nt_pp_t *pp = nt__container_of(t, nt_pp_t, timer);
  fail(pp, NT_ETIMEDOUT);
}

static void on_made(nt_line_receiver_t *lr, nt_transport_t *t) {
  nt_pp_t *pp = pp_of(lr);
  (void)t;
  if (pp->tls_starting) { /* the second connection_made: TLS is up */
    pp->tls_starting = 0;
    nt_line_receiver_resume(lr);
    send_next(pp); /* a command queued during the handshake */
  }
  arm_timer(pp); /* the greeting (or a reply) is awaited */
  if (pp->ops->connected) pp->ops->connected(pp);
}

static void on_lost(nt_line_receiver_t *lr, int status) {
  nt_pp_t *pp = pp_of(lr);
  nt_timer_stop(&pp->timer);
  int err = status ? status : NT_EUNEXPECTEDEOF;
  /* Everything still waiting hears why, once, in order. */
  while (pp->head) {
    nt__pp_cmd_t *c = pp->head;
    pp->head = c->next;
    if (pp->last_sent == c) pp->last_sent = NULL;
    if (c->reply) c->reply(pp, c->arg, err, "", 0);
    nt__free(c);
  }
  pp->tail = NULL;
  pp->last_sent = NULL;
  if (pp->ops->closed) pp->ops->closed(pp, status);
}

static void on_destroy(nt_line_receiver_t *lr) {
  nt_pp_t *pp = pp_of(lr);
  nt_timer_stop(&pp->timer);
  while (pp->head) {
    nt__pp_cmd_t *c = pp->head;
    pp->head = c->next;
    nt__free(c);
  }
  pp->last_sent = NULL;
  nt__free(pp->reply);
  pp->reply = NULL;
  if (pp->ops->destroy) pp->ops->destroy(pp);
}

static const nt_line_receiver_ops_t pp_lr_ops = {
    .connection_made = on_made,
    .line_received = on_line,
    .connection_lost = on_lost,
    .destroy = on_destroy};

static int greeting_queue(nt_pp_t *pp, nt_pp_reply_cb cb, void *arg) {
  nt__pp_cmd_t *c = nt__calloc(1, sizeof *c);
  if (!c) return NT_ENOMEM;
  c->reply = cb;
  c->arg = arg;
  c->sent = 1; /* the server speaks first */
  c->sent_at = UINT64_MAX; /* no round trip to measure */
  pp->head = pp->tail = pp->last_sent = c;
  return 0;
}

int nt_pp_init_sized(size_t opts_size, nt_pp_t *pp, nt_reactor_t *r,
                     const nt_pp_ops_t *ops, const nt_pp_options_t *opts,
                     nt_pp_reply_cb greeting, void *arg) {
  nt_pp_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  memset(pp, 0, sizeof *pp);
  if (!opts || !opts->grammar) return NT_EINVAL;
  nt_pp_options_t o = *opts;
  pp->max_line = o.max_line ? o.max_line : 8192;
  pp->max_block_line =
      o.max_block_line > pp->max_line ? o.max_block_line : pp->max_line;
  nt_line_receiver_init(&pp->lr, &pp_lr_ops, pp->max_line);
  pp->ops = ops;
  pp->grammar = o.grammar;
  pp->reactor = r;
  pp->max_reply = o.max_reply ? o.max_reply : 64 * 1024;
  pp->max_block = o.max_block;
  pp->timeout_ms = o.timeout_ms ? o.timeout_ms : 60000;
  nt_timer_init(r, &pp->timer, timeout_cb);
  return greeting_queue(pp, greeting, arg);
}

void nt_pp_dispose(nt_pp_t *pp) { pp->lr.base.ops->destroy(&pp->lr.base); }

int nt_pp_command(nt_pp_t *pp, int flags, nt_pp_reply_cb reply,
                  nt_pp_line_cb line, void *arg, const char *fmt, ...) {
  nt_transport_t *t = nt_pp_transport(pp);
  if (!t || nt_transport_is_closing(t)) return NT_ENOTCONN;
  char buf[MAX_COMMAND];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 2, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof buf - 2) return NT_ETOOBIG;
  if (memchr(buf, '\r', (size_t)n) || memchr(buf, '\n', (size_t)n)) return NT_EINVAL;
  nt__pp_cmd_t *c = nt__malloc(sizeof *c + (size_t)n + 2);
  if (!c) return NT_ENOMEM;
  memset(c, 0, sizeof *c);
  c->reply = reply;
  c->line = line;
  c->arg = arg;
  c->flags = flags;
  memcpy(c->text, buf, (size_t)n);
  memcpy(c->text + n, "\r\n", 2);
  c->len = (size_t)n + 2;
  if (pp->tail)
    pp->tail->next = c;
  else
    pp->head = c;
  pp->tail = c;
  send_next(pp);
  return 0;
}

int nt_pp_start_tls_sized(size_t opts_size, nt_pp_t *pp, nt_tls_ctx_t *ctx,
                          const nt_tls_options_t *opts) {
  nt_tls_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  nt_transport_t *t = nt_pp_transport(pp);
  if (!t || nt_transport_is_closing(t)) return NT_ENOTCONN;
  /* Nothing after the reply that allowed TLS belongs to the plaintext
   * conversation: the line framer stops at once. */
  nt_line_receiver_stop(&pp->lr);
  pp->tls_starting = 1;
  nt_timer_stop(&pp->timer); /* the handshake has its own limit */
  int rc = nt_tls_start(t, ctx, &pp->lr.base, opts, NULL);
  if (rc) {
    pp->tls_starting = 0;
    nt_line_receiver_resume(&pp->lr);
    arm_timer(pp);
  }
  return rc;
}

int nt_pp_start_layer(nt_pp_t *pp,
                      int (*start)(nt_transport_t *lower, nt_protocol_t *upper,
                                   void *arg),
                      void *arg) {
  nt_transport_t *t = nt_pp_transport(pp);
  if (!start) return NT_EINVAL;
  if (!t || nt_transport_is_closing(t)) return NT_ENOTCONN;
  /* As for TLS: what follows the reply that allowed the layer is the
   * layer's (RFC 8054 2.2.2: nothing may follow it), so reading stops. */
  nt_line_receiver_stop(&pp->lr);
  pp->tls_starting = 1;
  nt_timer_stop(&pp->timer);
  int rc = start(t, &pp->lr.base, arg);
  if (rc) {
    pp->tls_starting = 0;
    nt_line_receiver_resume(&pp->lr);
    arm_timer(pp);
  }
  return rc;
}

uint64_t nt_pp_reply_sent_at(const nt_pp_t *pp) {
  return pp->head && pp->head->sent ? pp->head->sent_at : UINT64_MAX;
}

size_t nt_pp_awaited(const nt_pp_t *pp) {
  size_t n = 0;
  for (const nt__pp_cmd_t *c = pp->head; c && c->sent; c = c->next) n++;
  return n;
}

void nt_pp_touch(nt_pp_t *pp) {
  if (awaiting(pp)) nt_timer_start(&pp->timer, pp->timeout_ms, 0);
}

const char *nt_pp_last_reply(const nt_pp_t *pp) {
  return pp->reply ? pp->reply : "";
}

int nt_pp_last_code(const nt_pp_t *pp) { return pp->last_code; }

size_t nt_pp_pending(const nt_pp_t *pp) {
  size_t n = 0;
  for (const nt__pp_cmd_t *c = pp->head; c; c = c->next) n++;
  return n;
}

int nt_pp_in_block(const nt_pp_t *pp) { return pp->in_block; }

const nt_pp_grammar_t *nt_pp_grammar(const nt_pp_t *pp) { return pp->grammar; }
