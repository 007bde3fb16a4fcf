/* The NNTP pool over real loopback sockets, against scripted NNTP servers
 * built on nettool's own listener: one that pipelines (500 BODY requests
 * over 4 connections, every body checked, 430s reported), one that
 * refuses pipelining (it hangs up when a command arrives before it has
 * answered the one before: the pool falls back to one at a time and
 * loses nothing), one whose connections die every few articles (requests
 * retried on another connection, streamed lines restarted), no server at
 * all (the pool gives up with the connect error), and a group's new
 * articles fetched by the read marks of a .newsrc; a client the program
 * had taken over as the pool's first connection (adopt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nettool/framing.h"
#include "nettool/newsrc.h"
#include "nettool/nntp_pool.h"
#include "nettool/reactor.h"
#include "nettool/tcp.h"

enum { MODE_PIPELINE, MODE_REFUSE, MODE_FLAKY };

static nt_reactor_t *R;
static int mode;
static int server_conns, server_refusals, server_drops;

/* --- the scripted server ---------------------------------------------------------- */

typedef struct {
  nt_line_receiver_t lr;
  int busy;         /* MODE_REFUSE: a command is being answered */
  char pending[128];
  int answered;     /* BODY answers on this connection */
  nt_timer_t timer;
} srv_t;

static void say(srv_t *s, const char *text) {
  nt_transport_t *t = s->lr.base.transport;
  if (t) nt_transport_write_str(t, text);
}

static unsigned body_lines(unsigned n) { return n % 7; }

static void answer(srv_t *s, const char *cmd) {
  char buf[256];
  unsigned n;
  if (!strcmp(cmd, "CAPABILITIES")) {
    say(s, "101 caps\r\nVERSION 2\r\nREADER\r\nOVER\r\n.\r\n");
  } else if (!strncmp(cmd, "GROUP ", 6)) {
    snprintf(buf, sizeof buf, "211 1000 1 1000 %s\r\n", cmd + 6);
    say(s, buf);
  } else if (sscanf(cmd, "BODY <%u@pool>", &n) == 1) {
    if (mode == MODE_FLAKY && s->answered == 7) {
      server_drops++;
      nt_transport_abort(s->lr.base.transport);
      return;
    }
    s->answered++;
    if (n % 50 == 0) {
      say(s, "430 no such article\r\n");
      return;
    }
    snprintf(buf, sizeof buf, "222 0 <%u@pool>\r\n", n);
    say(s, buf);
    for (unsigned k = 0; k < body_lines(n); k++) {
      snprintf(buf, sizeof buf, "%sline %u of %u\r\n", k == 1 ? "." : "", k, n);
      say(s, buf); /* line 1 starts with a dot: stuffed */
    }
    say(s, ".\r\n");
  } else if (sscanf(cmd, "BODY %u", &n) == 1 && strchr(cmd, '<') == NULL) {
    if (n % 50 == 0) { /* by number: 423 for the missing ones */
      say(s, "423 no such article number\r\n");
      return;
    }
    snprintf(buf, sizeof buf, "222 %u <%u@pool>\r\nnumber %u\r\n.\r\n", n, n, n);
    say(s, buf);
  } else if (!strcmp(cmd, "QUIT")) {
    say(s, "205 bye\r\n");
    nt_transport_lose_connection(s->lr.base.transport);
  } else {
    say(s, "500 what?\r\n");
  }
}

static void srv_timer(nt_timer_t *t) {
  srv_t *s = (srv_t *)((char *)t - offsetof(srv_t, timer));
  s->busy = 0;
  if (s->lr.base.transport) answer(s, s->pending);
}

static void srv_line(nt_line_receiver_t *lr, const char *line, size_t len) {
  srv_t *s = (srv_t *)lr;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "%.*s", (int)(len < 127 ? len : 127), line);
  if (mode != MODE_REFUSE) {
    answer(s, cmd);
    return;
  }
  if (s->busy) { /* a second command before the answer: hang up */
    server_refusals++;
    nt_timer_stop(&s->timer);
    nt_transport_abort(lr->base.transport);
    return;
  }
  s->busy = 1;
  snprintf(s->pending, sizeof s->pending, "%s", cmd);
  nt_timer_start(&s->timer, 1, 0);
}

static void srv_made(nt_line_receiver_t *lr, nt_transport_t *t) {
  (void)t;
  server_conns++;
  say((srv_t *)lr, "200 scripted news server ready\r\n");
}

static void srv_lost(nt_line_receiver_t *lr, int status) {
  (void)status;
  nt_timer_stop(&((srv_t *)lr)->timer);
}

static void srv_destroy(nt_line_receiver_t *lr) { free(lr); }

static const nt_line_receiver_ops_t srv_ops = {.connection_made = srv_made,
                                               .line_received = srv_line,
                                               .connection_lost = srv_lost,
                                               .destroy = srv_destroy};

static nt_protocol_t *srv_build(nt_factory_t *f, const struct sockaddr *peer,
                                socklen_t len) {
  (void)f, (void)peer, (void)len;
  srv_t *s = calloc(1, sizeof *s);
  nt_line_receiver_init(&s->lr, &srv_ops, 4096);
  nt_timer_init(R, &s->timer, srv_timer);
  return &s->lr.base;
}

static const nt_factory_ops_t srv_factory_ops = {.build_protocol = srv_build};
static nt_factory_t srv_factory = {.ops = &srv_factory_ops};

/* --- the client side --------------------------------------------------------------- */

#define MAXREQ 1000

static struct {
  int done, ok, missing, failed, closed, close_status, restarts;
  int seen[MAXREQ];
  unsigned lines[MAXREQ];
  nt_nntp_pool_t *pool;
  int total;
} st;

static void check_body(unsigned n, const char *data, size_t len) {
  char want[4096] = "";
  size_t w = 0;
  for (unsigned k = 0; k < body_lines(n); k++)
    w += (size_t)snprintf(want + w, sizeof want - w, "line %u of %u\r\n", k, n);
  if (len != w || memcmp(data, want, w))
    fail_msg("body %u: got %zu bytes [%.*s], want [%s]", n, len, (int)len, data, want);
}

static void got(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg) {
  unsigned n = (unsigned)(uintptr_t)arg;
  st.done++;
  st.seen[n]++;
  if (r->status == 0) {
    st.ok++;
    if (r->data) check_body(n, r->data, r->len);
    else assert_int_equal(st.lines[n], body_lines(n));
    assert_int_equal(r->lines, body_lines(n));
  } else if (r->status == NT_ENNTP_NOARTICLE) {
    assert_int_equal(r->code, 430);
    assert_int_equal(n % 50, 0);
    st.missing++;
  } else {
    st.failed++;
  }
  if (st.done == st.total) nt_nntp_pool_close(p);
}

static void stream_line(nt_nntp_pool_t *p, const char *line, size_t len, void *arg) {
  unsigned n = (unsigned)(uintptr_t)arg;
  (void)p;
  if (!line) { /* sent again on another connection */
    st.lines[n] = 0;
    st.restarts++;
    return;
  }
  char want[64];
  snprintf(want, sizeof want, "line %u of %u", st.lines[n], n);
  if (len != strlen(want) || memcmp(line, want, len))
    fail_msg("line [%.*s], want [%s]", (int)len, line, want);
  st.lines[n]++;
}

static void pool_closed(nt_nntp_pool_t *p, int status, void *arg) {
  (void)p, (void)arg;
  st.closed++;
  st.close_status = status;
  nt_reactor_stop(R);
}

static const nt_nntp_pool_callbacks_t pool_cbs = {.closed = pool_closed};

static nt_nntp_pool_stats_t last_stats;

static void stats_before_close(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r,
                               void *arg) {
  got(p, r, arg);
}

static int run_pool(int port, unsigned conns, int n, int stream) {
  memset(&st, 0, sizeof st);
  st.total = n;
  nt_nntp_pool_options_t po = {0};
  po.connections = conns;
  po.retry_delay_ms = 10;
  po.attempts = 5;
  nt_nntp_options_t co = {0};
  co.timeout_ms = 5000;
  co.connect_timeout_ms = 5000;
  int rc = nt_nntp_pool_new(R, "127.0.0.1", port, &co, &po, &pool_cbs, NULL, &st.pool);
  if (rc) return rc;
  for (int i = 1; i <= n; i++) {
    char id[32];
    snprintf(id, sizeof id, "<%d@pool>", i);
    assert_int_equal(nt_nntp_pool_fetch(st.pool, NT_NNTP_BODY, NULL, id,
                                        stream ? stream_line : NULL, stats_before_close,
                                        (void *)(uintptr_t)i),
                     0);
  }
  nt_reactor_run(R);
  return 0;
}

static int listen_mode(int m, nt_listener_t **l) {
  mode = m;
  server_conns = server_refusals = server_drops = 0;
  assert_int_equal(nt_tcp_listen(R, "127.0.0.1", 0, &srv_factory, NULL, l), 0);
  return nt_listener_port(*l);
}

static void stats_probe(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg);

static void test_pipelined_bodies(void **state) {
  (void)state;
  nt_listener_t *l;
  int port = listen_mode(MODE_PIPELINE, &l);
  assert_int_equal(run_pool(port, 4, 500, 0), 0);
  assert_int_equal(st.closed, 1);
  assert_int_equal(st.close_status, 0);
  assert_int_equal(st.done, 500);
  assert_int_equal(st.missing, 10);
  assert_int_equal(st.ok, 490);
  assert_int_equal(st.failed, 0);
  for (int i = 1; i <= 500; i++) assert_int_equal(st.seen[i], 1);
  assert_int_equal(server_conns, 4);
  nt_listener_close(l);
}

static void test_refused_pipelining_falls_back(void **state) {
  (void)state;
  nt_listener_t *l;
  int port = listen_mode(MODE_REFUSE, &l);
  assert_int_equal(run_pool(port, 2, 100, 0), 0);
  assert_int_equal(st.close_status, 0);
  assert_int_equal(st.done, 100);
  assert_int_equal(st.ok + st.missing, 100);
  assert_int_equal(st.failed, 0);
  for (int i = 1; i <= 100; i++) assert_int_equal(st.seen[i], 1);
  assert_true(server_refusals >= 1); /* it did refuse, and the pool coped */
  nt_listener_close(l);
}

static void test_dying_connections_retried(void **state) {
  (void)state;
  nt_listener_t *l;
  int port = listen_mode(MODE_FLAKY, &l);
  assert_int_equal(run_pool(port, 3, 300, 1), 0);
  assert_int_equal(st.close_status, 0);
  assert_int_equal(st.done, 300);
  assert_int_equal(st.ok + st.missing, 300);
  assert_int_equal(st.failed, 0);
  for (int i = 1; i <= 300; i++) assert_int_equal(st.seen[i], 1);
  assert_true(server_drops >= 300 / 8 - 1);
  nt_listener_close(l);
}

/* adopt: a client the program already has becomes connection 0; the pool
 * of 3 makes 3 connections in all (the server counts them), the adopted
 * one carries requests, and its first owner's closed() is never called. */
static int adopt_port, adopt_closed, adopt_conn0;
static void adopt_got(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg) {
  if (r->conn_index == 0) adopt_conn0++;
  got(p, r, arg);
}
static void adopt_ready(nt_nntp_t *c, void *arg) {
  (void)arg;
  nt_nntp_pool_options_t po = {0};
  po.connections = 3;
  po.adopt = c;
  nt_nntp_options_t co = {0};
  co.timeout_ms = 5000;
  assert_int_equal(
      nt_nntp_pool_new(R, "127.0.0.1", adopt_port, &co, &po, &pool_cbs, NULL, &st.pool), 0);
  for (int i = 1; i <= st.total; i++) {
    char id[32];
    snprintf(id, sizeof id, "<%d@pool>", i);
    assert_int_equal(nt_nntp_pool_fetch(st.pool, NT_NNTP_BODY, NULL, id, NULL, adopt_got,
                                        (void *)(uintptr_t)i),
                     0);
  }
}
static void adopt_closed_cb(nt_nntp_t *c, int status, void *arg) {
  (void)c, (void)status, (void)arg;
  adopt_closed++;
}

static void test_adopt(void **state) {
  (void)state;
  nt_listener_t *l;
  adopt_port = listen_mode(MODE_PIPELINE, &l);
  memset(&st, 0, sizeof st);
  st.total = 300;
  adopt_closed = adopt_conn0 = 0;
  nt_nntp_callbacks_t cbs = {.ready = adopt_ready, .closed = adopt_closed_cb};
  nt_nntp_options_t co = {0};
  co.timeout_ms = 5000;
  nt_nntp_t *c;
  assert_int_equal(nt_nntp_connect(R, "127.0.0.1", adopt_port, &co, &cbs, NULL, &c), 0);
  nt_reactor_run(R);
  assert_int_equal(st.closed, 1);
  assert_int_equal(st.close_status, 0);
  assert_int_equal(st.done, 300);
  assert_int_equal(st.failed, 0);
  for (int i = 1; i <= 300; i++) assert_int_equal(st.seen[i], 1);
  assert_int_equal(server_conns, 3); /* the adopted one is one of the 3 */
  assert_true(adopt_conn0 > 0);
  assert_int_equal(adopt_closed, 0);
  nt_listener_close(l);
}

static void test_no_server(void **state) {
  (void)state;
  nt_listener_t *l;
  int port = listen_mode(MODE_PIPELINE, &l);
  nt_listener_close(l); /* nobody listens there now */
  assert_int_equal(run_pool(port, 2, 20, 0), 0);
  assert_int_equal(st.closed, 1);
  assert_int_equal(st.close_status, NT_ECONNREFUSED);
  assert_int_equal(st.done, 20);
  assert_int_equal(st.failed, 20);
}

/* nt_nntp_pool_fetch_new: what the marks do not list, oldest first, at
 * most max; each arrival marked read, progress after each. */
static struct {
  int articles, progress, finished, status;
  uint64_t fetched, last_done, last_total;
  nt_newsrc_t *marks;
} news;

static void news_article(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg) {
  (void)p, (void)arg;
  char want[64];
  snprintf(want, sizeof want, "number %llu\r\n", (unsigned long long)r->number);
  assert_int_equal(r->len, strlen(want));
  assert_memory_equal(r->data, want, r->len);
  news.articles++;
}
static void news_progress(nt_nntp_pool_t *p, uint64_t done, uint64_t total, uint64_t bytes,
                          void *arg) {
  (void)p, (void)arg, (void)bytes;
  assert_true(done > news.last_done);
  news.last_done = done;
  news.last_total = total;
  news.progress++;
}
static void news_finished(nt_nntp_pool_t *p, int status, uint64_t fetched, void *arg) {
  (void)arg;
  news.finished++;
  news.status = status;
  news.fetched = fetched;
  nt_nntp_pool_close(p);
}

static void test_fetch_new(void **state) {
  (void)state;
  nt_listener_t *l;
  int port = listen_mode(MODE_PIPELINE, &l);
  memset(&news, 0, sizeof news);
  memset(&st, 0, sizeof st);
  const char *rc = "local.test: 1-10,20-30\n";
  assert_int_equal(nt_newsrc_parse(rc, strlen(rc), &news.marks), 0);
  nt_nntp_pool_options_t po = {0};
  po.connections = 3;
  nt_nntp_pool_t *pool;
  assert_int_equal(nt_nntp_pool_new(R, "127.0.0.1", port, NULL, &po, &pool_cbs, NULL, &pool), 0);
  nt_nntp_news_callbacks_t cbs = {news_article, news_progress, news_finished};
  assert_int_equal(nt_nntp_pool_fetch_new(pool, "local.test", news.marks, NT_NNTP_BODY, 100,
                                          &cbs, NULL),
                   0);
  nt_reactor_run(R);
  assert_int_equal(news.finished, 1);
  assert_int_equal(news.status, 0);
  /* unread and oldest first: 11-19 (9) and 31-121 (91); 50 and 100 gone */
  assert_int_equal(news.last_total, 100);
  assert_int_equal(news.progress, 100);
  assert_int_equal(news.articles, 98);
  assert_int_equal(news.fetched, 98);
  char buf[64];
  nt_newsrc_ranges(news.marks, "local.test", buf, sizeof buf);
  assert_string_equal(buf, "1-121"); /* the missing ones are marked too */
  assert_int_equal(st.closed, 1);
  nt_newsrc_free(news.marks);
  nt_listener_close(l);
}

static void stats_probe(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg) {
  nt_nntp_pool_stats(p, &last_stats);
  got(p, r, arg);
}

static int setup(void **state) {
  (void)state;
  (void)stats_probe;
  return nt_reactor_new(&R, NULL);
}
static int teardown(void **state) {
  (void)state;
  nt_reactor_close_all(R);
  return nt_reactor_free(R) ? -1 : 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pipelined_bodies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_pipelining_falls_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dying_connections_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_adopt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fetch_new, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
