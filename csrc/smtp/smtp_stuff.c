#include "smtp_stuff.h"

#include <stdint.h>
#include <string.h>

/* Length of the run at p that holds no CR, no LF and (stop8) no byte >= 0x80: eight bytes
 * per step (SWAR: a zero byte in v ^ pattern is a match), then byte by byte. */
static size_t scan_run(const unsigned char *p, size_t n, int stop8)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t crs = ones * '\r', lfs = ones * '\n', high_mask = stop8 ? highs : 0;
    size_t i = 0;
    while (n - i >= 8) {
        uint64_t v, a, b;
        memcpy(&v, p + i, 8);
        a = v ^ crs;
        b = v ^ lfs;
        if ((((a - ones) & ~a) | ((b - ones) & ~b) | (v & high_mask)) & highs) break;
        i += 8;
    }
    while (i < n) {
        unsigned char c = p[i];
        if (c == '\r' || c == '\n' || (stop8 && c >= 0x80)) break;
        i++;
    }
    return i;
}

void smtp_stuff_init(smtp_stuffer *st, size_t max_line, int allow_8bit, int dots)
{
    st->dots = dots;
    st->line_start = 1;
    st->pending_cr = 0;
    st->line_len = 0;
    st->max_line = max_line;
    st->allow_8bit = allow_8bit;
    st->in_bytes = 0;
}

int smtp_stuff(smtp_stuffer *st, const unsigned char *in, size_t n, mv_buf *out)
{
    size_t i = 0;
    /* Worst case every byte doubles (a lone CR per byte). */
    if (n > ((size_t)-1) / 2 - 8 || mv_buf_reserve(out, 2 * n + 8) != 0) return SMTP_STUFF_NOMEM;
    st->in_bytes += n;
    while (i < n) {
        unsigned char *o = out->data + out->len;
        unsigned char c = in[i];
        if (st->pending_cr) {
            /* CR LF, or a bare CR: both end the line as CRLF. */
            *o++ = '\r';
            *o++ = '\n';
            out->len += 2;
            st->pending_cr = 0;
            st->line_start = 1;
            st->line_len = 0;
            if (c == '\n') { i++; continue; }
        }
        if (c == '\r') {
            if (i + 1 < n && in[i + 1] == '\n') {
                /* The common case, CR LF in one chunk: no pending state. */
                *o++ = '\r';
                *o++ = '\n';
                out->len += 2;
                st->line_start = 1;
                st->line_len = 0;
                i += 2;
                continue;
            }
            st->pending_cr = 1;
            i++;
            continue;
        }
        if (c == '\n') {
            *o++ = '\r';
            *o++ = '\n';
            out->len += 2;
            st->line_start = 1;
            st->line_len = 0;
            i++;
            continue;
        }
        if (st->line_start && c == '.' && st->dots) {
            *o++ = '.';
            out->len++;
        }
        st->line_start = 0;
        {
            /* Copy the run of ordinary bytes up to the next CR or LF in one go. */
            size_t j = i + scan_run(in + i, n - i, !st->allow_8bit);
            if (j < n && in[j] >= 0x80) return SMTP_STUFF_8BIT;
            st->line_len += j - i;
            if (st->max_line && st->line_len > st->max_line) return SMTP_STUFF_LONG_LINE;
            memcpy(out->data + out->len, in + i, j - i);
            out->len += j - i;
            i = j;
        }
    }
    return SMTP_STUFF_OK;
}

int smtp_stuff_end(smtp_stuffer *st, mv_buf *out, int dot)
{
    if (st->pending_cr || !st->line_start) {
        if (mv_buf_append(out, "\r\n", 2) != 0) return SMTP_STUFF_NOMEM;
        st->pending_cr = 0;
        st->line_start = 1;
        st->line_len = 0;
    }
    if (dot && mv_buf_append(out, ".\r\n", 3) != 0) return SMTP_STUFF_NOMEM;
    return SMTP_STUFF_OK;
}
