/* nettool ftp-put: uploads one file over FTP (STOR, or APPE with --append),
 * sent with sendfile on plain connections; the server's SIZE is checked
 * afterwards when it has one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_ftp_common.h"
#include "commands.h"

static const cli_opt_t own_opts[] = {
    {"append", 0, CLI_T_BOOL, 0, 'E', NULL, "APPE: add to the end of REMOTE", 0},
    {"sha256", 0, CLI_T_BOOL, 0, 'Z', NULL,
     "with --json: the SHA-256 of the file sent", 0},
    FTP_CLI_ROWS,
    FTP_CLI_RETRY_ROWS,
    FTP_CLI_KEEPALIVE_ROW,
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_ftp_put = {
    "ftp-put",
    "usage: nettool ftp-put HOST LOCAL REMOTE [--append] [options]\n"
    "       nettool ftp-put ftp[s]://[USER[:PASS]@]HOST[:PORT]/REMOTE LOCAL [options]\n"
    "\n"
    "Uploads the file LOCAL ('-': standard input) to REMOTE on the FTP server\n"
    "HOST. A REMOTE ending in '/' gets LOCAL's name. After the transfer the\n"
    "server's SIZE of REMOTE must match what was sent (when the server has\n"
    "SIZE; not in --ascii or --append mode), and so must its checksum when\n"
    "FEAT offers a checksum command (HASH, XSHA256, XSHA1, XMD5, XCRC; not\n"
    "for standard input or --append).\n",
    FTP_CLI_SHARED | CLI_S(CLI_O_JSON) | CLI_S_RETRY,
    own_opts,
    ftp_cli_shared_help,
    "Exit status: 0 done, 2 usage, 4 connect, 5 resolve, 6 TLS, 7 protocol or\n"
    "transfer cut short, 8 the server refused (its reply is shown), 9 local\n"
    "file, 10 timeout, 12 checksum mismatch, 130 interrupted\n"
    "(docs/EXIT-CODES.md).\n",
};

typedef struct {
  ftp_cli_t c;
  const char *local;
  int append;
  int from_stdin;
} put_t;

static void put_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *r) {
  put_t *p = arg;
  (void)f;
  progress_stop(&p->c.progress);
  p->c.json_bytes = (int64_t)r->bytes;
  p->c.json_status = r->code;
  if (r->status) {
    ftp_cli_fail(&p->c, p->c.path, r, NULL);
    return;
  }
  if (!p->c.quiet && isatty(STDERR_FILENO))
    fprintf(stderr, "%s: %llu bytes\n", p->c.path, (unsigned long long)r->bytes);
  ftp_cli_end(&p->c, NT_EXIT_OK);
}

static void work(ftp_cli_t *c) {
  put_t *p = c->data;
  int rc;
  if (p->from_stdin) {
    nt_ftp_xfer_options_t xo;
    memset(&xo, 0, sizeof xo);
    xo.fd = STDIN_FILENO;
    xo.length = UINT64_MAX;
    xo.ascii = c->ascii;
    xo.append = p->append;
    rc = nt_ftp_store(c->ftp, c->path, &xo, put_done, p);
  } else {
    nt_ftp_file_options_t fo;
    memset(&fo, 0, sizeof fo);
    fo.ascii = c->ascii;
    fo.append = p->append;
    fo.verify_size = 1;
    rc = nt_ftp_put_file(c->ftp, p->local, c->path, &fo, put_done, p);
  }
  if (rc) {
    cli_error("%s: %s", p->from_stdin ? "stdin" : p->local, nt_strerror(rc));
    c->reported = 1;
    ftp_cli_end(c, NT_EXIT_FILE);
    return;
  }
  progress_start(&c->progress, c->reactor, !c->quiet, ftp_cli_bytes, ftp_cli_total, c);
}

/* REMOTE ending in '/' (or empty) gets LOCAL's last part. */
static int remote_name(put_t *p) {
  size_t n = strlen(p->c.path);
  if (n && p->c.path[n - 1] != '/') return 0;
  if (p->from_stdin) return cli_usage_error("uploading stdin needs a REMOTE file name");
  const char *slash = strrchr(p->local, '/');
  const char *base = slash ? slash + 1 : p->local;
  if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
    return cli_usage_error("cannot name the remote file after '%s'", p->local);
  if (n + strlen(base) >= sizeof p->c.path) return cli_usage_error("REMOTE too long");
  memcpy(p->c.path + n, base, strlen(base) + 1);
  return 0;
}

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  put_t *x = ctx;
  switch (o->id) {
  case 'E':
    x->append = 1;
    return 0;
  case 'Z':
    x->c.sha256 = 1;
    return 0;
  default:
    return ftp_cli_own(&x->c, o, v);
  }
}

int cmd_ftp_put(int argc, char **argv) {
  put_t p;
  memset(&p, 0, sizeof p);
  ftp_cli_init(&p.c);
  p.c.data = &p;
  p.c.work = work;
  p.c.path_name = "REMOTE";
  cli_common_t co;
  int first;
  int prc = cli_opts_parse(&cli_spec_ftp_put, argc, argv, &co, own, &p, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  ftp_cli_common(&p.c, &co);
  int nargs = argc - first;
  if (nargs < 2) return cli_usage_error("expected HOST LOCAL REMOTE, or URL LOCAL");
  int rc = ftp_cli_target(&p.c, argv[first]);
  if (rc) return rc;
  if (p.c.url) {
    if (nargs != 2) return cli_usage_error("expected URL LOCAL");
    p.local = argv[first + 1];
  } else {
    if (nargs != 3) return cli_usage_error("expected HOST LOCAL REMOTE");
    p.local = argv[first + 1];
    if (strlen(argv[first + 2]) >= sizeof p.c.path) return cli_usage_error("REMOTE too long");
    snprintf(p.c.path, sizeof p.c.path, "%s", argv[first + 2]);
  }
  p.from_stdin = !strcmp(p.local, "-");
  if ((rc = remote_name(&p))) return rc;
  if (!p.from_stdin) { /* a bad LOCAL is found before any connection */
    struct stat st;
    int fd = open(p.local, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
      int e = fd < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : errno;
      if (fd >= 0) close(fd);
      cli_error("%s: %s", p.local, strerror(e));
      return NT_EXIT_FILE;
    }
    close(fd);
  }
  p.c.json_file = p.local;
  if (!p.from_stdin && !p.append) { /* a file: nt_ftp_transfer (retries, checksums) */
    p.c.xfer_local = p.local;
    p.c.xfer_upload = 1;
  } else if (p.c.retries || p.c.verify_given) {
    return cli_usage_error("--retry and --verify need a LOCAL file and no --append");
  }
  if (p.c.sha256 && !p.c.json) return cli_usage_error("--sha256 goes with --json");
  return ftp_cli_run(&p.c);
}
