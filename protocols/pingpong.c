/* The command/response engine shared by FTP and NNTP (curl's "pingpong"):
 * commands go out one at a time from a queue, replies come back through the
 * line framer, a timer bounds every wait. States per command: queued -> sent
 * -> (reply) -> done | block -> done. */
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

static void send_next(nt_pp_t *pp) {
  nt__pp_cmd_t *c = pp->head;
  nt_transport_t *t = nt_pp_transport(pp);
  if (!c || c->sent || !t || nt_transport_is_closing(t)) return;
  c->sent = 1;
  if (nt__log_level >= NT__LOG_DEBUG) {
    if (c->flags & NT_PP_SECRET) {
      const char *sp = memchr(c->text, ' ', c->len);
      int keep = sp ? (int)(sp - c->text) : (int)c->len - 2;
      if (!strncmp(c->text, "AUTHINFO PASS", 13)) keep = 13;
      nt__log(NT__LOG_DEBUG, "> %.*s ****", keep, c->text);
    } else {
      nt__log(NT__LOG_DEBUG, "> %.*s", (int)c->len - 2, c->text);
    }
  }
  int rc = nt_transport_write(t, c->text, c->len);
  if (rc) {
    nt_transport_abort_error(t, rc);
    return;
  }
  arm_timer(pp);
}

static void pop_head(nt_pp_t *pp) {
  nt__pp_cmd_t *c = pp->head;
  pp->head = c->next;
  if (!pp->head) pp->tail = NULL;
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

static int parse_code(const char *line, size_t len) {
  if (len < 3) return -1;
  for (int i = 0; i < 3; i++)
    if (line[i] < '0' || line[i] > '9') return -1;
  if (len > 3 && line[3] != ' ' && line[3] != '-') return -1;
  if (line[0] < '1' || line[0] > '5') return -1;
  return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

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
   * is not, so a server trickling bytes cannot hold the command open). */
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

static void on_line(nt_line_receiver_t *lr, const char *line, size_t len) {
  nt_pp_t *pp = pp_of(lr);
  if (pp->in_block && pp->head) {
    block_line(pp, line, len);
    return;
  }
  int rc;
  if (pp->multi) {
    /* FTP: lines until one that starts with the same code and a space. */
    int code = parse_code(line, len);
    if (code == pp->reply_code && (len == 3 || line[3] == ' ')) {
      rc = reply_append(pp, len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0, 1);
      if (rc) {
        fail(pp, rc);
        return;
      }
      complete_reply(pp);
      return;
    }
    rc = reply_append(pp, line, len, 1);
    if (rc) fail(pp, rc);
    return;
  }
  int code = parse_code(line, len);
  if (code < 0) {
    fail(pp, NT_EPROTO);
    return;
  }
  pp->reply_len = 0;
  pp->reply_code = code;
  rc = reply_append(pp, len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0, 0);
  if (rc) {
    fail(pp, rc);
    return;
  }
  if (pp->style == NT_PP_STYLE_FTP && len > 3 && line[3] == '-') {
    pp->multi = 1;
    return;
  }
  complete_reply(pp);
}

static void timeout_cb(nt_timer_t *t) {
  nt_pp_t *pp = nt__container_of(t, nt_pp_t, timer);
  fail(pp, NT_ETIMEDOUT);
}

static void on_made(nt_line_receiver_t *lr, nt_transport_t *t) {
  nt_pp_t *pp = pp_of(lr);
  (void)t;
  arm_timer(pp); /* the greeting is awaited */
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
    if (c->reply) c->reply(pp, c->arg, err, "", 0);
    nt__free(c);
  }
  pp->tail = NULL;
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
  pp->head = pp->tail = c;
  return 0;
}

int nt_pp_init(nt_pp_t *pp, nt_reactor_t *r, const nt_pp_ops_t *ops,
               const nt_pp_options_t *opts, nt_pp_reply_cb greeting,
               void *arg) {
  memset(pp, 0, sizeof *pp);
  nt_pp_options_t o = {NT_PP_STYLE_FTP, 0, 0, 0, 0};
  if (opts) o = *opts;
  nt_line_receiver_init(&pp->lr, &pp_lr_ops, o.max_line ? o.max_line : 8192);
  pp->ops = ops;
  pp->style = o.style;
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
