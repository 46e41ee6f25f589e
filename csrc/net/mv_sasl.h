/* SASL client mechanisms shared by SMTP AUTH and POP3 AUTH, and their framing: the
 * command with its initial response, base64 challenges and answers, the round cap.
 * A protocol only reads its own continuation lines ("334 " in SMTP, "+ " in POP3),
 * sends what this builds, and sends "*" when an answer fails. */
#ifndef MV_SASL_H
#define MV_SASL_H

#include "mv_buf.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef enum {
    MV_SASL_NONE = 0, MV_SASL_LOGIN, MV_SASL_PLAIN, MV_SASL_CRAM_MD5, MV_SASL_XOAUTH2,
    MV_SASL_OAUTHBEARER     /* RFC 7628 */
} mv_sasl_mech;
#define MV_SASL_LAST MV_SASL_OAUTHBEARER

/* Bit set of offered mechanisms, from a space-separated list ("PLAIN LOGIN ..."). */
unsigned mv_sasl_parse_offer(const char *list, size_t len);
#define MV_SASL_BIT(m) (1u << (m))

/* Chooses a mechanism: `wanted` (a name, or NULL/"auto" for the strongest offered that
 * the credentials allow).  Returns MV_SASL_NONE when nothing fits. */
mv_sasl_mech mv_sasl_choose(unsigned offered, const char *wanted, int have_password,
                            int have_token);
const char *mv_sasl_name(mv_sasl_mech m);
/* Whether m authenticates with an OAuth token (XOAUTH2, OAUTHBEARER), not a password. */
int mv_sasl_is_token(mv_sasl_mech m);
/* Parses a user-supplied mechanism name; -1 when unknown. */
int mv_sasl_from_name(const char *name);

/* Server challenges answered in one exchange at most: no mechanism here needs more
 * than two, and a server that keeps asking is not let to loop. */
#define MV_SASL_MAX_ROUNDS 5

typedef struct mv_sasl {
    mv_sasl_mech mech;
    const char *user, *password, *token;  /* borrowed from the session */
    int step;
    int rounds;                           /* challenges answered */
    /* The OAuth error challenge (OAUTHBEARER: RFC 7628 §3.2.2; XOAUTH2 sends the same
     * JSON), sanitised; "" when none */
    char oauth_status[48], oauth_scope[160];
} mv_sasl;

/* Readies an exchange with mechanism m; NULL password or token count as empty. */
void mv_sasl_begin(mv_sasl *s, mv_sasl_mech m, const char *user, const char *password,
                   const char *token);
/* The command that opens the exchange, into line: "<verb> <MECH>" and, when the
 * mechanism speaks first, " " and its base64 initial response, "=" when empty (RFC
 * 4954 §4, RFC 5034 §4).  *mask_from: where a trace starts hiding the line, or
 * (size_t)-1 when nothing is secret. */
int mv_sasl_command(mv_sasl *s, const char *verb, mv_buf *line, size_t *mask_from,
                    mv_error *e);
/* One server challenge, still base64: checked against MV_SASL_MAX_ROUNDS, decoded,
 * answered in base64 into line.  MV_ERROR (kind auth, or memory) means: cancel the
 * exchange with "*" and read the server's answer. */
int mv_sasl_answer(mv_sasl *s, const char *chal, size_t clen, mv_buf *line, mv_error *e);

/* The initial response (may be empty for mechanisms that wait for a challenge);
 * *has_initial tells whether to send it with the AUTH command. */
int mv_sasl_start(mv_sasl *s, mv_buf *out, int *has_initial, mv_error *e);
/* The response to one decoded server challenge. */
int mv_sasl_step(mv_sasl *s, const unsigned char *chal, size_t clen, mv_buf *out, mv_error *e);

/* After a failed exchange: appends what an OAuth error challenge said (status, scope; never
 * the token)
 * to e's message, as " (OAuth status invalid_token, scope ...)"; nothing otherwise. */
void mv_sasl_explain(const mv_sasl *s, mv_error *e);

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
