/* Leveled logging for the library's own diagnostics: to a handler the
 * program sets (nt_log_set_handler), else to stderr as before. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nettool/log.h"
#include "reactor-int.h"

/* Read on every NT__DEBUG by any reactor's thread, set by
 * nt_log_set_level from any thread: atomic. */
_Atomic int nt__log_level = NT__LOG_WARN;

/* The handler and its argument change together: a thread logging while
 * another sets a handler must not call the new function with the old
 * argument. The lock is held only to copy the pair, never during the call,
 * so a handler may log (or set another handler) itself. */
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static nt_log_handler_t handler_fn;
static void *handler_arg;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

__attribute__((constructor)) static void log_init(void) {
  const char *e = getenv("NETTOOL_LOG");
  if (!e) return;
  if (!strcmp(e, "none")) nt__log_level = NT_LOG_NONE;
  for (int i = NT_LOG_ERROR; i <= NT_LOG_DEBUG; i++)
    if (!strcmp(e, level_names[i])) nt__log_level = i;
}

int nt_log_set_level(int level) {
  if (level < NT_LOG_NONE || level > NT_LOG_DEBUG) return NT_EINVAL;
  nt__log_level = level;
  return 0;
}

int nt_log_get_level(void) { return nt__log_level; }

const char *nt_log_level_name(int level) {
  if (level == NT_LOG_NONE) return "none";
  if (level < NT_LOG_ERROR || level > NT_LOG_DEBUG) return "?";
  return level_names[level];
}

void nt_log_set_handler(nt_log_handler_t fn, void *arg) {
  pthread_mutex_lock(&handler_lock);
  handler_fn = fn;
  handler_arg = fn ? arg : NULL;
  pthread_mutex_unlock(&handler_lock);
}

/* Log lines quote peers (a server's reply at debug level): control
 * characters that could drive a terminal (C0 but tab, DEL, C1 encoded in
 * UTF-8 as C2 80..9F) become '?', as the CLI's own sanitiser does. Only the
 * stderr path does this; a handler gets the line as formatted and decides
 * (a structured log may escape it its own way). */
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
  if (level > nt__log_level || level < NT_LOG_ERROR) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&handler_lock);
  nt_log_handler_t fn = handler_fn;
  void *arg = handler_arg;
  pthread_mutex_unlock(&handler_lock);
  if (fn) {
    fn(level, line, arg);
    return;
  }
  defang(line);
  fprintf(stderr, "nettool[%s]: %s\n", level_names[level], line);
}
