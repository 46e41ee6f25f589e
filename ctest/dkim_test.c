/* C tests of DKIM canonicalization (csrc/mime/mime_dkim.c) against RFC 6376 §3.4.6's
 * example and the edge cases of §3.4: the empty body, WSP runs, trailing WSP and empty
 * lines, header continuation lines, a body fed in pieces. */
#include "ctest.h"

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "mime_build.h"
#include "mime_dkim.h"
#include "mv_random.h"

static void collect(void *ctx, const unsigned char *p, size_t n)
{
    mv_buf_append((mv_buf *)ctx, p, n);
}

/* The canonical body of in[0..n), fed in pieces of `piece` bytes (0: at once). */
static void body(mv_buf *out, const char *in, size_t n, int relaxed, size_t piece)
{
    mv_dkim_body b;
    size_t i = 0;
    mv_buf_reset(out);
    mv_dkim_body_init(&b, relaxed, collect, out);
    if (piece == 0) piece = n ? n : 1;
    while (i < n) {
        size_t k = n - i < piece ? n - i : piece;
        mv_dkim_body_feed(&b, (const unsigned char *)in + i, k);
        i += k;
    }
    mv_dkim_body_end(&b);
}

#define BODY_IS(in, relaxed, want) do { \
    mv_buf o_; mv_buf_init(&o_); body(&o_, in, strlen(in), relaxed, 0); \
    CHECK_MEM(o_.data, o_.len, want, strlen(want)); mv_buf_free(&o_); } while (0)

#define HEADER_IS(in, relaxed, want) do { \
    mv_buf o_; mv_buf_init(&o_); \
    CHECK(mv_dkim_canon_header(&o_, in, strlen(in), relaxed) == 0); \
    CHECK_MEM(o_.data, o_.len, want, strlen(want)); mv_buf_free(&o_); } while (0)

/* §3.4.6 */
static void test_rfc_example(void)
{
    HEADER_IS("A: X\r\n", 1, "a:X\r\n");
    HEADER_IS("B : Y\t\r\n\tZ  \r\n", 1, "b:Y Z\r\n");
    BODY_IS(" C \r\nD \t E\r\n\r\n\r\n", 1, " C\r\nD E\r\n");
    HEADER_IS("A: X\r\n", 0, "A: X\r\n");
    HEADER_IS("B : Y\t\r\n\tZ  \r\n", 0, "B : Y\t\r\n\tZ  \r\n");
    BODY_IS(" C \r\nD \t E\r\n\r\n\r\n", 0, " C \r\nD \t E\r\n");
}

/* §3.4.3: an empty body is one CRLF in simple; §3.4.4 (errata 1384): nothing in relaxed */
static void test_empty_body(void)
{
    BODY_IS("", 0, "\r\n");
    BODY_IS("", 1, "");
    BODY_IS("\r\n\r\n\r\n", 0, "\r\n");
    BODY_IS("\r\n\r\n\r\n", 1, "");
    BODY_IS(" \t\r\n \r\n", 1, "");      /* only WSP: empty lines once relaxed */
    BODY_IS(" \t\r\n \r\n", 0, " \t\r\n \r\n");
}

static void test_wsp_and_line_ends(void)
{
    BODY_IS("a  \t b\t\r\n", 1, "a b\r\n");          /* runs to one SP, none at the end */
    BODY_IS("\t a\r\n", 1, " a\r\n");                 /* a leading run stays as one SP */
    BODY_IS("a\r\n \r\nb\r\n", 1, "a\r\n\r\nb\r\n");  /* an inner WSP line is kept empty */
    BODY_IS("abc", 0, "abc\r\n");                     /* a last line without CRLF ended */
    BODY_IS("abc  ", 1, "abc\r\n");
    BODY_IS("a\nb\n\n", 0, "a\r\nb\r\n");             /* bare LF read as CRLF */
    BODY_IS("a\rb\r\n", 0, "a\rb\r\n");               /* a bare CR is content */
    BODY_IS("a\r", 1, "a\r\r\n");
    BODY_IS("From x\r\n.\r\n", 0, "From x\r\n.\r\n");
}

static void test_header_continuation(void)
{
    HEADER_IS("Subject: a\r\n  folded\tsubject\r\n", 1, "subject:a folded subject\r\n");
    HEADER_IS("X-Odd:   spaced   value  \r\n", 1, "x-odd:spaced value\r\n");
    HEADER_IS("SUBJECT:\r\n x\r\n", 1, "subject:x\r\n");
    HEADER_IS("Empty:\r\n", 1, "empty:\r\n");
    HEADER_IS("To: a\n b\n", 0, "To: a\r\n b\r\n");    /* simple: bare LF as on the wire */
    HEADER_IS("DKIM-Signature: v=1; b=", 1, "dkim-signature:v=1; b=\r\n");
}

/* Every split of a body into pieces of 1..n bytes gives what one feed gives. */
static void test_pieces(void)
{
    static const char *const in[] = {
        " C \r\nD \t E\r\n\r\n\r\n", "a\r\r\n\r\n \t\r\nb", "\r\n \r\n\t", "x\ny \n\n",
    };
    size_t t, piece;
    int relaxed;
    for (t = 0; t < sizeof in / sizeof in[0]; t++) {
        for (relaxed = 0; relaxed <= 1; relaxed++) {
            mv_buf whole, part;
            mv_buf_init(&whole);
            mv_buf_init(&part);
            body(&whole, in[t], strlen(in[t]), relaxed, 0);
            for (piece = 1; piece <= strlen(in[t]); piece++) {
                body(&part, in[t], strlen(in[t]), relaxed, piece);
                CHECK_MEM(whole.data, whole.len, part.data, part.len);
            }
            mv_buf_free(&whole);
            mv_buf_free(&part);
        }
    }
}

/* A body longer than the canonicalizer's own buffer goes out whole. */
static void test_long_body(void)
{
    char in[3000];
    mv_buf o;
    memset(in, 'x', sizeof in);
    mv_buf_init(&o);
    body(&o, in, sizeof in, 1, 700);
    CHECK(o.len == sizeof in + 2);
    CHECK(o.len > 2 && memcmp(o.data + o.len - 2, "\r\n", 2) == 0);
    mv_buf_free(&o);
}

static void test_refusals(void)
{
    mv_mime_msg m;
    mv_dkim_opts o;
    mv_error e;
    mv_mime_init(&m);
    memset(&o, 0, sizeof o);
    o.domain = "example.org";
    o.selector = "s1";
    o.key = "not a key";
    o.key_len = 9;
    o.algorithm = MV_DKIM_ED25519_SHA256;
    mv_error_clear(&e);
    CHECK(mv_dkim_sign(&m, &o, &e) == MV_ERROR);
    CHECK(e.kind == MV_E_ARG && strstr(e.msg, "no Ed25519") != NULL);
    o.algorithm = MV_DKIM_RSA_SHA256;
    mv_error_clear(&e);
    CHECK(mv_dkim_sign(&m, &o, &e) == MV_ERROR);
    CHECK(e.kind == MV_E_ARG && strstr(e.msg, "cannot read the private key") != NULL);
    CHECK(m.nh == 0);
    mv_mime_free(&m);
}

static int rng(void *ctx, unsigned char *p, size_t n)
{
    (void)ctx;
    return mv_random(p, n);
}

/* A fresh RSA key of `bits` as PEM into pem[cap]; 0 or -1. */
static int make_key(unsigned bits, unsigned char *pem, size_t cap)
{
    mbedtls_pk_context pk;
    int rc = -1;
    mbedtls_pk_init(&pk);
    if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) == 0 &&
        mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), rng, NULL, bits, 65537) == 0 &&
        mbedtls_pk_write_key_pem(&pk, pem, cap) == 0) rc = 0;
    mbedtls_pk_free(&pk);
    return rc;
}

/* Signing a built message with a file attachment: the field goes first, the message
 * serialises the same way twice (boundaries pinned), a weak key leaves it untouched. */
static void test_sign(void)
{
    static unsigned char pem[8192], weak[4096];
    mv_mime_msg m;
    mv_dkim_opts o;
    mv_error e;
    mv_buf a, b;
    const char *path = "build/dkim_test_attachment.bin";
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL) return;
    fputs("attached\n", f);
    fclose(f);
    CHECK(make_key(2048, pem, sizeof pem) == 0);
    CHECK(make_key(1024, weak, sizeof weak) == 0);
    mv_mime_init(&m);
    mv_buf_init(&a);
    mv_buf_init(&b);
    CHECK(mv_mime_add_header(&m, "From", "a@example.org") == 0);
    CHECK(mv_mime_add_header(&m, "Subject", "hi") == 0);
    CHECK(mv_mime_set_body(&m, 0, "text\n", 5) == 0);
    CHECK(mv_mime_set_body(&m, 1, "<b>x</b>", 8) == 0);
    mv_error_clear(&e);
    CHECK(mv_mime_add_att(&m, path, NULL, 0, "f.bin", NULL, NULL, 0, &e) == 0);
    memset(&o, 0, sizeof o);
    o.domain = "example.org";
    o.selector = "s1";
    o.key = (const char *)weak;
    o.key_len = strlen((const char *)weak);
    mv_error_clear(&e);
    CHECK(mv_dkim_sign(&m, &o, &e) == MV_ERROR && e.kind == MV_E_ARG);
    CHECK(m.nh == 2 && strcmp(m.h[0].name, "From") == 0);
    o.key = (const char *)pem;
    o.key_len = strlen((const char *)pem);
    mv_error_clear(&e);
    CHECK(mv_dkim_sign(&m, &o, &e) == MV_OK);
    CHECK(m.nh == 3 && strcmp(m.h[0].name, "DKIM-Signature") == 0);
    CHECK(strstr(m.h[0].value, "; h=from:from:subject:subject:") != NULL);
    CHECK(strstr(m.h[0].value, "; bh=") != NULL && strstr(m.h[0].value, "; b=") != NULL);
    CHECK(mv_mime_serialize(&m, &a, &e) == MV_OK && mv_mime_serialize(&m, &b, &e) == MV_OK);
    CHECK_MEM(a.data, a.len, b.data, b.len);
    mv_buf_free(&a);
    mv_buf_free(&b);
    mv_mime_free(&m);
    remove(path);
}

int main(void)
{
    static const ctest_case cases[] = {
        {"RFC 6376 3.4.6 example", test_rfc_example},
        {"empty body", test_empty_body},
        {"WSP runs and line ends", test_wsp_and_line_ends},
        {"header continuation lines", test_header_continuation},
        {"body in pieces", test_pieces},
        {"long body", test_long_body},
        {"refusals", test_refusals},
        {"sign", test_sign},
        {NULL, NULL}
    };
    return ctest_run("dkim", cases);
}
