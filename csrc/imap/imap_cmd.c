/* Building IMAP commands: atoms checked, strings quoted or sent as literals, mailbox
 * names encoded (imap_cmd.h). */
#include "imap_cmd.h"
#include "imap_data.h"

#include <stdio.h>
#include <string.h>

void imap_cmd_init(imap_cmd *c, int literal_mode, int utf8)
{
    memset(c, 0, sizeof *c);
    mv_buf_init(&c->buf);
    c->literal_mode = literal_mode;
    c->utf8 = utf8;
    c->mask_from = (size_t)-1;
}

void imap_cmd_free(imap_cmd *c)
{
    mv_buf_wipe(&c->buf);
    mv_buf_free(&c->buf);
    c->nlit = 0;
}

static int fail(imap_cmd *c, mv_kind kind, const char *msg)
{
    if (!c->failed) mv_fail(&c->err, kind, "%s", msg);
    c->failed = 1;
    return -1;
}

static int put(imap_cmd *c, const void *p, size_t n)
{
    if (c->failed) return -1;
    if (mv_buf_append(&c->buf, p, n) != 0) return fail(c, MV_E_MEMORY, "out of memory");
    return 0;
}

/* The separator before an argument: none at the start or just after "(". */
static int sep(imap_cmd *c)
{
    if (c->failed) return -1;
    if (c->buf.len == 0 || c->buf.data[c->buf.len - 1] == '(') return 0;
    return put(c, " ", 1);
}

static int atom_char(unsigned char ch)
{
    if (ch <= 0x20 || ch >= 0x7f) return 0;
    return strchr("(){\"\\]", ch) == NULL;
}

int imap_atom_ok(const char *s, size_t n)
{
    size_t i = 0;
    int depth = 0;
    if (n == 0) return 0;
    if (s[0] == '\\') i = 1;          /* a system flag: \Seen */
    if (i == n) return 0;
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (depth > 0) {
            /* inside a section: HEADER.FIELDS (FROM TO), 1.2.MIME */
            if (ch == ']') depth--;
            else if (!(atom_char(ch) || ch == ' ' || ch == '(' || ch == ')')) return 0;
            else if (ch == '[') return 0;
            continue;
        }
        if (ch == '[') depth++;
        else if (!atom_char(ch)) return 0;
    }
    return depth == 0;
}

int imap_cmd_atom(imap_cmd *c, const char *s, size_t n)
{
    if (c->failed) return -1;
    if (!imap_atom_ok(s, n)) return fail(c, MV_E_ARG, "not a valid IMAP atom");
    if (sep(c) != 0) return -1;
    return put(c, s, n);
}

/* Quoted when it can be: no CR, LF or NUL, 7-bit unless UTF-8 is enabled, not long. */
static int quotable(const imap_cmd *c, const char *s, size_t n)
{
    size_t i;
    if (n > IMAP_CMD_MAX_QUOTED) return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0 || ch == '\r' || ch == '\n') return 0;
        if (ch >= 0x80 && !c->utf8) return 0;
    }
    return 1;
}

static imap_cmd_lit *literal_head(imap_cmd *c, unsigned long long n)
{
    char head[40];
    int plus, hl;
    imap_cmd_lit *l;
    if (c->failed) return NULL;
    if (c->nlit >= IMAP_CMD_MAX_LITERALS) {
        fail(c, MV_E_LIMIT, "too many literals in one command");
        return NULL;
    }
    plus = c->literal_mode == IMAP_LIT_PLUS
           || (c->literal_mode == IMAP_LIT_MINUS && n <= IMAP_LITERAL_MINUS_MAX);
    hl = snprintf(head, sizeof head, "{%llu%s}\r\n", n, plus ? "+" : "");
    if (sep(c) != 0 || put(c, head, (size_t)hl) != 0) return NULL;
    l = &c->lit[c->nlit++];
    l->start = c->buf.len;
    l->len = (size_t)n;
    l->sync = !plus;
    l->ext = 0;
    return l;
}

int imap_cmd_literal(imap_cmd *c, const char *s, size_t n)
{
    if (literal_head(c, n) == NULL) return -1;
    return put(c, s, n);
}

int imap_cmd_literal_ext(imap_cmd *c, unsigned long long n)
{
    imap_cmd_lit *l;
    if (n > (size_t)-1 / 2) return fail(c, MV_E_ARG, "literal too large");
    if ((l = literal_head(c, n)) == NULL) return -1;
    l->ext = 1;
    return 0;
}

int imap_cmd_string(imap_cmd *c, const char *s, size_t n)
{
    size_t i;
    if (c->failed) return -1;
    if (!quotable(c, s, n)) return imap_cmd_literal(c, s, n);
    if (sep(c) != 0 || put(c, "\"", 1) != 0) return -1;
    for (i = 0; i < n; i++) {
        if ((s[i] == '"' || s[i] == '\\') && put(c, "\\", 1) != 0) return -1;
        if (put(c, s + i, 1) != 0) return -1;
    }
    return put(c, "\"", 1);
}

int imap_cmd_astring(imap_cmd *c, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!atom_char((unsigned char)s[i]) || s[i] == '%' || s[i] == '*' || s[i] == '[')
            break;
    if (n > 0 && i == n && !(n == 3 && (s[0] | 32) == 'n' && (s[1] | 32) == 'i'
                             && (s[2] | 32) == 'l'))
        return imap_cmd_atom(c, s, n);
    return imap_cmd_string(c, s, n);
}

int imap_cmd_mailbox(imap_cmd *c, const char *s, size_t n)
{
    mv_buf b;
    int r;
    if (c->failed) return -1;
    if (c->utf8) return imap_cmd_astring(c, s, n);
    mv_buf_init(&b);
    if (imap_utf7_encode(s, n, &b) != 0) {
        mv_buf_free(&b);
        return fail(c, MV_E_ARG, "mailbox name is not valid UTF-8");
    }
    r = imap_cmd_astring(c, (const char *)mv_buf_head(&b), mv_buf_avail(&b));
    mv_buf_free(&b);
    return r;
}

int imap_cmd_open(imap_cmd *c)
{
    if (sep(c) != 0) return -1;
    return put(c, "(", 1);
}

int imap_cmd_close(imap_cmd *c)
{
    return put(c, ")", 1);
}

void imap_cmd_mask(imap_cmd *c)
{
    /* from the next argument on, its separating space still shown */
    if (c->mask_from == (size_t)-1) c->mask_from = c->buf.len + (c->buf.len > 0);
}
