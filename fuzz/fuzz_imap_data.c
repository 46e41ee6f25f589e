/* The IMAP data readers (imap_data.c, imap_body.c) on whatever the tokenizer makes of
 * the input: every response goes through LIST, STATUS, SEARCH, ESEARCH, the response
 * code and FETCH, and each ENVELOPE and BODYSTRUCTURE in a FETCH through its reader with
 * a small depth cap.  Results must be inside the response's shape: body part depth
 * within the cap, sections numbered as their path, sets with lo <= hi. */
#include "fuzz_common.h"

#include "imap_data.h"

static size_t body_check(const imap_body *b, size_t depth, size_t max_depth)
{
    size_t k, n = 1;
    FZ_ASSERT(depth < max_depth);
    FZ_ASSERT(b->type.s != NULL && b->subtype.s != NULL && b->section.s != NULL);
    FZ_ASSERT(strlen(b->section.s) == b->section.len);
    for (k = 0; k < b->nparts; k++) {
        const imap_body *c = &b->parts[k];
        /* a child's number starts with ours */
        FZ_ASSERT(c->section.len >= b->section.len);
        FZ_ASSERT(memcmp(c->section.s, b->section.s, b->section.len) == 0);
        n += body_check(c, depth + 1, max_depth);
    }
    for (k = 0; k < b->nparams; k++) FZ_ASSERT(b->params[k].name.s != NULL);
    return n;
}

static void set_check(const imap_set *s)
{
    size_t k;
    for (k = 0; k < s->n; k++) FZ_ASSERT(s->v[k].lo >= 1 && s->v[k].lo <= s->v[k].hi);
}

static void readers(const imap_resp *r, size_t max_depth)
{
    imap_arena a;
    mv_error e;
    imap_arena_init(&a);
    {
        imap_mailbox mb;
        mv_error_clear(&e);
        if (imap_parse_list(r, 0, &a, &mb, &e) == 0) {
            FZ_ASSERT(mb.raw.s != NULL && mb.name.s != NULL && mb.delim >= -1 && mb.delim < 256);
        } else {
            FZ_ASSERT(e.kind == MV_E_PROTOCOL);
        }
    }
    {
        imap_status_data st;
        mv_error_clear(&e);
        if (imap_parse_status(r, 1, &a, &st, &e) != 0) FZ_ASSERT(e.kind == MV_E_PROTOCOL);
    }
    {
        imap_search s;
        size_t k;
        mv_error_clear(&e);
        if (imap_parse_search(r, &a, &s, &e) == 0)
            for (k = 0; k < s.n; k++) FZ_ASSERT(s.v[k] != 0);
    }
    {
        imap_esearch es;
        mv_error_clear(&e);
        if (imap_parse_esearch(r, &a, &es, &e) == 0) set_check(&es.all);
    }
    {
        imap_code_data c;
        mv_error_clear(&e);
        if (imap_parse_code(r, &a, &c, &e) == 0) {
            set_check(&c.src);
            set_check(&c.dst);
            if (c.kind == IMAP_CODE_COPYUID) FZ_ASSERT(c.uidvalidity != 0 && c.dst.n > 0);
        } else {
            FZ_ASSERT(e.kind == MV_E_PROTOCOL || e.kind == MV_E_LIMIT);
        }
    }
    {
        imap_fetch f;
        mv_error_clear(&e);
        if (imap_parse_fetch(r, &a, &f, &e) == 0) {
            size_t k;
            int64_t t;
            for (k = 0; k < f.nsections; k++) FZ_ASSERT(f.sections[k].node < r->count);
            if (f.has & IMAP_F_INTERNALDATE) (void)imap_parse_date_time(f.internaldate, &t);
            if (f.envelope != (size_t)-1) {
                imap_envelope env;
                mv_error_clear(&e);
                (void)imap_parse_envelope(r, f.envelope, &a, &env, &e);
            }
            if (f.body != (size_t)-1) {
                imap_body b;
                mv_error_clear(&e);
                if (imap_parse_body(r, f.body, max_depth, &a, &b, &e) == 0)
                    FZ_ASSERT(body_check(&b, 0, max_depth) <= r->count);
                else
                    FZ_ASSERT(e.kind == MV_E_PROTOCOL || e.kind == MV_E_LIMIT);
            }
        }
    }
    imap_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    size_t max_depth = 1 + fz_byte(&in) % 12;
    imap_parser p;
    mv_error e;
    size_t off = 0;
    imap_parser_init(&p, NULL);
    while (off < in.n) {
        size_t used;
        int r;
        mv_error_clear(&e);
        r = imap_parser_feed(&p, in.p + off, in.n - off, &used, &e);
        off += used;
        if (r == MV_ERROR) break;
        if (r == IMAP_RESPONSE) readers(imap_parser_response(&p), max_depth);
    }
    imap_parser_free(&p);
    return 0;
}
