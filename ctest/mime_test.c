/* C unit tests of the MIME core (no Lua). */
#include "ctest.h"

#include "mime_codec.h"
#include "mime_header.h"
#include "mime_msg.h"

static void test_b64(void)
{
    char out[64];
    unsigned char dec[64];
    int d = 0;
    size_t n = mv_b64_encode((const unsigned char *)"hello", 5, out, 0);
    CHECK_MEM(out, n, "aGVsbG8=", 8);
    n = mv_b64_decode("aG!Vs\r\nbG8", 10, dec, &d);
    CHECK_MEM(dec, n, "hello", 5);
    CHECK(d > 0);
}

static void test_qp(void)
{
    mv_buf b;
    unsigned char dec[64];
    size_t n;
    mv_buf_init(&b);
    CHECK(mv_qp_encode((const unsigned char *)"a=b \n", 5, 1, &b) == 0);
    CHECK_MEM(b.data, b.len, "a=3Db=20\r\n", 10);
    n = mv_qp_decode("a=ZZ=\r\nb=", 9, dec, NULL);
    CHECK_MEM(dec, n, "a=ZZb", 5);
    mv_buf_free(&b);
}

static void test_addr(void)
{
    mv_addr_list l = {NULL, 0, 0};
    char err[128];
    CHECK(mv_addr_parse("\"Doe, J\" <j@x.org>, k@y.org", 27, 0, &l, NULL, err, sizeof err) == 0);
    CHECK(l.n == 2 && strcmp(l.v[0].name, "Doe, J") == 0 && strcmp(l.v[1].addr, "k@y.org") == 0);
    mv_addr_list_free(&l);
    CHECK(mv_addr_parse("a@b)<c@d>", 9, 0, &l, NULL, err, sizeof err) != 0);
    mv_addr_list_free(&l);
}

static void test_roundtrip(void)
{
    mv_mime_msg m, p;
    mv_buf out;
    mv_error e;
    mv_mime_init(&m);
    mv_mime_init(&p);
    mv_buf_init(&out);
    mv_error_clear(&e);
    CHECK(mv_mime_set_header(&m, "From", "a@example.org") == 0);
    CHECK(mv_mime_set_header(&m, "Subject", "h\xc3\xa9llo") == 0);
    CHECK(mv_mime_set_body(&m, 0, "body\n", 5) == 0);
    CHECK(mv_mime_add_att(&m, NULL, "xyz", 3, "../x.bin", NULL, NULL, 0, &e) == MV_OK);
    CHECK(mv_mime_serialize(&m, &out, &e) == MV_OK);
    CHECK(mv_mime_parse(&p, out.data, out.len, NULL, &e) == MV_OK);
    CHECK(p.text != NULL && strcmp(p.text, "body\n") == 0);
    CHECK(strcmp(mv_mime_get_header(&p, "subject", 0), "h\xc3\xa9llo") == 0);
    CHECK(p.natt == 1 && strcmp(p.att[0].name, "x.bin") == 0 && p.att[0].len == 3);
    mv_buf_free(&out);
    mv_mime_free(&m);
    mv_mime_free(&p);
}

static void test_depth_limit(void)
{
    mv_mime_msg p;
    mv_error e;
    mv_buf in;
    int i;
    mv_mime_init(&p);
    mv_error_clear(&e);
    mv_buf_init(&in);
    for (i = 0; i < 100000; i++) mv_buf_append_str(&in, "Content-Type: message/rfc822\r\n\r\n");
    CHECK(mv_mime_parse(&p, in.data, in.len, NULL, &e) == MV_ERROR && e.kind == MV_E_LIMIT);
    mv_buf_free(&in);
    mv_mime_free(&p);
}

int main(void)
{
    static const ctest_case cases[] = {
        {"base64", test_b64}, {"quoted-printable", test_qp}, {"addresses", test_addr},
        {"build/parse round trip", test_roundtrip}, {"CHECKLIST 47 depth", test_depth_limit},
        {NULL, NULL}
    };
    return ctest_run("mime", cases);
}
