/* String helpers for every layer of the core: owned copies, secrets, server text. */
#ifndef MV_STR_H
#define MV_STR_H

#include <stddef.h>
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* A copy of s (NULL for NULL, and NULL when out of memory: check s != NULL). */
char *mv_strdup(const char *s);
/* A NUL-terminated copy of the n bytes at s (which may hold no NUL), or NULL when out
 * of memory.  With mv_strdup, the only string-copy helpers of the core. */
char *mv_strndup(const void *s, size_t n);
/* Overwrites a secret (password, token) before freeing it. */
void mv_free_secret(char *p);

/* Copies server text into dst, replacing control and non-printable bytes so that a
 * hostile server cannot put escape sequences into a terminal or log. */
void mv_sanitize(char *dst, size_t dstsize, const char *src, size_t len);
/* What mv_sanitize makes of one byte: itself when printable ASCII, ' ' for a tab, '?'. */
char mv_sanitize_char(unsigned char c);

/* Whether any of the n bytes has its high bit set: the one 8-bit check of the core
 * (8BITMIME and SMTPUTF8 decisions, charsets, header words), a word at a time. */
int mv_has_8bit(const void *p, size_t n);

MV_HIDDEN_END

#endif
