/* SMTP reply assembly: lines cut from random bytes at LF (CR before it dropped), fed
 * to smtp_rr_line with small caps.  A complete reply must give a sanitised text. */
#include "fuzz_common.h"

#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smtp_reply_reader rr;
    mv_error e;
    mv_reply out;
    size_t start = 0, i;
    fz_in in = { data, size };
    size_t max_lines = 1 + fz_byte(&in) % 64, max_bytes = 16 + fz_byte(&in) * 64;

    smtp_rr_init(&rr, max_lines, max_bytes);
    mv_error_clear(&e);
    data = in.p;
    size = in.n;
    for (i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n') continue;
        {
            size_t len = i - start;
            char *line;
            int r;
            if (len > 0 && data[start + len - 1] == '\r') len--;
            line = fz_dup(data + start, len);
            r = smtp_rr_line(&rr, line, len, &e);
            free(line);
            FZ_ASSERT(r == 0 || r == 1 || r == -1);
            if (r == 1) {
                smtp_rr_result(&rr, &out);
                FZ_ASSERT(out.code >= 100 && out.code <= 599);
                FZ_ASSERT(strlen(out.text) < sizeof out.text);
                FZ_ASSERT(fz_no_controls((const unsigned char *)out.text, strlen(out.text)));
                FZ_ASSERT(out.enhanced[0] == '\0' || out.enhanced[0] == '0' + out.code / 100);
                FZ_ASSERT(rr.lines <= max_lines && rr.bytes <= max_bytes);
                smtp_rr_reset(&rr);
            } else if (r < 0) {
                FZ_ASSERT(e.kind == MV_E_PROTOCOL || e.kind == MV_E_LIMIT);
                smtp_rr_reset(&rr);
                mv_error_clear(&e);
            }
        }
        start = i + 1;
    }
    smtp_rr_free(&rr);
    return 0;
}
