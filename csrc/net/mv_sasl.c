#include "mv_sasl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/md.h>
#include <mbedtls/md5.h>

#include "mime_codec.h"
#include "mv_str.h"

static const char *const mech_names[] = { "", "LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2",
                                          "OAUTHBEARER" };

const char *mv_sasl_name(mv_sasl_mech m)
{
    return mech_names[m];
}

int mv_sasl_is_token(mv_sasl_mech m)
{
    return m == MV_SASL_XOAUTH2 || m == MV_SASL_OAUTHBEARER;
}

int mv_sasl_from_name(const char *name)
{
    int i;
    for (i = 1; i <= MV_SASL_LAST; i++)
        if (strcasecmp(name, mech_names[i]) == 0) return i;
    return -1;
}

unsigned mv_sasl_parse_offer(const char *list, size_t len)
{
    unsigned bits = 0;
    size_t i = 0;
    while (i < len) {
        size_t start, n;
        int m;
        while (i < len && (list[i] == ' ' || list[i] == '=')) i++;
        start = i;
        while (i < len && list[i] != ' ') i++;
        n = i - start;
        for (m = 1; m <= MV_SASL_LAST; m++) {
            if (strlen(mech_names[m]) == n && strncasecmp(list + start, mech_names[m], n) == 0)
                bits |= MV_SASL_BIT(m);
        }
    }
    return bits;
}

mv_sasl_mech mv_sasl_choose(unsigned offered, const char *wanted, int have_password,
                            int have_token)
{
    /* Strongest first: a token needs no password on the wire (the standard
     * OAUTHBEARER before Google's and Microsoft's XOAUTH2); CRAM-MD5 never sends the
     * password; PLAIN before LOGIN as it takes one round trip. */
    static const mv_sasl_mech order[] = {
        MV_SASL_OAUTHBEARER, MV_SASL_XOAUTH2, MV_SASL_CRAM_MD5, MV_SASL_PLAIN, MV_SASL_LOGIN
    };
    size_t i;
    if (wanted != NULL && strcasecmp(wanted, "auto") != 0 && strcasecmp(wanted, "optional") != 0) {
        int m = mv_sasl_from_name(wanted);
        if (m < 0 || !(offered & MV_SASL_BIT(m))) return MV_SASL_NONE;
        return (mv_sasl_mech)m;
    }
    for (i = 0; i < sizeof order / sizeof order[0]; i++) {
        mv_sasl_mech m = order[i];
        if (!(offered & MV_SASL_BIT(m))) continue;
        if (mv_sasl_is_token(m) ? have_token : have_password)
            return m;
    }
    return MV_SASL_NONE;
}

static int put(mv_buf *out, const char *s, mv_error *e)
{
    if (mv_buf_append_str(out, s) != 0) return mv_fail(e, MV_E_MEMORY, "out of memory");
    return MV_OK;
}

int mv_sasl_start(mv_sasl *s, mv_buf *out, int *has_initial, mv_error *e)
{
    const char *p;
    s->step = 0;
    *has_initial = 0;
    switch (s->mech) {
    case MV_SASL_PLAIN:
        *has_initial = 1;
        if (put(out, "", e) || mv_buf_append(out, "\0", 1) || put(out, s->user, e)
            || mv_buf_append(out, "\0", 1) || put(out, s->password, e))
            return mv_fail(e, MV_E_MEMORY, "out of memory");
        return MV_OK;
    case MV_SASL_XOAUTH2:
        *has_initial = 1;
        if (put(out, "user=", e) || put(out, s->user, e) || put(out, "\001auth=Bearer ", e)
            || put(out, s->token, e) || put(out, "\001\001", e))
            return MV_ERROR;
        return MV_OK;
    case MV_SASL_OAUTHBEARER:
        /* RFC 7628 §3.1: gs2 header "n,a=<authzid>," (',' and '=' escaped, RFC 5801),
         * then kvpairs separated by ^A */
        *has_initial = 1;
        if (put(out, "n,a=", e)) return MV_ERROR;
        for (p = s->user != NULL ? s->user : ""; *p != '\0'; p++)
            if (put(out, *p == ',' ? "=2C" : *p == '=' ? "=3D" : (char[2]){ *p, 0 }, e))
                return MV_ERROR;
        if (put(out, ",\001auth=Bearer ", e) || put(out, s->token, e) || put(out, "\001\001", e))
            return MV_ERROR;
        return MV_OK;
    case MV_SASL_LOGIN:
    case MV_SASL_CRAM_MD5:
        return MV_OK;
    default:
        return mv_fail(e, MV_E_AUTH, "no SASL mechanism");
    }
}

/* The string value of "key" in a flat JSON object, sanitised into out ("" when absent
 * or not a string).  Escapes are kept as they are: the value is only shown. */
static void json_string(const unsigned char *j, size_t n, const char *key, char *out,
                        size_t cap)
{
    size_t klen = strlen(key), i, k;
    out[0] = '\0';
    for (i = 0; i + klen + 2 <= n; i++) {
        if (j[i] != '"' || memcmp(j + i + 1, key, klen) != 0 || j[i + 1 + klen] != '"')
            continue;
        i += klen + 2;
        while (i < n && (j[i] == ' ' || j[i] == ':' || j[i] == '\t')) i++;
        if (i >= n || j[i] != '"') return;
        for (k = i + 1; k < n && j[k] != '"'; k++)
            if (j[k] == '\\') k++;
        if (k > n) k = n;
        mv_sanitize(out, cap, (const char *)j + i + 1, k - i - 1);
        return;
    }
}

void mv_sasl_explain(const mv_sasl *s, mv_error *e)
{
    size_t n = strlen(e->msg);
    if (!mv_sasl_is_token(s->mech) || s->oauth_status[0] == '\0') return;
    snprintf(e->msg + n, sizeof e->msg - n, " (OAuth status %s%s%s)", s->oauth_status,
             s->oauth_scope[0] ? ", scope " : "", s->oauth_scope);
}

int mv_sasl_step(mv_sasl *s, const unsigned char *chal, size_t clen, mv_buf *out, mv_error *e)
{
    char hex[33];
    s->step++;
    switch (s->mech) {
    case MV_SASL_LOGIN:
        /* Username, then password; the prompts' wording varies, so go by order. */
        if (s->step == 1) return put(out, s->user, e);
        if (s->step == 2) return put(out, s->password, e);
        break;
    case MV_SASL_CRAM_MD5:
        if (s->step != 1) break;
        if (mv_hmac_md5_hex(s->password, strlen(s->password), chal, clen, hex) != 0)
            return mv_fail(e, MV_E_AUTH, "CRAM-MD5 computation failed");
        if (put(out, s->user, e) || put(out, " ", e) || put(out, hex, e)) return MV_ERROR;
        return MV_OK;
    case MV_SASL_PLAIN:
        /* A server that ignored the initial response asks with an empty challenge. */
        if (s->step == 1 && clen == 0) {
            int dummy;
            return mv_sasl_start(s, out, &dummy, e);
        }
        break;
    case MV_SASL_XOAUTH2:
    case MV_SASL_OAUTHBEARER:
        if (s->step != 1) break;
        /* An empty challenge asks for the initial response the command did not carry
         * (IMAP without SASL-IR, RFC 4959); it restarts the count for the error below. */
        if (clen == 0) {
            int dummy;
            return mv_sasl_start(s, out, &dummy, e);
        }
        /* Otherwise it is a JSON error (RFC 7628 §3.2.2; Google's and Microsoft's
         * XOAUTH2 send the same): keep what it says, and answer so that the server ends
         * the exchange with its failure: ^A for OAUTHBEARER (§3.2.3), an empty line for
         * XOAUTH2. */
        json_string(chal, clen, "status", s->oauth_status, sizeof s->oauth_status);
        json_string(chal, clen, "scope", s->oauth_scope, sizeof s->oauth_scope);
        if (s->mech == MV_SASL_XOAUTH2) return MV_OK;
        return mv_buf_append(out, "\001", 1) == 0 ? MV_OK
               : mv_fail(e, MV_E_MEMORY, "out of memory");
    default:
        break;
    }
    return mv_fail(e, MV_E_AUTH, "unexpected SASL challenge from the server");
}

int mv_b64_encode_buf(const unsigned char *p, size_t n, mv_buf *out)
{
    /* One byte more: an empty response still leaves out->data allocated, so the
     * pointer below is never NULL + 0. */
    size_t need = mv_b64_encoded_len(n, 0) + 1;
    if (mv_buf_reserve(out, need) != 0) return -1;
    out->len += mv_b64_encode(p, n, (char *)out->data + out->len, 0);
    return 0;
}

int mv_b64_decode_buf(const char *p, size_t n, mv_buf *out)
{
    size_t olen = 0;
    if (mv_buf_reserve(out, n / 4 * 3 + 3) != 0) return -1;
    if (mv_b64_decode_strict(p, n, out->data + out->len, &olen) != 0) return -1;
    out->len += olen;
    return 0;
}

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

int mv_hmac_md5_hex(const char *key, size_t klen, const unsigned char *msg, size_t mlen,
                    char hex[33])
{
    unsigned char d[16];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
    if (md == NULL) return -1;
    if (mbedtls_md_hmac(md, (const unsigned char *)key, klen, msg, mlen, d) != 0) return -1;
    to_hex(d, 16, hex);
    return 0;
}

int mv_md5_hex(const unsigned char *msg, size_t mlen, char hex[33])
{
    unsigned char d[16];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
    if (md == NULL || mbedtls_md(md, msg, mlen, d) != 0) return -1;
    to_hex(d, 16, hex);
    return 0;
}

void mv_sasl_begin(mv_sasl *s, mv_sasl_mech m, const char *user, const char *password,
                   const char *token)
{
    s->mech = m;
    s->user = user;
    s->password = password != NULL ? password : "";
    s->token = token != NULL ? token : "";
    s->step = 0;
    s->rounds = 0;
    s->oauth_status[0] = s->oauth_scope[0] = '\0';
}

int mv_sasl_command(mv_sasl *s, const char *verb, mv_buf *line, size_t *mask_from,
                    mv_error *e)
{
    mv_buf resp;
    int has_initial = 0, r;
    mv_buf_init(&resp);
    *mask_from = (size_t)-1;
    r = mv_sasl_start(s, &resp, &has_initial, e);
    if (r == MV_OK && (mv_buf_append_str(line, verb) || mv_buf_append_str(line, " ")
                       || mv_buf_append_str(line, mv_sasl_name(s->mech))))
        r = mv_fail(e, MV_E_MEMORY, "out of memory");
    if (r == MV_OK && has_initial) {
        *mask_from = line->len + 1;
        if (mv_buf_append_str(line, " ")
            || (resp.len == 0 ? mv_buf_append_str(line, "=")
                              : mv_b64_encode_buf(mv_buf_head(&resp), mv_buf_avail(&resp),
                                                  line)))
            r = mv_fail(e, MV_E_MEMORY, "out of memory");
    }
    mv_buf_wipe(&resp);
    mv_buf_free(&resp);
    return r;
}

int mv_sasl_answer(mv_sasl *s, const char *chal, size_t clen, mv_buf *line, mv_error *e)
{
    mv_buf dec, resp;
    int r = MV_OK;
    if (++s->rounds > MV_SASL_MAX_ROUNDS)
        return mv_fail(e, MV_E_AUTH, "authentication aborted: too many server challenges");
    mv_buf_init(&dec);
    mv_buf_init(&resp);
    if (clen > 0 && mv_b64_decode_buf(chal, clen, &dec) != 0)
        r = mv_fail(e, MV_E_AUTH, "authentication aborted: malformed server challenge");
    if (r == MV_OK)
        r = mv_sasl_step(s, mv_buf_head(&dec), mv_buf_avail(&dec), &resp, e);
    if (r == MV_OK && mv_b64_encode_buf(mv_buf_head(&resp), mv_buf_avail(&resp), line) != 0)
        r = mv_fail(e, MV_E_MEMORY, "out of memory");
    mv_buf_wipe(&dec);
    mv_buf_wipe(&resp);
    mv_buf_free(&dec);
    mv_buf_free(&resp);
    return r;
}
