/* --json output (cli_json.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_json.h"

void cli_json_xfer_init(cli_json_xfer_t *x, const char *command) {
  memset(x, 0, sizeof *x);
  x->command = command;
  x->status = -1;
  x->bytes = -1;
  x->seconds = -1;
  x->articles = -1;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  size_t len;
  unsigned min;
  unsigned cp;
  if (p[0] < 0x80) return 1;
  if ((p[0] & 0xe0) == 0xc0) len = 2, cp = p[0] & 0x1f, min = 0x80;
  else if ((p[0] & 0xf0) == 0xe0) len = 3, cp = p[0] & 0x0f, min = 0x800;
  else if ((p[0] & 0xf8) == 0xf0) len = 4, cp = p[0] & 0x07, min = 0x10000;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

void cli_json_string(FILE *out, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  fputc('"', out);
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      fputc('\\', out);
      fputc(c, out);
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      fprintf(out, "\\u%04x", c);
      i++;
    } else {
      size_t len = utf8_len(p + i, n - i);
      if (!len) { /* not UTF-8: the replacement character */
        fputs("\\ufffd", out);
        i++;
      } else {
        fwrite(p + i, 1, len, out);
        i += len;
      }
    }
  }
  fputc('"', out);
}

static void field_str(FILE *out, int *first, const char *k, const char *v) {
  if (!v) return;
  fprintf(out, "%s\"%s\":", *first ? "" : ",", k);
  cli_json_string(out, v);
  *first = 0;
}

static void field_num(FILE *out, int *first, const char *k, int64_t v) {
  if (v < 0) return;
  fprintf(out, "%s\"%s\":%lld", *first ? "" : ",", k, (long long)v);
  *first = 0;
}

void cli_json_print(const cli_json_xfer_t *x) {
  FILE *out = stdout;
  int first = 1;
  fputc('{', out);
  field_str(out, &first, "command", x->command);
  field_str(out, &first, "url", x->url);
  field_str(out, &first, "host", x->host);
  if (x->port > 0) field_num(out, &first, "port", x->port);
  field_str(out, &first, "path", x->path);
  field_num(out, &first, "status", x->status);
  field_num(out, &first, "exit_code", x->exit_code);
  field_num(out, &first, "bytes", x->bytes);
  field_num(out, &first, "articles", x->articles);
  if (x->seconds >= 0) {
    fprintf(out, ",\"seconds\":%.3f", x->seconds);
    double bps = x->seconds > 0 && x->bytes >= 0 ? x->bytes / x->seconds : 0;
    fprintf(out, ",\"bytes_per_second\":%.0f", bps);
  }
  field_str(out, &first, "final_url", x->final_url);
  field_str(out, &first, "file", x->file);
  field_str(out, &first, "sha256", x->sha256);
  field_str(out, &first, "error", x->error);
  fputs("}\n", out);
  fflush(out);
}

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct cli_sha256_s {
  EVP_MD_CTX *md;
};

cli_sha256_t *cli_sha256_new(void) {
  cli_sha256_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->md = EVP_MD_CTX_new();
  if (!s->md || !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL)) {
    EVP_MD_CTX_free(s->md);
    free(s);
    return NULL;
  }
  return s;
}

void cli_sha256_update(cli_sha256_t *s, const void *p, size_t n) {
  if (s) EVP_DigestUpdate(s->md, p, n);
}

void cli_sha256_final(cli_sha256_t *s, char hex[65]) {
  unsigned char d[32];
  unsigned n = 0;
  hex[0] = 0;
  if (!s) return;
  if (EVP_DigestFinal_ex(s->md, d, &n) && n == 32)
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
  EVP_MD_CTX_free(s->md);
  free(s);
}

int cli_sha256_file(const char *path, char hex[65]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  cli_sha256_t *s = cli_sha256_new();
  char buf[65536];
  ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) > 0) cli_sha256_update(s, buf, (size_t)r);
  int err = r < 0 ? -errno : 0;
  close(fd);
  cli_sha256_final(s, hex);
  return err;
}
