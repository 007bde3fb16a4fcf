/* Writing a request: the head (request_head.c builds it), then the body
 * pulled piece by piece only while the transport takes more (pause_writing
 * stops the pump, resume_writing restarts it), memory pieces with write and
 * file ranges with write_file (sendfile on TCP), framed as chunks when the
 * length is unknown. The state machine (request.c) calls in; what happens
 * here goes back to it as events (nt__rq_step), never as a state. */
#include <stdio.h>
#include <string.h>

#include "reactor-int.h"
#include "request-int.h"

static void body_ready(void *arg) { nt__rq_step(arg, EV_WRITABLE, 0); }

static int write_chunk_header(nt_transport_t *t, uint64_t n) {
  char h[32];
  int k = snprintf(h, sizeof h, "%llx\r\n", (unsigned long long)n);
  return nt_transport_write(t, h, (size_t)k);
}

static void pump(nt_http_request_t *q);

/* Pumps, then looks at what the socket took (progress) and re-arms the
 * limits: queued bytes are looked at until they drain. */
void nt__rq_pump(nt_http_request_t *q) {
  pump(q);
  if (nt__rq_done(q)) return;
  nt__rq_note_sent(q);
  nt__rq_arm_limits(q);
}

static void pump(nt_http_request_t *q) {
  for (int round = 0; round < PUMP_ROUNDS; round++) {
    if (q->state != RQ_SENDING || !q->conn || !nt__http_conn_can_write(q->conn))
      return;
    nt_transport_t *t = nt__http_conn_transport(q->conn);
    nt_body_piece_t pc;
    int rc = q->body->ops->next(q->body, PIECE_MAX, &pc);
    if (rc == NT_EAGAIN) {
      if (!q->body->ops->wait ||
          (rc = q->body->ops->wait(q->body,
                                   q->client ? q->client->reactor : t->reactor,
                                   body_ready, q)) != 0) {
        nt__rq_set_error(q, "%s", "the body said EAGAIN but cannot wait");
        nt__rq_step(q, EV_FAIL, rc ? rc : NT_EIO);
      }
      return;
    }
    if (rc < 0) {
      nt__rq_set_error(q, "%s", q->body->ops->error(q->body));
      q->body_failed = 1;
      nt__rq_step(q, EV_FAIL, rc);
      return;
    }
    if (rc == 0) {
      if (q->chunked) nt_transport_write(t, "0\r\n\r\n", 5);
      int v = q->body->ops->verify(q->body);
      if (v) {
        nt__rq_set_error(q, "%s", q->body->ops->error(q->body));
        q->body_failed = 1;
        nt__rq_step(q, EV_FAIL, v);
        return;
      }
      nt__rq_step(q, EV_BODY_END, 0);
      return;
    }
    uint64_t n = pc.fd >= 0 ? pc.flen : pc.len;
    if (n == 0) continue;
    rc = q->chunked ? write_chunk_header(t, n) : 0;
    if (!rc) {
      rc = pc.fd >= 0 ? nt_transport_write_file(t, pc.fd, pc.offset, pc.flen)
                      : nt_transport_write(t, pc.data, pc.len);
    }
    if (!rc && q->chunked) rc = nt_transport_write(t, "\r\n", 2);
    if (rc) return; /* the connection is ending: connection_lost follows */
    q->body_queued += n;
  }
  nt__rq_kick(q, 0); /* yield to the loop, go on next turn */
}

int nt__rq_build_head(nt_http_request_t *q, char **head, size_t *len) {
  q->hops++;
  q->body_queued = 0;
  q->received = q->skipped = 0;
  q->keep_alive = 0;
  q->send_body = q->body != NULL;
  q->body_len = q->send_body ? q->body->ops->length(q->body) : -2;
  q->chunked = q->body_len == -1;
  q->expect = q->send_body && !q->no_expect &&
              (q->force_expect ||
               (q->expect_threshold != UINT64_MAX &&
                (q->chunked || (uint64_t)q->body_len > q->expect_threshold)));
  nt__http_head_params_t hp;
  memset(&hp, 0, sizeof hp);
  hp.method = q->method;
  hp.url = &q->url;
  hp.user_agent = q->client ? q->client->user_agent : NULL;
  hp.user = q->user;
  hp.password = q->password;
  hp.extra = (const char *const *)q->extra;
  hp.drop_credentials = !nt_url_same_origin(&q->url, &q->origin);
  hp.content_type = q->send_body ? q->body->ops->content_type(q->body) : NULL;
  hp.content_length = q->body_len;
  hp.expect_continue = q->expect;
  return nt__http_build_head(&hp, head, len);
}

int nt__rq_write_head(nt_http_request_t *q, char *head, size_t len) {
  int rc = nt_transport_write(nt__http_conn_transport(q->conn), head, len);
  memset(head, 0, len); /* it may hold credentials */
  nt__free(head);
  return rc;
}
