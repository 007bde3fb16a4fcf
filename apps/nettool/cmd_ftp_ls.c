/* nettool ftp-ls: lists a directory over FTP: MLSD when the server has it
 * (parsed facts: type, size, time), else NLST names or LIST lines. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_text.h"
#include "cmd_ftp_common.h"
#include "commands.h"

static const cli_opt_t own_opts[] = {
    {"long", 'l', CLI_T_BOOL, 0, 'l', NULL,
     "type, size, modification time (UTC) and name", 0},
    FTP_CLI_ROWS,
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_ftp_ls = {
    "ftp-ls",
    "usage: nettool ftp-ls HOST [PATH] [--long] [options]\n"
    "       nettool ftp-ls ftp[s]://[USER[:PASS]@]HOST[:PORT]/[PATH] [options]\n"
    "\n"
    "Lists PATH (default: the login directory) on the FTP server HOST, one\n"
    "name per line (the last part of each name, control characters shown\n"
    "as '?'). With MLSD (RFC 3659) when the server lists it in FEAT, else\n"
    "NLST (names) or LIST (--long: the server's own lines).\n",
    FTP_CLI_SHARED,
    own_opts,
    ftp_cli_shared_help,
    "Exit status: 0 done, 2 usage, 4 connect, 5 resolve, 6 TLS, 7 protocol,\n"
    "8 the server refused (its reply is shown), 10 timeout, 130 interrupted\n"
    "(docs/EXIT-CODES.md).\n",
};

typedef struct {
  ftp_cli_t c;
  int long_list;
  nt_ftp_list_kind_t kind;
  unsigned long count;
} ls_t;

static char type_char(nt_ftp_entry_type_t t) {
  switch (t) {
  case NT_FTP_ENTRY_FILE:
    return '-';
  case NT_FTP_ENTRY_DIR:
    return 'd';
  case NT_FTP_ENTRY_LINK:
    return 'l';
  default:
    return '?';
  }
}

/* The last part of a name: NLST may answer "/pub/x" (or "pub/x/") where
 * MLSD gives "x"; ftp-ls prints bare names whatever the server returns. */
static void base_name(const char **p, size_t *len) {
  const char *s = *p;
  size_t n = *len;
  while (n > 1 && s[n - 1] == '/') n--; /* "dir/" */
  const char *slash = n ? memrchr(s, '/', n - 1) : NULL;
  if (slash && (size_t)(slash + 1 - s) < n) {
    n -= (size_t)(slash + 1 - s);
    s = slash + 1;
  }
  *p = s;
  *len = n;
}

static void on_line(void *arg, const char *line, size_t len,
                    const nt_ftp_entry_t *e) {
  ls_t *l = arg;
  const char *name = line;
  size_t nlen = len;
  if (l->kind == NT_FTP_LIST_MLSD && e) {
    if (e->type == NT_FTP_ENTRY_CDIR || e->type == NT_FTP_ENTRY_PDIR) return;
    if (l->long_list) {
      char size[24] = "-", when[24] = "-";
      if (e->size != UINT64_MAX) snprintf(size, sizeof size, "%llu", (unsigned long long)e->size);
      if (e->mtime >= 0) {
        time_t t = (time_t)e->mtime;
        struct tm tm;
        if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
      }
      printf("%c %12s  %-16s  ", type_char(e->type), size, when);
    }
    name = e->name;
    nlen = e->name_len;
    base_name(&name, &nlen);
  } else if (l->kind == NT_FTP_LIST_NLST) {
    base_name(&name, &nlen);
    /* some servers list . and .. */
    if ((nlen == 1 && name[0] == '.') || (nlen == 2 && name[0] == '.' && name[1] == '.')) return;
  }
  /* A name is the server's text: controls (C0, C1, LF in a name) as '?'.
   * LIST lines (--long without MLSD) are the server's own, shown whole. */
  cli_text_put(stdout, name, nlen, 0);
  putchar('\n');
  l->count++;
}

static void ls_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *r) {
  ls_t *l = arg;
  (void)f;
  fflush(stdout);
  if (r->status) {
    ftp_cli_fail(&l->c, l->c.path[0] ? l->c.path : "listing", r, NULL);
    return;
  }
  ftp_cli_end(&l->c, NT_EXIT_OK);
}

static void work(ftp_cli_t *c) {
  ls_t *l = c->data;
  if (nt_ftp_features(c->ftp) & NT_FTP_FEAT_MLST)
    l->kind = NT_FTP_LIST_MLSD;
  else
    l->kind = l->long_list ? NT_FTP_LIST_LIST : NT_FTP_LIST_NLST;
  int rc = nt_ftp_list(c->ftp, l->kind, c->path, on_line, l, ls_done, l);
  if (rc) {
    cli_error("%s: %s", c->path, nt_strerror(rc));
    c->reported = 1;
    ftp_cli_end(c, NT_EXIT_USAGE);
  }
}

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  ls_t *x = ctx;
  switch (o->id) {
  case 'l':
    x->long_list = 1;
    return 0;
  default:
    return ftp_cli_own(&x->c, o, v);
  }
}

int cmd_ftp_ls(int argc, char **argv) {
  ls_t l;
  memset(&l, 0, sizeof l);
  ftp_cli_init(&l.c);
  l.c.data = &l;
  l.c.work = work;
  cli_common_t co;
  int first;
  int prc = cli_opts_parse(&cli_spec_ftp_ls, argc, argv, &co, own, &l, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  ftp_cli_common(&l.c, &co);
  int nargs = argc - first;
  if (nargs < 1) return cli_usage_error("expected HOST [PATH] or an ftp:// URL");
  int rc = ftp_cli_target(&l.c, argv[first]);
  if (rc) return rc;
  if (l.c.url) {
    if (nargs != 1) return cli_usage_error("a URL names the directory: no PATH after it");
  } else {
    if (nargs > 2) return cli_usage_error("expected HOST [PATH]");
    if (nargs == 2) {
      if (strlen(argv[first + 1]) >= sizeof l.c.path) return cli_usage_error("PATH too long");
      snprintf(l.c.path, sizeof l.c.path, "%s", argv[first + 1]);
    }
  }
  return ftp_cli_run(&l.c);
}
