/* Modified UTF-7 mailbox names (RFC 3501 5.1.3): glibc's "UTF-7-IMAP" converter (glibc
 * 2.36 and later) where iconv has it, else the small codec below. */
#include "imap_data.h"

#include <iconv.h>
#include <string.h>

#include "imap_utf7.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64val(unsigned char c)
{
    const char *p = c != 0 ? strchr(b64, c) : NULL;
    return p != NULL ? (int)(p - b64) : -1;
}

static int put_utf8(mv_buf *out, unsigned long cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (unsigned char)cp; n = 1; }
    else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6); u[1] = (unsigned char)(0x80 | (cp & 0x3f)); n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12); u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f)); n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18); u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return mv_buf_append(out, u, n);
}

int imap_utf7_decode_own(const char *s, size_t n, mv_buf *out)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        unsigned long bits = 0, hi = 0;
        int nbits = 0, units = 0;
        if (c < 0x20 || c > 0x7e) return -1;
        if (c != '&') {
            if (mv_buf_append(out, &c, 1) != 0) return -1;
            i++;
            continue;
        }
        i++;
        if (i < n && s[i] == '-') {
            if (mv_buf_append(out, "&", 1) != 0) return -1;
            i++;
            continue;
        }
        for (; i < n && s[i] != '-'; i++) {
            int v = b64val((unsigned char)s[i]);
            if (v < 0) return -1;
            bits = (bits << 6) | (unsigned long)v;
            nbits += 6;
            if (nbits >= 16) {
                unsigned long u = (bits >> (nbits - 16)) & 0xffff;
                nbits -= 16;
                bits &= (1UL << nbits) - 1;
                units++;
                if (hi != 0) {
                    if (u < 0xdc00 || u > 0xdfff) return -1;
                    if (put_utf8(out, 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00)) != 0)
                        return -1;
                    hi = 0;
                } else if (u >= 0xd800 && u <= 0xdbff) {
                    hi = u;
                } else if (u >= 0xdc00 && u <= 0xdfff) {
                    return -1;
                } else {
                    /* printable ASCII must not be encoded (RFC 3501 5.1.3) */
                    if (u >= 0x20 && u <= 0x7e) return -1;
                    if (put_utf8(out, u) != 0) return -1;
                }
            }
        }
        /* "-" ends it; the leftover bits are padding: fewer than 6, all zero */
        if (i == n || units == 0 || hi != 0 || nbits >= 6 || bits != 0) return -1;
        i++;
    }
    return 0;
}

/* The next code point of UTF-8 at s[*i], or -1 for malformed UTF-8. */
static long next_cp(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    unsigned long cp, min;
    size_t k, len;
    if (c < 0x80) { (*i)++; return c; }
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return -1;
    if (n - *i < len) return -1;
    for (k = 1; k < len; k++) {
        if ((s[*i + k] & 0xc0) != 0x80) return -1;
        cp = cp << 6 | (s[*i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    *i += len;
    return (long)cp;
}

int imap_utf7_encode_own(const char *s, size_t n, mv_buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned long bits = 0;
        int nbits = 0;
        if (p[i] >= 0x20 && p[i] <= 0x7e) {
            if (mv_buf_append(out, p[i] == '&' ? "&-" : (const char *)p + i,
                              p[i] == '&' ? 2 : 1) != 0)
                return -1;
            i++;
            continue;
        }
        if (mv_buf_append(out, "&", 1) != 0) return -1;
        while (i < n && !(p[i] >= 0x20 && p[i] <= 0x7e)) {
            long cp = next_cp(p, n, &i);
            unsigned long units[2];
            int k, nu = 1;
            if (cp < 0) return -1;
            if (cp >= 0x10000) {
                units[0] = 0xd800 + (((unsigned long)cp - 0x10000) >> 10);
                units[1] = 0xdc00 + (((unsigned long)cp - 0x10000) & 0x3ff);
                nu = 2;
            } else {
                units[0] = (unsigned long)cp;
            }
            for (k = 0; k < nu; k++) {
                bits = bits << 16 | units[k];
                nbits += 16;
                while (nbits >= 6) {
                    char c = b64[(bits >> (nbits - 6)) & 0x3f];
                    nbits -= 6;
                    if (mv_buf_append(out, &c, 1) != 0) return -1;
                }
                bits &= (1UL << nbits) - 1;
            }
        }
        if (nbits > 0) {
            char c = b64[(bits << (6 - nbits)) & 0x3f];
            if (mv_buf_append(out, &c, 1) != 0) return -1;
        }
        if (mv_buf_append(out, "-", 1) != 0) return -1;
    }
    return 0;
}

/* iconv from one name to the other; 1 when iconv lacks the converter. */
static int with_iconv(const char *to, const char *from, const char *s, size_t n, mv_buf *out)
{
    iconv_t cd = iconv_open(to, from);
    char *ip = (char *)(size_t)s;   /* iconv's prototype lacks the const */
    size_t left = n, mark = out->len;
    if (cd == (iconv_t)-1) return 1;
    while (left > 0) {
        char *op;
        size_t ol = 4 * left + 16, r;
        if (mv_buf_reserve(out, ol) != 0) { iconv_close(cd); return -1; }
        op = (char *)out->data + out->len;
        r = iconv(cd, &ip, &left, &op, &ol);
        out->len = (size_t)((unsigned char *)op - out->data);
        if (r == (size_t)-1) {
            iconv_close(cd);
            out->len = mark;
            return -1;
        }
    }
    /* flush the shift state (a pending base64 run when encoding) */
    {
        char *op;
        size_t ol = 16;
        if (mv_buf_reserve(out, ol) != 0) { iconv_close(cd); return -1; }
        op = (char *)out->data + out->len;
        if (iconv(cd, NULL, NULL, &op, &ol) == (size_t)-1) {
            iconv_close(cd);
            out->len = mark;
            return -1;
        }
        out->len = (size_t)((unsigned char *)op - out->data);
    }
    iconv_close(cd);
    return 0;
}

int imap_utf7_decode(const char *s, size_t n, mv_buf *out)
{
    int r = with_iconv("UTF-8", "UTF-7-IMAP", s, n, out);
    return r == 1 ? imap_utf7_decode_own(s, n, out) : r;
}

int imap_utf7_encode(const char *s, size_t n, mv_buf *out)
{
    int r = with_iconv("UTF-7-IMAP", "UTF-8", s, n, out);
    return r == 1 ? imap_utf7_encode_own(s, n, out) : r;
}
