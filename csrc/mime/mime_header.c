#include "mime_header.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_codec.h"

#define LINE_SOFT 78
#define EW_BYTES 45     /* 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" = 72 <= 75 */

static int is_ws(unsigned char c) { return c == ' ' || c == '\t'; }

int mv_hdr_name_ok(const char *name, size_t n)
{
    size_t i;
    if (n == 0 || n > 76) return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 33 || c > 126 || c == ':') return 0;
    }
    return 1;
}

int mv_hdr_value_ok(const char *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return 0;
    }
    return 1;
}

/* ---- folding writer ---------------------------------------------------------------- */

typedef struct folder {
    mv_buf *out;
    size_t col;
    int first;     /* nothing written after "Name:" yet */
} folder;

static int fold_start(folder *f, mv_buf *out, const char *name)
{
    f->out = out;
    f->first = 1;
    f->col = strlen(name) + 1;
    if (mv_buf_append_str(out, name) != 0 || mv_buf_append(out, ":", 1) != 0) return -1;
    return 0;
}

/* Writes whitespace then a word; folds before the whitespace when the line would grow
 * past 78 columns (a fold is CRLF inserted before existing whitespace, so unfolding
 * gives back exactly the same text). */
static int fold_put(folder *f, const char *ws, size_t wsn, const char *w, size_t wn)
{
    if (wsn == 0) { ws = " "; wsn = 1; }
    if (!f->first && f->col + wsn + wn > LINE_SOFT) {
        if (mv_buf_append(f->out, "\r\n", 2) != 0) return -1;
        f->col = 0;
    }
    if (mv_buf_append(f->out, ws, wsn) != 0 || mv_buf_append(f->out, w, wn) != 0) return -1;
    f->col += wsn + wn;
    f->first = 0;
    return 0;
}

static int fold_end(folder *f)
{
    return mv_buf_append(f->out, "\r\n", 2);
}

/* Encodes p[0..n) as B encoded-words, each whole UTF-8 characters only. */
static int put_encoded(folder *f, const char *ws, size_t wsn, const unsigned char *p, size_t n)
{
    char word[96];
    size_t i = 0;
    while (i < n) {
        /* Fill the rest of the current line when at least a few characters fit. */
        size_t room = f->col + wsn + 12 < LINE_SOFT ? (LINE_SOFT - f->col - wsn - 12) / 4 * 3 : 0;
        size_t lim = room >= 6 && room < EW_BYTES ? room : EW_BYTES;
        size_t k = n - i < lim ? n - i : lim, len;
        if (k < n - i) {
            /* Back off to a character boundary. */
            size_t k0 = k;
            while (k > 0 && (p[i + k] & 0xc0) == 0x80) k--;
            if (k == 0) k = k0;
        }
        memcpy(word, "=?UTF-8?B?", 10);
        len = 10 + mv_b64_encode(p + i, k, word + 10, 0);
        word[len++] = '?';
        word[len++] = '=';
        if (fold_put(f, ws, wsn, word, len) != 0) return -1;
        ws = " ";
        wsn = 1;
        i += k;
    }
    return 0;
}

static int word_needs_encoding(const char *w, size_t n, int text)
{
    size_t i;
    if (!text) return 0;
    if (n > 900) return 1;   /* too long for a line: encoded-words can be split */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c >= 0x80 || c < 0x20 || c == 0x7f) return 1;
        if (c == '=' && i + 1 < n && w[i + 1] == '?') return 1;
    }
    return 0;
}

static int write_folded(mv_buf *out, const char *name, const char *v, size_t n, int text)
{
    folder f;
    size_t i = 0;
    int prev_enc = 0;
    if (fold_start(&f, out, name) != 0) return -1;
    while (i < n) {
        size_t ws = i, w, we;
        while (i < n && is_ws((unsigned char)v[i])) i++;
        w = i;
        while (i < n && !is_ws((unsigned char)v[i])) i++;
        we = i;
        if (w == we) {
            /* Trailing blanks would be lost to unfolding: carry them in an encoded-word
             * (after an encoded-word the separating blank is dropped by decoders). */
            const unsigned char *b = (const unsigned char *)v + ws;
            if (text && prev_enc) {
                if (put_encoded(&f, "", 0, b, w - ws) != 0) return -1;
            } else if (text && w - ws >= 2) {
                if (put_encoded(&f, v + ws, 1, b + 1, w - ws - 1) != 0) return -1;
            } else if (mv_buf_append(out, v + ws, w - ws) != 0) {
                return -1;
            }
            break;
        }
        if (word_needs_encoding(v + w, we - w, text)) {
            /* Extend the run over following words that need encoding too, so the
             * blanks between them are carried inside the encoded text. */
            size_t j = we;
            for (;;) {
                size_t k = j, ks;
                while (k < n && is_ws((unsigned char)v[k])) k++;
                ks = k;
                while (k < n && !is_ws((unsigned char)v[k])) k++;
                if (ks == k || !word_needs_encoding(v + ks, k - ks, text)) break;
                j = k;
                we = k;
            }
            if (put_encoded(&f, v + ws, w - ws, (const unsigned char *)v + w, we - w) != 0)
                return -1;
            prev_enc = 1;
            i = we;
        } else {
            if (fold_put(&f, v + ws, w - ws, v + w, we - w) != 0) return -1;
            prev_enc = 0;
        }
    }
    if (f.first && mv_buf_append(out, " ", 1) != 0) return -1;
    return fold_end(&f);
}

int mv_hdr_write_text(mv_buf *out, const char *name, const char *v, size_t n)
{
    return write_folded(out, name, v, n, 1);
}

int mv_hdr_write_raw(mv_buf *out, const char *name, const char *v, size_t n)
{
    return write_folded(out, name, v, n, 0);
}

/* ---- RFC 2047 decoding ------------------------------------------------------------- */

/* Where the encoded-word scan of one value stands.  The end of an encoded-text is the
 * first "?=" or blank after its start; both are found once and kept, so that a value
 * of many "=?" that never end ("=?x?B?A" repeated) is read in one pass instead of once
 * from every "=?" to the end of the value. */
typedef struct ew_scan {
    size_t qe;      /* the first "?=" after the last search start, or n; 0: none yet */
    size_t ws;      /* the first blank after the last search start, or n; 0: none yet */
} ew_scan;

unsigned long *mv_hdr_work;

/* The first "?=" at or after `at`.  The starts asked for never decrease, so a position
 * found from an earlier start that is still at or after `at` is the answer. */
static size_t next_qe(ew_scan *sc, const char *v, size_t n, size_t at)
{
    size_t j = at;
    if (sc->qe >= at) return sc->qe;
    while (j + 1 < n && !(v[j] == '?' && v[j + 1] == '=')) j++;
    if (mv_hdr_work != NULL) *mv_hdr_work += j - at + 1;
    sc->qe = j + 1 < n ? j : n;
    return sc->qe;
}

static size_t next_ws(ew_scan *sc, const char *v, size_t n, size_t at)
{
    size_t j = at;
    if (sc->ws >= at) return sc->ws;
    while (j < n && !is_ws((unsigned char)v[j])) j++;
    if (mv_hdr_work != NULL) *mv_hdr_work += j - at + 1;
    sc->ws = j;
    return j;
}

/* Recognises =?charset?X?text?= at v[i]; fills the parts and returns its length.  The
 * encoded-text ends at the first "?=" (a '?' inside it is tolerated, as Python and
 * GMime do) and never spans a blank. */
static size_t match_ew(ew_scan *sc, const char *v, size_t n, size_t i, size_t *cs,
                       size_t *csn, char *enc, size_t *tx, size_t *txn)
{
    size_t j = i + 2, q1, q2;
    if (i + 8 > n || v[i] != '=' || v[i + 1] != '?') return 0;
    while (j < n && v[j] != '?' && !is_ws((unsigned char)v[j]) && j - i < 80) j++;
    if (mv_hdr_work != NULL) *mv_hdr_work += j - i;
    if (j + 3 >= n || v[j] != '?' || j == i + 2) return 0;
    q1 = j;
    if (v[q1 + 2] != '?') return 0;
    *enc = v[q1 + 1];
    if (*enc != 'B' && *enc != 'b' && *enc != 'Q' && *enc != 'q') return 0;
    q2 = next_qe(sc, v, n, q1 + 3);
    if (q2 >= n || next_ws(sc, v, n, q1 + 3) < q2) return 0;
    *cs = i + 2;
    *csn = q1 - (i + 2);
    *tx = q1 + 3;
    *txn = q2 - (q1 + 3);
    return q2 + 2 - i;
}

/* Converts pending encoded bytes (one charset) and appends them. */
static int flush_pending(mv_buf *out, mv_buf *pend, const char *cs, int *defects)
{
    int r = 0;
    if (pend->len > 0) r = mv_charset_to_utf8(cs, pend->data, pend->len, out, defects);
    pend->len = 0;
    return r < 0 ? -1 : 0;
}

/* Text outside encoded words: UTF-8 as it is, anything else read as Latin-1 (a
 * defect). */
static int append_literal(mv_buf *out, const char *p, size_t n, int *bad)
{
    if (mv_utf8_valid((const unsigned char *)p, n)) return mv_buf_append(out, p, n);
    (*bad)++;
    return mv_charset_to_utf8("iso-8859-1", (const unsigned char *)p, n, out, bad) < 0 ? -1
                                                                                       : 0;
}

/* The charset of the word at v[csb..csb+csn) (an RFC 2231 "*lang" dropped): when it
 * differs from cs[64], the bytes pending in the old one are converted first. */
static int word_charset(const char *v, size_t csb, size_t csn, char *cs, mv_buf *tmp,
                        mv_buf *pend, int *bad)
{
    char ncs[64];
    size_t m = csn < sizeof ncs - 1 ? csn : sizeof ncs - 1, star;
    memcpy(ncs, v + csb, m);
    ncs[m] = '\0';
    for (star = 0; star < m; star++) if (ncs[star] == '*') ncs[star] = '\0';
    if (strcasecmp(ncs, cs) == 0) return 0;
    if (flush_pending(tmp, pend, cs, bad) != 0) return -1;
    memcpy(cs, ncs, sizeof ncs);
    return 0;
}

/* An encoded word's text, B or Q decoded, appended to the pending bytes. */
static int decode_word(mv_buf *pend, char enc, const char *t, size_t n, int *bad)
{
    if (mv_buf_reserve(pend, n + 3) != 0) return -1;
    if (enc == 'B' || enc == 'b') pend->len += mv_b64_decode(t, n, pend->data + pend->len, bad);
    else pend->len += mv_q_decode(t, n, pend->data + pend->len, bad);
    return 0;
}

int mv_hdr_decode_text(const char *v, size_t n, mv_buf *out, int *defects)
{
    mv_buf tmp, pend;
    char cs[64] = "";
    size_t i = 0, lit = 0;
    int prev_ew = 0, rc = -1, bad = 0;
    long fixes;
    ew_scan sc = {0, 0};   /* every search starts past 0 */
    mv_buf_init(&tmp);
    mv_buf_init(&pend);
    while (i < n) {
        size_t csb, csn, tx, txn, len, k;
        char enc;
        len = match_ew(&sc, v, n, i, &csb, &csn, &enc, &tx, &txn);
        if (len == 0) { i++; continue; }
        /* Literal text before this word; blanks between two words are dropped. */
        k = lit;
        while (k < i && is_ws((unsigned char)v[k])) k++;
        if (!(prev_ew && k == i) && lit < i &&
            (flush_pending(&tmp, &pend, cs, &bad) != 0 ||
             append_literal(&tmp, v + lit, i - lit, &bad) != 0)) goto cleanup;
        if (len > 75) bad++;
        if (word_charset(v, csb, csn, cs, &tmp, &pend, &bad) != 0 ||
            decode_word(&pend, enc, v + tx, txn, &bad) != 0) goto cleanup;
        i += len;
        lit = i;
        prev_ew = 1;
    }
    if (flush_pending(&tmp, &pend, cs, &bad) != 0) goto cleanup;
    if (lit < n && append_literal(&tmp, v + lit, n - lit, &bad) != 0) goto cleanup;
    /* Whatever the words decoded to, no control byte reaches the caller. */
    fixes = mv_utf8_sanitize(tmp.data, tmp.len, 1, out);
    if (fixes < 0) goto cleanup;
    bad += (int)(fixes > 0);
    rc = 0;
cleanup:
    if (defects != NULL) *defects += bad;
    mv_buf_free(&tmp);
    mv_buf_free(&pend);
    return rc;
}

char *mv_hdr_unfold(const char *v, size_t n)
{
    char *p = malloc(n + 1), *o;
    size_t i;
    if (p == NULL) return NULL;
    o = p;
    for (i = 0; i < n; i++) if (v[i] != '\r' && v[i] != '\n') *o++ = v[i];
    while (o > p && is_ws((unsigned char)o[-1])) o--;
    *o = '\0';
    o = p;
    while (is_ws((unsigned char)*o)) o++;
    if (o != p) memmove(p, o, strlen(o) + 1);
    return p;
}

int mv_hdr_unfold_decode(const char *v, size_t n, mv_buf *out, int *defects)
{
    size_t i, o = 0;
    int r;
    char *u = malloc(n + 1);
    if (u == NULL) return -1;
    for (i = 0; i < n; i++) if (v[i] != '\r' && v[i] != '\n') u[o++] = v[i];
    i = 0;
    while (i < o && is_ws((unsigned char)u[i])) i++;
    while (o > i && is_ws((unsigned char)u[o - 1])) o--;
    r = mv_hdr_decode_text(u + i, o - i, out, defects);
    free(u);
    return r;
}
