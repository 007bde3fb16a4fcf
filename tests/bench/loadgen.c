/* loadgen: closed-loop TCP load generator for the nettool benchmarks.
 *
 * Plain C on raw epoll, with no nettool dependency, so that it drives every
 * server under test (nettool, libuv, libevent, Twisted) identically.
 *
 * Throughput mode:
 *   loadgen [--host 127.0.0.1] --port P [--conns N] [--size 64] [--seconds S]
 *           [--warmup S] [--reply-len N] [--probe-ms MS]
 *   loadgen --unix NAME ...   the same over a UNIX stream socket (a path, or
 *                             @name for an abstract one; unix_bench.sh)
 *   Each of N connections sends one SIZE-byte message, waits until the whole
 *   reply has arrived, then sends the next one (one message in flight per
 *   connection).  A reply is complete when the bytes received for it reach the
 *   expected reply length: --reply-len, or (by default) auto-detected per
 *   connection from its first reply: once SIZE bytes have arrived, whatever
 *   arrives within --probe-ms more milliseconds is the reply length.  That
 *   handles servers whose reply is longer than the request, such as the
 *   timestamp server ("[Sun Nov 22 15:11:00 2026]: " + data).
 *   Only messages completed after the warm-up (and after every connection is
 *   up) are counted.  Output, one key=value per line:
 *     msgs_per_sec=... msgs=... window_sec=... conns=... reply_len=...
 *     p50_us=... p99_us=... loadgen_cpu=... errors=...
 *
 * Idle mode:
 *   loadgen [--host H] --port P --idle N [--hold S] [--size 64]
 *   Opens N connections (raising RLIMIT_NOFILE as needed), pings each one in
 *   turn (one message, waits for the reply) so the server has certainly
 *   accepted it and served it once, prints "idle_ready=N", then holds them
 *   idle for up to S seconds (or until SIGTERM/SIGINT/SIGUSR1), closes them
 *   and prints "idle_closed=N".
 *
 * Every run is bounded: the throughput loop ends after warm-up + seconds,
 * connecting gives up after --connect-timeout seconds, and alarm() kills the
 * process if anything hangs beyond that.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536
#define MAX_CONNS 200000

enum { C_IDLE, C_CONNECTING, C_UP, C_DEAD };

typedef struct {
  int fd;
  int state;
  uint32_t sent;      /* bytes of the current request written */
  uint32_t rcvd;      /* bytes of the current reply received */
  uint32_t reply_len; /* 0: not yet known (auto-detect) */
  int want_out;       /* EPOLLOUT registered */
  uint64_t t_send;    /* ns, when the current request went out */
  uint64_t probe_end; /* ns, auto-detect deadline; 0 = not probing */
} conn_t;

static struct {
  const char *host;
  int port;
  int conns;
  int size;
  double seconds;
  double warmup;
  int reply_len;
  int probe_ms;
  int idle;
  double hold;
  int connect_batch;
  double connect_timeout;
  const char *unix_name; /* --unix: AF_UNIX instead of host:port */
} opt = {"127.0.0.1", 0, 1, 64, 5.0, 1.0, 0, 50, 0, 30.0, 128, 15.0, NULL};

static struct sockaddr_storage dst;
static socklen_t dst_len;
static char msg[MAX_SIZE];
static char rbuf[MAX_SIZE];
static conn_t *cs;
static int ep = -1;
static volatile sig_atomic_t stop_flag;

/* Latency histogram: 1 us buckets up to 10 ms, then 1 ms buckets to ~10 s. */
#define H_FINE 10000
#define H_COARSE 10000
static uint64_t hist[H_FINE + H_COARSE];

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void usage(void) {
  fputs("usage: loadgen [--host ADDR] --port P [--conns N] [--size B] "
        "[--seconds S] [--warmup S]\n"
        "               [--reply-len B] [--probe-ms MS] [--connect-batch N] "
        "[--connect-timeout S]\n"
        "       loadgen [--host ADDR] --port P --idle N [--hold S] [--size B]\n",
        stderr);
  exit(64);
}

static void on_stop(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void hist_add(uint64_t ns) {
  uint64_t us = ns / 1000;
  size_t i;
  if (us < H_FINE)
    i = (size_t)us;
  else {
    uint64_t k = (us - H_FINE) / 1000;
    i = H_FINE + (size_t)(k < H_COARSE - 1 ? k : H_COARSE - 1);
  }
  hist[i]++;
}

static double hist_pct(uint64_t total, double p) {
  if (!total) return 0;
  uint64_t want = (uint64_t)(p * (double)total);
  if (want >= total) want = total - 1;
  uint64_t acc = 0;
  for (size_t i = 0; i < H_FINE + H_COARSE; i++) {
    acc += hist[i];
    if (acc > want)
      return i < H_FINE ? (double)i : (double)H_FINE + (double)(i - H_FINE) * 1000.0;
  }
  return 0;
}

static void raise_nofile(int need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit");
  if (rl.rlim_cur >= (rlim_t)need) return;
  if (rl.rlim_max < (rlim_t)need) {
    /* Root may raise the hard limit too; otherwise take what we can. */
    struct rlimit r2 = {(rlim_t)need, (rlim_t)need};
    if (setrlimit(RLIMIT_NOFILE, &r2) == 0) return;
    rl.rlim_cur = rl.rlim_max;
  } else {
    rl.rlim_cur = (rlim_t)need;
  }
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit");
  if (rl.rlim_cur < (rlim_t)need) {
    fprintf(stderr, "loadgen: RLIMIT_NOFILE hard limit %llu < %d needed\n",
            (unsigned long long)rl.rlim_max, need);
    exit(2);
  }
}

static void resolve(void) {
  if (opt.unix_name) {
    struct sockaddr_un *un = (struct sockaddr_un *)&dst;
    size_t n = strlen(opt.unix_name);
    if (n < 2 || n >= sizeof un->sun_path) {
      fprintf(stderr, "loadgen: bad --unix '%s'\n", opt.unix_name);
      exit(64);
    }
    memset(&dst, 0, sizeof dst);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, opt.unix_name, n);
    if (un->sun_path[0] == '@') un->sun_path[0] = 0; /* abstract */
    dst_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                          (un->sun_path[0] ? 1 : 0));
    return;
  }
  struct addrinfo hints, *ai;
  char port[16];
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  snprintf(port, sizeof port, "%d", opt.port);
  int rc = getaddrinfo(opt.host, port, &hints, &ai);
  if (rc) {
    fprintf(stderr, "loadgen: bad --host '%s': %s\n", opt.host, gai_strerror(rc));
    exit(64);
  }
  memcpy(&dst, ai->ai_addr, ai->ai_addrlen);
  dst_len = ai->ai_addrlen;
  freeaddrinfo(ai);
}

static void ep_set(conn_t *c, int op, uint32_t events) {
  struct epoll_event ev;
  ev.events = events;
  ev.data.ptr = c;
  if (epoll_ctl(ep, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static int conn_start(conn_t *c) {
  int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->state = C_CONNECTING;
  if (connect(fd, (struct sockaddr *)&dst, dst_len) < 0 && errno != EINPROGRESS) {
    fprintf(stderr, "loadgen: connect: %s\n", strerror(errno));
    exit(2);
  }
  ep_set(c, EPOLL_CTL_ADD, EPOLLOUT);
  return 0;
}

/* Opens every connection with at most connect_batch in progress at once, so
 * no server's listen backlog overflows (a dropped SYN costs a 1 s retry). */
static void connect_all(int n, uint64_t deadline) {
  struct epoll_event evs[1024];
  int next = 0, inflight = 0, up = 0;
  while (up < n) {
    while (next < n && inflight < opt.connect_batch) {
      conn_start(&cs[next++]);
      inflight++;
    }
    uint64_t t = now_ns();
    if (t > deadline || stop_flag) {
      fprintf(stderr, "loadgen: connecting timed out (%d of %d up)\n", up, n);
      exit(3);
    }
    int k = epoll_wait(ep, evs, 1024, 100);
    if (k < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < k; i++) {
      conn_t *c = evs[i].data.ptr;
      if (c->state != C_CONNECTING) continue;
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err) {
        errno = err;
        die("connect");
      }
      c->state = C_UP;
      ep_set(c, EPOLL_CTL_MOD, EPOLLIN);
      inflight--;
      up++;
    }
  }
}

/* --- throughput mode ------------------------------------------------------ */

static uint64_t n_msgs, n_errors, n_overrun;
static int counting;
static uint32_t rl_min = UINT32_MAX, rl_max;

static void conn_dead(conn_t *c) {
  c->state = C_DEAD; /* the server closed or reset it, or a write failed */
  n_errors++;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
}

static void send_req(conn_t *c, uint64_t t) {
  c->sent = 0;
  c->t_send = t;
  ssize_t n = send(c->fd, msg, (size_t)opt.size, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno != EAGAIN) {
      conn_dead(c);
      return;
    }
    n = 0;
  }
  c->sent = (uint32_t)n;
  if (c->sent < (uint32_t)opt.size && !c->want_out) {
    c->want_out = 1;
    ep_set(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
  }
}

static void on_writable(conn_t *c) {
  if (c->sent < (uint32_t)opt.size) {
    ssize_t n = send(c->fd, msg + c->sent, (size_t)opt.size - c->sent, MSG_NOSIGNAL);
    if (n > 0) c->sent += (uint32_t)n;
    else if (n < 0 && errno != EAGAIN) {
      conn_dead(c);
      return;
    }
  }
  if (c->sent >= (uint32_t)opt.size && c->want_out) {
    c->want_out = 0;
    ep_set(c, EPOLL_CTL_MOD, EPOLLIN);
  }
}

static void complete(conn_t *c, uint64_t t) {
  c->rcvd -= c->reply_len;
  if (c->rcvd) n_overrun++; /* more than one reply's worth: unexpected */
  if (counting) {
    n_msgs++;
    hist_add(t - c->t_send);
  }
  send_req(c, t);
}

static void on_data(conn_t *c, ssize_t n, uint64_t t) {
  c->rcvd += (uint32_t)n;
  if (c->reply_len) {
    if (c->rcvd >= c->reply_len) complete(c, t);
  } else if (!c->probe_end && c->rcvd >= (uint32_t)opt.size) {
    c->probe_end = t + (uint64_t)opt.probe_ms * 1000000u;
  }
}

static void on_readable(conn_t *c, uint64_t t) {
  ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    conn_dead(c);
    return;
  }
  on_data(c, n, t);
}

static int run_throughput(void) {
  uint64_t t0 = now_ns();
  int n = opt.conns;
  connect_all(n, t0 + (uint64_t)(opt.connect_timeout * 1e9));
  uint64_t t_up = now_ns();
  uint64_t t_start = t0 + (uint64_t)(opt.warmup * 1e9);
  if (t_start < t_up) t_start = t_up;
  uint64_t t_end = t_start + (uint64_t)(opt.seconds * 1e9);
  int probing = 0;
  for (int i = 0; i < n; i++) {
    conn_t *c = &cs[i];
    c->reply_len = (uint32_t)opt.reply_len;
    if (!opt.reply_len) probing++;
    send_req(c, t_up);
  }
  struct rusage ru0, ru1;
  struct epoll_event evs[1024];
  uint64_t t = t_up;
  while (!stop_flag) {
    if (!counting && t >= t_start) {
      counting = 1;
      getrusage(RUSAGE_SELF, &ru0);
    }
    if (t >= t_end) break;
    uint64_t wait_ns = (counting ? t_end : t_start) - t;
    if (probing && wait_ns > 2000000u) wait_ns = 2000000u;
    int k = epoll_wait(ep, evs, 1024, (int)((wait_ns + 999999u) / 1000000u));
    if (k < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    t = now_ns();
    for (int i = 0; i < k; i++) {
      conn_t *c = evs[i].data.ptr;
      if (c->state != C_UP) continue;
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, t);
      if (c->state == C_UP && (evs[i].events & EPOLLOUT)) on_writable(c);
    }
    if (probing) {
      for (int i = 0; i < n; i++) {
        conn_t *c = &cs[i];
        if (c->reply_len || c->state != C_UP || !c->probe_end || t < c->probe_end)
          continue;
        c->reply_len = c->rcvd;
        c->probe_end = 0;
        probing--;
        if (c->reply_len < rl_min) rl_min = c->reply_len;
        if (c->reply_len > rl_max) rl_max = c->reply_len;
        complete(c, t);
      }
    }
  }
  uint64_t t_stop = now_ns();
  if (!counting) {
    getrusage(RUSAGE_SELF, &ru0);
    t_start = t_stop;
  }
  getrusage(RUSAGE_SELF, &ru1);
  double win = (double)(t_stop - t_start) / 1e9;
  double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
               (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
               (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  if (opt.reply_len) rl_min = rl_max = (uint32_t)opt.reply_len;
  int dead = 0;
  for (int i = 0; i < n; i++) dead += cs[i].state == C_DEAD;
  printf("msgs_per_sec=%.1f\n", win > 0 ? (double)n_msgs / win : 0.0);
  printf("msgs=%llu\n", (unsigned long long)n_msgs);
  printf("window_sec=%.3f\n", win);
  printf("conns=%d\n", n);
  printf("size=%d\n", opt.size);
  if (rl_min == rl_max)
    printf("reply_len=%u\n", rl_max);
  else
    printf("reply_len=%u..%u\n", rl_min == UINT32_MAX ? 0 : rl_min, rl_max);
  printf("p50_us=%.0f\n", hist_pct(n_msgs, 0.50));
  printf("p99_us=%.0f\n", hist_pct(n_msgs, 0.99));
  printf("loadgen_cpu=%.2f\n", win > 0 ? cpu / win : 0.0);
  printf("loadgen_cpu_total_sec=%.3f\n",
         (double)ru1.ru_utime.tv_sec + (double)ru1.ru_utime.tv_usec / 1e6 +
             (double)ru1.ru_stime.tv_sec + (double)ru1.ru_stime.tv_usec / 1e6);
  printf("errors=%llu\n", (unsigned long long)n_errors);
  printf("dead_conns=%d\n", dead);
  printf("overruns=%llu\n", (unsigned long long)n_overrun);
  fflush(stdout);
  for (int i = 0; i < n; i++)
    if (cs[i].fd >= 0) close(cs[i].fd);
  if (probing && !n_msgs) {
    fprintf(stderr, "loadgen: no complete reply (server silent?)\n");
    return 1;
  }
  return n_errors ? 1 : 0;
}

/* --- idle mode --------------------------------------------------------------- */

static int ping(conn_t *c, uint64_t deadline) {
  const char *p = msg;
  size_t left = (size_t)opt.size;
  size_t got = 0;
  while (left || got < (size_t)opt.size) {
    uint64_t t = now_ns();
    if (t > deadline || stop_flag) return -1;
    struct pollfd pfd = {c->fd, (short)(left ? POLLOUT : POLLIN), 0};
    int ms = (int)((deadline - t) / 1000000u) + 1;
    int k = poll(&pfd, 1, ms);
    if (k < 0 && errno != EINTR) return -1;
    if (k <= 0) continue;
    if (left) {
      ssize_t n = send(c->fd, p, left, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) return -1;
      if (n > 0) {
        p += n;
        left -= (size_t)n;
      }
    } else {
      ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN)) return -1;
      if (n > 0) got += (size_t)n;
    }
  }
  /* A reply longer than the request (timestamp prefix) is in one segment on
   * loopback; drain whatever else is already here. */
  while (recv(c->fd, rbuf, sizeof rbuf, MSG_DONTWAIT) > 0) {
  }
  return 0;
}

static int run_idle(void) {
  int n = opt.idle;
  uint64_t t0 = now_ns();
  connect_all(n, t0 + (uint64_t)(opt.connect_timeout * 1e9));
  /* One at a time, so the server never serves more than one at once: its
   * transient per-read buffers (if any) do not inflate its idle footprint. */
  uint64_t ping_deadline = now_ns() + (uint64_t)(opt.connect_timeout * 1e9) * 4;
  for (int i = 0; i < n; i++) {
    if (ping(&cs[i], ping_deadline) < 0) {
      fprintf(stderr, "loadgen: ping on connection %d failed or timed out\n", i);
      return 3;
    }
  }
  double setup = (double)(now_ns() - t0) / 1e9;
  printf("idle_ready=%d\nsetup_sec=%.2f\n", n, setup);
  fflush(stdout);
  uint64_t until = now_ns() + (uint64_t)(opt.hold * 1e9);
  while (!stop_flag && now_ns() < until) {
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
  }
  for (int i = 0; i < n; i++) close(cs[i].fd);
  printf("idle_closed=%d\n", n);
  fflush(stdout);
  return 0;
}

static double num(const char *s, double lo, double hi, const char *name) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end || v < lo || v > hi) {
    fprintf(stderr, "loadgen: bad %s '%s'\n", name, s);
    exit(64);
  }
  return v;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) opt.host = v;
    else if (!strcmp(a, "--port")) opt.port = (int)num(v, 1, 65535, a);
    else if (!strcmp(a, "--unix")) opt.unix_name = v;
    else if (!strcmp(a, "--conns")) opt.conns = (int)num(v, 1, MAX_CONNS, a);
    else if (!strcmp(a, "--size")) opt.size = (int)num(v, 1, MAX_SIZE, a);
    else if (!strcmp(a, "--seconds")) opt.seconds = num(v, 0.01, 3600, a);
    else if (!strcmp(a, "--warmup")) opt.warmup = num(v, 0, 3600, a);
    else if (!strcmp(a, "--reply-len")) opt.reply_len = (int)num(v, 0, MAX_SIZE, a);
    else if (!strcmp(a, "--probe-ms")) opt.probe_ms = (int)num(v, 1, 10000, a);
    else if (!strcmp(a, "--idle")) opt.idle = (int)num(v, 1, MAX_CONNS, a);
    else if (!strcmp(a, "--hold")) opt.hold = num(v, 0, 3600, a);
    else if (!strcmp(a, "--connect-batch")) opt.connect_batch = (int)num(v, 1, 65536, a);
    else if (!strcmp(a, "--connect-timeout")) opt.connect_timeout = num(v, 0.1, 600, a);
    else usage();
  }
  if (!opt.port && !opt.unix_name) usage();
  if (opt.reply_len && opt.reply_len < opt.size) {
    fprintf(stderr, "loadgen: --reply-len must be >= --size\n");
    return 64;
  }
  resolve();
  for (int i = 0; i < opt.size; i++) msg[i] = (char)('a' + i % 26);
  msg[opt.size - 1] = '\n';

  int n = opt.idle ? opt.idle : opt.conns;
  raise_nofile(n + 64);
  cs = calloc((size_t)n, sizeof *cs);
  if (!cs) die("calloc");
  for (int i = 0; i < n; i++) cs[i].fd = -1;
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* Hard stop: nothing may outlive its budget by more than a minute. */
  double budget = opt.idle ? opt.hold + 5 * opt.connect_timeout
                           : opt.warmup + opt.seconds + opt.connect_timeout;
  alarm((unsigned)budget + 60);

  return opt.idle ? run_idle() : run_throughput();
}
