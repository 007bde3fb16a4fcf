/* NNTP client: falling back from pipelining by itself. RFC 3977 3.5 lets a
 * server not pipeline; such servers hang up (or answer 400/500) when a
 * second command arrives before the answer to the first. The client then
 * must not lose what it had sent: the commands without an answer stay in
 * its queue, the connection is made again with the same options (the
 * set-up state machine runs again: TLS, AUTHINFO, COMPRESS), the group and
 * current article are selected again, and the commands go out one at a
 * time, for good on this client (the window stays 1). Each done() still
 * comes once and in order: nothing after the refused command was
 * delivered, and the judgement is made once per connection.
 *
 * The life cycle: the old engine hears the end (nt__nntp_refuse_lost for
 * each command, nt__nntp_refuse_closed), the transport destroys the
 * protocol (nt__nntp_refuse_destroyed: the engine is set up afresh in
 * place, the client is not freed) and, from the loop, the client connects
 * again (nt_tcp_connect, or options.reconnect for nt_nntp_new). */
#include <string.h>

#include "nntp-int.h"
#include "reactor-int.h"

static int can_reconnect(const nt_nntp_t *c) {
  return c->host != NULL || c->reconnect != NULL;
}

/* Whether the window was in use and this connection may be judged. */
static int may_judge(const nt_nntp_t *c) {
  return c->state == NT_NNTP_READY && c->max_window > 1 && !c->pipeline_refused &&
         can_reconnect(c);
}

/* Whether any byte of the reply the client awaits (the oldest command in
 * flight) has arrived: its status line (begun), or a piece of it still in
 * the line reader (no reply is in a block then, so the bytes are its). */
static int awaited_started(const nt_nntp_t *c) {
  const nt__nntp_req_t *h = c->head;
  if (!h || h == c->unsent) return 0;
  return h->begun || (!nt_pp_in_block(&c->pp) && c->pp.lr.reader.len > 0);
}

/* The end of the connection (code) is a refusal when a command that went
 * out while another was awaited has no answer yet, and the server had not
 * begun the awaited reply: a server that will not pipeline stops before
 * answering (it reads the next command while it decides, RFC 3977 3.5),
 * while an end in the middle of a reply it was writing is a cut (network,
 * server restart) like any other, and must not cost this client its
 * window for good. A command sent alone that gets no answer is a lost
 * connection too. (An end between two replies still looks like a refusal
 * and falls back; re-probing the window after a run of successes would
 * undo such a false verdict, but costs every refusing server one more
 * hang-up per probe and the commands it drops: not done.) */
static int judge(const nt_nntp_t *c, int code) {
  if (!may_judge(c)) return 0;
  if (code != NT_EUNEXPECTEDEOF && code != NT_ECONNRESET && code != NT_EPIPE &&
      code != NT_ENNTP_UNAVAILABLE && !c->said_400)
    return 0;
  if (awaited_started(c)) return 0;
  for (const nt__nntp_req_t *q = c->head; q && q != c->unsent; q = q->next)
    if (!q->begun && !q->alone) return 1;
  return 0;
}

int nt__nntp_refuse_lost(nt_nntp_t *c, nt__nntp_req_t *q, int code) {
  if (!c->loss_seen) {
    c->loss_seen = 1;
    c->refused = judge(c, code);
  }
  /* a reply that had begun was (partly) delivered: it ends here */
  return c->refused && !q->begun;
}

/* Commands every reader server has (RFC 3977), and OVER/HDR once listed
 * (only then are they pipelined): a 500 to one of them sent in a pipeline
 * means the server did not read it as a command of its own. */
static int known_command(const nt__nntp_req_t *q) {
  switch (q->kind) {
  case NT__NNTP_REQ_FETCH:
  case NT__NNTP_REQ_GROUP:
  case NT__NNTP_REQ_LISTGROUP:
  case NT__NNTP_REQ_MOVE:
  case NT__NNTP_REQ_OVER:
  case NT__NNTP_REQ_HDR:
  case NT__NNTP_REQ_DATE:
    return 1;
  default:
    return 0;
  }
}

int nt__nntp_refuse_reply(nt_nntp_t *c, nt__nntp_req_t *q, int code) {
  if (c->refused) return 1; /* already judged: nothing more is taken */
  if (code != 400 && code != 500) return 0;
  if (q->alone || !may_judge(c)) return 0;
  if (code == 500 && !known_command(q)) return 0;
  c->loss_seen = 1;
  c->refused = 1;
  nt_transport_t *t = nt_pp_transport(&c->pp);
  if (t) nt_transport_abort_error(t, NT_ENNTP_UNAVAILABLE);
  return 1;
}

static int is_number_spec(const char *cmd) {
  const char *sp = strchr(cmd, ' ');
  return sp && sp[1] >= '0' && sp[1] <= '9';
}

void nt__nntp_refuse_track(nt_nntp_t *c, nt__nntp_req_t *q, int code) {
  if ((q->kind == NT__NNTP_REQ_GROUP || q->kind == NT__NNTP_REQ_LISTGROUP) &&
      code == 211 && q->res.group && q->res.group[0]) {
    if (!c->cur_group || strcmp(c->cur_group, q->res.group) != 0) {
      char *g = nt__strdup(q->res.group);
      if (!g) return; /* not restored then: 412s say so */
      nt__free(c->cur_group);
      c->cur_group = g;
    }
    c->cur_article = 0; /* GROUP's: the first one */
    return;
  }
  if (code >= 220 && code <= 223 && q->res.number &&
      (q->kind == NT__NNTP_REQ_MOVE ||
       (q->kind == NT__NNTP_REQ_FETCH && is_number_spec(q->cmd))))
    c->cur_article = q->res.number;
}

/* Puts q at the front of the queue (nothing is in flight now). */
static void push_front(nt_nntp_t *c, nt__nntp_req_t *q) {
  q->next = c->head;
  c->head = q;
  if (!c->tail) c->tail = q;
  c->unsent = c->head;
}

/* The group and current article of the old connection, ahead of the
 * commands sent again (unless the first of them selects a group itself). */
static int restore_requests(nt_nntp_t *c) {
  if (!c->cur_group || !c->head || c->head->kind == NT__NNTP_REQ_GROUP) return 0;
  if (c->cur_article) {
    nt__nntp_req_t *s = nt__nntp_req_new(NT__NNTP_REQ_FETCH, 0, "STAT %llu",
                                         (unsigned long long)c->cur_article);
    if (!s) return NT_ENOMEM;
    push_front(c, s);
  }
  nt__nntp_req_t *g = nt__nntp_req_new(NT__NNTP_REQ_GROUP, 0, "GROUP %s", c->cur_group);
  if (!g) return NT_ENOMEM;
  push_front(c, g);
  return 0;
}

int nt__nntp_refuse_closed(nt_nntp_t *c) {
  if (!c->refused) return 0;
  c->refused = 0;
  c->loss_seen = 0;
  if (!c->head) return 0;
  if (restore_requests(c)) return 0; /* out of memory: they fail instead */
  nt__log(NT__LOG_INFO,
          "nntp %p: the server hung up on %zu pipelined commands: connecting "
          "again, one command at a time from now on",
          (void *)c, c->peak_flight);
  c->reconnecting = 1;
  c->pipeline_refused = 1;
  c->max_window = 1;
  c->window = 1;
  c->unsent = c->head;
  c->nflight = 0;
  c->barrier = 0;
  c->peak_flight = 0;
  c->retry = NULL;
  for (nt__nntp_req_t *q = c->head; q; q = q->next) {
    q->alone = 0;
    q->begun = 0;
  }
  c->status = 0;
  c->said_400 = 0;
  /* the set-up runs again from the start */
  c->caps_fresh = 0;
  c->caps_known = 0;
  c->caps = 0;
  c->mode_reader_done = 0;
  c->tls_active = 0;
  c->authed = 0;
  c->auth_failed = 0;
  c->compress_done = 0;
  c->compress_active = 0;
  c->tls_error[0] = 0;
  nt__nntp_set_state(c, NT_NNTP_CONNECTING);
  return 1;
}

/* From the loop: the new connection. */
static void connect_cb(void *arg) {
  nt_nntp_t *c = arg;
  int quit_queued = c->tail && c->tail->kind == NT__NNTP_REQ_QUIT;
  if (c->close_asked && !quit_queued) { /* nt_nntp_close in between */
    nt__nntp_end_unconnected(c, 0);
    return;
  }
  int rc = nt__nntp_connect_again(c);
  if (rc) nt__nntp_end_unconnected(c, rc);
}

int nt__nntp_refuse_destroyed(nt_nntp_t *c) {
  if (!c->reconnecting) return 0;
  c->reconnecting = 0;
  int rc = nt__nntp_pp_init(c);
  if (!rc) rc = nt_call_soon(c->reactor, connect_cb, c);
  if (!rc) return 1;
  /* the engine may hold nothing now: end here, the caller frees c */
  nt__nntp_set_state(c, NT_NNTP_CLOSED);
  nt__nntp_fail_queue(c, rc);
  c->closed_told = 1;
  if (c->cbs.closed) c->cbs.closed(c, rc, c->arg);
  return 0;
}

int nt_nntp_pipeline_refused(const nt_nntp_t *c) { return c->pipeline_refused; }
