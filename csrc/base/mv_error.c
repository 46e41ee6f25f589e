#include "mv_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
    mv_reply_clear(&e->reply);
}

void mv_reply_clear(mv_reply *r)
{
    r->status[0] = '\0';
    r->code = 0;
    r->enhanced[0] = '\0';
    r->resp_code[0] = '\0';
    r->text[0] = '\0';
}

void mv_reply_verdict(const mv_reply *r, char *out, size_t size)
{
    if (r->status[0] != '\0') snprintf(out, size, "%s", r->status);
    else snprintf(out, size, "%d", r->code);
}

int mv_fail_reply(mv_error *e, mv_kind kind, const char *what, const mv_reply *r)
{
    char verdict[MV_REPLY_STATUS_MAX + 16];
    if (e->kind != MV_E_NONE) return MV_ERROR;
    mv_reply_verdict(r, verdict, sizeof verdict);
    mv_fail(e, kind, "%s: %s %s", what, verdict, r->text);
    e->has_reply = 1;
    e->reply = *r;
    return MV_ERROR;
}

/* A keyword is an atom (RFC 3501 §9): printable, no space, bracket, brace, quote,
 * parenthesis or wildcard; POP3's hierarchy ("SYS/TEMP") fits it. */
static int atom_char(unsigned char c)
{
    return c > ' ' && c < 127 && c != '(' && c != ')' && c != '{' && c != '%' && c != '*'
           && c != '"' && c != '\\' && c != '[' && c != ']';
}

void mv_reply_set_resp_code(mv_reply *r, const char *text, size_t len)
{
    size_t i = 1;
    r->resp_code[0] = '\0';
    if (len < 3 || text[0] != '[') return;
    while (i < len && atom_char((unsigned char)text[i])) i++;
    if (i == 1 || i - 1 >= sizeof r->resp_code || i >= len) return;
    if (text[i] != ']' && text[i] != ' ') return;
    /* A code is closed: "[IN-USE" without its "]" is text, not a code. */
    if (memchr(text + i, ']', len - i) == NULL) return;
    memcpy(r->resp_code, text + 1, i - 1);
    r->resp_code[i - 1] = '\0';
}
