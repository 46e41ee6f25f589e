/* The POP3 multi-line reader (pop3_ml_feed): terminator detection and dot-unstuffing
 * as a streaming state machine.  The same input is fed whole, in pseudo-random chunk
 * sizes (seeded from the input), one byte at a time, and with no output buffer; every
 * run must agree with a plain line-by-line model of the rule in pop3_parse.h:
 * the same output bytes, the terminator at the same offset, no byte produced that
 * the model does not produce (so an unstuffed "\r\n.\r\n" can only come from a
 * stuffed "\r\n..\r\n"), output never longer than the input consumed, nothing read
 * after the terminator (CHECKLIST 36, 37). */
#include "fuzz_common.h"

#include "pop3_parse.h"

static uint32_t rng_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* The rule, line by line.  Returns the bytes consumed (through the terminator's LF)
 * and sets *done; an unterminated last line keeps a lone "." or ".\r" back. */
static size_t model(const uint8_t *p, size_t n, mv_buf *out, int *done)
{
    size_t i = 0;
    *done = 0;
    while (i < n) {
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        size_t end = lf ? (size_t)(lf - p) + 1 : n;   /* line [i, end) */
        size_t len = end - i;
        if (p[i] == '.') {
            if (lf && (len == 2 || (len == 3 && p[i + 1] == '\r'))) {
                *done = 1;
                return end;
            }
            if (!lf && (len == 1 || (len == 2 && p[i + 1] == '\r'))) return n; /* held */
            FZ_ASSERT(mv_buf_append(out, p + i + 1, len - 1) == 0);
        } else {
            FZ_ASSERT(mv_buf_append(out, p + i, len) == 0);
        }
        i = end;
    }
    return n;
}

/* Feeds `data` in chunks (1 + rng % mod bytes; mod 0: all at once). */
static size_t run(const uint8_t *data, size_t size, uint32_t seed, size_t mod, mv_buf *out,
                  int *done, unsigned long long *out_bytes)
{
    pop3_ml m;
    size_t pos = 0;
    uint32_t x = seed | 1;
    pop3_ml_init(&m);
    *done = 0;
    while (pos < size) {
        size_t k = mod ? 1 + rng_next(&x) % mod : size - pos, used;
        const uint8_t *chunk;
        uint8_t *copy;
        int d = 0;
        if (k > size - pos) k = size - pos;
        /* An exact heap copy: a read past the chunk is an ASan report. */
        copy = malloc(k);
        FZ_ASSERT(copy != NULL);
        memcpy(copy, data + pos, k);
        chunk = copy;
        used = pop3_ml_feed(&m, chunk, k, out, &d);
        free(copy);
        FZ_ASSERT(used != (size_t)-1);
        FZ_ASSERT(used <= k);
        if (!d) FZ_ASSERT(used == k);     /* only the terminator stops early */
        pos += used;
        if (d) {
            int d2 = 0;
            *done = 1;
            /* After the terminator nothing more is taken. */
            FZ_ASSERT(pop3_ml_feed(&m, (const unsigned char *)"x\r\n", 3, out, &d2) == 0
                      && d2 == 1);
            break;
        }
    }
    *out_bytes = m.out_bytes;
    return pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_buf ref, a, b, c;
    int dref, da, db, dc, dn;
    size_t uref, ua, ub, uc, un, i, dots_out = 0, dots_in = 0;
    unsigned long long nref, na, nb, nc, nn;
    uint32_t seed = 0x9e3779b9u;
    size_t mod;

    if (size > 0) { seed ^= (uint32_t)data[0] << 16 | (uint32_t)(size > 1 ? data[1] : 0); }
    mod = size > 2 ? (size_t)(data[2] & 0x3f) + 1 : 3;

    mv_buf_init(&ref);
    mv_buf_init(&a);
    mv_buf_init(&b);
    mv_buf_init(&c);

    uref = model(data, size, &ref, &dref);
    ua = run(data, size, seed, 0, &a, &da, &na);
    ub = run(data, size, seed, mod, &b, &db, &nb);
    uc = run(data, size, seed, 1, &c, &dc, &nc);
    un = run(data, size, seed ^ 0x5555u, 5, NULL, &dn, &nn);

    nref = mv_buf_avail(&ref);
    FZ_ASSERT(dref == da && dref == db && dref == dc && dref == dn);
    FZ_ASSERT(uref == ua && uref == ub && uref == uc && uref == un);
    FZ_ASSERT(nref == na && nref == nb && nref == nc && nref == nn);
    FZ_ASSERT(mv_buf_avail(&a) == nref && mv_buf_avail(&b) == nref && mv_buf_avail(&c) == nref);
    if (nref > 0) {
        FZ_ASSERT(memcmp(mv_buf_head(&ref), mv_buf_head(&a), nref) == 0);
        FZ_ASSERT(memcmp(mv_buf_head(&ref), mv_buf_head(&b), nref) == 0);
        FZ_ASSERT(memcmp(mv_buf_head(&ref), mv_buf_head(&c), nref) == 0);
    }
    /* Bounded: unstuffing never makes bytes. */
    FZ_ASSERT(nref <= uref);
    /* Every "." line in the output was a ".." line on the wire. */
    {
        const uint8_t *o = mv_buf_head(&ref);
        for (i = 0; i < nref; i++)
            if ((i == 0 || o[i - 1] == '\n') && o[i] == '.' && i + 1 < nref
                && (o[i + 1] == '\n' || (o[i + 1] == '\r' && i + 2 < nref && o[i + 2] == '\n')))
                dots_out++;
        for (i = 0; i + 1 < uref; i++)
            if ((i == 0 || data[i - 1] == '\n') && data[i] == '.' && data[i + 1] == '.'
                && i + 2 < uref && (data[i + 2] == '\n'
                    || (data[i + 2] == '\r' && i + 3 < uref && data[i + 3] == '\n')))
                dots_in++;
        FZ_ASSERT(dots_out <= dots_in);
    }
    /* The terminator ends the consumed bytes, and the model found the first one. */
    if (dref) {
        FZ_ASSERT(uref >= 2 && data[uref - 1] == '\n');
        FZ_ASSERT(data[uref - 2] == '.' || (data[uref - 2] == '\r' && uref >= 3
                                            && data[uref - 3] == '.'));
    }

    mv_buf_free(&ref);
    mv_buf_free(&a);
    mv_buf_free(&b);
    mv_buf_free(&c);
    return 0;
}
