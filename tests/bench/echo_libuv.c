/* libuv echo server: benchmark anchor for nettool, over TCP (run.sh) or a
 * UNIX socket through uv_pipe_t (unix_bench.sh).
 *
 * Written the way libuv's own benchmark echo server (test/echo-server.c) is:
 * alloc_cb mallocs a buffer per read, the read buffer is handed straight to
 * uv_write inside a malloc'd write request, and after_write frees both.  An
 * idle connection therefore costs one uv_tcp_t (plus malloc overhead).
 *
 * usage: echo_libuv PORT [ADDR]     (ADDR defaults to 127.0.0.1)
 *        echo_libuv --unix PATH     (libuv unlinks PATH when it stops)
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <uv.h>

typedef struct {
  uv_write_t req;
  uv_buf_t buf;
} write_req_t;

/* A connection or the listener: a TCP or a pipe handle, both streams. */
typedef union {
  uv_tcp_t tcp;
  uv_pipe_t pipe;
} stream_t;

static uv_loop_t *loop;
static stream_t server;
static int use_unix;

static void on_close(uv_handle_t *peer) { free(peer); }

static void after_write(uv_write_t *req, int status) {
  write_req_t *wr = (write_req_t *)req;
  uv_handle_t *handle = (uv_handle_t *)req->handle;
  free(wr->buf.base);
  free(wr);
  if (status != 0 && !uv_is_closing(handle)) uv_close(handle, on_close);
}

static void after_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  /* A failed write (the client left) may have closed it already. */
  if (!uv_is_closing((uv_handle_t *)req->handle))
    uv_close((uv_handle_t *)req->handle, on_close);
  free(req);
}

static void echo_alloc(uv_handle_t *handle, size_t suggested_size, uv_buf_t *buf) {
  (void)handle;
  buf->base = malloc(suggested_size);
  buf->len = buf->base ? suggested_size : 0;
}

static void after_read(uv_stream_t *handle, ssize_t nread, const uv_buf_t *buf) {
  if (nread < 0) {
    /* EOF or error: flush what is queued, then close. */
    free(buf->base);
    uv_shutdown_t *sreq = malloc(sizeof *sreq);
    if (!sreq || uv_shutdown(sreq, handle, after_shutdown) != 0) {
      free(sreq);
      if (!uv_is_closing((uv_handle_t *)handle))
        uv_close((uv_handle_t *)handle, on_close);
    }
    return;
  }
  if (nread == 0) {
    /* Everything OK, but nothing read. */
    free(buf->base);
    return;
  }
  write_req_t *wr = malloc(sizeof *wr);
  if (!wr) {
    free(buf->base);
    uv_close((uv_handle_t *)handle, on_close);
    return;
  }
  wr->buf = uv_buf_init(buf->base, (unsigned int)nread);
  if (uv_write(&wr->req, handle, &wr->buf, 1, after_write) != 0) {
    free(wr->buf.base);
    free(wr);
    uv_close((uv_handle_t *)handle, on_close);
  }
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status != 0) {
    fprintf(stderr, "echo_libuv: connection error: %s\n", uv_strerror(status));
    return;
  }
  stream_t *stream = malloc(sizeof *stream);
  if (!stream) return;
  if (use_unix)
    uv_pipe_init(loop, &stream->pipe, 0);
  else
    uv_tcp_init(loop, &stream->tcp);
  if (uv_accept(srv, (uv_stream_t *)stream) != 0 ||
      uv_read_start((uv_stream_t *)stream, echo_alloc, after_read) != 0)
    uv_close((uv_handle_t *)stream, on_close);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  uv_stop(h->loop);
}

/* Binds the listener: "PORT [ADDR]" or "--unix PATH"; prints where, or an
 * error and returns nonzero. */
static int bind_server(int argc, char **argv, char *where, size_t size) {
  int r;
  if (argc == 3 && strcmp(argv[1], "--unix") == 0) {
    use_unix = 1;
    snprintf(where, size, "unix %s", argv[2]);
    if ((r = uv_pipe_init(loop, &server.pipe, 0)) ||
        (r = uv_pipe_bind(&server.pipe, argv[2])))
      goto fail;
    return 0;
  }
  int port = atoi(argv[1]);
  const char *addr_s = argc > 2 ? argv[2] : "127.0.0.1";
  struct sockaddr_storage addr;
  snprintf(where, size, "tcp %s:%d", addr_s, port);
  r = uv_ip4_addr(addr_s, port, (struct sockaddr_in *)&addr);
  if (r) r = uv_ip6_addr(addr_s, port, (struct sockaddr_in6 *)&addr);
  if (r) {
    fprintf(stderr, "echo_libuv: bad address '%s'\n", addr_s);
    return r;
  }
  if ((r = uv_tcp_init(loop, &server.tcp)) ||
      (r = uv_tcp_bind(&server.tcp, (const struct sockaddr *)&addr, 0)))
    goto fail;
  return 0;
fail:
  fprintf(stderr, "echo_libuv: listen on %s: %s\n", where, uv_strerror(r));
  return r;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3 || (strcmp(argv[1], "--unix") == 0 && argc != 3)) {
    fprintf(stderr, "usage: echo_libuv PORT [ADDR] | echo_libuv --unix PATH\n");
    return 64;
  }
  /* glibc returns the heap top to the kernel whenever more than 128 KiB is
   * free there, so freeing each 64 KiB read buffer right after its write
   * costs a brk() plus 16 page faults on the next read (about 3x the cost of
   * the echo itself).  Keep freed memory, as a tuned glibc server would; the
   * allocation pattern itself stays exactly libuv's. */
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  /* libuv leaves SIGPIPE alone; a write to a client that just left would
   * kill the server (nettool and Twisted send with MSG_NOSIGNAL / ignore). */
  signal(SIGPIPE, SIG_IGN);
  loop = uv_default_loop();
  char where[160];
  if (bind_server(argc, argv, where, sizeof where)) return 1;
  int r = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection);
  if (r) {
    fprintf(stderr, "echo_libuv: listen on %s: %s\n", where, uv_strerror(r));
    return 1;
  }
  uv_signal_t sigterm, sigint;
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_init(loop, &sigint);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_unref((uv_handle_t *)&sigterm);
  uv_unref((uv_handle_t *)&sigint);
  printf("listening on %s\n", where);
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&server, NULL); /* a pipe's path is unlinked */
  uv_run(loop, UV_RUN_NOWAIT);
  return 0;
}
