/* Child processes: posix_spawn (vfork-based in glibc, safe in threaded
 * programs, exec errors reported to the caller), the child's fds 0-2 as
 * pipe transports (fdstream.c), reaping through a pidfd or, on kernels
 * without one, SIGCHLD plus waitpid on our own pids only. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdstream-int.h"
#include "nettool/process.h"
#include "reactor-int.h"
#include "stream-int.h"

/* Tests set this to run the SIGCHLD path on a kernel that has pidfds. */
int nt__process_no_pidfd;

typedef struct pipe_proto {
  nt_protocol_t base; /* forwards a pipe's events to the process protocol */
  nt_process_t *proc;
  int fd;
} pipe_proto_t;

typedef struct chld_watch chld_watch_t;

struct nt_process_s {
  nt_reactor_t *r;
  nt_process_protocol_t *pp;
  pid_t pid;
  int pidfd; /* -1: reaped through SIGCHLD (watch) */
  nt_io_t pidio;
  nt__handle_t handle;
  nt__fds_t *pipes[3];
  pipe_proto_t fwd[3];
  int open_pipes;
  int reaped, end_queued;
  int failed; /* spawn is unwinding: pipes close untold */
  int exit_status, term_signal;
  chld_watch_t *watch; /* SIGCHLD path: the reactor's watch, and its list */
  nt_process_t *wnext, *wprev;
};

static void try_reap(nt_process_t *p);

/* --- SIGCHLD, for kernels without pidfd_open (Linux < 5.3) ------------------
 * One self-pipe per program; each reactor with such children watches its
 * read end and, when woken, calls waitpid(pid, WNOHANG) for its own
 * children only (never waitpid(-1), which would steal other code's). A
 * wake-up can be taken by another reactor draining the pipe first, so each
 * watch also sweeps its children every CHLD_SWEEP_MS. */
#define CHLD_SWEEP_MS 200

struct chld_watch {
  nt_reactor_t *r;
  nt_io_t io;
  nt_timer_t sweep;
  nt_process_t *procs;
  chld_watch_t *next;
};

static pthread_mutex_t chld_lock = PTHREAD_MUTEX_INITIALIZER;
static int chld_pipe[2] = {-1, -1};
static struct sigaction chld_old;
static chld_watch_t *chld_watches; /* under chld_lock */

static void on_sigchld(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  char b = 0;
  ssize_t n = write(chld_pipe[1], &b, 1);
  (void)n; /* EAGAIN: a wake-up is already pending */
  errno = saved;
  if (chld_old.sa_flags & SA_SIGINFO) {
    if (chld_old.sa_sigaction) chld_old.sa_sigaction(sig, si, uc);
  } else if (chld_old.sa_handler != SIG_DFL && chld_old.sa_handler != SIG_IGN) {
    chld_old.sa_handler(sig);
  }
}

static int chld_install(void) {
  if (chld_pipe[0] >= 0) return 0;
  if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigchld;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
  if (sigaction(SIGCHLD, &sa, &chld_old) < 0) {
    int e = -errno;
    close(chld_pipe[0]);
    close(chld_pipe[1]);
    chld_pipe[0] = chld_pipe[1] = -1;
    return e;
  }
  return 0;
}

static void chld_sweep(chld_watch_t *w) {
  nt_process_t *p = w->procs;
  while (p) {
    nt_process_t *next = p->wnext; /* try_reap may unlink p */
    try_reap(p);
    p = next;
  }
}

static void chld_io_cb(nt_io_t *io, unsigned events) {
  chld_watch_t *w = nt__container_of(io, chld_watch_t, io);
  (void)events;
  char buf[64];
  while (read(chld_pipe[0], buf, sizeof buf) > 0) {
  }
  chld_sweep(w);
}

static void chld_sweep_cb(nt_timer_t *t) {
  chld_sweep(nt__container_of(t, chld_watch_t, sweep));
}

static int chld_watch_add(nt_process_t *p) {
  pthread_mutex_lock(&chld_lock);
  int rc = chld_install();
  chld_watch_t *w = chld_watches;
  while (w && w->r != p->r) w = w->next;
  if (!rc && !w) {
    w = nt__calloc(1, sizeof *w);
    if (!w) {
      rc = NT_ENOMEM;
    } else {
      w->r = p->r;
      nt_io_init(p->r, &w->io, chld_pipe[0], chld_io_cb);
      nt_io_unref(&w->io);
      nt_timer_init(p->r, &w->sweep, chld_sweep_cb);
      nt_timer_unref(&w->sweep);
      rc = nt_io_start(&w->io, NT_READABLE);
      if (rc) {
        nt__free(w);
      } else {
        nt_timer_start(&w->sweep, CHLD_SWEEP_MS, CHLD_SWEEP_MS);
        w->next = chld_watches;
        chld_watches = w;
      }
    }
  }
  if (!rc) {
    p->watch = w;
    p->wprev = NULL;
    p->wnext = w->procs;
    if (w->procs) w->procs->wprev = p;
    w->procs = p;
  }
  pthread_mutex_unlock(&chld_lock);
  return rc;
}

static void chld_watch_remove(nt_process_t *p) {
  chld_watch_t *w = p->watch;
  if (!w) return;
  pthread_mutex_lock(&chld_lock);
  if (p->wprev)
    p->wprev->wnext = p->wnext;
  else
    w->procs = p->wnext;
  if (p->wnext) p->wnext->wprev = p->wprev;
  p->watch = NULL;
  if (!w->procs) { /* the reactor's last such child: drop its watch */
    chld_watch_t **pp = &chld_watches;
    while (*pp != w) pp = &(*pp)->next;
    *pp = w->next;
    nt_io_stop(&w->io);
    nt_timer_stop(&w->sweep);
    nt__free(w);
  }
  pthread_mutex_unlock(&chld_lock);
}

/* --- the end of a process ------------------------------------------------------ */

static void end_cb(void *arg) {
  nt_process_t *p = arg;
  nt_process_protocol_t *pp = p->pp;
  nt__handle_remove(&p->handle);
  if (pp->ops->child_exited)
    pp->ops->child_exited(pp, p->exit_status, p->term_signal);
  pp->process = NULL;
  if (pp->ops->destroy) pp->ops->destroy(pp);
  nt_reactor_unref(p->r);
  nt__free(p);
}

/* child_exited waits for both: the child reaped and every pipe closed (a
 * grandchild may hold a pipe open after the child has gone). */
static void maybe_end(nt_process_t *p) {
  if (!p->reaped || p->open_pipes || p->end_queued) return;
  p->end_queued = 1;
  if (nt_call_soon(p->r, end_cb, p)) end_cb(p);
}

static void record_status(nt_process_t *p, pid_t w, int st) {
  if (w < 0) { /* ECHILD: reaped elsewhere (SIGCHLD set to SIG_IGN...) */
    p->exit_status = -1;
    p->term_signal = 0;
  } else if (WIFEXITED(st)) {
    p->exit_status = WEXITSTATUS(st);
    p->term_signal = 0;
  } else {
    p->exit_status = -1;
    p->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  }
  p->reaped = 1;
  if (p->pidfd >= 0) {
    nt_io_stop(&p->pidio);
    close(p->pidfd);
    p->pidfd = -1;
  }
  chld_watch_remove(p);
}

static void try_reap(nt_process_t *p) {
  if (p->reaped) return;
  int st = 0;
  pid_t w;
  do
    w = waitpid(p->pid, &st, WNOHANG);
  while (w < 0 && errno == EINTR);
  if (w == 0) return; /* still running */
  record_status(p, w, st);
  maybe_end(p);
}

static void pidfd_cb(nt_io_t *io, unsigned events) {
  (void)events;
  try_reap(nt__container_of(io, nt_process_t, pidio));
}

/* --- the pipes -------------------------------------------------------------------- */

static pipe_proto_t *fwd_of(nt_protocol_t *b) { return (pipe_proto_t *)b; }

static void fwd_data(nt_protocol_t *b, const char *data, size_t len) {
  pipe_proto_t *f = fwd_of(b);
  nt_process_protocol_t *pp = f->proc->pp;
  if (pp->ops->data_received) pp->ops->data_received(pp, f->fd, data, len);
}

static void fwd_pause(nt_protocol_t *b) {
  nt_process_protocol_t *pp = fwd_of(b)->proc->pp;
  if (pp->ops->pause_writing) pp->ops->pause_writing(pp);
}

static void fwd_resume(nt_protocol_t *b) {
  nt_process_protocol_t *pp = fwd_of(b)->proc->pp;
  if (pp->ops->resume_writing) pp->ops->resume_writing(pp);
}

static const nt_protocol_ops_t fwd_ops = {
    .data_received = fwd_data,
    .pause_writing = fwd_pause,
    .resume_writing = fwd_resume,
};

/* A pipe's transport is gone (its protocol told and destroyed). */
static void pipe_freed(void *arg, int status) {
  pipe_proto_t *f = arg;
  nt_process_t *p = f->proc;
  p->pipes[f->fd] = NULL;
  p->open_pipes--;
  if (p->failed) return;
  if (p->pp->ops->pipe_closed) p->pp->ops->pipe_closed(p->pp, f->fd, status);
  maybe_end(p);
}

/* nt_reactor_close_all: the child is killed and reaped now (SIGKILL cannot
 * be caught, so the wait is short), its pipes end from the loop. */
static void proc_close_handle(nt__handle_t *h) {
  nt_process_t *p = nt__container_of(h, nt_process_t, handle);
  if (!p->reaped) {
    nt_process_kill(p, SIGKILL);
    int st = 0;
    pid_t w;
    do
      w = waitpid(p->pid, &st, 0);
    while (w < 0 && errno == EINTR);
    record_status(p, w, st);
  }
  for (int i = 0; i < 3; i++)
    if (p->pipes[i])
      nt__stream_abort(nt__fds_transport(p->pipes[i]), NT_ECONNABORTED);
  maybe_end(p);
}

/* --- spawning ------------------------------------------------------------------------ */

/* Moves fd above 2, so dup2 onto the child's 0-2 never clobbers another of
 * its pipe ends (a program started with fd 0 closed gets pipes there). */
static int above_stdio(int *fd) {
  if (*fd > 2) return 0;
  int n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
  if (n < 0) return -errno;
  close(*fd);
  *fd = n;
  return 0;
}

static void close_fds(int *fds, int n) {
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) {
      close(fds[i]);
      fds[i] = -1;
    }
}

int nt_process_spawn_sized(size_t opts_size, nt_reactor_t *r, const char *file,
                           const char *const argv[], nt_process_protocol_t *pp,
                           const nt_process_options_t *opts,
                           nt_process_t **out) {
  nt_process_options_t o;
  if (NT__OPTS_COPY(o, opts, opts_size)) return NT_ENOTSUP;
  if (!file || !*file || !argv || !argv[0] || !pp || !pp->ops) return NT_EINVAL;
  for (int i = 0; i < 3; i++) {
    int m = o.stdio[i].mode;
    if (m < NT_STDIO_PIPE || m > NT_STDIO_FD) return NT_EINVAL;
    if (m == NT_STDIO_FD && o.stdio[i].fd < 0) return NT_EINVAL;
  }
  nt_process_t *p = nt__calloc(1, sizeof *p);
  if (!p) return NT_ENOMEM;
  p->r = r;
  p->pp = pp;
  p->pidfd = -1;
  int parent[3] = {-1, -1, -1}, child[3] = {-1, -1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc) {
    nt__free(p);
    return -rc;
  }
  rc = posix_spawnattr_init(&at);
  if (rc) {
    posix_spawn_file_actions_destroy(&fa);
    nt__free(p);
    return -rc;
  }
  for (int i = 0; i < 3 && !rc; i++) {
    switch (o.stdio[i].mode) {
    case NT_STDIO_PIPE: {
      int pf[2];
      if (pipe2(pf, O_CLOEXEC) < 0) {
        rc = errno;
        break;
      }
      /* fd 0 is the child's read end; 1 and 2 its write ends. */
      parent[i] = i == 0 ? pf[1] : pf[0];
      child[i] = i == 0 ? pf[0] : pf[1];
      int e = above_stdio(&parent[i]);
      if (!e) e = above_stdio(&child[i]);
      if (e) {
        rc = -e;
        break;
      }
      int fl = fcntl(parent[i], F_GETFL);
      if (fl < 0 || fcntl(parent[i], F_SETFL, fl | O_NONBLOCK) < 0) {
        rc = errno;
        break;
      }
      rc = posix_spawn_file_actions_adddup2(&fa, child[i], i);
      break;
    }
    case NT_STDIO_NULL:
      rc = posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
                                            i == 0 ? O_RDONLY : O_WRONLY, 0);
      break;
    case NT_STDIO_FD:
      rc = posix_spawn_file_actions_adddup2(&fa, o.stdio[i].fd, i);
      break;
    default: /* NT_STDIO_INHERIT */
      break;
    }
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  /* Belt and braces over CLOEXEC: fds another library opened without it
   * (or a thread opened between our pipe2 and the spawn) stay out too. */
  if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
  if (!rc && o.cwd) rc = posix_spawn_file_actions_addchdir_np(&fa, o.cwd);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  if (!rc) rc = posix_spawnattr_setsigmask(&at, &none);
  if (!rc) rc = posix_spawnattr_setsigdefault(&at, &all);
  if (!rc)
    rc = posix_spawnattr_setflags(&at,
                                  POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int fallback = nt__process_no_pidfd;
#ifndef SYS_pidfd_open
  fallback = 1;
#endif
  if (!rc && fallback) {
    /* The handler must be in place before the child can exit. */
    pthread_mutex_lock(&chld_lock);
    int e = chld_install();
    pthread_mutex_unlock(&chld_lock);
    if (e) rc = -e;
  }
  if (!rc) {
    char *const *av = (char *const *)argv;
    char *const *envp = o.env ? (char *const *)o.env : environ;
    rc = strchr(file, '/') ? posix_spawn(&p->pid, file, &fa, &at, av, envp)
                           : posix_spawnp(&p->pid, file, &fa, &at, av, envp);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close_fds(child, 3);
  if (rc) {
    close_fds(parent, 3);
    nt__free(p);
    return -rc;
  }
  /* The child runs. From here a failure kills and reaps it, so nothing is
   * left behind. */
#ifdef SYS_pidfd_open
  if (!fallback) {
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0); /* always CLOEXEC */
    if (p->pidfd >= 0) {
      nt_io_init(r, &p->pidio, p->pidfd, pidfd_cb);
      nt_io_unref(&p->pidio);
      rc = nt_io_start(&p->pidio, NT_READABLE);
      if (rc) {
        close(p->pidfd);
        p->pidfd = -1;
      }
    }
  }
#endif
  rc = p->pidfd >= 0 ? 0 : chld_watch_add(p);
  for (int i = 0; i < 3 && !rc; i++) {
    p->fwd[i].proc = p;
    p->fwd[i].fd = i;
    nt_protocol_init(&p->fwd[i].base, &fwd_ops);
    if (parent[i] < 0) continue;
    rc = nt__fds_new(r, i == 0 ? -1 : parent[i], i == 0 ? parent[i] : -1,
                     NT__FDS_OWN | NT__FDS_NOREF | NT__FDS_PIPE, pipe_freed,
                     &p->fwd[i], &p->pipes[i]);
    if (!rc) {
      parent[i] = -1; /* the transport's now */
      p->open_pipes++;
    }
  }
  if (rc) {
    p->failed = 1;
    nt_process_kill(p, SIGKILL);
    int st;
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
    }
    record_status(p, 0, 0);
    close_fds(parent, 3);
    for (int i = 0; i < 3; i++)
      if (p->pipes[i]) { /* never started: close without callbacks */
        nt__fds_t *f = p->pipes[i];
        nt__stream_t *s = (nt__stream_t *)nt__fds_transport(f);
        s->io->close(s);
        s->io->free(s); /* pipe_freed: no protocol yet, nothing told */
      }
    nt__free(p);
    return rc;
  }
  nt_reactor_ref(r);
  nt__handle_add(r, &p->handle, proc_close_handle);
  pp->process = p;
  if (out) *out = p;
  for (int i = 0; i < 3; i++)
    if (p->pipes[i])
      nt__fds_start(p->pipes[i], o.stdio[i].protocol ? o.stdio[i].protocol
                                                     : &p->fwd[i].base);
  if (pp->ops->started) pp->ops->started(pp, p);
  return 0;
}

/* --- operations ------------------------------------------------------------------------ */

int nt_process_pid(const nt_process_t *proc) { return (int)proc->pid; }

int nt_process_kill(nt_process_t *proc, int signum) {
  if (proc->reaped) return NT_ESRCH;
#ifdef SYS_pidfd_send_signal
  if (proc->pidfd >= 0)
    return syscall(SYS_pidfd_send_signal, proc->pidfd, signum, NULL, 0) == 0
               ? 0
               : -errno;
#endif
  /* Not reaped yet, so the pid cannot have been recycled. */
  return kill(proc->pid, signum) == 0 ? 0 : -errno;
}

nt_transport_t *nt_process_transport(nt_process_t *proc, int fd) {
  if (fd < 0 || fd > 2 || !proc->pipes[fd]) return NULL;
  nt_transport_t *t = nt__fds_transport(proc->pipes[fd]);
  return (t->flags & NT_TRANSPORT_CLOSED) ? NULL : t;
}

int nt_process_write(nt_process_t *proc, const void *data, size_t len) {
  nt_transport_t *t = nt_process_transport(proc, 0);
  return t ? nt_transport_write(t, data, len) : NT_ECLOSED;
}

int nt_process_close_stdin(nt_process_t *proc) {
  nt_transport_t *t = nt_process_transport(proc, 0);
  return t ? nt_transport_write_eof(t) : NT_ECLOSED;
}

void nt_process_close_pipe(nt_process_t *proc, int fd) {
  nt_transport_t *t = nt_process_transport(proc, fd);
  if (t) t->ops->abort(t, 0);
}
