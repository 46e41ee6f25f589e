/* ENVELOPE and BODYSTRUCTURE (RFC 9051 7.5.2, formal syntax in section 9). */
#include "imap_data.h"

#include <stdio.h>
#include <string.h>

#include "imap_data_int.h"

static int addr_list(const imap_resp *r, size_t i, imap_arena *a, imap_addrs *out,
                     mv_error *e)
{
    size_t j, k = 0;
    out->n = 0;
    out->v = NULL;
    if (i >= r->count) return imap_bad(e, "address list");
    if (r->nodes[i].type == IMAP_V_NIL) return 0;
    if (r->nodes[i].type != IMAP_V_LIST) return imap_bad(e, "address list");
    out->v = imap_arena_alloc(a, r->nodes[i].len * sizeof *out->v);
    if (out->v == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    for (j = i + 1; j < r->nodes[i].end; j = imap_next(r, j), k++) {
        imap_addr *ad = &out->v[k];
        size_t f = j + 1;
        if (r->nodes[j].type != IMAP_V_LIST || r->nodes[j].len != 4) return imap_bad(e, "address");
        if (imap_nstring(r, f, a, &ad->name, e) != 0) return MV_ERROR;
        f = imap_next(r, f);
        if (imap_nstring(r, f, a, &ad->adl, e) != 0) return MV_ERROR;
        f = imap_next(r, f);
        if (imap_nstring(r, f, a, &ad->mailbox, e) != 0) return MV_ERROR;
        f = imap_next(r, f);
        if (imap_nstring(r, f, a, &ad->host, e) != 0) return MV_ERROR;
    }
    out->n = k;
    return 0;
}

int imap_parse_envelope(const imap_resp *r, size_t i, imap_arena *a, imap_envelope *out,
                        mv_error *e)
{
    imap_addrs *lists[6];
    size_t j, k;
    memset(out, 0, sizeof *out);
    lists[0] = &out->from; lists[1] = &out->sender; lists[2] = &out->reply_to;
    lists[3] = &out->to; lists[4] = &out->cc; lists[5] = &out->bcc;
    if (i >= r->count || r->nodes[i].type != IMAP_V_LIST || r->nodes[i].len < 10)
        return imap_bad(e, "ENVELOPE");
    j = i + 1;
    if (imap_nstring(r, j, a, &out->date, e) != 0) return MV_ERROR;
    j = imap_next(r, j);
    if (imap_nstring(r, j, a, &out->subject, e) != 0) return MV_ERROR;
    for (k = 0; k < 6; k++) {
        j = imap_next(r, j);
        if (addr_list(r, j, a, lists[k], e) != 0) return MV_ERROR;
    }
    j = imap_next(r, j);
    if (imap_nstring(r, j, a, &out->in_reply_to, e) != 0) return MV_ERROR;
    j = imap_next(r, j);
    return imap_nstring(r, j, a, &out->message_id, e);
}

/* body-fld-param: NIL or ("name" "value" ...). */
static int params(const imap_resp *r, size_t i, imap_arena *a, imap_param **out, size_t *n,
                  mv_error *e)
{
    size_t j, k = 0;
    *out = NULL;
    *n = 0;
    if (i >= r->count) return imap_bad(e, "body parameters");
    if (r->nodes[i].type == IMAP_V_NIL) return 0;
    if (r->nodes[i].type != IMAP_V_LIST || r->nodes[i].len % 2 != 0)
        return imap_bad(e, "body parameters");
    *out = imap_arena_alloc(a, (r->nodes[i].len / 2 + 1) * sizeof **out);
    if (*out == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    for (j = i + 1; j < r->nodes[i].end; k++) {
        if (imap_nstring(r, j, a, &(*out)[k].name, e) != 0) return MV_ERROR;
        j = imap_next(r, j);
        if (imap_nstring(r, j, a, &(*out)[k].value, e) != 0) return MV_ERROR;
        j = imap_next(r, j);
        if ((*out)[k].name.s == NULL) return imap_bad(e, "body parameter name");
    }
    *n = k;
    return 0;
}

static int number(const imap_resp *r, size_t i, uint64_t *v, mv_error *e)
{
    if (imap_node_number(r, i, IMAP_MAX_NUMBER, v) != 0) return imap_bad(e, "body number");
    return 0;
}

/* The extension data shared by both kinds: [dsp [lang [loc ...]]] from value i on. */
static int ext_tail(const imap_resp *r, size_t i, size_t end, imap_arena *a, imap_body *b,
                    mv_error *e)
{
    if (i >= end) return 0;
    if (r->nodes[i].type == IMAP_V_LIST) {
        size_t d = i + 1;
        if (r->nodes[i].len != 2 || imap_nstring(r, d, a, &b->disposition, e) != 0
            || params(r, imap_next(r, d), a, &b->dparams, &b->ndparams, e) != 0)
            return e->kind == MV_E_MEMORY ? MV_ERROR : imap_bad(e, "body disposition");
    } else if (r->nodes[i].type != IMAP_V_NIL) {
        return imap_bad(e, "body disposition");
    }
    i = imap_next(r, i);
    if (i >= end) return 0;
    if (r->nodes[i].type == IMAP_V_LIST) {
        if (imap_parse_strs(r, i, a, &b->language, e) != 0) return MV_ERROR;
    } else {
        imap_str s;
        if (imap_nstring(r, i, a, &s, e) != 0) return MV_ERROR;
        if (s.s != NULL) {
            b->language.v = imap_arena_alloc(a, sizeof *b->language.v);
            if (b->language.v == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
            b->language.v[0] = s;
            b->language.n = 1;
        }
    }
    i = imap_next(r, i);
    if (i >= end) return 0;
    return imap_nstring(r, i, a, &b->location, e);   /* further extensions are skipped */
}

static int section_of(imap_arena *a, imap_str parent, size_t k, imap_str *out, mv_error *e)
{
    char buf[32];
    imap_str s;
    size_t n;
    int len = snprintf(buf, sizeof buf, "%zu", k);
    char *d;
    n = parent.len + (parent.len > 0) + (size_t)len;
    d = imap_arena_alloc(a, n + 1);
    if (d == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    if (parent.len > 0) {
        memcpy(d, parent.s, parent.len);
        d[parent.len] = '.';
    }
    memcpy(d + n - (size_t)len, buf, (size_t)len + 1);
    s.s = d;
    s.len = n;
    *out = s;
    return 0;
}

static int body(const imap_resp *r, size_t i, size_t depth, size_t max_depth, imap_str sec,
                imap_arena *a, imap_body *b, mv_error *e);

static int multipart(const imap_resp *r, size_t i, size_t depth, size_t max_depth,
                     imap_str sec, imap_arena *a, imap_body *b, mv_error *e)
{
    size_t j, k = 0, end = r->nodes[i].end;
    for (j = i + 1; j < end && r->nodes[j].type == IMAP_V_LIST; j = imap_next(r, j)) k++;
    b->parts = imap_arena_alloc(a, k * sizeof *b->parts);
    if (b->parts == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    b->nparts = k;
    for (j = i + 1, k = 0; k < b->nparts; j = imap_next(r, j), k++) {
        imap_str child;
        if (section_of(a, sec, k + 1, &child, e) != 0) return MV_ERROR;
        if (body(r, j, depth + 1, max_depth, child, a, &b->parts[k], e) != 0) return MV_ERROR;
    }
    b->type.s = "multipart";
    b->type.len = 9;
    if (j >= end) return imap_bad(e, "multipart subtype");
    if (imap_nstring(r, j, a, &b->subtype, e) != 0 || b->subtype.s == NULL)
        return e->kind == MV_E_MEMORY ? MV_ERROR : imap_bad(e, "multipart subtype");
    j = imap_next(r, j);
    if (j >= end) return 0;
    if (params(r, j, a, &b->params, &b->nparams, e) != 0) return MV_ERROR;
    return ext_tail(r, imap_next(r, j), end, a, b, e);
}

static int body(const imap_resp *r, size_t i, size_t depth, size_t max_depth, imap_str sec,
                imap_arena *a, imap_body *b, mv_error *e)
{
    size_t j, end;
    memset(b, 0, sizeof *b);
    b->section = sec;
    if (depth >= max_depth)
        return mv_fail(e, MV_E_LIMIT, "IMAP response: body structure nested deeper than %zu "
                       "levels", max_depth);
    if (i >= r->count || r->nodes[i].type != IMAP_V_LIST || r->nodes[i].len == 0)
        return imap_bad(e, "body structure");
    end = r->nodes[i].end;
    if (r->nodes[i + 1].type == IMAP_V_LIST) return multipart(r, i, depth, max_depth, sec, a, b, e);
    j = i + 1;
    /* type subtype params id description encoding size: 7 values at least */
    if (r->nodes[i].len < 7) return imap_bad(e, "body part");
    if (imap_nstring(r, j, a, &b->type, e) != 0) return MV_ERROR;
    j = imap_next(r, j);
    if (imap_nstring(r, j, a, &b->subtype, e) != 0) return MV_ERROR;
    if (b->type.s == NULL || b->subtype.s == NULL) return imap_bad(e, "body type");
    j = imap_next(r, j);
    if (params(r, j, a, &b->params, &b->nparams, e) != 0) return MV_ERROR;
    j = imap_next(r, j);
    if (imap_nstring(r, j, a, &b->id, e) != 0) return MV_ERROR;
    j = imap_next(r, j);
    if (imap_nstring(r, j, a, &b->description, e) != 0) return MV_ERROR;
    j = imap_next(r, j);
    if (imap_nstring(r, j, a, &b->encoding, e) != 0) return MV_ERROR;
    j = imap_next(r, j);
    if (number(r, j, &b->size, e) != 0) return MV_ERROR;
    j = imap_next(r, j);
    if (imap_str_is(b->type, "MESSAGE") && (imap_str_is(b->subtype, "RFC822")
                                            || imap_str_is(b->subtype, "GLOBAL"))
        && j < end && r->nodes[j].type == IMAP_V_LIST) {
        size_t bi;
        imap_str inner = sec;
        b->envelope = imap_arena_alloc(a, sizeof *b->envelope);
        b->parts = imap_arena_alloc(a, sizeof *b->parts);
        if (b->envelope == NULL || b->parts == NULL)
            return mv_fail(e, MV_E_MEMORY, "out of memory");
        if (imap_parse_envelope(r, j, a, b->envelope, e) != 0) return MV_ERROR;
        bi = imap_next(r, j);
        if (bi >= end || r->nodes[bi].type != IMAP_V_LIST || r->nodes[bi].len == 0)
            return imap_bad(e, "message/rfc822 body");
        /* a single part inside is number 1 below this one; a multipart takes our number */
        if (r->nodes[bi + 1].type != IMAP_V_LIST && section_of(a, sec, 1, &inner, e) != 0)
            return MV_ERROR;
        if (body(r, bi, depth + 1, max_depth, inner, a, &b->parts[0], e) != 0) return MV_ERROR;
        b->nparts = 1;
        j = imap_next(r, bi);
        if (j >= end || number(r, j, &b->lines, e) != 0) return imap_bad(e, "body lines");
        j = imap_next(r, j);
    } else if (imap_str_is(b->type, "TEXT")) {
        if (j >= end || number(r, j, &b->lines, e) != 0) return imap_bad(e, "body lines");
        j = imap_next(r, j);
    }
    if (j >= end) return 0;
    if (imap_nstring(r, j, a, &b->md5, e) != 0) return MV_ERROR;
    return ext_tail(r, imap_next(r, j), end, a, b, e);
}

int imap_parse_body(const imap_resp *r, size_t i, size_t max_depth, imap_arena *a,
                    imap_body *out, mv_error *e)
{
    imap_str sec = { "", 0 };
    if (i < r->count && r->nodes[i].type == IMAP_V_LIST && r->nodes[i].len > 0
        && r->nodes[i + 1].type != IMAP_V_LIST) {
        sec.s = "1";
        sec.len = 1;
    }
    return body(r, i, 0, max_depth, sec, a, out, e);
}
