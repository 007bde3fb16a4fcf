/* The anchor for spawn_nettool.c: the same N children of `true`, K at a
 * time, through libuv's uv_spawn, with three pipes (UV_CREATE_PIPE, read to
 * EOF) or /dev/null (UV_IGNORE); a child counts when its exit callback has
 * run and every pipe handle is closed. Usage: spawn_libuv N K pipes|null. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <uv.h>

typedef struct slot {
  uv_process_t proc;
  uv_pipe_t pipes[3];
  int open; /* handles not yet closed */
  int exited;
} slot_t;

static int total, spawned, done, failures, concurrency, null_stdio;
static uv_loop_t *L;
static slot_t *slots;
static int *free_slots, nfree;
static char rbuf[65536];

static void spawn_more(void);

static void finish(slot_t *s) {
  if (--s->open) return;
  free_slots[nfree++] = (int)(s - slots);
  done++;
  spawn_more();
}

static void on_close(uv_handle_t *h) { finish(h->data); }

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  (void)h;
  (void)sz;
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n < 0) uv_close((uv_handle_t *)st, on_close);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  if (status != 0 || sig != 0) failures++;
  uv_close((uv_handle_t *)p, on_close);
}

static void spawn_more(void) {
  static char *args[] = {"true", NULL};
  while (nfree && spawned < total) {
    slot_t *s = &slots[free_slots[--nfree]];
    memset(s, 0, sizeof *s);
    uv_stdio_container_t io[3];
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = "true";
    o.args = args;
    o.exit_cb = on_exit_cb;
    o.stdio = io;
    o.stdio_count = 3;
    for (int i = 0; i < 3; i++) {
      if (null_stdio) {
        io[i].flags = UV_IGNORE;
      } else {
        uv_pipe_init(L, &s->pipes[i], 0);
        s->pipes[i].data = s;
        io[i].flags = UV_CREATE_PIPE | (i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
        io[i].data.stream = (uv_stream_t *)&s->pipes[i];
      }
    }
    s->proc.data = s;
    int rc = uv_spawn(L, &s->proc, &o);
    if (rc) {
      fprintf(stderr, "uv_spawn: %s\n", uv_strerror(rc));
      exit(1);
    }
    s->open = 1;
    if (!null_stdio) {
      /* stdin: nothing to write, close it; stdout/stderr: read to EOF */
      uv_close((uv_handle_t *)&s->pipes[0], on_close);
      uv_read_start((uv_stream_t *)&s->pipes[1], on_alloc, on_read);
      uv_read_start((uv_stream_t *)&s->pipes[2], on_alloc, on_read);
      s->open += 3;
    }
    spawned++;
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: spawn_libuv N K pipes|null\n");
    return 2;
  }
  total = atoi(argv[1]);
  concurrency = atoi(argv[2]);
  null_stdio = !strcmp(argv[3], "null");
  slots = calloc((size_t)concurrency, sizeof *slots);
  free_slots = calloc((size_t)concurrency, sizeof *free_slots);
  for (int i = 0; i < concurrency; i++) free_slots[nfree++] = i;
  L = uv_default_loop();
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  spawn_more();
  uv_run(L, UV_RUN_DEFAULT);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
  /* The parent's own CPU (children excluded): what the library costs per
   * spawn, apart from exec'ing `true`, which both pay alike. */
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  printf("%d %.1f %.0f %.1f\n", done, ms, done / (ms / 1e3), cpu_us / done);
  return failures || done != total;
}
