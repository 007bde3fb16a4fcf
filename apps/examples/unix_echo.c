/* A UNIX-socket echo server: everything a client sends comes back. It
 * listens on a path or a Linux abstract name (@name), says who connected
 * (the kernel's SO_PEERCRED), applies backpressure (a client that does not
 * read is not read from), echoes up to the client's half-close and then
 * closes, and on SIGINT/SIGTERM stops and removes its socket file. A stale
 * file left by a killed run is taken over; a live server's is not.
 *
 *   cc unix_echo.c -lnettool && ./a.out /tmp/echo.sock
 *   socat - UNIX-CONNECT:/tmp/echo.sock        # or: ./a.out @echo
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettool/errno.h>
#include <nettool/reactor.h>
#include <nettool/unix.h>

typedef struct {
  nt_protocol_t base; /* first member: the protocol */
  unsigned long long bytes;
} echo_t;

static void echo_made(nt_protocol_t *p, nt_transport_t *t) {
  nt_unix_cred_t cr;
  if (nt_unix_peer_cred(t, &cr) == 0)
    printf("connection from pid %ld uid %ld\n", (long)cr.pid, (long)cr.uid);
  fflush(stdout);
  (void)p;
}

static void echo_data(nt_protocol_t *p, const char *data, size_t len) {
  ((echo_t *)p)->bytes += len;
  nt_transport_write(p->transport, data, len); /* copies what waits */
}

/* The client half-closed: 0 lets the transport flush the echo, then close. */
static int echo_eof(nt_protocol_t *p) {
  (void)p;
  return 0;
}

/* Backpressure: stop reading while too much echo waits for this client. */
static void echo_pause(nt_protocol_t *p) {
  nt_transport_pause_reading(p->transport);
}
static void echo_resume(nt_protocol_t *p) {
  nt_transport_resume_reading(p->transport);
}

static void echo_lost(nt_protocol_t *p, int status) {
  printf("closed after %llu bytes: %s\n", ((echo_t *)p)->bytes,
         status ? nt_strerror(status) : "ok");
  fflush(stdout);
}

static void echo_destroy(nt_protocol_t *p) { free(p); }

static const nt_protocol_ops_t echo_ops = {
    .connection_made = echo_made,
    .data_received = echo_data,
    .eof_received = echo_eof,
    .pause_writing = echo_pause,
    .resume_writing = echo_resume,
    .connection_lost = echo_lost,
    .destroy = echo_destroy,
};

static nt_protocol_t *echo_build(nt_factory_t *f, const struct sockaddr *peer,
                                 socklen_t len) {
  (void)f, (void)peer, (void)len;
  echo_t *e = calloc(1, sizeof *e);
  if (!e) return NULL; /* refuses this connection */
  nt_protocol_init(&e->base, &echo_ops);
  return &e->base;
}

static const nt_factory_ops_t echo_factory_ops = {.build_protocol = echo_build};

static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  (void)signum, (void)arg;
  nt_reactor_stop(r);
}

int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "@nettool-unix-echo";
  nt_reactor_t *r;
  int rc = nt_reactor_new(&r, NULL);
  if (rc) {
    fprintf(stderr, "reactor: %s\n", nt_strerror(rc));
    return 1;
  }
  nt_factory_t factory = {&echo_factory_ops, NULL};
  nt_unix_listener_t *l;
  nt_unix_listen_options_t lo = {.mode = 0600}; /* this user only */
  rc = nt_unix_listen(r, name, &factory, &lo, &l);
  if (rc) {
    /* NT_EADDRINUSE: another live server has it (a stale file is reused). */
    fprintf(stderr, "listen on %s: %s\n", name, nt_strerror(rc));
    nt_reactor_free(r);
    return 1;
  }
  printf("listening on %s\n", nt_unix_listener_name(l));
  fflush(stdout);
  nt_reactor_handle_signals(r, on_signal, NULL);
  rc = nt_reactor_run(r);
  nt_unix_listener_close(l); /* removes the socket file */
  nt_reactor_close_all(r);   /* ends the connections still open */
  for (int i = 0; i < 100 && nt_reactor_run_once(r, 0) > 0; i++)
    ; /* their connection_lost and destroy */
  nt_reactor_free(r);
  return rc ? 1 : 0;
}
