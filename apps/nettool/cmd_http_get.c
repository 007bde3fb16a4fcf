/* nettool http-get: downloads URL to stdout or to OUT (written as OUT.part
 * and renamed when the transfer succeeded, so a failed download never
 * truncates an existing OUT). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_http_common.h"
#include "commands.h"

static const cli_opt_t own_opts[] = {
    HTTP_CLI_ROWS,
    {"include", 'i', CLI_T_BOOL, 0, 'i', NULL,
     "write the response's status line and headers before\n"
     "the body (where the body goes)", 0},
    {"dump-header", 'D', CLI_T_FILE, 0, 'd', "FILE",
     "write the response's status line and headers to\n"
     "FILE ('-': stdout)", 0},
    {"head", 'I', CLI_T_BOOL, 0, 'E', NULL,
     "send HEAD instead of GET; prints the status line\n"
     "and headers on stdout", 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_http_get = {
    "http-get",
    "usage: nettool http-get URL [-o OUT] [-i] [-D FILE] [--head]\n"
    "         [-H 'Name: value']... [-u user:pass] [-k] [--cacert F]\n"
    "         [--connect-timeout S] [--idle-timeout S] [--max-time S]\n"
    "         [--max-redirs N] [--retry N] [-q] [-v] [--json [--sha256]]\n"
    "\n"
    "GETs URL (http:// or https://) and writes the body to stdout, or to OUT\n"
    "through OUT.part, renamed only when a 2xx answer arrived whole. The\n"
    "status line goes to stderr, and a progress bar when it is a terminal.\n",
    HTTP_CLI_SHARED,
    own_opts,
    http_cli_shared_help,
    "Exit status: 0 for a 2xx answer, 8 for any other answer, 2 usage,\n"
    "4 connect, 5 resolve, 6 TLS, 7 protocol, 9 local file, 10 timeout,\n"
    "130 interrupted (docs/EXIT-CODES.md).\n",
};

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  http_cli_t *h = ctx;
  switch (o->id) {
  case 'E':
    h->method = "HEAD";
    h->include_headers = 1;
    return 0;
  case 'i':
    h->include_headers = 1;
    return 0;
  case 'd':
    h->dump_path = v->str;
    return 0;
  default:
    return http_cli_own(ctx, o, v);
  }
}

int cmd_http_get(int argc, char **argv) {
  http_cli_t h;
  http_cli_init(&h);
  cli_common_t co;
  int first;
  int rc = cli_opts_parse(&cli_spec_http_get, argc, argv, &co, own, &h, &first);
  if (rc) return rc == CLI_OPTS_HELP ? NT_EXIT_OK : rc;
  http_cli_common(&h, &co);
  if (h.sha256 && !h.json) {
    cli_common_free(&h.common);
    return cli_usage_error("--sha256 goes with --json");
  }
  if (argc - first != 1) {
    cli_common_free(&h.common);
    return cli_usage_error("expected one URL");
  }
  h.url = argv[first];
  return http_cli_run(&h);
}
