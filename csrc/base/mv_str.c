#include "mv_str.h"

#include <stdlib.h>
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
