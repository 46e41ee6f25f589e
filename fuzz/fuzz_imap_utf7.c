/* Modified UTF-7 mailbox names (imap_utf7.c).  The own codec is strict (RFC 3501
 * 5.1.3); whatever it decodes, glibc's "UTF-7-IMAP" (when present) decodes the same, and
 * encoding the result and decoding it again gives it back.  Any valid UTF-8 encodes to
 * printable ASCII that decodes to the same bytes, with both codecs. */
#include "fuzz_common.h"

#include "imap_data.h"
#include "imap_utf7.h"

static int printable(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) if (p[i] < 0x20 || p[i] > 0x7e) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_dup(data, size);
    mv_buf own, lib, enc, back;
    mv_buf_init(&own);
    mv_buf_init(&lib);
    mv_buf_init(&enc);
    mv_buf_init(&back);
    if (imap_utf7_decode_own(s, size, &own) == 0) {
        FZ_ASSERT(imap_utf7_decode(s, size, &lib) == 0);
        FZ_ASSERT(own.len == lib.len && (own.len == 0 || memcmp(own.data, lib.data, own.len) == 0));
        FZ_ASSERT(imap_utf7_encode_own((const char *)own.data, own.len, &enc) == 0);
        FZ_ASSERT(imap_utf7_decode_own((const char *)enc.data, enc.len, &back) == 0);
        FZ_ASSERT(back.len == own.len
                  && (own.len == 0 || memcmp(back.data, own.data, own.len) == 0));
    }
    mv_buf_reset(&enc);
    mv_buf_reset(&back);
    if (imap_utf7_encode_own(s, size, &enc) == 0) {
        FZ_ASSERT(printable(enc.data, enc.len));
        FZ_ASSERT(imap_utf7_decode_own((const char *)enc.data, enc.len, &back) == 0);
        FZ_ASSERT(back.len == size && (size == 0 || memcmp(back.data, s, size) == 0));
        mv_buf_reset(&lib);
        FZ_ASSERT(imap_utf7_encode(s, size, &lib) == 0);
        FZ_ASSERT(lib.len == enc.len && (enc.len == 0 || memcmp(lib.data, enc.data, enc.len) == 0));
    }
    mv_buf_free(&own);
    mv_buf_free(&lib);
    mv_buf_free(&enc);
    mv_buf_free(&back);
    free(s);
    return 0;
}
