/* SASL client steps against fuzzed 334 challenges: each challenge line is base64
 * decoded strictly (as SMTP and POP3 do), then given to mv_sasl_step; the round count
 * is bounded by the mechanism (PLAIN, XOAUTH2 and OAUTHBEARER re-send their initial
 * response to each empty challenge, uncounted here: the protocol's round cap bounds
 * that) and no error names the password. */
#include "fuzz_common.h"

#include "mv_sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    static const mv_sasl_mech mechs[] = {
        MV_SASL_LOGIN, MV_SASL_PLAIN, MV_SASL_CRAM_MD5, MV_SASL_XOAUTH2, MV_SASL_OAUTHBEARER
    };
    unsigned f = fz_byte(&in);
    mv_sasl s;
    mv_buf out, chal;
    mv_error e;
    int has_initial = 0, rounds = 0;

    memset(&s, 0, sizeof s);
    s.mech = mechs[f % 5];
    s.user = "user@example.org";
    s.password = "s3cret";
    s.token = "ya29.token";
    mv_buf_init(&out);
    mv_buf_init(&chal);
    mv_error_clear(&e);
    (void)mv_sasl_parse_offer((const char *)in.p, in.n);
    if (mv_sasl_start(&s, &out, &has_initial, &e) == 0) {
        while (in.n > 0) {
            const uint8_t *line;
            size_t k = 0, len;
            while (k < in.n && in.p[k] != '\n') k++;
            len = fz_take(&in, k, &line);
            (void)fz_byte(&in);   /* the LF */
            mv_buf_reset(&chal);
            mv_buf_reset(&out);
            if (mv_b64_decode_buf((const char *)line, len, &chal) != 0) break;
            if (mv_sasl_step(&s, mv_buf_head(&chal), mv_buf_avail(&chal), &out, &e) != 0) {
                FZ_ASSERT(e.kind == MV_E_AUTH);
                FZ_ASSERT(strstr(e.msg, "s3cret") == NULL);
                break;
            }
            /* an empty challenge re-sends the initial response: not counted */
            if (chal.len > 0 || !(s.mech == MV_SASL_PLAIN || mv_sasl_is_token(s.mech)))
                FZ_ASSERT(++rounds <= 2);
        }
    }
    mv_buf_free(&out);
    mv_buf_free(&chal);
    return 0;
}
