/* nettool nntp-read: a newsgroup's latest article (From, Subject, Date and
 * its first meaningful body lines, as the classic getLatestNNTP script
 * showed them), one article by number or message-id, or an overview table
 * of the last N articles. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_text.h"
#include "commands.h"
#include "nettool/nntp.h"

#define MAX_BACKTRACK 50 /* missing (cancelled, expired) articles skipped */

static const char usage_text[] =
    "usage: nettool nntp-read GROUP|URL [--server HOST[:PORT]] [-u USER[:PASS]]\n"
    "                         [--tls] [--article N|<msgid>] [--lines N] [--all]\n"
    "                         [--overview N]\n"
    "\n"
    "Shows GROUP's article count and range, then its latest article: From,\n"
    "Subject, Date and the first 20 meaningful body lines (quoted text,\n"
    "attributions and repeated blank lines left out). GROUP may be a URL:\n"
    "news://HOST[:PORT]/GROUP, nntp://HOST[:PORT]/GROUP[/N], nntps://...\n"
    "\n"
    "  --article N|<id>      this article instead of the latest\n"
    "  --lines N             show N meaningful lines (default 20)\n"
    "  --all                 show the whole body, unfiltered\n"
    "  --overview N          a table of the last N articles instead\n" NNTP_CLI_HELP
    "\n"
    "Exit status: 0 ok, 2 usage, 4 connect, 5 resolve, 6 TLS, 7 protocol,\n"
    "8 the server said no (411 no such group, 423/430 no such article, 480/481\n"
    "authentication), 10 timeout, 130 interrupted.\n";

typedef struct {
  nntp_cli_t s;
  char *group;
  const char *article; /* --article */
  long lines;
  int all;
  long overview;
  uint64_t low, high, count, tried;
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

static void fetch_latest(read_t *r);

static void article_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  read_t *r = arg;
  (void)c;
  if (res->status == NT_ENNTP_NOARTICLE && !r->article &&
      r->tried < MAX_BACKTRACK && r->high - r->tried > r->low) {
    r->tried++; /* cancelled or expired: the one before */
    nt_nntp_article_free(&r->art);
    fetch_latest(r);
    return;
  }
  if (res->status) {
    char what[80];
    snprintf(what, sizeof what, "article %s", r->spec);
    nntp_cli_fail(&r->s, what, res);
    return;
  }
  nt_nntp_article_end(&r->art);
  show_headers(r);
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

static void fetch_latest(read_t *r) {
  char n[32];
  snprintf(n, sizeof n, "%llu", (unsigned long long)(r->high - r->tried));
  fetch(r, n);
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

/* Prints s cut to `cols` characters (UTF-8 aware), padded when pad. */
static void column(const char *s, size_t cols, int pad) {
  size_t i = 0, chars = 0;
  while (s[i] && chars < cols) {
    size_t k = 1;
    while (s[i + k] && ((unsigned char)s[i + k] & 0xc0) == 0x80) k++;
    i += k;
    chars++;
  }
  cli_text_put(stdout, s, i, 0);
  if (pad)
    for (; chars < cols; chars++) putchar(' ');
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
  fetch_latest(r);
}

static void start(nntp_cli_t *s) {
  read_t *r = s->data;
  int rc = nt_nntp_group(s->client, r->group, group_done, r);
  if (rc) {
    cli_error("group %s: %s", r->group, nt_strerror(rc));
    nntp_cli_end(s, NT_EXIT_INTERNAL);
  }
}

static int number_arg(const char *s, long *out, long max) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < 0 || v > max) return -1;
  *out = v;
  return 0;
}

int cmd_nntp_read(int argc, char **argv) {
  static const struct option opts[] = {NNTP_CLI_LONGOPTS,
                                       {"article", required_argument, NULL, 'a'},
                                       {"lines", required_argument, NULL, 'l'},
                                       {"all", no_argument, NULL, 'A'},
                                       {"overview", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  read_t r;
  memset(&r, 0, sizeof r);
  nntp_cli_init(&r.s);
  r.lines = 20;
  int ch;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":hu:", opts, NULL)) != -1) {
    int rc = nntp_cli_option(&r.s, ch, optarg);
    if (rc > 0) return rc;
    if (rc == 0) continue;
    switch (ch) {
    case 'a':
      r.article = optarg;
      break;
    case 'l':
      if (number_arg(optarg, &r.lines, 1000000))
        return cli_usage_error("bad --lines '%s': expected a number >= 0", optarg);
      break;
    case 'A':
      r.all = 1;
      break;
    case 'o':
      if (number_arg(optarg, &r.overview, 10000000) || r.overview == 0)
        return cli_usage_error("bad --overview '%s': expected a number > 0", optarg);
      break;
    case 'h':
      fputs(usage_text, stdout);
      return NT_EXIT_OK;
    case ':':
      return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
    default:
      return cli_usage_error("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind != 1) return cli_usage_error("expected one GROUP (or URL)");
  if (r.article && r.overview)
    return cli_usage_error("--article and --overview do not go together");
  if (r.article && !nt_nntp_valid_message_id(r.article) &&
      (!nt_nntp_valid_range(r.article) || strchr(r.article, '-')))
    return cli_usage_error("bad --article '%s': expected a number or <message-id>",
                           r.article);
  int rc = nntp_cli_target(&r.s, argv[optind], &r.group);
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
