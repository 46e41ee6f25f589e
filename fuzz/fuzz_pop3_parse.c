/* The POP3 value parsers: status lines, numbers, LIST, UIDL and STAT lines
 * (CHECKLIST 33).  Each gets an exact heap copy of the line (ASan catches any read
 * past it) and its result is checked against what it claims: a status word that is
 * there, numbers in range that print back to the digits parsed, a UID of printable
 * bytes inside the line and within the cap. */
#include "fuzz_common.h"

#include "pop3_parse.h"

#define MAX_SIZE_VALUE 9007199254740991ULL

/* The digits after leading spaces, as a number, or -1 past 19 digits / max. */
static int ref_number(const char *p, size_t len, unsigned long long max,
                      unsigned long long *v, size_t *used)
{
    size_t i = 0, start;
    unsigned long long x = 0;
    while (i < len && p[i] == ' ') i++;
    start = i;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        if (i - start >= 19) return -1;
        x = x * 10 + (unsigned)(p[i] - '0');   /* 19 digits fit in 64 bits */
        if (x > max) return -1;
        i++;
    }
    if (i == start) return -1;
    *v = x;
    *used = i;
    return 0;
}

static int ieq3(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (c != b[i]) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned sel = fz_byte(&in);
    unsigned long max_n = sel & 1 ? 0xffffffffUL : 1 + (unsigned long)fz_byte(&in) * 37;
    size_t max_uid = 1 + (fz_byte(&in) & 0xff);
    char *p;
    size_t n = in.n;

    /* exactly n bytes: no terminating NUL to hide an overread */
    p = malloc(n ? n : 1);
    FZ_ASSERT(p != NULL);
    if (n) memcpy(p, in.p, n);

    {   /* status line */
        const char *text = NULL;
        size_t tlen = 0;
        int r = pop3_status(p, n, &text, &tlen);
        FZ_ASSERT(r >= -1 && r <= 1);
        if (r == 1) FZ_ASSERT(n >= 3 && ieq3(p, "+OK", 3) && (n == 3 || p[3] == ' '));
        if (r == 0) FZ_ASSERT(n >= 4 && ieq3(p, "-ERR", 4) && (n == 4 || p[4] == ' '));
        if (r >= 0) FZ_ASSERT(text >= p && text + tlen == p + n);
        if (r == -1) FZ_ASSERT(!(n >= 4 && ieq3(p, "+OK ", 4)) && !(n == 3 && ieq3(p, "+OK", 3)));
    }
    {   /* a number against the reference, for a few maxima */
        static const unsigned long long maxes[] = { 0, 9, 100, 0xffffffffULL,
                                                    MAX_SIZE_VALUE, ~0ULL };
        size_t k;
        for (k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
            unsigned long long v = 0, rv = 0;
            size_t used = 0, rused = 0;
            int r = pop3_number(p, n, maxes[k], &v, &used);
            int rr = ref_number(p, n, maxes[k], &rv, &rused);
            FZ_ASSERT(r == rr);
            if (r == 0) FZ_ASSERT(v == rv && used == rused && used <= n && v <= maxes[k]);
        }
    }
    {   /* LIST */
        unsigned long num = 0;
        unsigned long long sz = 0;
        if (pop3_parse_list(p, n, max_n, &num, &sz) == 0) {
            char buf[64];
            unsigned long n2;
            unsigned long long s2;
            FZ_ASSERT(num >= 1 && num <= max_n && sz <= MAX_SIZE_VALUE);
            /* the canonical form parses back to the same values */
            snprintf(buf, sizeof buf, "%lu %llu", num, sz);
            FZ_ASSERT(pop3_parse_list(buf, strlen(buf), max_n, &n2, &s2) == 0
                      && n2 == num && s2 == sz);
        }
    }
    {   /* UIDL */
        unsigned long num = 0;
        const char *uid = NULL;
        size_t ul = 0, i;
        if (pop3_parse_uidl(p, n, max_n, max_uid, &num, &uid, &ul) == 0) {
            FZ_ASSERT(num >= 1 && num <= max_n);
            FZ_ASSERT(ul >= 1 && ul <= max_uid && uid > p && uid + ul <= p + n);
            for (i = 0; i < ul; i++)
                FZ_ASSERT((unsigned char)uid[i] >= 0x21 && (unsigned char)uid[i] <= 0x7e);
            /* only spaces after the UID */
            for (i = (size_t)(uid + ul - p); i < n; i++) FZ_ASSERT(p[i] == ' ');
        }
    }
    {   /* STAT */
        unsigned long count = 0;
        unsigned long long sz = 0;
        if (pop3_parse_stat(p, n, &count, &sz) == 0)
            FZ_ASSERT(count <= 0xffffffffUL && sz <= MAX_SIZE_VALUE);
    }
    free(p);
    return 0;
}
