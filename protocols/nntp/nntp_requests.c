/* NNTP client: the request queue. Requests wait here until the session is
 * READY and the one before them is answered (pingpong sends one command at
 * a time); replies are parsed per kind, blocks streamed to the caller, a
 * 480 sends the request again after AUTHINFO, a 500 to OVER/HDR sends
 * XOVER/XHDR. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nettool/compress.h"
#include "nntp-int.h"
#include "reactor-int.h"

#define MAX_QUEUED 65536

nt__nntp_req_t *nt__nntp_req_new(nt__nntp_req_kind_t kind, int block_code,
                                 const char *fmt, ...) {
  nt__nntp_req_t *q = nt__calloc(1, sizeof *q);
  if (!q) return NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(q->cmd, sizeof q->cmd - 2, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof q->cmd - 2 || strpbrk(q->cmd, "\r\n")) {
    nt__free(q);
    return NULL;
  }
  q->kind = kind;
  q->block_code = block_code;
  q->res.text = "";
  q->res.group = "";
  q->res.message_id = "";
  return q;
}

void nt__nntp_req_free(nt__nntp_req_t *q) {
  if (!q) return;
  nt__free(q->post);
  nt__free(q->text);
  nt__free(q->alt);
  nt__free(q->aux);
  nt__free(q);
}

int nt__nntp_enqueue(nt_nntp_t *c, nt__nntp_req_t *q) {
  if (c->close_asked || c->state == NT_NNTP_CLOSED ||
      c->state == NT_NNTP_QUITTING) {
    nt__nntp_req_free(q);
    return NT_ENOTCONN;
  }
  if (nt_nntp_pending(c) >= MAX_QUEUED) {
    nt__nntp_req_free(q);
    return NT_EBUSY;
  }
  if (c->tail)
    c->tail->next = q;
  else
    c->head = q;
  c->tail = q;
  if (!c->unsent) c->unsent = q;
  nt__nntp_submit(c);
  return 0;
}

size_t nt_nntp_pending(const nt_nntp_t *c) {
  size_t n = 0;
  for (const nt__nntp_req_t *q = c->head; q; q = q->next) n++;
  return n;
}

static int req_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                     size_t len);
static void req_line(nt_pp_t *pp, void *arg, const char *line, size_t len);

/* Acknowledges what was just read at once. Servers that write a status
 * line and then the rest of a response in two small writes without
 * TCP_NODELAY (INN's nnrpd does) hold the second one back (Nagle) until
 * the first is acknowledged, while the client's kernel delays that ACK by
 * up to 40 ms: every ARTICLE/BODY/HEAD would cost 40 ms (it does with
 * Python's nntplib). Setting TCP_QUICKACK after a read sends the pending
 * ACK now; the mode is not sticky, so it is done for each reply. */
static void quick_ack(nt_transport_t *t) {
#ifdef TCP_QUICKACK
  if (nt_compress_is(t)) t = nt_compress_lower(t);
  if (t && nt_tls_is_tls(t)) t = nt_tls_lower(t);
  int fd = t ? nt_tcp_fileno(t) : -1, on = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
#else
  (void)t;
#endif
}

/* Whether q may join other requests in flight (RFC 3977 3.5): not when
 * its reply could make us send it again (a 480 while credentials wait to
 * be used; OVER/HDR on a server not known to have them), nor POST (340
 * then the article) or QUIT. */
static int pipelinable(const nt_nntp_t *c, const nt__nntp_req_t *q) {
  if (c->max_window <= 1) return 0;
  if (c->user && !c->authed) return 0;
  int known = c->caps_known == 1;
  switch (q->kind) {
  case NT__NNTP_REQ_FETCH:
  case NT__NNTP_REQ_GROUP:
  case NT__NNTP_REQ_LISTGROUP:
  case NT__NNTP_REQ_MOVE:
  case NT__NNTP_REQ_LIST:
  case NT__NNTP_REQ_DATE:
    return 1;
  case NT__NNTP_REQ_OVER:
    return q->alt_sent || (known && (c->caps & NT__CAP_OVER));
  case NT__NNTP_REQ_HDR:
    return q->alt_sent || (known && (c->caps & NT__CAP_HDR));
  default:
    return 0;
  }
}

/* Hands waiting requests to pingpong while the window allows. */
void nt__nntp_submit(nt_nntp_t *c) {
  if (c->state != NT_NNTP_READY) return;
  nt_transport_t *t = nt_pp_transport(&c->pp);
  if (!t || nt_transport_is_closing(t)) return; /* closed() fails the rest */
  while (c->unsent && c->state == NT_NNTP_READY) {
    nt__nntp_req_t *q = c->unsent;
    /* XOVER/XHDR straight away when the server is known to lack OVER/HDR */
    if (q->alt && !q->alt_sent) {
      int known = c->caps_known == 1;
      if (q->kind == NT__NNTP_REQ_OVER &&
          (c->over_missing || (known && !(c->caps & NT__CAP_OVER))))
        q->alt_sent = 1;
      if (q->kind == NT__NNTP_REQ_HDR &&
          (c->hdr_missing || (known && !(c->caps & NT__CAP_HDR))))
        q->alt_sent = 1;
    }
    int pipe = pipelinable(c, q);
    if (c->nflight && (!pipe || c->barrier || c->nflight >= c->window)) return;
    q->alone = c->nflight == 0;
    c->unsent = q->next;
    c->nflight++;
    if (c->nflight > c->peak_flight) c->peak_flight = c->nflight;
    c->barrier = !pipe;
    if (q->kind == NT__NNTP_REQ_QUIT) nt__nntp_set_state(c, NT_NNTP_QUITTING);
    int rc = nt_pp_command(&c->pp, pipe ? NT_PP_PIPELINE : 0, req_reply, req_line,
                           q, "%s", q->alt_sent ? q->alt : q->cmd);
    if (rc) {
      /* Not with pingpong: it waits again, and the connection ends (every
       * request then hears why, in order, from closed()). */
      c->unsent = q;
      c->nflight--;
      if (!nt_transport_is_closing(t)) nt_transport_abort_error(t, rc);
      return;
    }
  }
}

/* Takes the head off the queue, tells its caller, sends what may follow. */
void nt__nntp_finish_head(nt_nntp_t *c, int status, int code) {
  nt__nntp_req_t *q = c->head;
  if (!q) return;
  c->head = q->next;
  if (!c->head) c->tail = NULL;
  if (c->unsent == q)
    c->unsent = q->next; /* failed before it was sent */
  else if (c->nflight)
    c->nflight--;
  if (!c->nflight) c->barrier = 0;
  if (c->retry == q) c->retry = NULL;
  q->res.status = status;
  if (code) q->res.code = code;
  if (!q->text && code && code == nt_pp_last_code(&c->pp))
    q->res.text = nt_pp_last_reply(&c->pp);
  int quit = q->kind == NT__NNTP_REQ_QUIT;
  if (q->done) q->done(c, &q->res, q->arg);
  nt__nntp_req_free(q);
  if (quit) {
    nt_transport_t *t = nt_pp_transport(&c->pp);
    if (t) nt_transport_lose_connection(t);
    return;
  }
  nt__nntp_submit(c);
}

void nt__nntp_fail_queue(nt_nntp_t *c, int status) {
  int bound = MAX_QUEUED + 1; /* done() may not queue more: enqueue refuses */
  while (c->head && bound--) nt__nntp_finish_head(c, status, 0);
}

int nt__nntp_code_status(int code) {
  switch (code) {
  case 411: return NT_ENNTP_NOGROUP;
  case 412: return NT_ENNTP_NOGROUPSEL;
  case 420: case 421: case 422: case 423: case 430: return NT_ENNTP_NOARTICLE;
  case 440: return NT_ENNTP_NOPOST;
  case 441: return NT_ENNTP_POSTFAIL;
  case 480: return NT_ENNTP_AUTHREQ;
  case 481: case 482: return NT_ENNTP_AUTHFAIL;
  case 483: return NT_ENNTP_TLSREQ;
  case 500: case 503: return NT_ENNTP_UNSUPPORTED;
  case 400: case 502: return NT_ENNTP_UNAVAILABLE;
  default: return code >= 400 ? NT_ENNTP_REFUSED : NT_ENNTP_BADREPLY;
  }
}

static int keep_text(nt__nntp_req_t *q, const char *text, size_t len) {
  nt__free(q->text);
  q->text = nt__malloc(len + 1);
  if (!q->text) return NT_ENOMEM;
  memcpy(q->text, text, len);
  q->text[len] = 0;
  q->res.text = q->text;
  return 0;
}

/* Parses the parts of a success reply done() reports. */
/* Copies a slice for res.group / res.message_id. */
static const char *keep_aux(nt__nntp_req_t *q, nt_nntp_str_t s) {
  nt__free(q->aux);
  q->aux = nt__malloc(s.n + 1);
  if (!q->aux) return NULL;
  memcpy(q->aux, s.p, s.n);
  q->aux[s.n] = 0;
  return q->aux;
}

static int parse_reply(nt__nntp_req_t *q, int code) {
  const char *t = q->text, *a;
  size_t n = strlen(t);
  nt_nntp_str_t s;
  switch (q->kind) {
  case NT__NNTP_REQ_GROUP:
  case NT__NNTP_REQ_LISTGROUP:
    if (code != 211) return 0;
    if (nt_nntp_parse_group(t, n, &q->res.count, &q->res.low, &q->res.high, &s))
      return NT_ENNTP_BADREPLY;
    if (!(a = keep_aux(q, s))) return NT_ENOMEM;
    q->res.group = a;
    return 0;
  case NT__NNTP_REQ_FETCH:
  case NT__NNTP_REQ_MOVE:
    if (code < 220 || code > 223) return 0;
    if (nt_nntp_parse_article_reply(t, n, &q->res.number, &s))
      return NT_ENNTP_BADREPLY;
    if (s.n) {
      if (!(a = keep_aux(q, s))) return NT_ENOMEM;
      q->res.message_id = a;
    }
    return 0;
  case NT__NNTP_REQ_DATE:
    if (code != 111) return 0;
    return nt_nntp_parse_date(t, n, &q->res.date) ? NT_ENNTP_BADREPLY : 0;
  default:
    return 0;
  }
}

static int success_code(const nt__nntp_req_t *q, int code) {
  switch (q->kind) {
  case NT__NNTP_REQ_GROUP: return code == 211;
  case NT__NNTP_REQ_FETCH:
  case NT__NNTP_REQ_MOVE: return code >= 220 && code <= 223;
  case NT__NNTP_REQ_DATE: return code == 111;
  case NT__NNTP_REQ_POST: return code == 240;
  case NT__NNTP_REQ_QUIT: return code == 205;
  default: return code == q->block_code;
  }
}

static int req_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                     size_t len) {
  nt_nntp_t *c = (nt_nntp_t *)pp;
  nt__nntp_req_t *q = arg;
  if (code < 0) { /* the connection ended: closed() says so too */
    /* a server that refused pipelining: q is sent again (nntp_refuse.c) */
    if (nt__nntp_refuse_lost(c, q, code)) return NT_PP_DONE;
    if (!c->status && q->kind != NT__NNTP_REQ_QUIT) c->status = code;
    nt__nntp_finish_head(c, code, 0);
    return NT_PP_DONE;
  }
  nt__nntp_window_reply(c, nt_pp_reply_sent_at(pp), q->alone);
  /* 400/500 to a pipelined command: refused; it and what follows go again */
  if (nt__nntp_refuse_reply(c, q, code)) return NT_PP_DONE;
  /* Sending q again is only possible when it went out alone: a request
   * pipelined behind it would take the reply meant for the retry. */
  int alone = c->nflight == 1 && c->head == q;
  if (code == 480 && c->user && !q->auth_tried && !c->auth_failed &&
      q->kind != NT__NNTP_REQ_QUIT && alone) {
    q->auth_tried = 1;
    c->nflight = 0;
    c->barrier = 0;
    c->unsent = q;
    c->retry = q;
    nt__nntp_auth_start(c);
    return NT_PP_DONE;
  }
  if ((code == 500 || code == 501) && q->alt && !q->alt_sent && alone) {
    /* the server lacks OVER/HDR: XOVER/XHDR, for this session */
    q->alt_sent = 1;
    if (q->kind == NT__NNTP_REQ_OVER) c->over_missing = 1;
    if (q->kind == NT__NNTP_REQ_HDR) c->hdr_missing = 1;
    c->nflight = 0;
    c->barrier = 0;
    c->unsent = q;
    nt__nntp_submit(c);
    return NT_PP_DONE;
  }
  quick_ack(nt_pp_transport(pp));
  q->begun = 1;
  int rc = keep_text(q, text, len);
  q->res.code = code;
  if (rc) {
    nt__nntp_finish_head(c, rc, code);
    return NT_PP_DONE;
  }
  if (q->kind == NT__NNTP_REQ_POST && code == 340 && !q->posted) {
    q->posted = 1;
    rc = nt_transport_write(nt_pp_transport(pp), q->post, q->post_len);
    if (rc) {
      nt_transport_abort_error(nt_pp_transport(pp), rc);
      return NT_PP_DONE; /* the failure reaches done() from pingpong */
    }
    nt__free(q->post);
    q->post = NULL;
    return NT_PP_MORE; /* 240 or 441 follows */
  }
  /* XHDR answers 221 where HDR answers 225 */
  int block = q->block_code &&
              (code == q->block_code ||
               (q->kind == NT__NNTP_REQ_HDR && q->alt_sent && code == 221));
  if (q->kind == NT__NNTP_REQ_FETCH && code == 223) block = 0; /* STAT */
  if (block || success_code(q, code)) {
    rc = parse_reply(q, code);
    if (rc) {
      nt__nntp_finish_head(c, rc, code);
      /* a block may still follow: it would be read as replies, so end */
      if (block) nt_transport_abort_error(nt_pp_transport(pp), rc);
      return NT_PP_DONE;
    }
    nt__nntp_refuse_track(c, q, code); /* the group and article selected */
    if (block) return NT_PP_BLOCK;
    nt__nntp_finish_head(c, 0, code);
    return NT_PP_DONE;
  }
  nt__nntp_finish_head(c, nt__nntp_code_status(code), code);
  return NT_PP_DONE;
}

/* "<number> <value>" of HDR/XHDR (number 0 by message-id). */
static void hdr_line(nt_nntp_t *c, nt__nntp_req_t *q, const char *line,
                     size_t len) {
  const char *p = line, *end = line + len;
  nt_nntp_str_t num = nt__nntp_token(&p, end);
  uint64_t n = 0;
  if (!num.n) return;
  if (nt__nntp_parse_u64(num.p, num.n, &n)) n = 0;
  if (p < end && (*p == ' ' || *p == '\t')) p++;
  q->hdr(c, n, p, (size_t)(end - p), q->arg);
}

static void req_line(nt_pp_t *pp, void *arg, const char *line, size_t len) {
  nt_nntp_t *c = (nt_nntp_t *)pp;
  nt__nntp_req_t *q = arg;
  if (!line) {
    nt__nntp_finish_head(c, 0, q->res.code);
    return;
  }
  q->res.lines++;
  if (q->kind == NT__NNTP_REQ_OVER && q->over) {
    nt_nntp_overview_t o;
    if (nt_nntp_parse_overview(line, len, &o) == 0) q->over(c, &o, q->arg);
  } else if (q->kind == NT__NNTP_REQ_HDR && q->hdr) {
    hdr_line(c, q, line, len);
  } else if (q->line) {
    q->line(c, line, len, q->arg);
  }
}
