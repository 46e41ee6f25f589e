/* Untagged responses to the command that collects them (imap_route.h). */
#include "imap_route.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void imap_route_free(imap_route *rt)
{
    free(rt->v);
    memset(rt, 0, sizeof *rt);
}

/* The next space-separated word of cmd from *pos, moved past it. */
static size_t word(const unsigned char *cmd, size_t len, size_t *pos, const char **w)
{
    size_t b = *pos, n;
    while (b < len && cmd[b] == ' ') b++;
    n = b;
    while (n < len && cmd[n] != ' ') n++;
    *w = (const char *)cmd + b;
    *pos = n;
    return n - b;
}

static int is(const char *w, size_t n, const char *verb)
{
    return strlen(verb) == n && strncasecmp(w, verb, n) == 0;
}

static int number(const char *s, size_t n, uint32_t *v)
{
    uint64_t x = 0;
    size_t i;
    if (n == 0 || n > 10) return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (x == 0 || x > 0xffffffffu) return -1;
    *v = (uint32_t)x;
    return 0;
}

static int range_cmp(const void *a, const void *b)
{
    const imap_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorted by their start and merged where they overlap or touch, so that a UID is found
 * by binary search: a response is matched in O(log n), not O(n), which a pipelined
 * fetch of 10^5 scattered UIDs (13 commands of ~1,300 ranges each) would pay per
 * response and per command ahead of its own. */
static void normalise(imap_route *rt)
{
    size_t i, k = 0;
    if (rt->n < 2) return;
    qsort(rt->v, rt->n, sizeof *rt->v, range_cmp);
    for (i = 1; i < rt->n; i++) {
        if ((uint64_t)rt->v[i].lo <= (uint64_t)rt->v[k].hi + 1) {
            if (rt->v[i].hi > rt->v[k].hi) rt->v[k].hi = rt->v[i].hi;
        } else {
            rt->v[++k] = rt->v[i];
        }
    }
    rt->n = k + 1;
}

static int in_ranges(const imap_route *rt, uint32_t uid)
{
    size_t lo = 0, hi = rt->n;
    while (lo < hi) {                   /* the first range that does not end before uid */
        size_t mid = lo + (hi - lo) / 2;
        if (rt->v[mid].hi < uid) lo = mid + 1;
        else hi = mid;
    }
    return lo < rt->n && rt->v[lo].lo <= uid;
}

/* The UID set of UID FETCH as ranges; "*" (or a set this cannot read) takes any UID. */
static int uid_set(imap_route *rt, const char *s, size_t len, mv_error *e)
{
    size_t i, n = 1, at = 0;
    for (i = 0; i < len; i++) {
        if (s[i] == ',') n++;
        if (s[i] == '*') {
            rt->any_uid = 1;
            return 0;
        }
    }
    if ((rt->v = malloc(n * sizeof *rt->v)) == NULL)
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    while (at < len) {
        size_t end = at, colon;
        uint32_t lo, hi;
        while (end < len && s[end] != ',') end++;
        colon = at;
        while (colon < end && s[colon] != ':') colon++;
        if (number(s + at, colon - at, &lo) != 0
            || (colon < end ? number(s + colon + 1, end - colon - 1, &hi) : (hi = lo, 0)) != 0) {
            free(rt->v);
            rt->v = NULL;
            rt->n = 0;
            rt->any_uid = 1;
            return 0;
        }
        rt->v[rt->n].lo = lo < hi ? lo : hi;
        rt->v[rt->n].hi = lo < hi ? hi : lo;
        rt->n++;
        at = end + 1;
    }
    normalise(rt);
    return 0;
}

int imap_route_set(imap_route *rt, const unsigned char *cmd, size_t len, mv_error *e)
{
    const char *w;
    size_t pos = 0, n;
    int uid;
    imap_route_free(rt);
    n = word(cmd, len, &pos, &w);
    uid = is(w, n, "UID");
    if (uid) n = word(cmd, len, &pos, &w);
    if (is(w, n, "SEARCH")) rt->collects = IMAP_COLLECT_SEARCH;
    else if (is(w, n, "COPY") || is(w, n, "MOVE")) rt->collects = IMAP_COLLECT_COPYUID;
    else if (uid && is(w, n, "FETCH")) {
        rt->collects = IMAP_COLLECT_FETCH;
        n = word(cmd, len, &pos, &w);
        return uid_set(rt, w, n, e);
    } else if (uid) rt->collects = 0;
    else if (is(w, n, "SELECT") || is(w, n, "EXAMINE")) rt->collects = IMAP_COLLECT_SELECT;
    else if (is(w, n, "LIST")) rt->collects = IMAP_COLLECT_LIST;
    else if (is(w, n, "STATUS")) rt->collects = IMAP_COLLECT_STATUS;
    else if (is(w, n, "ID")) rt->collects = IMAP_COLLECT_ID;
    return 0;
}

/* The UID a FETCH response carries ("* 5 FETCH (UID 12 FLAGS ())"), or 0. */
static uint32_t fetch_uid(const imap_resp *r)
{
    size_t i;
    uint64_t x;
    if (r->count == 0 || r->nodes[0].type != IMAP_V_LIST) return 0;
    for (i = 1; i < r->count && imap_next(r, i) < r->count; i = imap_next(r, imap_next(r, i)))
        if (r->nodes[i].type == IMAP_V_ATOM && imap_node_is(r, i, "UID"))
            return imap_node_number(r, imap_next(r, i), 0xffffffffu, &x) == 0 ? (uint32_t)x : 0;
    return 0;
}

static int code_is_select(imap_str code)
{
    return imap_str_is(code, "UIDVALIDITY") || imap_str_is(code, "UIDNEXT")
           || imap_str_is(code, "HIGHESTMODSEQ") || imap_str_is(code, "UNSEEN")
           || imap_str_is(code, "PERMANENTFLAGS");
}

int imap_route_collects(const imap_route *rt, const imap_resp *r)
{
    uint32_t uid;
    if (rt->collects == 0 || r->kind != IMAP_UNTAGGED) return 0;
    if (r->status != IMAP_DATA) {
        if (r->code.s == NULL) return 0;
        if (rt->collects & IMAP_COLLECT_SELECT) return code_is_select(r->code);
        if (rt->collects & IMAP_COLLECT_COPYUID) return imap_str_is(r->code, "COPYUID");
        return 0;
    }
    switch (rt->collects) {
    case IMAP_COLLECT_SELECT:
        return imap_str_is(r->name, "EXISTS") || imap_str_is(r->name, "RECENT")
               || imap_str_is(r->name, "FLAGS");
    case IMAP_COLLECT_LIST: return imap_str_is(r->name, "LIST");
    case IMAP_COLLECT_STATUS: return imap_str_is(r->name, "STATUS");
    case IMAP_COLLECT_SEARCH:
        return imap_str_is(r->name, "SEARCH") || imap_str_is(r->name, "ESEARCH");
    case IMAP_COLLECT_ID: return imap_str_is(r->name, "ID");
    case IMAP_COLLECT_FETCH:
        if (!imap_str_is(r->name, "FETCH") || (uid = fetch_uid(r)) == 0) return 0;
        return rt->any_uid || in_ranges(rt, uid);
    default: return 0;
    }
}
