/* Growable byte buffer with a read offset (bytes before `off` are consumed). */
#ifndef MV_BUF_H
#define MV_BUF_H

#include <stddef.h>
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef struct mv_buf {
    unsigned char *data;
    size_t off;   /* first unconsumed byte */
    size_t len;   /* end of valid bytes */
    size_t cap;
    size_t hw;    /* high-water mark: bytes from 0 up to here may have been written */
} mv_buf;

void mv_buf_init(mv_buf *b);
void mv_buf_free(mv_buf *b);
/* Ensures room for `extra` more bytes at the end; 0 on success, -1 when out of memory.
 * Callers write at most `extra` bytes past len before the next reserve. */
int mv_buf_reserve(mv_buf *b, size_t extra);
int mv_buf_append(mv_buf *b, const void *p, size_t n);
int mv_buf_append_str(mv_buf *b, const char *s);
void mv_buf_consume(mv_buf *b, size_t n);
void mv_buf_reset(mv_buf *b);
/* Securely wipes the bytes ever written (up to the high-water mark, not the whole
 * capacity), e.g. after an AUTH line went out; mv_buf_free wipes too. */
void mv_buf_wipe(mv_buf *b);

/* Room for element n of the array v of *cap elements of `size` bytes: v itself while
 * n < *cap, else v grown to twice *cap (`first` when empty).  NULL when out of memory
 * (v is then unchanged and still owned by the caller). */
void *mv_grow(void *v, size_t *cap, size_t n, size_t size, size_t first);

static inline size_t mv_buf_avail(const mv_buf *b) { return b->len - b->off; }
/* NULL when nothing was ever allocated (NULL + 0 is undefined behaviour in C). */
static inline unsigned char *mv_buf_head(const mv_buf *b)
{
    return b->data != NULL ? b->data + b->off : NULL;
}

MV_HIDDEN_END

#endif
