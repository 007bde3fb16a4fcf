/* Endpoint strings (nettool/endpoint.h): every form parses to what it says
 * (checked through the canonical form and the accessors), and every mistake
 * is refused with a message naming it. No sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nettool/endpoint.h"
#include "nettool/errno.h"
#include "nettool/testing.h"

typedef struct {
  const char *spec;
  int role;
  const char *canon;
} good_t;

#define S NT_ENDPOINT_SERVER
#define C NT_ENDPOINT_CLIENT

static const good_t good[] = {
    {"tcp:8080", S, "tcp:port=8080"},
    {"tcp:0", S, "tcp:port=0"},
    {"TCP:80:interface=127.0.0.1", S, "tcp:interface=127.0.0.1:port=80"},
    {"tcp:80:interface=[::1]", S, "tcp:interface=\\:\\:1:port=80"},
    {"tcp:80:interface=\\:\\:1", S, "tcp:interface=\\:\\:1:port=80"},
    {"tcp:port=80:backlog=5", S, "tcp:port=80:backlog=5"},
    {"tcp:example.com:443", C, "tcp:host=example.com:port=443"},
    {"tcp:[::1]:21", C, "tcp:host=\\:\\:1:port=21"},
    {"tcp:host=h:port=1:timeout=2.5", C, "tcp:host=h:port=1:timeout=2.500"},
    {"tcp:port=9:host=h", C, "tcp:host=h:port=9"},
    {"tls:example.com:443", C, "tls:host=example.com:port=443"},
    {"tls:h:443:cacert=/etc/ca.pem", C, "tls:host=h:port=443:cacert=/etc/ca.pem"},
    {"tls:443:cert=c.pem:key=k.pem", S, "tls:port=443:cert=c.pem:key=k.pem"},
    {"tls:443:certKey=c.pem:privateKey=k.pem", S,
     "tls:port=443:cert=c.pem:key=k.pem"},
    {"unix:/run/x.sock", S, "unix:path=/run/x.sock"},
    {"unix:/run/x.sock:mode=0660:backlog=9", S,
     "unix:path=/run/x.sock:mode=0660:backlog=9"},
    {"unix:@abstract", S, "unix:path=@abstract"},
    {"unix:@abstract", C, "unix:path=@abstract"},
    {"unix:address=rel.sock", C, "unix:path=rel.sock"},
    {"unix:/a\\:b", C, "unix:path=/a\\:b"},
    {"unix:/x[1", C, "unix:path=/x[1"},
    {"unix:/p:timeout=1", C, "unix:path=/p:timeout=1.000"},
    {"udp:5353", S, "udp:port=5353"},
    {"udp:5353:interface=0.0.0.0", S, "udp:interface=0.0.0.0:port=5353"},
    {"udp:localhost:53", C, "udp:host=localhost:port=53"},
};

static void test_good(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    nt_endpoint_t *ep = NULL;
    char err[256] = "x", buf[512];
    int rc = nt_endpoint_parse(good[i].spec, good[i].role, &ep, err, sizeof err);
    if (rc) fail_msg("%s: %s", good[i].spec, err);
    assert_string_equal(err, "");
    assert_string_equal(nt_endpoint_format(ep, buf, sizeof buf), good[i].canon);
    assert_int_equal(nt_endpoint_role(ep), good[i].role);
    /* The canonical form parses back to itself. */
    nt_endpoint_t *again = NULL;
    assert_int_equal(nt_endpoint_parse(buf, good[i].role, &again, err, sizeof err), 0);
    char buf2[512];
    assert_string_equal(nt_endpoint_format(again, buf2, sizeof buf2), buf);
    nt_endpoint_free(again);
    nt_endpoint_free(ep);
  }
}

static void test_accessors(void **state) {
  (void)state;
  nt_endpoint_t *ep;
  assert_int_equal(nt_endpoint_parse("tls:h.example:8443:cacert=ca.pem:timeout=0.25",
                                     C, &ep, NULL, 0), 0);
  assert_int_equal(nt_endpoint_kind(ep), NT_ENDPOINT_TLS);
  assert_string_equal(nt_endpoint_host(ep), "h.example");
  assert_int_equal(nt_endpoint_port(ep), 8443);
  assert_string_equal(nt_endpoint_cacert(ep), "ca.pem");
  assert_null(nt_endpoint_path(ep));
  assert_int_equal(nt_endpoint_timeout_ms(ep), 250);
  nt_endpoint_free(ep);
  assert_int_equal(nt_endpoint_parse("unix:@sock", S, &ep, NULL, 0), 0);
  assert_int_equal(nt_endpoint_kind(ep), NT_ENDPOINT_UNIX);
  assert_string_equal(nt_endpoint_path(ep), "@sock");
  assert_int_equal(nt_endpoint_port(ep), -1);
  assert_null(nt_endpoint_host(ep));
  nt_endpoint_free(ep);
  assert_int_equal(nt_endpoint_parse("tcp:7", S, &ep, NULL, 0), 0);
  assert_null(nt_endpoint_host(ep)); /* all interfaces */
  assert_int_equal(nt_endpoint_port(ep), 7);
  nt_endpoint_free(ep);
  nt_endpoint_free(NULL);
}

typedef struct {
  const char *spec;
  int role;
  const char *msg; /* the whole message */
} bad_t;

static const bad_t bad[] = {
    {"", S, ": empty endpoint"},
    {"8080", S, "8080: expected TYPE:ARGS (tcp, tls, unix or udp)"},
    {"sctp:80", S, "sctp:80: unknown type 'sctp' (tcp, tls, unix or udp)"},
    {"tcp:80x", S, "tcp:80x: bad port '80x' (0-65535)"},
    {"tcp:70000", S, "tcp:70000: bad port '70000' (0-65535)"},
    {"tcp:h:0", C, "tcp:h:0: bad port '0' (1-65535)"},
    {"tcp:h", C, "tcp:h: missing port (tcp connecting is tcp:host:port)"},
    {"tcp:", S, "tcp:: empty value for port"},
    {"tcp:80:81", S, "tcp:80:81: unexpected '81': tcp listening takes one port"},
    {"tcp:h:1:2", C, "tcp:h:1:2: unexpected '2': tcp connecting takes host:port"},
    {"tcp:80:interface=localhost", S,
     "tcp:80:interface=localhost: bad interface 'localhost': not a numeric "
     "IPv4 or IPv6 address"},
    {"tcp:80:color=red", S,
     "tcp:80:color=red: unknown key 'color' for tcp listening (port, "
     "interface, backlog)"},
    {"tcp:80:port=81", S, "tcp:80:port=81: port given twice"},
    {"tcp:80:backlog=0", S, "tcp:80:backlog=0: bad backlog '0' (1-65535)"},
    {"tcp:h:80:timeout=-1", C, "tcp:h:80:timeout=-1: bad timeout '-1' (seconds > 0)"},
    {"tcp:h:80:timeout=abc", C, "tcp:h:80:timeout=abc: bad timeout 'abc' (seconds > 0)"},
    {"tcp:[::1:80", C, "tcp:[::1:80: '[' without ']'"},
    {"tcp:a\\b:80", C, "tcp:a\\b:80: '\\' must be followed by ':' or '\\'"},
    {"tls:443", S, "tls:443: a TLS listener needs cert=FILE"},
    {"tls:h:443:cert=x", C,
     "tls:h:443:cert=x: unknown key 'cert' for tls connecting (host, port, "
     "cacert, timeout)"},
    {"unix:", S, "unix:: empty value for path"},
    {"unix:@", S, "unix:@: bad UNIX socket name '@'"},
    {"unix:/x:mode=999", S, "unix:/x:mode=999: bad mode '999' (octal, e.g. 0660)"},
    {"unix:/x:mode=0", S, "unix:/x:mode=0: bad mode '0' (octal, e.g. 0660)"},
    {"unix:/x:mode=1", C,
     "unix:/x:mode=1: unknown key 'mode' for unix connecting (path, address, "
     "timeout)"},
    {"udp:h:53:timeout=1", C,
     "udp:h:53:timeout=1: unknown key 'timeout' for udp connecting (host, port)"},
    {"tcp:h:80:", C, "tcp:h:80:: unexpected '': tcp connecting takes host:port"},
};

static void test_bad(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    nt_endpoint_t *ep = (nt_endpoint_t *)1;
    char err[256];
    int rc = nt_endpoint_parse(bad[i].spec, bad[i].role, &ep, err, sizeof err);
    if (rc != NT_EINVAL) fail_msg("%s: accepted", bad[i].spec);
    assert_null(ep);
    if (strcmp(err, bad[i].msg))
      fail_msg("%s:\n got  '%s'\n want '%s'", bad[i].spec, err, bad[i].msg);
  }
}

static void test_long_and_odd(void **state) {
  (void)state;
  nt_endpoint_t *ep;
  char err[200];
  /* A path longer than sun_path. */
  char spec[300] = "unix:/";
  memset(spec + 6, 'p', 200);
  spec[206] = 0;
  assert_int_equal(nt_endpoint_parse(spec, C, &ep, err, sizeof err), NT_EINVAL);
  assert_non_null(strstr(err, "UNIX socket name too long (at most 107 bytes)"));
  /* Long specs are cut in the message, which stays one line. */
  assert_int_equal(strlen(err) < sizeof err, 1);
  assert_non_null(strstr(err, "...: "));
  /* Control characters in the message are shown as '?'. */
  assert_int_equal(nt_endpoint_parse("tcp:8\n0", S, &ep, err, sizeof err), NT_EINVAL);
  assert_string_equal(err, "tcp:8?0: bad port '8?0' (0-65535)");
  /* A role mix-up is named. */
  assert_int_equal(nt_endpoint_parse("tcp:80", 7, &ep, err, sizeof err), NT_EINVAL);
  /* Too many fields. */
  assert_int_equal(nt_endpoint_parse("tcp:1:a=1:a=1:a=1:a=1:a=1:a=1:a=1:a=1:"
                                     "a=1:a=1:a=1:a=1:a=1:a=1:a=1:a=1",
                                     S, &ep, err, sizeof err), NT_EINVAL);
  assert_non_null(strstr(err, "more than 15 fields"));
  /* A tiny or absent message buffer is fine. */
  assert_int_equal(nt_endpoint_parse("tcp:x", S, &ep, err, 4), NT_EINVAL);
  assert_int_equal(strlen(err), 3);
  assert_int_equal(nt_endpoint_parse("tcp:x", S, &ep, NULL, 0), NT_EINVAL);
  assert_int_equal(nt_endpoint_parse(NULL, S, &ep, err, sizeof err), NT_EINVAL);
}

/* Out of memory at every step: an error, never a crash or a leak (ASan). */
static void test_alloc_failures(void **state) {
  (void)state;
  for (long n = 0; n < 12; n++) {
    nt_endpoint_t *ep = NULL;
    nt_test_fail_alloc_after(n);
    int rc = nt_endpoint_parse("tls:h:1:cacert=x:timeout=1", C, &ep, NULL, 0);
    nt_test_fail_alloc_after(-1);
    if (rc == 0) {
      nt_endpoint_free(ep);
    } else {
      assert_null(ep);
    }
  }
}

/* Listening on a client endpoint, connecting a server one, udp where a stream
 * is wanted and the reverse: NT_EINVAL at once, no callback, nothing left
 * on the reactor (test reactor, no sockets made). */
static int g_cb;
static nt_protocol_t *no_build(nt_factory_t *f, const struct sockaddr *a,
                               socklen_t l) {
  (void)f, (void)a, (void)l;
  g_cb++;
  return NULL;
}
static void no_start(nt_factory_t *f, nt_connector_t *c) {
  (void)f, (void)c;
  g_cb++;
}
static void no_fail(nt_factory_t *f, nt_connector_t *c, int st) {
  (void)f, (void)c, (void)st;
  g_cb++;
}
static const nt_factory_ops_t no_fops = {no_build, no_start, no_fail};

static void test_misuse(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  nt_factory_t f = {&no_fops, NULL};
  nt_endpoint_t *srv_tcp, *cli_tcp, *srv_udp, *cli_udp;
  assert_int_equal(nt_endpoint_parse("tcp:0", S, &srv_tcp, NULL, 0), 0);
  assert_int_equal(nt_endpoint_parse("tcp:h:1", C, &cli_tcp, NULL, 0), 0);
  assert_int_equal(nt_endpoint_parse("udp:0", S, &srv_udp, NULL, 0), 0);
  assert_int_equal(nt_endpoint_parse("udp:h:1", C, &cli_udp, NULL, 0), 0);
  nt_endpoint_listener_t *l = NULL;
  nt_connector_t *c = NULL;
  nt_udp_t *u = NULL;
  assert_int_equal(nt_endpoint_listen(r, cli_tcp, &f, NULL, &l), NT_EINVAL);
  assert_int_equal(nt_endpoint_listen(r, srv_udp, &f, NULL, &l), NT_EINVAL);
  assert_int_equal(nt_endpoint_connect(r, srv_tcp, &f, NULL, &c), NT_EINVAL);
  assert_int_equal(nt_endpoint_connect(r, cli_udp, &f, NULL, &c), NT_EINVAL);
  assert_int_equal(nt_endpoint_bind_datagram(r, srv_tcp, NULL, NULL, &u), NT_EINVAL);
  assert_int_equal(nt_endpoint_bind_datagram(r, cli_udp, NULL, NULL, &u), NT_EINVAL);
  assert_null(l);
  assert_null(c);
  assert_null(u);
  /* A newer caller's options with a field this library does not know set:
   * refused, nothing done (docs/ABI.md). */
  struct {
    nt_endpoint_connect_options_t o;
    uint64_t newer;
  } big = {{0}, 1};
  assert_int_equal(nt_endpoint_connect_sized(sizeof big, r, cli_tcp, &f,
                                             &big.o, &c), NT_ENOTSUP);
  nt_test_run_pending(r);
  assert_int_equal(g_cb, 0);
  nt_endpoint_free(srv_tcp);
  nt_endpoint_free(cli_tcp);
  nt_endpoint_free(srv_udp);
  nt_endpoint_free(cli_udp);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good),
      cmocka_unit_test(test_accessors),
      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_long_and_odd),
      cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_misuse),
  };
  return cmocka_run_group_tests_name("endpoint", tests, NULL, NULL);
}
