/* The shared option layer (cli_opts.h): one table for the options several
 * commands have, parsing by type, the TLS rule, the password wipe, --help
 * generated from the tables. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_opts.h"
#include "cli_proxy.h"
#include "cli_text.h"
#include "nettool/log.h"
#include "nettool/transport.h"

/* The same flag means the same thing in every command that has it; a
 * command may word the help for its protocol (cli_cmd_spec_t.shared_help),
 * never change the parsing. */
const cli_opt_t cli_shared_opts[] = {
    {"insecure", 'k', CLI_T_BOOL, CLI_F_TLS, CLI_O_INSECURE, NULL,
     "do not verify the server's TLS certificate (warns)", 0},
    {"cacert", 0, CLI_T_FILE, CLI_F_TLS, CLI_O_CACERT, "FILE",
     "trust this CA bundle (PEM) for TLS", 0},
    {"quiet", 'q', CLI_T_BOOL, 0, CLI_O_QUIET, NULL,
     "no progress bar and no status lines on stderr", 0},
    {"verbose", 'v', CLI_T_BOOL, 0, CLI_O_VERBOSE, NULL,
     "show the protocol dialogue on stderr ('> ' sent, '< ' received;\n"
     "passwords masked)", 0},
    {"timeout", 0, CLI_T_SECS, 0, CLI_O_TIMEOUT, "S",
     "a reply must be complete within S seconds of its command; inside a\n"
     "transfer, no progress for S (default 30)", 0},
    {"connect-timeout", 0, CLI_T_SECS, 0, CLI_O_CONNECT_TIMEOUT, "S",
     "resolving, connecting and TLS handshakes within\n"
     "S seconds (default: --timeout)", 0},
    {"max-time", 0, CLI_T_SECS, 0, CLI_O_MAX_TIME, "S",
     "give up after S seconds in all (default: no limit)", 0},
    {"user", 'u', CLI_T_STR, CLI_F_SECRET, CLI_O_USER, "USER[:PASS]",
     "log in as USER; the password is never printed and is hidden from ps",
     0},
    {"json", 0, CLI_T_BOOL, 0, CLI_O_JSON, NULL,
     "print one JSON object per transfer on stdout", 0},
    {"port", 0, CLI_T_PORT, 0, CLI_O_PORT, "N", "server port", 0},
    {"proxy", 'x', CLI_T_STR, CLI_F_SECRET, CLI_O_PROXY, "URL",
     "connect through a proxy: socks5://, socks5h:// (the\n"
     "proxy resolves names) or http:// (CONNECT tunnel),\n"
     "then [USER:PASS@]HOST[:PORT] (port 1080); '' for\n"
     "none. Default: the environment, as curl reads it\n"
     "(SCHEME_proxy, all_proxy, no_proxy)", 0},
    {"retry", 0, CLI_T_UINT, 0, CLI_O_RETRY, "N",
     "retry transient failures (connection lost, timeout)\n"
     "up to N times, continuing where the last try stopped;\n"
     "refusals that cannot heal end at once (default 0)", 1000},
    {"retry-delay", 0, CLI_T_SECS, 0, CLI_O_RETRY_DELAY, "S",
     "first wait between retries (default 1; doubling,\n"
     "with jitter; Retry-After wins where sent)", 0},
    {"help", 'h', CLI_T_BOOL, 0, CLI_O_HELP, NULL, "show this help", 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

static size_t count_rows(const cli_opt_t *t) {
  size_t n = 0;
  while (t && t[n].lng) n++;
  return n;
}

/* --- parsing -------------------------------------------------------------- */

/* The option as the user wrote it, for messages. */
static void spelled(const cli_opt_t *o, int used_long, char *buf, size_t n) {
  if (used_long || !o->shrt)
    snprintf(buf, n, "--%s", o->lng);
  else
    snprintf(buf, n, "-%c", o->shrt);
}

/* Checks and converts an argument by its type. */
static int parse_value(const cli_opt_t *o, const char *arg, const char *name,
                       cli_val_t *v) {
  memset(v, 0, sizeof *v);
  v->str = arg;
  switch (o->type) {
  case CLI_T_BOOL:
  case CLI_T_STR:
    return 0;
  case CLI_T_FILE:
    if (!*arg) return cli_usage_error("empty %s file name", name);
    return 0;
  case CLI_T_SECS:
    if (cli_seconds(arg, &v->ms))
      return cli_usage_error("bad %s '%s': expected seconds > 0", name, arg);
    return 0;
  case CLI_T_PORT:
    v->num = nt_port_parse(arg, 0);
    if (v->num < 0)
      return cli_usage_error("bad %s '%s': expected a number from 1 to 65535",
                             name, arg);
    return 0;
  case CLI_T_UINT: {
    char *end;
    v->num = strtol(arg, &end, 10);
    if (!*arg || *end || v->num < 0 || v->num > o->max)
      return cli_usage_error("bad %s '%s': expected a number from 0 to %ld",
                             name, arg, o->max);
    return 0;
  }
  }
  return 0;
}

void cli_wipe_password(char *userpass) {
  char *colon = userpass ? strchr(userpass, ':') : NULL;
  if (colon) memset(colon + 1, 'x', strlen(colon + 1));
}

char *cli_url_password(char *url, const char *ends, size_t *len) {
  *len = 0;
  char *p = url, *sep = strstr(url, "://");
  if (sep && sep < url + strcspn(url, "/?#")) p = sep + 3;
  size_t alen = strcspn(p, ends);
  char *at = NULL;
  for (size_t i = 0; i < alen; i++)
    if (p[i] == '@') at = p + i;
  char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
  if (!colon) return NULL;
  *len = (size_t)(at - colon - 1);
  return colon + 1;
}

void cli_wipe_url_password(char *url, const char *ends) {
  size_t len;
  char *pass = cli_url_password(url, ends, &len);
  if (pass) memset(pass, 'x', len);
}

int cli_header_is_secret(const char *header) {
  static const char *const names[] = {"authorization", "proxy-authorization",
                                      "cookie"};
  static const char *const parts[] = {"token", "secret", "password", "api-key",
                                      "apikey"};
  size_t n = strcspn(header, ":");
  while (n && (header[n - 1] == ' ' || header[n - 1] == '\t')) n--;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && !strncasecmp(header, names[i], n)) return 1;
  char name[128];
  if (n >= sizeof name) n = sizeof name - 1;
  memcpy(name, header, n);
  name[n] = 0;
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    if (strcasestr(name, parts[i])) return 1;
  return 0;
}

/* Copies of argv's secrets: the process's, wiped and freed at exit, so no
 * early return can leak one. */
static char **kept;
static size_t nkept;

static void free_kept(void) {
  for (size_t i = 0; i < nkept; i++) {
    memset(kept[i], 0, strlen(kept[i]));
    free(kept[i]);
  }
  free(kept);
  kept = NULL;
  nkept = 0;
}

char *cli_keep_secret(char *arg, char *from) {
  char **k = realloc(kept, (nkept + 1) * sizeof *k);
  if (!k) return NULL;
  if (!kept) atexit(free_kept);
  kept = k;
  char *copy = strdup(arg);
  if (!copy) return NULL;
  kept[nkept++] = copy;
  memset(from, 'x', strlen(from));
  return copy;
}

static char *user_copy; /* -u's value */
static int user_freed_at_exit;

static void free_user_copy(void) {
  if (!user_copy) return;
  memset(user_copy, 0, strlen(user_copy));
  free(user_copy);
  user_copy = NULL;
}

static int shared_value(cli_common_t *co, const cli_opt_t *o,
                        const cli_val_t *v) {
  co->given |= CLI_S(o->id);
  switch (o->id) {
  case CLI_O_INSECURE: co->insecure = 1; break;
  case CLI_O_CACERT: co->cacert = v->str; break;
  case CLI_O_QUIET: co->quiet = 1; break;
  case CLI_O_VERBOSE: co->verbose = 1; break;
  case CLI_O_TIMEOUT: co->timeout_ms = v->ms; break;
  case CLI_O_CONNECT_TIMEOUT: co->connect_timeout_ms = v->ms; break;
  case CLI_O_MAX_TIME: co->max_time_ms = v->ms; break;
  case CLI_O_JSON: co->json = 1; break;
  case CLI_O_PORT: co->port = (int)v->num; break;
  case CLI_O_RETRY: co->retries = (int)v->num; break;
  case CLI_O_RETRY_DELAY: co->retry_delay_ms = v->ms; break;
  case CLI_O_PROXY: return cli_proxy_option(co, (char *)v->str);
  case CLI_O_USER:
    /* Copied, then wiped in argv before anything slow runs. The copy is
     * the process's (freed at exit), so no early return can leak it. */
    cli_common_free(co);
    if (!user_freed_at_exit) {
      atexit(free_user_copy);
      user_freed_at_exit = 1;
    }
    co->user = user_copy = strdup(v->str);
    if (!co->user) {
      cli_error("out of memory");
      return NT_EXIT_INTERNAL;
    }
    cli_wipe_password((char *)v->str);
    break;
  }
  return 0;
}

void cli_common_free(cli_common_t *co) {
  if (co->user && co->user == user_copy) free_user_copy();
  co->user = NULL;
}

/* The rows this command accepts: its own first (they win), then the shared
 * ones its mask names. */
static const cli_opt_t **accepted(const cli_cmd_spec_t *spec, size_t *n) {
  size_t nown = count_rows(spec->own), nsh = count_rows(cli_shared_opts);
  const cli_opt_t **rows = calloc(nown + nsh + 1, sizeof *rows);
  if (!rows) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < nown; i++) rows[k++] = &spec->own[i];
  for (size_t i = 0; i < nsh; i++) {
    const cli_opt_t *o = &cli_shared_opts[i];
    if (o->id == CLI_O_HELP || (spec->shared & CLI_S(o->id))) rows[k++] = o;
  }
  *n = k;
  return rows;
}

/* getopt_long's tables from the rows: val = the row's index + 256, so a
 * short letter and its long name reach the same row. */
static int build_getopt(const cli_opt_t **rows, size_t n,
                        struct option **longs, char **shorts) {
  *longs = calloc(n + 1, sizeof **longs);
  *shorts = calloc(3 * n + 2, 1);
  if (!*longs || !*shorts) return -1;
  char *s = *shorts;
  *s++ = ':';
  for (size_t i = 0; i < n; i++) {
    (*longs)[i].name = rows[i]->lng;
    (*longs)[i].has_arg =
        rows[i]->type == CLI_T_BOOL ? no_argument : required_argument;
    (*longs)[i].val = (int)i + 256;
    if (rows[i]->shrt && !strchr(*shorts, rows[i]->shrt)) {
      *s++ = (char)rows[i]->shrt;
      if (rows[i]->type != CLI_T_BOOL) *s++ = ':';
    }
  }
  return 0;
}

static const cli_opt_t *row_for_short(const cli_opt_t **rows, size_t n,
                                      int ch) {
  for (size_t i = 0; i < n; i++)
    if (rows[i]->shrt == ch) return rows[i];
  return NULL;
}

int cli_opts_parse(const cli_cmd_spec_t *spec, int argc, char **argv,
                   cli_common_t *co, cli_own_fn fn, void *ctx, int *first) {
  memset(co, 0, sizeof *co);
  size_t n = 0;
  const cli_opt_t **rows = accepted(spec, &n);
  struct option *longs = NULL;
  char *shorts = NULL;
  int rc = 0;
  if (!rows || build_getopt(rows, n, &longs, &shorts)) {
    cli_error("out of memory");
    rc = NT_EXIT_INTERNAL;
    goto out;
  }
  optind = 0; /* glibc: a full restart, even after a parse that stopped
                 inside a group of short options */
  opterr = 0;
  int ch;
  while ((ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
    const cli_opt_t *o;
    int used_long = ch >= 256;
    if (ch == ':') {
      rc = cli_usage_error("option '%s' needs a value", argv[optind - 1]);
      break;
    }
    if (ch == '?') {
      rc = cli_usage_error("unknown option '%s'", argv[optind - 1]);
      break;
    }
    o = used_long ? rows[ch - 256] : row_for_short(rows, n, ch);
    if (!o) {
      rc = cli_usage_error("unknown option '%s'", argv[optind - 1]);
      break;
    }
    if (o->id == CLI_O_HELP) {
      cli_opts_help(spec, stdout);
      rc = CLI_OPTS_HELP;
      break;
    }
    char name[64];
    spelled(o, used_long, name, sizeof name);
    cli_val_t v;
    rc = parse_value(o, optarg, name, &v);
    if (rc) break;
    rc = o->id >= CLI_O_INSECURE ? shared_value(co, o, &v) : fn(ctx, o, &v);
    if (rc) break;
  }
  *first = optind;
out:
  free(rows);
  free(longs);
  free(shorts);
  if (rc) cli_common_free(co);
  return rc;
}

/* --- the TLS rule --------------------------------------------------------- */

void cli_warn_insecure(const char *note) {
  /* not cli_error: a warning is not the error --json reports */
  fprintf(stderr,
          "nettool: %s: warning: --insecure: the server's TLS certificate is "
          "not verified; anyone on the path can read and change this "
          "session%s\n",
          cli_cmd, note ? note : "");
}

int cli_opts_tls_check(const cli_common_t *co, int tls, const char *how) {
  if (!tls && (co->insecure || co->cacert))
    return cli_usage_error("--cacert and --insecure need TLS (%s)", how);
  if (tls && co->insecure) cli_warn_insecure(NULL);
  return 0;
}

/* --- help ------------------------------------------------------------------ */

/* One option's rows: "  -k, --insecure" or "  --cacert FILE", the help
 * from column 26 (on the next line when the name is longer). */
static void help_row(const cli_opt_t *o, const char *help, FILE *out) {
  char left[64], shrt[8] = "";
  if (o->shrt) snprintf(shrt, sizeof shrt, "-%c, ", o->shrt);
  int n = snprintf(left, sizeof left, "  %s--%s%s%s", shrt, o->lng,
                   o->arg ? " " : "", o->arg ? o->arg : "");
  fputs(left, out);
  const int col = 26;
  if (n >= col - 1) {
    fputc('\n', out);
    n = 0;
  }
  for (const char *p = help; *p;) {
    size_t len = strcspn(p, "\n");
    fprintf(out, "%*s%.*s\n", col - n, "", (int)len, p);
    n = 0;
    p += len;
    if (*p) p++;
  }
  if (o->flags & CLI_F_REPEAT) fprintf(out, "%*s(may be repeated)\n", col, "");
}

void cli_opts_help(const cli_cmd_spec_t *spec, FILE *out) {
  fputs(spec->synopsis, out);
  if (count_rows(spec->own)) fputs("\nOptions:\n", out);
  for (const cli_opt_t *o = spec->own; o && o->lng; o++)
    if (!(o->flags & CLI_F_HIDDEN)) help_row(o, o->help, out);
  fputs("\nCommon options (the same in every command):\n", out);
  for (const cli_opt_t *o = cli_shared_opts; o->lng; o++) {
    if (o->id != CLI_O_HELP && !(spec->shared & CLI_S(o->id))) continue;
    const char *h = spec->shared_help ? spec->shared_help[o->id - CLI_O_INSECURE]
                                      : NULL;
    help_row(o, h ? h : o->help, out);
  }
  if (spec->epilog) fprintf(out, "\n%s", spec->epilog);
}

/* --- -v: the dialogue from the library's log ------------------------------- */

static int verbose_prev_level = NT_LOG_WARN;

/* Debug lines "> CMD" and "< REPLY" are the protocol dialogue (the pingpong
 * engine logs them, secrets already masked: "> PASS ****"); other debug
 * lines (state changes) are not shown. Lines at the level the user had
 * keep their usual form. Everything goes through cli_text: it quotes peers. */
static void verbose_line(int level, const char *line, void *arg) {
  (void)arg;
  size_t len = strlen(line);
  if (level == NT_LOG_DEBUG) {
    if (len < 2 || (line[0] != '>' && line[0] != '<') || line[1] != ' ') return;
    cli_text_put(stderr, line, len, 0);
    fputc('\n', stderr);
    return;
  }
  if (level > verbose_prev_level) return;
  fprintf(stderr, "nettool[%s]: ", nt_log_level_name(level));
  cli_text_put(stderr, line, len, 0);
  fputc('\n', stderr);
}

void cli_verbose_on(void) {
  verbose_prev_level = nt_log_get_level();
  nt_log_set_handler(verbose_line, NULL);
  nt_log_set_level(NT_LOG_DEBUG);
}
