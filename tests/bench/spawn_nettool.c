/* Spawn-and-reap rate on nettool: N children of `true`, K at a time, each
 * with three pipes (read to EOF) or with /dev/null for fds 0-2; a child
 * counts when child_exited has run (reaped and every pipe closed).
 * Usage: spawn_nettool N K pipes|null. Prints "children ms rate cpu-us-per-child". The libuv
 * anchor is spawn_libuv.c; spawn_bench.sh runs both in one go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <nettool/process.h>
#include <nettool/reactor.h>

typedef struct slot {
  nt_process_protocol_t base;
} slot_t;

static int total, spawned, done, failures, concurrency, null_stdio;
static nt_reactor_t *R;
static slot_t *slots;
static int *free_slots, nfree;

static void spawn_more(void);

static void on_exit_cb(nt_process_protocol_t *pp, int status, int sig) {
  (void)pp;
  if (status != 0 || sig != 0) failures++;
}

static void on_destroy(nt_process_protocol_t *pp) {
  free_slots[nfree++] = (int)((slot_t *)pp - slots);
  done++;
  spawn_more();
}

static const nt_process_protocol_ops_t ops = {
    .child_exited = on_exit_cb,
    .destroy = on_destroy,
};

static void spawn_more(void) {
  static const char *const argv[] = {"true", NULL};
  nt_process_options_t o;
  memset(&o, 0, sizeof o);
  if (null_stdio)
    for (int i = 0; i < 3; i++) o.stdio[i].mode = NT_STDIO_NULL;
  while (nfree && spawned < total) {
    slot_t *s = &slots[free_slots[--nfree]];
    s->base.ops = &ops;
    int rc = nt_process_spawn(R, "true", argv, &s->base, &o, NULL);
    if (rc) {
      fprintf(stderr, "spawn: %s\n", nt_strerror(rc));
      exit(1);
    }
    spawned++;
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: spawn_nettool N K pipes|null\n");
    return 2;
  }
  total = atoi(argv[1]);
  concurrency = atoi(argv[2]);
  null_stdio = !strcmp(argv[3], "null");
  slots = calloc((size_t)concurrency, sizeof *slots);
  free_slots = calloc((size_t)concurrency, sizeof *free_slots);
  for (int i = 0; i < concurrency; i++) free_slots[nfree++] = i;
  if (nt_reactor_new(&R, NULL)) return 1;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  spawn_more();
  nt_reactor_run(R);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
  /* The parent's own CPU (children excluded): what the library costs per
   * spawn, apart from exec'ing `true`, which both pay alike. */
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  printf("%d %.1f %.0f %.1f\n", done, ms, done / (ms / 1e3), cpu_us / done);
  nt_reactor_free(R);
  return failures || done != total;
}
