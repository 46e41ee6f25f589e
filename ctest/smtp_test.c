/* Unit tests of the SMTP reply parser, the EHLO parser and the DATA dot-stuffer
 * (CHECKLIST 16-19, 27, 60). */
#include <string.h>

#include "ctest.h"
#include "mv_str.h"
#include "mv_buf.h"
#include "smtp_int.h"
#include "smtp_reply.h"
#include "smtp_stuff.h"

static int feed_lines(smtp_reply_reader *rr, const char *const *lines, mv_error *e)
{
    int r = 0;
    for (; *lines != NULL; lines++) {
        r = smtp_rr_line(rr, *lines, strlen(*lines), e);
        if (r != 0) return r;
    }
    return r;
}

static void test_reply_single(void)
{
    smtp_reply_reader rr;
    mv_error e;
    mv_reply out;
    const char *l[] = { "550 5.1.1 <x@y>: unknown", NULL };
    mv_error_clear(&e);
    smtp_rr_init(&rr, 100, 4096);
    CHECK(feed_lines(&rr, l, &e) == 1);
    smtp_rr_result(&rr, &out);
    CHECK(out.code == 550);
    CHECK(strcmp(out.enhanced, "5.1.1") == 0);
    CHECK(strcmp(out.text, "5.1.1 <x@y>: unknown") == 0);
    smtp_rr_free(&rr);
}

static void test_reply_multiline(void)
{
    smtp_reply_reader rr;
    mv_error e;
    mv_reply out;
    const char *l[] = { "250-mx.example", "250-PIPELINING", "250 SIZE 100", NULL };
    mv_error_clear(&e);
    smtp_rr_init(&rr, 100, 4096);
    CHECK(feed_lines(&rr, l, &e) == 1);
    smtp_rr_result(&rr, &out);
    CHECK(out.code == 250 && rr.lines == 3);
    CHECK(out.enhanced[0] == '\0');
    CHECK(strcmp(out.text, "mx.example; PIPELINING; SIZE 100") == 0);
    smtp_rr_free(&rr);
}

/* The joined text never overflows, however many lines. */
static void test_reply_joined_bounded(void)
{
    smtp_reply_reader rr;
    mv_error e;
    mv_reply out;
    int i, r = 0;
    mv_error_clear(&e);
    smtp_rr_init(&rr, 1000, 1 << 20);
    for (i = 0; i < 500 && r == 0; i++) r = smtp_rr_line(&rr, "550-5.7.1 x\x1b", 12, &e);
    CHECK(r == 0 && smtp_rr_line(&rr, "550 end", 7, &e) == 1);
    smtp_rr_result(&rr, &out);
    CHECK(strlen(out.text) < sizeof out.text);
    CHECK(strncmp(out.text, "5.7.1 x?; 5.7.1 x?; ", 20) == 0);
    CHECK(strchr(out.text, '\x1b') == NULL);
    smtp_rr_free(&rr);
}

/* CHECKLIST 27: code change, non-digits, two digits, bare code. */
static void test_reply_malformed(void)
{
    const char *bad[][3] = {
        { "250-a", "251 b", NULL }, { "25x ok", NULL, NULL }, { "25 ok", NULL, NULL },
        { "250", NULL, NULL }, { "2500 ok", NULL, NULL }, { "650 no", NULL, NULL },
        { "", NULL, NULL }
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smtp_reply_reader rr;
        mv_error e;
        mv_error_clear(&e);
        smtp_rr_init(&rr, 100, 4096);
        CHECK(feed_lines(&rr, bad[i], &e) == MV_ERROR);
        CHECK(e.kind == MV_E_PROTOCOL);
        smtp_rr_free(&rr);
    }
}

/* CHECKLIST 28: lines per reply and bytes per reply are capped. */
static void test_reply_caps(void)
{
    smtp_reply_reader rr;
    mv_error e;
    int i, r = 0;
    mv_error_clear(&e);
    smtp_rr_init(&rr, 10, 1 << 20);
    for (i = 0; i < 20 && r == 0; i++) r = smtp_rr_line(&rr, "250-x", 5, &e);
    CHECK(r == MV_ERROR && e.kind == MV_E_LIMIT && i == 11);
    smtp_rr_free(&rr);
}

static void test_reply_sanitised(void)
{
    smtp_reply_reader rr;
    mv_error e;
    mv_reply out;
    const char l[] = "554 \x1b[31mred\x07";
    mv_error_clear(&e);
    smtp_rr_init(&rr, 10, 4096);
    CHECK(smtp_rr_line(&rr, l, sizeof l - 1, &e) == 1);
    smtp_rr_result(&rr, &out);
    CHECK(strcmp(out.text, "?[31mred?") == 0);
    smtp_rr_free(&rr);
}

static void stuff_all(const char *in, size_t n, size_t chunk, mv_buf *out)
{
    smtp_stuffer st;
    size_t off = 0;
    smtp_stuff_init(&st, 0, 1, 1);
    while (off < n) {
        size_t k = chunk == 0 ? (size_t)(rand() % 7) : chunk;
        if (k > n - off) k = n - off;
        CHECK(smtp_stuff(&st, (const unsigned char *)in + off, k, out) == SMTP_STUFF_OK);
        off += k;
    }
    CHECK(smtp_stuff_end(&st, out, 1) == SMTP_STUFF_OK);
}

static void check_stuffed(const char *in, const char *want)
{
    mv_buf out;
    size_t chunk;
    for (chunk = 0; chunk <= 3; chunk++) {
        mv_buf_init(&out);
        stuff_all(in, strlen(in), chunk, &out);
        CHECK_MEM(out.data, out.len, want, strlen(want));
        if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
            fprintf(stderr, "    input \"%s\" chunk %zu gave \"%.*s\"\n", in, chunk,
                    (int)out.len, (const char *)out.data);
        mv_buf_free(&out);
    }
}

/* CHECKLIST 16, 17, 19: stuffing and CRLF normalisation; 18: any chunking. */
static void test_stuffing(void)
{
    check_stuffed("", ".\r\n");
    check_stuffed("a", "a\r\n.\r\n");
    check_stuffed(".\r\n", "..\r\n.\r\n");
    check_stuffed("..\r\n.x\r\n.", "...\r\n..x\r\n..\r\n.\r\n");
    check_stuffed("a\nb\n", "a\r\nb\r\n.\r\n");
    check_stuffed("a\rb\r", "a\r\nb\r\n.\r\n");
    check_stuffed("\n.\n", "\r\n..\r\n.\r\n");
    check_stuffed("\n.\r\n", "\r\n..\r\n.\r\n");
    check_stuffed("\r\n.\r", "\r\n..\r\n.\r\n");
    check_stuffed("x\r\r\ny", "x\r\n\r\ny\r\n.\r\n");
    check_stuffed("a\r\n", "a\r\n.\r\n");
}

static void test_stuff_random_splits(void)
{
    char in[4096];
    mv_buf one, many;
    size_t i;
    int round;
    srand(7);
    for (round = 0; round < 200; round++) {
        static const char alphabet[] = "\r\n.ab";
        for (i = 0; i < sizeof in; i++) in[i] = alphabet[rand() % 5];
        mv_buf_init(&one);
        mv_buf_init(&many);
        stuff_all(in, sizeof in, sizeof in, &one);
        stuff_all(in, sizeof in, 0, &many);
        CHECK_MEM(one.data, one.len, many.data, many.len);
        /* The wire never holds a lone CR or LF, nor an early end of data. */
        for (i = 0; i < one.len; i++) {
            if (one.data[i] == '\r') CHECK(i + 1 < one.len && one.data[i + 1] == '\n');
            if (one.data[i] == '\n') CHECK(i > 0 && one.data[i - 1] == '\r');
        }
        for (i = 0; i + 5 <= one.len - 3; i++)
            CHECK(memcmp(one.data + i, "\r\n.\r\n", 5) != 0);
        mv_buf_free(&one);
        mv_buf_free(&many);
    }
}

static void test_stuff_limits(void)
{
    smtp_stuffer st;
    mv_buf out;
    char line[1000];
    memset(line, 'a', sizeof line);
    mv_buf_init(&out);
    smtp_stuff_init(&st, 998, 1, 1);
    CHECK(smtp_stuff(&st, (const unsigned char *)line, 998, &out) == SMTP_STUFF_OK);
    CHECK(smtp_stuff(&st, (const unsigned char *)"b", 1, &out) == SMTP_STUFF_LONG_LINE);
    smtp_stuff_init(&st, 998, 0, 1);
    CHECK(smtp_stuff(&st, (const unsigned char *)"caf\xc3\xa9", 5, &out) == SMTP_STUFF_8BIT);
    mv_buf_free(&out);
}

/* Wiping covers every byte ever written (an AUTH line consumed long ago included), and
 * only those: the high-water mark follows each reserve, even across compaction. */
static void test_buf_wipe(void)
{
    mv_buf b;
    size_t i, hw;
    mv_buf_init(&b);
    CHECK(mv_buf_append(&b, "AUTH PLAIN c2VjcmV0\r\n", 21) == 0);
    mv_buf_consume(&b, 21);
    CHECK(mv_buf_append(&b, "MAIL FROM:<a@b>\r\n", 17) == 0);
    mv_buf_consume(&b, 5);
    CHECK(mv_buf_reserve(&b, 4000) == 0);     /* compacts, then grows */
    memset(b.data + b.len, 'x', 4000);         /* a caller filling what it reserved */
    hw = b.hw;
    CHECK(hw >= b.len + 4000 && hw <= b.cap);
    mv_buf_wipe(&b);
    for (i = 0; i < hw; i++) if (b.data[i] != 0) break;
    CHECK(i == hw);
    CHECK(b.len == 0 && b.off == 0 && b.hw == 0);
    mv_buf_free(&b);
    CHECK(b.data == NULL && b.cap == 0);
}

static const smtp_ext *ext_named(const smtp_session *s, const char *kw)
{
    size_t i;
    for (i = 0; i < smtp_ext_count(s); i++)
        if (strcmp(smtp_ext_at(s, i)->keyword, kw) == 0) return smtp_ext_at(s, i);
    return NULL;
}

/* The EHLO text is parsed once, in the core: bits, SIZE, mechanisms and the list the
 * binding shows (keywords upper-cased, server bytes sanitised, parameters as words). */
static void test_ehlo_extensions(void)
{
    static const char t[] = "mx.example greets you\npipelining\nSIZE 100\n"
        "auth=PLAIN LOGIN\nAUTH  CRAM-MD5\nX-\033[31m v\007al\n=odd\n8BITMIME";
    smtp_session *s = smtp_new();
    const smtp_ext *x;
    char longkw[80];
    CHECK(s != NULL);
    if (s == NULL) return;
    smtp_ehlo_parse(s, t, sizeof t - 1);
    CHECK(s->caps == (SMTP_CAP_ESMTP | SMTP_CAP_PIPELINING | SMTP_CAP_SIZE | SMTP_CAP_AUTH
                      | SMTP_CAP_8BITMIME));
    CHECK(s->size_limit == 100);
    CHECK(s->sasl_offered != 0);
    CHECK(smtp_ext_count(s) == 6);   /* "=odd" has no keyword */
    x = ext_named(s, "PIPELINING");
    CHECK(x != NULL && x->params == NULL && x->nwords == 0);
    x = ext_named(s, "SIZE");
    CHECK(x != NULL && x->params != NULL && strcmp(x->params, "100") == 0);
    x = smtp_ext_at(s, 2);
    CHECK(x != NULL && strcmp(x->keyword, "AUTH") == 0 && x->nwords == 2
          && strcmp(x->words[0], "PLAIN") == 0 && strcmp(x->words[1], "LOGIN") == 0);
    x = smtp_ext_at(s, 3);
    CHECK(x != NULL && strcmp(x->params, " CRAM-MD5") == 0 && x->nwords == 1
          && strcmp(x->words[0], "CRAM-MD5") == 0);
    x = ext_named(s, "X-?[31M");
    CHECK(x != NULL && strcmp(x->params, "v?al") == 0);
    CHECK(smtp_ext_at(s, 6) == NULL);
    /* A keyword over 63 bytes is no extension; HELO forgets everything. */
    memset(longkw, 'K', sizeof longkw);
    memcpy(longkw, "mx\n", 3);
    smtp_ehlo_parse(s, longkw, sizeof longkw);
    CHECK(smtp_ext_count(s) == 0 && s->caps == SMTP_CAP_ESMTP);
    smtp_ehlo_parse(s, t, sizeof t - 1);
    smtp_ehlo_clear(s);
    CHECK(smtp_ext_count(s) == 0 && s->caps == 0 && s->size_limit == 0);
    smtp_free(s);
}

/* The one 8-bit check: a high byte at any offset of any length, any alignment. */
static void test_has_8bit(void)
{
    unsigned char buf[80];
    size_t off, len, at;
    memset(buf, 'a', sizeof buf);
    for (off = 0; off < 8; off++) {
        for (len = 0; off + len <= sizeof buf; len++) {
            CHECK(!mv_has_8bit(buf + off, len));
            for (at = 0; at < len; at++) {
                buf[off + at] = 0x80;
                CHECK(mv_has_8bit(buf + off, len));
                buf[off + at] = 0xff;
                CHECK(mv_has_8bit(buf + off, len));
                buf[off + at] = 0x7f;
                CHECK(!mv_has_8bit(buf + off, len));
                buf[off + at] = 'a';
            }
        }
    }
}

int main(void)
{
    static const ctest_case cases[] = {
        { "reply single line", test_reply_single },
        { "reply multi-line, lines joined by \"; \"", test_reply_multiline },
        { "CHECKLIST 60 joined reply text bounded and sanitised", test_reply_joined_bounded },
        { "CHECKLIST 27 malformed replies", test_reply_malformed },
        { "CHECKLIST 28 reply caps", test_reply_caps },
        { "CHECKLIST 60 EHLO parsed once: bits and extension list", test_ehlo_extensions },
        { "CHECKLIST 60 reply text sanitised", test_reply_sanitised },
        { "CHECKLIST 16 17 19 stuffing", test_stuffing },
        { "CHECKLIST 18 random splits", test_stuff_random_splits },
        { "CHECKLIST 20 line and 8-bit limits", test_stuff_limits },
        { "the one 8-bit check, at every offset and alignment", test_has_8bit },
        { "buffer wipe up to the high-water mark", test_buf_wipe },
        { NULL, NULL }
    };
    return ctest_run("smtp", cases);
}
