/* Timestamp server: "[<ctime>]: <data>" for each TCP chunk or UDP datagram.
 * The reply goes out as one writev of the cached prefix and the caller's
 * bytes, so the echo path allocates nothing and copies nothing when the
 * socket takes it. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nettool/timestamp.h"
#include "nettool/transport.h"
#include "reactor-int.h"

size_t nt_ts_prefix(nt_reactor_t *r, char *buf, size_t size) {
  /* localtime_r and strftime cost far more than the echo itself; the text
   * changes once a second, so each thread keeps the last one. */
  static __thread time_t cached_sec = (time_t)-1;
  static __thread char cached[NT_TS_PREFIX_MAX];
  static __thread size_t cached_len;
  struct timespec ts;
  nt_reactor_walltime(r, &ts);
  if (ts.tv_sec != cached_sec) {
    struct tm tm;
    char when[48];
    localtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", &tm);
    cached_len = (size_t)snprintf(cached, sizeof cached, "[%s]: ", when);
    cached_sec = ts.tv_sec;
  }
  size_t n = cached_len < size ? cached_len : (size ? size - 1 : 0);
  if (size) {
    memcpy(buf, cached, n);
    buf[n] = 0;
  }
  return n;
}

/* --- TCP ------------------------------------------------------------------- */

static void ts_data_received(nt_protocol_t *p, const char *data, size_t len) {
  char prefix[NT_TS_PREFIX_MAX];
  size_t plen = nt_ts_prefix(p->transport->reactor, prefix, sizeof prefix);
  struct iovec iov[2] = {{prefix, plen}, {(void *)data, len}};
  nt_transport_writev(p->transport, iov, 2);
}

/* Backpressure: a client that sends and never reads would otherwise make
 * the server queue every reply. Once the replies waiting for it pass the
 * transport's high-water mark, stop reading its requests (the kernel's
 * buffers then fill and its sends block); go on when they drained below the
 * low-water mark. On TLS the TLS transport does the same to the TCP socket
 * under it, so at most about two high-water marks (plaintext above TLS,
 * ciphertext below) are held per connection. */
static void ts_pause_writing(nt_protocol_t *p) {
  nt_transport_pause_reading(p->transport);
}

static void ts_resume_writing(nt_protocol_t *p) {
  nt_transport_resume_reading(p->transport);
}

static void ts_destroy(nt_protocol_t *p) { nt__free(p); }

static const nt_protocol_ops_t ts_server_ops = {
    .data_received = ts_data_received,
    .pause_writing = ts_pause_writing,
    .resume_writing = ts_resume_writing,
    .destroy = ts_destroy,
};

static nt_protocol_t *ts_build(nt_factory_t *f, const struct sockaddr *peer,
                               socklen_t len) {
  (void)f;
  (void)peer;
  (void)len;
  nt_protocol_t *p = nt__malloc(sizeof *p);
  if (p) nt_protocol_init(p, &ts_server_ops);
  return p;
}

static const nt_factory_ops_t ts_factory_ops = {.build_protocol = ts_build};

void nt_ts_server_factory_init(nt_factory_t *f) {
  f->ops = &ts_factory_ops;
  f->data = NULL;
}

/* --- UDP ------------------------------------------------------------------------ */

static void ts_datagram(nt_datagram_protocol_t *p, const char *data,
                        size_t len, const struct sockaddr *from,
                        socklen_t fromlen) {
  char prefix[NT_TS_PREFIX_MAX];
  size_t plen = nt_ts_prefix(nt_udp_reactor(p->udp), prefix, sizeof prefix);
  struct iovec iov[2] = {{prefix, plen}, {(void *)data, len}};
  /* A full socket buffer drops the reply, as the network could have. */
  nt_udp_sendtov(p->udp, iov, 2, from, fromlen);
}

static void ts_udp_destroy(nt_datagram_protocol_t *p) { nt__free(p); }

static const nt_datagram_protocol_ops_t ts_udp_ops = {
    NULL, ts_datagram, NULL, NULL, ts_udp_destroy};

nt_datagram_protocol_t *nt_ts_udp_server_new(void) {
  nt_datagram_protocol_t *p = nt__calloc(1, sizeof *p);
  if (p) p->ops = &ts_udp_ops;
  return p;
}
