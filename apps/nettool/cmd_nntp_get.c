/* nettool nntp-get FILE.nzb: downloads a Usenet binary post (yEnc) listed
 * by an NZB through the library's downloader (nettool/nzb.h): several
 * connections, several servers tried in turn for missing articles,
 * NAME.part renamed when every segment checked, resume after a kill; then,
 * with --par2, Debian's par2 verifies (and repairs) the result. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_proxy.h"
#include "cli_text.h"
#include "commands.h"
#include "nettool/log.h"
#include "nettool/nzb.h"
#include "nettool/yenc.h"
#include "progress.h"

extern char **environ;

#define MAX_SERVERS 16

static const cli_opt_t own_opts[] = {
    {"server", 0, CLI_T_STR, CLI_F_REPEAT, 'S', "HOST[:PORT]",
     "news server (default $NNTPSERVER; port 119, 563 =\n"
     "NNTPS); repeated: articles missing on one are\n"
     "asked of the next, in order", 0},
    {"tls", 0, CLI_T_BOOL, 0, 'T', NULL,
     "STARTTLS on every server (NNTPS on port 563)", 0},
    {"output-dir", 'o', CLI_T_FILE, 0, 'o', "DIR",
     "write the files into DIR (default: the current one)", 0},
    {"connections", 0, CLI_T_UINT, 0, 'n', "N",
     "connections per server (default 4)", 64},
    {"window", 0, CLI_T_UINT, 0, 'w', "N",
     "BODY commands queued per connection (default 2)", 64},
    {"no-resume", 0, CLI_T_BOOL, 0, 'R', NULL,
     "start over: ignore the state of an earlier run", 0},
    {"compress", 0, CLI_T_BOOL, 0, 'C', NULL,
     "use COMPRESS DEFLATE when the server offers it (off:\n"
     "yEnc hardly compresses, and deflate costs CPU at both ends)", 0},
    {"par2", 0, CLI_T_BOOL, 0, 'P', NULL,
     "verify the files with the post's PAR2 files (Debian's\n"
     "par2), and repair them when damaged or incomplete", 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_nntp_get = {
    "nntp-get",
    "usage: nettool nntp-get FILE.nzb [-o DIR] [--connections N]\n"
    "                        [--server HOST[:PORT] ...] [--par2] [--tls]\n"
    "                        [-u USER[:PASS]] [-x PROXY] [--retry N]\n"
    "\n"
    "Downloads the files an NZB lists: every segment fetched by its\n"
    "Message-ID, yEnc-decoded, its CRC32 checked, and written at its offset\n"
    "into NAME.part, renamed to NAME once every segment (and the whole\n"
    "file's CRC32) checked. A run that is stopped resumes where it was\n"
    "(NAME.part.state lists what is written). Segments that no server has\n"
    "are listed on stderr ('missing: NAME segment N <id>: 430 ...'); the\n"
    "good ones stay in NAME.part. On a terminal a progress line shows\n"
    "files, segments, MiB and the rate. --json prints one object instead of\n"
    "the lines on stdout: counts, bytes, seconds, exit_code, error and each\n"
    "file's result (status \"ok\" or \"failed\"; a failed one has \"error\":\n"
    "\"incomplete\", \"crc32\" (the whole file's) or an error name such as\n"
    "\"ENOSPC\", and \"message\", the words stderr shows).\n"
    "A connection lost on the way is replaced after a wait (--retry-delay,\n"
    "doubling, with jitter; --retry N waits in a row per server, default\n"
    "3), and what it had not finished is fetched again; refused credentials\n"
    "move the work to the next server at once.\n"
    "-x/--proxy (or nntp_proxy, all_proxy): SOCKS5 or HTTP CONNECT.\n",
    /* NNTP_CLI_SHARED, spelled out: an option the downloader does not
     * carry to its connections is not accepted */
    CLI_S_TLS | CLI_S_TIMES | CLI_S(CLI_O_QUIET) | CLI_S(CLI_O_VERBOSE) |
        CLI_S(CLI_O_USER) | CLI_S(CLI_O_PORT) | CLI_S(CLI_O_JSON) | CLI_S(CLI_O_PROXY) |
        CLI_S_RETRY,
    own_opts,
    nntp_cli_shared_help,
    "Exit status: 0 ok, 2 usage, 3 local (the folder), 4 connect, 5 resolve,\n"
    "6 TLS, 7 protocol, 8 the server said no, 9 file error, 10 timeout,\n"
    "11 the NZB does not parse, 13 segments missing or damaged (listed;\n"
    "the files stay NAME.part), 14 PAR2 verification or repair failed,\n"
    "15 the proxy refused, 16 proxy authentication, 130 interrupted\n"
    "(resume by running it again).\n",
};

typedef struct {
  cli_common_t co;
  const char *servers[MAX_SERVERS];
  size_t nservers;
  int tls, par2, no_resume, compress;
  long connections, window;
  const char *dir;
  nt_nzb_t *nzb;
  nt_reactor_t *r;
  nt_nzb_get_t *g;
  nt_nzb_progress_t p;
  int status, done, interrupted, timed_out;
  unsigned long long max_time_ms;
  nt_timer_t max_timer;
  int last_conn_error, other_failures;
  size_t fetched, resumed;
  int seen_progress;
  /* the progress line */
  int tty;
  nt_timer_t timer;
  uint64_t t0, last_ms, last_bytes;
  double rate;
  int drawn;
} get_t;

/* --json: what the closing object needs, kept outside the run so that every
 * way out of cmd_nntp_get prints it; the files' results as they end. */
static struct {
  int on;
  const char *nzb, *dir;
  size_t files_done, files, fetched, resumed, failed;
  uint64_t bytes;
  double t0;
  const char *par2; /* "verified", "repaired" */
  char *results;    /* JSON objects joined with commas */
  size_t results_len;
  FILE *mem;
} js;

/* A file's result; a failed one carries error, a stable word for scripts
 * (json_error), and message, the words stderr shows. */
static void json_result(const char *path, const char *error, const char *message) {
  if (!js.mem && !(js.mem = open_memstream(&js.results, &js.results_len))) return;
  fputs(js.results_len || ftell(js.mem) ? ",{\"file\":" : "{\"file\":", js.mem);
  cli_json_string(js.mem, path);
  fputs(",\"status\":", js.mem);
  cli_json_string(js.mem, error ? "failed" : "ok");
  if (error) {
    fputs(",\"error\":", js.mem);
    cli_json_string(js.mem, error);
    fputs(",\"message\":", js.mem);
    cli_json_string(js.mem, message);
  }
  fputc('}', js.mem);
}

/* The stable word for a file that failed (documented in --help):
 * "incomplete" (segments missing, damaged or failed: listed on stderr),
 * "crc32" (every segment fine, the whole file's CRC32 wrong), else the
 * error's symbolic name (nt_err_name: "ENOSPC", "EIO"...). */
static const char *json_error(int status) {
  if (status == NT_ENZB_INCOMPLETE) return "incomplete";
  if (status == NT_EYENC_CRC) return "crc32";
  return nt_err_name(status);
}

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  get_t *x = ctx;
  switch (o->id) {
  case 'S':
    if (x->nservers == MAX_SERVERS) return cli_usage_error("at most %d --server", MAX_SERVERS);
    x->servers[x->nservers++] = v->str;
    return 0;
  case 'T': x->tls = 1; return 0;
  case 'o': x->dir = v->str; return 0;
  case 'n':
    if (v->num < 1) return cli_usage_error("--connections: 1 to 64");
    x->connections = v->num;
    return 0;
  case 'w':
    if (v->num < 1) return cli_usage_error("--window: 1 to 64");
    x->window = v->num;
    return 0;
  case 'R': x->no_resume = 1; return 0;
  case 'P': x->par2 = 1; return 0;
  case 'C': x->compress = 1; return 0;
  default: return cli_usage_error("unknown option '--%s'", o->lng);
  }
}

/* --- progress ---------------------------------------------------------------- */

static void erase(get_t *x) {
  if (x->drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    x->drawn = 0;
  }
}

static void draw(nt_timer_t *t) {
  get_t *x = t->data;
  uint64_t now = nt_reactor_now(x->r);
  if (now - x->last_ms >= 200) {
    double inst = (double)(x->p.decoded - x->last_bytes) * 1000.0 / (double)(now - x->last_ms);
    x->rate = x->rate == 0 ? inst : 0.7 * x->rate + 0.3 * inst;
    x->last_ms = now;
    x->last_bytes = x->p.decoded;
  }
  char d[32], r[32];
  progress_human(d, sizeof d, (double)x->p.decoded);
  progress_human(r, sizeof r, x->rate);
  int pct = x->p.bytes ? (int)((double)x->p.bytes_done * 100.0 / (double)x->p.bytes) : 100;
  char bar[21];
  int fill = pct / 5;
  for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
  bar[20] = 0;
  fprintf(stderr, "\r[%s] %3d%%  files %zu/%zu  segments %zu/%zu", bar, pct,
          x->p.files_done, x->p.files, x->p.segments_done, x->p.segments);
  if (x->p.segments_failed) fprintf(stderr, " (%zu bad)", x->p.segments_failed);
  fprintf(stderr, "  %s  %s/s\033[K", d, r);
  fflush(stderr);
  x->drawn = 1;
}

/* --- the downloader's callbacks ------------------------------------------------ */

static void on_segment(nt_nzb_get_t *g, size_t fi, size_t si, nt_nzb_seg_status_t st,
                       int error, size_t server, void *arg) {
  get_t *x = arg;
  (void)g;
  if (st == NT_NZB_SEG_OK) {
    x->fetched++;
    return;
  }
  const nt_nzb_file_t *f = &x->nzb->files[fi];
  const nt_nzb_segment_t *s = &f->segments[si];
  /* failed = the servers refused or broke: their exit code, unless some
   * segment is really missing or damaged (13) */
  if (st == NT_NZB_SEG_FAILED) x->last_conn_error = error;
  else x->other_failures++;
  erase(x);
  const char *why = error == NT_ENNTP_NOARTICLE ? "430 no such article" : nt_strerror(error);
  char px[600];
  if (cli_proxy_detail(error)) { /* what the proxy said */
    snprintf(px, sizeof px, "%s: %s", why, cli_proxy_detail(error));
    why = px;
  }
  cli_error("%s: %s segment %d %s: %s (%s %s)", nt_nzb_seg_status_name(st),
            cli_text(f->name, strlen(f->name)), s->number,
            cli_text(s->message_id, strlen(s->message_id)), why,
            x->nservers > 1 ? "every server; last" : "server",
            x->servers[server < x->nservers ? server : 0]);
}

static void on_file(nt_nzb_get_t *g, size_t fi, const char *path, int status, void *arg) {
  get_t *x = arg;
  (void)g;
  erase(x);
  if (!status) {
    if (js.on) json_result(path, NULL, NULL);
    else if (!x->co.quiet) printf("%s: ok\n", cli_text(path, strlen(path)));
  } else {
    const nt_nzb_file_t *f = &x->nzb->files[fi];
    const char *why = status == NT_ENZB_INCOMPLETE ? "incomplete (see the segments above)"
                      : status == NT_EYENC_CRC     ? "the whole file's CRC32 is wrong"
                                                   : nt_strerror(status);
    if (js.on) json_result(path, json_error(status), why);
    cli_error("%s: %s", cli_text(path, strlen(path)), why);
    (void)f;
  }
  fflush(stdout);
}

/* Without -v the downloader's reconnect lines ("nzb: HOST port N: why; a
 * new connection in N ms (k of n)", "...; giving up on this server") show,
 * as nntp-read shows its retries; other lines as before (up to the level
 * $NETTOOL_LOG asks for, in the library's format). */
static int log_level_before;
static void log_line(int level, const char *line, void *arg) {
  get_t *x = arg;
  if (level == NT_LOG_INFO && !strncmp(line, "nzb: ", 5)) {
    erase(x);
    fprintf(stderr, "nettool: nntp-get: %s\n", cli_text(line + 5, strlen(line + 5)));
    return;
  }
  if (level <= log_level_before)
    fprintf(stderr, "nettool[%s]: %s\n", nt_log_level_name(level), cli_text(line, strlen(line)));
}

static void on_progress(nt_nzb_get_t *g, const nt_nzb_progress_t *p, void *arg) {
  get_t *x = arg;
  (void)g;
  if (!x->seen_progress) x->resumed = p->segments_done; /* before any fetch */
  x->seen_progress = 1;
  x->p = *p;
}

static void on_done(nt_nzb_get_t *g, int status, void *arg) {
  get_t *x = arg;
  (void)g;
  x->g = NULL;
  x->status = status;
  x->done = 1;
  nt_reactor_stop(x->r);
}

static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  get_t *x = arg;
  (void)r, (void)signum;
  if (x->interrupted) return;
  x->interrupted = 1;
  erase(x);
  cli_error("interrupted: run it again to resume");
  if (x->g) nt_nzb_get_cancel(x->g); /* the state files are written */
}

/* --max-time: the whole download; what is written stays for a resume. */
static void on_max_time(nt_timer_t *t) {
  get_t *x = t->data;
  if (x->interrupted || x->timed_out || !x->g) return;
  x->timed_out = 1;
  erase(x);
  cli_error("not done within %s (--max-time): run it again to resume",
            cli_secs(x->max_time_ms));
  nt_nzb_get_cancel(x->g);
}

/* --- PAR2 -------------------------------------------------------------------------- */

static int run_par2(const char *dir, char *const argv[]) {
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  char *cwd = getcwd(NULL, 0);
  if (!cwd || chdir(dir) < 0) {
    free(cwd);
    posix_spawn_file_actions_destroy(&fa);
    return -1;
  }
  int rc = posix_spawnp(&pid, "par2", &fa, NULL, argv, environ);
  if (chdir(cwd) < 0) rc = rc ? rc : errno;
  free(cwd);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) return -1;
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcasecmp(s + a - b, suf);
}

/* The main .par2 of the post (the one without ".volN+M"), verify, repair
 * when needed (the .part files handed as extra files: par2 takes their
 * good blocks and writes NAME). Returns an exit code. */
static int par2_check(get_t *x, const char *dir) {
  const char *main_par = NULL;
  for (size_t i = 0; i < x->nzb->nfiles; i++) {
    const char *n = x->nzb->files[i].name;
    if (ends_with(n, ".par2") && !strstr(n, ".vol") &&
        (!main_par || strlen(n) < strlen(main_par)))
      main_par = n;
  }
  if (!main_par) {
    cli_error("--par2: the NZB lists no .par2 file");
    return NT_EXIT_PAR2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, main_par);
  if (access(path, R_OK) < 0) {
    cli_error("--par2: %s was not downloaded", cli_text(main_par, strlen(main_par)));
    return NT_EXIT_PAR2;
  }
  char *vargv[] = {"par2", "verify", "-q", (char *)main_par, NULL};
  int rc = run_par2(dir, vargv);
  if (rc < 0) {
    cli_error("--par2: cannot run par2 (Debian: apt-get install par2)");
    return NT_EXIT_PAR2;
  }
  if (rc == 0) {
    js.par2 = "verified";
    if (!x->co.quiet && !js.on) printf("par2: %s verified\n", cli_text(main_par, strlen(main_par)));
    return 0;
  }
  /* repair, the .part files offered as extra data */
  char *rargv[4 + 2 * MAX_SERVERS + 256];
  size_t n = 0, extra = 0;
  rargv[n++] = "par2";
  rargv[n++] = "repair";
  rargv[n++] = "-q";
  rargv[n++] = (char *)main_par;
  char parts[256][256];
  for (size_t i = 0; i < x->nzb->nfiles && extra < 256; i++) {
    snprintf(parts[extra], sizeof parts[extra], "%s.part", x->nzb->files[i].name);
    char p2[4400];
    snprintf(p2, sizeof p2, "%s/%s", dir, parts[extra]);
    if (access(p2, R_OK) == 0) rargv[n++] = parts[extra++];
  }
  rargv[n] = NULL;
  rc = run_par2(dir, rargv);
  if (rc != 0) {
    cli_error("par2: repair failed (par2 exit %d): not enough recovery blocks", rc);
    return NT_EXIT_PAR2;
  }
  /* repaired: NAME exists now; the .part files and their state go */
  for (size_t i = 0; i < x->nzb->nfiles; i++) {
    char fin[4400], part[4400], st[4400];
    const char *nm = x->nzb->files[i].name;
    snprintf(fin, sizeof fin, "%s/%s", dir, nm);
    snprintf(part, sizeof part, "%s/%s.part", dir, nm);
    snprintf(st, sizeof st, "%s/%s.part.state", dir, nm);
    if (access(fin, F_OK) == 0 && access(part, F_OK) == 0) {
      unlink(part);
      unlink(st);
    }
  }
  js.par2 = "repaired";
  if (!x->co.quiet && !js.on) printf("par2: repaired with %s\n", cli_text(main_par, strlen(main_par)));
  return 0;
}

/* --- the command --------------------------------------------------------------------- */

static int nntp_get(int argc, char **argv);

int cmd_nntp_get(int argc, char **argv) {
  memset(&js, 0, sizeof js);
  js.t0 = cli_now();
  cli_last_error[0] = 0;
  int code = nntp_get(argc, argv);
  if (js.on) {
    fputs("{\"command\":\"nntp-get\",\"nzb\":", stdout);
    cli_json_string(stdout, js.nzb);
    fputs(",\"dir\":", stdout);
    cli_json_string(stdout, js.dir);
    printf(",\"files_done\":%zu,\"files\":%zu,\"segments_fetched\":%zu,"
           "\"segments_resumed\":%zu,\"segments_failed\":%zu,\"bytes\":%llu",
           js.files_done, js.files, js.fetched, js.resumed, js.failed,
           (unsigned long long)js.bytes);
    if (js.par2) printf(",\"par2\":\"%s\"", js.par2);
    printf(",\"seconds\":%.3f,\"exit_code\":%d", cli_now() - js.t0, code);
    if (code && cli_last_error[0]) {
      fputs(",\"error\":", stdout);
      cli_json_string(stdout, cli_last_error);
    }
    if (js.mem) fclose(js.mem);
    printf(",\"results\":[%s]}\n", js.results ? js.results : "");
    fflush(stdout);
  }
  free(js.results);
  return code;
}

static int nntp_get(int argc, char **argv) {
  get_t x;
  memset(&x, 0, sizeof x);
  nt_tls_ctx_t *ctx = NULL;
  int first;
  int prc = cli_opts_parse(&cli_spec_nntp_get, argc, argv, &x.co, own, &x, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  if (argc - first != 1) return cli_usage_error("expected one FILE.nzb");
  const char *file = argv[first];
  const char *dir = x.dir ? x.dir : ".";
  js.on = x.co.json;
  js.nzb = file;
  js.dir = dir;
  struct stat st;
  if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
    cli_error("-o %s: %s", cli_text(dir, strlen(dir)),
              errno && stat(dir, &st) < 0 ? strerror(errno) : "not a folder");
    return NT_EXIT_LOCAL;
  }

  /* every server settled as the other nntp commands do (credentials,
   * ports, the TLS rule) */
  nntp_cli_t sv[MAX_SERVERS];
  size_t nsv = x.nservers ? x.nservers : 1;
  int code = 0;
  for (size_t i = 0; i < nsv; i++) {
    nntp_cli_init(&sv[i]);
    nntp_cli_common(&sv[i], &x.co);
    sv[i].server = x.nservers ? x.servers[i] : NULL;
    sv[i].tls = x.tls;
    if ((code = nntp_cli_server(&sv[i]))) {
      for (size_t j = 0; j < i; j++) nntp_cli_cleanup(&sv[j]);
      cli_common_free(&x.co);
      return code;
    }
  }
  if (!x.nservers) x.servers[0] = sv[0].host;
  x.nservers = nsv;

  char err[200];
  int rc = nt_nzb_load(file, &x.nzb, err, sizeof err);
  if (rc) {
    if (rc == NT_ENZB_PARSE || rc == NT_ETOOBIG) {
      cli_error("%s: not a usable NZB: %s", cli_text(file, strlen(file)), err);
      code = NT_EXIT_INPUT;
    } else if (rc == NT_ENOTSUP) { /* libexpat is loaded for the parse */
      cli_error("%s: cannot read NZB files: %s", cli_text(file, strlen(file)), err);
      code = NT_EXIT_LOCAL;
    } else {
      cli_error("%s: %s", cli_text(file, strlen(file)), err[0] ? err : nt_strerror(rc));
      code = NT_EXIT_FILE;
    }
    goto out_servers;
  }

  int any_tls = 0;
  for (size_t i = 0; i < nsv; i++) any_tls |= sv[i].tls || sv[i].implicit_tls;
  if (any_tls) {
    nt_tls_ctx_options_t o;
    memset(&o, 0, sizeof o);
    o.ca_file = x.co.cacert;
    o.insecure = x.co.insecure;
    if (nt_tls_ctx_new(&o, &ctx)) {
      cli_error("TLS: %s", nt_tls_last_error());
      code = NT_EXIT_TLS;
      goto out_nzb;
    }
    if (x.co.insecure) cli_warn_insecure(NULL);
  }
  if (x.co.verbose) {
    cli_verbose_on();
  } else if (!x.co.quiet) {
    log_level_before = nt_log_get_level();
    nt_log_set_handler(log_line, &x);
    if (log_level_before < NT_LOG_INFO) nt_log_set_level(NT_LOG_INFO);
  }
  if ((rc = nt_reactor_new(&x.r, NULL))) {
    cli_error("cannot start a reactor: %s", nt_strerror(rc));
    code = NT_EXIT_INTERNAL;
    goto out_tls;
  }
  nt_nzb_get_options_t go;
  memset(&go, 0, sizeof go);
  go.dir = dir;
  go.connections = (int)x.connections;
  go.window = (int)x.window;
  go.no_resume = x.no_resume;
  /* --retry N: reconnect waits in a row per server (0: none); without it
   * the library's 3 */
  if (x.co.given & CLI_S(CLI_O_RETRY)) go.retries = x.co.retries ? x.co.retries : -1;
  go.retry_delay_ms = x.co.retry_delay_ms;
  nt_nzb_callbacks_t cbs = {.segment = on_segment, .file = on_file,
                            .progress = on_progress, .done = on_done};
  rc = nt_nzb_get_new(x.r, x.nzb, &go, &cbs, &x, &x.g);
  for (size_t i = 0; !rc && i < nsv; i++) {
    nt_nntp_options_t o;
    memset(&o, 0, sizeof o);
    o.user = sv[i].user;
    o.pass = sv[i].pass;
    o.tls = sv[i].implicit_tls ? NT_NNTP_TLS_IMPLICIT
            : sv[i].tls        ? NT_NNTP_TLS_STARTTLS
                               : NT_NNTP_TLS_NONE;
    o.tls_ctx = o.tls ? ctx : NULL;
    o.connect_timeout_ms = sv[i].connect_timeout_ms ? sv[i].connect_timeout_ms : sv[i].timeout_ms;
    o.timeout_ms = sv[i].timeout_ms;
    o.no_compress = !x.compress;
    const nt_proxy_t *proxy = NULL;
    if ((rc = cli_proxy_for(sv[i].proxy_given, x.co.verbose,
                            sv[i].implicit_tls ? "nntps" : "nntp", sv[i].host, &sv[i].proxy,
                            &proxy))) {
      code = rc;
      rc = 0;
      nt_nzb_get_free(x.g);
      x.g = NULL;
      goto out_reactor;
    }
    o.proxy = proxy; /* copied by the downloader */
    rc = nt_nzb_get_add_server(x.g, sv[i].host, sv[i].port, &o, 0);
  }
  int at_start = 0; /* rc is nt_nzb_get_start's */
  if (!rc) {
    rc = nt_nzb_get_start(x.g);
    at_start = 1;
  }
  if (rc) {
    if (at_start && rc == NT_ENOTSUP) { /* zlib is loaded for the CRCs (logged why) */
      cli_error("cannot check yEnc CRC32s: zlib cannot be loaded");
      code = NT_EXIT_LOCAL;
    } else {
      cli_error("%s", nt_strerror(rc));
      code = rc == NT_ENOMEM ? NT_EXIT_INTERNAL : NT_EXIT_FILE;
    }
    nt_nzb_get_free(x.g);
    x.g = NULL;
  } else {
    nt_reactor_handle_signals(x.r, on_signal, &x);
    x.max_time_ms = x.co.max_time_ms;
    nt_timer_init(x.r, &x.max_timer, on_max_time);
    x.max_timer.data = &x;
    if (x.max_time_ms) {
      nt_timer_start(&x.max_timer, x.max_time_ms, 0);
      nt_timer_unref(&x.max_timer);
    }
    x.tty = !x.co.quiet && isatty(STDERR_FILENO);
    x.t0 = x.last_ms = nt_reactor_now(x.r);
    if (x.tty) {
      nt_timer_init(x.r, &x.timer, draw);
      x.timer.data = &x;
      nt_timer_unref(&x.timer);
      /* drawn at once, then every 250 ms: a fast download still shows it */
      nt_timer_start(&x.timer, 0, 250);
    }
    if (!x.done) nt_reactor_run(x.r);
    if (x.tty) nt_timer_stop(&x.timer);
    nt_timer_stop(&x.max_timer);
    erase(&x);
    if (!x.done && x.g) { /* stopped without done(): cancel and let it end */
      nt_nzb_get_cancel(x.g);
      nt_reactor_run(x.r);
    }
    js.files_done = x.p.files_done;
    js.files = x.p.files;
    js.fetched = x.fetched;
    js.resumed = x.resumed;
    js.failed = x.p.segments_failed;
    js.bytes = x.p.decoded;
    if (!x.co.quiet && !js.on) {
      double secs = (double)(nt_reactor_now(x.r) - x.t0) / 1000.0;
      char mb[32], rate[32];
      progress_human(mb, sizeof mb, (double)x.p.decoded);
      progress_human(rate, sizeof rate, secs > 0 ? (double)x.p.decoded / secs : 0);
      printf("%zu/%zu files, %zu segments fetched, %zu resumed, %zu failed; %s in %.1f s (%s/s)\n",
             x.p.files_done, x.p.files, x.fetched, x.resumed, x.p.segments_failed, mb, secs,
             rate);
      fflush(stdout);
    }
    if (x.interrupted) code = NT_EXIT_INTERRUPTED;
    else if (x.timed_out) code = NT_EXIT_TIMEOUT;
    else if (x.status == 0) code = NT_EXIT_OK;
    else if (x.status == NT_ENZB_INCOMPLETE || x.status == NT_EYENC_CRC)
      code = !x.other_failures && x.last_conn_error ? nntp_cli_exit(x.last_conn_error)
                                                    : NT_EXIT_INCOMPLETE;
    else if (x.status < 0 && x.status > -3000) {
      cli_error("%s", nt_strerror(x.status));
      code = NT_EXIT_FILE;
    } else {
      code = nntp_cli_exit(x.status);
    }
    if (x.par2 && !x.interrupted && !x.timed_out && (code == NT_EXIT_OK || code == NT_EXIT_INCOMPLETE)) {
      int pc = par2_check(&x, dir);
      code = pc ? pc : NT_EXIT_OK;
    }
  }
out_reactor:
  nt_reactor_close_all(x.r);
  nt_reactor_free(x.r);
  if (!x.co.verbose && !x.co.quiet) {
    nt_log_set_handler(NULL, NULL);
    nt_log_set_level(log_level_before);
  }
out_tls:
  nt_tls_ctx_free(ctx);
out_nzb:
  nt_nzb_free(x.nzb);
out_servers:
  for (size_t i = 0; i < nsv; i++) nntp_cli_cleanup(&sv[i]);
  cli_common_free(&x.co);
  return code;
}
