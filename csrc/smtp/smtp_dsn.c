/* DSN requests (RFC 3461): the NOTIFY and RET words, the checks of ENVID and ORCPT, and
 * their xtext form (§4) on the MAIL and RCPT lines. */
#include "smtp_dsn.h"
#include "mv_str.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { const char *word; unsigned bit; } NOTIFY[] = {
    { "NEVER", SMTP_NOTIFY_NEVER }, { "SUCCESS", SMTP_NOTIFY_SUCCESS },
    { "FAILURE", SMTP_NOTIFY_FAILURE }, { "DELAY", SMTP_NOTIFY_DELAY },
};

unsigned smtp_dsn_notify_word(const char *w)
{
    size_t i;
    for (i = 0; i < sizeof NOTIFY / sizeof NOTIFY[0]; i++)
        if (strcasecmp(w, NOTIFY[i].word) == 0) return NOTIFY[i].bit;
    return 0;
}

int smtp_dsn_ret_word(const char *w)
{
    if (strcasecmp(w, "hdrs") == 0) return SMTP_RET_HDRS;
    if (strcasecmp(w, "full") == 0) return SMTP_RET_FULL;
    return SMTP_RET_NONE;
}

int smtp_dsn_asked(const smtp_dsn *d, size_t n)
{
    size_t i;
    if (d == NULL) return 0;
    if (d->notify != 0 || d->ret != SMTP_RET_NONE || d->envid != NULL) return 1;
    for (i = 0; i < n; i++)
        if ((d->rcpt_notify != NULL && d->rcpt_notify[i] != 0)
            || (d->orcpt != NULL && d->orcpt[i] != NULL)) return 1;
    return 0;
}

/* xtext's plain characters (§4): "!" to "~" but "+" and "=". */
static int xchar(unsigned char c)
{
    return c >= 33 && c <= 126 && c != '+' && c != '=';
}

static size_t xtext_len(const char *v)
{
    size_t n = 0;
    for (; *v; v++) n += xchar((unsigned char)*v) ? 1 : 3;
    return n;
}

/* Appends the n bytes at p to line[len..cap) when they fit with a NUL; returns the new
 * length, or cap when they do not (the line is then refused as too long). */
static size_t put(char *line, size_t cap, size_t len, const char *p, size_t n)
{
    if (len >= cap || n >= cap - len) return cap;
    memcpy(line + len, p, n);
    line[len + n] = '\0';
    return len + n;
}

static size_t put_xtext(char *line, size_t cap, size_t len, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *v && len < cap; v++) {
        unsigned char c = (unsigned char)*v;
        char x[3];
        if (xchar(c)) { len = put(line, cap, len, (const char *)&c, 1); continue; }
        x[0] = '+';
        x[1] = hex[c >> 4];
        x[2] = hex[c & 15];
        len = put(line, cap, len, x, 3);
    }
    return len;
}

/* Printable US-ASCII, graphic and space (§4.2, §4.4): what a DSN can carry back. */
static int printable(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 32 || (unsigned char)*v > 126) return 0;
    return 1;
}

/* The length of an addr-type ("rfc822") at the start of v, 0 when there is none. */
static size_t addr_type_len(const char *v)
{
    size_t n = 0;
    while ((v[n] >= 'a' && v[n] <= 'z') || (v[n] >= 'A' && v[n] <= 'Z')
           || (v[n] >= '0' && v[n] <= '9') || v[n] == '-') n++;
    return v[n] == ';' && n > 0 ? n : 0;
}

static int check_notify(unsigned bits, const char *what, mv_error *e)
{
    if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
        return mv_fail(e, MV_E_ARG, "%s: \"never\" cannot be combined with other words",
                       what);
    return MV_OK;
}

static int check_orcpt(const char *v, mv_error *e)
{
    size_t t = addr_type_len(v);
    const char *addr = t ? v + t + 1 : v;
    if (!printable(v))
        return mv_fail(e, MV_E_ARG, "orcpt must be printable US-ASCII (RFC 3461 §4.2)");
    if (*addr == '\0') return mv_fail(e, MV_E_ARG, "orcpt has no address");
    if ((t ? t + 1 : sizeof "rfc822;" - 1) + xtext_len(addr) > SMTP_ORCPT_MAX)
        return mv_fail(e, MV_E_ARG, "orcpt is too long (at most %u characters as xtext)",
                       (unsigned)SMTP_ORCPT_MAX);
    return MV_OK;
}

int smtp_dsn_check(const smtp_dsn *d, size_t n, mv_error *e)
{
    size_t i;
    if (d == NULL) return MV_OK;
    if (check_notify(d->notify, "notify", e) != MV_OK) return MV_ERROR;
    if (d->envid != NULL) {
        size_t len = strlen(d->envid);
        if (len == 0 || len > SMTP_ENVID_MAX)
            return mv_fail(e, MV_E_ARG, "envid must have 1 to %d characters (RFC 3461 §4.4)",
                           SMTP_ENVID_MAX);
        if (!printable(d->envid))
            return mv_fail(e, MV_E_ARG, "envid must be printable US-ASCII (RFC 3461 §4.4)");
    }
    for (i = 0; i < n; i++) {
        if (d->rcpt_notify != NULL
            && check_notify(d->rcpt_notify[i], "recipient notify", e) != MV_OK)
            return MV_ERROR;
        if (d->orcpt != NULL && d->orcpt[i] != NULL && check_orcpt(d->orcpt[i], e) != MV_OK)
            return MV_ERROR;
    }
    return MV_OK;
}

char *smtp_dsn_orcpt(const char *v)
{
    size_t n = strlen(v);
    char *p;
    if (addr_type_len(v) > 0) return mv_strdup(v);
    p = malloc(sizeof "rfc822;" + n);
    if (p != NULL) {
        memcpy(p, "rfc822;", sizeof "rfc822;" - 1);
        memcpy(p + sizeof "rfc822;" - 1, v, n + 1);
    }
    return p;
}

#define PUT(s) put(line, cap, len, s, sizeof s - 1)

size_t smtp_dsn_mail_params(char *line, size_t cap, size_t len, int ret, const char *envid)
{
    if (ret == SMTP_RET_HDRS) len = PUT(" RET=HDRS");
    else if (ret == SMTP_RET_FULL) len = PUT(" RET=FULL");
    if (envid != NULL) {
        len = PUT(" ENVID=");
        len = put_xtext(line, cap, len, envid);
    }
    return len;
}

size_t smtp_dsn_rcpt_params(char *line, size_t cap, size_t len, const smtp_rcpt_dsn *r)
{
    size_t i, t;
    const char *sep = " NOTIFY=";
    for (i = 0; i < sizeof NOTIFY / sizeof NOTIFY[0]; i++)
        if (r->notify & NOTIFY[i].bit) {
            len = put(line, cap, len, sep, strlen(sep));
            len = put(line, cap, len, NOTIFY[i].word, strlen(NOTIFY[i].word));
            sep = ",";
        }
    if (r->orcpt != NULL) {
        t = addr_type_len(r->orcpt);
        len = PUT(" ORCPT=");
        len = put(line, cap, len, r->orcpt, t + 1);
        len = put_xtext(line, cap, len, r->orcpt + t + 1);
    }
    return len;
}
