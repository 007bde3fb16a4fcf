/* Child processes: spawn a program with its argv, environment and working
 * directory, and talk to it through its stdin/stdout/stderr, each a stream
 * transport (Twisted's spawnProcess and ProcessProtocol, libuv's uv_spawn). */
#ifndef NETTOOL_PROCESS_H
#define NETTOOL_PROCESS_H

#include <stddef.h>

#include <nettool/protocol.h>
#include <nettool/reactor.h>
#include <nettool/transport.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef struct nt_process_s nt_process_t;
typedef struct nt_process_protocol_s nt_process_protocol_t;
typedef struct nt_process_protocol_ops_s nt_process_protocol_ops_t;

/*
 * A process protocol is a struct whose first member is
 * nt_process_protocol_t. Lifecycle, from the reactor's thread only:
 *   started         once, inside nt_process_spawn, when the child runs
 *   data_received   output of the child on fd 1 or 2 (a pipe not given its
 *                   own protocol); data valid during the call only
 *   pipe_closed     once per pipe (fd 0, 1 or 2) when it has closed: status
 *                   0, or why (NT_EPIPE: the child stopped reading with
 *                   bytes still queued for it; a read error)
 *   pause_writing / resume_writing   the stdin pipe's water marks
 *   child_exited    exactly once, after the child has been reaped AND every
 *                   pipe has closed: exit_status is the child's exit code
 *                   (term_signal 0), or term_signal the signal that killed
 *                   it (exit_status -1)
 *   destroy         exactly once, last
 * Like connection_lost, pipe_closed and child_exited always come from the
 * loop, never from inside a call that caused them.
 */
struct nt_process_protocol_ops_s {
  void (*started)(nt_process_protocol_t *pp, nt_process_t *proc);
  void (*data_received)(nt_process_protocol_t *pp, int fd, const char *data,
                        size_t len);
  void (*pipe_closed)(nt_process_protocol_t *pp, int fd, int status);
  void (*pause_writing)(nt_process_protocol_t *pp);
  void (*resume_writing)(nt_process_protocol_t *pp);
  void (*child_exited)(nt_process_protocol_t *pp, int exit_status,
                       int term_signal);
  void (*destroy)(nt_process_protocol_t *pp);
};

struct nt_process_protocol_s {
  const nt_process_protocol_ops_t *ops;
  nt_process_t *process; /* set before started; NULL after child_exited */
};

/* What each of the child's fds 0, 1, 2 is. */
enum {
  NT_STDIO_PIPE = 0,    /* a pipe to us (the default) */
  NT_STDIO_INHERIT = 1, /* ours, the same fd */
  NT_STDIO_NULL = 2,    /* /dev/null */
  NT_STDIO_FD = 3,      /* the fd given (dup'ed into place in the child) */
};

typedef struct nt_process_stdio_s {
  int mode; /* NT_STDIO_* */
  int fd;   /* NT_STDIO_FD: our fd the child gets */
  /* NT_STDIO_PIPE: a protocol of its own for this pipe (a line receiver on
   * stdout...), owned by the pipe's transport as with any transport; NULL:
   * the pipe's data goes to the process protocol's data_received. */
  nt_protocol_t *protocol;
} nt_process_stdio_t;

typedef struct nt_process_options_s {
  /* NULL-terminated "NAME=value" strings; NULL: our environment. */
  const char *const *env;
  const char *cwd; /* NULL: ours */
  nt_process_stdio_t stdio[3];
} nt_process_options_t;

/*
 * Spawns file with argv (argv[0] included, NULL-terminated). A file with no
 * '/' is looked up in our PATH. The child gets exactly fds 0-2: every other
 * descriptor is closed in it (and nettool opens all its own close-on-exec);
 * its signal mask is empty and every signal has its default action (the
 * reactor ignores SIGPIPE; the child must not inherit that).
 *
 * The child is reaped through a pidfd (pidfd_open, Linux 5.3+), or where the
 * kernel has none through SIGCHLD (a handler nettool installs, chaining to
 * any previous one) with waitpid() on this child's pid only: no zombie is
 * left, and children the program spawned otherwise are not touched.
 *
 * On success pp->process is set, started runs before this returns, *out
 * (may be NULL) holds the process, and the process keeps the reactor running
 * until child_exited has run. Returns 0, or NT_ENOENT / NT_EACCES (no such
 * program, not executable, bad cwd), NT_EINVAL (argv empty, bad stdio),
 * NT_EMFILE, NT_ENOMEM...; then no callback runs and nothing is left.
 *
 * Ownership: the process is nettool's and is freed after child_exited and
 * destroy; do not use it after child_exited. nt_reactor_close_all kills the
 * child (SIGKILL), reaps it and ends its pipes.
 */
int nt_process_spawn_sized(size_t opts_size, nt_reactor_t *r, const char *file,
                           const char *const argv[], nt_process_protocol_t *pp,
                           const nt_process_options_t *opts,
                           nt_process_t **out);
#define nt_process_spawn(...) \
  nt_process_spawn_sized(sizeof(nt_process_options_t), __VA_ARGS__)

/* The child's pid (valid until child_exited). */
int nt_process_pid(const nt_process_t *proc);

/* Sends signum to the child (through its pidfd when there is one, so a
 * recycled pid is never hit). NT_ESRCH once the child has been reaped. */
int nt_process_kill(nt_process_t *proc, int signum);

/* Writes to the child's stdin (as nt_transport_write: queued if the pipe is
 * full). NT_ECLOSED if stdin is not a pipe or is closed. */
int nt_process_write(nt_process_t *proc, const void *data, size_t len);

/* Closes the child's stdin once what is queued has been written: the child
 * reads end of file. */
int nt_process_close_stdin(nt_process_t *proc);

/* Closes our end of pipe fd (0, 1, 2) now, dropping what is queued: a child
 * still writing to it gets EPIPE/SIGPIPE. pipe_closed follows. */
void nt_process_close_pipe(nt_process_t *proc, int fd);

/* The transport of pipe fd (0, 1, 2), for pause_reading/resume_reading,
 * water marks or write_buffer_size; NULL if that fd is not a pipe or the
 * pipe has closed. Valid until that pipe's pipe_closed. */
nt_transport_t *nt_process_transport(nt_process_t *proc, int fd);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
