/* UNIX-socket echo server on the nettool reactor, for unix_bench.sh: the
 * same protocol as echo_nettool.c (each chunk written straight back, no
 * allocation per message) on nt_unix_listen.
 *
 *   echo_unix_nettool NAME      (a path, or @name for an abstract socket)
 */
#include <stdio.h>
#include <stdlib.h>

#include <nettool/reactor.h>
#include <nettool/unix.h>

static void echo_data(nt_protocol_t *p, const char *data, size_t len) {
  nt_transport_write(p->transport, data, len);
}

static void echo_destroy(nt_protocol_t *p) { free(p); }

static const nt_protocol_ops_t echo_ops = {.data_received = echo_data,
                                           .destroy = echo_destroy};

static nt_protocol_t *echo_build(nt_factory_t *f, const struct sockaddr *peer,
                                 socklen_t len) {
  (void)f, (void)peer, (void)len;
  nt_protocol_t *p = malloc(sizeof *p);
  if (p) nt_protocol_init(p, &echo_ops);
  return p;
}

static const nt_factory_ops_t echo_factory_ops = {.build_protocol = echo_build};

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: echo_unix_nettool NAME\n");
    return 64;
  }
  nt_reactor_t *r;
  int rc = nt_reactor_new(&r, NULL);
  if (rc) {
    fprintf(stderr, "echo_unix_nettool: %s\n", nt_strerror(rc));
    return 1;
  }
  nt_factory_t f = {&echo_factory_ops, NULL};
  nt_unix_listener_t *l;
  rc = nt_unix_listen(r, argv[1], &f, NULL, &l);
  if (rc) {
    fprintf(stderr, "echo_unix_nettool: listen on %s: %s\n", argv[1],
            nt_strerror(rc));
    return 1;
  }
  printf("listening on unix %s\n", argv[1]);
  fflush(stdout);
  nt_reactor_handle_signals(r, NULL, NULL);
  nt_reactor_run(r);
  nt_reactor_close_all(r);
  nt_unix_listener_close(l);
  nt_reactor_free(r);
  return 0;
}
