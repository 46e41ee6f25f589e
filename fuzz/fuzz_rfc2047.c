/* RFC 2047 decoding of unstructured header values (mv_hdr_decode_text): the result is
 * valid UTF-8 without CR, LF, NUL, ESC or other C0 controls but TAB (CHECKLIST 52).
 * Every input is also decoded repeated 64 times (up to 1 MiB), and the scanner's work
 * (mv_hdr_work) must stay within a constant times the length: a value of "=?" that
 * never end once cost a scan to the end from every "=?" (CHECKLIST 64).  run.sh gives
 * this target large inputs (-max_len 1 MiB) and fuzz/corpus/fuzz_rfc2047/ holds a large
 * pathological seed. */
#include "fuzz_common.h"

#include "mime_codec.h"
#include "mime_header.h"

static unsigned long work;

static void decode_checked(const char *v, size_t size)
{
    mv_buf out;
    int defects = 0;
    mv_buf_init(&out);
    work = 0;
    mv_hdr_work = &work;
    if (mv_hdr_decode_text(v, size, &out, &defects) == 0 && out.len > 0) {
        FZ_ASSERT(mv_utf8_valid(out.data, out.len));
        FZ_ASSERT(fz_no_controls(out.data, out.len));
    }
    mv_hdr_work = NULL;
    if (work > 4 * (unsigned long)size + 64) {
        fprintf(stderr, "%lu bytes examined for %lu\n", work, (unsigned long)size);
        FZ_ASSERT(!"RFC 2047 scan linear");
    }
    mv_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = fz_dup(data, size), *u;
    size_t i;

    decode_checked(v, size);
    u = mv_hdr_unfold(v, size);
    if (u != NULL) {
        FZ_ASSERT(strchr(u, '\r') == NULL && strchr(u, '\n') == NULL);
        free(u);
    }
    free(v);
    if (size > 0 && size <= 16384) {
        size_t big = size * 64;
        char *q = malloc(big + 1);
        FZ_ASSERT(q != NULL);
        for (i = 0; i < 64; i++) memcpy(q + i * size, data, size);
        q[big] = '\0';
        decode_checked(q, big);
        free(q);
    }
    return 0;
}
