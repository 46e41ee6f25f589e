#include "mv_str.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

char *mv_strdup(const char *s)
{
    return s != NULL ? mv_strndup(s, strlen(s)) : NULL;
}

char *mv_strndup(const void *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL) return NULL;
    if (n > 0) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void mv_free_secret(char *p)
{
    if (p != NULL) {
        volatile char *v = p;
        while (*v) *v++ = 0;
        free(p);
    }
}

void mv_sanitize(char *dst, size_t dstsize, const char *src, size_t len)
{
    size_t o = 0, i;
    if (dstsize == 0) return;
    for (i = 0; i < len && o + 1 < dstsize; i++)
        dst[o++] = mv_sanitize_char((unsigned char)src[i]);
    dst[o] = '\0';
}

char mv_sanitize_char(unsigned char c)
{
    return (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\t' ? ' ' : '?');
}

/* Four words a step: the OR of 32 bytes has a high bit when one of them has. */
int mv_has_8bit(const void *data, size_t n)
{
    const uint64_t highs = 0x8080808080808080ull;
    const unsigned char *p = data;
    size_t i = 0;
    for (; n - i >= 32; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, sizeof w);
        if ((w[0] | w[1] | w[2] | w[3]) & highs) return 1;
    }
    for (; n - i >= 8; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (v & highs) return 1;
    }
    for (; i < n; i++)
        if (p[i] & 0x80) return 1;
    return 0;
}
