/* nettool http-upload: sends FILE (and any -F fields and files) as a
 * multipart/form-data POST, the way `curl -F` does, streaming files from
 * disk; the response body goes to stdout (or -o OUT). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_http_common.h"
#include "cmd_http_tus.h"
#include "commands.h"
#include "nettool/http.h"
#include "nettool/tus.h"

static const cli_opt_t own_opts[] = {
    {"form", 'F', CLI_T_STR, CLI_F_REPEAT, 'F', "name=value",
     "a text field (the value as it is, ';' included);\n"
     "-F name=@path[;type=T][;filename=N]: a file part;\n"
     "the type is guessed from the name unless given;\n"
     "path and T may be \"quoted\" (a type with parameters\n"
     "must be: ;type=\"text/plain; charset=utf-8\");\n"
     "-F name=<path: the file's contents as a text field", 0},
    {"form-string", 0, CLI_T_STR, CLI_F_REPEAT, 'S', "name=value",
     "a text field taken literally (for values that\n"
     "start with @ or <)", 0},
    {"field", 0, CLI_T_STR, 0, 'f', "NAME",
     "the field FILE goes in (default 'file')", 0},
    {"type", 0, CLI_T_STR, 0, 't', "T",
     "content type of FILE (default: guessed)", 0},
    {"filename", 0, CLI_T_STR, 0, 'n', "N",
     "file name sent for FILE (default: its own)", 0},
    {"resumable", 0, CLI_T_BOOL, 0, 'U', NULL,
     "resumable upload (tus 1.0): URL is the tus\n"
     "endpoint; FILE goes in pieces the server confirms,\n"
     "-F text fields, the file name and type as tus\n"
     "metadata; a journal (FILE.nettool-upload) lets the\n"
     "same command continue after a kill, --retry after\n"
     "network errors; the upload's URL goes to stdout", 0},
    {"chunk-size", 0, CLI_T_UINT, 0, 'C', "BYTES",
     "--resumable: bytes per request (default: the rest\n"
     "of the file, 8 MiB with a checksum)", 0x7fffffffL},
    {"checksum", 0, CLI_T_STR, 0, 'K', "auto|off|require",
     "--resumable: checksum each piece (tus checksum\n"
     "extension, sha1) when the server offers it (auto,\n"
     "the default), never, or fail without it", 0},
    {"journal", 0, CLI_T_FILE, 0, 'J', "FILE",
     "--resumable: the journal's path (default\n"
     "FILE.nettool-upload)", 0},
    {"delete-on-failure", 0, CLI_T_BOOL, 0, 'E', NULL,
     "--resumable: when the upload fails for good or is\n"
     "interrupted, ask the server to delete it (tus\n"
     "termination) and drop the journal", 0},
    HTTP_CLI_ROWS,
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_http_upload = {
    "http-upload",
    "usage: nettool http-upload URL FILE [-F name=value]...\n"
    "         [-F name=@path[;type=T][;filename=N]]... [-F name=<path]...\n"
    "         [--form-string name=value]... [--field NAME]\n"
    "         [-H 'Name: value']... [-u user:pass] [-o OUT] [--cacert F]\n"
    "         [-k] [--connect-timeout S] [--idle-timeout S]\n"
    "         [--max-time S] [--max-redirs N] [--retry N] [-q] [-v] [--json]\n"
    "       nettool http-upload --resumable URL FILE [-F name=value]...\n"
    "         [--chunk-size BYTES] [--checksum auto|off|require]\n"
    "         [--journal FILE] [--delete-on-failure] [--retry N] [...]\n"
    "\n"
    "POSTs a multipart/form-data body (RFC 7578) to URL (http:// or "
    "https://):\n"
    "the -F parts in the order given, then FILE in the field named by --field\n"
    "(default 'file'). Files are streamed from disk, never read whole; FILE\n"
    "'-' reads stdin (sent with chunked encoding). The response body goes to\n"
    "stdout (or OUT), the status line to stderr, and a progress bar to stderr\n"
    "when it is a terminal.\n"
    "\n"
    "With --resumable, URL is a tus 1.0 endpoint (tus.io): FILE is created\n"
    "there (POST, Upload-Metadata) and sent in pieces (PATCH); the journal\n"
    "next to FILE records the upload's URL and the confirmed offset, so\n"
    "the same command run again after a kill, a crash or a lost connection\n"
    "asks the server where it stopped (HEAD) and continues from there.\n"
    "--retry N allows N failures in a row (the count starts again when the\n"
    "server confirms new bytes); each retry asks the server's offset first.\n"
    "The progress line counts the bytes the server confirmed.\n",
    HTTP_CLI_SHARED,
    own_opts,
    http_cli_shared_help,
    "Exit status: 0 for a 2xx answer, 8 for any other answer, 2 usage,\n"
    "4 connect, 5 resolve, 6 TLS, 7 protocol, 9 local file, 10 timeout,\n"
    "130 interrupted (docs/EXIT-CODES.md). With --resumable: 8 the server\n"
    "refused (a 4xx, over its Tus-Max-Size), 7 not a tus endpoint or a\n"
    "broken answer, 9 FILE changed or the journal cannot be written.\n",
};

#define MAX_FORMS 256

/* Takes a possibly "quoted" token from *s up to ';' (or the end). */
static char *take_token(const char **s) {
  const char *p = *s;
  size_t cap = strlen(p) + 1;
  char *out = malloc(cap);
  if (!out) return NULL;
  size_t k = 0;
  if (*p == '"') {
    p++;
    while (*p && *p != '"') {
      if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
      out[k++] = *p++;
    }
    if (*p != '"') {
      free(out);
      return NULL;
    }
    p++;
    if (*p && *p != ';') {
      free(out);
      return NULL;
    }
  } else {
    while (*p && *p != ';') out[k++] = *p++;
  }
  out[k] = 0;
  *s = p;
  return out;
}

/* name=<path: the file's contents as a text field (curl's -F habit), read
 * whole: a text field is held in memory (at most NT_MULTIPART_MAX_VALUE). */
static int add_text_file(nt_multipart_t *m, const char *spec, const char *name,
                         const char *path) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    cli_error("%s: %s", path, strerror(errno));
    return NT_EXIT_FILE;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  int code = 0;
  while (buf) {
    if (len == cap) {
      if (cap > NT_MULTIPART_MAX_VALUE) break;
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  if (!buf) {
    code = NT_EXIT_INTERNAL;
    cli_error("%s: out of memory", path);
  } else if (ferror(f)) {
    cli_error("%s: %s", path, strerror(errno));
    code = NT_EXIT_FILE;
  } else if (len > NT_MULTIPART_MAX_VALUE) {
    cli_error("%s: over %u MiB, too big for a text field: send it as a file "
              "with -F '%s=@%s'",
              path, NT_MULTIPART_MAX_VALUE >> 20, name, path);
    code = NT_EXIT_FILE;
  } else {
    int rc = nt_multipart_add_field(m, name, buf, len);
    if (rc) code = cli_usage_error("bad -F '%s': %s", spec, nt_strerror(rc));
  }
  if (f != stdin) fclose(f);
  free(buf);
  return code;
}

/* The usage error for an unknown ";param" after name=@path. A type with
 * parameters left unquoted ("type=text/plain; charset=utf-8") splits at
 * its ';': say how to quote it. */
static int bad_param(const char *spec, const char *type, const char *param) {
  while (*param == ' ' || *param == '\t') param++;
  size_t n = strcspn(param, ";");
  const char *eq = memchr(param, '=', n);
  if (type && eq && eq > param)
    return cli_usage_error(
        "bad -F '%s': ';%.*s' is not a -F parameter; a type with parameters "
        "must be quoted: ;type=\"%s; %.*s\"",
        spec, (int)n, param, type, (int)n, param);
  return cli_usage_error(
      "bad -F '%s': expected name=@path[;type=T][;filename=N]", spec);
}

/* -F name=value | name=@path[;type=T][;filename=N] | name=<path;
 * literal: --form-string (the value as it is, whatever it starts with). */
static int add_form(nt_multipart_t *m, const char *spec, int literal) {
  const char *eq = strchr(spec, '=');
  if (!eq || eq == spec)
    return cli_usage_error("bad %s '%s': expected name=value%s",
                           literal ? "--form-string" : "-F", spec,
                           literal ? "" : " or name=@file");
  char *name = strndup(spec, (size_t)(eq - spec));
  if (!name) return NT_EXIT_INTERNAL;
  const char *v = eq + 1;
  int rc;
  if (literal || (*v != '@' && *v != '<')) {
    rc = nt_multipart_add_field(m, name, v, strlen(v));
    free(name);
    if (rc) return cli_usage_error("bad -F '%s': %s", spec, nt_strerror(rc));
    return 0;
  }
  int text = *v == '<';
  v++;
  char *path = take_token(&v), *type = NULL, *fname = NULL;
  int bad = !path || !*path;
  int code = 0;
  if (!bad && text) {
    if (*v)
      code = cli_usage_error("bad -F '%s': name=<file takes no ;type= or "
                             ";filename= (its contents go as a text field; "
                             "name=@file sends a file)",
                             spec);
    else
      code = add_text_file(m, spec, name, path);
    free(name);
    free(path);
    return code;
  }
  while (!bad && !code && *v == ';') {
    v++;
    if (!strncmp(v, "type=", 5)) {
      v += 5;
      free(type);
      bad = !(type = take_token(&v)) || !*type;
    } else if (!strncmp(v, "filename=", 9)) {
      v += 9;
      free(fname);
      bad = !(fname = take_token(&v));
    } else {
      code = bad_param(spec, type, v);
    }
  }
  if (code) {
    /* said */
  } else if (bad) {
    code = cli_usage_error(
        "bad -F '%s': expected name=@path[;type=T][;filename=N]", spec);
  } else {
    if (!strcmp(path, "-"))
      rc = nt_multipart_add_stream(m, name, STDIN_FILENO, fname ? fname : "-",
                                   type);
    else
      rc = nt_multipart_add_file(m, name, path, fname, type);
    if (rc == NT_EINVAL) {
      code = cli_usage_error(
          "bad -F '%s': name, filename or type too long or invalid", spec);
    } else if (rc) {
      cli_error("%s: %s", path, nt_strerror(rc));
      code = NT_EXIT_FILE;
    }
  }
  free(name);
  free(path);
  free(type);
  free(fname);
  return code;
}

/* -H Content-Type: the body is multipart/form-data framed by nettool's
 * boundary; a type without it (or another type, or none) would send a form
 * no server can parse. multipart/... is kept and gets the boundary. */
static int check_content_type(const http_cli_t *h) {
  for (size_t i = 0; i < h->nheaders; i++) {
    const char *l = h->headers[i];
    if (strncasecmp(l, "Content-Type:", 13)) continue;
    const char *v = l + 13;
    while (*v == ' ' || *v == '\t') v++;
    if (!*v)
      return cli_usage_error("-H '%s' would send the form without its type "
                             "(multipart/form-data; boundary=...): no server "
                             "could parse it",
                             l);
    if (strncasecmp(v, "multipart/", 10))
      return cli_usage_error("-H '%s': http-upload sends multipart/form-data; "
                             "another type would make the form unparseable "
                             "(a multipart/... type is kept, with the "
                             "boundary added)",
                             l);
    if (strcasestr(v, "boundary="))
      return cli_usage_error("-H '%s': nettool chooses the boundary; give "
                             "the type without one",
                             l);
  }
  return 0;
}

static void cleanup(http_cli_t *h) {
  nt_multipart_free(h->data);
  h->data = NULL;
  h->body = NULL;
}

typedef struct upload_opts_s {
  http_cli_t *h;
  const char *forms[MAX_FORMS];
  int literal[MAX_FORMS];
  size_t nforms;
  const char *field, *ftype, *fname;
  int resumable;
  tus_cli_t tus;
} upload_opts_t;

/* --resumable: the text fields, the file name and its type become tus
 * metadata (filename, filetype: the keys tus-js-client and Uppy send). */
static int resumable(http_cli_t *h, upload_opts_t *uo, const char *file) {
  if (!strcmp(file, "-"))
    return cli_usage_error("--resumable needs a file: stdin cannot be read again to resume");
  if (h->out_path)
    return cli_usage_error("--resumable prints the upload's URL; -o is not used");
  const char *keys[NT_UPLOAD_MAX_METADATA], *vals[NT_UPLOAD_MAX_METADATA];
  char *owned[NT_UPLOAD_MAX_METADATA];
  size_t n = 0, nown = 0;
  int code = 0;
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  const char *fname = uo->fname ? uo->fname : base;
  keys[n] = "filename", vals[n++] = fname;
  keys[n] = "filetype", vals[n++] = uo->ftype ? uo->ftype : nt_http_guess_type(fname);
  for (size_t i = 0; i < uo->nforms && !code; i++) {
    const char *spec = uo->forms[i], *eq = strchr(spec, '=');
    if (!eq || eq == spec) {
      code = cli_usage_error("bad -F '%s': expected name=value", spec);
    } else if (!uo->literal[i] && (eq[1] == '@' || eq[1] == '<')) {
      code = cli_usage_error("-F '%s': --resumable sends one file; other -F "
                             "parts can only be text fields (--form-string "
                             "for a value starting with @ or <)", spec);
    } else if (n == NT_UPLOAD_MAX_METADATA) {
      code = cli_usage_error("too many -F fields for --resumable (at most %d)",
                             NT_UPLOAD_MAX_METADATA - 2);
    } else {
      char *name = strndup(spec, (size_t)(eq - spec));
      if (!name) {
        code = NT_EXIT_INTERNAL;
        break;
      }
      owned[nown++] = name;
      for (size_t k = 0; k < n && !code; k++)
        if (!strcmp(keys[k], name))
          code = cli_usage_error("-F '%s': the metadata key '%s' is given twice%s",
                                 spec, name, k < 2 ? " (nettool sends the file's "
                                 "name and type as filename and filetype)" : "");
      keys[n] = name, vals[n++] = eq + 1;
    }
  }
  if (!code) {
    for (size_t i = 0; i < n && !code; i++) {
      size_t kl = strlen(keys[i]);
      int ok = kl > 0 && kl <= 64;
      for (size_t k = 0; k < kl && ok; k++)
        ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                    keys[i][k]) != NULL;
      if (!ok)
        code = cli_usage_error("-F '%s': a tus metadata key is 1 to 64 letters, "
                               "digits, '.', '_' or '-'", keys[i]);
    }
  }
  if (!code) code = http_tus_run(h, file, &uo->tus, keys, vals, n);
  else cli_common_free(&h->common);
  for (size_t i = 0; i < nown; i++) free(owned[i]);
  return code;
}

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  upload_opts_t *u = ctx;
  switch (o->id) {
  case 'F':
  case 'S':
    if (u->nforms >= MAX_FORMS)
      return cli_usage_error("too many -F parts (at most %d)", MAX_FORMS);
    u->literal[u->nforms] = o->id == 'S';
    u->forms[u->nforms++] = v->str;
    return 0;
  case 'f':
    u->field = v->str;
    return 0;
  case 't':
    u->ftype = v->str;
    return 0;
  case 'n':
    u->fname = v->str;
    return 0;
  case 'U':
    u->resumable = 1;
    return 0;
  case 'C':
    if (v->num <= 0) return cli_usage_error("--chunk-size must be at least 1");
    u->tus.chunk_size = (uint64_t)v->num;
    return 0;
  case 'K':
    if (!strcmp(v->str, "auto"))
      u->tus.checksum = NT_UPLOAD_CHECKSUM_AUTO;
    else if (!strcmp(v->str, "off"))
      u->tus.checksum = NT_UPLOAD_CHECKSUM_OFF;
    else if (!strcmp(v->str, "require"))
      u->tus.checksum = NT_UPLOAD_CHECKSUM_REQUIRE;
    else
      return cli_usage_error("--checksum takes auto, off or require, not '%s'", v->str);
    return 0;
  case 'J':
    u->tus.journal = v->str;
    return 0;
  case 'E':
    u->tus.terminate = 1;
    return 0;
  default:
    return http_cli_own(u->h, o, v);
  }
}

int cmd_http_upload(int argc, char **argv) {
  http_cli_t h;
  http_cli_init(&h);
  h.upload = 1;
  upload_opts_t uo;
  memset(&uo, 0, sizeof uo);
  uo.h = &h;
  uo.field = "file";
  cli_common_t co;
  int first;
  int prc =
      cli_opts_parse(&cli_spec_http_upload, argc, argv, &co, own, &uo, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  http_cli_common(&h, &co);
  if (h.sha256) {
    cli_common_free(&h.common);
    return cli_usage_error("--sha256 is for downloads (http-get)");
  }
  if (argc - first != 2) {
    cli_common_free(&h.common);
    return cli_usage_error("expected URL and FILE");
  }
  h.url = argv[first];
  const char *file = argv[first + 1];
  const char **forms = uo.forms;
  const int *literal = uo.literal;
  size_t nforms = uo.nforms;
  const char *field = uo.field, *ftype = uo.ftype, *fname = uo.fname;
  if (!*field) return cli_usage_error("empty --field name");
  if (uo.resumable) return resumable(&h, &uo, file);
  if (uo.tus.chunk_size || uo.tus.journal || uo.tus.checksum || uo.tus.terminate)
    return cli_usage_error("--chunk-size, --checksum, --journal and --delete-on-failure "
                           "go with --resumable");
  int hc = check_content_type(&h);
  if (hc) return hc;

  nt_multipart_t *m;
  if (nt_multipart_new(&m)) return NT_EXIT_INTERNAL;
  h.data = m;
  h.cleanup = cleanup;
  int code = 0;
  for (size_t i = 0; i < nforms && !code; i++)
    code = add_form(m, forms[i], literal[i]);
  if (!code) {
    int rc = !strcmp(file, "-")
                 ? nt_multipart_add_stream(m, field, STDIN_FILENO,
                                           fname ? fname : "-", ftype)
                 : nt_multipart_add_file(m, field, file, fname, ftype);
    if (rc == NT_EINVAL) {
      code = cli_usage_error(
          "bad --field, --filename or --type (too long or invalid)");
    } else if (rc) {
      cli_error("%s: %s", file, nt_strerror(rc));
      code = NT_EXIT_FILE;
    }
  }
  if (!code && !(h.body = nt_multipart_body(m))) {
    cli_error("cannot build the form: %s", "out of memory or no random bytes");
    code = NT_EXIT_INTERNAL;
  }
  if (code) {
    nt_multipart_free(m);
    return code;
  }
  return http_cli_run(&h);
}
