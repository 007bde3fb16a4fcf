/* udp_load HOST PORT SOCKETS SECONDS [SIZE]: a closed-loop UDP load
 * generator (raw epoll, no nettool code) for tests/bench/udp_bench.sh.
 * SOCKETS connected UDP sockets each keep one datagram of SIZE bytes (64)
 * in flight: a reply sends the next; a datagram with no reply after 200 ms
 * is counted lost and sent again. Prints "replies N lost L seconds S". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: udp_load HOST PORT SOCKETS SECONDS [SIZE]\n");
    return 2;
  }
  int n = atoi(argv[3]);
  double secs = atof(argv[4]);
  size_t size = argc > 5 ? (size_t)atoi(argv[5]) : 64;
  if (n < 1 || n > 4096 || secs <= 0 || size < 1 || size > 65000) return 2;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
  int ep = epoll_create1(0);
  int *fds = calloc((size_t)n, sizeof *fds);
  double *sent_at = calloc((size_t)n, sizeof *sent_at);
  char *msg = malloc(size), buf[65536];
  if (!fds || !sent_at || !msg || ep < 0) return 1;
  memset(msg, 'x', size);
  double t0 = now();
  for (int i = 0; i < n; i++) {
    fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof a) < 0) {
      perror("socket");
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    send(fds[i], msg, size, 0);
    sent_at[i] = t0;
  }
  unsigned long replies = 0, lost = 0;
  double end = t0 + secs, last_check = t0;
  struct epoll_event evs[256];
  for (;;) {
    double t = now();
    if (t >= end) break;
    int k = epoll_wait(ep, evs, 256, 50);
    t = now();
    for (int j = 0; j < k; j++) {
      int i = (int)evs[j].data.u32;
      for (;;) {
        ssize_t r = recv(fds[i], buf, sizeof buf, 0);
        if (r < 0) break; /* EAGAIN, or ECONNREFUSED: the timer resends */
        replies++;
        send(fds[i], msg, size, 0);
        sent_at[i] = t;
      }
    }
    if (t - last_check > 0.05) {
      last_check = t;
      for (int i = 0; i < n; i++)
        if (t - sent_at[i] > 0.2) {
          lost++;
          send(fds[i], msg, size, 0);
          sent_at[i] = t;
        }
    }
  }
  printf("replies %lu lost %lu seconds %.3f\n", replies, lost, now() - t0);
  return 0;
}
