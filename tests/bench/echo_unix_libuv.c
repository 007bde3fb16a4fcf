/* libuv UNIX-socket echo server (uv_pipe_t): the anchor of unix_bench.sh.
 * echo_libuv.c's server (libuv's own test/echo-server.c shape: a malloc'd
 * read buffer handed to uv_write, freed after the write) on a pipe handle.
 *
 * usage: echo_unix_libuv PATH
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

typedef struct {
  uv_write_t req;
  uv_buf_t buf;
} write_req_t;

static uv_loop_t *loop;
static uv_pipe_t server;

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
    fprintf(stderr, "echo_unix_libuv: connection error: %s\n", uv_strerror(status));
    return;
  }
  uv_pipe_t *stream = malloc(sizeof *stream);
  if (!stream) return;
  uv_pipe_init(loop, stream, 0);
  if (uv_accept(srv, (uv_stream_t *)stream) != 0 ||
      uv_read_start((uv_stream_t *)stream, echo_alloc, after_read) != 0)
    uv_close((uv_handle_t *)stream, on_close);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  uv_stop(h->loop);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: echo_unix_libuv PATH\n");
    return 64;
  }
  /* As echo_libuv.c: keep freed memory rather than trim the heap top after
   * every 64 KiB read buffer (the allocation pattern stays libuv's). */
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  /* libuv leaves SIGPIPE alone; a write to a client that just left would
   * kill the server (nettool and Twisted send with MSG_NOSIGNAL / ignore). */
  signal(SIGPIPE, SIG_IGN);
  loop = uv_default_loop();
  int r;
  if ((r = uv_pipe_init(loop, &server, 0)) ||
      (r = uv_pipe_bind(&server, argv[1])) ||
      (r = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection))) {
    fprintf(stderr, "echo_unix_libuv: listen on %s: %s\n", argv[1],
            uv_strerror(r));
    return 1;
  }
  uv_signal_t sigterm, sigint;
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_init(loop, &sigint);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_unref((uv_handle_t *)&sigterm);
  uv_unref((uv_handle_t *)&sigint);
  printf("listening on unix %s\n", argv[1]);
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&server, NULL); /* libuv unlinks the path */
  uv_run(loop, UV_RUN_NOWAIT);
  return 0;
}
