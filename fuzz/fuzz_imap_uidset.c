/* UID sets (imap_uid_sets) and the sequence-set reader (imap_parse_set): any list of
 * UIDs becomes pieces no longer than the cap, which read back as ascending, disjoint,
 * non-adjacent ranges covering exactly the distinct non-zero UIDs given. */
#include "fuzz_common.h"

#include "imap_data.h"

static int cmp(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    size_t max_len = 21 + fz_byte(&in) * 4, n = in.n / 4, i, m = 0, k, seen = 0;
    uint32_t *uids = malloc((n + 1) * sizeof *uids), *want = malloc((n + 1) * sizeof *want);
    uint32_t last = 0;
    imap_arena a;
    imap_strs out;
    mv_error e;
    FZ_ASSERT(uids != NULL && want != NULL);
    for (i = 0; i < n; i++) {
        /* small values make runs, the high bit spreads them */
        uint32_t v = (uint32_t)in.p[4 * i] | (uint32_t)in.p[4 * i + 1] << 8;
        if (in.p[4 * i + 2] & 1) v |= (uint32_t)in.p[4 * i + 3] << 24 | 0xff0000u;
        uids[i] = v;
        if (v != 0) want[m++] = v;
    }
    qsort(want, m, sizeof *want, cmp);
    for (i = 0, k = 0; i < m; i++) if (k == 0 || want[k - 1] != want[i]) want[k++] = want[i];
    m = k;
    imap_arena_init(&a);
    mv_error_clear(&e);
    FZ_ASSERT(imap_uid_sets(uids, n, max_len, &a, &out, &e) == 0);
    for (i = 0; i < out.n; i++) {
        imap_set set;
        size_t r;
        FZ_ASSERT(out.v[i].len > 0 && out.v[i].len <= max_len);
        FZ_ASSERT(imap_parse_set(out.v[i], max_len, &a, &set, &e) == 0);
        for (r = 0; r < set.n; r++) {
            uint64_t u;
            FZ_ASSERT(set.v[r].lo <= set.v[r].hi);
            FZ_ASSERT(seen == 0 || set.v[r].lo > (uint64_t)last + 1);   /* merged runs */
            for (u = set.v[r].lo; u <= set.v[r].hi; u++) {
                FZ_ASSERT(seen < m && want[seen] == (uint32_t)u);
                seen++;
            }
            last = set.v[r].hi;
        }
    }
    FZ_ASSERT(seen == m);
    imap_arena_free(&a);
    free(uids);
    free(want);
    return 0;
}
