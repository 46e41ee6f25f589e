/* The tolerant MIME parser (mv_mime_parse) on random messages with small caps, then
 * everything a caller can do with the result: headers, part contents, attachments'
 * safe names and a re-serialisation. */
#include "fuzz_common.h"

#include "mime_build.h"
#include "mime_msg.h"
#include "mime_parse.h"
#include "mime_part.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_mime_msg m;
    mv_mime_limits lim;
    mv_error e;
    fz_in in = { data, size };
    unsigned f = fz_byte(&in);
    size_t i, idx, pos, nlen, vlen;
    const char *name, *val;
    int r;

    mv_mime_limits_default(&lim);
    if (f & 1) {   /* small caps reach the limit paths quickly */
        lim.max_depth = 1 + (f >> 1) % 8;
        lim.max_parts = 1 + (f >> 4) * 4;
        lim.max_headers = 4 + (f >> 3);
        lim.max_header_bytes = 64 + f * 16;
    }
    mv_mime_init(&m);
    mv_error_clear(&e);
    /* borrowed: the input is exactly in.n bytes, so ASan sees any read past the end */
    r = (f & 2) ? mv_mime_parse_borrowed(&m, in.p, in.n, &lim, &e)
                 : mv_mime_parse(&m, in.p, in.n, &lim, &e);
    if (r != 0) {
        FZ_ASSERT(e.kind != MV_E_NONE);
        mv_mime_free(&m);
        return 0;
    }
    FZ_ASSERT(m.nparts <= lim.max_parts);
    for (i = 0; i < m.nh; i++) {
        FZ_ASSERT(m.h[i].name != NULL && m.h[i].value != NULL);
        /* logical values are unfolded: no CR or LF (CHECKLIST 15, 42) */
        FZ_ASSERT(strpbrk(m.h[i].value, "\r\n") == NULL);
        (void)mv_mime_get_header(&m, m.h[i].name, 0);
    }
    for (idx = 0; idx < m.nparts; idx++) {
        const mv_mime_part *p = &m.parts[idx];
        mv_buf out;
        FZ_ASSERT(p->hdr_off <= p->hdr_end && p->hdr_end <= p->body_off
                  && p->body_off <= p->body_end && p->body_end <= m.raw_len);
        FZ_ASSERT((size_t)p->depth <= lim.max_depth + 1);
        pos = p->hdr_off;
        while (mv_mime_next_header(m.raw, p->hdr_end, &pos, &name, &nlen, &val, &vlen))
            FZ_ASSERT(pos <= p->hdr_end);
        mv_buf_init(&out);
        (void)mv_mime_part_content(&m, idx, &out);
        mv_buf_free(&out);
    }
    for (i = 0; i < m.natt; i++) {
        const char *n = m.att[i].name;
        if (n != NULL) {
            FZ_ASSERT(strchr(n, '/') == NULL && strchr(n, '\\') == NULL);
            FZ_ASSERT(fz_no_controls((const unsigned char *)n, strlen(n)));
        }
    }
    {
        mv_buf out;
        mv_buf_init(&out);
        mv_error_clear(&e);
        (void)mv_mime_serialize(&m, &out, &e);
        mv_buf_free(&out);
    }
    mv_mime_free(&m);
    return 0;
}
