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

void nt__log(int level, const char *fmt, ...) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  if (level > nt__log_level) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "nettool[%s]: %s\n", names[level], line);
}
