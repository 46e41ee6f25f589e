/* Delivery status and feedback reports (mime_report.h) from random input: the field
 * groups of a status body read directly, and the report of a whole message parsed.
 * Every cap holds and every value is a trimmed, unfolded string. */
#include "fuzz_common.h"

#include "mime_msg.h"
#include "mime_parse.h"
#include "mime_report.h"

static void check(const mv_report *r)
{
    size_t i, j;
    FZ_ASSERT(r->ng <= MV_REPORT_MAX_GROUPS);
    for (i = 0; i < r->ng; i++) {
        FZ_ASSERT(r->g[i].n > 0 && r->g[i].n <= MV_REPORT_MAX_FIELDS);
        for (j = 0; j < r->g[i].n; j++) {
            const mv_report_field *f = &r->g[i].f[j];
            size_t n = strlen(f->value);
            FZ_ASSERT(f->name[0] != '\0');
            FZ_ASSERT(n <= MV_REPORT_MAX_VALUE);
            FZ_ASSERT(strchr(f->value, '\n') == NULL && strchr(f->value, '\r') == NULL);
            FZ_ASSERT(n == 0 || (f->value[0] != ' ' && f->value[n - 1] != ' '));
            FZ_ASSERT(mv_report_find(r, i, f->name) != NULL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_report r;
    mv_mime_msg m;
    mv_error e;
    mv_report_init(&r);
    if (mv_report_parse_fields(data, size, &r) == 0) check(&r);
    mv_report_free(&r);

    mv_mime_init(&m);
    mv_error_clear(&e);
    if (mv_mime_parse_borrowed(&m, data, size, NULL, &e) == MV_OK && mv_report_of(&m, &r) > 0) {
        FZ_ASSERT(r.kind == MV_REPORT_DSN || r.kind == MV_REPORT_ARF);
        FZ_ASSERT(r.returned < 0 || (size_t)r.returned < m.nparts);
        check(&r);
        mv_report_free(&r);
    }
    mv_mime_free(&m);
    return 0;
}
