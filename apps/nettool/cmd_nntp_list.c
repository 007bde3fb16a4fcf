/* nettool nntp-list: the server's newsgroups (LIST ACTIVE [PATTERN]) with
 * their article counts and posting status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_text.h"
#include "commands.h"
#include "nettool/nntp.h"

static const cli_opt_t own_opts[] = {

    NNTP_CLI_ROWS,
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_nntp_list = {
    "nntp-list",
    "usage: nettool nntp-list [PATTERN] [--server HOST[:PORT]] [-u USER[:PASS]]\n"
    "                         [--tls]\n"
    "\n"
    "Lists the newsgroups matching PATTERN (a wildmat such as 'comp.lang.*';\n"
    "default: all) as 'GROUP COUNT LOW-HIGH STATUS' lines, COUNT estimated\n"
    "from the range as servers report it; an alias shows its target\n"
    "('alias of GROUP').\n",
    NNTP_CLI_SHARED,
    own_opts,
    nntp_cli_shared_help,
    "Exit status: 0 ok, 2 usage, 4 connect, 5 resolve, 6 TLS, 7 protocol,\n"
    "8 the server said no, 10 timeout, 130 interrupted.\n",
};

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

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  list_t *x = ctx;
  switch (o->id) {

  default:
    return nntp_cli_own(&x->s, o, v);
  }
}

int cmd_nntp_list(int argc, char **argv) {
  list_t l;
  memset(&l, 0, sizeof l);
  nntp_cli_init(&l.s);
  cli_common_t co;
  int first;
  int prc = cli_opts_parse(&cli_spec_nntp_list, argc, argv, &co, own, &l, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  nntp_cli_common(&l.s, &co);
  if (argc - first > 1) return cli_usage_error("expected at most one PATTERN");
  if (argc - first == 1) {
    l.pattern = argv[first];
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
