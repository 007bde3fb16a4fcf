/* nettool nntp-read: a newsgroup's latest article (From, Subject, Date and
 * its first meaningful body lines, as the classic getLatestNNTP script
 * showed them), one article by number or message-id, or an overview table
 * of the last N articles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_text.h"
#include "commands.h"
#include "cli_json.h"
#include "nettool/newsrc.h"
#include "nettool/nntp.h"
#include "nntp_read_over.h"

/* The newest article when the high-water mark is missing (cancelled,
 * expired): OVER (or, on a server without an overview, LISTGROUP) over
 * windows below it, growing 4 times each step, so a run of any length
 * costs a few round trips. */
#define FIRST_WINDOW 16

static const cli_opt_t own_opts[] = {
    {"article", 0, CLI_T_STR, 0, 'a', "N|<id>", "this article instead of the latest", 0},
    {"lines", 0, CLI_T_UINT, 0, 'l', "N", "show N meaningful lines (default 20)", 1000000},
    {"all", 0, CLI_T_BOOL, 0, 'A', NULL, "show the whole body, unfiltered", 0},
    {"overview", 0, CLI_T_UINT, 0, 'o', "N", "a table of the last N articles instead", 10000000},
    {"new", 0, CLI_T_BOOL, 0, 'n', NULL,
     "the table of what arrived since the last --new\n"
     "(read marks in --newsrc), then marks it read", 0},
    {"newsrc", 0, CLI_T_STR, 0, 'N', "FILE",
     "read marks in the .newsrc format of tin and slrn\n"
     "(default ~/.newsrc)", 0},
    {"threads", 0, CLI_T_BOOL, 0, 'H', NULL,
     "--overview/--new: threads by References, replies\nindented under what they answer", 0},
    {"connections", 0, CLI_T_UINT, 0, 'c', "N",
     "--overview/--new: fetch over N connections (default 1)", 64},
    {"no-pipelining", 0, CLI_T_BOOL, 0, 'P', NULL,
     "one command at a time (for servers that cannot\npipeline)", 0},
    {"no-compress", 0, CLI_T_BOOL, 0, 'Z', NULL,
     "never use COMPRESS DEFLATE (used when offered)", 0},
    NNTP_CLI_ROWS,
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_nntp_read = {
    "nntp-read",
    "usage: nettool nntp-read GROUP|URL [--server HOST[:PORT]] [-u USER[:PASS]]\n"
    "                         [--tls] [--article N|<msgid>] [--lines N] [--all]\n"
    "                         [--overview N | --new [--newsrc FILE]] [--threads]\n"
    "                         [--connections N] [--json]\n"
    "\n"
    "Shows GROUP's article count and range, then its latest article: From,\n"
    "Subject, Date and the first 20 meaningful body lines (quoted text,\n"
    "attributions and repeated blank lines left out; of a MIME article, its\n"
    "first text/plain part, decoded). If the newest numbers were cancelled,\n"
    "the newest article left is shown. GROUP may be a URL:\n"
    "news://HOST[:PORT]/GROUP, nntp://HOST[:PORT]/GROUP[/N], nntps://...\n"
    "Commands are pipelined (RFC 3977) and COMPRESS DEFLATE is used when the\n"
    "server offers it (a server that refuses pipelining gets the commands\n"
    "again one at a time on a new connection). --json prints one object: the\n"
    "article, or the group and its overview rows. On a terminal, --overview\n"
    "and --new show a progress line on stderr (articles done, rows, bytes,\n"
    "rate).\n",
    NNTP_CLI_SHARED | CLI_S(CLI_O_JSON) | CLI_S_RETRY,
    own_opts,
    nntp_cli_shared_help,
    "Exit status: 0 ok, 2 usage, 4 connect, 5 resolve, 6 TLS, 7 protocol,\n"
    "8 the server said no (411 no such group, 423/430 no such article, 480/481\n"
    "authentication), 10 timeout, 130 interrupted.\n",
};

typedef struct {
  nntp_cli_t s;
  char *group;
  const char *article; /* --article */
  long lines;
  int all;
  long overview;
  uint64_t low, high, count;
  uint64_t search_hi, window, found; /* the newest-article search */
  int no_over; /* the server has no overview: LISTGROUP ranges instead */
  char spec[32];
  nt_nntp_article_t art;
  nt_nntp_filter_t filter;
  int headers_shown;
  /* --new, --threads, --connections, --json */
  int new_only, threads, json;
  unsigned connections;
  const char *newsrc_path;
  char *newsrc_default;
  nt_newsrc_t *newsrc;
  uint64_t (*runs)[2];
  size_t nruns;
  nntp_over_job_t job;
  char *json_body; /* --json article: the shown lines as JSON strings */
  size_t json_len, json_cap;
  /* --retry: the group line is printed once; an article fetched again
   * skips the body lines already handed on */
  int group_shown;
  uint64_t body_seen, body_skip;
} read_t;

static void show_header(read_t *r, const char *name) {
  char *v = nt_nntp_article_header_utf8(&r->art, name);
  if (!v) return;
  printf("%s: ", name);
  cli_text_put(stdout, v, strlen(v), 0);
  putchar('\n');
  free(v);
}

static void show_headers(read_t *r) {
  if (r->headers_shown) return;
  r->headers_shown = 1;
  if (r->spec[0] != '<') printf("Article: %s\n", r->spec);
  show_header(r, "Message-ID");
  show_header(r, "From");
  show_header(r, "Subject");
  show_header(r, "Date");
  putchar('\n');
}

/* --json: the shown lines, each a JSON string, joined with commas. */
static void json_line(read_t *r, const char *line, size_t len) {
  char *tmp = malloc(len + 1);
  if (!tmp) return;
  memcpy(tmp, line, len);
  tmp[len] = 0;
  char *buf = NULL;
  size_t blen = 0;
  FILE *m = open_memstream(&buf, &blen);
  if (m) {
    if (r->json_len) fputc(',', m);
    cli_json_string(m, tmp);
    fclose(m);
  }
  free(tmp);
  if (!buf) return;
  if (r->json_len + blen + 1 > r->json_cap) {
    size_t cap = r->json_cap ? r->json_cap * 2 : 4096;
    while (cap < r->json_len + blen + 1) cap *= 2;
    char *b = realloc(r->json_body, cap);
    if (!b) {
      free(buf);
      return;
    }
    r->json_body = b;
    r->json_cap = cap;
  }
  memcpy(r->json_body + r->json_len, buf, blen);
  r->json_len += blen;
  r->json_body[r->json_len] = 0;
  free(buf);
}

static void body_line(void *arg, const char *line, size_t len) {
  read_t *r = arg;
  if (r->body_seen++ < r->body_skip) return; /* shown before the retry */
  if (r->json) {
    if (r->all) {
      json_line(r, line, len);
      return;
    }
    int k = nt_nntp_filter_line(&r->filter, line, &len);
    if (k == NT_NNTP_FILTER_BLANK_SHOW) json_line(r, "", 0);
    if (k != NT_NNTP_FILTER_SKIP) json_line(r, line, len);
    return;
  }
  show_headers(r);
  if (r->all) {
    cli_text_put(stdout, line, len, 0);
    putchar('\n');
    return;
  }
  int k = nt_nntp_filter_line(&r->filter, line, &len);
  if (k == NT_NNTP_FILTER_SKIP) return;
  if (k == NT_NNTP_FILTER_BLANK_SHOW) putchar('\n');
  cli_text_put(stdout, line, len, 0);
  putchar('\n');
}

static void article_line(nt_nntp_t *c, const char *line, size_t len, void *arg) {
  read_t *r = arg;
  (void)c;
  int rc = nt_nntp_article_feed(&r->art, line, len);
  if (rc && !r->s.exit_code) {
    cli_error("article %s: %s", r->spec, nt_strerror(rc));
    nntp_cli_end(&r->s, NT_EXIT_PROTOCOL);
  }
}

static void fetch_number(read_t *r, uint64_t n);
static void search_newest(read_t *r, uint64_t below);

static void article_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  read_t *r = arg;
  (void)c;
  if (res->status == NT_ENNTP_NOARTICLE && !r->article) {
    /* cancelled or expired: the newest one below it */
    uint64_t n = strtoull(r->spec, NULL, 10);
    nt_nntp_article_free(&r->art);
    if (n > r->low) {
      search_newest(r, n);
      return;
    }
  }
  if (res->status) {
    char what[80];
    snprintf(what, sizeof what, "article %s", r->spec);
    nntp_cli_fail(&r->s, what, res);
    return;
  }
  nt_nntp_article_end(&r->art);
  if (r->json) {
    static const char *const names[] = {"Message-ID", "From", "Subject", "Date",
                                        "Newsgroups", "References"};
    static const char *const keys[] = {"message_id", "from", "subject", "date",
                                       "newsgroups", "references"};
    printf("{\"group\":");
    cli_json_string(stdout, r->group);
    if (r->spec[0] != '<') printf(",\"number\":%s", r->spec);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
      char *v = nt_nntp_article_header_utf8(&r->art, names[i]);
      if (!v) continue;
      printf(",\"%s\":", keys[i]);
      cli_json_string(stdout, v);
      free(v);
    }
    printf(",\"body\":[%s]}\n", r->json_body ? r->json_body : "");
    fflush(stdout);
    nntp_cli_end(&r->s, NT_EXIT_OK);
    return;
  }
  show_headers(r);
  if (r->art.mime && !r->art.text_found)
    printf("[a MIME article without a text/plain part: nothing to show]\n");
  fflush(stdout);
  nntp_cli_end(&r->s, NT_EXIT_OK);
}

static void send_fetch(read_t *r) {
  nt_nntp_article_init(&r->art);
  r->art.body_line = body_line;
  r->art.body_arg = r;
  int rc = nt_nntp_fetch(r->s.client, NT_NNTP_ARTICLE, r->spec, article_line,
                         article_done, r);
  if (rc) {
    cli_error("article %s: %s", r->spec, nt_strerror(rc));
    nntp_cli_end(&r->s, NT_EXIT_INTERNAL);
  }
}

static void fetch(read_t *r, const char *spec) {
  snprintf(r->spec, sizeof r->spec, "%s", spec);
  r->headers_shown = 0;
  r->body_seen = r->body_skip = 0;
  nt_nntp_filter_init(&r->filter, r->lines > 0 ? (size_t)r->lines : 0);
  send_fetch(r);
}

/* --retry after the connection was lost during the article: the same one
 * again, its body from the first line not yet handed on. */
static void refetch(read_t *r) {
  nt_nntp_article_free(&r->art);
  r->body_skip = r->body_seen > r->body_skip ? r->body_seen : r->body_skip;
  r->body_seen = 0;
  send_fetch(r);
}

static void fetch_number(read_t *r, uint64_t n) {
  char spec[32];
  snprintf(spec, sizeof spec, "%llu", (unsigned long long)n);
  fetch(r, spec);
}

static void search_row(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  read_t *r = arg;
  (void)c;
  if (o->number > r->found && o->number <= r->search_hi) r->found = o->number;
}

/* LISTGROUP lines: one article number each. */
static void search_number(nt_nntp_t *c, const char *line, size_t len, void *arg) {
  read_t *r = arg;
  (void)c;
  char buf[32];
  if (!len || len >= sizeof buf) return;
  memcpy(buf, line, len);
  buf[len] = 0;
  char *end;
  unsigned long long n = strtoull(buf, &end, 10);
  if (*end == 0 && n > r->found && n <= r->search_hi) r->found = n;
}

static void search_window(read_t *r);

static void search_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  read_t *r = arg;
  (void)c;
  if (res->status == NT_ENNTP_UNSUPPORTED && !r->no_over) {
    r->no_over = 1; /* no OVER nor XOVER: the same window by LISTGROUP */
    search_window(r);
    return;
  }
  if (res->status && res->status != NT_ENNTP_NOARTICLE) {
    char what[450];
    snprintf(what, sizeof what, "group %s: looking for the newest article", r->group);
    nntp_cli_fail(&r->s, what, res);
    return;
  }
  if (r->found) {
    fetch_number(r, r->found);
    return;
  }
  uint64_t lo = r->search_hi - r->window + 1;
  if (r->search_hi < r->window || lo <= r->low) { /* down to the low mark */
    char what[450];
    snprintf(what, sizeof what, "group %s: no article left in %llu-%llu", r->group,
             (unsigned long long)r->low, (unsigned long long)r->high);
    nntp_cli_fail(&r->s, what, res);
    return;
  }
  r->search_hi = lo - 1;
  r->window = r->window > UINT64_MAX / 8 ? r->window : r->window * 4;
  search_window(r);
}

static void search_window(read_t *r) {
  uint64_t hi = r->search_hi;
  uint64_t lo = hi >= r->window && hi - r->window + 1 > r->low ? hi - r->window + 1 : r->low;
  char range[64];
  snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)lo, (unsigned long long)hi);
  r->found = 0;
  int rc = r->no_over
               ? nt_nntp_listgroup(r->s.client, r->group, range, search_number, search_done, r)
               : nt_nntp_over(r->s.client, range, search_row, search_done, r);
  if (rc) {
    cli_error("overview: %s", nt_strerror(rc));
    nntp_cli_end(&r->s, NT_EXIT_INTERNAL);
  }
}

/* The newest existing article below `below`. */
static void search_newest(read_t *r, uint64_t below) {
  r->search_hi = below - 1;
  r->window = FIRST_WINDOW;
  search_window(r);
}

static void unread_run(uint64_t lo, uint64_t hi, void *arg) {
  read_t *r = arg;
  uint64_t(*p)[2] = realloc(r->runs, (r->nruns + 1) * sizeof *r->runs);
  if (!p) return;
  r->runs = p;
  r->runs[r->nruns][0] = lo;
  r->runs[r->nruns][1] = hi;
  r->nruns++;
}

/* The table (or JSON) is out: with --new, what was shown is read now. */
static void overview_done(void *arg, int64_t rows) {
  read_t *r = arg;
  if (rows < 0) {
    nntp_cli_end(&r->s, NT_EXIT_PROTOCOL);
    return;
  }
  if (r->new_only) {
    int rc = 0;
    /* below the low mark everything expired; the runs were shown */
    if (r->low > 1) rc = nt_newsrc_mark_read(r->newsrc, r->group, 1, r->low - 1);
    for (size_t i = 0; !rc && i < r->nruns; i++)
      rc = nt_newsrc_mark_read(r->newsrc, r->group, r->runs[i][0], r->runs[i][1]);
    if (!rc) rc = nt_newsrc_add(r->newsrc, r->group);
    if (!rc) rc = nt_newsrc_save(r->newsrc, r->newsrc_path);
    if (rc) {
      cli_error("%s: %s", r->newsrc_path, nt_strerror(rc));
      nntp_cli_end(&r->s, NT_EXIT_FILE);
      return;
    }
    if (!r->json && !rows) printf("%s: nothing new\n", r->group);
  }
  nntp_cli_end(&r->s, NT_EXIT_OK);
}

static void start_overview(read_t *r) {
  if (r->new_only) {
    if (r->high >= r->low && r->high)
      nt_newsrc_unread(r->newsrc, r->group, r->low, r->high, unread_run, r);
  } else {
    uint64_t n = (uint64_t)r->overview;
    uint64_t from = r->high - r->low + 1 > n ? r->high - n + 1 : r->low;
    unread_run(from, r->high, r);
  }
  r->job.s = &r->s;
  r->job.group = r->group;
  r->job.connections = r->connections ? r->connections : 1;
  r->job.threads = r->threads;
  r->job.json = r->json;
  r->job.count = r->count;
  r->job.low = r->low;
  r->job.high = r->high;
  r->job.done = overview_done;
  r->job.arg = r;
  int rc = nntp_over_start(&r->job, (const uint64_t(*)[2])r->runs, r->nruns);
  if (rc) nntp_cli_end(&r->s, rc);
}

/* What follows the GROUP reply: the article, the overview, or the latest. */
static void group_work(read_t *r) {
  int empty = r->count == 0 || r->high < r->low;
  if (r->article) {
    fetch(r, r->article);
    return;
  }
  if (empty && !r->new_only) {
    if (r->json)
      printf("{\"group\":\"%s\",\"count\":0,\"articles\":[]}\n", r->group);
    nntp_cli_end(&r->s, NT_EXIT_OK);
    return;
  }
  if (r->overview > 0 || r->new_only) {
    start_overview(r);
    return;
  }
  fetch_number(r, r->high);
}

static void group_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  read_t *r = arg;
  (void)c;
  if (res->status) {
    char what[450];
    snprintf(what, sizeof what, "group %s", r->group);
    nntp_cli_fail(&r->s, what, res);
    return;
  }
  if (r->group_shown) { /* --retry: a new session; what was not done */
    if (r->spec[0])
      refetch(r);
    else if (!r->job.impl) /* (a started overview retries on its own) */
      group_work(r);
    return;
  }
  r->group_shown = 1;
  r->count = res->count, r->low = res->low, r->high = res->high;
  int empty = res->count == 0 || res->high < res->low;
  if (r->json) {
    /* the JSON object says it all */
  } else if (empty)
    printf("%s: no articles\n", r->group);
  else
    printf("%s: %llu article%s, %llu-%llu\n", r->group, (unsigned long long)res->count,
           res->count == 1 ? "" : "s", (unsigned long long)res->low,
           (unsigned long long)res->high);
  group_work(r);
}

/* The loop is over (done, or Ctrl-C): the overview's timers stop. */
static void stop(nntp_cli_t *s) {
  read_t *r = s->data;
  nntp_over_stop(&r->job);
}

static void start(nntp_cli_t *s) {
  read_t *r = s->data;
  int rc = nt_nntp_group(s->client, r->group, group_done, r);
  if (rc) {
    cli_error("group %s: %s", r->group, nt_strerror(rc));
    nntp_cli_end(s, NT_EXIT_INTERNAL);
  }
}

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  read_t *x = ctx;
  switch (o->id) {
  case 'a':
    x->article = v->str;
    return 0;
  case 'l':
    x->lines = v->num;
    return 0;
  case 'A':
    x->all = 1;
    return 0;
  case 'n':
    x->new_only = 1;
    return 0;
  case 'N':
    x->newsrc_path = v->str;
    return 0;
  case 'H':
    x->threads = 1;
    return 0;
  case 'c':
    if (v->num == 0)
      return cli_usage_error("bad --connections '%s': expected 1 to 64", v->str);
    x->connections = (unsigned)v->num;
    return 0;
  case 'P':
    x->s.pipeline = 1;
    return 0;
  case 'Z':
    x->s.no_compress = 1;
    return 0;
  case 'o':
    if (v->num == 0)
      return cli_usage_error("bad --overview '%s': expected a number > 0", v->str);
    x->overview = v->num;
    return 0;
  default:
    return nntp_cli_own(&x->s, o, v);
  }
}

int cmd_nntp_read(int argc, char **argv) {
  read_t r;
  memset(&r, 0, sizeof r);
  nntp_cli_init(&r.s);
  r.lines = 20;
  cli_common_t co;
  int first;
  int prc = cli_opts_parse(&cli_spec_nntp_read, argc, argv, &co, own, &r, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  nntp_cli_common(&r.s, &co);
  if (argc - first != 1) return cli_usage_error("expected one GROUP (or URL)");
  if (r.article && r.overview)
    return cli_usage_error("--article and --overview do not go together");
  if (r.new_only && (r.article || r.overview))
    return cli_usage_error("--new goes with neither --article nor --overview");
  r.json = co.json;
  if (r.new_only) {
    if (!r.newsrc_path) {
      const char *home = getenv("HOME");
      if (!home || !*home)
        return cli_usage_error("--new: no $HOME for ~/.newsrc (give --newsrc FILE)");
      if (asprintf(&r.newsrc_default, "%s/.newsrc", home) < 0) return NT_EXIT_INTERNAL;
      r.newsrc_path = r.newsrc_default;
    }
    int nrc = nt_newsrc_load(r.newsrc_path, &r.newsrc);
    if (nrc) {
      cli_error("%s: %s", r.newsrc_path, nt_strerror(nrc));
      free(r.newsrc_default);
      return NT_EXIT_FILE;
    }
  }
  if (r.article && !nt_nntp_valid_message_id(r.article) &&
      (!nt_nntp_valid_range(r.article) || strchr(r.article, '-')))
    return cli_usage_error("bad --article '%s': expected a number or <message-id>",
                           r.article);
  int rc = nntp_cli_target(&r.s, argv[first], &r.group);
  if (rc) return rc;
  char urlnum[32];
  if (r.s.url_article && !r.article) {
    snprintf(urlnum, sizeof urlnum, "%d", r.s.url_article);
    r.article = urlnum;
  }
  r.s.on_ready = start;
  r.s.on_stop = stop;
  r.s.data = &r;
  cli_last_error[0] = 0;
  double t0 = cli_now();
  rc = nntp_cli_run(&r.s);
  if (r.json && rc) {
    /* On failure the article or overview object is not printed: the
     * transfer object says what failed, as for the other commands. */
    cli_json_xfer_t x;
    cli_json_xfer_init(&x, "nntp-read");
    x.host = r.s.host;
    x.port = r.s.port;
    x.path = r.group;
    x.exit_code = rc;
    x.error = cli_last_error[0] ? cli_last_error : NULL;
    x.seconds = cli_now() - t0;
    cli_json_print(&x);
  }
  nt_nntp_article_free(&r.art);
  nntp_over_free(&r.job);
  nt_newsrc_free(r.newsrc);
  free(r.newsrc_default);
  free(r.runs);
  free(r.json_body);
  free(r.group);
  return rc;
}
