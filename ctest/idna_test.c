/* International domain names (mv_idna): U-labels to A-labels and back, and every way a
 * domain is refused. */
#include "ctest.h"
#include "mv_idna.h"

/* to_ascii of s gives want (NULL: refused as invalid, with a reason). */
static void ascii_is(const char *s, size_t n, const char *want)
{
    char *out = (char *)1;
    const char *why = NULL;
    int rc = mv_idna_to_ascii(s, n, &out, &why);
    if (want == NULL) {
        CHECK(rc == MV_IDNA_INVALID);
        CHECK(out == NULL);
        CHECK(why != NULL && why[0] != '\0');
    } else {
        CHECK(rc == MV_IDNA_OK);
        CHECK(out != NULL && strcmp(out, want) == 0);
        if (out != NULL && strcmp(out, want) != 0)
            fprintf(stderr, "  got %s, want %s\n", out, want);
    }
    if (rc == MV_IDNA_OK) free(out);
}

#define ASCII_IS(s, want) ascii_is(s, strlen(s), want)

static void test_ascii_passthrough(void)
{
    /* ASCII domains are not judged here: copied byte for byte, case included. */
    ASCII_IS("example.org", "example.org");
    ASCII_IS("Example.ORG", "Example.ORG");
    ASCII_IS("xn--bcher-kva.example", "xn--bcher-kva.example");
    ASCII_IS("[192.0.2.1]", "[192.0.2.1]");
    ASCII_IS("under_score.example", "under_score.example");
    ascii_is("example.org", 7, "example");
}

static void test_u_labels(void)
{
    ASCII_IS("b\xc3\xbc" "cher.example", "xn--bcher-kva.example");
    /* UTS #46 mapping: upper case and full-width forms fold; "ß" is kept
     * (non-transitional), not turned into "ss". */
    ASCII_IS("B\xc3\x9c" "CHER.Example", "xn--bcher-kva.example");
    ASCII_IS("\xc3\xbc.\xef\xbd\x85\xef\xbd\x98", "xn--tda.ex");
    ASCII_IS("fa\xc3\x9f.de", "xn--fa-hia.de");
    /* NFC: "a" + combining diaeresis is "ä". */
    ASCII_IS("a\xcc\x88.de", "xn--4ca.de");
    ASCII_IS("\xd9\x85\xd8\xab\xd8\xa7\xd9\x84.example", "xn--mgbh0fb.example");
}

static void test_empty_labels_and_dots(void)
{
    ASCII_IS("b\xc3\xbc" "cher.example.", NULL);     /* trailing dot: not in an address */
    ASCII_IS("b\xc3\xbc" "cher..example", NULL);
    ASCII_IS(".b\xc3\xbc" "cher.example", NULL);
    ASCII_IS("", NULL);
    /* U+3002 IDEOGRAPHIC FULL STOP maps to '.': a dot after mapping is a dot. */
    ASCII_IS("\xc3\xbc\xe3\x80\x82\xe3\x80\x82" "de", NULL);
    ASCII_IS("\xc3\xbc\xe3\x80\x82" "de", "xn--tda.de");
}

static void test_lengths(void)
{
    char big[1200];
    /* 63 bytes of A-label at most: "ü" + 57 "a" encodes to 64. */
    memcpy(big, "\xc3\xbc", 2);
    memset(big + 2, 'a', 57);
    memcpy(big + 59, ".de", 4);
    ASCII_IS(big, NULL);
    memcpy(big + 2, ".", 1);
    memset(big + 3, 'a', 63);
    memcpy(big + 66, ".de", 4);
    {
        char want[80];
        memcpy(want, "xn--tda.", 8);
        memset(want + 8, 'a', 63);
        memcpy(want + 71, ".de", 4);
        ASCII_IS(big, want);                      /* an ASCII label of 63 beside is fine */
    }
    /* Five labels of 50 and one U-label: more than 253 bytes. */
    memset(big, 0, sizeof big);
    {
        int i;
        for (i = 0; i < 5; i++) {
            memset(big + i * 51, 'a', 50);
            big[i * 51 + 50] = '.';
        }
        memcpy(big + 255, "\xc3\xbc\xc3\xbc", 5);
    }
    ASCII_IS(big, NULL);
    /* Input far beyond any domain is refused before libidn2 reads it. */
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "\xc3\xbc", 2);
    big[sizeof big - 1] = '\0';
    ASCII_IS(big, NULL);
}

static void test_invalid_code_points(void)
{
    ASCII_IS("a\xe2\x98\x83.example", NULL);           /* U+2603 SNOWMAN: DISALLOWED */
    ASCII_IS("\xe2\x80\x8d.de", NULL);                 /* ZWJ outside its context */
    ASCII_IS("\xff\xfe.de", NULL);                     /* not UTF-8 */
    ASCII_IS("\xc3\xbc\xed\xa0\x80.de", NULL);         /* a UTF-16 surrogate */
    ASCII_IS("\xc3\xbc.-abc-.de", NULL);               /* hyphen at a label's edge */
    ASCII_IS("\xc3\xbc.ab--c.de", NULL);               /* "--" in positions 3-4 */
    ASCII_IS("\xc3\xbc.xn--zz", NULL);                 /* a broken A-label beside */
    /* libidn2 passes '_' and '[' through, or deletes them under its STD3 flag: both would
     * send to another domain than the one written.  Refused. */
    ASCII_IS("exa_mple.b\xc3\xbc", NULL);
    ASCII_IS("\xc3\xbc.[192.0.2.1]", NULL);
    ASCII_IS("\xc3\xbc@x", NULL);
    ASCII_IS("a\xef\xbc\xbf" "b.\xc3\xbc", NULL);       /* FULLWIDTH LOW LINE maps to '_' */
    ascii_is("\xc3\xbc\0.de", 5, NULL);                /* a NUL inside */
}

static void test_to_unicode(void)
{
    char *out = NULL;
    const char *why = NULL;
    CHECK(mv_idna_to_unicode("xn--bcher-kva.example", 21, &out, &why) == MV_IDNA_OK);
    CHECK(out != NULL && strcmp(out, "b\xc3\xbc" "cher.example") == 0);
    free(out);
    CHECK(mv_idna_to_unicode("example.org", 11, &out, &why) == MV_IDNA_OK);
    CHECK(out != NULL && strcmp(out, "example.org") == 0);
    free(out);
    CHECK(mv_idna_to_unicode("xn--zz.de", 9, &out, &why) == MV_IDNA_INVALID);
    CHECK(out == NULL && why != NULL);
}

static void test_addresses(void)
{
    char *out = NULL;
    const char *why = NULL;
    CHECK(mv_idna_addr_to_ascii("bob@b\xc3\xbc" "cher.example", &out, &why) == MV_IDNA_OK);
    CHECK(out != NULL && strcmp(out, "bob@xn--bcher-kva.example") == 0);
    free(out);
    /* The local part is never touched; a quoted one may hold '@'. */
    CHECK(mv_idna_addr_to_ascii("\"a@b\"@\xc3\xbc.de", &out, &why) == MV_IDNA_OK);
    CHECK(out != NULL && strcmp(out, "\"a@b\"@xn--tda.de") == 0);
    free(out);
    CHECK(mv_idna_addr_to_ascii("j\xc3\xb6rg@example.org", &out, &why) == MV_IDNA_OK);
    CHECK(out != NULL && strcmp(out, "j\xc3\xb6rg@example.org") == 0);
    free(out);
    /* A domain literal is an address, not a name: copied (SMTP judges it). */
    CHECK(mv_idna_addr_to_ascii("a@[\xc3\xbc]", &out, &why) == MV_IDNA_OK);
    CHECK(out != NULL && strcmp(out, "a@[\xc3\xbc]") == 0);
    free(out);
    CHECK(mv_idna_addr_to_ascii("postmaster", &out, &why) == MV_IDNA_OK);
    CHECK(out != NULL && strcmp(out, "postmaster") == 0);
    free(out);
    CHECK(mv_idna_addr_to_ascii("bob@a\xe2\x98\x83.example", &out, &why) == MV_IDNA_INVALID);
    CHECK(out == NULL);
    CHECK(mv_idna_domain("a@b@c.de") != NULL && strcmp(mv_idna_domain("a@b@c.de"), "c.de") == 0);
    CHECK(mv_idna_domain("nobody") == NULL);
    /* dtext may hold '@': the literal is the domain (found by fuzz_addr) */
    CHECK(mv_idna_domain("i@[i@x]") != NULL && strcmp(mv_idna_domain("i@[i@x]"), "[i@x]") == 0);
    CHECK(mv_idna_addr_to_ascii("i@[i@\xe4\xe4]", &out, &why) == MV_IDNA_OK);
    CHECK(out != NULL && strcmp(out, "i@[i@\xe4\xe4]") == 0);
    free(out);
}

int main(void)
{
    static const ctest_case cases[] = {
        {"ASCII domains pass through unchanged", test_ascii_passthrough},
        {"U-labels become A-labels (UTS #46 mapping, NFC)", test_u_labels},
        {"empty labels and a trailing dot are refused", test_empty_labels_and_dots},
        {"label and domain lengths", test_lengths},
        {"CHECKLIST 91 disallowed code points and non-host-name results",
         test_invalid_code_points},
        {"A-labels shown as U-labels", test_to_unicode},
        {"addresses: only the domain converts", test_addresses},
        {NULL, NULL}
    };
    return ctest_run("idna", cases);
}
