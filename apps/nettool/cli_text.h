/* Text from the network on its way to a terminal, and durations in
 * messages. Every message that quotes a peer (a status line, a reply, a
 * file name, an article) goes through cli_text_*: a server must not be able
 * to move the cursor, retitle the window or hide text with escape
 * sequences (ESC, CSI, OSC are C0/C1 controls). */
#ifndef NETTOOL_CLI_TEXT_H
#define NETTOOL_CLI_TEXT_H

#include <stddef.h>
#include <stdio.h>

enum {
  /* LF is kept (article bodies, listings written line by line); without
   * it LF is shown like any other control. */
  CLI_TEXT_KEEP_LF = 1,
  /* LF becomes one space (a multi-line server reply quoted on one line). */
  CLI_TEXT_LF_SPACE = 2,
  /* A trailing CR, LF or CRLF is dropped. */
  CLI_TEXT_TRIM = 4,
};

/*
 * Copies in[0..len) to out as text safe for a terminal: C0 controls but
 * tab, DEL, C1 controls (U+0080-U+009F, whether raw bytes or UTF-8
 * encoded) and bytes that are not UTF-8 become '?'; valid UTF-8 is kept.
 * A NUL-terminated result always fits size (> 0); text that does not fit
 * ends in "..." Returns out.
 */
char *cli_text_clean(char *out, size_t size, const char *in, size_t len,
                     int flags);

/* The same, written to f (no length limit). */
void cli_text_put(FILE *f, const char *in, size_t len, int flags);

/* One of 4 rotating static buffers of 512 bytes holding the clean text, for
 * use as a printf argument: cli_error("... %s", cli_text(s, n)). One line:
 * LF shows as a space, a trailing CRLF is dropped. */
const char *cli_text(const char *in, size_t len);

/* A duration as the user wrote it: 1500 -> "1.5 s", 30000 -> "30 s",
 * 250 -> "0.25 s". One of 4 rotating static buffers. */
const char *cli_secs(unsigned long long ms);

#endif
