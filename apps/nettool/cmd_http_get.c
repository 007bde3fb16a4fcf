/* nettool http-get: downloads URL to stdout or to OUT (written as OUT.part
 * and renamed when the transfer succeeded, so a failed download never
 * truncates an existing OUT). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_http_common.h"
#include "commands.h"

static const char usage_text[] =
    "usage: nettool http-get URL [-o OUT] [-H 'Name: value']... [-u "
    "user:pass]\n"
    "         [--cacert F] [--insecure] [--connect-timeout S] [--idle-timeout S]\n"
    "         [--max-time S] [--max-redirs N] [--retry N] [--quiet]\n"
    "\n"
    "GETs URL (http:// or https://) and writes the body to stdout, or to OUT\n"
    "through OUT.part, renamed only when a 2xx answer arrived whole. The\n"
    "status line goes to stderr, and a progress bar when it is a terminal.\n"
    "\n" HTTP_CLI_HELP
    "  --head                 send HEAD instead of GET (status and headers)\n"
    "\n"
    "Exit status: 0 for a 2xx answer, 8 for any other answer, 2 usage,\n"
    "4 connect, 5 resolve, 6 TLS, 7 protocol, 9 local file, 10 timeout,\n"
    "130 interrupted (docs/EXIT-CODES.md).\n";

int cmd_http_get(int argc, char **argv) {
  static const struct option opts[] = {
      {"head", no_argument, NULL, 'E'}, HTTP_CLI_LONGOPTS, {NULL, 0, NULL, 0}};
  http_cli_t h;
  http_cli_init(&h);
  int ch;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":" HTTP_CLI_SHORTOPTS, opts, NULL)) !=
         -1) {
    switch (ch) {
    case 'E':
      h.method = "HEAD";
      break;
    case 'h':
      fputs(usage_text, stdout);
      return NT_EXIT_OK;
    case ':':
      return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
    case '?':
      return cli_usage_error("unknown option '%s'", argv[optind - 1]);
    default: {
      int rc = http_cli_option(&h, ch, optarg);
      if (rc)
        return rc < 0 ? cli_usage_error("unknown option '%s'", argv[optind - 1])
                      : rc;
    }
    }
  }
  if (argc - optind != 1) return cli_usage_error("expected one URL");
  h.url = argv[optind];
  return http_cli_run(&h);
}
