/* The library's diagnostics: where they go and how many. */
#ifndef NETTOOL_LOG_H
#define NETTOOL_LOG_H

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * nettool logs little on its own: warnings (a reactor freed with handles
 * still live, a peer's protocol violation worth knowing) and, at debug
 * level, state changes and protocol dialogue. With no handler set, each
 * line goes to stderr as "nettool[LEVEL]: text", control characters
 * replaced by '?' (lines may quote peers). With a handler set, nettool
 * writes nothing to stderr: every line that passes the level goes to the
 * handler instead.
 *
 * The level starts from $NETTOOL_LOG (none, error, warn, info, debug;
 * default warn) and nt_log_set_level changes it. Both settings are
 * process-wide and may be changed from any thread.
 */

enum {
  NT_LOG_NONE = -1, /* nothing */
  NT_LOG_ERROR = 0,
  NT_LOG_WARN = 1,
  NT_LOG_INFO = 2,
  NT_LOG_DEBUG = 3,
};

/* Called on the thread that logged (any reactor's), once per line. line is
 * the formatted text without prefix or newline, at most 1023 bytes, valid
 * during the call only. It is NOT sanitised: it may quote a peer's bytes,
 * control characters included, so escape it before showing it on a
 * terminal. The handler may log or change the handler itself. */
typedef void (*nt_log_handler_t)(int level, const char *line, void *arg);

/* Sends the library's log lines to fn(level, line, arg); fn NULL goes back
 * to stderr. A line another thread is logging at that moment may still
 * reach the previous handler: keep its arg valid until your reactors'
 * threads are done. */
void nt_log_set_handler(nt_log_handler_t fn, void *arg);

/* Lines up to this level are logged (NT_LOG_NONE: none). Returns 0, or
 * NT_EINVAL (-EINVAL) for a level outside NT_LOG_NONE..NT_LOG_DEBUG. */
int nt_log_set_level(int level);
int nt_log_get_level(void);

/* "none", "error", "warn", "info", "debug"; "?" for another value. */
const char *nt_log_level_name(int level);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
