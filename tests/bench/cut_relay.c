/* cut_relay: the resume benchmark's TCP relay that resets connections at
 * byte counts, in C with splice(2) (tests/integration/cut_relay.py is the
 * tests' relay: same options, same stats file, same cut rule, but Python's
 * copy loop tops out near 500 MB/s and its cost per cut is the benchmark's
 * noise; this one moves bytes through a pipe without copying them, so an
 * uninterrupted 1 GiB takes about what nginx and the client take, and what
 * a cut costs is what the client's retry costs).
 *
 *   cut_relay --listen-port-file F --target 127.0.0.1:PORT
 *             [--cut-every BYTES] [--cuts N] [--stats FILE]
 *
 * Bytes carried both ways are counted in one running total; when it would
 * cross the next cut point (every BYTES), only the bytes up to the point
 * pass, the relay waits (at most 2 s) until the client's socket has sent
 * them all, and then resets both connections (SO_LINGER 0).
 * After N cuts everything passes. One thread per connection; the stats file
 * is rewritten (temp + rename) when a connection ends. IPv4 loopback only:
 * a benchmark tool, not part of the suite. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static uint64_t cut_every, max_cuts = UINT64_MAX;
static const char *stats_path;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t total, up, down, conns, cuts;
/* What each cut cost the client, in ms: from the reset to the next
 * connection's accept (the client noticing and reconnecting), and from that
 * accept to the first byte from the server (the new request answered). */
#define MAX_CUTS 1024
static double last_cut_at, dead_reconnect[MAX_CUTS], dead_first_byte[MAX_CUTS];
static unsigned ndead;

static double now(void);

static void print_ms(FILE *f, const double *v, unsigned n) {
  for (unsigned i = 0; i < n; i++) fprintf(f, "%s%.3f", i ? ", " : "", v[i]);
}

/* How many of n bytes may pass before the next cut; counts them. Sets *cut
 * when the cut point is reached (the caller then resets). */
static size_t carry(size_t n, int is_up, int *cut) {
  pthread_mutex_lock(&mu);
  size_t allowed = n;
  *cut = 0;
  if (cut_every && cuts < max_cuts) {
    uint64_t next = cut_every * (cuts + 1);
    if (total + n >= next) {
      allowed = (size_t)(next - total);
      cuts++;
      *cut = 1;
    }
  }
  total += allowed;
  if (is_up) up += allowed;
  else down += allowed;
  pthread_mutex_unlock(&mu);
  return allowed;
}

static void save_stats(void) {
  if (!stats_path) return;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", stats_path);
  pthread_mutex_lock(&mu);
  FILE *f = fopen(tmp, "w");
  if (f) {
    fprintf(f,
            "{\"up\": %llu, \"down\": %llu, \"total\": %llu, \"connections\": %llu, "
            "\"cuts\": %llu",
            (unsigned long long)up, (unsigned long long)down,
            (unsigned long long)(up + down), (unsigned long long)conns,
            (unsigned long long)cuts);
    fprintf(f, ", \"reconnect_ms\": [");
    print_ms(f, dead_reconnect, ndead);
    fprintf(f, "], \"first_byte_ms\": [");
    print_ms(f, dead_first_byte, ndead);
    fprintf(f, "]}\n");
    if (fclose(f) == 0) rename(tmp, stats_path);
  }
  pthread_mutex_unlock(&mu);
}

static void reset(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The bytes let through before a cut must reach the client, or the cut
 * would cost it bytes the relay counted as carried: wait (<= 2 s) until the
 * socket has sent them all (SIOCOUTQNSD: not yet sent; on loopback a sent
 * segment is in the peer's receive queue, which a reset does not empty).
 * Not until they are acknowledged (SIOCOUTQ): the last ACK may be a delayed
 * one, 40 ms that would be the relay's, not the client's. */
static void drain(int fd) {
  double end = now() + 2;
  int q;
  while (ioctl(fd, SIOCOUTQNSD, &q) == 0 && q > 0 && now() < end) usleep(100);
}

/* One direction: moves what is readable on from to to through the pipe p.
 * Returns 1 while open, 0 at EOF, -1 on error or a cut (*cut set). */
static int move(int from, int to, int p[2], int is_up, int *cut, double *first) {
  ssize_t n = splice(from, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n == 0) return 0;
  if (n < 0) return errno == EAGAIN ? 1 : -1;
  if (!is_up && *first == 0) *first = now();
  size_t allowed = carry((size_t)n, is_up, cut);
  size_t left = allowed;
  while (left > 0) {
    ssize_t w = splice(p[0], NULL, to, NULL, left, SPLICE_F_MOVE);
    if (w <= 0) return -1;
    left -= (size_t)w;
  }
  if (*cut) {
    drain(to);
    pthread_mutex_lock(&mu);
    last_cut_at = now();
    pthread_mutex_unlock(&mu);
    return -1;
  }
  return 1;
}

typedef struct {
  int fd;
  double accepted;
} conn_t;

static void *conn_main(void *arg) {
  conn_t *cn = arg;
  int c = cn->fd;
  double accepted = cn->accepted, first = 0, cut_before;
  free(cn);
  pthread_mutex_lock(&mu);
  cut_before = last_cut_at;
  last_cut_at = 0;
  pthread_mutex_unlock(&mu);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  int pu[2] = {-1, -1}, pd[2] = {-1, -1};
  if (s < 0 || connect(s, (struct sockaddr *)&target, sizeof target) < 0 || pipe(pu) < 0 ||
      pipe(pd) < 0) {
    reset(c);
    if (s >= 0) close(s);
    goto out;
  }
  fcntl(pd[0], F_SETPIPE_SZ, 1 << 20);
  fcntl(pu[0], F_SETPIPE_SZ, 1 << 20);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct pollfd fds[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
  int c_open = 1, s_open = 1, cut = 0;
  while ((c_open || s_open) && !cut) {
    fds[0].fd = c_open ? c : -1;
    fds[1].fd = s_open ? s : -1;
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (c_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      int r = move(c, s, pu, 1, &cut, &first);
      if (r < 0) break;
      if (r == 0) {
        c_open = 0;
        shutdown(s, SHUT_WR);
      }
    }
    if (s_open && !cut && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      int r = move(s, c, pd, 0, &cut, &first);
      if (r < 0) break;
      if (r == 0) {
        s_open = 0;
        shutdown(c, SHUT_WR);
      }
    }
  }
  if (c_open || s_open) {
    reset(c);
    reset(s);
  } else {
    close(c);
    close(s);
  }
out:
  if (cut_before > 0 && first > 0) {
    pthread_mutex_lock(&mu);
    if (ndead < MAX_CUTS) {
      dead_reconnect[ndead] = (accepted - cut_before) * 1e3;
      dead_first_byte[ndead] = (first - accepted) * 1e3;
      ndead++;
    }
    pthread_mutex_unlock(&mu);
  }
  for (int i = 0; i < 2; i++) {
    if (pu[i] >= 0) close(pu[i]);
    if (pd[i] >= 0) close(pd[i]);
  }
  save_stats();
  return NULL;
}

int main(int argc, char **argv) {
  const char *port_file = NULL, *tgt = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--listen-port-file")) port_file = argv[i + 1];
    else if (!strcmp(argv[i], "--target")) tgt = argv[i + 1];
    else if (!strcmp(argv[i], "--cut-every")) cut_every = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--cuts")) max_cuts = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--stats")) stats_path = argv[i + 1];
    else {
      fprintf(stderr, "cut_relay: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const char *colon = tgt ? strrchr(tgt, ':') : NULL;
  if (!port_file || !colon) {
    fprintf(stderr, "usage: cut_relay --listen-port-file F --target 127.0.0.1:PORT "
                    "[--cut-every B] [--cuts N] [--stats F]\n");
    return 2;
  }
  char host[64];
  snprintf(host, sizeof host, "%.*s", (int)(colon - tgt), tgt);
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
    fprintf(stderr, "cut_relay: %s: not an IPv4 address\n", host);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 64) < 0 ||
      getsockname(l, (struct sockaddr *)&a, &al) < 0) {
    perror("cut_relay: listen");
    return 1;
  }
  save_stats();
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
  FILE *f = fopen(tmp, "w");
  if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 ||
      rename(tmp, port_file) != 0) {
    perror("cut_relay: port file");
    return 1;
  }
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      perror("cut_relay: accept");
      return 1;
    }
    pthread_mutex_lock(&mu);
    conns++;
    pthread_mutex_unlock(&mu);
    conn_t *cn = malloc(sizeof *cn);
    pthread_t t;
    if (!cn) {
      reset(c);
      continue;
    }
    cn->fd = c;
    cn->accepted = now();
    if (pthread_create(&t, NULL, conn_main, cn) != 0) {
      free(cn);
      reset(c);
      continue;
    }
    pthread_detach(t);
  }
}
