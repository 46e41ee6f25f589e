/* uuencode (POSIX uuencode, historic mail): the x-uuencode transfer encoding and
 * "begin 644 name" ... "end" blocks found inside text. */
#ifndef MIME_UU_H
#define MIME_UU_H

#include <stddef.h>

#include "mv_buf.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

#define MV_UU_MAX_NAME 255

typedef struct mv_uu_block {
    size_t start;       /* the "begin" line */
    size_t data;        /* the first encoded line */
    size_t data_end;    /* the "end" line */
    size_t end;         /* past the "end" line and its line break */
    char name[MV_UU_MAX_NAME + 1];   /* as written on the begin line (controls kept) */
} mv_uu_block;

/* Finds the first whole block (begin line, encoded lines, end line) at a line start at
 * or after `from` in s[0..n).  Returns 1 and fills b, or 0.  Lines that do not read as
 * uuencode between begin and end mean no block there.  Linear in n. */
int mv_uu_find(const unsigned char *s, size_t n, size_t from, mv_uu_block *b);
/* Decodes the encoded lines s[0..n) (whole lines; a "begin" line is skipped and an
 * "end" line stops), appending to out.  A short or damaged line adds to *defects.
 * Returns 1 when it stopped at an "end" line, else 0; -1 when out of memory. */
int mv_uu_decode(const unsigned char *s, size_t n, mv_buf *out, int *defects);

MV_HIDDEN_END

#endif
