/* Received mail changed and sent on: parse -> modify (a header, Subject, To, or the body)
 * -> serialise -> parse again.  Nothing may crash, the second parse must succeed, and
 * after a change of headers only the original body bytes must go out untouched
 * (CHECKLIST 63).  The first input byte picks the changes; the next few give a Subject. */
#include "fuzz_common.h"

#include "mime_header.h"
#include "mime_build.h"
#include "mime_msg.h"
#include "mime_parse.h"

enum { CH_HEADER = 1, CH_SUBJECT = 2, CH_TO = 4, CH_DELETE = 8, CH_TEXT = 16, CH_ATT = 32,
       CH_HTML = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_mime_msg m, again;
    mv_mime_limits lim, lim2;
    mv_error e;
    mv_buf out;
    fz_in in = { data, size };
    unsigned ch = fz_byte(&in);
    const uint8_t *sp;
    size_t sn = fz_take(&in, fz_byte(&in) % 48, &sp), natt;
    char *subject = fz_dup(sp, sn);
    int body_changed = (ch & (CH_TEXT | CH_ATT | CH_HTML)) != 0;

    if (ch == 0) ch = CH_HEADER;
    mv_mime_limits_default(&lim);
    mv_mime_init(&m);
    mv_mime_init(&again);
    mv_buf_init(&out);
    mv_error_clear(&e);
    if (mv_mime_parse(&m, in.p, in.n, &lim, &e) != MV_OK) goto done;
    natt = m.natt;

    if (ch & CH_HEADER) FZ_ASSERT(mv_mime_set_header(&m, "X-Fuzz", "changed") == 0);
    if (ch & CH_SUBJECT) {
        /* what the binding lets through: no control byte but TAB */
        const char *v = mv_hdr_value_ok(subject, sn) ? subject : "fuzzed subject";
        FZ_ASSERT(mv_mime_set_header(&m, "Subject", v) == 0);
    }
    if (ch & CH_TO) FZ_ASSERT(mv_mime_set_header(&m, "To", "Fuzz <fuzz@example.org>") == 0);
    if (ch & CH_DELETE) FZ_ASSERT(mv_mime_set_header(&m, "From", NULL) == 0);
    if (ch & CH_TEXT) FZ_ASSERT(mv_mime_set_body(&m, 0, "fuzz text\n", 10) == 0);
    if (ch & CH_HTML) FZ_ASSERT(mv_mime_set_body(&m, 1, "<p>fuzz</p>", 11) == 0);
    if (ch & CH_ATT)
        FZ_ASSERT(mv_mime_add_att(&m, NULL, "abc", 3, "f.bin", NULL, NULL, 0, &e) == MV_OK);

    mv_error_clear(&e);
    if (mv_mime_serialize(&m, &out, &e) != MV_OK) {
        /* only a field the caller set may be refused, and none of ours is invalid */
        fprintf(stderr, "serialise: %s\n", e.msg);
        FZ_ASSERT(0);
    }
    if (!body_changed) {
        /* the body section goes out exactly as it came */
        size_t bo = m.parts[0].body_off, bl = m.raw_len - bo;
        FZ_ASSERT(out.len >= bl);
        FZ_ASSERT(bl == 0 || memcmp(out.data + out.len - bl, m.raw + bo, bl) == 0);
    }

    /* The rebuilt structure may nest two levels deeper and hold a few more parts and
     * fields than the input did. */
    lim2 = lim;
    lim2.max_depth += 4;
    lim2.max_parts = lim.max_parts * 2 + 16;
    lim2.max_headers += 16;
    lim2.max_header_bytes += 65536;
    mv_error_clear(&e);
    if (mv_mime_parse(&again, out.data, out.len, &lim2, &e) != MV_OK) {
        fprintf(stderr, "second parse: %s\n", e.msg);
        FZ_ASSERT(0);
    }
    if (!body_changed) FZ_ASSERT(again.natt == natt);
    if (ch & CH_ATT) FZ_ASSERT(again.natt >= 1);
    if (ch & CH_TO) FZ_ASSERT(mv_mime_get_header(&again, "To", 0) != NULL);
    if (ch & CH_DELETE) FZ_ASSERT(mv_mime_get_header(&again, "From", 0) == NULL);
done:
    mv_buf_free(&out);
    mv_mime_free(&again);
    mv_mime_free(&m);
    free(subject);
    return 0;
}
