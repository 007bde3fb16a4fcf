/* Running a child process through nettool: the child's stdout goes through a
 * line protocol (each line numbered), its stderr through the process
 * protocol (prefixed), and our own stdin is fed to the child's stdin with
 * backpressure both ways (fdstream.h). Ctrl-C sends the child SIGTERM. The
 * program exits with the child's status (128 + signal if it was killed).
 *
 *   cc proc_runner.c -lnettool -lpthread
 *   printf 'b\na\n' | ./a.out sort          ->  1: a / 2: b
 *   ./a.out sh -c 'echo out; echo err >&2; exit 3'; echo $?
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettool/fdstream.h>
#include <nettool/framing.h>
#include <nettool/process.h>
#include <nettool/reactor.h>

static int exit_code = 1;
static nt_process_t *child;
static nt_transport_t *our_stdin; /* until it is lost */

/* --- the child's stdout: a line receiver ----------------------------------- */

typedef struct {
  nt_line_receiver_t lr; /* first member: the protocol */
  unsigned long n;
} numbered_t;

static void out_line(nt_line_receiver_t *lr, const char *line, size_t len) {
  numbered_t *o = (numbered_t *)lr;
  printf("%5lu: %.*s\n", ++o->n, (int)len, line);
}

static const nt_line_receiver_ops_t out_ops = {.line_received = out_line};

/* --- our stdin, copied to the child's stdin --------------------------------- */

static void in_data(nt_protocol_t *p, const char *d, size_t n) {
  (void)p;
  nt_process_write(child, d, n); /* queued if the pipe is full */
}

static int in_eof(nt_protocol_t *p) {
  (void)p;
  nt_process_close_stdin(child); /* the child reads end of file */
  return 0;
}

static void in_lost(nt_protocol_t *p, int status) {
  (void)p, (void)status;
  our_stdin = NULL;
}

static const nt_protocol_ops_t in_ops = {
    .data_received = in_data, .eof_received = in_eof, .connection_lost = in_lost};

/* --- the process ------------------------------------------------------------- */

static void on_started(nt_process_protocol_t *pp, nt_process_t *proc) {
  (void)pp;
  child = proc;
}

static void on_stderr(nt_process_protocol_t *pp, int fd, const char *d,
                      size_t n) {
  (void)pp, (void)fd;
  fprintf(stderr, "[stderr] %.*s", (int)n, d);
}

/* The child's stdin is full: stop reading ours until it drains. */
static void on_pause(nt_process_protocol_t *pp) {
  (void)pp;
  if (our_stdin) nt_transport_pause_reading(our_stdin);
}
static void on_resume(nt_process_protocol_t *pp) {
  (void)pp;
  if (our_stdin) nt_transport_resume_reading(our_stdin);
}

static void on_pipe_closed(nt_process_protocol_t *pp, int fd, int status) {
  (void)pp;
  /* The child stopped reading: stop reading our stdin for it. */
  if (fd == 0 && our_stdin) nt_transport_lose_connection(our_stdin);
  if (status) fprintf(stderr, "proc_runner: fd %d: %s\n", fd, nt_strerror(status));
}

static void on_exited(nt_process_protocol_t *pp, int status, int sig) {
  (void)pp;
  child = NULL;
  exit_code = sig ? 128 + sig : status;
  if (our_stdin) nt_transport_abort(our_stdin); /* nobody to feed any more */
  if (sig) fprintf(stderr, "proc_runner: killed by signal %d\n", sig);
}

static const nt_process_protocol_ops_t proc_ops = {
    .started = on_started,
    .data_received = on_stderr,
    .pause_writing = on_pause,
    .resume_writing = on_resume,
    .pipe_closed = on_pipe_closed,
    .child_exited = on_exited,
};

static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  (void)r, (void)signum, (void)arg;
  if (child) nt_process_kill(child, SIGTERM);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: proc_runner COMMAND [ARG...]\n");
    return 2;
  }
  nt_reactor_t *r;
  if (nt_reactor_new(&r, NULL)) return 1;
  nt_reactor_handle_signals(r, on_signal, NULL);

  numbered_t out;
  memset(&out, 0, sizeof out);
  nt_line_receiver_init(&out.lr, &out_ops, 64 * 1024);
  nt_process_protocol_t pp = {&proc_ops, NULL};
  nt_process_options_t opts;
  memset(&opts, 0, sizeof opts);
  opts.stdio[1].protocol = &out.lr.base; /* stdout through the line protocol */

  int rc = nt_process_spawn(r, argv[1], (const char *const *)(argv + 1), &pp,
                            &opts, NULL);
  if (rc) {
    fprintf(stderr, "proc_runner: %s: %s\n", argv[1], nt_strerror(rc));
    nt_reactor_free(r);
    return 127;
  }
  /* Our stdin, read while the child takes it; left open for the shell. */
  nt_protocol_t in;
  nt_protocol_init(&in, &in_ops);
  nt_fdstream_options_t fo = {.keep_open = 1};
  if (nt_fdstream_open(r, 0, -1, &in, &fo, &our_stdin) != 0) {
    our_stdin = NULL;
    nt_process_close_stdin(child);
  }
  nt_reactor_run(r); /* until the child has exited and its pipes closed */
  if (our_stdin) nt_transport_abort(our_stdin);
  nt_reactor_close_all(r);
  fflush(stdout);
  nt_reactor_free(r);
  return exit_code;
}
