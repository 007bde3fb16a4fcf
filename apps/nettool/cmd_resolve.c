/* nettool resolve: looks up any number of names at once through the
 * reactor-driven resolver and prints "name address" lines in input order. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opts.h"
#include "commands.h"
#include "nettool/resolve.h"
#include "nettool/transport.h"

static const cli_opt_t own_opts[] = {
    {"server", 0, CLI_T_STR, 0, 's', "IP[:PORT]",
     "ask this DNS server (IPv6 as [IP]:PORT); may be a\n"
     "comma-separated list", 0},
    {"family", 0, CLI_T_STR, 0, 'f', "4|6", "only IPv4 or only IPv6 addresses", 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

static const char *const shared_help[CLI_O_END_ - CLI_O_INSECURE] = {
    [CLI_O_TIMEOUT - CLI_O_INSECURE] = "give up on a name after S seconds (default 5)",
    [CLI_O_QUIET - CLI_O_INSECURE] = "accepted as in every command (answers go to\n"
                                     "stdout, failures to stderr)",
};

const cli_cmd_spec_t cli_spec_resolve = {
    "resolve",
    "usage: nettool resolve NAME... [--server IP[:PORT]] [--family 4|6] "
    "[--timeout S]\n"
    "\n"
    "Resolves every NAME concurrently and prints one 'name address' line per\n"
    "address, names in the order given, addresses in RFC 6724 order.\n"
    "Honours /etc/hosts and /etc/resolv.conf unless --server is given.\n",
    CLI_S(CLI_O_TIMEOUT) | CLI_S(CLI_O_QUIET),
    own_opts,
    shared_help,
    "Exit status: 0 if every name resolved, 5 if any did not (the reason per\n"
    "name is on stderr), 2 for a bad command line.\n",
};

typedef struct {
  const char *server;
  int family;
} resolve_opts_t;

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  resolve_opts_t *r = ctx;
  if (o->id == 's') {
    r->server = v->str;
  } else if (o->id == 'f') {
    if (!strcmp(v->str, "4")) r->family = AF_INET;
    else if (!strcmp(v->str, "6")) r->family = AF_INET6;
    else return cli_usage_error("bad --family '%s': expected 4 or 6", v->str);
  }
  return 0;
}

typedef struct {
  const char *name;
  nt_resolve_t *lookup;
  int done;
  int timed_out; /* cancelled by the deadline */
  int status;
  char **lines;
  size_t nlines;
} entry_t;

typedef struct {
  nt_reactor_t *reactor;
  entry_t *e;
  size_t n, left;
  nt_timer_t deadline;
  int interrupted;
} run_t;

static void resolved(void *arg, int status, const nt_address_t *addrs,
                     size_t n) {
  entry_t *e = arg;
  e->done = 1;
  e->lookup = NULL;
  /* the deadline's cancel is heard here, a turn later: a timeout */
  e->status = status == NT_ECANCELED && e->timed_out ? NT_EDNS_TIMEOUT : status;
  if (!status) {
    e->lines = calloc(n, sizeof *e->lines);
    for (size_t i = 0; e->lines && i < n; i++) {
      char host[INET6_ADDRSTRLEN] = "?";
      const struct sockaddr *sa = (const struct sockaddr *)&addrs[i].addr;
      if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
      else
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof host);
      e->lines[i] = strdup(host);
      e->nlines = i + 1;
    }
  }
}

static void deadline_cb(nt_timer_t *t) {
  run_t *run = t->data;
  for (size_t i = 0; i < run->n; i++)
    if (!run->e[i].done && run->e[i].lookup) {
      run->e[i].timed_out = 1;
      nt_resolve_cancel(run->e[i].lookup);
      run->e[i].status = NT_EDNS_TIMEOUT; /* reported as the timeout it is */
    }
}

/* SIGINT/SIGTERM: stop at once; what already answered is still printed. */
static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  run_t *run = arg;
  (void)signum;
  run->interrupted = 1;
  nt_reactor_stop(r);
}

static const char *tag(int status) {
  switch (status) {
  case NT_EDNS_NXDOMAIN:
    return "NXDOMAIN";
  case NT_EDNS_NODATA:
    return "NODATA";
  case NT_EDNS_TIMEOUT:
    return "timeout";
  case NT_EDNS_REFUSED:
    return "refused";
  case NT_EDNS_SERVFAIL:
    return "SERVFAIL";
  default:
    return nt_err_name(status);
  }
}

int cmd_resolve(int argc, char **argv) {
  resolve_opts_t opt = {NULL, AF_UNSPEC};
  cli_common_t co;
  int first;
  int prc = cli_opts_parse(&cli_spec_resolve, argc, argv, &co, own, &opt, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  const char *server = opt.server;
  int family = opt.family;
  unsigned long long timeout_ms = co.given & CLI_S(CLI_O_TIMEOUT) ? co.timeout_ms : 5000;
  if (first >= argc) return cli_usage_error("expected at least one NAME");
  /* Every name is checked before any packet is sent. */
  for (int i = first; i < argc; i++) {
    const char *why;
    struct sockaddr_storage ss;
    socklen_t len;
    if (nt_addr_parse(argv[i], 0, &ss, &len) != 0 && nt_hostname_check(argv[i], &why))
      return cli_usage_error("bad NAME '%s': %s", argv[i], why);
  }

  run_t run;
  memset(&run, 0, sizeof run);
  int rc = nt_reactor_new(&run.reactor, NULL);
  if (rc) {
    cli_error("cannot start a reactor: %s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  nt_resolver_options_t ro;
  memset(&ro, 0, sizeof ro);
  ro.servers = server;
  ro.tries = 2;
  ro.timeout_ms = timeout_ms / 3 ? timeout_ms / 3 : 1; /* tries back off */
  nt_resolver_t *res;
  rc = nt_resolver_new(run.reactor, &ro, &res);
  if (rc) {
    nt_reactor_free(run.reactor);
    if (rc == NT_EINVAL)
      return cli_usage_error("bad --server '%s': expected IP[:PORT][,...]", server);
    cli_error("cannot start the resolver: %s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  run.n = (size_t)(argc - first);
  run.e = calloc(run.n, sizeof *run.e);
  if (!run.e) {
    cli_error("out of memory");
    return NT_EXIT_INTERNAL;
  }
  for (size_t i = 0; i < run.n; i++) {
    entry_t *e = &run.e[i];
    e->name = argv[first + (int)i];
    rc = nt_resolve(res, e->name, 0, family, resolved, e, &e->lookup);
    if (rc) {
      e->done = 1;
      e->status = rc;
      e->lookup = NULL;
    }
  }
  nt_timer_init(run.reactor, &run.deadline, deadline_cb);
  run.deadline.data = &run;
  nt_timer_unref(&run.deadline); /* pending lookups keep the loop alive */
  nt_timer_start(&run.deadline, timeout_ms + 500, 0);
  nt_reactor_handle_signals(run.reactor, on_signal, &run);
  nt_reactor_run(run.reactor);
  nt_timer_stop(&run.deadline);
  nt_resolver_free(res);
  nt_reactor_free(run.reactor);

  int failed = 0;
  for (size_t i = 0; i < run.n; i++) {
    entry_t *e = &run.e[i];
    if (e->status == NT_ECANCELED && !e->done) e->status = NT_EDNS_TIMEOUT;
    if (run.interrupted && (!e->done || e->status == NT_ECANCELED))
      continue; /* cut short: no verdict on this name */
    if (e->status || !e->done) {
      cli_error("%s: %s (%s)", e->name, nt_strerror(e->status ? e->status : NT_EDNS_TIMEOUT),
                tag(e->status ? e->status : NT_EDNS_TIMEOUT));
      failed = 1;
    }
    for (size_t k = 0; k < e->nlines; k++) {
      printf("%s %s\n", e->name, e->lines[k]);
      free(e->lines[k]);
    }
    free(e->lines);
  }
  free(run.e);
  if (run.interrupted) {
    cli_error("interrupted");
    return NT_EXIT_INTERRUPTED;
  }
  return failed ? NT_EXIT_RESOLVE : NT_EXIT_OK;
}
