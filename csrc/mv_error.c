#include "mv_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[] = {
    "none", "timeout", "closed", "resolve", "io", "tls", "cert", "protocol", "reply",
    "auth", "limit", "uncertain", "argument", "memory"
};

const char *mv_kind_name(mv_kind kind)
{
    if ((size_t)kind >= sizeof kind_names / sizeof kind_names[0]) return "io";
    return kind_names[kind];
}

int mv_fail(mv_error *e, mv_kind kind, const char *fmt, ...)
{
    va_list ap;
    /* The first failure wins: later ones are consequences of it. */
    if (e->kind != MV_E_NONE) return MV_ERROR;
    e->kind = kind;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return MV_ERROR;
}

void mv_error_clear(mv_error *e)
{
    e->kind = MV_E_NONE;
    e->msg[0] = '\0';
    e->has_reply = 0;
    e->reply.code = 0;
    e->reply.enhanced[0] = '\0';
    e->reply.text[0] = '\0';
}

void mv_sanitize(char *dst, size_t dstsize, const char *src, size_t len)
{
    size_t o = 0, i;
    if (dstsize == 0) return;
    for (i = 0; i < len && o + 1 < dstsize; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\t' ? ' ' : '?');
    }
    dst[o] = '\0';
}

long long mv_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long mv_now_ms(void)
{
    return mv_now_us() / 1000;
}

char *mv_strdup(const char *s)
{
    char *p;
    size_t n;
    if (s == NULL) return NULL;
    n = strlen(s) + 1;
    p = malloc(n);
    if (p != NULL) memcpy(p, s, n);
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
