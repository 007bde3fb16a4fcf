/* Several NNTP connections to one server for bulk work (binaries, a
 * group's new articles): one queue of requests spread over N pipelined
 * connections (nntp.h) sharing one reactor, each connection set up and
 * authenticated on its own, a request whose connection fails retried on
 * another one, and a fall-back to one command at a time when the server
 * turns out not to take pipelining (it closes the connection when a
 * second command arrives).
 *
 * Fetching a list of Message-IDs (what an NZB downloader does):
 *
 *     static void got(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r,
 *                     void *arg) {
 *       if (r->status == 0) decode(arg, r->data, r->len); // whole body
 *       else if (r->status == NT_ENNTP_NOARTICLE) missing(arg); // 430
 *       else failed(arg, r->status); // connection trouble, retries spent
 *     }
 *     nt_nntp_options_t conn = {.user = "u", .pass = "p"};
 *     nt_nntp_pool_options_t po = {.connections = 8};
 *     nt_nntp_pool_t *pool;
 *     nt_nntp_pool_new(r, "news.example", 119, &conn, &po, &cbs, ctx, &pool);
 *     for (i = 0; i < n; i++)
 *       nt_nntp_pool_fetch(pool, NT_NNTP_BODY, NULL, ids[i], NULL, got, seg[i]);
 *     ... nt_reactor_run(r); nt_nntp_pool_close(pool) when all came back.
 *
 * With line == NULL the body is collected (dot-unstuffed lines joined with
 * CRLF, the terminating line left out) and handed to done() in one piece;
 * with a line callback the lines stream as they arrive, and a retry on
 * another connection first calls line(pool, NULL, 0, arg): "forget the
 * lines so far".
 *
 * Ownership: the pool is nettool's from nt_nntp_pool_new until its
 * closed() callback has returned (it is freed then). Options are copied
 * (nt_nntp_options_t's strings too, by each connection); the TLS context
 * stays the caller's until closed(). Every request accepted gets done()
 * exactly once, in the order of its connection's replies (requests
 * spread over connections may finish in any order relative to each
 * other). Pointers in a result are valid only during done().
 */
#ifndef NETTOOL_NNTP_POOL_H
#define NETTOOL_NNTP_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/nntp.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef struct nt_nntp_pool_s nt_nntp_pool_t;

/* Give it field by field: fields may be added at the end; zero is the
 * default for each. */
typedef struct nt_nntp_pool_options_s {
  unsigned connections;   /* 0: 1; at most 128 */
  unsigned attempts;      /* tries of one request when connections fail
                             under it (a server's "no" is never retried);
                             0: 3 */
  uint64_t retry_delay_ms; /* before opening a connection again after one
                              failed; doubles per failure in a row, up to
                              8 times; 0: 250 ms */
  size_t max_collect;      /* largest body collected for done() (line ==
                              NULL); 0: 64 MiB; more: NT_ETOOBIG */
  size_t max_queued;       /* requests waiting at most; 0: 1,000,000 */
  /* A client already connected to the same server with the same
   * connection options (e.g. the one that asked GROUP first): it becomes
   * connection 0, so a program that has one open uses `connections` in
   * all, not one more. The pool takes it over: its callbacks are the
   * pool's from then on (the caller's closed() is not called; forget the
   * pointer), it is closed with the pool, and its group is known. NULL:
   * the pool opens every connection. */
  nt_nntp_t *adopt;
} nt_nntp_pool_options_t;

typedef struct nt_nntp_pool_callbacks_s {
  /* A connection is READY (conn_index 0..connections-1); the first one
   * means the server took the set-up. Optional. */
  void (*connected)(nt_nntp_pool_t *p, unsigned conn_index, void *arg);
  /* The pool is over: after nt_nntp_pool_close once every connection has
   * closed (status 0), or when connections kept failing (attempts times
   * in a row with no reply in between, or a refusal such as a bad
   * password: the status of the last failure; nt_nntp_pool_last_reply
   * has the server's words). Requests still waiting got done() with an
   * error before this. The pool is freed when this returns. */
  void (*closed)(nt_nntp_pool_t *p, int status, void *arg);
} nt_nntp_pool_callbacks_t;

/* What done() gets. */
typedef struct nt_nntp_pool_result_s {
  int status;          /* 0; NT_ENNTP_* (the server said no: code, text);
                          or the last connection error once attempts are
                          spent; NT_ECANCELED after nt_nntp_pool_close */
  int code;            /* the server's reply code; 0 if none */
  const char *text;    /* the reply after the code */
  const char *spec;    /* what was asked: "<id@host>" or a number/range */
  const char *group;   /* the group asked for, "" if none */
  uint64_t number;     /* ARTICLE/HEAD/BODY/STAT: the article's number
                          (0 by message-id); GROUP: the count */
  uint64_t low, high;  /* GROUP */
  const char *message_id; /* from the reply, "" if none */
  const char *data;    /* collected lines (line == NULL), else NULL */
  size_t len;
  uint64_t lines;      /* lines received */
  uint64_t bytes;      /* bytes of those lines (dot-unstuffed, + CRLF) */
  unsigned attempts;   /* connections it was sent on */
  unsigned conn_index; /* the connection that answered */
} nt_nntp_pool_result_t;

typedef void (*nt_nntp_pool_done_cb)(nt_nntp_pool_t *p,
                                     const nt_nntp_pool_result_t *r,
                                     void *arg);
/* A line of the response (dot-unstuffed, no CRLF); line == NULL: the
 * request is being sent again elsewhere, forget the lines so far. */
typedef void (*nt_nntp_pool_line_cb)(nt_nntp_pool_t *p, const char *line,
                                     size_t len, void *arg);
/* An overview line (OVER/XOVER); o == NULL: forget the lines so far. */
typedef void (*nt_nntp_pool_over_cb)(nt_nntp_pool_t *p,
                                     const nt_nntp_overview_t *o, void *arg);

/* Opens the connections (conn: each connection's options, as for
 * nt_nntp_connect; opts: the pool's; both may be NULL). Returns 0
 * (callbacks follow) or what nt_nntp_connect returns for a bad argument
 * (NT_EINVAL, NT_EBADPORT...), NT_ENOMEM. */
int nt_nntp_pool_new_sized(size_t pool_opts_size, size_t conn_opts_size,
                           nt_reactor_t *r, const char *host, int port,
                           const nt_nntp_options_t *conn,
                           const nt_nntp_pool_options_t *opts,
                           const nt_nntp_pool_callbacks_t *cbs, void *arg,
                           nt_nntp_pool_t **out);
#define nt_nntp_pool_new(r, host, port, conn, opts, cbs, arg, out)           \
  nt_nntp_pool_new_sized(sizeof(nt_nntp_pool_options_t),                   \
                         sizeof(nt_nntp_options_t), (r), (host), (port),    \
                         (conn), (opts), (cbs), (arg), (out))

/* ARTICLE/HEAD/BODY/STAT of spec ("<id@host>", or a number with group).
 * group: selected first on the connection that takes the request (only
 * when it is not already that connection's group); NULL for message-ids.
 * line: see above (NULL: collect). Returns 0 (done() follows), NT_EINVAL,
 * NT_ENOTCONN (closing), NT_EBUSY (max_queued), NT_ENOMEM. */
int nt_nntp_pool_fetch(nt_nntp_pool_t *p, nt_nntp_fetch_t what,
                       const char *group, const char *spec,
                       nt_nntp_pool_line_cb line, nt_nntp_pool_done_cb done,
                       void *arg);
/* OVER (XOVER on servers without it) of a range "N-M" in group. */
int nt_nntp_pool_over(nt_nntp_pool_t *p, const char *group, const char *range,
                      nt_nntp_pool_over_cb over, nt_nntp_pool_done_cb done,
                      void *arg);
/* GROUP: result number = count, low, high. */
int nt_nntp_pool_group(nt_nntp_pool_t *p, const char *group,
                       nt_nntp_pool_done_cb done, void *arg);

/* --- a group's new articles --------------------------------------------------------------- */

struct nt_newsrc_s;

/* Streaming what is new in a group (nt_nntp_pool_fetch_new). */
typedef struct nt_nntp_news_callbacks_s {
  /* One article (ARTICLE/HEAD/BODY collected in r->data, or STAT), as it
   * arrives: several connections make the order loose; r->number is the
   * article's. Articles the server no longer has (423/430) are not shown
   * (they count as done). Optional. */
  void (*article)(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg);
  /* After each article: how many of total are done, and the bytes so far.
   * Optional. */
  void (*progress)(nt_nntp_pool_t *p, uint64_t done, uint64_t total,
                   uint64_t bytes, void *arg);
  /* Once, at the end: 0, or the first error that was not "no such
   * article" (the group's 411, a connection given up on...); fetched is
   * how many came. */
  void (*finished)(nt_nntp_pool_t *p, int status, uint64_t fetched, void *arg);
} nt_nntp_news_callbacks_t;

/* Fetches the articles of group that marks (a .newsrc, nettool/newsrc.h)
 * does not list as read, within the group's current range, at most max of
 * them (0: all; the oldest first), and marks each one read in marks as it
 * arrives (and everything below the group's low mark: expired), so that
 * saving marks afterwards (nt_newsrc_save) remembers the run. marks and
 * the callbacks' arg must stay alive until finished() has run. Returns 0
 * (finished() follows), NT_EINVAL, NT_ENOTCONN, NT_ENOMEM. */
int nt_nntp_pool_fetch_new(nt_nntp_pool_t *p, const char *group,
                           struct nt_newsrc_s *marks, nt_nntp_fetch_t what,
                           uint64_t max, const nt_nntp_news_callbacks_t *cbs,
                           void *arg);

/* Ends the pool: requests not yet sent fail with NT_ECANCELED, those in
 * flight finish, then every connection QUITs; closed() follows. */
void nt_nntp_pool_close(nt_nntp_pool_t *p);

/* Progress and state, for progress bars and tests. */
typedef struct nt_nntp_pool_stats_s {
  unsigned connections; /* READY now */
  unsigned connecting;
  size_t queued;        /* waiting for a connection */
  size_t in_flight;     /* sent, not yet answered */
  uint64_t done, failed; /* requests finished: ok / with an error */
  uint64_t retried;     /* sent again after a connection failed */
  uint64_t bytes;       /* response lines received (dot-unstuffed) */
  unsigned pipeline;    /* the pool's window ceiling per connection (1
                           after the server refused pipelining) */
  unsigned compressed;  /* connections using COMPRESS DEFLATE */
} nt_nntp_pool_stats_t;
void nt_nntp_pool_stats_sized(size_t out_size, const nt_nntp_pool_t *p,
                              nt_nntp_pool_stats_t *st);
#define nt_nntp_pool_stats(...) \
  nt_nntp_pool_stats_sized(sizeof(nt_nntp_pool_stats_t), __VA_ARGS__)
/* The last reply text / code a connection's set-up failed with (for an
 * error message in the server's words); "" / 0 if none. */
const char *nt_nntp_pool_last_reply(const nt_nntp_pool_t *p);
int nt_nntp_pool_last_code(const nt_nntp_pool_t *p);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
