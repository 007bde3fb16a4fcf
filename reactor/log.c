/* Minimal leveled logging to stderr for the library's own diagnostics. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reactor-int.h"

int nt__log_level = NT__LOG_WARN;

__attribute__((constructor)) static void log_init(void) {
  const char *e = getenv("NETTOOL_LOG");
  if (!e) return;
  if (!strcmp(e, "error")) nt__log_level = NT__LOG_ERROR;
  else if (!strcmp(e, "warn")) nt__log_level = NT__LOG_WARN;
  else if (!strcmp(e, "info")) nt__log_level = NT__LOG_INFO;
  else if (!strcmp(e, "debug")) nt__log_level = NT__LOG_DEBUG;
}

/* Log lines quote peers (a server's reply at debug level): control
 * characters that could drive a terminal (C0 but tab, DEL, C1 encoded in
 * UTF-8 as C2 80..9F) become '?', as the CLI's own sanitiser does. */
static void defang(char *s) {
  unsigned char *p = (unsigned char *)s;
  for (size_t i = 0; p[i]; i++) {
    if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
      p[i] = '?';
    } else if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
      p[i] = '?';
      memmove(p + i + 1, p + i + 2, strlen((char *)p + i + 2) + 1);
    }
  }
}

void nt__log(int level, const char *fmt, ...) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  if (level > nt__log_level) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  defang(line);
  fprintf(stderr, "nettool[%s]: %s\n", names[level], line);
}
