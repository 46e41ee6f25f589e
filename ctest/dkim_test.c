/* C tests of DKIM canonicalization (csrc/mime/mime_dkim_canon.c) against RFC 6376
 * §3.4.6's example and the edge cases of §3.4: the empty body, WSP runs, trailing WSP
 * and empty lines, header continuation lines, a body fed in pieces; the tag-list syntax
 * (§3.2); signing, and verifying what was signed (mime_dkim_verify.c), RSA and Ed25519. */
#include "ctest.h"
#include "ctest_rsa.h"

#ifdef MV_HAVE_SODIUM
#include <sodium.h>
#endif

#include "mime_build.h"
#include "mime_codec.h"
#include "mime_dkim.h"
#include "mv_pk_compat.h"

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
    CHECK(e.kind == MV_E_ARG && strstr(e.msg, mv_dkim_have_ed25519()
                                       ? "Ed25519 private key" : "no Ed25519") != NULL);
    o.algorithm = MV_DKIM_RSA_SHA256;
    mv_error_clear(&e);
    CHECK(mv_dkim_sign(&m, &o, &e) == MV_ERROR);
    CHECK(e.kind == MV_E_ARG && strstr(e.msg, "cannot read the private key") != NULL);
    CHECK(m.nh == 0);
    mv_mime_free(&m);
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
    CHECK(ctest_rsa_key(2048, pem, sizeof pem) == 0);
    CHECK(ctest_rsa_key(1024, weak, sizeof weak) == 0);
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

#define TAGS_OK(s, n) do { size_t nt_; const char *w_ = NULL; \
    CHECK(mv_dkim_tags(s, strlen(s), t, &nt_, &w_) == 0 && nt_ == (n)); } while (0)
#define TAGS_BAD(s, why) do { size_t nt_; const char *w_ = NULL; \
    CHECK(mv_dkim_tags(s, strlen(s), t, &nt_, &w_) == -1 && w_ != NULL && \
          strcmp(w_, why) == 0); } while (0)

/* §3.2: FWS around names, '=' and values; a trailing ';'; duplicates refused. */
static void test_tags(void)
{
    mv_dkim_tag t[MV_DKIM_MAX_TAGS];
    char many[400];
    size_t k;
    const mv_dkim_tag *x;
    TAGS_OK("", 0);
    TAGS_OK(" ; ;", 0);                 /* empty tag-specs are skipped */
    TAGS_OK("v=1; a = rsa-sha256 ;\r\n\tb=AB\r\n CD;", 3);
    x = mv_dkim_tag_get(t, 3, "a");
    CHECK(x != NULL && x->val_len == 10 && memcmp(x->val, "rsa-sha256", 10) == 0);
    x = mv_dkim_tag_get(t, 3, "b");
    CHECK(x != NULL && x->val_len == 7 && memcmp(x->val, "AB\r\n CD", 7) == 0);
    CHECK(mv_dkim_tag_get(t, 3, "bh") == NULL);
    TAGS_OK("p=", 1);
    TAGS_BAD("v=1; v=1", "duplicate tag");
    TAGS_BAD("1v=1", "malformed tag list");
    TAGS_BAD("v", "malformed tag list");
    TAGS_BAD("v=1; =2", "malformed tag list");
    TAGS_BAD("v=a\001b", "malformed tag value");
    for (k = 0; k <= MV_DKIM_MAX_TAGS; k++)
        snprintf(many + k * 6, sizeof many - k * 6, "t%03u=;", (unsigned)k);
    TAGS_BAD(many, "too many tags");
}

/* The key record for the public half of pk: v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>. */
static void rsa_record(mbedtls_pk_context *pk, char *rec, size_t cap)
{
    unsigned char der[1200];
    int n = mbedtls_pk_write_pubkey_der(pk, der, sizeof der);
    size_t k = (size_t)snprintf(rec, cap, "v=DKIM1; k=rsa; p=");
    CHECK(n > 0 && mv_b64_encoded_len((size_t)n, 0) + k < cap);
    k += mv_b64_encode(der + sizeof der - n, (size_t)n, rec + k, 0);
    rec[k] = '\0';
}

/* Verifies text's topmost signature against rec: the result, *why the reason. */
static int verify(const char *text, size_t n, const char *rec, const char **why)
{
    mv_dkim_msg m;
    mv_dkim_sig sig;
    mv_dkim_check c;
    int rc;
    CHECK(mv_dkim_msg_init(&m, text, n) == 0);
    rc = mv_dkim_sig_parse(&m, mv_dkim_msg_sig_field(&m, 0), &sig, why);
    if (rc == MV_DKIM_PASS) {
        CHECK(mv_dkim_verify(&m, &sig, rec, strlen(rec), 0, &c) == 0);
        rc = c.result;
        *why = c.reason;
        mv_dkim_sig_free(&sig);
    }
    mv_dkim_msg_free(&m);
    return rc;
}

/* Signs a small message with the key in o; its serialised text in out. */
static void sign_into(mv_buf *out, mv_dkim_opts *o, int simple)
{
    mv_mime_msg m;
    mv_error e;
    mv_mime_init(&m);
    CHECK(mv_mime_add_header(&m, "From", "a@example.org") == 0);
    CHECK(mv_mime_add_header(&m, "Subject", "hi  there") == 0);
    CHECK(mv_mime_set_body(&m, 0, "text  \n\n\n", 9) == 0);
    o->domain = "example.org";
    o->selector = "s1";
    o->simple_header = o->simple_body = simple;
    mv_error_clear(&e);
    CHECK(mv_dkim_sign(&m, o, &e) == MV_OK);
    mv_buf_reset(out);
    CHECK(mv_mime_serialize(&m, out, &e) == MV_OK);
    CHECK(mv_buf_append(out, "", 1) == 0);
    out->len--;
    mv_mime_free(&m);
}

/* What the signer signs, the verifier passes; a changed body or header fails. */
static void test_verify_rsa(void)
{
    static unsigned char pem[8192];
    static char rec[2048];
    mbedtls_pk_context pk;
    mv_dkim_opts o;
    mv_buf out;
    const char *why = NULL;
    char *p;
    int simple;
    CHECK(ctest_rsa_key(2048, pem, sizeof pem) == 0);
    mbedtls_pk_init(&pk);
    CHECK(MV_PK_PARSE_KEY(&pk, pem, strlen((char *)pem) + 1, ctest_rng, NULL) == 0);
    rsa_record(&pk, rec, sizeof rec);
    mbedtls_pk_free(&pk);
    mv_buf_init(&out);
    for (simple = 0; simple <= 1; simple++) {
        memset(&o, 0, sizeof o);
        o.key = (const char *)pem;
        o.key_len = strlen((const char *)pem);
        sign_into(&out, &o, simple);
        CHECK(verify((char *)out.data, out.len, rec, &why) == MV_DKIM_PASS);
        p = strstr((char *)out.data, "\r\n\r\ntext");
        CHECK(p != NULL);
        if (p != NULL) *(p += 4) = 'T';
        CHECK(verify((char *)out.data, out.len, rec, &why) == MV_DKIM_FAIL &&
              strcmp(why, "body hash mismatch") == 0);
        if (p != NULL) *p = 't';
        p = strstr((char *)out.data, "Subject: hi");
        CHECK(p != NULL);
        if (p != NULL) p[9] = 'H';
        CHECK(verify((char *)out.data, out.len, rec, &why) == MV_DKIM_FAIL &&
              strcmp(why, "signature mismatch") == 0);
    }
    CHECK(verify((char *)out.data, out.len, "v=DKIM1; p=", &why) == MV_DKIM_PERMERROR &&
          strcmp(why, "key revoked") == 0);
    mv_buf_free(&out);
}

/* RFC 8463: ed25519-sha256 round trip, the key a PKCS#8 PEM made from a seed. */
static void test_verify_ed25519(void)
{
#ifdef MV_HAVE_SODIUM
    static const unsigned char prefix[16] = {
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
        0x04, 0x22, 0x04, 0x20
    };
    unsigned char der[48], pub[32], sk[64];
    char pem[200], rec[200];
    size_t k;
    mv_dkim_opts o;
    mv_buf out;
    const char *why = NULL;
    int simple;
    memcpy(der, prefix, 16);
    CHECK(mv_random(der + 16, 32) == 0);
    CHECK(crypto_sign_seed_keypair(pub, sk, der + 16) == 0);
    k = (size_t)snprintf(pem, sizeof pem, "-----BEGIN PRIVATE KEY-----\n");
    k += mv_b64_encode(der, sizeof der, pem + k, 0);
    snprintf(pem + k, sizeof pem - k, "\n-----END PRIVATE KEY-----\n");
    k = (size_t)snprintf(rec, sizeof rec, "v=DKIM1; k=ed25519; p=");
    rec[k + mv_b64_encode(pub, sizeof pub, rec + k, 0)] = '\0';
    mv_buf_init(&out);
    for (simple = 0; simple <= 1; simple++) {
        memset(&o, 0, sizeof o);
        o.key = pem;
        o.key_len = strlen(pem);
        o.algorithm = MV_DKIM_ED25519_SHA256;
        sign_into(&out, &o, simple);
        CHECK(strstr((char *)out.data, "a=ed25519-sha256;") != NULL);
        CHECK(verify((char *)out.data, out.len, rec, &why) == MV_DKIM_PASS);
        out.data[out.len - 3] ^= 1;
        CHECK(verify((char *)out.data, out.len, rec, &why) == MV_DKIM_FAIL);
    }
    mv_buf_free(&out);
#endif
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
        {"tag lists", test_tags},
        {"verify rsa-sha256", test_verify_rsa},
        {"verify ed25519-sha256", test_verify_ed25519},
        {NULL, NULL}
    };
    return ctest_run("dkim", cases);
}
