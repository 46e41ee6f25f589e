/* The SEARCH criteria compiler: vocabulary, value checks, dates, nesting (imap_search.h). */
#include "imap_search.h"
#include "imap_data.h"

#include <stdio.h>
#include <string.h>

typedef struct search_word {
    const char *name, *key;
    int kind;
} search_word;

static const search_word words[] = {
    { "seen", "SEEN", IMAP_SK_FLAG }, { "unseen", "UNSEEN", IMAP_SK_FLAG },
    { "flagged", "FLAGGED", IMAP_SK_FLAG }, { "unflagged", "UNFLAGGED", IMAP_SK_FLAG },
    { "answered", "ANSWERED", IMAP_SK_FLAG }, { "unanswered", "UNANSWERED", IMAP_SK_FLAG },
    { "deleted", "DELETED", IMAP_SK_FLAG }, { "undeleted", "UNDELETED", IMAP_SK_FLAG },
    { "draft", "DRAFT", IMAP_SK_FLAG }, { "undraft", "UNDRAFT", IMAP_SK_FLAG },
    { "all", "ALL", IMAP_SK_FLAG }, { "new", "NEW", IMAP_SK_FLAG },
    { "old", "OLD", IMAP_SK_FLAG }, { "recent", "RECENT", IMAP_SK_FLAG },
    { "from", "FROM", IMAP_SK_STRING }, { "to", "TO", IMAP_SK_STRING },
    { "cc", "CC", IMAP_SK_STRING }, { "bcc", "BCC", IMAP_SK_STRING },
    { "subject", "SUBJECT", IMAP_SK_STRING }, { "body", "BODY", IMAP_SK_STRING },
    { "text", "TEXT", IMAP_SK_STRING },
    { "since", "SINCE", IMAP_SK_DATE }, { "before", "BEFORE", IMAP_SK_DATE },
    { "on", "ON", IMAP_SK_DATE }, { "sent_since", "SENTSINCE", IMAP_SK_DATE },
    { "sent_before", "SENTBEFORE", IMAP_SK_DATE }, { "sent_on", "SENTON", IMAP_SK_DATE },
    { "larger", "LARGER", IMAP_SK_SIZE }, { "smaller", "SMALLER", IMAP_SK_SIZE },
    { "header", "HEADER", IMAP_SK_HEADER },
    { "keyword", "KEYWORD", IMAP_SK_KEYWORD }, { "unkeyword", "UNKEYWORD", IMAP_SK_KEYWORD },
    { "uid", "UID", IMAP_SK_UID },
    { "not", "NOT", IMAP_SK_NOT }, { "or", "OR", IMAP_SK_OR },
};

/* Longest UID set in one search (Exchange answers BAD to commands near 40 KB). */
#define MAX_SET_LEN 8000

static const search_word *lookup(const char *name, size_t n)
{
    size_t i;
    for (i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i].name) == n && memcmp(words[i].name, name, n) == 0) return &words[i];
    return NULL;
}

int imap_search_kind(const char *name, size_t n)
{
    const search_word *w = lookup(name, n);
    return w ? w->kind : IMAP_SK_UNKNOWN;
}

void imap_search_init(imap_search_q *q)
{
    memset(q, 0, sizeof *q);
    mv_buf_init(&q->toks);
}

void imap_search_free(imap_search_q *q)
{
    mv_buf_wipe(&q->toks);
    mv_buf_free(&q->toks);
}

int imap_search_fail(imap_search_q *q, mv_kind kind, const char *fmt, const char *name)
{
    if (!q->failed) mv_fail(&q->err, kind, fmt, name);
    q->failed = 1;
    return -1;
}

static int tok(imap_search_q *q, char type, const char *s, size_t n)
{
    unsigned char head[5];
    if (q->failed) return -1;
    if (n > 0xffffffffu) return imap_search_fail(q, MV_E_LIMIT, "%s", "search string too long");
    head[0] = (unsigned char)type;
    head[1] = (unsigned char)(n >> 24);
    head[2] = (unsigned char)(n >> 16);
    head[3] = (unsigned char)(n >> 8);
    head[4] = (unsigned char)n;
    if (mv_buf_append(&q->toks, head, 5) != 0 || mv_buf_append(&q->toks, s, n) != 0)
        return imap_search_fail(q, MV_E_MEMORY, "%s", "out of memory");
    return 0;
}

static int atom(imap_search_q *q, const char *s) { return tok(q, 'a', s, strlen(s)); }

/* A key word: counted against the cap. */
static int key(imap_search_q *q, const char *s)
{
    if (q->failed) return -1;
    if (++q->nkeys > IMAP_SEARCH_MAX_KEYS)
        return imap_search_fail(q, MV_E_LIMIT, "%s", "too many search keys in one command");
    return atom(q, s);
}

static const search_word *word_of(imap_search_q *q, const char *name, size_t n, int kind)
{
    const search_word *w = lookup(name, n);
    if (q->failed) return NULL;
    if (w == NULL || w->kind != kind) {
        char b[64];
        snprintf(b, sizeof b, "%.*s", (int)(n < 40 ? n : 40), name);
        imap_search_fail(q, MV_E_ARG, "unknown search key '%s'", b);
        return NULL;
    }
    return w;
}

static int string_arg(imap_search_q *q, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) q->utf8 = 1;
    return tok(q, 's', s, n);
}

int imap_search_open(imap_search_q *q, int paren)
{
    if (q->failed) return -1;
    if (q->depth >= IMAP_SEARCH_MAX_DEPTH)
        return imap_search_fail(q, MV_E_LIMIT, "%s", "search criteria nested too deep");
    if (paren && tok(q, '(', "", 0) != 0) return -1;
    q->group_at[q->depth++] = q->toks.len;
    return 0;
}

int imap_search_close(imap_search_q *q, int paren)
{
    if (q->failed) return -1;
    if (q->depth == 0) return imap_search_fail(q, MV_E_ARG, "%s", "unbalanced search groups");
    if (q->toks.len == q->group_at[--q->depth] && key(q, "ALL") != 0) return -1;
    return paren ? tok(q, ')', "", 0) : 0;
}

int imap_search_flag(imap_search_q *q, const char *name, size_t n, int on)
{
    const search_word *w = word_of(q, name, n, IMAP_SK_FLAG);
    if (w == NULL) return -1;
    return on ? key(q, w->key) : 0;
}

int imap_search_string(imap_search_q *q, const char *name, size_t n, const char *v,
                       size_t vn)
{
    const search_word *w = word_of(q, name, n, IMAP_SK_STRING);
    if (w == NULL || key(q, w->key) != 0) return -1;
    return string_arg(q, v, vn);
}

int imap_search_format_date(char *out, size_t cap, long y, long m, long d)
{
    static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31) return -1;
    snprintf(out, cap, "%ld-%.3s-%ld", d, mons + 3 * (m - 1), y);
    return 0;
}

int imap_search_date(imap_search_q *q, const char *name, size_t n, long y, long m, long d)
{
    char b[24];
    const search_word *w = word_of(q, name, n, IMAP_SK_DATE);
    if (w == NULL) return -1;
    if (imap_search_format_date(b, sizeof b, y, m, d) != 0)
        return imap_search_fail(q, MV_E_ARG, "bad date for search '%s' (YYYY-MM-DD, seconds "
                                "or {year, month, day})", w->name);
    if (key(q, w->key) != 0) return -1;
    return atom(q, b);
}

static int digits(const char *s, size_t n, long *out)
{
    size_t i;
    long v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int imap_search_date_text(imap_search_q *q, const char *name, size_t n, const char *v,
                          size_t vn)
{
    long y = 0, m = 0, d = 0;
    if (vn != 10 || v[4] != '-' || v[7] != '-' || digits(v, 4, &y) != 0
        || digits(v + 5, 2, &m) != 0 || digits(v + 8, 2, &d) != 0)
        y = 0;   /* refused below, with the key's name */
    return imap_search_date(q, name, n, y, m, d);
}

int imap_search_date_time(imap_search_q *q, const char *name, size_t n, double seconds)
{
    /* civil from days (Howard Hinnant's algorithm), the UTC day of the instant */
    long long days, z, era, doe, yoe, y, doy, mp, d, m;
    if (!(seconds >= -62135596800.0 && seconds < 253402300800.0))
        return imap_search_date(q, name, n, 0, 0, 0);
    days = (long long)(seconds / 86400.0);
    if ((double)days * 86400.0 > seconds) days--;
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    return imap_search_date(q, name, n, (long)(y + (m <= 2)), (long)m, (long)d);
}

int imap_search_size(imap_search_q *q, const char *name, size_t n, double bytes)
{
    char b[32];
    const search_word *w = word_of(q, name, n, IMAP_SK_SIZE);
    if (w == NULL) return -1;
    /* RFC 9051 number64 */
    if (!(bytes >= 0 && bytes <= 9007199254740991.0) || bytes != (double)(long long)bytes)
        return imap_search_fail(q, MV_E_ARG, "search '%s' expects a size in bytes", w->name);
    snprintf(b, sizeof b, "%lld", (long long)bytes);
    if (key(q, w->key) != 0) return -1;
    return atom(q, b);
}

int imap_search_header(imap_search_q *q, const char *field, size_t fn, const char *v,
                       size_t vn)
{
    if (key(q, "HEADER") != 0 || string_arg(q, field, fn) != 0) return -1;
    return string_arg(q, v, vn);
}

int imap_search_keyword(imap_search_q *q, const char *name, size_t n, const char *kw,
                        size_t kn)
{
    const search_word *w = word_of(q, name, n, IMAP_SK_KEYWORD);
    if (w == NULL) return -1;
    if (!imap_atom_ok(kw, kn) || memchr(kw, '[', kn) != NULL || kw[0] == '\\')
        return imap_search_fail(q, MV_E_ARG, "search '%s' expects a keyword (an atom)", w->name);
    if (key(q, w->key) != 0) return -1;
    return tok(q, 'a', kw, kn);
}

int imap_search_uid_text(imap_search_q *q, const char *set, size_t n)
{
    size_t i;
    if (q->failed) return -1;
    for (i = 0; i < n; i++)
        if (!((set[i] >= '0' && set[i] <= '9') || set[i] == ':' || set[i] == ','
              || set[i] == '*')) break;
    if (n == 0 || i < n || n > MAX_SET_LEN)
        return imap_search_fail(q, MV_E_ARG, "%s", "bad UID set in search 'uid'");
    if (key(q, "UID") != 0) return -1;
    return tok(q, 'a', set, n);
}

int imap_search_uids(imap_search_q *q, const uint32_t *uids, size_t n)
{
    imap_arena a;
    imap_strs sets;
    int r;
    if (q->failed) return -1;
    if (n == 0) return imap_search_fail(q, MV_E_ARG, "%s", "search 'uid' expects UIDs");
    imap_arena_init(&a);
    if (imap_uid_sets(uids, n, MAX_SET_LEN, &a, &sets, &q->err) != 0) {
        q->failed = 1;
        imap_arena_free(&a);
        return -1;
    }
    if (sets.n != 1) {
        r = imap_search_fail(q, MV_E_LIMIT, "%s", "too many UID ranges for one search");
    } else {
        r = key(q, "UID");
        if (r == 0) r = tok(q, 'a', sets.v[0].s, sets.v[0].len);
    }
    imap_arena_free(&a);
    return r;
}

int imap_search_op(imap_search_q *q, const char *name, size_t n)
{
    const search_word *w = lookup(name, n);
    if (q->failed) return -1;
    if (w == NULL || (w->kind != IMAP_SK_NOT && w->kind != IMAP_SK_OR)) {
        word_of(q, name, n, IMAP_SK_NOT);   /* the failure, with the name */
        return -1;
    }
    return key(q, w->key);
}

int imap_search_emit(imap_search_q *q, imap_cmd *c, int esearch)
{
    size_t i = 0;
    const unsigned char *t;
    if (q->failed) return -1;
    if (q->depth != 0) return imap_search_fail(q, MV_E_ARG, "%s", "unbalanced search groups");
    if (q->toks.len == 0 && key(q, "ALL") != 0) return -1;
    imap_cmd_atom(c, "UID", 3);
    imap_cmd_atom(c, "SEARCH", 6);
    if (esearch) {
        imap_cmd_atom(c, "RETURN", 6);
        imap_cmd_open(c);
        imap_cmd_atom(c, "ALL", 3);
        imap_cmd_close(c);
    }
    /* RFC 6855 §3: no charset once UTF8=ACCEPT is enabled (strings are UTF-8 then) */
    if (q->utf8 && !c->utf8) {
        imap_cmd_atom(c, "CHARSET", 7);
        imap_cmd_atom(c, "UTF-8", 5);
    }
    t = (const unsigned char *)q->toks.data;
    while (i < q->toks.len) {
        size_t n = ((size_t)t[i + 1] << 24) | ((size_t)t[i + 2] << 16)
                   | ((size_t)t[i + 3] << 8) | t[i + 4];
        const char *s = (const char *)t + i + 5;
        switch (t[i]) {
        case 'a': imap_cmd_atom(c, s, n); break;
        case 's': imap_cmd_string(c, s, n); break;
        case '(': imap_cmd_open(c); break;
        default: imap_cmd_close(c); break;
        }
        i += 5 + n;
    }
    if (c->failed) {
        q->err = c->err;
        q->failed = 1;
        return -1;
    }
    return 0;
}
