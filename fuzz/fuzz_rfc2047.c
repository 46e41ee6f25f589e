/* RFC 2047 decoding of unstructured header values (mv_hdr_decode_text): the result is
 * valid UTF-8 without CR, LF, NUL, ESC or other C0 controls but TAB (CHECKLIST 52). */
#include "fuzz_common.h"

#include "mime_codec.h"
#include "mime_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_buf out;
    int defects = 0;
    char *v = fz_dup(data, size), *u;

    mv_buf_init(&out);
    if (mv_hdr_decode_text(v, size, &out, &defects) == 0 && out.len > 0) {
        FZ_ASSERT(mv_utf8_valid(out.data, out.len));
        FZ_ASSERT(fz_no_controls(out.data, out.len));
    }
    mv_buf_free(&out);
    u = mv_hdr_unfold(v, size);
    if (u != NULL) {
        FZ_ASSERT(strchr(u, '\r') == NULL && strchr(u, '\n') == NULL);
        free(u);
    }
    free(v);
    return 0;
}
