#include "mime_codec.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


/* AVX2 decoder for runs of 32 alphabet characters (24 bytes out), chosen at run time:
 * the classification and packing of Mula and Lemire ("Faster Base64 Encoding and
 * Decoding using AVX2 Instructions", 2018).  A block holding anything else (a line
 * break, '=', damage) is left to the scalar code, so the result is the same. */
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__) && !defined(MISSIVE_NO_SIMD)
#include <immintrin.h>
#define B64_AVX2 1
static int b64_have_avx2;

__attribute__((target("avx2")))
static size_t b64_dec_avx2(const unsigned char *in, size_t n, unsigned char *out)
{
    const __m256i lut_lo = _mm256_setr_epi8(
        0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B,
        0x1B, 0x1A, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A,
        0x1B, 0x1B, 0x1B, 0x1A);
    const __m256i lut_hi = _mm256_setr_epi8(
        0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
        0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
        0x10, 0x10, 0x10, 0x10);
    const __m256i lut_roll = _mm256_setr_epi8(
        0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i mask_2f = _mm256_set1_epi8(0x2f), mask_0f = _mm256_set1_epi8(0x0f);
    const __m256i pack_shuf = _mm256_setr_epi8(
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    size_t i = 0;
    unsigned char tmp[32];
    while (n - i >= 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(in + i));
        __m256i hi_nib = _mm256_and_si256(_mm256_srli_epi32(v, 4), mask_0f);
        __m256i lo_nib = _mm256_and_si256(v, mask_0f);
        __m256i lo = _mm256_shuffle_epi8(lut_lo, lo_nib);
        __m256i hi = _mm256_shuffle_epi8(lut_hi, hi_nib);
        __m256i eq_2f, roll, ab, abc;
        if (!_mm256_testz_si256(lo, hi)) break;
        eq_2f = _mm256_cmpeq_epi8(v, mask_2f);
        roll = _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(eq_2f, hi_nib));
        v = _mm256_add_epi8(v, roll);
        ab = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
        abc = _mm256_madd_epi16(ab, _mm256_set1_epi32(0x00011000));
        abc = _mm256_shuffle_epi8(abc, pack_shuf);
        _mm256_storeu_si256((__m256i *)(void *)tmp, abc);
        memcpy(out, tmp, 12);
        memcpy(out + 12, tmp + 16, 12);
        out += 24;
        i += 32;
    }
    return i;
}
#endif

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for the alphabet, 64 for '=', 65 for whitespace, 66 for anything else. */
static unsigned char b64_rev[256];
/* Encoder: two output characters for every 12-bit input value (8 KB). */
static unsigned char b64_enc12[4096][2];
/* Wide decoder: each character's 6 bits pre-shifted to its place in a 4-character group,
 * so a group is four loads and three ORs; B64_BAD marks anything outside the alphabet. */
#define B64_BAD 0x80000000u
static uint32_t b64_dec[4][256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_init(void)
{
    int i, j;
    memset(b64_rev, 66, sizeof b64_rev);
    for (i = 0; i < 64; i++) b64_rev[(unsigned char)b64_alphabet[i]] = (unsigned char)i;
    b64_rev['='] = 64;
    b64_rev[' '] = b64_rev['\t'] = b64_rev['\r'] = b64_rev['\n'] = 65;
    for (i = 0; i < 4096; i++) {
        b64_enc12[i][0] = (unsigned char)b64_alphabet[i >> 6];
        b64_enc12[i][1] = (unsigned char)b64_alphabet[i & 63];
    }
    for (j = 0; j < 4; j++)
        for (i = 0; i < 256; i++)
            b64_dec[j][i] = b64_rev[i] < 64 ? (uint32_t)b64_rev[i] << (18 - 6 * j) : B64_BAD;
#ifdef B64_AVX2
    __builtin_cpu_init();
    b64_have_avx2 = __builtin_cpu_supports("avx2") && getenv("MISSIVE_NO_SIMD") == NULL;
#endif
}

size_t mv_b64_encoded_len(size_t n, int wrap)
{
    size_t len = (n + 2) / 3 * 4;
    if (wrap && len > 0) len += (len - 1) / 76 * 2;
    return len;
}

static inline uint64_t load_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(v);
#else
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
           (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
           (uint64_t)p[6] << 8 | p[7];
#endif
}

/* Encodes `groups` whole 3-byte groups from in (end: the end of the caller's input, so
 * 8-byte loads never read past it); returns the new output position. */
static char *b64_enc_groups(const unsigned char *in, size_t groups, const unsigned char *end,
                            char *o)
{
    /* 6 input bytes -> 8 characters per 64-bit load (two bytes of the load unused). */
    while (groups >= 4 && (size_t)(end - in) >= 14) {
        uint64_t a = load_be64(in), b = load_be64(in + 6);
        memcpy(o + 0, b64_enc12[a >> 52], 2);
        memcpy(o + 2, b64_enc12[(a >> 40) & 0xfff], 2);
        memcpy(o + 4, b64_enc12[(a >> 28) & 0xfff], 2);
        memcpy(o + 6, b64_enc12[(a >> 16) & 0xfff], 2);
        memcpy(o + 8, b64_enc12[b >> 52], 2);
        memcpy(o + 10, b64_enc12[(b >> 40) & 0xfff], 2);
        memcpy(o + 12, b64_enc12[(b >> 28) & 0xfff], 2);
        memcpy(o + 14, b64_enc12[(b >> 16) & 0xfff], 2);
        in += 12;
        o += 16;
        groups -= 4;
    }
    while (groups > 0) {
        unsigned v = (unsigned)in[0] << 16 | (unsigned)in[1] << 8 | in[2];
        memcpy(o, b64_enc12[v >> 12], 2);
        memcpy(o + 2, b64_enc12[v & 0xfff], 2);
        in += 3;
        o += 4;
        groups--;
    }
    return o;
}

size_t mv_b64_encode(const unsigned char *in, size_t n, char *out, int wrap)
{
    char *o = out;
    size_t i = 0, col = 0, groups = n / 3;
    const unsigned char *end;
    if (n == 0) return 0;   /* in may be NULL then (an empty buffer's head) */
    end = in + n;
    pthread_once(&b64_once, b64_init);
    if (!wrap) {
        o = b64_enc_groups(in, groups, end, o);
        i = groups * 3;
    } else {
        /* 19 groups (57 bytes) make one 76-character line. */
        while (groups > 0) {
            size_t g = groups < 19 ? groups : 19;
            if (col == 76) { *o++ = '\r'; *o++ = '\n'; }
            o = b64_enc_groups(in + i, g, end, o);
            i += 3 * g;
            groups -= g;
            col = 4 * g;
        }
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        if (wrap && col == 76) { *o++ = '\r'; *o++ = '\n'; }
        o[0] = b64_alphabet[v >> 18];
        o[1] = b64_alphabet[(v >> 12) & 63];
        o[2] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

/* Whole 32-character blocks through AVX2 when there is one (between groups only). */
#ifdef B64_AVX2
#define B64_SIMD_TRY() do { \
        if (b64_have_avx2 && n - i >= 32) { \
            size_t took_ = b64_dec_avx2(in + i, n - i, o); \
            i += took_; \
            o += took_ / 4 * 3; \
        } \
    } while (0)
#else
#define B64_SIMD_TRY() do { } while (0)
#endif

void mv_b64_dec_init(mv_b64_dec *st)
{
    memset(st, 0, sizeof *st);
}

/* The decoder, resumable at any byte: the group in progress lives in *st.  Whole groups
 * of alphabet characters take the fast paths; line breaks, padding and damage go one
 * character at a time.  The rules are those of Python's binascii.a2b_base64: a '=' that
 * completes a group of 2 or 3 characters ends the data (GMime and Python ignore what
 * follows, so a part with a second base64 text appended decodes to the first); any
 * other '=' is skipped.  One function on purpose (about 90 lines): the fast paths and the
 * character-at-a-time path share the group state in registers, and this loop is base64
 * decoding's speed (bench/mime_codecs.lua). */
size_t mv_b64_dec_step(mv_b64_dec *st, const char *src, size_t n, unsigned char *out,
                       int *defects)
{
    const unsigned char *in = (const unsigned char *)src;
    const uint32_t *d0 = b64_dec[0], *d1 = b64_dec[1], *d2 = b64_dec[2], *d3 = b64_dec[3];
    unsigned char *o = out;
    unsigned v = st->v;
    int k = st->k, pads = st->pads, bad = 0;
    size_t i = 0;
    pthread_once(&b64_once, b64_init);
    while (i < n && !st->done) {
        unsigned c;
        if (k == 0) {
            B64_SIMD_TRY();
            /* Fast path: whole groups of alphabet characters, 8 at a time. */
            while (n - i >= 8) {
                uint32_t a = d0[in[i]] | d1[in[i + 1]] | d2[in[i + 2]] | d3[in[i + 3]];
                uint32_t b = d0[in[i + 4]] | d1[in[i + 5]] | d2[in[i + 6]] | d3[in[i + 7]];
                if ((a | b) & B64_BAD) {
                    /* A line break between groups changes nothing: skip it here. */
                    if (in[i] == '\r' && in[i + 1] == '\n') {
                        i += 2;
                        B64_SIMD_TRY();
                        continue;
                    }
                    break;
                }
                o[0] = (unsigned char)(a >> 16);
                o[1] = (unsigned char)(a >> 8);
                o[2] = (unsigned char)a;
                o[3] = (unsigned char)(b >> 16);
                o[4] = (unsigned char)(b >> 8);
                o[5] = (unsigned char)b;
                o += 6;
                i += 8;
            }
            if (n - i >= 4) {
                uint32_t a = d0[in[i]] | d1[in[i + 1]] | d2[in[i + 2]] | d3[in[i + 3]];
                if (!(a & B64_BAD)) {
                    o[0] = (unsigned char)(a >> 16);
                    o[1] = (unsigned char)(a >> 8);
                    o[2] = (unsigned char)a;
                    o += 3;
                    i += 4;
                    continue;
                }
            }
            if (i >= n) break;
        }
        /* One character at a time: line breaks, padding, damage. */
        c = b64_rev[in[i++]];
        if (c < 64) {
            v = v << 6 | c;
            pads = 0;
            if (++k == 4) {
                o[0] = (unsigned char)(v >> 16);
                o[1] = (unsigned char)(v >> 8);
                o[2] = (unsigned char)v;
                o += 3;
                v = 0;
                k = 0;
            }
        } else if (c == 64) {
            if (k < 2) {
                bad++;      /* a '=' that cannot pad anything: skipped */
            } else if (k + ++pads >= 4) {
                if (k == 2) *o++ = (unsigned char)(v >> 4);
                else { o[0] = (unsigned char)(v >> 10); o[1] = (unsigned char)(v >> 2); o += 2; }
                v = 0;
                k = pads = 0;
                st->done = 1;
            }
        } else if (c == 66) {
            bad++;
        }
    }
    /* After the end of the data: anything but blanks and line breaks is a defect (once). */
    if (st->done == 1) {
        for (; i < n; i++) {
            if (b64_rev[in[i]] != 65) { bad++; st->done = 2; break; }
        }
    }
    st->v = v;
    st->k = k;
    st->pads = pads;
    if (defects != NULL) *defects += bad;
    return (size_t)(o - out);
}

size_t mv_b64_dec_end(mv_b64_dec *st, unsigned char *out, int *defects)
{
    size_t len = 0;
    if (st->k == 2) { out[0] = (unsigned char)(st->v >> 4); len = 1; }
    else if (st->k == 3) { out[0] = (unsigned char)(st->v >> 10);
                           out[1] = (unsigned char)(st->v >> 2); len = 2; }
    if (st->k != 0 && defects != NULL) (*defects)++;
    st->v = 0;
    st->k = st->pads = 0;
    return len;
}

size_t mv_b64_decode(const char *src, size_t n, unsigned char *out, int *defects)
{
    mv_b64_dec st;
    size_t len;
    mv_b64_dec_init(&st);
    len = mv_b64_dec_step(&st, src, n, out, defects);
    return len + mv_b64_dec_end(&st, out + len, defects);
}

/* Line breaks the strict decoder skips, as mbedTLS's decoder does: LF, CRLF, and blanks
 * that end a line or the input.  The length skipped at i, or 0. */
static size_t strict_skip(const unsigned char *in, size_t n, size_t i)
{
    size_t j = i;
    while (j < n && in[j] == ' ') j++;
    if (j == n) return j - i;
    if (in[j] == '\n') return j + 1 - i;
    if (in[j] == '\r' && j + 1 < n && in[j + 1] == '\n') return j + 2 - i;
    return 0;
}

int mv_b64_decode_strict(const char *src, size_t n, unsigned char *out, size_t *olen)
{
    const unsigned char *in = (const unsigned char *)src;
    size_t i = 0, k = 0, pads = 0, skip;
    pthread_once(&b64_once, b64_init);
    while (i < n) {
        unsigned c;
        if ((skip = strict_skip(in, n, i)) > 0) { i += skip; continue; }
        c = b64_rev[in[i++]];
        if (c > 64 || (c < 64 && pads > 0) || (c == 64 && ++pads > 2)) return -1;
        k++;
    }
    if (k % 4 != 0) return -1;   /* a truncated group: refused, never cut short */
    *olen = mv_b64_decode(src, n, out, NULL);
    return 0;
}

static const char hexdig[] = "0123456789ABCDEF";

/* Bytes that quoted-printable copies as they are wherever they stand on a line (33..126
 * except '='); blanks and 'F' ("From ") depend on their neighbours. */
static const unsigned char qp_safe[256] = {
#define S16(a) a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a
    S16(0), S16(0),
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x20: ' ' is 0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1,   /* 0x30: '=' is 0 */
    S16(1), S16(1), S16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,   /* 0x70: DEL is 0 */
    S16(0), S16(0), S16(0), S16(0), S16(0), S16(0), S16(0), S16(0)
#undef S16
};

#define QP_SEG 16384
/* Bytes of input that decide how the bytes before them are encoded ("From "). */
#define QP_LOOKAHEAD 5
#define QP_ONES 0x0101010101010101ull
#define QP_HIGHS 0x8080808080808080ull

/* qp_safe plus the space: what the run copier takes (a trailing space is checked after). */
static unsigned char qp_run[256];
static pthread_once_t qp_once = PTHREAD_ONCE_INIT;

static void qp_init(void)
{
    memcpy(qp_run, qp_safe, sizeof qp_run);
    qp_run[' '] = 1;
}

size_t mv_qp_encoded_max(size_t n)
{
    /* 3 characters per byte, and a 3-character soft break per >= 72 of them. */
    if (n > ((size_t)-1 - 16) / 4) return (size_t)-1;
    return 3 * n + n / 8 + 16;
}

/* Encodes in[*pi..limit) at column *col, reading up to n for what follows (a blank
 * before a line end, "From ", CRLF), into o, which has room for the worst case.  One
 * function on purpose (about 70 lines): it is QP encoding's per-byte loop
 * (bench/mime_codecs.lua), kept whole so the column and output pointer stay in registers. */
static unsigned char *qp_enc(const unsigned char *in, size_t n, size_t *pi, size_t limit,
                             int text, size_t *pcol, unsigned char *o)
{
    size_t i = *pi, col = *pcol;
    pthread_once(&qp_once, qp_init);
    while (i < limit) {
        unsigned char c = in[i];
        int lit, last;
        size_t w;
        if (col < 75 && qp_run[c] && (c != 'F' || col != 0)) {
            /* A run of bytes that stand for themselves (printable ASCII but '=', and
             * the space), up to the soft-break column: eight bytes per step. */
            size_t lim = i + (75 - col), j = i;
            if (lim > limit) lim = limit;
            while (lim - j >= 8) {
                uint64_t v;
                memcpy(&v, in + j, 8);
                if (((v - QP_ONES * 0x20) | (v + QP_ONES) | v |
                     ((v ^ QP_ONES * '=') - QP_ONES)) & QP_HIGHS)
                    break;
                memcpy(o + (j - i), &v, 8);
                j += 8;
            }
            while (j < lim && qp_run[in[j]]) { o[j - i] = in[j]; j++; }
            /* A blank is literal only when something other than a line end follows. */
            if (in[j - 1] == ' ' && (j == n || (text && (in[j] == '\r' || in[j] == '\n'))))
                j--;
            if (j > i) {
                o += j - i;
                col += j - i;
                i = j;
                continue;
            }
        }
        if (text && (c == '\n' || c == '\r')) {
            if (c == '\r' && i + 1 < n && in[i + 1] == '\n') i++;
            *o++ = '\r';
            *o++ = '\n';
            col = 0;
            i++;
            continue;
        }
        lit = (c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t';
        /* Blanks before a line end (or the end) must be encoded to survive transport. */
        last = i + 1 == n || (text && (in[i + 1] == '\r' || in[i + 1] == '\n'));
        if ((c == ' ' || c == '\t') && last) lit = 0;
        /* A dot alone at the start of a line is harmless with dot-stuffing, but "From "
         * is mangled by some mboxes: encode its F. */
        if (c == 'F' && col == 0 && i + 5 <= n && memcmp(in + i, "From ", 5) == 0) lit = 0;
        w = lit ? 1 : 3;
        /* Keep room for the soft-break '=' unless this is the last char of the line. */
        if (col + w > (last ? 76u : 75u)) {
            o[0] = '=';
            o[1] = '\r';
            o[2] = '\n';
            o += 3;
            col = 0;
        }
        if (lit) {
            *o++ = c;
        } else {
            o[0] = '=';
            o[1] = (unsigned char)hexdig[c >> 4];
            o[2] = (unsigned char)hexdig[c & 15];
            o += 3;
        }
        col += w;
        i++;
    }
    *pi = i;
    *pcol = col;
    return o;
}

size_t mv_qp_encode_to(const unsigned char *in, size_t n, int text, char *out)
{
    size_t i = 0, col = 0;
    unsigned char *o = (unsigned char *)out;
    return (size_t)(qp_enc(in, n, &i, n, text, &col, o) - o);
}

size_t mv_qp_encode_part(const unsigned char *in, size_t n, int text, int last,
                         size_t *col, size_t *used, char *out)
{
    size_t i = 0, limit = n;
    unsigned char *o = (unsigned char *)out;
    /* What follows the last bytes decides how they are written: keep them for later. */
    if (!last) limit = n > QP_LOOKAHEAD ? n - QP_LOOKAHEAD : 0;
    o = qp_enc(in, n, &i, limit, text, col, o);
    *used = i;
    return (size_t)(o - (unsigned char *)out);
}

int mv_qp_encode(const unsigned char *in, size_t n, int text, mv_buf *out)
{
    size_t i = 0, col = 0;
    while (i < n) {
        /* Room for the worst case of one segment, so the encoder writes without checks. */
        size_t seg_end = n - i > QP_SEG ? i + QP_SEG : n;
        if (mv_buf_reserve(out, mv_qp_encoded_max(seg_end - i)) != 0) return -1;
        out->len = (size_t)(qp_enc(in, n, &i, seg_end, text, &col, out->data + out->len) -
                            out->data);
    }
    return 0;
}

/* Hex digit values (either case), -1 for anything else. */
#define HX16(a) a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a
static const signed char hex_val[256] = {
    HX16(-1), HX16(-1), HX16(-1),
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, HX16(-1),
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, HX16(-1),
    HX16(-1), HX16(-1), HX16(-1), HX16(-1), HX16(-1), HX16(-1), HX16(-1), HX16(-1)
};
#undef HX16

/* Bytes the decoder looks at: '=', CR, LF and (RFC 2047 "Q") '_'. */
static const unsigned char qp_special[256] = {
    ['='] = 1, ['\r'] = 1, ['\n'] = 1, ['_'] = 1,
};

/* Nonzero when a byte of v equals c. */
static inline uint64_t has_byte(uint64_t v, unsigned char c)
{
    uint64_t x = v ^ (QP_ONES * c);
    return (x - QP_ONES) & ~x & QP_HIGHS;
}

/* One function on purpose (about 100 lines): it is the per-byte loop of QP decoding
 * (bench/mime_codecs.lua), and its output pointer, line state and word-at-a-time scan
 * stay in registers only while they live in one function. */
static size_t qp_decode(const char *src, size_t n, unsigned char *out, int *defects, int q)
{
    const unsigned char *in = (const unsigned char *)src;
    unsigned char *o = out, *line_out = out;
    size_t i = 0;
    int bad = 0;
    while (i < n) {
        unsigned char c = in[i];
        if (c == '=') {
            size_t j = i + 1;
            int h1, h2;
            if (n - i >= 3) {
                h1 = hex_val[in[i + 1]];
                h2 = hex_val[in[i + 2]];
                if ((h1 | h2) >= 0) {
                    *o++ = (unsigned char)(h1 << 4 | h2);
                    line_out = o;   /* an encoded blank is data, never trimmed */
                    i += 3;
                    continue;
                }
                if (in[i + 1] == '\r' && in[i + 2] == '\n') {  /* the usual soft break */
                    line_out = o;
                    i += 3;
                    continue;
                }
            }
            while (j < n && (in[j] == ' ' || in[j] == '\t')) j++;
            if (j == n) { i = n; continue; }          /* trailing '=': dropped */
            if (in[j] == '\r' || in[j] == '\n') {     /* soft break */
                if (in[j] == '\r' && j + 1 < n && in[j + 1] == '\n') j++;
                i = j + 1;
                /* Blanks before the '=' are data (RFC 2045 6.7 rule 3: only blanks
                 * before a hard line break were added in transport). */
                line_out = o;
                continue;
            }
            bad++;
            *o++ = '=';
            i++;
            continue;
        }
        if (c == '\r' || c == '\n') {
            /* Transport may add blanks at line ends: they are not data. */
            while (o > line_out && (o[-1] == ' ' || o[-1] == '\t')) o--;
            *o++ = c;
            i++;
            if (c == '\r' && i < n && in[i] == '\n') { *o++ = '\n'; i++; }
            line_out = o;
            continue;
        }
        if (!qp_special[c]) {
            /* A run of ordinary bytes, 16 or 8 per step: each block is stored whole (o
             * stays at or before in + j, and j plus the block fits in n, so the room of
             * n bytes holds it) and the output advances to the first special byte. */
            size_t j = i;
            int found = 0;
#if defined(__SSE2__) && defined(__GNUC__)
            /* Sixteen at a time where SSE2 is there (every x86-64). */
            while (n - j >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(in + j));
                __m128i sp = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('=')),
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))),
                    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
                unsigned hit = (unsigned)_mm_movemask_epi8(sp);
                _mm_storeu_si128((__m128i *)(void *)o, v);
                if (hit) {
                    size_t k = (size_t)__builtin_ctz(hit);
                    o += k;
                    j += k;
                    found = 1;
                    break;
                }
                o += 16;
                j += 16;
            }
#endif
            while (!found && n - j >= 8) {
                uint64_t v, hit;
                memcpy(&v, in + j, 8);
                hit = has_byte(v, '=') | has_byte(v, '\r') | has_byte(v, '\n') |
                      has_byte(v, '_');
                memcpy(o, &v, 8);
                if (hit) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                    /* The lowest flag marks the first special byte exactly. */
                    size_t k = (size_t)__builtin_ctzll(hit) >> 3;
                    o += k;
                    j += k;
#endif
                    break;
                }
                o += 8;
                j += 8;
            }
            while (j < n && !qp_special[in[j]]) *o++ = in[j++];
            i = j;
            continue;
        }
        *o++ = (q && c == '_') ? ' ' : c;
        i++;
    }
    if (defects != NULL) *defects += bad;
    return (size_t)(o - out);
}

size_t mv_qp_decode(const char *in, size_t n, unsigned char *out, int *defects)
{
    return qp_decode(in, n, out, defects, 0);
}

size_t mv_q_decode(const char *in, size_t n, unsigned char *out, int *defects)
{
    return qp_decode(in, n, out, defects, 1);
}

size_t mv_utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0;     /* overlong */
        if (c == 0xed && p[1] >= 0xa0) return 0;    /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90) return 0;
        if (c == 0xf4 && p[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

int mv_utf8_valid(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k;
        if (p[i] < 0x80) { i++; continue; }
        k = mv_utf8_seq(p + i, n - i);
        if (k == 0) return 0;
        i += k;
    }
    return 1;
}

long mv_utf8_sanitize(const unsigned char *p, size_t n, int controls, mv_buf *out)
{
    static const char repl[] = "\xef\xbf\xbd";
    size_t i = 0, run = 0;
    long fixes = 0;
    if (mv_buf_reserve(out, n) != 0) return -1;
    while (i < n) {
        unsigned char c = p[i];
        size_t k = c < 0x80 ? 1 : mv_utf8_seq(p + i, n - i);
        int bad = k == 0 || (controls && (c < 0x20 || c == 0x7f) && c != '\t');
        if (!bad) { i += k; run += k; continue; }
        if (run > 0 && mv_buf_append(out, p + i - run, run) != 0) return -1;
        run = 0;
        if (mv_buf_append(out, repl, 3) != 0) return -1;
        fixes++;
        i += k ? k : 1;
    }
    /* p may be NULL when n == 0 (an empty buffer): no arithmetic on it then. */
    if (run > 0 && mv_buf_append(out, p + i - run, run) != 0) return -1;
    return fixes;
}
