/* Content-Type / Content-Disposition parameters (RFC 2045 + RFC 2231, mv_params_parse):
 * bounded, values valid UTF-8.  Then a writer round trip (CHECKLIST 43): a value
 * written by mv_param_write parses back to itself. */
#include "fuzz_common.h"

#include "mime_codec.h"
#include "mime_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_params ps;
    mv_buf w;
    int defects = 0;
    size_t i;
    char *v = fz_dup(data, size);

    memset(&ps, 0, sizeof ps);
    if (mv_params_parse(v, size, &ps, &defects) == 0) {
        FZ_ASSERT(ps.n <= MV_HDR_MAX_PARAMS);
        for (i = 0; i < ps.n; i++) {
            const char *pv = ps.p[i].value;
            FZ_ASSERT(ps.p[i].name != NULL && pv != NULL);
            FZ_ASSERT(mv_utf8_valid((const unsigned char *)pv, strlen(pv)));
            FZ_ASSERT(mv_params_get(&ps, ps.p[i].name) != NULL);
        }
    }
    mv_params_free(&ps);

    /* Round trip of the input as a filename, when it is a plausible caller value
     * (controls are not: the reader turns them into U+FFFD on purpose). */
    if (strlen(v) == size && mv_utf8_valid((const unsigned char *)v, size)
        && fz_no_controls((const unsigned char *)v, size)) {
        mv_buf_init(&w);
        FZ_ASSERT(mv_buf_append_str(&w, "attachment") == 0);
        if (mv_param_write(&w, "filename", v) == 0) {
            const char *got;
            char *line = fz_dup(w.data, w.len);
            FZ_ASSERT(mv_hdr_value_ok(line, w.len));
            memset(&ps, 0, sizeof ps);
            defects = 0;
            FZ_ASSERT(mv_params_parse(line, w.len, &ps, &defects) == 0);
            got = mv_params_get(&ps, "filename");
            FZ_ASSERT(got != NULL);
            if (strcmp(got, v) != 0) {
                fprintf(stderr, "round trip: [%s] -> [%s] -> [%s]\n", v, line, got);
                FZ_ASSERT(!"mv_param_write round trip");
            }
            FZ_ASSERT(ps.n == 1);
            mv_params_free(&ps);
            free(line);
        }
        mv_buf_free(&w);
    }
    free(v);
    return 0;
}
