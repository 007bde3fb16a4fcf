/* Embedding nettool: a program with its own reactor, its own protocol and a
 * timer. It serves a line-echo protocol on a loopback port, connects a
 * client to it, sends a few lines on a repeating timer, and stops cleanly
 * once every answer came back. Copy this shape into your own program.
 *
 *   cc embed_echo.c -lnettool -lpthread && ./a.out
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettool/framing.h>
#include <nettool/reactor.h>
#include <nettool/tcp.h>

/* --- the server side: echo each line back, upper-cased ---------------------- */

typedef struct {
  nt_line_receiver_t lr; /* first member: the protocol */
} echo_t;

static void echo_line(nt_line_receiver_t *lr, const char *line, size_t len) {
  char up[256];
  size_t n = len < sizeof up ? len : sizeof up;
  for (size_t i = 0; i < n; i++)
    up[i] = (line[i] >= 'a' && line[i] <= 'z') ? (char)(line[i] - 32) : line[i];
  nt_line_receiver_send(lr, up, n, 1);
}

static void echo_destroy(nt_line_receiver_t *lr) { free(lr); }

static const nt_line_receiver_ops_t echo_ops = {
    .line_received = echo_line, .destroy = echo_destroy};

static nt_protocol_t *echo_build(nt_factory_t *f, const struct sockaddr *peer,
                                 socklen_t len) {
  (void)f, (void)peer, (void)len;
  echo_t *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  nt_line_receiver_init(&e->lr, &echo_ops, 1024);
  return &e->lr.base;
}

static const nt_factory_ops_t echo_factory_ops = {.build_protocol = echo_build};

/* --- the client side: send lines on a timer, count answers ------------------ */

typedef struct {
  nt_line_receiver_t lr;
  nt_reactor_t *reactor;
  nt_timer_t tick;
  int sent, answered;
  int failed;
  nt_listener_t *listener;
} client_t;

static const char *const words[] = {"hello", "from", "an", "embedded", "reactor"};
#define NWORDS (int)(sizeof words / sizeof words[0])

static void tick_cb(nt_timer_t *t) {
  client_t *c = t->data;
  if (c->sent == NWORDS) {
    nt_timer_stop(t);
    return;
  }
  nt_line_receiver_send(&c->lr, words[c->sent], strlen(words[c->sent]), 1);
  c->sent++;
}

static void client_made(nt_line_receiver_t *lr, nt_transport_t *t) {
  client_t *c = (client_t *)lr;
  (void)t;
  nt_timer_start(&c->tick, 0, 10); /* one line every 10 ms */
}

static void client_line(nt_line_receiver_t *lr, const char *line, size_t len) {
  client_t *c = (client_t *)lr;
  printf("answer %d: %.*s\n", c->answered + 1, (int)len, line);
  if (++c->answered == NWORDS) nt_transport_lose_connection(lr->base.transport);
}

static void client_lost(nt_line_receiver_t *lr, int status) {
  client_t *c = (client_t *)lr;
  nt_timer_stop(&c->tick);
  if (status) {
    fprintf(stderr, "connection lost: %s\n", nt_strerror(status));
    c->failed = 1;
  }
  /* Done: with the listener closed, nothing is left and run() returns. */
  nt_listener_close(c->listener);
  c->listener = NULL;
}

static const nt_line_receiver_ops_t client_ops = {
    .connection_made = client_made,
    .line_received = client_line,
    .connection_lost = client_lost};

static nt_protocol_t *client_build(nt_factory_t *f, const struct sockaddr *peer,
                                   socklen_t len) {
  (void)peer, (void)len;
  return &((client_t *)f->data)->lr.base;
}

static void client_failed(nt_factory_t *f, nt_connector_t *conn, int status) {
  client_t *c = f->data;
  (void)conn;
  fprintf(stderr, "connect failed: %s\n", nt_strerror(status));
  c->failed = 1;
  nt_listener_close(c->listener);
  c->listener = NULL;
}

static const nt_factory_ops_t client_factory_ops = {
    .build_protocol = client_build, .connection_failed = client_failed};

int main(void) {
  nt_reactor_t *r;
  int rc = nt_reactor_new(&r, NULL);
  if (rc) {
    fprintf(stderr, "reactor: %s\n", nt_strerror(rc));
    return 1;
  }
  nt_reactor_handle_signals(r, NULL, NULL); /* Ctrl-C stops cleanly */

  nt_factory_t server_factory = {&echo_factory_ops, NULL};
  client_t client;
  memset(&client, 0, sizeof client);
  rc = nt_tcp_listen(r, "127.0.0.1", 0, &server_factory, NULL, &client.listener);
  if (rc) {
    fprintf(stderr, "listen: %s\n", nt_strerror(rc));
    nt_reactor_free(r);
    return 1;
  }
  int port = nt_listener_port(client.listener);
  printf("echo server on 127.0.0.1:%d\n", port);

  nt_line_receiver_init(&client.lr, &client_ops, 1024);
  client.reactor = r;
  nt_timer_init(r, &client.tick, tick_cb);
  client.tick.data = &client;
  nt_factory_t client_factory = {&client_factory_ops, &client};
  rc = nt_tcp_connect(r, "127.0.0.1", port, &client_factory, NULL, NULL);
  if (rc) {
    fprintf(stderr, "connect: %s\n", nt_strerror(rc));
    nt_listener_close(client.listener);
    nt_reactor_free(r);
    return 1;
  }

  rc = nt_reactor_run(r); /* returns when nothing is left to do */
  nt_reactor_close_all(r);
  if (client.listener) nt_listener_close(client.listener);
  nt_reactor_free(r);
  if (rc || client.failed || client.answered != NWORDS) return 1;
  printf("done: %d lines echoed\n", client.answered);
  return 0;
}
