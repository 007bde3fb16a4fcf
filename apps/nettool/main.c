/* nettool: one program, one subcommand per file (cmd_*.c). */
#include <ares.h>
#ifdef NT_CARES_LAZY
#include <dlfcn.h>
#endif
#include <llhttp.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include <nettool/version.h>

#include "cli.h"
#include "cli_opts.h"
#include "commands.h"

/* The commands, each with its option table (cli_opts.h): generators of
 * man pages and completions read them through cli_commands(). */
static const cli_cmd_t commands[] = {
    {"ts-server", cmd_ts_server, "timestamp echo server over TCP and/or UDP",
     &cli_spec_ts_server},
    {"ts-client", cmd_ts_client, "send stdin lines to a timestamp server",
     &cli_spec_ts_client},
    {"resolve", cmd_resolve, "resolve host names concurrently", &cli_spec_resolve},
    {"nntp-read", cmd_nntp_read, "show a newsgroup's latest article or overview",
     &cli_spec_nntp_read},
    {"nntp-list", cmd_nntp_list, "list newsgroups with their article counts",
     &cli_spec_nntp_list},
    {"nntp-post", cmd_nntp_post, "post an article to a newsgroup", &cli_spec_nntp_post},
    {"nntp-get", cmd_nntp_get, "download the files of an NZB (yEnc binaries)",
     &cli_spec_nntp_get},
    {"http-upload", cmd_http_upload, "upload files as multipart/form-data (HTTP/HTTPS)",
     &cli_spec_http_upload},
    {"http-get", cmd_http_get, "download a URL to stdout or a file (HTTP/HTTPS)",
     &cli_spec_http_get},
    {"ftp-get", cmd_ftp_get, "download a file over FTP/FTPS (resumable)", &cli_spec_ftp_get},
    {"ftp-put", cmd_ftp_put, "upload a file over FTP/FTPS", &cli_spec_ftp_put},
    {"ftp-ls", cmd_ftp_ls, "list an FTP directory (MLSD, else NLST/LIST)", &cli_spec_ftp_ls},
    {NULL, NULL, NULL, NULL},
};

const cli_cmd_t *cli_commands(void) { return commands; }


static void usage(FILE *out) {
  fprintf(out, "usage: nettool COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t i = 0; commands[i].name; i++)
    fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\n'nettool COMMAND --help' describes one command; 'nettool -V'\n"
          "prints the versions.\n"
          "Exit codes: 0 ok, 1 internal, 2 usage, 3 local resource, 4 connect,\n"
          "5 resolve, 6 TLS, 7 protocol, 8 refused by server, 9 file,\n"
          "10 timeout, 11 bad input (docs/EXIT-CODES.md).\n");
}

/* c-ares's version. With NT_CARES_LAZY the library loads c-ares for its
 * first resolver only, and neither it nor this program is linked with it:
 * -V asks the file the library would load. */
static const char *cares_version(void) {
#ifdef NT_CARES_LAZY
  void *h = dlopen(NT_CARES_SONAME, RTLD_NOW | RTLD_LOCAL);
  const char *(*v)(int *) = h ? (const char *(*)(int *))dlsym(h, "ares_version") : NULL;
  return v ? v(NULL) : "unavailable";
#else
  return ares_version(NULL);
#endif
}

/* -V, like curl -V: the program's version, the library's (they differ when
 * a newer libnettool is installed under an old program), and the libraries
 * doing the work. */
static void version(void) {
  printf("nettool %s (libnettool %s) %s c-ares/%s llhttp/%d.%d.%d\n",
         NT_VERSION_STRING, nt_version(), OpenSSL_version(OPENSSL_VERSION),
         cares_version(), LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR,
         LLHTTP_VERSION_PATCH);
  printf("Protocols: http https ftp ftps nntp nntps timestamp\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "nettool: no command given (see 'nettool --help')\n");
    return NT_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
    usage(stdout);
    return NT_EXIT_OK;
  }
  if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
    version();
    return NT_EXIT_OK;
  }
  for (size_t i = 0; commands[i].name; i++) {
    if (!strcmp(name, commands[i].name)) {
      cli_cmd = commands[i].name;
      return commands[i].run(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "nettool: unknown command '%s' (see 'nettool --help')\n",
          name);
  return NT_EXIT_USAGE;
}
