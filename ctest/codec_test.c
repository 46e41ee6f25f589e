/* C unit tests of the codecs and charset conversion (csrc/mime/mime_codec.c, mime_charset.c):
 * resumable decoders fed in pieces, and memory bounds of the conversion. */
#include "ctest.h"

#include "mime_codec.h"
#include "mime_msg.h"
#include "mv_sasl.h"
#include "mv_str.h"

/* Every split of a base64 text into two pieces decodes as the whole does. */
static void test_b64_pieces(void)
{
    static const char *const in[] = {
        "aGVsbG8gd29ybGQ=", "QUI=QUJD", "QU=JD\r\nQUJD", "QQ=\r\n=\r\nQUJD", "QUJD!QU", "Q",
        "aGVs\r\nbG8=\r\n\r\n", "QUJD==", "=QUJD", "QUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJD",
    };
    size_t t;
    for (t = 0; t < sizeof in / sizeof in[0]; t++) {
        size_t n = strlen(in[t]), cut, whole, got;
        unsigned char a[64], b[64];
        int d1 = 0, d2 = 0;
        whole = mv_b64_decode(in[t], n, a, &d1);
        for (cut = 0; cut <= n; cut++) {
            mv_b64_dec st;
            mv_b64_dec_init(&st);
            d2 = 0;
            got = mv_b64_dec_step(&st, in[t], cut, b, &d2);
            got += mv_b64_dec_step(&st, in[t] + cut, n - cut, b + got, &d2);
            got += mv_b64_dec_end(&st, b + got, &d2);
            CHECK_MEM(a, whole, b, got);
            CHECK((d1 > 0) == (d2 > 0));
        }
    }
}

/* Converting a body reserves about what it writes: a 1 MB windows-1252 text once took
 * twice its size (iconv's output reserved at 2x the input, and wiped up to there). */
static void test_charset_memory(void)
{
    size_t n = 1 << 20, i;
    unsigned char *p = malloc(n);
    mv_buf out;
    int d = 0;
    CHECK(p != NULL);
    if (p == NULL) return;
    for (i = 0; i < n; i++) p[i] = (unsigned char)(i % 50 == 0 ? 0xE9 : 'a' + i % 26);
    mv_buf_init(&out);
    CHECK(mv_charset_to_utf8("windows-1252", p, n, &out, &d) == 0);
    CHECK(d == 0 && out.len == n + n / 50 + 1);
    CHECK(out.hw <= out.len + 64);
    mv_buf_free(&out);
    CHECK(mv_charset_to_utf8("koi8-r", p, n, &out, &d) == 0);
    CHECK(out.hw <= out.len + 4 * 65536 + 16);
    mv_buf_free(&out);
    free(p);
}

/* Labels as the WHATWG Encoding Standard reads them. */
static void test_charset_labels(void)
{
    mv_buf out;
    int d = 0;
    mv_buf_init(&out);
    /* iso-8859-1 is windows-1252: 0x80 is the euro sign, not a C1 control */
    CHECK(mv_charset_to_utf8("ISO-8859-1", (const unsigned char *)"\x80", 1, &out, &d) == 0);
    CHECK_MEM(out.data, out.len, "\xe2\x82\xac", 3);
    mv_buf_reset(&out);
    /* ks_c_5601-1987: a UHC syllable (U+B620) EUC-KR lacks */
    CHECK(mv_charset_to_utf8(" \"KS_C_5601-1987\" ", (const unsigned char *)"\x8c\x63", 2,
                             &out, &d) == 0);
    CHECK_MEM(out.data, out.len, "\xeb\x98\xa0", 3);
    mv_buf_reset(&out);
    /* cp-850 spelled with a hyphen */
    CHECK(mv_charset_to_utf8("cp-850", (const unsigned char *)"\xe1", 1, &out, &d) == 0);
    CHECK_MEM(out.data, out.len, "\xc3\x9f", 2);
    CHECK(d == 0);
    mv_buf_free(&out);
}

static void test_charset_guessed(void)
{
    mv_buf out;
    int d = 0;
    mv_buf_init(&out);
    CHECK(mv_charset_to_utf8(NULL, (const unsigned char *)"caf\xe9", 4, &out, &d) ==
          MV_CS_GUESSED);
    CHECK_MEM(out.data, out.len, "caf\xc3\xa9", 5);
    CHECK(d == 1);
    mv_buf_reset(&out);
    CHECK(mv_charset_to_utf8("us-ascii", (const unsigned char *)"caf\xc3\xa9", 5, &out, &d) ==
          MV_CS_GUESSED);
    CHECK_MEM(out.data, out.len, "caf\xc3\xa9", 5);
    mv_buf_reset(&out);
    CHECK(mv_charset_to_utf8("us-ascii", (const unsigned char *)"cafe", 4, &out, &d) == 0);
    CHECK(d == 2);
    mv_buf_free(&out);
}

/* A multibyte character across the 64 KB pieces iconv is fed in. */
static void test_charset_piece_edge(void)
{
    size_t n = 65536 * 2 + 2, i;
    unsigned char *p = malloc(n);
    mv_buf out;
    int d = 0;
    CHECK(p != NULL);
    if (p == NULL) return;
    p[0] = 'x';     /* shifts every pair by one: one pair straddles 65536 */
    for (i = 1; i + 1 < n; i += 2) { p[i] = 0xB0; p[i + 1] = 0xA1; }   /* EUC-KR U+AC00 */
    p[n - 1] = 'y';
    mv_buf_init(&out);
    CHECK(mv_charset_to_utf8("euc-kr", p, n, &out, &d) == 0);
    CHECK(d == 0);
    CHECK(out.len == 2 + (n - 2) / 2 * 3);
    mv_buf_free(&out);
    free(p);
}

static void test_qp_pieces(void)
{
    const char *in = "From the start =\nabc  \n\tx\r\nFrom y" "0123456789012345678901234567890"
                     "12345678901234567890123456789012345678901234567890 end \n";
    size_t n = strlen(in), cut, col, used, len;
    char whole[512], got[512];
    size_t wl = mv_qp_encode_to((const unsigned char *)in, n, 1, whole);
    for (cut = 0; cut <= n; cut++) {
        col = 0;
        len = mv_qp_encode_part((const unsigned char *)in, cut, 1, 0, &col, &used, got);
        CHECK(used <= cut);
        len += mv_qp_encode_part((const unsigned char *)in + used, n - used, 1, 1, &col, &used,
                                 got + len);
        CHECK_MEM(whole, wl, got, len);
    }
}

/* SASL's strict base64: what mbedTLS's decoder accepted (line breaks, blanks ending a
 * line) still decodes; a truncated final group, which it cut off silently ("QUJDQ" gave
 * "ABC"), is refused like any other damage. */
static void test_b64_strict(void)
{
    static const struct { const char *in, *out; } ok[] = {
        {"", ""}, {"QQ==", "A"}, {"QUI=", "AB"}, {"QUJD", "ABC"}, {"QUJD\r\nQUJD", "ABCABC"},
        {"QUJD\nQUJD", "ABCABC"}, {"QUJD  ", "ABC"}, {"QQ==\n", "A"}, {"QUJD \r\nQUJD", "ABCABC"},
    };
    static const char *const bad[] = {
        "QQ", "QUI", "QQ=", "Q===", "=", "==", "QUJDQ", "QUJDQUI", "QUJD QUJD", " QUJD",
        "QQ==QUJD", "QUJD\r", "QUJD\t", "QQ= =", "!!!not base64!!!", "QU\x80" "D",
    };
    size_t t;
    for (t = 0; t < sizeof ok / sizeof ok[0]; t++) {
        mv_buf b;
        mv_buf_init(&b);
        CHECK(mv_b64_decode_buf(ok[t].in, strlen(ok[t].in), &b) == 0);
        CHECK_MEM(b.data, b.len, ok[t].out, strlen(ok[t].out));
        mv_buf_free(&b);
    }
    for (t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        mv_buf b;
        mv_buf_init(&b);
        CHECK(mv_b64_decode_buf(bad[t], strlen(bad[t]), &b) == -1);
        mv_buf_free(&b);
    }
    {
        /* an empty response (XOAUTH2's answer to its error challenge) from an empty
         * buffer, whose head is NULL: no NULL + 0 on the way (UBSan in make test-asan) */
        mv_buf in, b;
        mv_buf_init(&in);
        mv_buf_init(&b);
        CHECK(mv_b64_encode_buf(mv_buf_head(&in), 0, &b) == 0 && b.len == 0);
        mv_buf_free(&b);
    }
}

/* The core's one copy helper: n bytes (NULs included) and a terminating NUL. */
static void test_strndup(void)
{
    char *p = mv_strndup("ab\0cd", 5), *e = mv_strndup("", 0), *h = mv_strndup("xyz", 2);
    CHECK(p != NULL && e != NULL && h != NULL);
    CHECK_MEM(p, 6, "ab\0cd", 6);
    CHECK(e[0] == '\0');
    CHECK(strcmp(h, "xy") == 0);
    free(p);
    free(e);
    free(h);
}

/* The core's growable arrays: doubling from `first`, the array kept on failure. */
static void test_grow(void)
{
    size_t cap = 0, i;
    int *v = NULL, *g;
    for (i = 0; i < 100; i++) {
        g = mv_grow(v, &cap, i, sizeof *v, 4);
        CHECK(g != NULL);
        v = g;
        v[i] = (int)i;
    }
    CHECK(cap == 128);
    CHECK(v[99] == 99);
    CHECK(mv_grow(v, &cap, 100, sizeof *v, 4) == v);
    CHECK(mv_grow(v, &cap, 128, (size_t)-1 / 2, 4) == NULL && cap == 128);
    free(v);
}

int main(void)
{
    static const ctest_case cases[] = {
        {"b64 pieces", test_b64_pieces},
        {"qp encode pieces", test_qp_pieces},
        {"charset memory", test_charset_memory},
        {"charset labels", test_charset_labels},
        {"charset guessed", test_charset_guessed},
        {"charset piece edge", test_charset_piece_edge},
        {"strndup", test_strndup},
        {"b64 strict", test_b64_strict},
        {"grow", test_grow},
        {NULL, NULL}
    };
    return ctest_run("codec", cases);
}
