/* nettool nntp-read: a newsgroup's latest article (From, Subject, Date and
 * its first meaningful body lines, as the classic getLatestNNTP script
 * showed them), one article by number or message-id, or an overview table
 * of the last N articles. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "cli.h"
#include "cli_text.h"
#include "commands.h"
#include "nettool/nntp.h"

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
    NNTP_CLI_ROWS,
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_nntp_read = {
    "nntp-read",
    "usage: nettool nntp-read GROUP|URL [--server HOST[:PORT]] [-u USER[:PASS]]\n"
    "                         [--tls] [--article N|<msgid>] [--lines N] [--all]\n"
    "                         [--overview N]\n"
    "\n"
    "Shows GROUP's article count and range, then its latest article: From,\n"
    "Subject, Date and the first 20 meaningful body lines (quoted text,\n"
    "attributions and repeated blank lines left out; of a MIME article, its\n"
    "first text/plain part, decoded). If the newest numbers were cancelled,\n"
    "the newest article left is shown. GROUP may be a URL:\n"
    "news://HOST[:PORT]/GROUP, nntp://HOST[:PORT]/GROUP[/N], nntps://...\n",
    NNTP_CLI_SHARED,
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

static void body_line(void *arg, const char *line, size_t len) {
  read_t *r = arg;
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
  show_headers(r);
  if (r->art.mime && !r->art.text_found)
    printf("[a MIME article without a text/plain part: nothing to show]\n");
  fflush(stdout);
  nntp_cli_end(&r->s, NT_EXIT_OK);
}

static void fetch(read_t *r, const char *spec) {
  snprintf(r->spec, sizeof r->spec, "%s", spec);
  nt_nntp_article_init(&r->art);
  r->art.body_line = body_line;
  r->art.body_arg = r;
  r->headers_shown = 0;
  nt_nntp_filter_init(&r->filter, r->lines > 0 ? (size_t)r->lines : 0);
  int rc = nt_nntp_fetch(r->s.client, NT_NNTP_ARTICLE, spec, article_line,
                         article_done, r);
  if (rc) {
    cli_error("article %s: %s", spec, nt_strerror(rc));
    nntp_cli_end(&r->s, NT_EXIT_INTERNAL);
  }
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

/* "Name <addr>" -> Name; "addr (Name)" -> Name; else as it is. */
static void display_name(const char *from, char *out, size_t size) {
  const char *lt = strchr(from, '<'), *lp = strchr(from, '(');
  const char *s = from, *e = from + strlen(from);
  if (lt && lt > from) {
    e = lt;
  } else if (lp && strchr(lp, ')')) {
    s = lp + 1;
    e = strchr(lp, ')');
  }
  while (s < e && (*s == ' ' || *s == '"')) s++;
  while (e > s && (e[-1] == ' ' || e[-1] == '"')) e--;
  if (s == e) s = from, e = from + strlen(from);
  snprintf(out, size, "%.*s", (int)(e - s), s);
}

/* Terminal columns of one character: wcwidth() under a UTF-8 LC_CTYPE
 * (set once, only for this), else a table of the wide ranges (CJK, Hangul,
 * fullwidth forms, emoji); combining marks take none. */
static int char_width(unsigned cp) {
  static int utf8_locale = -1;
  if (utf8_locale < 0)
    utf8_locale = setlocale(LC_CTYPE, "C.UTF-8") || setlocale(LC_CTYPE, "C.utf8") ||
                  setlocale(LC_CTYPE, "en_US.UTF-8");
  if (utf8_locale) {
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w; /* controls were made '?' by the sanitiser */
  }
  if (cp >= 0x300 && cp <= 0x36f) return 0;
  if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
      (cp >= 0x20000 && cp <= 0x3fffd))
    return 2;
  return 1;
}

/* Prints s cut to `cols` terminal columns (a double-width character that
 * would straddle the edge is left out), padded to them when pad, so the
 * columns of the table line up whatever the script. s is UTF-8 (decoded
 * by nt_nntp_decode_header). */
static void column(const char *s, size_t cols, int pad) {
  char clean[1024];
  cli_text_clean(clean, sizeof clean, s, strlen(s), 0);
  const unsigned char *p = (const unsigned char *)clean;
  size_t i = 0, used = 0;
  while (p[i]) {
    unsigned cp = p[i];
    size_t k = 1;
    if (cp >= 0xc0) {
      k = cp >= 0xf0 ? 4 : cp >= 0xe0 ? 3 : 2;
      cp &= k == 2 ? 0x1f : k == 3 ? 0x0f : 0x07;
      for (size_t j = 1; j < k && p[i + j]; j++) cp = (cp << 6) | (p[i + j] & 0x3f);
    }
    int w = char_width(cp);
    if (used + (size_t)w > cols) break;
    used += (size_t)w;
    i += k;
  }
  fwrite(clean, 1, i, stdout);
  if (pad)
    for (; used < cols; used++) putchar(' ');
}

static char *decode(nt_nntp_str_t f) {
  char *out = NULL;
  if (nt_nntp_decode_header(f.p, f.n, NULL, &out, NULL)) return NULL;
  for (char *p = out; *p; p++)
    if (*p == '\t') *p = ' ';
  return out;
}

static void over_row(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  (void)c, (void)arg;
  char date[32] = "";
  time_t t;
  struct tm tm;
  if (nt_nntp_parse_rfc5322_date(o->date.p, o->date.n, &t) == 0 && gmtime_r(&t, &tm))
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
  else
    snprintf(date, sizeof date, "%.*s", (int)(o->date.n < 16 ? o->date.n : 16),
             o->date.p);
  for (char *p = date; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
  char *from = decode(o->from), *subject = decode(o->subject);
  char name[256];
  display_name(from ? from : "", name, sizeof name);
  printf("%8llu  %-16s  ", (unsigned long long)o->number, date);
  column(name, 24, 1);
  printf("  ");
  column(subject ? subject : "", 200, 0);
  putchar('\n');
  free(from);
  free(subject);
}

static void over_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  read_t *r = arg;
  (void)c;
  if (res->status) {
    nntp_cli_fail(&r->s, "overview", res);
    return;
  }
  fflush(stdout);
  nntp_cli_end(&r->s, NT_EXIT_OK);
}

static void group_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  read_t *r = arg;
  if (res->status) {
    char what[450];
    snprintf(what, sizeof what, "group %s", r->group);
    nntp_cli_fail(&r->s, what, res);
    return;
  }
  r->count = res->count, r->low = res->low, r->high = res->high;
  int empty = res->count == 0 || res->high < res->low;
  if (empty)
    printf("%s: no articles\n", r->group);
  else
    printf("%s: %llu article%s, %llu-%llu\n", r->group, (unsigned long long)res->count,
           res->count == 1 ? "" : "s", (unsigned long long)res->low,
           (unsigned long long)res->high);
  if (r->article) {
    fetch(r, r->article);
    return;
  }
  if (empty) {
    nntp_cli_end(&r->s, NT_EXIT_OK);
    return;
  }
  if (r->overview > 0) {
    uint64_t n = (uint64_t)r->overview;
    uint64_t from = r->high - r->low + 1 > n ? r->high - n + 1 : r->low;
    char range[64];
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)from,
             (unsigned long long)r->high);
    printf("  number  date              from                      subject\n");
    int rc = nt_nntp_over(c, range, over_row, over_done, r);
    if (rc) {
      cli_error("overview: %s", nt_strerror(rc));
      nntp_cli_end(&r->s, NT_EXIT_INTERNAL);
    }
    return;
  }
  fetch_number(r, r->high);
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
  r.s.data = &r;
  rc = nntp_cli_run(&r.s);
  nt_nntp_article_free(&r.art);
  free(r.group);
  return rc;
}
