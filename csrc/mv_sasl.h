/* SASL client mechanisms shared by SMTP AUTH and POP3 AUTH.  Pure: challenge in,
 * response out (both raw, not base64), so each protocol frames them its own way. */
#ifndef MV_SASL_H
#define MV_SASL_H

#include "mv_buf.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef enum {
    MV_SASL_NONE = 0, MV_SASL_LOGIN, MV_SASL_PLAIN, MV_SASL_CRAM_MD5, MV_SASL_XOAUTH2
} mv_sasl_mech;

/* Bit set of offered mechanisms, from a space-separated list ("PLAIN LOGIN ..."). */
unsigned mv_sasl_parse_offer(const char *list, size_t len);
#define MV_SASL_BIT(m) (1u << (m))

/* Chooses a mechanism: `wanted` (a name, or NULL/"auto" for the strongest offered that
 * the credentials allow).  Returns MV_SASL_NONE when nothing fits. */
mv_sasl_mech mv_sasl_choose(unsigned offered, const char *wanted, int have_password,
                            int have_token);
const char *mv_sasl_name(mv_sasl_mech m);
/* Parses a user-supplied mechanism name; -1 when unknown. */
int mv_sasl_from_name(const char *name);

typedef struct mv_sasl {
    mv_sasl_mech mech;
    const char *user, *password, *token;  /* borrowed from the session */
    int step;
} mv_sasl;

/* The initial response (may be empty for mechanisms that wait for a challenge);
 * *has_initial tells whether to send it with the AUTH command. */
int mv_sasl_start(mv_sasl *s, mv_buf *out, int *has_initial, mv_error *e);
/* The response to one decoded server challenge. */
int mv_sasl_step(mv_sasl *s, const unsigned char *chal, size_t clen, mv_buf *out, mv_error *e);

/* base64 for the short lines of SASL, appended to out: unwrapped encoding, and the
 * strict decoding of mv_b64_decode_strict (mime_codec.h); -1 on any non-base64 input,
 * or out of memory. */
int mv_b64_encode_buf(const unsigned char *p, size_t n, mv_buf *out);
int mv_b64_decode_buf(const char *p, size_t n, mv_buf *out);
/* Lowercase hex of HMAC-MD5(key, msg) into hex[33]. */
int mv_hmac_md5_hex(const char *key, size_t klen, const unsigned char *msg, size_t mlen,
                    char hex[33]);
int mv_md5_hex(const unsigned char *msg, size_t mlen, char hex[33]);

MV_HIDDEN_END

#endif
