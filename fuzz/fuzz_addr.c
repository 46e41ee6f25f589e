/* Address lists (mv_addr_parse) read from the wire and as a caller's value.  Parsed
 * addresses never hold CR, LF or NUL (CHECKLIST 15, 54); a caller's list that parses
 * formats and re-parses to the same addresses.  Every address goes through the IDNA
 * conversion the SMTP envelope applies (a received message's addresses reach it when
 * the message is sent on): a result is ASCII in its domain and keeps the local part;
 * a caller's address always converts (the strict parser checked its domain). */
#include "fuzz_common.h"

#include "mime_header.h"
#include "mv_idna.h"
#include "mv_str.h"

/* 1 when addr converts; then its domain is ASCII and the local part unchanged. */
static int idna_ok(const char *addr)
{
    char *out = NULL, *u = NULL;
    const char *why = NULL, *d = mv_idna_domain(addr), *od;
    int rc = mv_idna_addr_to_ascii(addr, &out, &why);
    FZ_ASSERT(rc == MV_IDNA_OK || rc == MV_IDNA_INVALID);
    if (rc != MV_IDNA_OK) {
        FZ_ASSERT(out == NULL && why != NULL);
        return 0;
    }
    od = mv_idna_domain(out);
    FZ_ASSERT((d == NULL) == (od == NULL));
    if (d != NULL) {
        FZ_ASSERT(od - out == d - addr && memcmp(out, addr, (size_t)(d - addr)) == 0);
        FZ_ASSERT(od[0] == '[' || !mv_has_8bit(od, strlen(od)));
        if (mv_idna_to_unicode(od, strlen(od), &u, &why) == MV_IDNA_OK) free(u);
    }
    free(out);
    return 1;
}

static void check(const mv_addr_list *l)
{
    size_t i;
    for (i = 0; i < l->n; i++) {
        const char *a = l->v[i].addr;
        FZ_ASSERT(a != NULL);
        FZ_ASSERT(strpbrk(a, "\r\n") == NULL);
        if (l->v[i].name != NULL) FZ_ASSERT(strpbrk(l->v[i].name, "\r\n") == NULL);
        (void)idna_ok(a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_addr_list l, l2;
    char err[128];
    int defects = 0;
    size_t i;
    char *v = fz_dup(data, size);

    memset(&l, 0, sizeof l);
    if (mv_addr_parse(v, size, 1, &l, &defects, err, sizeof err) == 0) check(&l);
    mv_addr_list_free(&l);

    memset(&l, 0, sizeof l);
    if (mv_addr_parse(v, size, 0, &l, &defects, err, sizeof err) == 0) {
        mv_buf disp, hdr;
        check(&l);
        for (i = 0; i < l.n; i++) FZ_ASSERT(idna_ok(l.v[i].addr));
        mv_buf_init(&disp);
        mv_buf_init(&hdr);
        for (i = 0; i < l.n; i++) {
            if (i > 0) FZ_ASSERT(mv_buf_append(&disp, ", ", 2) == 0);
            FZ_ASSERT(mv_addr_format(&disp, &l.v[i]) == 0);
        }
        if (l.n > 0) {
            FZ_ASSERT(mv_hdr_write_addrs(&hdr, "To", &l) == 0);
            memset(&l2, 0, sizeof l2);
            if (mv_addr_parse((const char *)disp.data, disp.len, 0, &l2, &defects, err,
                              sizeof err) != 0) {
                fprintf(stderr, "display form does not re-parse: [%.*s]: %s\n",
                        (int)disp.len, (const char *)disp.data, err);
                FZ_ASSERT(!"display form re-parses");
            }
            FZ_ASSERT(l2.n == l.n);
            for (i = 0; i < l.n; i++) FZ_ASSERT(strcmp(l.v[i].addr, l2.v[i].addr) == 0);
            mv_addr_list_free(&l2);
        }
        mv_buf_free(&disp);
        mv_buf_free(&hdr);
    }
    mv_addr_list_free(&l);
    free(v);
    return 0;
}
