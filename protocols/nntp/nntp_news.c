/* A group's new articles over the pool (nt_nntp_pool_fetch_new): GROUP,
 * the unread runs of the read marks within the group's range, one fetch
 * per article number spread over the pool's connections, each article
 * marked read as it arrives, progress after each, finished() at the end.
 * The job frees itself after finished(). */
#include <stdio.h>
#include <string.h>

#include "nettool/newsrc.h"
#include "nettool/nntp_pool.h"
#include "nntp-int.h"
#include "reactor-int.h"

typedef struct {
  nt_nntp_pool_t *pool;
  char *group;
  nt_newsrc_t *marks;
  nt_nntp_fetch_t what;
  uint64_t max, total, done, fetched, bytes, queued;
  nt_nntp_news_callbacks_t cbs;
  void *arg;
  int status;
  int told;
} news_t;

static void news_end(news_t *n) {
  if (n->told) return;
  n->told = 1;
  if (n->cbs.finished) n->cbs.finished(n->pool, n->status, n->fetched, n->arg);
  nt__free(n->group);
  nt__free(n);
}

static void one_done(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg) {
  news_t *n = arg;
  uint64_t num = 0;
  nt__nntp_parse_u64(r->spec, strlen(r->spec), &num);
  n->done++;
  if (r->status == 0) {
    n->fetched++;
    n->bytes += r->bytes;
    if (num) nt_newsrc_mark_read(n->marks, n->group, num, num);
    if (n->cbs.article) n->cbs.article(p, r, n->arg);
  } else if (r->status == NT_ENNTP_NOARTICLE) {
    if (num) nt_newsrc_mark_read(n->marks, n->group, num, num); /* gone */
  } else if (!n->status) {
    n->status = r->status;
  }
  if (n->cbs.progress) n->cbs.progress(p, n->done, n->total, n->bytes, n->arg);
  if (n->done == n->total) news_end(n);
}

typedef struct {
  news_t *n;
  int rc;
} walk_t;

static void queue_run(uint64_t lo, uint64_t hi, void *arg) {
  walk_t *w = arg;
  news_t *n = w->n;
  for (uint64_t k = lo; k <= hi && !w->rc; k++) {
    if (n->max && n->queued >= n->max) return;
    char spec[24];
    snprintf(spec, sizeof spec, "%llu", (unsigned long long)k);
    w->rc = nt_nntp_pool_fetch(n->pool, n->what, n->group, spec, NULL, one_done, n);
    if (!w->rc) n->queued++;
    if (k == hi) break;
  }
}

static void group_done(nt_nntp_pool_t *p, const nt_nntp_pool_result_t *r, void *arg) {
  news_t *n = arg;
  (void)p;
  if (r->status) {
    n->status = r->status;
    news_end(n);
    return;
  }
  uint64_t low = r->low, high = r->high;
  if (high < low || !high) { /* empty */
    news_end(n);
    return;
  }
  if (low > 1) nt_newsrc_mark_read(n->marks, n->group, 1, low - 1); /* expired */
  uint64_t unread = nt_newsrc_unread(n->marks, n->group, low, high, NULL, NULL);
  n->total = n->max && unread > n->max ? n->max : unread;
  if (!n->total) {
    news_end(n);
    return;
  }
  walk_t w = {n, 0};
  nt_newsrc_unread(n->marks, n->group, low, high, queue_run, &w);
  if (w.rc) { /* queued what it could: the rest never comes */
    n->status = w.rc;
    n->total = n->queued;
    if (n->done == n->total) news_end(n);
  }
}

int nt_nntp_pool_fetch_new(nt_nntp_pool_t *p, const char *group,
                           struct nt_newsrc_s *marks, nt_nntp_fetch_t what,
                           uint64_t max, const nt_nntp_news_callbacks_t *cbs,
                           void *arg) {
  if (!p || !group || !marks || !nt_nntp_valid_group(group) ||
      (unsigned)what > NT_NNTP_STAT)
    return NT_EINVAL;
  news_t *n = nt__calloc(1, sizeof *n);
  if (!n) return NT_ENOMEM;
  n->group = nt__strdup(group);
  if (!n->group) {
    nt__free(n);
    return NT_ENOMEM;
  }
  n->pool = p;
  n->marks = marks;
  n->what = what;
  n->max = max;
  if (cbs) n->cbs = *cbs;
  n->arg = arg;
  int rc = nt_nntp_pool_group(p, group, group_done, n);
  if (rc) {
    nt__free(n->group);
    nt__free(n);
  }
  return rc;
}
