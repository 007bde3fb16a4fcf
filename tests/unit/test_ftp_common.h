/* Shared by the FTP unit tests: a recording client, and scripted data
 * connections in place of sockets (the nt__ftp_net_ops hook): a passive
 * "connect" or an active "accept" becomes an in-memory transport whose peer
 * (the test) sends a script of bytes, then ends, resets or stalls. */
#ifndef NETTOOL_TEST_FTP_COMMON_H
#define NETTOOL_TEST_FTP_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ftp-int.h"
#include "nettool/ftp.h"
#include "nettool/testing.h"
#include "nettool/transport.h"

static nt_reactor_t *R;

/* --- what happened, as text ------------------------------------------------- */

typedef struct {
  char log[16384];
  size_t len;
  int closed;
  int close_status;
  nt_ftp_where_t where; /* nt_ftp_failure_where at `closed` */
  int ready;
  char data[65536]; /* what the sink got */
  size_t data_len;
  int sink_eagain; /* the sink answers NT_EAGAIN this many times */
} rec_t;

static rec_t rec;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(rec.log + rec.len, sizeof rec.log - rec.len, fmt, ap);
  va_end(ap);
  if (n > 0) rec.len += (size_t)n;
  if (rec.len >= sizeof rec.log) rec.len = sizeof rec.log - 1;
}

static void on_ready(nt_ftp_t *f, void *arg) {
  (void)f, (void)arg;
  rec.ready++;
}

static void on_closed(nt_ftp_t *f, void *arg, int status) {
  (void)arg;
  rec.closed++;
  rec.close_status = status;
  rec.where = nt_ftp_failure_where(f);
  logf_("closed:%s\n", status ? nt_err_name(status) : "ok");
}

static const nt_ftp_callbacks_t test_cbs = {.ready = on_ready, .closed = on_closed};

/* "name:status:code[text]" with newlines of the text shown as '|' */
static void done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *r) {
  (void)f;
  char text[512];
  size_t i = 0;
  for (; r->text[i] && i < sizeof text - 1; i++)
    text[i] = r->text[i] == '\n' ? '|' : r->text[i];
  text[i] = 0;
  logf_("%s:%s:%d[%s]", (const char *)arg, r->status ? nt_err_name(r->status) : "ok",
        r->code, text);
  if (r->bytes) logf_(" bytes=%llu", (unsigned long long)r->bytes);
  if (r->size != UINT64_MAX) logf_(" size=%llu", (unsigned long long)r->size);
  if (r->path[0]) logf_(" path=%s", r->path);
  if (r->mtime >= 0) logf_(" mtime=%lld", (long long)r->mtime);
  logf_("\n");
}

static int sink_data(void *ctx, const char *p, size_t n) {
  (void)ctx;
  if (rec.data_len + n <= sizeof rec.data) {
    memcpy(rec.data + rec.data_len, p, n);
    rec.data_len += n;
  }
  if (rec.sink_eagain > 0) {
    rec.sink_eagain--;
    return NT_EAGAIN;
  }
  return 0;
}

static const nt_ftp_sink_t test_sink __attribute__((unused)) = {.data = sink_data};

__attribute__((unused)) static void on_line(void *arg, const char *line, size_t len,
                    const nt_ftp_entry_t *e) {
  (void)arg;
  if (e)
    logf_("  entry %.*s type=%d size=%lld mtime=%lld\n", (int)e->name_len, e->name,
          (int)e->type, e->size == UINT64_MAX ? -1LL : (long long)e->size,
          (long long)e->mtime);
  else
    logf_("  line %.*s\n", (int)len, line);
}

/* --- scripted data connections ------------------------------------------------ */

typedef enum {
  DATA_SEND_EOF,   /* send the script, then end cleanly */
  DATA_SEND_RESET, /* send the script, then reset */
  DATA_REFUSE,     /* passive connect fails: connection refused */
  DATA_HOLD,       /* connect, send nothing until the test says */
  DATA_PENDING,    /* passive connect: never completes (nor fails) */
} data_mode_t;

typedef struct {
  int used;
  int listening;
  char addr[NT_ADDRSTRLEN]; /* connected to / listened on */
  nt_factory_t *fac;
  int cancelled;
  int pending; /* DATA_PENDING: the connect hangs until cancelled */
  int unlistened;
  nt_test_transport_t *tt; /* the data connection, once made */
} fake_t;

#define MAX_FAKES 16
static fake_t fakes[MAX_FAKES];
static int nfakes;
static data_mode_t data_mode;
static int sync_open; /* the connection is made inside connect/listen */
static const char *data_script;
static size_t data_script_len;
static const char *accept_from = "127.0.0.1"; /* active: who connects */

/* Makes the data connection of fake i: the peer sends the script. */
static void fake_open(fake_t *fk) {
  struct sockaddr_storage ss;
  socklen_t len;
  nt_addr_parse(fk->listening ? accept_from : "127.0.0.1", 20, &ss, &len);
  nt_protocol_t *p = fk->fac->ops->build_protocol(fk->fac, (struct sockaddr *)&ss, len);
  if (!p) return; /* refused */
  fk->tt = nt_test_transport_new(R, p);
  if (data_mode == DATA_HOLD) return;
  if (data_script_len) nt_test_feed(fk->tt, data_script, data_script_len);
  if (data_mode == DATA_SEND_RESET)
    nt_test_reset(fk->tt);
  else
    nt_test_feed_eof(fk->tt);
}

static void fake_connect_cb(void *arg) {
  fake_t *fk = arg;
  if (fk->cancelled) {
    fk->fac->ops->connection_failed(fk->fac, NULL, NT_ECANCELED);
    return;
  }
  if (data_mode == DATA_PENDING) {
    fk->pending = 1;
    return;
  }
  if (data_mode == DATA_REFUSE) {
    fk->fac->ops->connection_failed(fk->fac, NULL, NT_ECONNREFUSED);
    return;
  }
  fake_open(fk);
}

static int fake_connect(nt_reactor_t *r, const struct sockaddr *sa,
                        socklen_t len, nt_factory_t *fac,
                        const nt_tcp_connect_options_t *o, void **handle) {
  (void)len, (void)o;
  assert_true(nfakes < MAX_FAKES);
  fake_t *fk = &fakes[nfakes++];
  memset(fk, 0, sizeof *fk);
  fk->used = 1;
  fk->fac = fac;
  nt_addr_format(sa, fk->addr, sizeof fk->addr);
  *handle = fk;
  if (sync_open)
    fake_connect_cb(fk);
  else
    nt_call_soon(r, fake_connect_cb, fk); /* from the loop, as TCP does */
  return 0;
}

/* As the TCP connector does: a cancelled connect reports
 * connection_failed(NT_ECANCELED), from the loop (its factory frees its
 * state there). */
static void fake_cancel(void *h) {
  fake_t *fk = h;
  fk->cancelled = 1;
  if (fk->pending) {
    fk->pending = 0;
    nt_call_soon(R, fake_connect_cb, fk);
  }
}

static int auto_accept = 1;

static void fake_accept_cb(void *arg) {
  fake_t *fk = arg;
  if (!fk->unlistened && auto_accept) fake_open(fk);
}

static int fake_listen(nt_reactor_t *r, const char *addr, nt_factory_t *fac,
                       void **handle, int *port) {
  assert_true(nfakes < MAX_FAKES);
  fake_t *fk = &fakes[nfakes++];
  memset(fk, 0, sizeof *fk);
  fk->used = 1;
  fk->listening = 1;
  fk->fac = fac;
  snprintf(fk->addr, sizeof fk->addr, "%s", addr);
  *handle = fk;
  *port = 40123;
  if (!sync_open) nt_call_soon(r, fake_accept_cb, fk);
  return 0;
}

static void fake_unlisten(void *h) { ((fake_t *)h)->unlistened = 1; }

/* The kernel's send queue of a data connection, played by the test: bytes
 * the "socket" took that the server has not acknowledged yet (on top of
 * the transport's own queue, as nt_transport_unacked counts). */
static uint64_t fake_kernel_unacked;

static int fake_unacked(nt_transport_t *t, uint64_t *out) {
  *out = nt_transport_write_buffer_size(t) + fake_kernel_unacked;
  return 0;
}

static const nt__ftp_net_ops_t fake_net = {
    .connect = fake_connect,
    .cancel = fake_cancel,
    .listen = fake_listen,
    .unlisten = fake_unlisten,
    .unacked = fake_unacked,
};

static void fakes_free(void) {
  for (int i = 0; i < nfakes; i++)
    if (fakes[i].tt) nt_test_transport_free(fakes[i].tt);
  nfakes = 0;
  nt_test_run_pending(R);
}

static void data_plan(data_mode_t mode, const char *script) {
  data_mode = mode;
  data_script = script;
  data_script_len = script ? strlen(script) : 0;
}

/* --- the client --------------------------------------------------------------------- */

static nt_ftp_options_t test_opts;

static nt_ftp_t *client_new(void) {
  nt_ftp_t *f;
  memset(&rec, 0, sizeof rec);
  assert_int_equal(nt_ftp_new(R, &test_opts, &test_cbs, NULL, &f), 0);
  return f;
}

static int common_setup(void **state) {
  (void)state;
  assert_int_equal(nt_test_reactor_new(&R), 0);
  nt__ftp_net_ops = &fake_net;
  memset(&test_opts, 0, sizeof test_opts);
  data_plan(DATA_SEND_EOF, NULL);
  accept_from = "127.0.0.1";
  auto_accept = 1;
  sync_open = 0;
  fake_kernel_unacked = 0;
  nfakes = 0;
  return 0;
}

static int common_teardown(void **state) {
  (void)state;
  fakes_free();
  nt__ftp_net_ops = &nt__ftp_tcp_net_ops;
  /* The data transports are the test's (fakes_free above); anything else
   * still live was left behind by the client. */
  assert_int_equal(nt_test_reactor_free(R), 0);
  return 0;
}

/* Compares the log (and what the client sent) with what is expected. */
static const char *expect_log;
static const char *expect_out;

__attribute__((unused)) static void check_log(void *arg, nt_test_transport_t *tt,
                                          const char *how) {
  (void)arg;
  if (strcmp(rec.log, expect_log))
    fail_msg("%s:\n got:\n%s\n want:\n%s", how, rec.log, expect_log);
  if (expect_out && strcmp(nt_test_output(tt, NULL), expect_out))
    fail_msg("%s: sent:\n%s\n want:\n%s", how, nt_test_output(tt, NULL), expect_out);
  fakes_free();
}

#endif
