/* The IMAP response tokenizer (imap_parse.c).  Two steering bytes pick small caps and a
 * chunking seed; the rest is fed once whole and once in pseudo-random pieces (1 byte at
 * times), literals after "BODY[" streamed in one run and kept in the other when the caps
 * allow.  Both runs must agree on every response (values, lengths, bytes, streamed sizes)
 * and on the error kind; every response must be a well-formed tree within the caps. */
#include "fuzz_common.h"

#include "imap_parse.h"

typedef struct run {
    uint64_t hash;          /* FNV-1a over everything the parser said */
    uint64_t lit_hash;      /* FNV-1a over the bytes of the literals after "BODY[" atoms */
    size_t responses;
    mv_kind kind;
    uint64_t streamed;      /* bytes handed out as literal pieces */
    int idle;               /* every response read was complete */
} run;

static void mix(run *r, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;
    for (i = 0; i < n; i++) r->hash = (r->hash ^ b[i]) * 1099511628211ULL;
}

static void mixn(run *r, uint64_t v)
{
    mix(r, &v, sizeof v);
}

static void mix_lit(run *r, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;
    for (i = 0; i < n; i++) r->lit_hash = (r->lit_hash ^ b[i]) * 1099511628211ULL;
}

/* The literals a run may stream: those right after an atom starting with "BODY[". */
static int streamable(const imap_resp *r, size_t prev)
{
    return prev != (size_t)-1 && r->nodes[prev].type == IMAP_V_ATOM && r->nodes[prev].len >= 5
           && memcmp(r->store + r->nodes[prev].off, "BODY[", 5) == 0;
}

static void check_resp(run *out, const imap_resp *r, const imap_limits *lim)
{
    size_t i, depth = 0, stack[80], prev[81];
    FZ_ASSERT(r->count <= lim->max_items);
    mixn(out, (uint64_t)r->kind * 16 + (uint64_t)r->status);
    mixn(out, r->has_number ? r->number + 1 : 0);
    if (r->tag.s) mix(out, r->tag.s, r->tag.len + 1);
    if (r->name.s) mix(out, r->name.s, r->name.len + 1);
    if (r->code.s) mix(out, r->code.s, r->code.len + 1);
    if (r->code_text.s) mix(out, r->code_text.s, r->code_text.len + 1);
    if (r->text.s) { FZ_ASSERT(r->text.s[r->text.len] == '\0'); mix(out, r->text.s, r->text.len); }
    prev[0] = (size_t)-1;
    for (i = 0; i < r->count; i++) {
        const imap_node *n = &r->nodes[i];
        size_t sib;
        int lit = n->type == IMAP_V_STREAMED || (n->type == IMAP_V_STRING && n->literal);
        while (depth > 0 && stack[depth - 1] == i) depth--;
        FZ_ASSERT(n->end > i && n->end <= r->count);
        if (depth > 0) FZ_ASSERT(n->end <= stack[depth - 1]);
        sib = prev[depth];
        prev[depth] = i;
        if (lit && streamable(r, sib)) {
            /* kept in one run, maybe streamed in the other: only size and bytes count */
            mixn(out, 1000 + n->len);
            if (n->type == IMAP_V_STRING) mix_lit(out, r->store + n->off, n->len);
            continue;
        }
        FZ_ASSERT(n->type != IMAP_V_STREAMED);
        mixn(out, n->type);
        if (n->type == IMAP_V_LIST) {
            size_t j, k = 0;
            for (j = i + 1; j < n->end; j = r->nodes[j].end) k++;
            FZ_ASSERT(k == n->len);
            FZ_ASSERT(depth < lim->max_depth && depth < 80);
            stack[depth++] = n->end;
            prev[depth] = (size_t)-1;
        } else {
            FZ_ASSERT(n->end == i + 1);
        }
        if (n->type == IMAP_V_ATOM || n->type == IMAP_V_STRING) {
            FZ_ASSERT(r->store[n->off + n->len] == '\0');
            if (n->type == IMAP_V_ATOM) FZ_ASSERT(n->len > 0 && n->len <= lim->max_token);
            mix(out, r->store + n->off, n->len);
        }
    }
}

static void feed_all(run *out, const uint8_t *d, size_t n, const imap_limits *lim,
                     unsigned seed, int stream)
{
    imap_parser p;
    mv_error e;
    size_t off = 0;
    unsigned long rng = seed * 2654435761UL + 1;
    imap_parser_init(&p, lim);
    mv_error_clear(&e);
    out->hash = out->lit_hash = 14695981039346656037ULL;
    out->responses = 0;
    out->kind = MV_E_NONE;
    out->streamed = 0;
    while (off < n) {
        size_t k = n - off, used;
        int r;
        if (seed != 0) {
            rng = rng * 1103515245UL + 12345UL;
            k = 1 + (rng >> 8) % (seed & 1 ? 3 : 97);
            if (k > n - off) k = n - off;
        }
        r = imap_parser_feed(&p, d + off, k, &used, &e);
        FZ_ASSERT(used <= k);
        off += used;
        if (r == MV_ERROR) {
            FZ_ASSERT(e.kind == MV_E_PROTOCOL || e.kind == MV_E_LIMIT);
            FZ_ASSERT(imap_parser_feed(&p, d, n, &used, &e) == MV_ERROR && used == 0);
            out->kind = e.kind;
            break;
        }
        if (r == IMAP_RESPONSE) {
            out->responses++;
            check_resp(out, imap_parser_response(&p), lim);
        } else if (r == IMAP_LITERAL) {
            imap_str key;
            int l8;
            uint64_t len = imap_parser_literal(&p, &l8, &key);
            FZ_ASSERT(len <= lim->max_literal);
            if (stream && key.s != NULL && key.len >= 5 && memcmp(key.s, "BODY[", 5) == 0)
                imap_parser_stream_literal(&p);
        } else if (r == IMAP_LITERAL_DATA) {
            size_t len;
            const unsigned char *c = imap_parser_chunk(&p, &len);
            FZ_ASSERT(len > 0 && c >= d && c + len <= d + n);
            out->streamed += len;
            mix_lit(out, c, len);
        } else {
            FZ_ASSERT(r == IMAP_MORE && used == k);
        }
    }
    out->idle = imap_parser_idle(&p);
    imap_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned s1 = fz_byte(&in), s2 = fz_byte(&in);
    imap_limits lim;
    run a, b;
    imap_limits_default(&lim);
    if (s1 & 1) lim.max_depth = 1 + (s1 >> 1) % 8;
    if (s1 & 2) lim.max_items = 1 + s2 % 64;
    if (s1 & 4) lim.max_token = 1 + s2 % 32;
    if (s1 & 8) lim.max_kept = s2 % 16;
    if (s1 & 16) lim.max_response = 16 + s2 * 4;
    if (s1 & 32) lim.max_literal = s2 * 1000ULL;
    feed_all(&a, in.p, in.n, &lim, 0, 0);
    feed_all(&b, in.p, in.n, &lim, 1 + s2, 0);
    FZ_ASSERT(a.hash == b.hash && a.responses == b.responses && a.kind == b.kind);
    FZ_ASSERT(a.lit_hash == b.lit_hash);
    /* streaming changes nothing but where the bytes go (and which caps they meet) */
    if (!(s1 & (8 | 16))) {
        feed_all(&b, in.p, in.n, &lim, 2 + s2, 1);
        FZ_ASSERT(a.hash == b.hash && a.responses == b.responses && a.kind == b.kind);
        /* a stream cut by an error or the end of the input may have handed out bytes
         * no complete response kept */
        if (a.kind == MV_E_NONE && a.idle) FZ_ASSERT(a.lit_hash == b.lit_hash);
    }
    return 0;
}
