/* The DATA transform under random chunking: the output of any split equals the output
 * of one call; it has no bare CR or LF, no end-of-data before the final one, and
 * unstuffing it gives the input with line ends normalised to CRLF.  Without dots (the
 * BDAT form) lines go out unstuffed and unterminated. */
#include "fuzz_common.h"
#include "mv_str.h"

#include "smtp_stuff.h"

static int run(const uint8_t *p, size_t n, const uint8_t *cuts, size_t ncuts,
               size_t max_line, int allow_8bit, int dot, mv_buf *out)
{
    smtp_stuffer st;
    size_t pos = 0, c = 0;
    smtp_stuff_init(&st, max_line, allow_8bit, dot);
    while (pos < n) {
        size_t k = ncuts > 0 ? 1 + cuts[c++ % ncuts] % 17 : n - pos;
        int r;
        if (k > n - pos) k = n - pos;
        r = smtp_stuff(&st, p + pos, k, out);
        if (r != SMTP_STUFF_OK) return r;
        pos += k;
    }
    return smtp_stuff_end(&st, out, dot);
}

/* Expected: bare CR, bare LF and CRLF each become CRLF. */
static void normalise(const uint8_t *p, size_t n, mv_buf *out)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] == '\r') {
            if (i + 1 < n && p[i + 1] == '\n') i++;
            FZ_ASSERT(mv_buf_append(out, "\r\n", 2) == 0);
        } else if (p[i] == '\n') {
            FZ_ASSERT(mv_buf_append(out, "\r\n", 2) == 0);
        } else {
            FZ_ASSERT(mv_buf_append(out, p + i, 1) == 0);
        }
    }
    if (out->len > 0 && !(out->len >= 2 && out->data[out->len - 2] == '\r'
                          && out->data[out->len - 1] == '\n'))
        FZ_ASSERT(mv_buf_append(out, "\r\n", 2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned flags = fz_byte(&in);
    size_t ncuts = fz_byte(&in) % 16;
    const uint8_t *cuts, *body;
    size_t max_line = (flags & 1) ? 8 + (flags >> 2) * 4 : 0;
    int allow_8bit = (flags & 2) != 0, dot = !(flags & 0x80), r1, r2;
    size_t n, i, end;
    mv_buf a, b, want;
    const unsigned char *w;

    ncuts = fz_take(&in, ncuts, &cuts);
    n = fz_take(&in, in.n, &body);
    mv_buf_init(&a);
    mv_buf_init(&b);
    mv_buf_init(&want);
    r1 = run(body, n, NULL, 0, max_line, allow_8bit, dot, &a);
    r2 = run(body, n, cuts, ncuts, max_line, allow_8bit, dot, &b);
    /* With both an 8-bit byte and a long line, which is found first may depend on
     * the split; success may not. */
    FZ_ASSERT((r1 == SMTP_STUFF_OK) == (r2 == SMTP_STUFF_OK));
    /* The senders' 8-bit check agrees with the stuffer's and with a byte loop. */
    {
        int high = 0;
        for (i = 0; i < n; i++) high |= body[i] >= 0x80;
        FZ_ASSERT(mv_has_8bit(body, n) == high);
        if (!allow_8bit && high) FZ_ASSERT(r1 != SMTP_STUFF_OK);
    }
    if (r1 == SMTP_STUFF_OK) {
        FZ_ASSERT(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
        w = a.data;
        end = a.len;
        if (dot) {
            /* ends with ".\r\n"; before it every line that starts with '.' starts
             * with "..", so no early end-of-data can appear */
            FZ_ASSERT(a.len >= 3 && memcmp(w + a.len - 3, ".\r\n", 3) == 0);
            end = a.len - 3;
            for (i = 0; i < end; i++)
                if ((i == 0 || w[i - 1] == '\n') && w[i] == '.')
                    FZ_ASSERT(i + 1 < end && w[i + 1] == '.');
        }
        /* CR only before LF, LF only after CR */
        for (i = 0; i < a.len; i++) {
            if (w[i] == '\r') FZ_ASSERT(i + 1 < a.len && w[i + 1] == '\n');
            if (w[i] == '\n') FZ_ASSERT(i > 0 && w[i - 1] == '\r');
            if (!allow_8bit) FZ_ASSERT(w[i] < 0x80);
        }
        /* unstuff: drop one leading '.' per line, then compare */
        {
            mv_buf un;
            size_t j = 0;
            int bol = 1;
            mv_buf_init(&un);
            while (j < end) {
                if (dot && bol && w[j] == '.') { j++; bol = 0; continue; }
                FZ_ASSERT(mv_buf_append(&un, w + j, 1) == 0);
                bol = w[j] == '\n';
                j++;
            }
            normalise(body, n, &want);
            FZ_ASSERT(un.len == want.len
                      && (un.len == 0 || memcmp(un.data, want.data, un.len) == 0));
            mv_buf_free(&un);
        }
        if (max_line > 0) {
            size_t col = 0;
            for (i = 0; i < a.len; i++) {
                if (w[i] == '\r') { col = 0; i++; continue; }
                /* a stuffed '.' may add one byte to a line */
                FZ_ASSERT(++col <= max_line + 1);
            }
        }
    }
    mv_buf_free(&a);
    mv_buf_free(&b);
    mv_buf_free(&want);
    return 0;
}
