#include "mv_buf.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

void mv_buf_init(mv_buf *b)
{
    b->data = NULL;
    b->off = b->len = b->cap = b->hw = 0;
}

void mv_buf_free(mv_buf *b)
{
    mv_buf_wipe(b);
    free(b->data);
    mv_buf_init(b);
}

/* What the caller may now write must be wiped later. */
static int reserved(mv_buf *b, size_t extra)
{
    if (b->len + extra > b->hw) b->hw = b->len + extra;
    return 0;
}

int mv_buf_reserve(mv_buf *b, size_t extra)
{
    size_t need, cap;
    unsigned char *p;
    if (b->cap - b->len >= extra) return reserved(b, extra);
    /* Compact first: a consumed prefix is free space. */
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= extra) return reserved(b, extra);
    }
    if (extra > (size_t)-1 / 2 - b->len) return -1;
    need = b->len + extra;
    cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL) return -1;
    b->data = p;
    b->cap = cap;
    return reserved(b, extra);
}

int mv_buf_append(mv_buf *b, const void *p, size_t n)
{
    if (n == 0) return 0;
    if (mv_buf_reserve(b, n) != 0) return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int mv_buf_append_str(mv_buf *b, const char *s)
{
    return mv_buf_append(b, s, strlen(s));
}

void mv_buf_consume(mv_buf *b, size_t n)
{
    if (n >= b->len - b->off) {
        b->off = b->len = 0;
    } else {
        b->off += n;
    }
}

void mv_buf_reset(mv_buf *b)
{
    b->off = b->len = 0;
}

void mv_buf_wipe(mv_buf *b)
{
    /* Only what was written: wiping the whole capacity touched pages never used
     * (a page fault each) and cost a fifth of a large transfer's CPU. */
    if (b->data != NULL) mbedtls_platform_zeroize(b->data, b->hw < b->cap ? b->hw : b->cap);
    b->off = b->len = b->hw = 0;
}

void *mv_grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
    size_t nc;
    void *nv;
    if (n < *cap) return v;
    nc = *cap ? *cap * 2 : first;
    if (nc < n + 1 || nc > (size_t)-1 / size) return NULL;
    if ((nv = realloc(v, nc * size)) == NULL) return NULL;
    *cap = nc;
    return nv;
}
