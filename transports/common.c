/* Transport helpers shared by all transports: addresses, ports, limits. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nettool/transport.h"
#include "stream-int.h"


/* dup(2) with close-on-exec; returns the new fd or a negative code. */
int nt__dup_cloexec(int fd) {
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return d < 0 ? -errno : d;
}

int nt_transport_write_str(nt_transport_t *t, const char *s) {
  return nt_transport_write(t, s, strlen(s));
}

void nt_transport_set_write_limits(nt_transport_t *t, uint32_t high,
                                   uint32_t low) {
  if (low > high) low = high;
  t->high_water = high;
  t->low_water = low;
}

void nt_transport_set_protocol(nt_transport_t *t, nt_protocol_t *p) {
  t->protocol = p;
  if (p) p->transport = t;
}

char *nt_addr_format(const struct sockaddr *sa, char *buf, size_t size) {
  char host[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
  } else {
    snprintf(buf, size, "(family %d)", sa->sa_family);
  }
  return buf;
}

int nt_port_parse(const char *s, int allow_zero) {
  if (!s || !*s) return NT_EBADPORT;
  long v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return NT_EBADPORT;
    v = v * 10 + (*p - '0');
    if (v > 65535) return NT_EBADPORT;
  }
  if (v == 0 && !allow_zero) return NT_EBADPORT;
  return (int)v;
}

int nt_addr_parse(const char *host, int port, struct sockaddr_storage *ss,
                  socklen_t *len) {
  if (port < 0 || port > 65535) return NT_EBADPORT;
  memset(ss, 0, sizeof *ss);
  if (!host || !*host) return NT_EBADADDR;
  char buf[INET6_ADDRSTRLEN + 2];
  size_t hl = strlen(host);
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
    if (hl - 2 >= sizeof buf) return NT_EBADADDR;
    memcpy(buf, host + 1, hl - 2);
    buf[hl - 2] = 0;
    host = buf;
  }
  struct sockaddr_in *in = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    *len = sizeof *in;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof *in6;
    return 0;
  }
  return NT_EBADADDR;
}
