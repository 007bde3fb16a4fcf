/* unix_fdpass: descriptor passing between two processes over a UNIX stream
 * socket, nettool on one side or both (unix_peers.sh runs it against itself
 * and against Twisted).
 *
 *   unix_fdpass recv NAME   listen on NAME; for one connection: hold the
 *                           descriptors that come, write "written by nettool\n"
 *                           into each, and when the peer half-closes answer
 *                           "fds N\n" and exit 0
 *   unix_fdpass send NAME FILE
 *                           open FILE for appending, connect to NAME, send its
 *                           descriptor with one byte, half-close, print the
 *                           reply line, exit 0
 * Prints "ready" (recv) once listening. Gives up after 15 s (exit 3). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettool/errno.h>
#include <nettool/reactor.h>
#include <nettool/unix.h>

typedef struct {
  nt_protocol_t base;
  nt_reactor_t *r;
  int is_sender;
  int fd_to_send;
  int nfds;
  char reply[128];
  size_t rlen;
  int status;
} peer_t;

static void made(nt_protocol_t *p, nt_transport_t *t) {
  peer_t *pe = (peer_t *)p;
  if (pe->is_sender) {
    int rc = nt_unix_send_fds(t, "F", 1, &pe->fd_to_send, 1);
    if (!rc) rc = nt_transport_write_eof(t);
    if (rc) {
      fprintf(stderr, "send: %s\n", nt_strerror(rc));
      pe->status = 1;
      nt_transport_abort(t);
    }
  } else {
    nt_unix_recv_fds(t, 8);
  }
}

static void data(nt_protocol_t *p, const char *d, size_t n) {
  peer_t *pe = (peer_t *)p;
  if (pe->is_sender) {
    size_t k = n < sizeof pe->reply - 1 - pe->rlen ? n : sizeof pe->reply - 1 - pe->rlen;
    memcpy(pe->reply + pe->rlen, d, k);
    pe->rlen += k;
    return;
  }
  int fds[8];
  int k = nt_unix_take_fds(p->transport, fds, 8);
  for (int i = 0; i < k; i++) {
    const char msg[] = "written by nettool\n";
    if (write(fds[i], msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1))
      pe->status = 1;
    close(fds[i]);
    pe->nfds++;
  }
}

static int eof(nt_protocol_t *p) {
  peer_t *pe = (peer_t *)p;
  if (!pe->is_sender) {
    char line[32];
    int n = snprintf(line, sizeof line, "fds %d\n", pe->nfds);
    nt_transport_write(p->transport, line, (size_t)n);
  }
  return 0; /* flush and close */
}

static void lost(nt_protocol_t *p, int status) {
  peer_t *pe = (peer_t *)p;
  if (status) {
    fprintf(stderr, "connection lost: %s\n", nt_strerror(status));
    pe->status = 1;
  }
  if (pe->is_sender) printf("%.*s", (int)pe->rlen, pe->reply);
  fflush(stdout);
  nt_reactor_stop(pe->r);
}

static const nt_protocol_ops_t ops = {
    .connection_made = made,
    .data_received = data,
    .eof_received = eof,
    .connection_lost = lost,
};

static peer_t g_peer;
static int g_built;

static nt_protocol_t *build(nt_factory_t *f, const struct sockaddr *a,
                            socklen_t l) {
  (void)f, (void)a, (void)l;
  if (g_built++) return NULL; /* one connection */
  return &g_peer.base;
}

static void failed(nt_factory_t *f, nt_connector_t *c, int status) {
  (void)f, (void)c;
  fprintf(stderr, "connect: %s\n", nt_strerror(status));
  g_peer.status = 1;
  nt_reactor_stop(g_peer.r);
}

static const nt_factory_ops_t fops = {.build_protocol = build,
                                      .connection_failed = failed};

static void give_up(nt_timer_t *t) {
  (void)t;
  fprintf(stderr, "timed out\n");
  exit(3);
}

int main(int argc, char **argv) {
  if (argc < 3 || (strcmp(argv[1], "recv") && strcmp(argv[1], "send")) ||
      (!strcmp(argv[1], "send") && argc != 4)) {
    fprintf(stderr, "usage: unix_fdpass recv NAME | send NAME FILE\n");
    return 2;
  }
  nt_reactor_t *r;
  if (nt_reactor_new(&r, NULL)) return 1;
  nt_protocol_init(&g_peer.base, &ops);
  g_peer.r = r;
  nt_factory_t f = {&fops, NULL};
  nt_timer_t guard;
  nt_timer_init(r, &guard, give_up);
  nt_timer_start(&guard, 15000, 0);
  nt_timer_unref(&guard);
  nt_unix_listener_t *l = NULL;
  int rc;
  if (!strcmp(argv[1], "recv")) {
    rc = nt_unix_listen(r, argv[2], &f, NULL, &l);
    if (!rc) printf("ready\n");
    fflush(stdout);
  } else {
    g_peer.is_sender = 1;
    g_peer.fd_to_send = open(argv[3], O_WRONLY | O_APPEND | O_CLOEXEC);
    if (g_peer.fd_to_send < 0) {
      perror(argv[3]);
      return 1;
    }
    rc = nt_unix_connect(r, argv[2], &f, NULL, NULL);
  }
  if (rc) {
    fprintf(stderr, "%s: %s\n", argv[2], nt_strerror(rc));
    return 1;
  }
  nt_reactor_run(r);
  nt_timer_stop(&guard);
  nt_unix_listener_close(l);
  nt_reactor_close_all(r);
  for (int k = 0; k < 100 && nt_reactor_run_once(r, 0) > 0; k++)
    ;
  nt_reactor_free(r);
  if (g_peer.fd_to_send > 0) close(g_peer.fd_to_send);
  return g_peer.status;
}
