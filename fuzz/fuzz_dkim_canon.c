/* DKIM canonicalization (csrc/mime/mime_dkim.c): a body fed in pieces (sizes from the
 * input) canonicalizes as the whole does, in both modes; canonical output is a fixed
 * point (canonicalizing it again changes nothing) and never ends in an empty line;
 * the relaxed header form is a fixed point too. */
#include "fuzz_common.h"

#include "mime_dkim.h"

static void collect(void *ctx, const unsigned char *p, size_t n)
{
    FZ_ASSERT(mv_buf_append((mv_buf *)ctx, p, n) == 0);
}

static void canon(mv_buf *out, const uint8_t *p, size_t n, int relaxed, unsigned step)
{
    mv_dkim_body b;
    size_t i = 0;
    mv_dkim_body_init(&b, relaxed, collect, out);
    while (i < n) {     /* pieces of 1..step bytes, varying */
        size_t k = step == 0 ? n : 1 + (i * 31u + step) % step;
        if (k > n - i) k = n - i;
        mv_dkim_body_feed(&b, p + i, k);
        i += k;
    }
    mv_dkim_body_end(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned step = fz_byte(&in);
    int relaxed;
    for (relaxed = 0; relaxed <= 1; relaxed++) {
        mv_buf whole, part, again;
        mv_buf_init(&whole);
        mv_buf_init(&part);
        mv_buf_init(&again);
        canon(&whole, in.p, in.n, relaxed, 0);
        canon(&part, in.p, in.n, relaxed, step);
        FZ_ASSERT(whole.len == part.len &&
                  (whole.len == 0 || memcmp(whole.data, part.data, whole.len) == 0));
        if (whole.len > 0) {
            FZ_ASSERT(whole.len >= 2 && memcmp(whole.data + whole.len - 2, "\r\n", 2) == 0);
            FZ_ASSERT(whole.len < 4 || memcmp(whole.data + whole.len - 4, "\r\n\r\n", 4) != 0);
        }
        /* a bare CR before the end is content, so only inputs without CR are fixed points */
        if (memchr(in.p, '\r', in.n) == NULL) {
            canon(&again, whole.data, whole.len, relaxed, 0);
            FZ_ASSERT(again.len == whole.len &&
                      (again.len == 0 || memcmp(again.data, whole.data, again.len) == 0));
        }
        mv_buf_free(&whole);
        mv_buf_free(&part);
        mv_buf_free(&again);
    }
    {   /* a header field: relaxed once is relaxed for good */
        const char *f = (const char *)in.p;
        const char *colon = memchr(f, ':', in.n);
        mv_buf h1, h2;
        mv_buf_init(&h1);
        mv_buf_init(&h2);
        FZ_ASSERT(mv_dkim_canon_header(&h1, f, in.n, 1) == 0);
        if (colon != NULL && memchr(f, '\r', (size_t)(colon - f)) == NULL &&
            memchr(f, '\n', (size_t)(colon - f)) == NULL) {
            FZ_ASSERT(mv_dkim_canon_header(&h2, (const char *)h1.data, h1.len, 1) == 0);
            FZ_ASSERT(h1.len == h2.len && memcmp(h1.data, h2.data, h1.len) == 0);
        }
        mv_buf_free(&h1);
        mv_buf_free(&h2);
    }
    return 0;
}
