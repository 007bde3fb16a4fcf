/* nettool nntp-list: the server's newsgroups (LIST ACTIVE [PATTERN]) with
 * their article counts and posting status. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_text.h"
#include "commands.h"
#include "nettool/nntp.h"

static const char usage_text[] =
    "usage: nettool nntp-list [PATTERN] [--server HOST[:PORT]] [-u USER[:PASS]]\n"
    "                         [--tls]\n"
    "\n"
    "Lists the newsgroups matching PATTERN (a wildmat such as 'comp.lang.*';\n"
    "default: all) as 'GROUP COUNT LOW-HIGH STATUS' lines, COUNT estimated\n"
    "from the range as servers report it; an alias shows its target\n"
    "('alias of GROUP').\n"
    "\n" NNTP_CLI_HELP
    "\n"
    "Exit status: 0 ok, 2 usage, 4 connect, 5 resolve, 6 TLS, 7 protocol,\n"
    "8 the server said no, 10 timeout, 130 interrupted.\n";

typedef struct {
  nntp_cli_t s;
  const char *pattern;
  unsigned long groups;
} list_t;

static const char *status_word(char st) {
  switch (st) {
  case 'y': return "posting";
  case 'n': return "no-posting";
  case 'm': return "moderated";
  case 'x': return "closed";
  case 'j': return "junk";
  case '=': return "alias";
  default: return "other";
  }
}

static void group_line(nt_nntp_t *c, const char *line, size_t len, void *arg) {
  list_t *l = arg;
  (void)c;
  nt_nntp_active_t a;
  if (nt_nntp_parse_active(line, len, &a)) return;
  uint64_t count = a.high >= a.low ? a.high - a.low + 1 : 0;
  if (a.high == 0 && a.low <= 1) count = 0;
  cli_text_put(stdout, a.group.p, a.group.n, 0);
  printf(" %llu %llu-%llu %s", (unsigned long long)count,
         (unsigned long long)a.low, (unsigned long long)a.high, status_word(a.status));
  if (a.status == '=') { /* where the alias leads */
    fputs(" of ", stdout);
    cli_text_put(stdout, a.alias_of.p, a.alias_of.n, 0);
  }
  putchar('\n');
  l->groups++;
}

static void list_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  list_t *l = arg;
  (void)c;
  if (res->status) {
    nntp_cli_fail(&l->s, "list", res);
    return;
  }
  fflush(stdout);
  nntp_cli_end(&l->s, NT_EXIT_OK);
}

static void start(nntp_cli_t *s) {
  list_t *l = s->data;
  int rc = nt_nntp_list(s->client, "ACTIVE", l->pattern, group_line, list_done, l);
  if (rc) {
    cli_error("list: %s", nt_strerror(rc));
    nntp_cli_end(s, NT_EXIT_INTERNAL);
  }
}

int cmd_nntp_list(int argc, char **argv) {
  static const struct option opts[] = {NNTP_CLI_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  list_t l;
  memset(&l, 0, sizeof l);
  nntp_cli_init(&l.s);
  int ch;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":h" NNTP_CLI_SHORTOPTS, opts, NULL)) != -1) {
    int rc = nntp_cli_option(&l.s, ch, optarg);
    if (rc > 0) return rc;
    if (rc == 0) continue;
    switch (ch) {
    case 'h':
      fputs(usage_text, stdout);
      return NT_EXIT_OK;
    case ':':
      return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
    default:
      return cli_usage_error("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind > 1) return cli_usage_error("expected at most one PATTERN");
  if (argc - optind == 1) {
    l.pattern = argv[optind];
    for (const char *p = l.pattern; *p; p++)
      if ((unsigned char)*p <= ' ' || *p == 0x7f)
        return cli_usage_error("bad PATTERN: no spaces or control characters");
    if (!*l.pattern || strlen(l.pattern) > 400)
      return cli_usage_error("bad PATTERN '%s'", l.pattern);
  }
  int rc = nntp_cli_server(&l.s);
  if (rc) return rc;
  l.s.on_ready = start;
  l.s.data = &l;
  return nntp_cli_run(&l.s);
}
