#include "imap_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_data_int.h"

struct imap_chunk {
    struct imap_chunk *next;
    size_t used, cap;
    /* max_align_t is C11: a union of the widest types stands in for it */
    union { long double d; void *p; uint64_t u; } data[1];
};

#define CHUNK_MIN 4096

void imap_arena_init(imap_arena *a)
{
    a->head = NULL;
}

void imap_arena_free(imap_arena *a)
{
    while (a->head != NULL) {
        struct imap_chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
}

void *imap_arena_alloc(imap_arena *a, size_t n)
{
    const size_t align = sizeof a->head->data[0];
    struct imap_chunk *c = a->head;
    void *p;
    if (n == 0) n = 1;
    if (n > (size_t)-1 / 2) return NULL;
    n = (n + align - 1) / align * align;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = malloc(sizeof *c + cap);
        if (c == NULL) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    p = (unsigned char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

int imap_copy_str(imap_arena *a, imap_str s, imap_str *out, mv_error *e)
{
    char *d;
    out->s = NULL;
    out->len = 0;
    if (s.s == NULL) return 0;
    d = imap_arena_alloc(a, s.len + 1);
    if (d == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    if (s.len > 0) memcpy(d, s.s, s.len);
    d[s.len] = '\0';
    out->s = d;
    out->len = s.len;
    return 0;
}

int imap_bad(mv_error *e, const char *what)
{
    return mv_fail(e, MV_E_PROTOCOL, "IMAP response: malformed %s", what);
}

/* A string value (atom, quoted or literal) or NIL as the NULL string. */
int imap_nstring(const imap_resp *r, size_t i, imap_arena *a, imap_str *out, mv_error *e)
{
    if (i >= r->count) return imap_bad(e, "value (missing)");
    if (r->nodes[i].type == IMAP_V_NIL) { out->s = NULL; out->len = 0; return 0; }
    if (r->nodes[i].type != IMAP_V_STRING && r->nodes[i].type != IMAP_V_ATOM)
        return imap_bad(e, "string");
    return imap_copy_str(a, imap_node_str(r, i), out, e);
}

int imap_parse_strs(const imap_resp *r, size_t i, imap_arena *a, imap_strs *out, mv_error *e)
{
    size_t k, j;
    out->n = 0;
    out->v = NULL;
    if (i >= r->count || r->nodes[i].type != IMAP_V_LIST) return imap_bad(e, "list");
    out->v = imap_arena_alloc(a, r->nodes[i].len * sizeof *out->v);
    if (out->v == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    for (k = 0, j = i + 1; j < r->nodes[i].end; j = imap_next(r, j), k++) {
        if (r->nodes[j].type != IMAP_V_ATOM && r->nodes[j].type != IMAP_V_STRING)
            return imap_bad(e, "list of words");
        if (imap_copy_str(a, imap_node_str(r, j), &out->v[k], e) != 0) return MV_ERROR;
    }
    out->n = k;
    return 0;
}

/* A mailbox name value: decoded from modified UTF-7 unless utf8. */
static int mailbox_name(const imap_resp *r, size_t i, int utf8, imap_arena *a, imap_str *raw,
                        imap_str *name, mv_error *e)
{
    mv_buf b;
    int rc;
    if (i >= r->count || (r->nodes[i].type != IMAP_V_ATOM && r->nodes[i].type != IMAP_V_STRING))
        return imap_bad(e, "mailbox name");
    if (imap_copy_str(a, imap_node_str(r, i), raw, e) != 0) return MV_ERROR;
    if (utf8) { *name = *raw; return 0; }
    mv_buf_init(&b);
    if (imap_utf7_decode(raw->s, raw->len, &b) != 0) {
        mv_buf_free(&b);
        /* a name that is not modified UTF-7 is shown as sent (RFC 3501 5.1.3 allows
         * servers nothing else, but old ones send raw 8-bit) */
        *name = *raw;
        return 0;
    }
    {
        imap_str s;
        s.s = (const char *)mv_buf_head(&b);
        s.len = mv_buf_avail(&b);
        if (s.s == NULL) s.s = "";
        rc = imap_copy_str(a, s, name, e);
    }
    mv_buf_free(&b);
    return rc;
}

static const char *special_use(const imap_strs *attrs)
{
    static const char *const map[][2] = {
        { "\\SENT", "sent" }, { "\\TRASH", "trash" }, { "\\DRAFTS", "drafts" },
        { "\\JUNK", "junk" }, { "\\ARCHIVE", "archive" }, { "\\ALL", "all" },
        { "\\FLAGGED", "flagged" }
    };
    size_t i, k;
    for (i = 0; i < attrs->n; i++)
        for (k = 0; k < sizeof map / sizeof map[0]; k++)
            if (imap_str_is(attrs->v[i], map[k][0])) return map[k][1];
    return NULL;
}

int imap_parse_list(const imap_resp *r, int utf8, imap_arena *a, imap_mailbox *out,
                    mv_error *e)
{
    size_t i = 0;
    imap_str d;
    memset(out, 0, sizeof *out);
    out->delim = -1;
    if (imap_parse_strs(r, i, a, &out->attrs, e) != 0) return MV_ERROR;
    i = imap_next(r, i);
    if (i >= r->count) return imap_bad(e, "LIST");
    if (r->nodes[i].type != IMAP_V_NIL) {
        d = imap_node_str(r, i);
        if (d.s == NULL || r->nodes[i].type != IMAP_V_STRING || d.len != 1)
            return imap_bad(e, "LIST delimiter");
        out->delim = (unsigned char)d.s[0];
    }
    i = imap_next(r, i);
    if (mailbox_name(r, i, utf8, a, &out->raw, &out->name, e) != 0) return MV_ERROR;
    out->special = special_use(&out->attrs);
    return 0;
}

int imap_parse_status(const imap_resp *r, int utf8, imap_arena *a, imap_status_data *out,
                      mv_error *e)
{
    static const struct { const char *name; unsigned bit; } items[] = {
        { "MESSAGES", IMAP_STA_MESSAGES }, { "RECENT", IMAP_STA_RECENT },
        { "UIDNEXT", IMAP_STA_UIDNEXT }, { "UIDVALIDITY", IMAP_STA_UIDVALIDITY },
        { "UNSEEN", IMAP_STA_UNSEEN }, { "DELETED", IMAP_STA_DELETED },
        { "SIZE", IMAP_STA_SIZE }, { "HIGHESTMODSEQ", IMAP_STA_HIGHESTMODSEQ }
    };
    size_t i, j, k;
    memset(out, 0, sizeof *out);
    if (mailbox_name(r, 0, utf8, a, &out->raw, &out->name, e) != 0) return MV_ERROR;
    i = imap_next(r, 0);
    if (i >= r->count || r->nodes[i].type != IMAP_V_LIST) return imap_bad(e, "STATUS");
    for (j = i + 1; j < r->nodes[i].end; j = imap_next(r, j)) {
        size_t v = imap_next(r, j);
        uint64_t x;
        if (v >= r->nodes[i].end || imap_node_number(r, v, IMAP_MAX_NUMBER, &x) != 0)
            return imap_bad(e, "STATUS item");
        for (k = 0; k < sizeof items / sizeof items[0]; k++) {
            if (!imap_node_is(r, j, items[k].name)) continue;
            out->has |= items[k].bit;
            switch (items[k].bit) {
            case IMAP_STA_MESSAGES: out->messages = x; break;
            case IMAP_STA_RECENT: out->recent = x; break;
            case IMAP_STA_UIDNEXT: out->uidnext = x; break;
            case IMAP_STA_UIDVALIDITY: out->uidvalidity = x; break;
            case IMAP_STA_UNSEEN: out->unseen = x; break;
            case IMAP_STA_DELETED: out->deleted = x; break;
            case IMAP_STA_SIZE: out->size = x; break;
            default: out->highestmodseq = x; break;
            }
        }
        j = v;      /* an unknown item is skipped with its number */
    }
    return 0;
}

int imap_parse_search(const imap_resp *r, imap_arena *a, imap_search *out, mv_error *e)
{
    size_t i, n = 0;
    memset(out, 0, sizeof *out);
    out->v = imap_arena_alloc(a, r->count * sizeof *out->v);
    if (out->v == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    for (i = 0; i < r->count; i = imap_next(r, i)) {
        uint64_t x;
        if (r->nodes[i].type == IMAP_V_LIST && imap_next(r, i) == r->count
            && r->nodes[i].len == 2 && imap_node_is(r, i + 1, "MODSEQ")
            && imap_node_number(r, i + 2, IMAP_MAX_NUMBER, &out->modseq) == 0) {
            out->has_modseq = 1;
            break;
        }
        if (imap_node_number(r, i, 0xffffffffu, &x) != 0 || x == 0)
            return imap_bad(e, "SEARCH number");
        out->v[n++] = (uint32_t)x;
    }
    out->n = n;
    return 0;
}

/* One number of a set: 1..2^32-1, or "*" when star is allowed. */
static int set_number(const char *s, size_t len, uint32_t *v)
{
    imap_str t;
    uint64_t x;
    if (len == 1 && s[0] == '*') { *v = 0xffffffffu; return 0; }
    t.s = s;
    t.len = len;
    if (imap_str_number(t, 0xffffffffu, &x) != 0 || x == 0) return -1;
    *v = (uint32_t)x;
    return 0;
}

int imap_parse_set(imap_str s, size_t max_ranges, imap_arena *a, imap_set *out, mv_error *e)
{
    size_t i = 0, n = 1, k = 0;
    memset(out, 0, sizeof *out);
    if (s.s == NULL || s.len == 0) return imap_bad(e, "sequence set");
    for (i = 0; i < s.len; i++) n += s.s[i] == ',';
    if (n > max_ranges)
        return mv_fail(e, MV_E_LIMIT, "IMAP response: sequence set of more than %zu ranges",
                       max_ranges);
    out->v = imap_arena_alloc(a, n * sizeof *out->v);
    if (out->v == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    for (i = 0; i <= s.len && k < n; k++) {
        size_t start = i, colon = (size_t)-1;
        uint32_t lo, hi;
        while (i < s.len && s.s[i] != ',') {
            if (s.s[i] == ':') {
                if (colon != (size_t)-1) return imap_bad(e, "sequence set");
                colon = i;
            }
            i++;
        }
        if (colon == (size_t)-1) {
            if (set_number(s.s + start, i - start, &lo) != 0) return imap_bad(e, "sequence set");
            hi = lo;
        } else if (set_number(s.s + start, colon - start, &lo) != 0
                   || set_number(s.s + colon + 1, i - colon - 1, &hi) != 0) {
            return imap_bad(e, "sequence set");
        }
        /* "a:b" is the same set as "b:a" (RFC 9051 9, seq-range) */
        out->v[k].lo = lo < hi ? lo : hi;
        out->v[k].hi = lo < hi ? hi : lo;
        i++;
    }
    out->n = k;
    return 0;
}

#define MAX_SET_RANGES 1000000

int imap_parse_esearch(const imap_resp *r, imap_arena *a, imap_esearch *out, mv_error *e)
{
    size_t i = 0;
    memset(out, 0, sizeof *out);
    if (i < r->count && r->nodes[i].type == IMAP_V_LIST) {
        if (r->nodes[i].len != 2 || !imap_node_is(r, i + 1, "TAG")
            || imap_nstring(r, i + 2, a, &out->tag, e) != 0 || out->tag.s == NULL)
            return imap_bad(e, "ESEARCH correlator");
        i = imap_next(r, i);
    }
    if (i < r->count && imap_node_is(r, i, "UID")) {
        out->uid = 1;
        i = imap_next(r, i);
    }
    while (i < r->count) {
        size_t v = imap_next(r, i);
        uint64_t x;
        if (v >= r->count) return imap_bad(e, "ESEARCH");
        if (imap_node_is(r, i, "MIN") || imap_node_is(r, i, "MAX")) {
            int min = imap_node_is(r, i, "MIN");
            if (imap_node_number(r, v, 0xffffffffu, &x) != 0 || x == 0)
                return imap_bad(e, "ESEARCH MIN/MAX");
            if (min) { out->min = (uint32_t)x; out->has |= IMAP_ES_MIN; }
            else { out->max = (uint32_t)x; out->has |= IMAP_ES_MAX; }
        } else if (imap_node_is(r, i, "COUNT")) {
            if (imap_node_number(r, v, 0xffffffffu, &out->count) != 0)
                return imap_bad(e, "ESEARCH COUNT");
            out->has |= IMAP_ES_COUNT;
        } else if (imap_node_is(r, i, "MODSEQ")) {
            if (imap_node_number(r, v, IMAP_MAX_NUMBER, &out->modseq) != 0)
                return imap_bad(e, "ESEARCH MODSEQ");
            out->has |= IMAP_ES_MODSEQ;
        } else if (imap_node_is(r, i, "ALL")) {
            if (r->nodes[v].type != IMAP_V_ATOM
                || imap_parse_set(imap_node_str(r, v), MAX_SET_RANGES, a, &out->all, e) != 0)
                return MV_ERROR;
            out->has |= IMAP_ES_ALL;
        }
        /* other return data (RFC 4731 search-ret-data-ext) is skipped with its value */
        i = imap_next(r, v);
    }
    return 0;
}

int imap_parse_code(const imap_resp *r, imap_arena *a, imap_code_data *out, mv_error *e)
{
    static const struct { const char *name; int kind; } codes[] = {
        { "ALERT", IMAP_CODE_ALERT }, { "TRYCREATE", IMAP_CODE_TRYCREATE },
        { "UIDVALIDITY", IMAP_CODE_UIDVALIDITY }, { "UIDNEXT", IMAP_CODE_UIDNEXT },
        { "UNSEEN", IMAP_CODE_UNSEEN }, { "HIGHESTMODSEQ", IMAP_CODE_HIGHESTMODSEQ },
        { "NOMODSEQ", IMAP_CODE_NOMODSEQ }, { "PERMANENTFLAGS", IMAP_CODE_PERMANENTFLAGS },
        { "CAPABILITY", IMAP_CODE_CAPABILITY }, { "COPYUID", IMAP_CODE_COPYUID },
        { "APPENDUID", IMAP_CODE_APPENDUID }, { "READ-ONLY", IMAP_CODE_READ_ONLY },
        { "READ-WRITE", IMAP_CODE_READ_WRITE }, { "CLOSED", IMAP_CODE_CLOSED },
        { "BADCHARSET", IMAP_CODE_BADCHARSET }, { "MODIFIED", IMAP_CODE_MODIFIED }
    };
    size_t k, i;
    uint64_t x;
    memset(out, 0, sizeof *out);
    if (r->code.s == NULL) return 0;
    if (imap_copy_str(a, r->code, &out->name, e) != 0) return MV_ERROR;
    for (k = 0; k < sizeof codes / sizeof codes[0]; k++)
        if (imap_str_is(r->code, codes[k].name)) out->kind = codes[k].kind;
    switch (out->kind) {
    case IMAP_CODE_UIDVALIDITY:
        if (imap_node_number(r, 0, 0xffffffffu, &x) != 0 || x == 0) break;
        out->uidvalidity = (uint32_t)x;
        return 0;
    case IMAP_CODE_UIDNEXT: case IMAP_CODE_UNSEEN: case IMAP_CODE_HIGHESTMODSEQ:
        if (imap_node_number(r, 0, out->kind == IMAP_CODE_HIGHESTMODSEQ ? IMAP_MAX_NUMBER
                             : 0xffffffffu, &out->number) != 0)
            break;
        return 0;
    case IMAP_CODE_PERMANENTFLAGS: case IMAP_CODE_BADCHARSET:
        if (r->count == 0 && out->kind == IMAP_CODE_BADCHARSET) return 0;
        if (imap_parse_strs(r, 0, a, &out->list, e) != 0) return MV_ERROR;
        return 0;
    case IMAP_CODE_CAPABILITY:
        out->list.v = imap_arena_alloc(a, r->count * sizeof *out->list.v);
        if (out->list.v == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
        for (i = 0; i < r->count; i = imap_next(r, i)) {
            if (r->nodes[i].type != IMAP_V_ATOM) return imap_bad(e, "CAPABILITY code");
            if (imap_copy_str(a, imap_node_str(r, i), &out->list.v[out->list.n++], e) != 0)
                return MV_ERROR;
        }
        return 0;
    case IMAP_CODE_COPYUID: case IMAP_CODE_APPENDUID:
        if (imap_node_number(r, 0, 0xffffffffu, &x) != 0 || x == 0) break;
        out->uidvalidity = (uint32_t)x;
        i = imap_next(r, 0);
        if (out->kind == IMAP_CODE_COPYUID) {
            if (i >= r->count || r->nodes[i].type != IMAP_V_ATOM
                || imap_parse_set(imap_node_str(r, i), MAX_SET_RANGES, a, &out->src, e) != 0)
                break;
            i = imap_next(r, i);
        }
        if (i >= r->count || r->nodes[i].type != IMAP_V_ATOM
            || imap_parse_set(imap_node_str(r, i), MAX_SET_RANGES, a, &out->dst, e) != 0
            || imap_next(r, i) != r->count)
            break;
        return 0;
    case IMAP_CODE_MODIFIED:
        if (r->count == 0 || r->nodes[0].type != IMAP_V_ATOM
            || imap_parse_set(imap_node_str(r, 0), MAX_SET_RANGES, a, &out->src, e) != 0)
            break;
        return 0;
    default:
        return 0;
    }
    return e->kind == MV_E_LIMIT || e->kind == MV_E_MEMORY ? MV_ERROR
                                                           : imap_bad(e, "response code");
}

int imap_parse_date_time(imap_str s, int64_t *t)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4];
    int d, y, hh, mm, ss, zone, m, n = 0;
    char sign;
    int64_t days;
    const char *p = s.s;
    /* the day is " 1" or "01" (RFC 9051 date-day-fixed); "1" is taken too */
    if (p == NULL || s.len < 25 || s.len > 26) return -1;
    {
        char buf[32];
        memcpy(buf, p, s.len);
        buf[s.len] = '\0';
        if (sscanf(buf, "%2d-%3c-%4d %2d:%2d:%2d %c%4d%n", &d, mon, &y, &hh, &mm, &ss, &sign,
                   &zone, &n) != 8 || (size_t)n != s.len)
            return -1;
    }
    mon[3] = '\0';
    {
        const char *f = strstr(months, mon);
        if (f == NULL || (f - months) % 3 != 0) return -1;
        m = (int)(f - months) / 3 + 1;
    }
    if (d < 1 || d > 31 || y < 1900 || y > 9999 || hh > 23 || mm > 59 || ss > 60
        || hh < 0 || mm < 0 || ss < 0 || (sign != '+' && sign != '-') || zone < 0
        || zone % 100 > 59)
        return -1;
    /* days from civil (Howard Hinnant's algorithm) */
    {
        int yy = y - (m <= 2);
        int era = yy / 400;
        int yoe = yy - era * 400;
        int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        days = (int64_t)era * 146097 + doe - 719468;
    }
    *t = days * 86400 + hh * 3600 + mm * 60 + ss
         - (sign == '+' ? 1 : -1) * ((zone / 100) * 3600 + (zone % 100) * 60);
    return 0;
}

/* "BODY[1.2]<0>" and kin: name, section and origin. */
static int fetch_section(imap_str item, imap_arena *a, imap_section *sec, mv_error *e)
{
    const char *lb = memchr(item.s, '[', item.len), *rb;
    imap_str t;
    if (lb == NULL) return imap_bad(e, "FETCH section");
    rb = memchr(lb, ']', item.len - (size_t)(lb - item.s));
    if (rb == NULL) return imap_bad(e, "FETCH section");
    t.s = item.s;
    t.len = (size_t)(lb - item.s);
    if (imap_copy_str(a, t, &sec->name, e) != 0) return MV_ERROR;
    t.s = lb + 1;
    t.len = (size_t)(rb - lb - 1);
    if (imap_copy_str(a, t, &sec->section, e) != 0) return MV_ERROR;
    t.s = rb + 1;
    t.len = item.len - (size_t)(rb + 1 - item.s);
    if (t.len > 0) {
        if (t.len < 3 || t.s[0] != '<' || t.s[t.len - 1] != '>') return imap_bad(e, "FETCH origin");
        t.s++;
        t.len -= 2;
        if (imap_str_number(t, IMAP_MAX_NUMBER, &sec->origin) != 0)
            return imap_bad(e, "FETCH origin");
        sec->has_origin = 1;
    }
    return imap_copy_str(a, item, &sec->item, e);
}

int imap_parse_fetch(const imap_resp *r, imap_arena *a, imap_fetch *out, mv_error *e)
{
    size_t i, n = 0;
    memset(out, 0, sizeof *out);
    out->envelope = out->body = (size_t)-1;
    if (!r->has_number || r->number == 0 || r->number > 0xffffffffu)
        return imap_bad(e, "FETCH number");
    out->seq = (uint32_t)r->number;
    if (r->count == 0 || r->nodes[0].type != IMAP_V_LIST || imap_next(r, 0) != r->count)
        return imap_bad(e, "FETCH");
    out->sections = imap_arena_alloc(a, (r->nodes[0].len / 2 + 1) * sizeof *out->sections);
    if (out->sections == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    for (i = 1; i < r->count; i = imap_next(r, i)) {
        size_t v = imap_next(r, i);
        imap_str key = imap_node_str(r, i);
        uint64_t x;
        if (r->nodes[i].type != IMAP_V_ATOM || v >= r->count) return imap_bad(e, "FETCH item");
        if (imap_str_is(key, "UID")) {
            if (imap_node_number(r, v, 0xffffffffu, &x) != 0 || x == 0)
                return imap_bad(e, "FETCH UID");
            out->uid = (uint32_t)x;
            out->has |= IMAP_F_UID;
        } else if (imap_str_is(key, "FLAGS")) {
            if (imap_parse_strs(r, v, a, &out->flags, e) != 0) return MV_ERROR;
            out->has |= IMAP_F_FLAGS;
        } else if (imap_str_is(key, "RFC822.SIZE")) {
            if (imap_node_number(r, v, IMAP_MAX_NUMBER, &out->size) != 0)
                return imap_bad(e, "FETCH RFC822.SIZE");
            out->has |= IMAP_F_SIZE;
        } else if (imap_str_is(key, "MODSEQ")) {
            if (r->nodes[v].type != IMAP_V_LIST || r->nodes[v].len != 1
                || imap_node_number(r, v + 1, IMAP_MAX_NUMBER, &out->modseq) != 0)
                return imap_bad(e, "FETCH MODSEQ");
            out->has |= IMAP_F_MODSEQ;
        } else if (imap_str_is(key, "INTERNALDATE")) {
            if (r->nodes[v].type != IMAP_V_STRING
                || imap_copy_str(a, imap_node_str(r, v), &out->internaldate, e) != 0)
                return imap_bad(e, "FETCH INTERNALDATE");
            out->has |= IMAP_F_INTERNALDATE;
        } else if (imap_str_is(key, "ENVELOPE")) {
            if (r->nodes[v].type != IMAP_V_LIST) return imap_bad(e, "FETCH ENVELOPE");
            out->envelope = v;
            out->has |= IMAP_F_ENVELOPE;
        } else if (imap_str_is(key, "BODYSTRUCTURE") || imap_str_is(key, "BODY")) {
            if (r->nodes[v].type != IMAP_V_LIST) return imap_bad(e, "FETCH BODYSTRUCTURE");
            out->body = v;
            out->has |= IMAP_F_BODYSTRUCTURE;
        } else if (memchr(key.s, '[', key.len) != NULL) {
            imap_section *sec = &out->sections[n];
            if (fetch_section(key, a, sec, e) != 0) return MV_ERROR;
            if (r->nodes[v].type != IMAP_V_STRING && r->nodes[v].type != IMAP_V_NIL
                && r->nodes[v].type != IMAP_V_STREAMED && r->nodes[v].type != IMAP_V_ATOM)
                return imap_bad(e, "FETCH section value");
            sec->node = v;
            n++;
        } else if (imap_str_is(key, "RFC822") || imap_str_is(key, "RFC822.HEADER")
                   || imap_str_is(key, "RFC822.TEXT")) {
            imap_section *sec = &out->sections[n];
            if (imap_copy_str(a, key, &sec->item, e) != 0) return MV_ERROR;
            sec->name = sec->item;
            sec->node = v;
            n++;
        }
        /* other items (X-GM-*, SNIPPET, PREVIEW, SAVEDATE...) are skipped */
        i = v;
    }
    out->nsections = n;
    return 0;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

int imap_uid_sets(const uint32_t *uids, size_t n, size_t max_len, imap_arena *a,
                  imap_strs *out, mv_error *e)
{
    uint32_t *v;
    size_t i, m = 0, nsets = 0, cap;
    char *cur;
    size_t curlen = 0;
    memset(out, 0, sizeof *out);
    /* one range is at most "4294967295:4294967295" */
    if (max_len < 21) return mv_fail(e, MV_E_ARG, "UID set length below 21 bytes");
    if (n > (size_t)-1 / sizeof *v) return mv_fail(e, MV_E_MEMORY, "out of memory");
    v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    for (i = 0; i < n; i++) if (uids[i] != 0) v[m++] = uids[i];
    qsort(v, m, sizeof *v, cmp_u32);
    /* at most one set per range, and no more ranges than UIDs */
    cap = m + 1;
    out->v = imap_arena_alloc(a, cap * sizeof *out->v);
    cur = imap_arena_alloc(a, max_len + 1);
    if (out->v == NULL || cur == NULL) { free(v); return mv_fail(e, MV_E_MEMORY, "out of memory"); }
    for (i = 0; i < m;) {
        uint32_t lo = v[i], hi = v[i];
        char piece[24];
        int len;
        while (i < m && (v[i] == hi || v[i] == hi + 1)) hi = v[i++];
        len = lo == hi ? snprintf(piece, sizeof piece, "%lu", (unsigned long)lo)
                       : snprintf(piece, sizeof piece, "%lu:%lu", (unsigned long)lo,
                                  (unsigned long)hi);
        if (curlen > 0 && curlen + 1 + (size_t)len > max_len) {
            out->v[nsets].s = cur;
            out->v[nsets++].len = curlen;
            cur = imap_arena_alloc(a, max_len + 1);
            if (cur == NULL) { free(v); return mv_fail(e, MV_E_MEMORY, "out of memory"); }
            curlen = 0;
        }
        if (curlen > 0) cur[curlen++] = ',';
        memcpy(cur + curlen, piece, (size_t)len + 1);
        curlen += (size_t)len;
    }
    if (curlen > 0) {
        out->v[nsets].s = cur;
        out->v[nsets++].len = curlen;
    }
    out->n = nsets;
    free(v);
    return 0;
}
