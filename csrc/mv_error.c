#include "mv_error.h"

#include <stdarg.h>
#include <stdio.h>

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
