/* nettool nntp-post: posts an article read from FILE or stdin. Its headers
 * come from the file (when it starts with header lines) and/or from --from
 * and --subject; Newsgroups is GROUP. Non-ASCII From/Subject values become
 * RFC 2047 encoded words, and a non-ASCII body gets a UTF-8 Content-Type. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "commands.h"
#include "nettool/nntp.h"

#define MAX_ARTICLE (1024 * 1024)

static const char usage_text[] =
    "usage: nettool nntp-post GROUP FILE|- [--from ADDR] [--subject TEXT]\n"
    "                         [--server HOST[:PORT]] [-u USER[:PASS]] [--tls]\n"
    "\n"
    "Posts FILE (or stdin for -) to GROUP (several: a,b). If FILE starts with\n"
    "header lines ('Name: value') up to an empty line, they are used; --from\n"
    "and --subject set or replace From and Subject (UTF-8 is encoded as\n"
    "RFC 2047 words). At most 1 MiB. Prints the server's answer.\n"
    "\n"
    "  --from ADDR           the From header, e.g. 'Ann <ann@example.org>'\n"
    "  --subject TEXT        the Subject header\n" NNTP_CLI_HELP
    "\n"
    "Exit status: 0 posted, 2 usage, 4 connect, 6 TLS, 7 protocol, 8 the\n"
    "server said no (440 posting not allowed, 441 posting failed, 480/481\n"
    "authentication), 9 unreadable FILE, 11 bad article (NUL byte, too big,\n"
    "malformed header), 10 timeout.\n";

typedef struct {
  nntp_cli_t s;
  char *group;
  const char *from, *subject;
  char *article;
  size_t len;
} post_t;

static int read_input(const char *path, char **out, size_t *len) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    cli_error("cannot read %s: %s", path, strerror(errno));
    return NT_EXIT_FILE;
  }
  char *buf = malloc(MAX_ARTICLE + 1);
  size_t n = buf ? fread(buf, 1, MAX_ARTICLE + 1, f) : 0;
  int err = buf ? ferror(f) : 0;
  if (f != stdin) fclose(f);
  if (!buf) {
    cli_error("out of memory");
    return NT_EXIT_INTERNAL;
  }
  if (err) {
    free(buf);
    cli_error("cannot read %s", path);
    return NT_EXIT_FILE;
  }
  if (n > MAX_ARTICLE) {
    free(buf);
    cli_error("%s: article larger than %d bytes", path, MAX_ARTICLE);
    return NT_EXIT_INPUT;
  }
  if (memchr(buf, 0, n)) {
    free(buf);
    cli_error("%s: the article contains a NUL byte", path);
    return NT_EXIT_INPUT;
  }
  *out = buf;
  *len = n;
  return 0;
}

/* "Name:" at the start of a line: printable ASCII without spaces. */
static int header_name_len(const char *p, const char *end) {
  const char *q = p;
  while (q < end && *q > ' ' && *q < 0x7f && *q != ':') q++;
  return q > p && q < end && *q == ':' ? (int)(q - p) : 0;
}

typedef struct {
  char *p;
  size_t n, cap;
  int failed;
} sbuf_t;

static void add(sbuf_t *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->n + n + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
      b->failed = 1;
      return;
    }
    b->p = q, b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void adds(sbuf_t *b, const char *s) { add(b, s, strlen(s)); }

/* Subject: the whole value may be encoded words. From: only the display
 * name of "Name <addr>" (RFC 2047 5: never the address itself). */
static int add_encoded(sbuf_t *b, const char *name, const char *value) {
  char *enc;
  if (strpbrk(value, "\r\n")) return cli_usage_error("--%s may not contain line breaks", name);
  const char *lt = name[0] == 'f' ? strrchr(value, '<') : NULL;
  size_t n = lt ? (size_t)(lt - value) : strlen(value);
  while (lt && n && value[n - 1] == ' ') n--;
  char *part = strndup(value, n);
  if (!part || nt_nntp_encode_header(part, &enc)) {
    free(part);
    return NT_EXIT_INTERNAL;
  }
  free(part);
  adds(b, name[0] == 'f' ? "From: " : "Subject: ");
  adds(b, enc);
  if (lt) {
    adds(b, n ? " " : "");
    adds(b, lt);
  }
  adds(b, "\n");
  free(enc);
  return 0;
}

/* Builds the article to send; returns 0 or an exit code. */
static int build(post_t *p, char *in, size_t len) {
  sbuf_t b = {0};
  const char *end = in + len, *body = in;
  int has_from = 0, has_subject = 0, has_ct = 0, has_mime = 0;
  if (header_name_len(in, end)) { /* the file brings headers */
    const char *line = in;
    int skip = 0;
    while (line < end) {
      const char *nl = memchr(line, '\n', (size_t)(end - line));
      const char *le = nl ? nl : end;
      size_t n = (size_t)(le - line);
      if (n && line[n - 1] == '\r') n--;
      if (n == 0) {
        body = nl ? nl + 1 : end;
        break;
      }
      int folded = line[0] == ' ' || line[0] == '\t';
      int nl_len = folded ? 0 : header_name_len(line, le);
      if (!folded && !nl_len) {
        cli_error("bad header line in the article: '%.*s' (headers end at the "
                  "first empty line)", (int)(n > 60 ? 60 : n), line);
        free(b.p);
        return NT_EXIT_INPUT;
      }
      if (!folded) {
        skip = (nl_len == 10 && !strncasecmp(line, "Newsgroups", 10)) ||
               (p->from && nl_len == 4 && !strncasecmp(line, "From", 4)) ||
               (p->subject && nl_len == 7 && !strncasecmp(line, "Subject", 7));
        has_from |= nl_len == 4 && !strncasecmp(line, "From", 4);
        has_subject |= nl_len == 7 && !strncasecmp(line, "Subject", 7);
        has_ct |= nl_len == 12 && !strncasecmp(line, "Content-Type", 12);
        has_mime |= nl_len == 12 && !strncasecmp(line, "MIME-Version", 12);
      }
      if (!skip) {
        add(&b, line, n);
        adds(&b, "\n");
      }
      body = nl ? nl + 1 : end;
      line = nl ? nl + 1 : end;
    }
  }
  if (!p->from && !has_from) {
    free(b.p);
    return cli_usage_error("no From: give --from or a From: header in the file");
  }
  if (!p->subject && !has_subject) {
    free(b.p);
    return cli_usage_error("no Subject: give --subject or a Subject: header");
  }
  int rc = 0;
  if (p->from) rc = add_encoded(&b, "from", p->from);
  if (!rc && p->subject) rc = add_encoded(&b, "subject", p->subject);
  if (rc) {
    free(b.p);
    return rc;
  }
  adds(&b, "Newsgroups: ");
  adds(&b, p->group);
  adds(&b, "\n");
  int eight_bit = 0;
  for (const char *q = body; q < end; q++)
    if ((unsigned char)*q >= 0x80) eight_bit = 1;
  if (eight_bit && !has_ct) {
    if (!has_mime) adds(&b, "MIME-Version: 1.0\n");
    adds(&b, "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n");
  }
  adds(&b, "\n");
  add(&b, body, (size_t)(end - body));
  if (b.failed) {
    free(b.p);
    cli_error("out of memory");
    return NT_EXIT_INTERNAL;
  }
  p->article = b.p;
  p->len = b.n;
  return 0;
}

static void post_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  post_t *p = arg;
  (void)c;
  if (res->status) {
    char what[450];
    snprintf(what, sizeof what, "post to %s", p->group);
    nntp_cli_fail(&p->s, what, res);
    return;
  }
  printf("posted to %s: %d ", p->group, res->code);
  nntp_cli_put(res->text, strlen(res->text));
  putchar('\n');
  fflush(stdout);
  nntp_cli_end(&p->s, NT_EXIT_OK);
}

static void start(nntp_cli_t *s) {
  post_t *p = s->data;
  int rc = nt_nntp_post(s->client, p->article, p->len, post_done, p);
  if (rc) {
    cli_error("post: %s", nt_strerror(rc));
    nntp_cli_end(s, rc == NT_EINVAL || rc == NT_ETOOBIG ? NT_EXIT_INPUT
                                                        : NT_EXIT_INTERNAL);
  }
}

int cmd_nntp_post(int argc, char **argv) {
  static const struct option opts[] = {NNTP_CLI_LONGOPTS,
                                       {"from", required_argument, NULL, 'f'},
                                       {"subject", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  post_t p;
  memset(&p, 0, sizeof p);
  nntp_cli_init(&p.s);
  int ch;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":hu:", opts, NULL)) != -1) {
    int rc = nntp_cli_option(&p.s, ch, optarg);
    if (rc > 0) return rc;
    if (rc == 0) continue;
    switch (ch) {
    case 'f':
      p.from = optarg;
      break;
    case 's':
      p.subject = optarg;
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
  if (argc - optind != 2) return cli_usage_error("expected GROUP and FILE (or -)");
  /* GROUP may list several groups: a,b */
  const char *groups = argv[optind];
  char one[450];
  for (const char *g = groups; *g;) {
    size_t n = strcspn(g, ",");
    if (!n || n >= sizeof one) return cli_usage_error("bad GROUP '%s'", groups);
    memcpy(one, g, n);
    one[n] = 0;
    if (!nt_nntp_valid_group(one)) return cli_usage_error("bad GROUP '%s'", one);
    g += n + (g[n] == ',');
  }
  char *in;
  size_t len;
  int rc = read_input(argv[optind + 1], &in, &len);
  if (rc) return rc;
  p.group = strdup(groups);
  rc = p.group ? build(&p, in, len) : NT_EXIT_INTERNAL;
  free(in);
  if (!rc) rc = nntp_cli_server(&p.s);
  if (!rc) {
    p.s.on_ready = start;
    p.s.data = &p;
    rc = nntp_cli_run(&p.s);
  }
  free(p.article);
  free(p.group);
  return rc;
}
