/* nettool ftp-get: downloads one file over FTP, through OUT.part, renamed to
 * OUT only after a complete transfer; --resume continues a part file. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_ftp_common.h"
#include "commands.h"

static const cli_opt_t own_opts[] = {
    {"output", 'o', CLI_T_FILE, 0, 'o', "OUT",
     "the local file (default: the last part of PATH;\n"
     "a directory: the file goes into it; '-': stdout)", 0},
    {"resume", 0, CLI_T_BOOL, 0, 'R', NULL,
     "continue OUT.part where it stopped (REST)", 0},
    {"sha256", 0, CLI_T_BOOL, 0, 'Z', NULL,
     "with --json: the SHA-256 of the file received", 0},
    FTP_CLI_ROWS,
    FTP_CLI_RETRY_ROWS,
    FTP_CLI_KEEPALIVE_ROW,
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_ftp_get = {
    "ftp-get",
    "usage: nettool ftp-get HOST PATH [-o OUT] [--resume] [options]\n"
    "       nettool ftp-get ftp[s]://[USER[:PASS]@]HOST[:PORT]/PATH [options]\n"
    "\n"
    "Downloads PATH from the FTP server HOST (passive mode unless --active).\n"
    "Bytes go to OUT.part as they arrive; OUT appears only once the server\n"
    "confirmed the transfer (226), the size matches and, when FEAT offers a\n"
    "checksum command (HASH, XSHA256, XSHA1, XMD5, XCRC), so does the file's\n"
    "checksum. A failed transfer never truncates an existing OUT and leaves\n"
    "a part file to --resume (a mismatching checksum keeps it as it is).\n",
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
  const char *out;
  int resume;
  int to_stdout;
  int stdout_err;
  char local[PATH_MAX];
} get_t;

static int stdout_sink(void *ctx, const char *p, size_t n) {
  get_t *g = ctx;
  while (n) { /* bounded: each turn writes at least one byte or fails */
    ssize_t w = write(STDOUT_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      g->stdout_err = w < 0 ? -errno : NT_EIO;
      return g->stdout_err;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void get_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  get_t *g = arg;
  (void)f;
  progress_stop(&g->c.progress);
  nt_ftp_result_t r = *res;
  g->c.json_bytes = (int64_t)res->bytes;
  g->c.json_status = res->code;
  if (g->stdout_err) {
    r.status = g->stdout_err;
    r.local = 1;
    r.path = "stdout";
  }
  if (r.status) {
    size_t pl = strlen(r.path);
    const char *part = (!g->to_stdout && pl > 5 && !strcmp(r.path + pl - 5, ".part") &&
                        access(r.path, F_OK) == 0)
                           ? r.path
                           : NULL;
    ftp_cli_fail(&g->c, g->c.path, &r, part);
    return;
  }
  if (!g->c.quiet && !g->to_stdout && isatty(STDERR_FILENO))
    fprintf(stderr, "%s: %llu bytes\n", g->local, (unsigned long long)r.bytes);
  ftp_cli_end(&g->c, NT_EXIT_OK);
}

static void work(ftp_cli_t *c) {
  get_t *g = c->data;
  int rc;
  if (g->to_stdout) {
    nt_ftp_xfer_options_t xo;
    memset(&xo, 0, sizeof xo);
    xo.fd = -1;
    xo.ascii = c->ascii;
    nt_ftp_sink_t sink = {.data = stdout_sink, .ctx = g};
    rc = nt_ftp_retrieve(c->ftp, c->path, &xo, &sink, get_done, g);
  } else {
    nt_ftp_file_options_t fo;
    memset(&fo, 0, sizeof fo);
    fo.ascii = c->ascii;
    fo.resume = g->resume;
    rc = nt_ftp_get_file(c->ftp, c->path, g->local, &fo, get_done, g);
  }
  if (rc) {
    progress_stop(&c->progress);
    cli_error("%s.part: %s", g->local, nt_strerror(rc));
    c->reported = 1;
    ftp_cli_end(c, rc == NT_EINVAL ? NT_EXIT_USAGE : NT_EXIT_FILE);
    return;
  }
  progress_start(&c->progress, c->reactor, !c->quiet, ftp_cli_bytes, ftp_cli_total, c);
}

/* OUT from -o and PATH: a directory gets PATH's last part. */
static int local_name(get_t *g) {
  const char *path = g->c.path;
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  int base_ok = *base && strcmp(base, ".") && strcmp(base, "..");
  struct stat st;
  if (g->out && !strcmp(g->out, "-")) {
    if (g->resume) return cli_usage_error("--resume cannot write to stdout");
    g->to_stdout = 1;
    return 0;
  }
  if (g->out && !(stat(g->out, &st) == 0 && S_ISDIR(st.st_mode))) {
    if (strlen(g->out) + 6 > sizeof g->local) return cli_usage_error("-o: name too long");
    snprintf(g->local, sizeof g->local, "%s", g->out);
    return 0;
  }
  if (!base_ok)
    return cli_usage_error("cannot name a local file after '%s': give -o OUT", path);
  int n = g->out ? snprintf(g->local, sizeof g->local, "%s/%s", g->out, base)
                 : snprintf(g->local, sizeof g->local, "%s", base);
  if (n < 0 || (size_t)n + 6 > sizeof g->local) return cli_usage_error("local name too long");
  return 0;
}

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  get_t *x = ctx;
  switch (o->id) {
  case 'o':
    x->out = v->str;
    return 0;
  case 'R':
    x->resume = 1;
    return 0;
  case 'Z':
    x->c.sha256 = 1;
    return 0;
  default:
    return ftp_cli_own(&x->c, o, v);
  }
}

int cmd_ftp_get(int argc, char **argv) {
  get_t g;
  memset(&g, 0, sizeof g);
  ftp_cli_init(&g.c);
  g.c.data = &g;
  g.c.work = work;
  cli_common_t co;
  int first;
  int prc = cli_opts_parse(&cli_spec_ftp_get, argc, argv, &co, own, &g, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  ftp_cli_common(&g.c, &co);
  int nargs = argc - first;
  if (nargs < 1) return cli_usage_error("expected HOST PATH or an ftp:// URL");
  int rc = ftp_cli_target(&g.c, argv[first]);
  if (rc) return rc;
  if (g.c.url) {
    if (nargs != 1) return cli_usage_error("a URL names the file: no PATH after it");
  } else {
    if (nargs != 2) return cli_usage_error("expected HOST and PATH");
    if (strlen(argv[first + 1]) >= sizeof g.c.path) return cli_usage_error("PATH too long");
    snprintf(g.c.path, sizeof g.c.path, "%s", argv[first + 1]);
  }
  if (!g.c.path[0]) return cli_usage_error("no PATH to download");
  if ((rc = local_name(&g))) return rc;
  if (!g.to_stdout) { /* a directory that is not there is found before connecting */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", g.local);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    const char *d = slash ? (dir[0] ? dir : "/") : ".";
    if (access(d, W_OK | X_OK) != 0) {
      cli_error("%s.part: %s", g.local, strerror(errno));
      return NT_EXIT_FILE;
    }
  }
  g.c.json_file = g.to_stdout ? "-" : g.local;
  if (!g.to_stdout) { /* a file: nt_ftp_transfer (retries, checksums) */
    g.c.xfer_local = g.local;
    g.c.xfer_resume = g.resume;
  } else if (g.c.retries || g.c.verify_given) {
    return cli_usage_error("--retry and --verify need a file (not -o -)");
  }
  if (g.c.sha256 && !g.c.json) return cli_usage_error("--sha256 goes with --json");
  if (g.to_stdout) signal(SIGPIPE, SIG_IGN); /* a closed pipe is an error, not a kill */
  return ftp_cli_run(&g.c);
}
