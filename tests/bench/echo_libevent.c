/* libevent echo server: benchmark anchor for nettool.
 *
 * The bufferevent echo server from the libevent book ("Fast portable
 * non-blocking network programming with Libevent", evconnlistener example):
 * an evconnlistener accepts, each connection gets a socket bufferevent, and
 * the read callback moves the whole input buffer to the output buffer with
 * evbuffer_add_buffer (no copy).
 *
 * usage: echo_libevent PORT [ADDR]     (ADDR defaults to 127.0.0.1)
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void echo_read_cb(struct bufferevent *bev, void *ctx) {
  (void)ctx;
  struct evbuffer *input = bufferevent_get_input(bev);
  struct evbuffer *output = bufferevent_get_output(bev);
  evbuffer_add_buffer(output, input);
}

static void echo_event_cb(struct bufferevent *bev, short events, void *ctx) {
  (void)ctx;
  if (events & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) bufferevent_free(bev);
}

static void accept_conn_cb(struct evconnlistener *listener, evutil_socket_t fd,
                           struct sockaddr *address, int socklen, void *ctx) {
  (void)address;
  (void)socklen;
  (void)ctx;
  struct event_base *base = evconnlistener_get_base(listener);
  struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    evutil_closesocket(fd);
    return;
  }
  bufferevent_setcb(bev, echo_read_cb, NULL, echo_event_cb, NULL);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void accept_error_cb(struct evconnlistener *listener, void *ctx) {
  (void)listener;
  (void)ctx;
  int err = EVUTIL_SOCKET_ERROR();
  fprintf(stderr, "echo_libevent: accept: %s\n", evutil_socket_error_to_string(err));
}

static void signal_cb(evutil_socket_t sig, short events, void *arg) {
  (void)sig;
  (void)events;
  event_base_loopbreak(arg);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: echo_libevent PORT [ADDR]\n");
    return 64;
  }
  int port = atoi(argv[1]);
  const char *addr_s = argc > 2 ? argv[2] : "127.0.0.1";
  char spec[128];
  snprintf(spec, sizeof spec, strchr(addr_s, ':') ? "[%s]:%d" : "%s:%d", addr_s, port);
  struct sockaddr_storage ss;
  int sslen = (int)sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) < 0) {
    fprintf(stderr, "echo_libevent: bad address '%s'\n", addr_s);
    return 64;
  }
  signal(SIGPIPE, SIG_IGN);
  struct event_base *base = event_base_new();
  if (!base) {
    fprintf(stderr, "echo_libevent: event_base_new failed\n");
    return 1;
  }
  struct evconnlistener *listener = evconnlistener_new_bind(
      base, accept_conn_cb, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
      SOMAXCONN, (struct sockaddr *)&ss, sslen);
  if (!listener) {
    perror("echo_libevent: listen");
    return 1;
  }
  evconnlistener_set_error_cb(listener, accept_error_cb);
  struct event *sigterm = evsignal_new(base, SIGTERM, signal_cb, base);
  struct event *sigint = evsignal_new(base, SIGINT, signal_cb, base);
  event_add(sigterm, NULL);
  event_add(sigint, NULL);
  printf("listening on tcp %s (%s)\n", spec, event_base_get_method(base));
  fflush(stdout);
  event_base_dispatch(base);
  event_free(sigterm);
  event_free(sigint);
  evconnlistener_free(listener);
  event_base_free(base);
  return 0;
}
