/* DNS benchmark: resolve N distinct names (n1.test .. nN.test)
 *   nettool: all at once through the reactor-driven resolver, ROUNDS times,
 *            printing time per round and resident memory after each round;
 *   glibc:   one after another with getaddrinfo (the classic blocking way).
 * Run inside the namespace set up by dns_bench.sh, where /etc/resolv.conf
 * points at a local dnsmasq on 127.0.0.1:53.
 *
 *   dns_bench nettool N ROUNDS
 *   dns_bench glibc N
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettool/resolve.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
  if (f) fclose(f);
  return v;
}

static int ok, failed;
static void cb(void *arg, int status, const nt_address_t *a, size_t n) {
  (void)arg, (void)a, (void)n;
  if (status) failed++; else ok++;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int n = atoi(argv[2]);
  char name[64];
  if (!strcmp(argv[1], "glibc")) {
    double t0 = now_s();
    int good = 0;
    for (int i = 1; i <= n; i++) {
      snprintf(name, sizeof name, "n%d.test", i);
      struct addrinfo hints = {0}, *res;
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_family = AF_INET;
      if (getaddrinfo(name, NULL, &hints, &res) == 0) {
        good++;
        freeaddrinfo(res);
      }
    }
    printf("glibc n=%d ok=%d seconds=%.4f\n", n, good, now_s() - t0);
    return good == n ? 0 : 1;
  }
  int rounds = argc > 3 ? atoi(argv[3]) : 1;
  nt_reactor_t *r;
  nt_reactor_new(&r, NULL);
  nt_resolver_options_t o = {0};
  o.tries = 3;
  if (getenv("NOHOSTS")) o.no_hosts_file = 1;
  if (getenv("WINDOW")) o.max_inflight = atoi(getenv("WINDOW"));
  nt_resolver_t *res;
  if (nt_resolver_new(r, &o, &res)) return 1;
  double best = 1e9;
  for (int k = 0; k < rounds; k++) {
    ok = failed = 0;
    double t0 = now_s();
    for (int i = 1; i <= n; i++) {
      snprintf(name, sizeof name, "n%d.test", i);
      nt_resolve(res, name, 0, AF_INET, cb, NULL, NULL);
    }
    nt_reactor_run(r);
    double dt = now_s() - t0;
    if (dt < best) best = dt;
    printf("nettool round=%d n=%d ok=%d failed=%d seconds=%.4f rss_kib=%ld\n", k + 1,
           n, ok, failed, dt, rss_kib());
  }
  printf("nettool best seconds=%.4f\n", best);
  nt_resolver_free(res);
  nt_reactor_free(r);
  return failed ? 1 : 0;
}
