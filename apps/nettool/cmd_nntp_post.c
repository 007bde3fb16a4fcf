/* nettool nntp-post: posts an article read from FILE or stdin. Its headers
 * come from the file (when it starts with a header block ended by an empty
 * line; otherwise the whole input is the body) and/or from --from and
 * --subject; Newsgroups is GROUP. Non-ASCII header text becomes RFC 2047
 * encoded words, and a non-ASCII body gets a UTF-8 Content-Type. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_text.h"
#include "commands.h"
#include "nettool/nntp.h"

#define MAX_ARTICLE (1024 * 1024)

static const cli_opt_t own_opts[] = {
    {"from", 0, CLI_T_STR, 0, 'f', "ADDR", "the From header, e.g. 'Ann <ann@example.org>'", 0},
    {"subject", 0, CLI_T_STR, 0, 's', "TEXT", "the Subject header", 0},
    NNTP_CLI_ROWS,
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_nntp_post = {
    "nntp-post",
    "usage: nettool nntp-post GROUP FILE|- [--from ADDR] [--subject TEXT]\n"
    "                         [--server HOST[:PORT]] [-u USER[:PASS]] [--tls]\n"
    "\n"
    "Posts FILE (or stdin for -) to GROUP (several: a,b). If FILE starts with\n"
    "a block of header lines ('Name: value') ended by an empty line, they are\n"
    "the headers and the rest is the body; otherwise all of FILE is the body.\n"
    "--from and --subject set or replace From and Subject. Non-ASCII (UTF-8)\n"
    "header text is sent as RFC 2047 encoded words. At most 1 MiB; an empty\n"
    "body is refused. Prints the server's answer.\n",
    NNTP_CLI_SHARED,
    own_opts,
    nntp_cli_shared_help,
    "Exit status: 0 posted, 2 usage, 4 connect, 6 TLS, 7 protocol, 8 the\n"
    "server said no (440 posting not allowed, 441 posting failed, 480/481\n"
    "authentication), 9 unreadable FILE, 10 timeout, 11 bad article (NUL\n"
    "byte, too big, no body, 8-bit text that cannot be encoded), 130\n"
    "interrupted.\n",
};

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

/* A header line "Name: value": a name of printable ASCII without spaces,
 * a colon, then a space, a tab or nothing. "http://example.org/x is down"
 * is no header (RFC 5322 allows "Name:value", but no news software writes
 * it, and text that starts with a URL is far more common). Returns the
 * name's length, 0 if the line is no header. */
static size_t header_name_len(const char *p, const char *end) {
  const char *q = p;
  while (q < end && *q > ' ' && *q < 0x7f && *q != ':') q++;
  if (q == p || q >= end || *q != ':') return 0;
  if (q + 1 < end && q[1] != ' ' && q[1] != '\t' && q[1] != '\r') return 0;
  return (size_t)(q - p);
}

/* One line of the input: [p, p+n) without its line end; next is where the
 * following line starts (end when there is none). */
typedef struct {
  const char *p, *next;
  size_t n;
} line_t;

static int next_line(const char **pos, const char *end, line_t *l) {
  if (*pos >= end) return 0;
  const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
  l->p = *pos;
  l->n = (size_t)((nl ? nl : end) - *pos);
  if (l->n && l->p[l->n - 1] == '\r') l->n--;
  l->next = nl ? nl + 1 : end;
  *pos = l->next;
  return 1;
}

/* Where the body starts: after the header block the input opens with (every
 * line a header or a continuation of one, ended by an empty line), else at
 * the very start (the whole input is the body: nothing is dropped).
 * *almost is set when the input opens with a header line but is no such
 * block (a line that is no header before the empty line, or none at all),
 * so a message can say why its headers were taken as text. */
static const char *body_start(const char *in, const char *end, int *almost) {
  const char *pos = in;
  line_t l;
  int seen = 0;
  *almost = 0;
  while (next_line(&pos, end, &l)) {
    if (l.n == 0) return seen ? l.next : in;
    int folded = l.p[0] == ' ' || l.p[0] == '\t';
    if (folded ? !seen : !header_name_len(l.p, l.p + l.n)) break;
    seen = 1;
  }
  *almost = seen;
  return in;
}

static int utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2
             : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!k || i + k > n) return 0;
    for (size_t j = 1; j < k; j++)
      if ((p[i + j] & 0xc0) != 0x80) return 0;
    if (k == 3 && ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] > 0x9f)))
      return 0;
    if (k == 4 && ((c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] > 0x8f)))
      return 0;
    i += k;
  }
  return 1;
}

static int eight_bit(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80) return 1;
  return 0;
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

/* Appends text as RFC 2047 encoded words when it is not ASCII, folding the
 * line between words so no line grows past ~78 characters. `col` is the
 * column the text starts at. */
static int add_words(sbuf_t *b, const char *text, size_t n, size_t col) {
  char *part = strndup(text, n), *enc = NULL;
  if (!part || nt_nntp_encode_header(part, &enc)) {
    free(part);
    return NT_EXIT_INTERNAL;
  }
  free(part);
  const char *w = enc;
  while (*w) {
    const char *sp = strstr(w, " =?UTF-8?B?");
    size_t wl = sp ? (size_t)(sp - w) : strlen(w);
    if (w != enc) {
      if (col + 1 + wl > 78) {
        adds(b, "\n ");
        col = 1;
      } else {
        adds(b, " ");
        col++;
      }
    }
    add(b, w, wl);
    col += wl;
    w = sp ? sp + 1 : w + wl;
  }
  free(enc);
  return 0;
}

/* The display name of an address header: "Name <addr>" (quotes dropped)
 * or "addr (Name)" is encoded, the address never is (RFC 2047 5). Returns
 * 0, or an exit code with a message when the 8-bit text cannot be encoded. */
static int add_address(sbuf_t *b, const char *name, const char *v, size_t n) {
  const char *lt = memchr(v, '<', n), *lp = memchr(v, '(', n);
  const char *rp = lp ? memchr(lp, ')', (size_t)(v + n - lp)) : NULL;
  const char *ps, *pe, *addr, *addr_end = v + n;
  if (lt) { /* phrase <addr> */
    ps = v, pe = lt, addr = lt;
  } else if (lp && rp) { /* addr (comment) */
    ps = lp + 1, pe = rp, addr = v, addr_end = lp;
  } else {
    ps = pe = v, addr = v;
  }
  if (eight_bit(addr, (size_t)(addr_end - addr)) ||
      (!lt && rp && eight_bit(rp, (size_t)(v + n - rp)))) {
    cli_error("the %s address has non-ASCII characters; only the name may", name);
    return NT_EXIT_INPUT;
  }
  while (ps < pe && (*ps == ' ' || *ps == '\t' || *ps == '"')) ps++;
  while (pe > ps && (pe[-1] == ' ' || pe[-1] == '\t' || pe[-1] == '"')) pe--;
  add(b, name, strlen(name));
  adds(b, ": ");
  int rc = 0;
  if (lt) {
    if (pe > ps) rc = add_words(b, ps, (size_t)(pe - ps), strlen(name) + 2);
    if (pe > ps) adds(b, " ");
    add(b, lt, (size_t)(v + n - lt));
  } else {
    add(b, addr, (size_t)(addr_end - addr));
    if (lp && rp) {
      while (b->n && b->p[b->n - 1] == ' ') b->n--;
      adds(b, " (");
      rc = add_words(b, ps, (size_t)(pe - ps), 80);
      adds(b, ")");
    }
  }
  adds(b, "\n");
  return rc;
}

static int is_name(const char *name, size_t n, const char *want) {
  return n == strlen(want) && !strncasecmp(name, want, n);
}

/* Headers whose 8-bit text becomes encoded words: the display name of the
 * address ones, the whole value of the text ones. Others (Message-ID,
 * References, Newsgroups, Content-Type...) may not carry 8-bit text. */
static const char *const address_headers[] = {"From", "Reply-To", "Sender",
                                              "To", "Cc", "Approved", NULL};
static const char *const text_headers[] = {"Subject", "Organization", "Summary",
                                           "Keywords", "Comments", "X-", NULL};

/* One header of the input, unfolded when it has 8-bit text. */
static int add_header(sbuf_t *b, const char *h, size_t n, size_t name_len) {
  if (!eight_bit(h, n)) { /* as the user wrote it, folding included */
    add(b, h, n);
    adds(b, "\n");
    return 0;
  }
  char name[128];
  snprintf(name, sizeof name, "%.*s", (int)(name_len < 100 ? name_len : 100), h);
  /* unfold: CR/LF dropped, the whitespace that follows kept */
  char *v = malloc(n + 1);
  if (!v) return NT_EXIT_INTERNAL;
  size_t vn = 0;
  const char *p = h + name_len + 1;
  while (p < h + n && (*p == ' ' || *p == '\t')) p++;
  for (; p < h + n; p++)
    if (*p != '\r' && *p != '\n') v[vn++] = *p;
  v[vn] = 0;
  int rc = 0;
  if (!utf8_valid(v, vn)) {
    cli_error("header %s: 8-bit text that is not UTF-8 (save the file as UTF-8)", name);
    rc = NT_EXIT_INPUT;
  }
  int kind = 0;
  for (int i = 0; !rc && address_headers[i]; i++)
    if (is_name(h, name_len, address_headers[i])) kind = 1;
  for (int i = 0; !rc && !kind && text_headers[i]; i++)
    if (is_name(h, name_len, text_headers[i]) ||
        (!strcmp(text_headers[i], "X-") && name_len > 2 && !strncasecmp(h, "X-", 2)))
      kind = 2;
  if (!rc && kind == 1) {
    rc = add_address(b, name, v, vn);
  } else if (!rc && kind == 2) {
    adds(b, name);
    adds(b, ": ");
    rc = add_words(b, v, vn, name_len + 2);
    adds(b, "\n");
  } else if (!rc) {
    cli_error("header %s may not contain non-ASCII text", name);
    rc = NT_EXIT_INPUT;
  }
  free(v);
  return rc;
}

/* --from / --subject: set or replace the header. */
static int add_option(sbuf_t *b, const char *name, const char *value) {
  if (strpbrk(value, "\r\n"))
    return cli_usage_error("--%s may not contain line breaks", name[0] == 'F' ? "from" : "subject");
  if (!eight_bit(value, strlen(value))) {
    adds(b, name);
    adds(b, ": ");
    adds(b, value);
    adds(b, "\n");
    return 0;
  }
  if (!utf8_valid(value, strlen(value)))
    return cli_usage_error("--%s is not UTF-8 text", name[0] == 'F' ? "from" : "subject");
  if (name[0] == 'F') { /* a bad address here is a bad option */
    int rc = add_address(b, name, value, strlen(value));
    return rc == NT_EXIT_INPUT ? NT_EXIT_USAGE : rc;
  }
  adds(b, name);
  adds(b, ": ");
  int rc = add_words(b, value, strlen(value), strlen(name) + 2);
  adds(b, "\n");
  return rc;
}

static int only_space(const char *p, const char *end) {
  for (; p < end; p++)
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') return 0;
  return 1;
}

/* Builds the article to send; returns 0 or an exit code. */
static int build(post_t *p, char *in, size_t len) {
  sbuf_t b = {0};
  const char *end = in + len;
  int almost;
  const char *body = body_start(in, end, &almost);
  if (only_space(body, end)) {
    cli_error("the article has no body: nothing to post");
    return NT_EXIT_INPUT;
  }
  int has_from = 0, has_subject = 0, has_ct = 0, has_mime = 0, rc = 0;
  const char *pos = in;
  line_t l;
  while (!rc && pos < body && next_line(&pos, body, &l) && l.n) {
    /* one header with its continuation lines */
    const char *h = l.p, *hend = l.p + l.n;
    size_t nl = header_name_len(l.p, l.p + l.n);
    while (pos < body && (*pos == ' ' || *pos == '\t') && next_line(&pos, body, &l))
      hend = l.p + l.n;
    int skip = is_name(h, nl, "Newsgroups") || (p->from && is_name(h, nl, "From")) ||
               (p->subject && is_name(h, nl, "Subject"));
    has_from |= is_name(h, nl, "From");
    has_subject |= is_name(h, nl, "Subject");
    has_ct |= is_name(h, nl, "Content-Type");
    has_mime |= is_name(h, nl, "MIME-Version");
    if (!skip) rc = add_header(&b, h, (size_t)(hend - h), nl);
  }
  /* header lines without the empty line after them are text (the rule
   * keeps everything the user wrote); say so when that is why */
  const char *why = almost ? " (the input does not start with 'Name: value' "
                             "lines ended by an empty line, so all of it is the body)"
                           : "";
  if (!rc && !p->from && !has_from)
    rc = cli_usage_error("no From: give --from or a From: header in the file%s", why);
  if (!rc && !p->subject && !has_subject)
    rc = cli_usage_error("no Subject: give --subject or a Subject: header%s", why);
  if (!rc && p->from) rc = add_option(&b, "From", p->from);
  if (!rc && p->subject) rc = add_option(&b, "Subject", p->subject);
  if (rc) {
    free(b.p);
    return rc;
  }
  adds(&b, "Newsgroups: ");
  adds(&b, p->group);
  adds(&b, "\n");
  if (eight_bit(body, (size_t)(end - body)) && !has_ct) {
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
  cli_text_put(stdout, res->text, strlen(res->text), 0);
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

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  post_t *x = ctx;
  switch (o->id) {
  case 'f':
    x->from = v->str;
    return 0;
  case 's':
    x->subject = v->str;
    return 0;
  default:
    return nntp_cli_own(&x->s, o, v);
  }
}

int cmd_nntp_post(int argc, char **argv) {
  post_t p;
  memset(&p, 0, sizeof p);
  nntp_cli_init(&p.s);
  cli_common_t co;
  int first;
  int prc = cli_opts_parse(&cli_spec_nntp_post, argc, argv, &co, own, &p, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  nntp_cli_common(&p.s, &co);
  if (argc - first != 2) return cli_usage_error("expected GROUP and FILE (or -)");
  /* GROUP may list several groups: a,b */
  const char *groups = argv[first];
  char one[450];
  for (const char *g = groups;; g++) { /* no empty name: "a,", ",a", "a,,b" */
    size_t n = strcspn(g, ",");
    if (!n || n >= sizeof one) return cli_usage_error("bad GROUP '%s'", groups);
    memcpy(one, g, n);
    one[n] = 0;
    if (!nt_nntp_valid_group(one)) return cli_usage_error("bad GROUP '%s'", one);
    g += n;
    if (!*g) break;
  }
  char *in;
  size_t len;
  int rc = read_input(argv[first + 1], &in, &len);
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
