/* uuencode decoding: each line is a length character ((c - 32) & 63 bytes, at most 45)
 * then groups of four characters of six bits each ('`' stands for 0). */
#include "mime_uu.h"

#include <string.h>

static size_t line_at(const unsigned char *s, size_t n, size_t i, size_t *next)
{
    const unsigned char *nl = memchr(s + i, '\n', n - i);
    size_t e = nl != NULL ? (size_t)(nl - s) : n;
    *next = nl != NULL ? e + 1 : n;
    while (e > i && (s[e - 1] == '\r' || s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
    return e;
}

/* "begin" blanks, three or four octal digits, blanks, a name. */
static int begin_line(const unsigned char *s, size_t i, size_t e, mv_uu_block *b)
{
    size_t j = i + 5, d = 0, k;
    if (e - i < 9 || memcmp(s + i, "begin", 5) != 0 || (s[j] != ' ' && s[j] != '\t'))
        return 0;
    while (j < e && (s[j] == ' ' || s[j] == '\t')) j++;
    while (j < e && s[j] >= '0' && s[j] <= '7') { j++; d++; }
    if (d < 3 || d > 4 || j >= e || (s[j] != ' ' && s[j] != '\t')) return 0;
    while (j < e && (s[j] == ' ' || s[j] == '\t')) j++;
    if (j == e || memchr(s + j, '\0', e - j) != NULL) return 0;   /* a name, whole */
    k = e - j > MV_UU_MAX_NAME ? MV_UU_MAX_NAME : e - j;
    memcpy(b->name, s + j, k);
    b->name[k] = '\0';
    return 1;
}

static int is_end(const unsigned char *s, size_t i, size_t e)
{
    return e - i == 3 && memcmp(s + i, "end", 3) == 0;
}

/* A line an encoder writes: characters ' '..'`', and no longer than its length
 * character says (a few extra characters, such as a checksum, are tolerated; trailing
 * blanks may have been lost). */
static int data_line(const unsigned char *s, size_t i, size_t e)
{
    size_t k, want;
    if (e == i) return 1;          /* a blank "`" line whose blank was lost */
    for (k = i; k < e; k++) if (s[k] < 32 || s[k] > 96) return 0;
    want = (((size_t)(s[i] - 32) & 63) + 2) / 3 * 4;
    return e - i - 1 <= want + 2;
}

int mv_uu_find(const unsigned char *s, size_t n, size_t from, mv_uu_block *b)
{
    size_t i = from, nx;
    while (i < n) {
        size_t e = line_at(s, n, i, &nx), j, jn;
        if (!begin_line(s, i, e, b)) { i = nx; continue; }
        b->start = i;
        b->data = nx;
        for (j = nx; j < n; j = jn) {
            size_t je = line_at(s, n, j, &jn);
            if (is_end(s, j, je)) {
                b->data_end = j;
                b->end = jn;
                return 1;
            }
            if (!data_line(s, j, je)) break;
        }
        /* Not a block: look again after this begin line (the lines read are not
         * read again from here: a later begin line starts after them or is one). */
        i = j > nx ? j : nx;
    }
    return 0;
}

int mv_uu_decode(const unsigned char *s, size_t n, mv_buf *out, int *defects)
{
    size_t i = 0, nx;
    while (i < n) {
        size_t e = line_at(s, n, i, &nx), len, k, o;
        mv_uu_block b;
        if (is_end(s, i, e)) return 1;
        if (e == i || begin_line(s, i, e, &b)) { i = nx; continue; }
        len = (size_t)(s[i] - 32) & 63;
        if (len == 0) { i = nx; continue; }
        if (mv_buf_reserve(out, len + 3) != 0) return -1;
        /* A line cut short decodes as if padded with '`' (a repair). */
        if (e - i - 1 < (len + 2) / 3 * 4) (*defects)++;
        o = out->len;
        for (k = i + 1; o - out->len < len; k += 4) {
            unsigned c[4], q;
            for (q = 0; q < 4; q++) {
                unsigned char ch = k + q < e ? s[k + q] : '`';
                if (ch < 32 || ch > 96) { (*defects)++; ch = '`'; }
                c[q] = (unsigned)(ch - 32) & 63;
            }
            out->data[o++] = (unsigned char)(c[0] << 2 | c[1] >> 4);
            out->data[o++] = (unsigned char)(c[1] << 4 | c[2] >> 2);
            out->data[o++] = (unsigned char)(c[2] << 6 | c[3]);
        }
        out->len += len;
        i = nx;
    }
    return 0;
}
