/* uuencode (CHECKLIST 73): mv_uu_find returns blocks in order, inside the input, each
 * from a "begin" line with a name to past an "end" line; mv_uu_decode never writes more
 * than 63 bytes (the largest length character) per input line; the input repeated 64
 * times is read in one pass (a super-linear finder times out). */
#include "fuzz_common.h"

#include "mime_uu.h"

static void walk(const unsigned char *p, size_t size)
{
    mv_uu_block b;
    size_t from = 0, lines = 1, i;
    mv_buf out;
    int d = 0;
    while (from < size && mv_uu_find(p, size, from, &b)) {
        FZ_ASSERT(b.start >= from && b.start < b.data && b.data <= b.data_end);
        FZ_ASSERT(b.data_end < b.end && b.end <= size);
        FZ_ASSERT(memcmp(p + b.start, "begin", 5) == 0 && memcmp(p + b.data_end, "end", 3) == 0);
        FZ_ASSERT(b.name[0] != '\0');
        from = b.end;
    }
    for (i = 0; i < size; i++) lines += p[i] == '\n';
    mv_buf_init(&out);
    FZ_ASSERT(mv_uu_decode(p, size, &out, &d) >= 0);
    FZ_ASSERT(out.len <= 63 * lines);
    mv_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *p = (unsigned char *)fz_dup(data, size);
    size_t i;
    walk(p, size);
    free(p);
    if (size > 0 && size <= 4096) {
        size_t big = size * 64;
        unsigned char *q = malloc(big);
        FZ_ASSERT(q != NULL);
        for (i = 0; i < 64; i++) memcpy(q + i * size, data, size);
        walk(q, big);
        free(q);
    }
    return 0;
}
