/* Child processes with real programs (cat, sh, sleep, true, ls, grep), real
 * pipes and real reaping, on both backends and on both reaping paths (pidfd,
 * and SIGCHLD as on kernels without pidfd_open).
 *
 * Every wait is bounded: run_bounded() lets run() return by itself (the
 * process keeps the reactor alive until child_exited) and stops it with an
 * unreferenced guard timer otherwise. After each test: no fd left open that
 * was not open before, no child left (waitpid(-1) says ECHILD). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nettool/errno.h"
#include "nettool/process.h"
#include "nettool/reactor.h"
#include "nettool/transport.h"

extern int nt__process_no_pidfd;

#define ITEST_NOTE (nt__process_no_pidfd ? ", SIGCHLD" : "")
#include "itest_backends.h"

static void no_children_left(void) {
  int st;
  errno = 0;
  pid_t w = waitpid(-1, &st, WNOHANG);
  if (w != -1 || errno != ECHILD)
    fail_msg("a child is left (waitpid(-1) = %d, errno %d)", (int)w, errno);
}

/* The byte at offset i of the streams: not periodic on any small power of
 * two, so loss, duplication and reordering all show. */
static inline unsigned char pat(uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull;
  return (unsigned char)(x >> 56);
}

/* --- a recording process protocol --------------------------------------------- */

typedef struct rec {
  nt_process_protocol_t base;
  nt_reactor_t *r;
  nt_process_t *proc;
  char out[2][8192]; /* what fd 1 and 2 said (first 8 KiB) */
  size_t outlen[2];
  uint64_t got[3];
  int started, exited, destroyed, pipes_closed;
  int closed[3], close_status[3];
  uint64_t closed_at[3], exited_at;
  int exit_status, term_signal;
  int pauses, resumes;
  int order_bad; /* child_exited before a pipe_closed, or a callback after */
  /* cat: the 100 MB stream */
  uint64_t total, sent, checked;
  int bad_byte;
  int writing_paused;
  size_t max_queue;
  uint64_t since_pause;
  int reader_pauses;
  nt_timer_t resume_reader;
} rec_t;

static void rec_started(nt_process_protocol_t *pp, nt_process_t *proc) {
  rec_t *c = (rec_t *)pp;
  c->started++;
  c->proc = proc;
  assert_ptr_equal(pp->process, proc);
}

static void rec_data(nt_process_protocol_t *pp, int fd, const char *d,
                     size_t n) {
  rec_t *c = (rec_t *)pp;
  if (c->exited) c->order_bad = 1;
  assert_true(fd == 1 || fd == 2);
  c->got[fd] += n;
  size_t room = sizeof c->out[0] - 1 - c->outlen[fd - 1];
  size_t k = n < room ? n : room;
  memcpy(c->out[fd - 1] + c->outlen[fd - 1], d, k);
  c->outlen[fd - 1] += k;
}

static void rec_pipe_closed(nt_process_protocol_t *pp, int fd, int status) {
  rec_t *c = (rec_t *)pp;
  assert_true(fd >= 0 && fd <= 2);
  if (c->exited || c->closed[fd]) c->order_bad = 1;
  c->closed[fd]++;
  c->close_status[fd] = status;
  c->closed_at[fd] = mono_ms();
  c->pipes_closed++;
}

static void rec_exited(nt_process_protocol_t *pp, int status, int sig) {
  rec_t *c = (rec_t *)pp;
  c->exited++;
  c->exit_status = status;
  c->term_signal = sig;
  c->exited_at = mono_ms();
}

static void rec_destroy(nt_process_protocol_t *pp) {
  rec_t *c = (rec_t *)pp;
  if (!c->exited) c->order_bad = 1;
  c->destroyed++;
}

static const nt_process_protocol_ops_t rec_ops = {
    .started = rec_started,
    .data_received = rec_data,
    .pipe_closed = rec_pipe_closed,
    .child_exited = rec_exited,
    .destroy = rec_destroy,
};

static void rec_init(rec_t *c, nt_reactor_t *r, const nt_process_protocol_ops_t *ops) {
  memset(c, 0, sizeof *c);
  c->base.ops = ops;
  c->r = r;
}

/* Checks the end every test expects: started, each pipe closed once, then
 * child_exited once, then destroy. */
static void assert_ended(rec_t *c, int npipes) {
  assert_int_equal(c->started, 1);
  assert_int_equal(c->exited, 1);
  assert_int_equal(c->destroyed, 1);
  assert_int_equal(c->pipes_closed, npipes);
  assert_false(c->order_bad);
}

static const char *const SH = "/bin/sh";

/* Spawns argv with rec c and default options, runs to the end. */
static void run_child(nt_reactor_t *r, rec_t *c, const char *const argv[],
                      const nt_process_options_t *o, uint64_t ms) {
  assert_status(nt_process_spawn(r, argv[0], argv, &c->base, o, NULL), 0);
  assert_true(run_bounded(r, ms));
}

/* --- tests ---------------------------------------------------------------------- */

static void test_exit_status(void **state) {
  (void)state;
  int fds = count_fds();
  nt_reactor_t *r = reactor_new();
  rec_t c;
  rec_init(&c, r, &rec_ops);
  const char *argv[] = {SH, "-c", "echo out; echo err >&2; exit 3", NULL};
  run_child(r, &c, argv, NULL, 10000);
  assert_ended(&c, 3);
  assert_int_equal(c.exit_status, 3);
  assert_int_equal(c.term_signal, 0);
  assert_string_equal(c.out[0], "out\n");
  assert_string_equal(c.out[1], "err\n");
  for (int i = 0; i < 3; i++) assert_status(c.close_status[i], 0);
  reactor_done(r);
  no_children_left();
  assert_int_equal(count_fds(), fds);
}

static void kill_cb(nt_timer_t *t) {
  rec_t *c = t->data;
  assert_status(nt_process_kill(c->proc, SIGTERM), 0);
}

static void test_killed_by_signal(void **state) {
  (void)state;
  int fds = count_fds();
  nt_reactor_t *r = reactor_new();
  /* Killed by us, while it sleeps. */
  rec_t c;
  rec_init(&c, r, &rec_ops);
  const char *argv[] = {"sleep", "30", NULL};
  assert_status(nt_process_spawn(r, "sleep", argv, &c.base, NULL, NULL), 0);
  assert_true(nt_process_pid(c.proc) > 0);
  nt_timer_t t;
  nt_timer_init(r, &t, kill_cb);
  t.data = &c;
  nt_timer_start(&t, 50, 0);
  uint64_t t0 = mono_ms();
  assert_true(run_bounded(r, 10000));
  assert_true(mono_ms() - t0 < 5000);
  assert_ended(&c, 3);
  assert_int_equal(c.exit_status, -1);
  assert_int_equal(c.term_signal, SIGTERM);
  /* Killing itself with SIGKILL. */
  rec_t d;
  rec_init(&d, r, &rec_ops);
  const char *argv2[] = {SH, "-c", "kill -9 $$", NULL};
  run_child(r, &d, argv2, NULL, 10000);
  assert_ended(&d, 3);
  assert_int_equal(d.term_signal, SIGKILL);
  reactor_done(r);
  no_children_left();
  assert_int_equal(count_fds(), fds);
}

/* A child that closes its stdout early and goes on running: pipe_closed(1)
 * comes at once, child_exited only when it exits. */
static void test_stdout_closed_early(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  rec_t c;
  rec_init(&c, r, &rec_ops);
  const char *argv[] = {SH, "-c", "echo bye; exec 1>&-; sleep 1; exit 5", NULL};
  run_child(r, &c, argv, NULL, 10000);
  assert_ended(&c, 3);
  assert_int_equal(c.exit_status, 5);
  assert_string_equal(c.out[0], "bye\n");
  /* told of stdout at once, of the exit a second later */
  if (c.exited_at < c.closed_at[1] + 500)
    fail_msg("pipe_closed(1) %llu ms before child_exited",
             (unsigned long long)(c.exited_at - c.closed_at[1]));
  reactor_done(r);
  no_children_left();
}

/* And the other way round: the child exits, but a grandchild holds stdout
 * open; child_exited waits for the pipe. */
static void test_grandchild_holds_pipe(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  rec_t c;
  rec_init(&c, r, &rec_ops);
  const char *argv[] = {SH, "-c", "(sleep 0.4; echo late) & exit 0", NULL};
  run_child(r, &c, argv, NULL, 10000);
  assert_ended(&c, 3);
  assert_int_equal(c.exit_status, 0);
  assert_string_equal(c.out[0], "late\n");
  assert_true(c.exited_at >= c.closed_at[1]);
  reactor_done(r);
  /* the grandchild was sh's child, reparented to init: not ours */
  no_children_left();
}

/* cat with 100 MB through it, backpressure both ways: we write only while
 * the stdin pipe's queue is under its high-water mark (pause_writing /
 * resume_writing), and we stop reading cat's output for 20 ms after every
 * 8 MiB, so cat blocks on its stdout, stops reading its stdin, and our
 * queue fills and pauses us. Memory stays bounded by the marks. */
#define CAT_TOTAL (100ull * 1024 * 1024)
#define CAT_CHUNK (64u * 1024)

static void cat_pump(rec_t *c) {
  static unsigned char buf[CAT_CHUNK];
  while (!c->writing_paused && c->sent < c->total) {
    size_t n = c->total - c->sent < CAT_CHUNK ? (size_t)(c->total - c->sent)
                                              : CAT_CHUNK;
    for (size_t i = 0; i < n; i++) buf[i] = pat(c->sent + i);
    assert_status(nt_process_write(c->proc, buf, n), 0);
    c->sent += n;
    nt_transport_t *t = nt_process_transport(c->proc, 0);
    size_t q = nt_transport_write_buffer_size(t);
    if (q > c->max_queue) c->max_queue = q;
  }
  if (c->sent == c->total) {
    assert_status(nt_process_close_stdin(c->proc), 0);
    c->sent++; /* once */
  }
}

static void cat_pause(nt_process_protocol_t *pp) {
  rec_t *c = (rec_t *)pp;
  c->pauses++;
  c->writing_paused = 1;
}

static void cat_resume(nt_process_protocol_t *pp) {
  rec_t *c = (rec_t *)pp;
  c->resumes++;
  c->writing_paused = 0;
  cat_pump(c);
}

static void resume_reader_cb(nt_timer_t *t) {
  rec_t *c = t->data;
  nt_transport_t *out = nt_process_transport(c->proc, 1);
  if (out) nt_transport_resume_reading(out);
}

static void cat_data(nt_process_protocol_t *pp, int fd, const char *d,
                     size_t n) {
  rec_t *c = (rec_t *)pp;
  assert_int_equal(fd, 1);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)d[i] != pat(c->checked + i) && !c->bad_byte) {
      c->bad_byte = 1;
      fail_msg("byte %llu differs", (unsigned long long)(c->checked + i));
    }
  c->checked += n;
  c->got[1] += n;
  c->since_pause += n;
  if (c->since_pause >= 8u * 1024 * 1024) {
    c->since_pause = 0;
    c->reader_pauses++;
    nt_transport_pause_reading(nt_process_transport(c->proc, 1));
    nt_timer_start(&c->resume_reader, 20, 0);
  }
}

static void cat_started(nt_process_protocol_t *pp, nt_process_t *proc) {
  rec_t *c = (rec_t *)pp;
  rec_started(pp, proc);
  cat_pump(c);
}

static const nt_process_protocol_ops_t cat_ops = {
    .started = cat_started,
    .data_received = cat_data,
    .pipe_closed = rec_pipe_closed,
    .pause_writing = cat_pause,
    .resume_writing = cat_resume,
    .child_exited = rec_exited,
    .destroy = rec_destroy,
};

static void test_cat_100mb(void **state) {
  (void)state;
  int fds = count_fds();
  nt_reactor_t *r = reactor_new();
  rec_t *c = calloc(1, sizeof *c);
  rec_init(c, r, &cat_ops);
  c->total = CAT_TOTAL;
  nt_timer_init(r, &c->resume_reader, resume_reader_cb);
  c->resume_reader.data = c;
  nt_timer_unref(&c->resume_reader);
  const char *argv[] = {"cat", NULL};
  nt_process_options_t o;
  memset(&o, 0, sizeof o);
  o.stdio[2].mode = NT_STDIO_INHERIT;
  uint64_t t0 = mono_ms();
  assert_status(nt_process_spawn(r, "cat", argv, &c->base, &o, NULL), 0);
  assert_true(run_bounded(r, 120000));
  uint64_t ms = mono_ms() - t0;
  assert_ended(c, 2);
  assert_int_equal(c->exit_status, 0);
  assert_false(c->bad_byte);
  assert_true(c->checked == CAT_TOTAL);
  /* Backpressure on our side: paused, resumed, and never much past the
   * high-water mark (64 KiB) plus one chunk. */
  assert_true(c->pauses > 0);
  assert_int_equal(c->pauses, c->resumes);
  assert_true(c->max_queue <= NT_DEFAULT_HIGH_WATER + CAT_CHUNK);
  assert_true(c->reader_pauses >= 10);
  print_message("  cat: 100 MB in %llu ms, %d pauses of the writer, %d of the "
                "reader, max queue %zu\n",
                (unsigned long long)ms, c->pauses, c->reader_pauses,
                c->max_queue);
  reactor_done(r);
  free(c);
  no_children_left();
  assert_int_equal(count_fds(), fds);
}

/* 1,000 children of `true`, 50 at a time: every one reaped, no fd left. */
typedef struct many {
  nt_reactor_t *r;
  int spawned, ended, bad, target, inflight;
  rec_t recs[50];
  int slot_busy[50];
} many_t;

static many_t *g_many;

static void many_spawn(many_t *m);

static void many_exited(nt_process_protocol_t *pp, int status, int sig) {
  if (status != 0 || sig != 0) g_many->bad++;
  (void)pp;
}

static void many_destroy(nt_process_protocol_t *pp) {
  rec_t *c = (rec_t *)pp;
  int slot = (int)(c - g_many->recs);
  g_many->slot_busy[slot] = 0;
  g_many->ended++;
  g_many->inflight--;
  many_spawn(g_many);
}

static const nt_process_protocol_ops_t many_ops = {
    .pipe_closed = rec_pipe_closed,
    .child_exited = many_exited,
    .destroy = many_destroy,
};

static void many_spawn(many_t *m) {
  static const char *const argv[] = {"true", NULL};
  for (int s = 0; s < 50 && m->spawned < m->target; s++) {
    if (m->slot_busy[s]) continue;
    rec_init(&m->recs[s], m->r, &many_ops);
    m->slot_busy[s] = 1;
    assert_status(nt_process_spawn(m->r, "true", argv, &m->recs[s].base, NULL,
                                   NULL),
                  0);
    m->spawned++;
    m->inflight++;
  }
}

static void run_many(int target) {
  int fds = count_fds();
  many_t *m = calloc(1, sizeof *m);
  m->r = reactor_new();
  m->target = target;
  g_many = m;
  uint64_t t0 = mono_ms();
  many_spawn(m);
  assert_true(run_bounded(m->r, 120000));
  assert_int_equal(m->ended, target);
  assert_int_equal(m->bad, 0);
  print_message("  %d children spawned and reaped in %llu ms\n", target,
                (unsigned long long)(mono_ms() - t0));
  reactor_done(m->r);
  free(m);
  no_children_left();
  assert_int_equal(count_fds(), fds);
}

static void test_thousand_children(void **state) {
  (void)state;
  run_many(1000);
}

/* env, cwd, and what the child gets: fds 0-2 only (an fd we opened without
 * CLOEXEC stays out too), no blocked or ignored signal (we ignore SIGPIPE). */
static void test_env_cwd_fds_signals(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  int leaky = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
  assert_true(leaky >= 0);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  rec_t c;
  rec_init(&c, r, &rec_ops);
  const char *argv[] = {
      SH, "-c",
      "echo \"$FOO\"; pwd; ls /proc/self/fd | tr '\\n' ' '; echo; "
      "grep -E '^Sig(Blk|Ign)' /proc/self/status",
      NULL};
  const char *env[] = {"FOO=bar baz", "PATH=/usr/bin:/bin", NULL};
  nt_process_options_t o;
  memset(&o, 0, sizeof o);
  o.env = env;
  o.cwd = "/tmp";
  run_child(r, &c, argv, &o, 10000);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(leaky);
  assert_ended(&c, 3);
  assert_int_equal(c.exit_status, 0);
  /* ls's own directory fd is 3. Signals 32 and 33 are glibc's own
   * (SIGCANCEL, SIGSETXID), which its posix_spawn leaves ignored: only the
   * 31 standard signals are checked, SIGPIPE among them. */
  unsigned long long ign = 1;
  char *sig = strstr(c.out[0], "SigIgn:\t");
  assert_non_null(sig);
  ign = strtoull(sig + 8, NULL, 16);
  *sig = 0;
  assert_string_equal(c.out[0], "bar baz\n/tmp\n0 1 2 3 \n"
                                "SigBlk:\t0000000000000000\n");
  if (ign & 0x7fffffffull) fail_msg("the child ignores signals: %llx", ign);
  reactor_done(r);
  no_children_left();
}

static void test_spawn_errors(void **state) {
  (void)state;
  int fds = count_fds();
  nt_reactor_t *r = reactor_new();
  rec_t c;
  rec_init(&c, r, &rec_ops);
  const char *argv[] = {"/nonexistent/prog", NULL};
  assert_status(nt_process_spawn(r, argv[0], argv, &c.base, NULL, NULL),
                NT_ENOENT);
  const char *argv2[] = {"no-such-program-nettool", NULL};
  assert_status(nt_process_spawn(r, argv2[0], argv2, &c.base, NULL, NULL),
                NT_ENOENT);
  char path[] = "/tmp/nt-proc-noexec-XXXXXX";
  int tf = mkstemp(path);
  assert_true(tf >= 0);
  close(tf);
  chmod(path, 0644);
  const char *argv3[] = {path, NULL};
  assert_status(nt_process_spawn(r, argv3[0], argv3, &c.base, NULL, NULL),
                NT_EACCES);
  chmod(path, 0755); /* executable, but no #! and no ELF */
  FILE *fp = fopen(path, "w");
  fputs("\x7f" "garbage", fp);
  fclose(fp);
  assert_status(nt_process_spawn(r, argv3[0], argv3, &c.base, NULL, NULL),
                NT_ENOEXEC);
  unlink(path);
  const char *argv4[] = {"true", NULL};
  nt_process_options_t o;
  memset(&o, 0, sizeof o);
  o.cwd = "/nonexistent-dir";
  assert_status(nt_process_spawn(r, "true", argv4, &c.base, &o, NULL),
                NT_ENOENT);
  memset(&o, 0, sizeof o);
  o.stdio[1].mode = 9;
  assert_status(nt_process_spawn(r, "true", argv4, &c.base, &o, NULL),
                NT_EINVAL);
  const char *empty[] = {NULL};
  assert_status(nt_process_spawn(r, "true", empty, &c.base, NULL, NULL),
                NT_EINVAL);
  assert_int_equal(c.started + c.exited + c.destroyed + c.pipes_closed, 0);
  reactor_done(r);
  no_children_left();
  assert_int_equal(count_fds(), fds);
}

/* A protocol of its own on stdout (a line counter), stdin closed by us so
 * cat ends, stderr to /dev/null. */
typedef struct lines {
  nt_protocol_t base;
  int made, lost, destroyed, lines;
  int lost_status;
} lines_t;

static void ln_made(nt_protocol_t *p, nt_transport_t *t) {
  lines_t *l = (lines_t *)p;
  l->made++;
  assert_string_equal(t->ops->name, "pipe");
  assert_status(nt_transport_write(t, "x", 1), NT_ECLOSED); /* read-only */
}
static void ln_data(nt_protocol_t *p, const char *d, size_t n) {
  lines_t *l = (lines_t *)p;
  for (size_t i = 0; i < n; i++) l->lines += d[i] == '\n';
}
static void ln_lost(nt_protocol_t *p, int status) {
  lines_t *l = (lines_t *)p;
  l->lost++;
  l->lost_status = status;
}
static void ln_destroy(nt_protocol_t *p) { ((lines_t *)p)->destroyed++; }

static const nt_protocol_ops_t lines_ops = {
    .connection_made = ln_made,
    .data_received = ln_data,
    .connection_lost = ln_lost,
    .destroy = ln_destroy,
};

static void stdin_writer_started(nt_process_protocol_t *pp, nt_process_t *proc) {
  rec_started(pp, proc);
  assert_status(nt_process_write(proc, "a\nb\nc\n", 6), 0);
  assert_status(nt_process_close_stdin(proc), 0);
  assert_status(nt_process_write(proc, "d\n", 2), NT_ECLOSED);
  assert_null(nt_process_transport(proc, 2)); /* not a pipe */
}

static const nt_process_protocol_ops_t writer_ops = {
    .started = stdin_writer_started,
    .data_received = rec_data,
    .pipe_closed = rec_pipe_closed,
    .child_exited = rec_exited,
    .destroy = rec_destroy,
};

static void test_pipe_protocol_and_stdin_eof(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  rec_t c;
  rec_init(&c, r, &writer_ops);
  lines_t l;
  memset(&l, 0, sizeof l);
  nt_protocol_init(&l.base, &lines_ops);
  nt_process_options_t o;
  memset(&o, 0, sizeof o);
  o.stdio[1].protocol = &l.base;
  o.stdio[2].mode = NT_STDIO_NULL;
  const char *argv[] = {"cat", NULL};
  run_child(r, &c, argv, &o, 10000);
  assert_ended(&c, 2);
  assert_int_equal(c.got[1], 0); /* went to the line protocol */
  assert_int_equal(l.made, 1);
  assert_int_equal(l.lines, 3);
  assert_int_equal(l.lost, 1);
  assert_status(l.lost_status, 0);
  assert_int_equal(l.destroyed, 1);
  assert_int_equal(c.closed[0] + c.closed[1], 2);
  reactor_done(r);
  no_children_left();
}

/* We close the child's stdout while it writes: it dies of SIGPIPE. */
static void close_out_started(nt_process_protocol_t *pp, nt_process_t *proc) {
  rec_started(pp, proc);
  nt_process_close_pipe(proc, 1);
  assert_null(nt_process_transport(proc, 1));
}

static const nt_process_protocol_ops_t close_out_ops = {
    .started = close_out_started,
    .data_received = rec_data,
    .pipe_closed = rec_pipe_closed,
    .child_exited = rec_exited,
    .destroy = rec_destroy,
};

static void test_close_pipe_sigpipe(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  rec_t c;
  rec_init(&c, r, &close_out_ops);
  const char *argv[] = {"yes", NULL};
  run_child(r, &c, argv, NULL, 10000);
  assert_ended(&c, 3);
  assert_int_equal(c.term_signal, SIGPIPE);
  assert_status(c.close_status[1], 0);
  reactor_done(r);
  no_children_left();
}

/* The child never reads its stdin and exits: our queued bytes are lost and
 * pipe_closed(0) says so (NT_EPIPE); with nothing queued it is status 0. */
static void unread_started(nt_process_protocol_t *pp, nt_process_t *proc) {
  rec_started(pp, proc);
  static char big[256 * 1024];
  assert_status(nt_process_write(proc, big, sizeof big), 0);
}

static const nt_process_protocol_ops_t unread_ops = {
    .started = unread_started,
    .pipe_closed = rec_pipe_closed,
    .child_exited = rec_exited,
    .destroy = rec_destroy,
};

static void test_stdin_unread(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  rec_t c;
  rec_init(&c, r, &unread_ops);
  const char *argv[] = {SH, "-c", "sleep 0.1", NULL};
  run_child(r, &c, argv, NULL, 10000);
  assert_ended(&c, 3);
  assert_status(c.close_status[0], NT_EPIPE);
  rec_t d;
  rec_init(&d, r, &rec_ops);
  run_child(r, &d, argv, NULL, 10000);
  assert_ended(&d, 3);
  assert_status(d.close_status[0], 0);
  reactor_done(r);
  no_children_left();
}

/* nt_reactor_close_all kills and reaps a running child. */
static void test_close_all(void **state) {
  (void)state;
  int fds = count_fds();
  nt_reactor_t *r = reactor_new();
  rec_t c;
  rec_init(&c, r, &rec_ops);
  const char *argv[] = {"sleep", "30", NULL};
  assert_status(nt_process_spawn(r, "sleep", argv, &c.base, NULL, NULL), 0);
  nt_reactor_close_all(r);
  assert_ended(&c, 3);
  assert_int_equal(c.term_signal, SIGKILL);
  reactor_done(r);
  no_children_left();
  assert_int_equal(count_fds(), fds);
}

/* --- groups ------------------------------------------------------------------------ */

/* Each backend's group reaps through pidfd. */
static int use_pidfd(void **s) {
  (void)s;
  nt__process_no_pidfd = 0;
  return 0;
}

/* The SIGCHLD path opens its self-pipe once per program, on first use, and
 * keeps it (as the reactor's signal pipe): open it before counting fds. */
static void sigchld_warm_up(void) {
  nt_reactor_t *r = reactor_new();
  rec_t c;
  rec_init(&c, r, &rec_ops);
  const char *argv[] = {"true", NULL};
  run_child(r, &c, argv, NULL, 10000);
  assert_ended(&c, 3);
  reactor_done(r);
}

static int setup_sigchld(void **s) {
  (void)s;
  g_backend = "epoll";
  nt__process_no_pidfd = 1;
  sigchld_warm_up();
  return 0;
}
static int setup_sigchld_poll(void **s) {
  (void)s;
  g_backend = "poll";
  nt__process_no_pidfd = 1;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exit_status),
      cmocka_unit_test(test_killed_by_signal),
      cmocka_unit_test(test_stdout_closed_early),
      cmocka_unit_test(test_grandchild_holds_pipe),
      cmocka_unit_test(test_cat_100mb),
      cmocka_unit_test(test_thousand_children),
      cmocka_unit_test(test_env_cwd_fds_signals),
      cmocka_unit_test(test_spawn_errors),
      cmocka_unit_test(test_pipe_protocol_and_stdin_eof),
      cmocka_unit_test(test_close_pipe_sigpipe),
      cmocka_unit_test(test_stdin_unread),
      cmocka_unit_test(test_close_all),
  };
  /* The SIGCHLD path: the cases about reaping. */
  const struct CMUnitTest reaping[] = {
      cmocka_unit_test(test_exit_status),
      cmocka_unit_test(test_killed_by_signal),
      cmocka_unit_test(test_stdout_closed_early),
      cmocka_unit_test(test_thousand_children),
      cmocka_unit_test(test_close_all),
  };
  itest_group_setup = use_pidfd;
  int failed = itest_run_backends("process", tests);
  failed += cmocka_run_group_tests_name("process/sigchld", reaping, setup_sigchld, NULL);
  failed += cmocka_run_group_tests_name("process/sigchld-poll", reaping,
                                        setup_sigchld_poll, NULL);
  return failed ? 1 : 0;
}
