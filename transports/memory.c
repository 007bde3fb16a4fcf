/* The in-memory transport of the test reactor: the stream core over a
 * "socket" that is a byte buffer the test reads, with an adjustable room to
 * simulate short writes, and an input backlog that respects pause_reading. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nettool/testing.h"
#include "reactor-int.h"
#include "stream-int.h"

struct nt_test_transport_s {
  nt__stream_t s;
  char *out; /* what the socket took; always NUL-terminated */
  size_t out_len, out_cap;
  size_t room;
  char *in; /* fed while the protocol was not reading */
  size_t in_len;
  int in_eof; /* the peer's EOF, after the backlog */
  int peer_eof;
  int lost;
  int lost_status;
  int pump_queued;
};

static const nt_transport_ops_t mem_ops;

static int out_append(nt_test_transport_t *tt, const void *p, size_t n) {
  if (tt->out_len + n + 1 > tt->out_cap) {
    size_t cap = tt->out_cap ? tt->out_cap : 256;
    while (cap < tt->out_len + n + 1) cap *= 2;
    char *o = nt__realloc(tt->out, cap);
    if (!o) return NT_ENOMEM;
    tt->out = o;
    tt->out_cap = cap;
  }
  memcpy(tt->out + tt->out_len, p, n);
  tt->out_len += n;
  tt->out[tt->out_len] = 0;
  return 0;
}

static ssize_t mem_sendv(nt__stream_t *s, const struct iovec *iov, int n) {
  nt_test_transport_t *tt = (nt_test_transport_t *)s;
  size_t taken = 0;
  for (int i = 0; i < n && tt->room; i++) {
    size_t k = iov[i].iov_len < tt->room ? iov[i].iov_len : tt->room;
    if (out_append(tt, iov[i].iov_base, k)) return NT_ENOMEM;
    if (tt->room != SIZE_MAX) tt->room -= k;
    taken += k;
    if (k < iov[i].iov_len) break;
  }
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if (taken == 0 && total > 0) return NT_EAGAIN;
  return (ssize_t)taken;
}

static ssize_t mem_sendfile(nt__stream_t *s, int fd, uint64_t *off,
                            size_t len) {
  nt_test_transport_t *tt = (nt_test_transport_t *)s;
  if (!tt->room) return NT_EAGAIN;
  char buf[16384];
  size_t want = len < sizeof buf ? len : sizeof buf;
  if (want > tt->room) want = tt->room;
  ssize_t n = pread(fd, buf, want, (off_t)*off);
  if (n < 0) return NT_EIO;
  if (n == 0) return 0;
  if (out_append(tt, buf, (size_t)n)) return NT_ENOMEM;
  if (tt->room != SIZE_MAX) tt->room -= (size_t)n;
  *off += (uint64_t)n;
  return n;
}

static void mem_want_write(nt__stream_t *s, int on) {
  (void)s;
  (void)on; /* flushed when the test drains */
}

static int reading(const nt_test_transport_t *tt) {
  return !(tt->s.base.flags &
           (NT_TRANSPORT_READ_PAUSED | NT_TRANSPORT_CLOSING |
            NT_TRANSPORT_CLOSED | NT_TRANSPORT_EOF_RECEIVED));
}

/* Delivers the input backlog, then a pending EOF. */
static void pump_input(nt_test_transport_t *tt) {
  while (tt->in_len && reading(tt)) {
    /* Hand over a private copy: the protocol may feed more during the call. */
    char *data = tt->in;
    size_t len = tt->in_len;
    tt->in = NULL;
    tt->in_len = 0;
    nt__stream_deliver(&tt->s, data, len);
    nt__free(data);
  }
  if (tt->in_eof && !tt->in_len && reading(tt)) {
    tt->in_eof = 0;
    nt__stream_deliver_eof(&tt->s);
  }
}

static void pump_cb(void *arg) {
  nt_test_transport_t *tt = arg;
  tt->pump_queued = 0;
  pump_input(tt);
}

static void mem_read_enable(nt__stream_t *s, int on) {
  nt_test_transport_t *tt = (nt_test_transport_t *)s;
  if (on && (tt->in_len || tt->in_eof) && !tt->pump_queued) {
    /* Resumed reading gets its backlog from the loop, as a socket would. */
    tt->pump_queued = 1;
    nt_reactor_ref(s->base.reactor);
    if (nt_call_soon(s->base.reactor, pump_cb, tt)) tt->pump_queued = 0;
    nt_reactor_unref(s->base.reactor);
  }
}

static int mem_shutdown_write(nt__stream_t *s) {
  ((nt_test_transport_t *)s)->peer_eof = 1;
  return 0;
}

static void mem_close(nt__stream_t *s) {
  ((nt_test_transport_t *)s)->peer_eof = 1;
}

static void mem_free(nt__stream_t *s) {
  nt_test_transport_t *tt = (nt_test_transport_t *)s;
  tt->lost = 1;
  tt->lost_status = s->close_status;
}

static const nt__stream_io_t mem_stream_io = {
    .sendv = mem_sendv,
    .sendfile = mem_sendfile,
    .want_write = mem_want_write,
    .read_enable = mem_read_enable,
    .shutdown_write = mem_shutdown_write,
    .close = mem_close,
    .free = mem_free,
};

static int mem_peer(nt_transport_t *t, struct sockaddr_storage *ss,
                    socklen_t *len) {
  (void)t;
  return nt_addr_parse("127.0.0.1", 40000, ss, len);
}

static int mem_host(nt_transport_t *t, struct sockaddr_storage *ss,
                    socklen_t *len) {
  (void)t;
  return nt_addr_parse("127.0.0.1", 50000, ss, len);
}

static const nt_transport_ops_t mem_ops = {
    .name = "memory",
    .writev = nt__stream_writev,
    .write_file = nt__stream_write_file,
    .write_eof = nt__stream_write_eof,
    .lose_connection = nt__stream_lose_connection,
    .abort = nt__stream_abort,
    .pause_reading = nt__stream_pause_reading,
    .resume_reading = nt__stream_resume_reading,
    .peer_address = mem_peer,
    .host_address = mem_host,
    .write_buffer_size = nt__stream_write_buffer_size,
};

nt_test_transport_t *nt_test_transport_new(nt_reactor_t *r, nt_protocol_t *p) {
  nt_test_transport_t *tt = nt__calloc(1, sizeof *tt);
  if (!tt) return NULL;
  nt__stream_init(&tt->s, r, &mem_ops, &mem_stream_io);
  tt->room = SIZE_MAX;
  nt__stream_start(&tt->s, p);
  return tt;
}

void nt_test_transport_free(nt_test_transport_t *tt) {
  if (!tt) return;
  nt_reactor_t *r = tt->s.base.reactor;
  if (!tt->lost) {
    nt__stream_abort(&tt->s.base, NT_ECONNABORTED);
    for (int i = 0; i < 100 && !tt->lost; i++) nt_test_run_pending(r);
  }
  nt__free(tt->out);
  nt__free(tt->in);
  nt__free(tt);
}

nt_transport_t *nt_test_transport_base(nt_test_transport_t *tt) {
  return &tt->s.base;
}

void nt_test_feed(nt_test_transport_t *tt, const void *data, size_t len) {
  if (tt->s.base.flags & NT_TRANSPORT_CLOSED || tt->in_eof) return;
  if (!len) return;
  if (!tt->in_len && reading(tt)) {
    nt__stream_deliver(&tt->s, data, len);
    return;
  }
  char *in = nt__realloc(tt->in, tt->in_len + len);
  if (!in) return;
  memcpy(in + tt->in_len, data, len);
  tt->in = in;
  tt->in_len += len;
  pump_input(tt);
}

void nt_test_feed_str(nt_test_transport_t *tt, const char *s) {
  nt_test_feed(tt, s, strlen(s));
}

void nt_test_feed_eof(nt_test_transport_t *tt) {
  if (tt->s.base.flags & NT_TRANSPORT_CLOSED) return;
  tt->in_eof = 1;
  pump_input(tt);
}

void nt_test_reset(nt_test_transport_t *tt) {
  nt__stream_fail(&tt->s, NT_ECONNRESET);
}

const char *nt_test_output(nt_test_transport_t *tt, size_t *len) {
  if (len) *len = tt->out_len;
  return tt->out ? tt->out : "";
}

void nt_test_output_clear(nt_test_transport_t *tt) {
  tt->out_len = 0;
  if (tt->out) tt->out[0] = 0;
}

void nt_test_set_room(nt_test_transport_t *tt, size_t room) {
  tt->room = room;
}

void nt_test_drain(nt_test_transport_t *tt, size_t n) {
  if (tt->room != SIZE_MAX) tt->room = (SIZE_MAX - tt->room < n) ? SIZE_MAX - 1 : tt->room + n;
  nt__stream_flush(&tt->s);
}

int nt_test_peer_got_eof(const nt_test_transport_t *tt) { return tt->peer_eof; }
int nt_test_is_lost(const nt_test_transport_t *tt) { return tt->lost; }
int nt_test_lost_status(const nt_test_transport_t *tt) {
  return tt->lost_status;
}
int nt_test_reading(const nt_test_transport_t *tt) { return reading(tt); }

/* --- splitting --------------------------------------------------------------- */

static void run_pattern(nt_reactor_t *r, const char *in, size_t len,
                        const size_t *cuts, size_t ncuts, int eof,
                        nt_test_build_fn build, nt_test_check_fn check,
                        void *arg, const char *how) {
  nt_protocol_t *p = build(arg);
  if (!p) return;
  nt_test_transport_t *tt = nt_test_transport_new(r, p);
  if (!tt) return;
  size_t pos = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : len;
    if (end > pos) nt_test_feed(tt, in + pos, end - pos);
    pos = end;
    nt_test_run_pending(r);
  }
  if (eof) {
    nt_test_feed_eof(tt);
    nt_test_run_pending(r);
  }
  check(arg, tt, how);
  nt_test_transport_free(tt);
}

size_t nt_test_each_split(nt_reactor_t *r, const void *input, size_t len,
                          int eof, nt_test_build_fn build,
                          nt_test_check_fn check, void *arg) {
  const char *in = input;
  char how[64];
  size_t runs = 0;
  run_pattern(r, in, len, NULL, 0, eof, build, check, arg, "whole");
  runs++;
  for (size_t k = 1; k < len; k++) {
    snprintf(how, sizeof how, "split at %zu", k);
    run_pattern(r, in, len, &k, 1, eof, build, check, arg, how);
    runs++;
  }
  if (len > 1) {
    size_t *cuts = nt__malloc(len * sizeof *cuts);
    if (cuts) {
      for (size_t k = 0; k + 1 < len; k++) cuts[k] = k + 1;
      run_pattern(r, in, len, cuts, len - 1, eof, build, check, arg,
                  "byte by byte");
      nt__free(cuts);
      runs++;
    }
  }
  return runs;
}

/* --- pairs ---------------------------------------------------------------------- */

struct nt_test_pair_s {
  nt_test_transport_t *a, *b;
  int a_eof_sent, b_eof_sent;
};

nt_test_pair_t *nt_test_pair_new(nt_reactor_t *r, nt_protocol_t *client,
                                 nt_protocol_t *server) {
  nt_test_pair_t *pr = nt__calloc(1, sizeof *pr);
  if (!pr) return NULL;
  pr->a = nt_test_transport_new(r, client);
  pr->b = nt_test_transport_new(r, server);
  if (!pr->a || !pr->b) {
    nt_test_pair_free(pr);
    return NULL;
  }
  return pr;
}

static size_t move(nt_test_transport_t *from, nt_test_transport_t *to,
                   int *eof_sent) {
  size_t n = from->out_len;
  if (n) {
    char *copy = nt__malloc(n);
    if (!copy) return 0;
    memcpy(copy, from->out, n);
    nt_test_output_clear(from);
    nt_test_feed(to, copy, n);
    nt__free(copy);
  }
  if (from->peer_eof && !*eof_sent) {
    *eof_sent = 1;
    if (from->lost && from->lost_status == NT_ECONNRESET)
      nt_test_reset(to);
    else
      nt_test_feed_eof(to);
    n++;
  }
  return n;
}

size_t nt_test_pair_pump(nt_test_pair_t *pr) {
  nt_reactor_t *r = pr->a->s.base.reactor;
  size_t total = 0;
  for (int i = 0; i < 100000; i++) {
    nt_test_run_pending(r);
    size_t n = move(pr->a, pr->b, &pr->a_eof_sent);
    n += move(pr->b, pr->a, &pr->b_eof_sent);
    nt_test_run_pending(r);
    total += n;
    if (!n) break;
  }
  return total;
}

nt_test_transport_t *nt_test_pair_client(nt_test_pair_t *pr) { return pr->a; }
nt_test_transport_t *nt_test_pair_server(nt_test_pair_t *pr) { return pr->b; }

void nt_test_pair_free(nt_test_pair_t *pr) {
  if (!pr) return;
  nt_test_transport_free(pr->a);
  nt_test_transport_free(pr->b);
  nt__free(pr);
}
