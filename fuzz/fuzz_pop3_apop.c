/* The APOP timestamp finder (CHECKLIST 40): a greeting of any shape gives, in one
 * linear pass, either nothing or a "<...>" of 3..256 printable bytes holding an '@',
 * inside the greeting, with no '<' or '>' in it; and it is the first such stamp,
 * as a plain quadratic search over short inputs confirms.  Pathological "<<<<..."
 * inputs are also run at 64x their size, so a super-linear finder times out. */
#include "fuzz_common.h"

#include "pop3_parse.h"

/* The first '>' that closes a valid stamp opened by the last '<' before it. */
static int ref_stamp(const char *p, size_t len, size_t *start, size_t *slen)
{
    size_t j;
    for (j = 0; j < len; j++) {
        size_t k, m;
        int ok = 1, at = 0;
        if (p[j] != '>') continue;
        for (k = j; k > 0 && p[k - 1] != '<'; k--) {}
        if (k == 0) continue;
        k--;                                   /* p[k] == '<' */
        for (m = k + 1; m < j; m++) {
            unsigned char c = (unsigned char)p[m];
            if (c < 0x21 || c > 0x7e || c == '>') ok = 0;
            if (c == '@') at = 1;
        }
        if (ok && at && j - k + 1 > 2 && j - k + 1 <= 256) {
            *start = k;
            *slen = j - k + 1;
            return 0;
        }
    }
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    size_t st = 0, sl = 0, i;
    int r;
    FZ_ASSERT(p != NULL);
    if (size) memcpy(p, data, size);
    r = pop3_apop_stamp(p, size, &st, &sl);
    if (r == 0) {
        FZ_ASSERT(sl >= 3 && sl <= 256 && st + sl <= size);
        FZ_ASSERT(p[st] == '<' && p[st + sl - 1] == '>');
        FZ_ASSERT(memchr(p + st, '@', sl) != NULL);
        for (i = st + 1; i + 1 < st + sl; i++) {
            unsigned char c = (unsigned char)p[i];
            FZ_ASSERT(c >= 0x21 && c <= 0x7e && c != '<' && c != '>');
        }
    } else {
        FZ_ASSERT(r == -1);
    }
    if (size <= 1024) {
        size_t rs = 0, rl = 0;
        int rr = ref_stamp(p, size, &rs, &rl);
        FZ_ASSERT(rr == r);
        if (r == 0) FZ_ASSERT(rs == st && rl == sl);
    }
    free(p);
    /* Repeated 64 times (up to 256 KiB): still one pass. */
    if (size > 0 && size <= 4096) {
        size_t big = size * 64;
        char *q = malloc(big);
        FZ_ASSERT(q != NULL);
        for (i = 0; i < 64; i++) memcpy(q + i * size, data, size);
        r = pop3_apop_stamp(q, big, &st, &sl);
        if (r == 0) FZ_ASSERT(st + sl <= big && q[st] == '<');
        free(q);
    }
    return 0;
}
