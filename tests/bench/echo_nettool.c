/* Echo server on the nettool reactor, for the benchmarks, over TCP (run.sh)
 * or a UNIX socket (unix_bench.sh): each chunk received is written straight
 * back. No allocation per message: reads land in the reactor's shared buffer
 * and the write goes out without being copied when the socket takes it.
 *
 *   echo_nettool PORT [ADDR]
 *   echo_nettool --unix NAME     (a path, or @name for an abstract socket)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettool/reactor.h>
#include <nettool/tcp.h>
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
  int use_unix = argc > 1 && strcmp(argv[1], "--unix") == 0;
  if (argc < 2 || argc > 3 || (use_unix && argc != 3)) {
    fprintf(stderr, "usage: echo_nettool PORT [ADDR] | echo_nettool --unix NAME\n");
    return 64;
  }
  nt_reactor_t *r;
  int rc = nt_reactor_new(&r, NULL);
  if (rc) {
    fprintf(stderr, "echo_nettool: %s\n", nt_strerror(rc));
    return 1;
  }
  nt_factory_t f = {&echo_factory_ops, NULL};
  nt_listener_t *l = NULL;
  nt_unix_listener_t *ul = NULL;
  if (use_unix) {
    rc = nt_unix_listen(r, argv[2], &f, NULL, &ul);
  } else {
    nt_tcp_listen_options_t lo = {.nodelay = 1};
    rc = nt_tcp_listen(r, argc > 2 ? argv[2] : "127.0.0.1", atoi(argv[1]), &f,
                       &lo, &l);
  }
  if (rc) {
    fprintf(stderr, "echo_nettool: listen on %s: %s\n",
            use_unix ? argv[2] : argv[1], nt_strerror(rc));
    return 1;
  }
  if (use_unix)
    printf("listening on unix %s\n", argv[2]);
  else
    printf("listening on %d\n", nt_listener_port(l));
  fflush(stdout);
  nt_reactor_handle_signals(r, NULL, NULL);
  nt_reactor_run(r);
  nt_reactor_close_all(r);
  if (l) nt_listener_close(l);
  if (ul) nt_unix_listener_close(ul);
  nt_reactor_free(r);
  return 0;
}
