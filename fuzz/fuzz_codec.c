/* Transfer-encoding codecs: lenient base64 / QP / Q decoders write within the output
 * size their header documents (exact heap buffers, so ASan sees one byte too many);
 * encode-then-decode gives the input back; the resumable base64 decoder and QP encoder
 * fed in pieces give what one call gives; the strict SASL base64; UTF-8 sanitising;
 * charset conversion under labels of every kind gives valid UTF-8. */
#include "fuzz_common.h"

#include "mime_codec.h"
#include "mv_sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned which = fz_byte(&in);
    const char *s = (const char *)in.p;
    size_t n = in.n, cap, got;
    unsigned char *out;
    int defects = 0;
    mv_buf b;

    switch (which % 8) {
    case 6: {   /* base64 decoded in pieces (sizes from the input) equals one call */
        size_t cut = n ? (size_t)(which * 7919u) % (n + 1) : 0, whole, got = 0, i = 0;
        unsigned char *a = malloc(n * 3 / 4 + 3), *c = malloc(n * 3 / 4 + 8);
        int d1 = 0, d2 = 0;
        mv_b64_dec st;
        FZ_ASSERT(a != NULL && c != NULL);
        whole = mv_b64_decode(s, n, a, &d1);
        mv_b64_dec_init(&st);
        while (i < n) {     /* pieces of `cut`, `cut / 3`, ... bytes (at least 1) */
            size_t k = cut / (1 + i % 3) + 1;
            if (k > n - i) k = n - i;
            got += mv_b64_dec_step(&st, s + i, k, c + got, &d2);
            i += k;
        }
        got += mv_b64_dec_end(&st, c + got, &d2);
        FZ_ASSERT(got == whole && (got == 0 || memcmp(a, c, got) == 0));
        FZ_ASSERT((d1 > 0) == (d2 > 0));
        free(a);
        free(c);
        break;
    }
    case 7: {   /* quoted-printable encoded in pieces equals one call */
        int text = which & 0x10;
        size_t max = mv_qp_encoded_max(n), whole, len = 0, col = 0, used, i = 0, step, end = 0;
        char *a = malloc(max), *c = malloc(max + 64);
        FZ_ASSERT(a != NULL && c != NULL);
        whole = mv_qp_encode_to(in.p, n, text, a);
        step = (which >> 5) + 1;
        while (1) {     /* what a piece leaves is passed again with the next bytes */
            end = end + step < n ? end + step : n;
            len += mv_qp_encode_part(in.p + i, end - i, text, end == n, &col, &used, c + len);
            i += used;
            if (end == n) break;
        }
        FZ_ASSERT(i == n && len == whole && (len == 0 || memcmp(a, c, len) == 0));
        free(a);
        free(c);
        break;
    }
    case 0:
        cap = n * 3 / 4 + 3;
        out = malloc(cap);
        FZ_ASSERT(out != NULL);
        got = mv_b64_decode(s, n, out, &defects);
        FZ_ASSERT(got <= cap);
        free(out);
        break;
    case 1:
    case 2:
        cap = n > 0 ? n : 1;
        out = malloc(cap);
        FZ_ASSERT(out != NULL);
        got = which % 6 == 1 ? mv_qp_decode(s, n, out, &defects)
                             : mv_q_decode(s, n, out, &defects);
        FZ_ASSERT(got <= n);
        free(out);
        break;
    case 3: {   /* base64 round trip, wrapped or not */
        int wrap = (which >> 3) & 1;
        size_t elen = mv_b64_encoded_len(n, wrap), dlen;
        char *enc = malloc(elen + 1);
        unsigned char *dec;
        FZ_ASSERT(enc != NULL);
        FZ_ASSERT(mv_b64_encode(in.p, n, enc, wrap) == elen);
        if (wrap) {
            size_t i, col = 0;
            for (i = 0; i < elen; i++) {
                if (enc[i] == '\r') { col = 0; i++; continue; }
                FZ_ASSERT(++col <= 76);
            }
        }
        dec = malloc(elen * 3 / 4 + 3);
        FZ_ASSERT(dec != NULL);
        dlen = mv_b64_decode(enc, elen, dec, &defects);
        FZ_ASSERT(defects == 0 && dlen == n && (n == 0 || memcmp(dec, in.p, n) == 0));
        free(enc);
        free(dec);
        break;
    }
    case 4: {   /* quoted-printable round trip of binary data */
        size_t i, col = 0, dlen;
        unsigned char *dec;
        mv_buf_init(&b);
        FZ_ASSERT(mv_qp_encode(in.p, n, 0, &b) == 0);
        for (i = 0; i < b.len; i++) {
            FZ_ASSERT(b.data[i] < 0x80);
            if (b.data[i] == '\r') { col = 0; i++; continue; }
            FZ_ASSERT(++col <= 76);
        }
        dec = malloc(b.len + 1);
        FZ_ASSERT(dec != NULL);
        dlen = mv_qp_decode((const char *)b.data, b.len, dec, &defects);
        FZ_ASSERT(dlen == n && (n == 0 || memcmp(dec, in.p, n) == 0));
        free(dec);
        mv_buf_free(&b);
        break;
    }
    default:
        mv_buf_init(&b);
        (void)mv_b64_decode_buf(s, n, &b);
        mv_buf_reset(&b);
        FZ_ASSERT(mv_utf8_sanitize(in.p, n, 1, &b) >= 0);
        FZ_ASSERT(mv_utf8_valid(b.data, b.len) && fz_no_controls(b.data, b.len));
        mv_buf_reset(&b);
        {
            static const char *const labels[] = {
                "windows-1252", "iso-2022-jp", "ks_c_5601-1987", "gb2312", "big5", "utf-7",
                "shift_jis", "us-ascii", "", "cp-850", "x-unknown", "utf-16", "euc-jp",
            };
            (void)mv_charset_to_utf8(labels[(which >> 3) % 13], in.p, n, &b, &defects);
        }
        FZ_ASSERT(mv_utf8_valid(b.data, b.len));
        mv_buf_free(&b);
        break;
    }
    return 0;
}
