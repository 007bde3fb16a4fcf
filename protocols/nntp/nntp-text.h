/* Private to protocols/nntp/: a growable byte buffer and charset
 * conversion helpers shared by the decoders and the article model. */
#ifndef NETTOOL_NNTP_TEXT_H
#define NETTOOL_NNTP_TEXT_H

#include <stddef.h>

typedef struct nt__buf {
  char *p; /* NUL-terminated once anything was added */
  size_t n, cap;
  int failed; /* an allocation failed: everything after is dropped */
} nt__buf_t;

/* Appends n bytes; 0 or NT_ENOMEM (then b->failed stays set). */
int nt__buf_add(nt__buf_t *b, const void *p, size_t n);

/* NULL, "", utf-8, us-ascii: no conversion needed. */
int nt__charset_is_utf8(const char *cs);
/* An iconv handle to UTF-8 from charset (*cd NULL for UTF-8/ASCII);
 * NT_EINVAL for a charset iconv does not know. */
int nt__iconv_open(const char *charset, void **cd);
void nt__iconv_close(void *cd);
/* Converts and appends; bad bytes become U+FFFD. cd NULL: UTF-8 checked. */
void nt__iconv_add(void *cd, nt__buf_t *b, const char *in, size_t len);

#endif
