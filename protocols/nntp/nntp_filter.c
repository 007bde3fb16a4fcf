/* NNTP client: the "meaningful lines" filter of the classic getLatestNNTP
 * script. Quoted lines ('>' or '|', but '>>>' prompts stay), attribution
 * lines ("In article <...> ... wrote:", "... writes:") and leading blank
 * lines are skipped; a run of blank lines shows as one, and only once a
 * line follows it (so nothing trails); at most max non-blank lines. */
#include <string.h>
#include <strings.h>

#include "nettool/nntp.h"

void nt_nntp_filter_init(nt_nntp_filter_t *f, size_t max_lines) {
  memset(f, 0, sizeof *f);
  f->max = max_lines;
}

int nt_nntp_filter_full(const nt_nntp_filter_t *f) { return f->shown >= f->max; }

static int ends_with(const char *s, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && !strncasecmp(s + n - k, suffix, k);
}

int nt_nntp_filter_line(nt_nntp_filter_t *f, const char *line, size_t *len) {
  size_t n = *len;
  while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
    n--;
  *len = n;
  if (nt_nntp_filter_full(f)) return NT_NNTP_FILTER_SKIP;
  if (!n) {
    if (f->started) f->blank_pending = 1;
    return NT_NNTP_FILTER_SKIP;
  }
  if ((line[0] == '>' && !(n >= 3 && !memcmp(line, ">>>", 3))) || line[0] == '|')
    return NT_NNTP_FILTER_SKIP;
  if ((n >= 10 && !strncasecmp(line, "in article", 10)) ||
      ends_with(line, n, "wrote:") || ends_with(line, n, "writes:"))
    return NT_NNTP_FILTER_SKIP;
  int blank = f->blank_pending;
  f->blank_pending = 0;
  f->started = 1;
  f->shown++;
  return blank ? NT_NNTP_FILTER_BLANK_SHOW : NT_NNTP_FILTER_SHOW;
}
