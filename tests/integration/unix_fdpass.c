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
 *   unix_fdpass dgram NAME  bind a UNIX datagram socket at NAME and answer
 *                           each datagram to its sender with "echo: " + it,
 *                           until SIGTERM (exit 0)
 *   unix_fdpass dgram-send NAME TEXT
 *                           from an autobound (abstract) datagram socket,
 *                           send TEXT to NAME and print the first answer
 *                           (exit 0), resending every 500 ms for 10 s
 * Prints "ready" (recv, dgram) once listening. recv and send give up after
 * 15 s (exit 3). */
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

/* dgram mode: a datagram echo on nt_unix_dgram_bind. */
static void dg_recv(nt_datagram_protocol_t *p, const char *d, size_t n,
                    const struct sockaddr *from, socklen_t fromlen) {
  char buf[2048];
  if (n > sizeof buf - 6) n = sizeof buf - 6;
  memcpy(buf, "echo: ", 6);
  memcpy(buf + 6, d, n);
  int rc = nt_udp_sendto(p->udp, buf, n + 6, from, fromlen);
  if (rc) fprintf(stderr, "sendto: %s\n", nt_strerror(rc));
}

static const nt_datagram_protocol_ops_t dg_ops = {.datagram_received = dg_recv};

static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  (void)signum, (void)arg;
  nt_reactor_stop(r);
}

/* dgram-send mode */
static int g_answered;

static void dgs_recv(nt_datagram_protocol_t *p, const char *d, size_t n,
                     const struct sockaddr *from, socklen_t fromlen) {
  (void)from, (void)fromlen;
  printf("%.*s\n", (int)n, d);
  fflush(stdout);
  g_answered = 1;
  nt_reactor_stop(nt_udp_reactor(p->udp));
}

static const nt_datagram_protocol_ops_t dgs_ops = {.datagram_received = dgs_recv};

typedef struct {
  nt_udp_t *u;
  struct sockaddr_storage to;
  socklen_t tolen;
  const char *text;
  int tries;
} resend_t;

static void resend_cb(nt_timer_t *t) {
  resend_t *rs = t->data;
  if (++rs->tries > 20) {
    nt_reactor_stop(nt_udp_reactor(rs->u));
    return;
  }
  int rc = nt_udp_sendto(rs->u, rs->text, strlen(rs->text),
                         (struct sockaddr *)&rs->to, rs->tolen);
  if (rc) fprintf(stderr, "sendto: %s\n", nt_strerror(rc));
}

static int dgram_send_main(const char *name, const char *text) {
  nt_reactor_t *r;
  if (nt_reactor_new(&r, NULL)) return 1;
  nt_datagram_protocol_t p = {&dgs_ops, NULL};
  resend_t rs;
  memset(&rs, 0, sizeof rs);
  rs.text = text;
  int rc = nt_unix_addr(name, &rs.to, &rs.tolen);
  if (!rc) rc = nt_unix_dgram_bind(r, NULL, &p, &rs.u);
  if (rc) {
    fprintf(stderr, "%s: %s\n", name, nt_strerror(rc));
    return 1;
  }
  nt_timer_t t;
  nt_timer_init(r, &t, resend_cb);
  t.data = &rs;
  resend_cb(&t);
  nt_timer_start(&t, 500, 500);
  nt_reactor_run(r);
  nt_timer_stop(&t);
  nt_udp_close(rs.u);
  for (int k = 0; k < 100 && nt_reactor_run_once(r, 0) > 0; k++)
    ;
  nt_reactor_free(r);
  return g_answered ? 0 : 1;
}

static int dgram_main(const char *name) {
  nt_reactor_t *r;
  if (nt_reactor_new(&r, NULL)) return 1;
  nt_datagram_protocol_t p = {&dg_ops, NULL};
  nt_udp_t *u;
  int rc = nt_unix_dgram_bind(r, name, &p, &u);
  if (rc) {
    fprintf(stderr, "%s: %s\n", name, nt_strerror(rc));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  nt_reactor_handle_signals(r, on_signal, NULL);
  nt_reactor_run(r);
  nt_udp_close(u); /* removes the socket file */
  for (int k = 0; k < 100 && nt_reactor_run_once(r, 0) > 0; k++)
    ;
  nt_reactor_free(r);
  return 0;
}

static void give_up(nt_timer_t *t) {
  (void)t;
  fprintf(stderr, "timed out\n");
  exit(3);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "dgram")) return dgram_main(argv[2]);
  if (argc == 4 && !strcmp(argv[1], "dgram-send"))
    return dgram_send_main(argv[2], argv[3]);
  if (argc < 3 || (strcmp(argv[1], "recv") && strcmp(argv[1], "send")) ||
      (!strcmp(argv[1], "send") && argc != 4)) {
    fprintf(stderr,
            "usage: unix_fdpass recv NAME | send NAME FILE | dgram NAME |\n"
            "       dgram-send NAME TEXT\n");
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
