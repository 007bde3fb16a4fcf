/* Proxies on the test reactor: the SOCKS5 (RFC 1928/1929) and HTTP CONNECT
 * handshakes run by the glue over the in-memory transport, every proxy
 * reply split at every byte boundary (and byte by byte), followed in the
 * same bytes by the destination's greeting, which must reach the real
 * protocol whole; every failure reply with its NT_EPROXY_* code; the
 * connector's timeout covering the handshake; proxy URLs, no_proxy and the
 * environment read as curl reads them; no password in any log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/errno.h"
#include "nettool/log.h"
#include "nettool/proxy.h"
#include "nettool/tcp.h"
#include "nettool/testing.h"
#include "proxy-int.h"
#include "tcp-int.h"

static nt_reactor_t *R;

/* --- the real protocol behind the tunnel, and its factory ----------------------- */

typedef struct {
  int built, made, done_calls, done_status;
  char got[256];
  size_t got_len;
  int refuse; /* build_protocol returns NULL */
} rec_t;
static rec_t rec;

typedef struct {
  nt_protocol_t base;
} inner_t;

static void in_made(nt_protocol_t *p, nt_transport_t *t) {
  (void)p, (void)t;
  rec.made++;
}
static void in_data(nt_protocol_t *p, const char *d, size_t n) {
  (void)p;
  assert_true(rec.made); /* connection_made came first */
  assert_true(rec.got_len + n < sizeof rec.got);
  memcpy(rec.got + rec.got_len, d, n);
  rec.got_len += n;
}
static void in_destroy(nt_protocol_t *p) { free(p); }
static const nt_protocol_ops_t in_ops = {
    .connection_made = in_made, .data_received = in_data, .destroy = in_destroy};

static nt_protocol_t *f_build(nt_factory_t *f, const struct sockaddr *peer,
                              socklen_t len) {
  (void)f, (void)peer, (void)len;
  rec.built++;
  if (rec.refuse) return NULL;
  inner_t *p = calloc(1, sizeof *p);
  nt_protocol_init(&p->base, &in_ops);
  return &p->base;
}
static const nt_factory_ops_t f_ops = {.build_protocol = f_build};
static nt_factory_t inner_factory = {&f_ops, NULL};

static void glue_cb(void *arg, int status) {
  (void)arg;
  rec.done_calls++;
  rec.done_status = status;
}

/* --- one case: a proxy, a destination, what the proxy says, what we expect -------- */

typedef struct {
  const char *name;
  nt_proxy_t proxy;
  const char *host;
  int port;
  const char *reply; /* the proxy's bytes, then the destination's */
  size_t reply_len;
  const char *sent; /* every byte we must write */
  size_t sent_len;
  int status;         /* the handshake's result */
  const char *tunnel; /* what the real protocol must get (status 0) */
  int eof;            /* the proxy closes after the reply */
} case_t;

static const case_t *cur;

static nt_protocol_t *build_glue(void *arg) {
  const case_t *c = arg;
  memset(&rec, 0, sizeof rec);
  int err = 0;
  nt_protocol_t *g = nt__proxy_glue_new(&c->proxy, c->host, c->port, &inner_factory,
                                        NULL, 0, glue_cb, NULL, &err);
  assert_non_null(g);
  return g;
}

static void check(void *arg, nt_test_transport_t *tt, const char *how) {
  const case_t *c = arg;
  size_t n;
  const char *out = nt_test_output(tt, &n);
  if (c->sent) {
    if (n != c->sent_len || memcmp(out, c->sent, n) != 0)
      fail_msg("%s, %s: wrote %zu bytes, expected %zu", c->name, how, n, c->sent_len);
  }
  if (rec.done_calls != 1) fail_msg("%s, %s: %d results", c->name, how, rec.done_calls);
  if (rec.done_status != c->status)
    fail_msg("%s, %s: status %s, expected %s (%s)", c->name, how,
             nt_err_name(rec.done_status), nt_err_name(c->status), nt_proxy_last_error());
  if (c->status == 0) {
    assert_int_equal(rec.built, 1);
    assert_int_equal(rec.made, 1);
    size_t want = strlen(c->tunnel);
    if (rec.got_len != want || memcmp(rec.got, c->tunnel, want) != 0)
      fail_msg("%s, %s: the protocol got %zu bytes '%.*s'", c->name, how, rec.got_len,
               (int)rec.got_len, rec.got);
    assert_false(nt_test_is_lost(tt));
  } else {
    assert_int_equal(rec.built, 0);
    assert_true(nt_test_is_lost(tt));
    assert_int_equal(nt_test_lost_status(tt), c->status);
    assert_true(strlen(nt_proxy_last_error()) > 0);
  }
}

static void run_case(const case_t *c) {
  cur = c;
  size_t runs = nt_test_each_split(R, c->reply, c->reply_len, c->eof, build_glue, check,
                                   (void *)c);
  assert_true(runs >= c->reply_len);
}

static nt_proxy_t px(int type, const char *user, const char *pass) {
  nt_proxy_t p;
  memset(&p, 0, sizeof p);
  p.type = type;
  p.port = 1080;
  strcpy(p.host, "127.0.0.1");
  if (user) strcpy(p.user, user);
  if (pass) strcpy(p.password, pass);
  return p;
}

#define B(s) s, sizeof(s) - 1

/* --- SOCKS5 --------------------------------------------------------------------------- */

static void test_socks5h_name_no_auth(void **state) {
  (void)state;
  case_t c = {.name = "socks5h, a name, no auth",
              .proxy = px(NT_PROXY_SOCKS5H, NULL, NULL),
              .host = "news.example.test",
              .port = 119,
              .tunnel = "200 news ready\r\n"};
  c.reply = "\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"
            "200 news ready\r\n";
  c.reply_len = 12 + 16;
  c.sent = "\x05\x01\x00\x05\x01\x00\x03\x11news.example.test\x00\x77";
  c.sent_len = 3 + 5 + 17 + 2;
  run_case(&c);
}

static void test_socks5_auth_ipv4(void **state) {
  (void)state;
  static const char reply[] = "\x05\x02"                  /* user/password */
                              "\x01\x00"                  /* accepted */
                              "\x05\x00\x00\x03\x04prox\x00\x50" /* bound to a name */
                              "220 ftp ready\r\n";
  static const char sent[] = "\x05\x02\x00\x02"
                             "\x01\x04user\x06secret"
                             "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x15";
  case_t c = {.name = "socks5, user/password, IPv4",
              .proxy = px(NT_PROXY_SOCKS5, "user", "secret"),
              .host = "127.0.0.1",
              .port = 21,
              .reply = reply,
              .reply_len = sizeof reply - 1,
              .sent = sent,
              .sent_len = sizeof sent - 1,
              .tunnel = "220 ftp ready\r\n"};
  run_case(&c);
}

static void test_socks5_ipv6(void **state) {
  (void)state;
  static const char reply[] =
      "\x05\x00"
      "\x05\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1f\x90"
      "x";
  static const char sent[] =
      "\x05\x01\x00"
      "\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50";
  case_t c = {.name = "socks5h, IPv6 destination",
              .proxy = px(NT_PROXY_SOCKS5H, NULL, NULL),
              .host = "::1",
              .port = 80,
              .reply = reply,
              .reply_len = sizeof reply - 1,
              .sent = sent,
              .sent_len = sizeof sent - 1,
              .tunnel = "x"};
  run_case(&c);
}

static void test_socks5_failures(void **state) {
  (void)state;
  static const struct {
    const char *name, *user, *reply;
    size_t len;
    int status, eof;
  } f[] = {
      {"no acceptable method", NULL, B("\x05\xff"), NT_EPROXY_AUTH, 0},
      {"no acceptable method (with a user)", "u", B("\x05\xff"), NT_EPROXY_AUTH, 0},
      {"password rejected", "u", B("\x05\x02\x01\x01"), NT_EPROXY_AUTH, 0},
      {"ruleset", NULL, B("\x05\x00\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00"), NT_EPROXY_DENIED, 0},
      {"ruleset, then close", NULL, B("\x05\x00\x05\x02"), NT_EPROXY_DENIED, 1},
      {"destination refused", NULL, B("\x05\x00\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00"), NT_EPROXY_TARGET, 0},
      {"host unreachable", NULL, B("\x05\x00\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00"), NT_EPROXY_TARGET, 0},
      {"address type not supported", NULL, B("\x05\x00\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00"), NT_EPROXY_DENIED, 0},
      {"unknown reply", NULL, B("\x05\x00\x05\x42"), NT_EPROXY_PROTO, 0},
      {"SOCKS4 answer", NULL, B("\x00\x5a"), NT_EPROXY_PROTO, 0},
      {"an HTTP proxy", NULL, B("HTTP/1.1 400 Bad Request\r\n\r\n"), NT_EPROXY_PROTO, 0},
      {"method not offered", NULL, B("\x05\x02"), NT_EPROXY_PROTO, 0},
      {"bad auth version", "u", B("\x05\x02\x07\x00"), NT_EPROXY_PROTO, 0},
      {"bad address type", NULL, B("\x05\x00\x05\x00\x00\x09\x00"), NT_EPROXY_PROTO, 0},
      {"closed mid-reply", NULL, B("\x05\x00\x05\x00\x00\x01\x7f"), NT_EPROXY_CLOSED, 1},
      {"closed at once", NULL, "", 0, NT_EPROXY_CLOSED, 1},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    case_t c = {.name = f[i].name,
                .proxy = px(NT_PROXY_SOCKS5H, f[i].user, f[i].user ? "pw" : NULL),
                .host = "127.0.0.1",
                .port = 1,
                .reply = f[i].reply,
                .reply_len = f[i].len,
                .status = f[i].status,
                .eof = f[i].eof};
    run_case(&c);
  }
}

/* --- HTTP CONNECT --------------------------------------------------------------------- */

static void test_connect_auth(void **state) {
  (void)state;
  static const char reply[] = "HTTP/1.0 200 Connection established\r\n"
                              "Proxy-agent: tinyproxy/1.11.1\r\n\r\n"
                              "\x16\x03\x01 hello";
  static const char sent[] = "CONNECT 127.0.0.1:443 HTTP/1.1\r\n"
                             "Host: 127.0.0.1:443\r\n"
                             "Proxy-Authorization: Basic cHJveHl0ZXN0OnByb3h5dGVzdC1wdw==\r\n"
                             "\r\n";
  case_t c = {.name = "CONNECT, basic auth",
              .proxy = px(NT_PROXY_HTTP, "proxytest", "proxytest-pw"),
              .host = "127.0.0.1",
              .port = 443,
              .reply = reply,
              .reply_len = sizeof reply - 1,
              .sent = sent,
              .sent_len = sizeof sent - 1,
              .tunnel = "\x16\x03\x01 hello"};
  run_case(&c);
}

static void test_connect_ipv6_bare_lf(void **state) {
  (void)state;
  static const char reply[] = "HTTP/1.1 200 OK\n\n220 hi\r\n";
  static const char sent[] = "CONNECT [::1]:21 HTTP/1.1\r\nHost: [::1]:21\r\n\r\n";
  case_t c = {.name = "CONNECT, IPv6, bare LF",
              .proxy = px(NT_PROXY_HTTP, NULL, NULL),
              .host = "::1",
              .port = 21,
              .reply = reply,
              .reply_len = sizeof reply - 1,
              .sent = sent,
              .sent_len = sizeof sent - 1,
              .tunnel = "220 hi\r\n"};
  run_case(&c);
}

static void test_connect_failures(void **state) {
  (void)state;
  static char huge[NT__PROXY_MAX_REPLY + 64];
  memset(huge, 'a', sizeof huge - 1);
  memcpy(huge, "HTTP/1.1 200 OK\r\nX: ", 20);
  static const struct {
    const char *name, *reply;
    size_t len;
    int status, eof;
  } f[] = {
      {"407", B("HTTP/1.0 407 Proxy Authentication Required\r\n"
                "Proxy-Authenticate: Basic realm=\"Tinyproxy\"\r\n\r\n<html>"),
       NT_EPROXY_AUTH, 0},
      {"401 (tinyproxy, wrong password)", B("HTTP/1.0 401 Unauthorized\r\n\r\n"), NT_EPROXY_AUTH, 0},
      {"403", B("HTTP/1.0 403 Filtered\r\n\r\n"), NT_EPROXY_DENIED, 0},
      {"405", B("HTTP/1.1 405 Method Not Allowed\r\n\r\n"), NT_EPROXY_DENIED, 0},
      {"500", B("HTTP/1.0 500 Unable to connect\r\n\r\n"), NT_EPROXY_TARGET, 0},
      {"502", B("HTTP/1.1 502 Bad Gateway\r\n\r\n"), NT_EPROXY_TARGET, 0},
      {"not HTTP", B("SSH-2.0-OpenSSH\r\n\r\n"), NT_EPROXY_PROTO, 0},
      {"a SOCKS server", B("\x05\xff\n\n"), NT_EPROXY_PROTO, 0},
      {"bad status", B("HTTP/1.1 2x0 OK\r\n\r\n"), NT_EPROXY_PROTO, 0},
      {"closed in the head", B("HTTP/1.1 200 OK\r\n"), NT_EPROXY_CLOSED, 1},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    case_t c = {.name = f[i].name,
                .proxy = px(NT_PROXY_HTTP, NULL, NULL),
                .host = "127.0.0.1",
                .port = 1,
                .reply = f[i].reply,
                .reply_len = f[i].len,
                .status = f[i].status,
                .eof = f[i].eof};
    run_case(&c);
  }
  /* A head over the limit: fed whole and byte by byte (not every split:
   * 16 K splits of 16 KiB is slow under ASan and proves nothing more). */
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    nt_proxy_t p = px(NT_PROXY_HTTP, NULL, NULL);
    memset(&rec, 0, sizeof rec);
    int err;
    nt_protocol_t *g = nt__proxy_glue_new(&p, "127.0.0.1", 1, &inner_factory, NULL, 0,
                                          glue_cb, NULL, &err);
    nt_test_transport_t *tt = nt_test_transport_new(R, g);
    size_t len = sizeof huge - 1;
    for (size_t off = 0; off < len && !nt_test_is_lost(tt);) {
      size_t n = bytewise ? 1 : len;
      nt_test_feed(tt, huge + off, n);
      off += n;
    }
    nt_test_run_pending(R);
    assert_int_equal(rec.done_status, NT_EPROXY_PROTO);
    assert_true(nt_test_is_lost(tt));
    nt_test_transport_free(tt);
  }
}

/* The factory refuses the tunnel (a dial whose request gave up): closed,
 * and the handshake still counts as done (no connection_failed). */
static void test_refused_by_factory(void **state) {
  (void)state;
  nt_proxy_t p = px(NT_PROXY_SOCKS5H, NULL, NULL);
  memset(&rec, 0, sizeof rec);
  rec.refuse = 1;
  int err;
  nt_protocol_t *g = nt__proxy_glue_new(&p, "h", 1, &inner_factory, NULL, 0, glue_cb,
                                        NULL, &err);
  nt_test_transport_t *tt = nt_test_transport_new(R, g);
  nt_test_feed(tt, "\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x01", 12);
  nt_test_run_pending(R);
  assert_int_equal(rec.built, 1);
  assert_int_equal(rec.done_calls, 1);
  assert_int_equal(rec.done_status, 0);
  assert_true(nt_test_is_lost(tt));
  nt_test_transport_free(tt);
}

/* Bad destinations and credentials are refused before any byte. */
static void test_bad_input(void **state) {
  (void)state;
  nt__proxy_hs_t *hs = malloc(sizeof *hs);
  nt_proxy_t p = px(NT_PROXY_HTTP, NULL, NULL);
  assert_int_equal(nt__proxy_hs_init(hs, &p, "a b", 80), NT_EINVAL);
  assert_int_equal(nt__proxy_hs_init(hs, &p, "a\r\nX: y", 80), NT_EINVAL);
  assert_int_equal(nt__proxy_hs_init(hs, &p, "", 80), NT_EINVAL);
  assert_int_equal(nt__proxy_hs_init(hs, &p, "h", 0), NT_EINVAL);
  char longname[300];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  assert_int_equal(nt__proxy_hs_init(hs, &p, longname, 80), NT_EINVAL);
  p.type = 99;
  assert_int_equal(nt__proxy_hs_init(hs, &p, "h", 80), NT_EINVAL);
  /* feeding a finished machine gives its result again */
  p = px(NT_PROXY_SOCKS5H, NULL, NULL);
  assert_int_equal(nt__proxy_hs_init(hs, &p, "h", 80), 0);
  size_t used;
  assert_int_equal(nt__proxy_hs_feed(hs, "\x05\xff", 2, &used), NT_EPROXY_AUTH);
  assert_int_equal(nt__proxy_hs_feed(hs, "\x05\x00", 2, &used), NT_EPROXY_AUTH);
  assert_int_equal(used, 0);
  free(hs);
}

/* --- the password never reaches a log line ------------------------------------------ */

/* Each line is checked as it comes: the split runs log thousands. */
static const char *const want_lines[] = {
    "> CONNECT 127.0.0.1:443 HTTP/1.1", "> Proxy-Authorization: Basic ****",
    "> SOCKS5 user/password: user ****", "socks5h://user:****@127.0.0.1:1080"};
static int seen[4], leaked;
static void log_cb(int level, const char *line, void *arg) {
  (void)level, (void)arg;
  for (int i = 0; i < 4; i++)
    if (strstr(line, want_lines[i])) seen[i] = 1;
  if (strstr(line, "secret") || strstr(line, "proxytest-pw") ||
      strstr(line, "cHJveHl0ZXN0OnByb3h5dGVzdC1wdw"))
    leaked = 1;
}

static void test_no_password_in_logs(void **state) {
  (void)state;
  memset(seen, 0, sizeof seen);
  leaked = 0;
  int old = nt_log_get_level();
  nt_log_set_handler(log_cb, NULL);
  nt_log_set_level(NT_LOG_DEBUG);
  test_socks5_auth_ipv4(NULL);
  test_connect_auth(NULL);
  test_socks5_failures(NULL); /* "password rejected" names the user only */
  nt_proxy_t p = px(NT_PROXY_SOCKS5H, "user", "secret");
  char fmt[300];
  nt_proxy_format(&p, fmt, sizeof fmt);
  log_cb(0, fmt, NULL);
  nt_log_set_handler(NULL, NULL);
  nt_log_set_level(old);
  for (int i = 0; i < 4; i++)
    if (!seen[i]) fail_msg("no log line with '%s'", want_lines[i]);
  assert_false(leaked);
}

/* --- the connector: the handshake runs under the connect timeout ----------------------- */

typedef struct {
  nt__attempt_cb cb;
  void *arg;
  int cancelled;
  char addr[64];
} fake_t;
static fake_t fake;
static int peer_fd = -1;

static int fake_start(nt_reactor_t *r, const struct sockaddr *sa, socklen_t salen,
                      nt__attempt_cb cb, void *arg, nt__attempt_t **out) {
  (void)r, (void)salen;
  memset(&fake, 0, sizeof fake);
  nt_addr_format(sa, fake.addr, sizeof fake.addr);
  fake.cb = cb;
  fake.arg = arg;
  *out = (nt__attempt_t *)&fake;
  return 0;
}
static void fake_cancel(nt__attempt_t *a) { ((fake_t *)a)->cancelled = 1; }
static const nt__attempt_ops_t fake_ops = {.start = fake_start, .cancel = fake_cancel};

static int cfailed, cstatus;
static void cf_failed(nt_factory_t *f, nt_connector_t *c, int status) {
  (void)f, (void)c;
  cfailed++;
  cstatus = status;
}
static const nt_factory_ops_t cf_ops = {.build_protocol = f_build,
                                        .connection_failed = cf_failed};
static nt_factory_t conn_factory = {&cf_ops, NULL};

static void test_connector_timeout_covers_handshake(void **state) {
  (void)state;
  const nt__attempt_ops_t *saved = nt__attempt_ops;
  nt__attempt_ops = &fake_ops;
  memset(&rec, 0, sizeof rec);
  cfailed = 0;
  nt_proxy_t p = px(NT_PROXY_SOCKS5H, NULL, NULL);
  p.port = 1081;
  nt_tcp_connect_options_t o;
  memset(&o, 0, sizeof o);
  o.timeout_ms = 3000;
  o.proxy = &p;
  nt_connector_t *c;
  /* the destination's name is not resolved here (socks5h): the connector
   * goes straight to the proxy's address */
  assert_int_equal(nt_tcp_connect(R, "news.example.test", 119, &conn_factory, &o, &c), 0);
  assert_string_equal(fake.addr, "127.0.0.1:1081");
  nt_test_clock_advance(R, 1000);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  peer_fd = sv[1];
  fcntl(peer_fd, F_SETFL, O_NONBLOCK);
  /* io_uring's TCP transport writes through the ring, which the test
   * reactor does not drive: there the socket's side is not checked */
  const char *be = getenv("NETTOOL_BACKEND");
  int real_io = !(be && !strcmp(be, "io_uring"));
  fake.cb(fake.arg, (nt__attempt_t *)&fake, 0, sv[0]);
  /* the greeting went out on the new connection */
  char buf[16];
  if (real_io) {
    assert_int_equal(read(peer_fd, buf, sizeof buf), 3);
    assert_memory_equal(buf, "\x05\x01\x00", 3);
  }
  nt_test_clock_advance(R, 1999);
  assert_int_equal(cfailed, 0);
  nt_test_clock_advance(R, 1);
  nt_test_run_pending(R);
  assert_int_equal(cfailed, 1);
  assert_int_equal(cstatus, NT_ETIMEDOUT);
  assert_int_equal(rec.built, 0);
  /* the tunnel's socket was closed */
  if (real_io) assert_int_equal(read(peer_fd, buf, sizeof buf), 0);
  close(peer_fd);
  nt__attempt_ops = saved;
}

static void test_connector_bad_proxy_args(void **state) {
  (void)state;
  nt_proxy_t p = px(NT_PROXY_HTTP, NULL, NULL);
  nt_tcp_connect_options_t o;
  memset(&o, 0, sizeof o);
  o.proxy = &p;
  nt_connector_t *c;
  assert_int_equal(nt_tcp_connect(R, "bad name!", 80, &conn_factory, &o, &c),
                   NT_EDNS_BADNAME);
  assert_int_equal(nt_tcp_connect(R, "h", 0, &conn_factory, &o, &c), NT_EBADPORT);
  p.port = 0;
  assert_int_equal(nt_tcp_connect(R, "h", 80, &conn_factory, &o, &c), NT_EPROXY_BADURL);
}

/* --- URLs, no_proxy, the environment --------------------------------------------------- */

static void test_parse(void **state) {
  (void)state;
  nt_proxy_t p;
  assert_int_equal(nt_proxy_parse("socks5h://u%40x:p%3Aw@proxy.test:1081/", &p), 0);
  assert_int_equal(p.type, NT_PROXY_SOCKS5H);
  assert_string_equal(p.host, "proxy.test");
  assert_int_equal(p.port, 1081);
  assert_string_equal(p.user, "u@x");
  assert_string_equal(p.password, "p:w");
  assert_int_equal(nt_proxy_parse("127.0.0.1:8888", &p), 0);
  assert_int_equal(p.type, NT_PROXY_HTTP);
  assert_int_equal(p.port, 8888);
  assert_int_equal(nt_proxy_parse("HTTP://[::1]", &p), 0);
  assert_string_equal(p.host, "::1");
  assert_int_equal(p.port, 1080);
  assert_int_equal(nt_proxy_parse("socks5://user@h", &p), 0);
  assert_string_equal(p.user, "user");
  assert_string_equal(p.password, "");
  char buf[300];
  assert_int_equal(nt_proxy_parse("socks5://u:pw@[::1]:9", &p), 0);
  assert_string_equal(nt_proxy_format(&p, buf, sizeof buf), "socks5://u:****@[::1]:9");
  static const char *const bad[] = {
      "", "https://h", "socks4://h", "socks://h", "http://", "http://h:0", "http://h:65536",
      "http://h:x", "http://h/path", "http://[::1", "http://[nothex]:1", "http://h h",
      "http://a%zz@h", "http://a%00@h", "http://:pw@h", "http://h\r\n", "ftp://h",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (nt_proxy_parse(bad[i], &p) != NT_EPROXY_BADURL) fail_msg("accepted '%s'", bad[i]);
  char longuser[400] = "http://";
  memset(longuser + 7, 'u', 256);
  strcat(longuser, "@h");
  assert_int_equal(nt_proxy_parse(longuser, &p), NT_EPROXY_BADURL);
}

static void test_no_proxy(void **state) {
  (void)state;
  static const struct {
    const char *list, *host;
    int match;
  } t[] = {
      {"*", "anything.example", 1},
      {"example.com", "example.com", 1},
      {"example.com", "www.example.com", 1},
      {".example.com", "www.example.com", 1},
      {".example.com", "example.com", 1},
      {"example.com", "badexample.com", 0},
      {"example.com", "example.com.evil", 0},
      {"EXAMPLE.com", "www.Example.COM.", 1},
      {"foo, example.com ,bar", "a.example.com", 1},
      {"foo bar", "bar", 1},
      {"localhost", "127.0.0.1", 0},
      {"127.0.0.1", "127.0.0.1", 1},
      {"127.0.0.0/8", "127.1.2.3", 1},
      {"10.0.0.0/8", "127.0.0.1", 0},
      {"192.168.1.0/23", "192.168.0.200", 1},
      {"192.168.1.0/24", "192.168.0.200", 0},
      {"::1", "::1", 1},
      {"::1", "[::1]", 1},
      {"fd00::/8", "fd12:3456::1", 1},
      {"fd00::/8", "fe80::1", 0},
      {"127.0.0.1", "localhost", 0},
      {"", "example.com", 0},
      {"*.example.com", "www.example.com", 0}, /* curl: no wildcards but "*" */
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (nt_proxy_no_proxy_match(t[i].list, t[i].host) != t[i].match)
      fail_msg("no_proxy '%s' host '%s': expected %d", t[i].list, t[i].host, t[i].match);
}

static void clear_env(void) {
  static const char *const v[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                  "ftp_proxy",  "FTP_PROXY",  "all_proxy",   "ALL_PROXY",
                                  "no_proxy",   "NO_PROXY",   "nntp_proxy",  "NNTP_PROXY"};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) unsetenv(v[i]);
}

static void test_env(void **state) {
  (void)state;
  nt_proxy_t p;
  clear_env();
  assert_int_equal(nt_proxy_from_env("http", "h", &p), 0);
  /* HTTP_PROXY is ignored (httpoxy), HTTPS_PROXY is not */
  setenv("HTTP_PROXY", "http://upper:1", 1);
  assert_int_equal(nt_proxy_from_env("http", "h", &p), 0);
  setenv("HTTPS_PROXY", "http://upper:2", 1);
  assert_int_equal(nt_proxy_from_env("https", "h", &p), 1);
  assert_int_equal(p.port, 2);
  setenv("https_proxy", "socks5h://lower:3", 1);
  assert_int_equal(nt_proxy_from_env("https", "h", &p), 1);
  assert_int_equal(p.port, 3);
  assert_int_equal(p.type, NT_PROXY_SOCKS5H);
  setenv("http_proxy", "lower:4", 1);
  assert_int_equal(nt_proxy_from_env("http", "h", &p), 1);
  assert_int_equal(p.port, 4);
  /* all_proxy, then ALL_PROXY; an empty variable counts as unset */
  setenv("FTP_PROXY", "", 1);
  setenv("ALL_PROXY", "socks5://all:5", 1);
  assert_int_equal(nt_proxy_from_env("ftp", "h", &p), 1);
  assert_int_equal(p.port, 5);
  setenv("all_proxy", "socks5://all:6", 1);
  assert_int_equal(nt_proxy_from_env("nntp", "h", &p), 1);
  assert_int_equal(p.port, 6);
  setenv("FTP_PROXY", "ftpup:7", 1);
  assert_int_equal(nt_proxy_from_env("ftp", "h", &p), 1);
  assert_int_equal(p.port, 7);
  /* no_proxy first, NO_PROXY when no_proxy is unset */
  setenv("NO_PROXY", "h", 1);
  assert_int_equal(nt_proxy_from_env("ftp", "h", &p), 0);
  assert_int_equal(nt_proxy_from_env("ftp", "other", &p), 1);
  setenv("no_proxy", "other", 1);
  assert_int_equal(nt_proxy_from_env("ftp", "h", &p), 1);
  assert_int_equal(nt_proxy_from_env("ftp", "other", &p), 0);
  setenv("no_proxy", "*", 1);
  assert_int_equal(nt_proxy_from_env("https", "x.y", &p), 0);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  setenv("all_proxy", "https://nope", 1);
  assert_int_equal(nt_proxy_from_env("nntp", "h", &p), NT_EPROXY_BADURL);
  clear_env();
}

static int setup(void **state) {
  (void)state;
  return nt_test_reactor_new(&R);
}
static int teardown(void **state) {
  (void)state;
  assert_int_equal(nt_test_reactor_free(R), 0);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_socks5h_name_no_auth, setup, teardown),
      cmocka_unit_test_setup_teardown(test_socks5_auth_ipv4, setup, teardown),
      cmocka_unit_test_setup_teardown(test_socks5_ipv6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_socks5_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_auth, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_ipv6_bare_lf, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_by_factory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_password_in_logs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connector_timeout_covers_handshake, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connector_bad_proxy_args, setup, teardown),
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_no_proxy),
      cmocka_unit_test(test_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
