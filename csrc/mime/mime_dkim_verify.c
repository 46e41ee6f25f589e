/* DKIM verification (RFC 6376 §6): a DKIM-Signature's tags checked (§6.1.1), the key
 * record read (§3.6.1), the body hash and the header hash computed with the signer's
 * canonicalizers, the signature checked with mbedTLS pk (rsa-sha256, RFC 8301 key
 * sizes) or libsodium (ed25519-sha256, RFC 8463).  The key lookup is the caller's. */
#include "mime_dkim.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#ifdef MV_HAVE_SODIUM
#include <sodium.h>
#endif

#include "mime_codec.h"

/* ---- the message ---- */

int mv_dkim_msg_init(mv_dkim_msg *m, const char *text, size_t n)
{
    size_t i = 0;
    memset(m, 0, sizeof *m);
    m->text = text;
    m->len = n;
    m->hdr_len = m->body_off = n;
    /* the header ends at the first empty line (CRLF or a bare LF) */
    while (i < n) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t line = nl == NULL ? n - i : (size_t)(nl - (text + i));
        if (line == 0 || (line == 1 && text[i] == '\r')) {
            m->hdr_len = i;
            m->body_off = nl == NULL ? n : (size_t)(nl - text) + 1;
            break;
        }
        i += line + (nl != NULL);
    }
    return mv_dkim_split_fields(&m->fl, text, m->hdr_len);
}

void mv_dkim_msg_free(mv_dkim_msg *m)
{
    free(m->fl.f);
    m->fl.f = NULL;
    m->fl.n = m->fl.cap = 0;
}

static int field_is(const mv_dkim_msg *m, size_t i, const char *name)
{
    size_t n = strlen(name);
    return m->fl.f[i].name_len == n && strncasecmp(m->text + m->fl.f[i].off, name, n) == 0;
}

size_t mv_dkim_msg_sig_field(const mv_dkim_msg *m, size_t k)
{
    size_t i;
    for (i = 0; i < m->fl.n; i++)
        if (field_is(m, i, "dkim-signature") && k-- == 0) return i;
    return (size_t)-1;
}

/* ---- the signature's tags ---- */

static int is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* A base64 value with its FWS (§3.5 b=, bh=; §3.6.1 p=) decoded strictly into out
 * (cap bytes).  The length, or -1. */
static long b64_value(const char *v, size_t n, unsigned char *out, size_t cap)
{
    char buf[1400];
    unsigned char dec[1056];
    size_t i, k = 0, olen = 0;
    for (i = 0; i < n; i++) {
        if (is_wsp(v[i])) continue;
        if (k == sizeof buf) return -1;
        buf[k++] = v[i];
    }
    if (k == 0 || mv_b64_decode_strict(buf, k, dec, &olen) != 0 || olen > cap) return -1;
    memcpy(out, dec, olen);
    return (long)olen;
}

/* A decimal tag value (1 to 12 digits, §3.5 t=, x=, l=). */
static long long number(const mv_dkim_tag *t)
{
    long long v = 0;
    size_t i;
    if (t->val_len == 0 || t->val_len > 12) return -1;
    for (i = 0; i < t->val_len; i++) {
        if (t->val[i] < '0' || t->val[i] > '9') return -1;
        v = v * 10 + (t->val[i] - '0');
    }
    return v;
}

/* A domain or selector: letters, digits, '-', '_', '.'; copied lowercase. */
static int name_copy(char *dst, size_t cap, const mv_dkim_tag *t)
{
    size_t i;
    if (t->val_len == 0 || t->val_len >= cap) return -1;
    for (i = 0; i < t->val_len; i++) {
        char c = t->val[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.')) return -1;
        dst[i] = c;
    }
    dst[t->val_len] = '\0';
    return 0;
}

/* h=: names without FWS, lowercase, none empty; must hold From (§6.1.1). */
static int header_list(mv_dkim_sig *s, const mv_dkim_tag *t, const char **why)
{
    size_t i, k = 0, start = 0;
    int from = 0;
    if ((s->hlist = malloc(t->val_len + 1)) == NULL) return -1;
    for (i = 0; i <= t->val_len; i++) {
        char c = i < t->val_len ? t->val[i] : ':';
        if (is_wsp(c)) continue;
        if (c == ':') {
            if (k == start) { *why = "malformed h= tag"; return 1; }
            if (k - start == 4 && memcmp(s->hlist + start, "from", 4) == 0) from = 1;
            if (i == t->val_len) break;
            s->hlist[k++] = ':';
            start = k;
            continue;
        }
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e) {
            *why = "malformed h= tag";
            return 1;
        }
        s->hlist[k++] = c;
    }
    s->hlist[k] = '\0';
    if (!from) { *why = "From is not signed"; return 1; }
    return 0;
}

/* i= must be in d= or a subdomain of it (§6.1.1). */
static int identity_ok(const mv_dkim_sig *s)
{
    const char *at = strrchr(s->identity, '@');
    size_t dn = strlen(s->domain), n;
    if (at == NULL) return 0;
    at++;
    n = strlen(at);
    if (n < dn || strcasecmp(at + n - dn, s->domain) != 0) return 0;
    return n == dn || at[n - dn - 1] == '.';
}

void mv_dkim_sig_free(mv_dkim_sig *s)
{
    free(s->hlist);
    s->hlist = NULL;
}

static int sig_tags(const mv_dkim_tag *t, size_t nt, mv_dkim_sig *s, const char **why)
{
    const mv_dkim_tag *v = mv_dkim_tag_get(t, nt, "v"), *a = mv_dkim_tag_get(t, nt, "a");
    const mv_dkim_tag *c = mv_dkim_tag_get(t, nt, "c"), *x;
    const char *req[] = { "v", "a", "b", "bh", "d", "h", "s" };
    size_t k;
    long n;
    for (k = 0; k < sizeof req / sizeof *req; k++)
        if (mv_dkim_tag_get(t, nt, req[k]) == NULL) { *why = "a required tag is missing"; return 1; }
    if (v->val_len != 1 || v->val[0] != '1') { *why = "unknown version"; return 1; }
    if (a->val_len == 10 && memcmp(a->val, "rsa-sha256", 10) == 0)
        s->algorithm = MV_DKIM_RSA_SHA256;
    else if (a->val_len == 14 && memcmp(a->val, "ed25519-sha256", 14) == 0)
        s->algorithm = MV_DKIM_ED25519_SHA256;
    else { *why = "unsupported algorithm"; return 1; }   /* rsa-sha1 too (RFC 8301) */
    s->simple_header = s->simple_body = 1;
    if (c != NULL) {
        const char *slash = memchr(c->val, '/', c->val_len);
        size_t hn = slash != NULL ? (size_t)(slash - c->val) : c->val_len;
        size_t bn = slash != NULL ? c->val_len - hn - 1 : 0;
        const char *b = slash != NULL ? slash + 1 : "";
        if (hn == 7 && memcmp(c->val, "relaxed", 7) == 0) s->simple_header = 0;
        else if (!(hn == 6 && memcmp(c->val, "simple", 6) == 0)) goto bad_c;
        if (bn == 7 && memcmp(b, "relaxed", 7) == 0) s->simple_body = 0;
        else if (slash != NULL && !(bn == 6 && memcmp(b, "simple", 6) == 0)) goto bad_c;
    }
    if (name_copy(s->domain, sizeof s->domain, mv_dkim_tag_get(t, nt, "d")) != 0 ||
        name_copy(s->selector, sizeof s->selector, mv_dkim_tag_get(t, nt, "s")) != 0) {
        *why = "malformed d= or s= tag";
        return 1;
    }
    if ((x = mv_dkim_tag_get(t, nt, "i")) != NULL) {
        if (x->val_len == 0 || x->val_len >= sizeof s->identity) {
            *why = "malformed i= tag";
            return 1;
        }
        memcpy(s->identity, x->val, x->val_len);
        s->identity[x->val_len] = '\0';
        if (!identity_ok(s)) { *why = "i= is not in the signing domain"; return 1; }
    }
    x = mv_dkim_tag_get(t, nt, "bh");
    if (b64_value(x->val, x->val_len, s->bh, sizeof s->bh) != 32) {
        *why = "malformed bh= tag";
        return 1;
    }
    x = mv_dkim_tag_get(t, nt, "b");
    if ((n = b64_value(x->val, x->val_len, s->b, sizeof s->b)) < 0) {
        *why = "malformed b= tag";
        return 1;
    }
    s->b_len = (size_t)n;
    s->t = s->x = s->l = -1;
    if ((x = mv_dkim_tag_get(t, nt, "t")) != NULL && (s->t = number(x)) < 0) goto bad_n;
    if ((x = mv_dkim_tag_get(t, nt, "x")) != NULL && (s->x = number(x)) < 0) goto bad_n;
    if ((x = mv_dkim_tag_get(t, nt, "l")) != NULL && (s->l = number(x)) < 0) goto bad_n;
    if (s->t >= 0 && s->x >= 0 && s->x < s->t) { *why = "x= is before t="; return 1; }
    return header_list(s, mv_dkim_tag_get(t, nt, "h"), why);
bad_c:
    *why = "unknown canonicalization";
    return 1;
bad_n:
    *why = "malformed t=, x= or l= tag";
    return 1;
}

/* The field's value: after its colon. */
static void field_value(const mv_dkim_msg *m, size_t field, const char **v, size_t *n)
{
    const mv_dkim_field *f = &m->fl.f[field];
    const char *p = m->text + f->off, *colon = memchr(p, ':', f->len);
    *v = colon != NULL ? colon + 1 : p + f->len;
    *n = (size_t)(p + f->len - *v);
}

int mv_dkim_sig_parse(const mv_dkim_msg *m, size_t field, mv_dkim_sig *s, const char **why)
{
    mv_dkim_tag t[MV_DKIM_MAX_TAGS];
    size_t nt, vn;
    const char *v;
    int rc;
    memset(s, 0, sizeof *s);
    s->field = field;
    if (field >= m->fl.n) { *why = "no such field"; return MV_DKIM_PERMERROR; }
    field_value(m, field, &v, &vn);
    if (mv_dkim_tags(v, vn, t, &nt, why) != 0) return MV_DKIM_PERMERROR;
    if ((rc = sig_tags(t, nt, s, why)) != 0) {
        mv_dkim_sig_free(s);
        return rc < 0 ? -1 : MV_DKIM_PERMERROR;
    }
    return MV_DKIM_PASS;
}

/* ---- the key record (§3.6.1) ---- */

typedef struct key {
    int algorithm;
    unsigned char p[1056];
    size_t p_len;
    int testing, strict;
} key;

/* Whether the colon-separated list (with FWS) holds word. */
static int list_has(const char *v, size_t n, const char *word)
{
    size_t i = 0, wn = strlen(word);
    while (i < n) {
        size_t s, e;
        while (i < n && (is_wsp(v[i]) || v[i] == ':')) i++;
        s = i;
        while (i < n && v[i] != ':') i++;
        e = i;
        while (e > s && is_wsp(v[e - 1])) e--;
        if (e - s == wn && strncasecmp(v + s, word, wn) == 0) return 1;
    }
    return 0;
}

static const char *read_key(const char *rec, size_t rn, key *k)
{
    mv_dkim_tag t[MV_DKIM_MAX_TAGS];
    const mv_dkim_tag *x;
    const char *why = NULL;
    size_t nt;
    long n;
    if (mv_dkim_tags(rec, rn, t, &nt, &why) != 0) return "malformed key record";
    if ((x = mv_dkim_tag_get(t, nt, "v")) != NULL &&
        (x != &t[0] || x->val_len != 5 || memcmp(x->val, "DKIM1", 5) != 0))
        return "malformed key record";
    if ((x = mv_dkim_tag_get(t, nt, "h")) != NULL && !list_has(x->val, x->val_len, "sha256"))
        return "key does not allow sha256";
    if ((x = mv_dkim_tag_get(t, nt, "s")) != NULL && !list_has(x->val, x->val_len, "*") &&
        !list_has(x->val, x->val_len, "email")) return "key is not for email";
    if ((x = mv_dkim_tag_get(t, nt, "t")) != NULL) {
        k->testing = list_has(x->val, x->val_len, "y");
        k->strict = list_has(x->val, x->val_len, "s");
    }
    k->algorithm = MV_DKIM_RSA_SHA256;
    if ((x = mv_dkim_tag_get(t, nt, "k")) != NULL) {
        if (x->val_len == 7 && memcmp(x->val, "ed25519", 7) == 0)
            k->algorithm = MV_DKIM_ED25519_SHA256;
        else if (!(x->val_len == 3 && memcmp(x->val, "rsa", 3) == 0))
            return "unknown key type";
    }
    if ((x = mv_dkim_tag_get(t, nt, "p")) == NULL) return "malformed key record";
    if (x->val_len == 0) return "key revoked";
    if ((n = b64_value(x->val, x->val_len, k->p, sizeof k->p)) < 0)
        return "malformed key record";
    k->p_len = (size_t)n;
    return NULL;
}

/* ---- hashing ---- */

typedef struct limited {
    mbedtls_md_context_t *md;
    long long left;             /* l=: bytes still hashed; -1 no limit */
    unsigned long long total;
} limited;

static void hash_limited(void *ctx, const unsigned char *p, size_t n)
{
    limited *h = ctx;
    size_t k = n;
    h->total += n;
    if (h->left >= 0 && (unsigned long long)k > (unsigned long long)h->left)
        k = (size_t)h->left;
    if (h->left >= 0) h->left -= (long long)k;
    mbedtls_md_update(h->md, p, k);
}

static void hash_all(void *ctx, const unsigned char *p, size_t n)
{
    mbedtls_md_update((mbedtls_md_context_t *)ctx, p, n);
}

/* The DKIM-Signature field with b='s value deleted (§3.7), canonicalized, without its
 * final CRLF. */
static int hash_own_field(const mv_dkim_msg *m, const mv_dkim_sig *s,
                          mbedtls_md_context_t *md, mv_buf *tmp)
{
    const mv_dkim_field *f = &m->fl.f[s->field];
    const char *p = m->text + f->off, *v;
    mv_dkim_tag t[MV_DKIM_MAX_TAGS];
    const mv_dkim_tag *b;
    const char *why;
    size_t nt, vn, vs, cut_from, cut_to, flen = f->len;
    mv_buf raw;
    int rc = -1;
    field_value(m, s->field, &v, &vn);
    if (mv_dkim_tags(v, vn, t, &nt, &why) != 0 || (b = mv_dkim_tag_get(t, nt, "b")) == NULL)
        return -1;              /* cannot happen: the field was parsed */
    vs = (size_t)(v - p);
    cut_from = (size_t)(b->val - p);
    /* the value and the FWS around it, up to the ';' (or the field's end) */
    while (cut_from > vs && is_wsp(p[cut_from - 1])) cut_from--;
    cut_to = vs + b->end;
    /* the field's own line end is not part of the value */
    while (flen > 0 && (p[flen - 1] == '\n' || p[flen - 1] == '\r')) flen--;
    if (cut_to > flen) cut_to = flen;
    mv_buf_init(&raw);
    if (mv_buf_append(&raw, p, cut_from) != 0 ||
        mv_buf_append(&raw, p + cut_to, flen - cut_to) != 0) goto cleanup;
    mv_buf_reset(tmp);
    if (mv_dkim_canon_header(tmp, (const char *)raw.data, raw.len, !s->simple_header) != 0)
        goto cleanup;
    mbedtls_md_update(md, tmp->data, s->simple_header ? tmp->len : tmp->len - 2);
    rc = 0;
cleanup:
    mv_buf_free(&raw);
    return rc;
}

static int body_hash(const mv_dkim_msg *m, const mv_dkim_sig *s, mv_dkim_check *c,
                     unsigned long long *total)
{
    const mbedtls_md_info_t *sha = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md_context_t md;
    mv_dkim_body *b = malloc(sizeof *b);
    limited h;
    int rc = -1;
    mbedtls_md_init(&md);
    if (b == NULL || mbedtls_md_setup(&md, sha, 0) != 0 || mbedtls_md_starts(&md) != 0)
        goto cleanup;
    h.md = &md;
    h.left = s->l;
    h.total = 0;
    mv_dkim_body_init(b, !s->simple_body, hash_limited, &h);
    mv_dkim_body_feed(b, (const unsigned char *)m->text + m->body_off, m->len - m->body_off);
    mv_dkim_body_end(b);
    mbedtls_md_finish(&md, c->body_hash);
    *total = h.total;
    rc = 0;
cleanup:
    free(b);
    mbedtls_md_free(&md);
    return rc;
}

static int header_hash(const mv_dkim_msg *m, const mv_dkim_sig *s, mv_dkim_check *c)
{
    const mbedtls_md_info_t *sha = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md_context_t md;
    mv_buf tmp;
    int rc = -1;
    mbedtls_md_init(&md);
    mv_buf_init(&tmp);
    if (mbedtls_md_setup(&md, sha, 0) != 0 || mbedtls_md_starts(&md) != 0) goto cleanup;
    if (mv_dkim_hash_fields(m->text, &m->fl, 0, s->hlist, !s->simple_header, hash_all, &md,
                            &tmp) != 0 || hash_own_field(m, s, &md, &tmp) != 0) goto cleanup;
    mbedtls_md_finish(&md, c->header_hash);
    rc = 0;
cleanup:
    mv_buf_free(&tmp);
    mbedtls_md_free(&md);
    return rc;
}

/* ---- the check ---- */

static void outcome(mv_dkim_check *c, int result, const char *reason)
{
    c->result = result;
    c->reason = reason;
}

static void check_signature(const mv_dkim_sig *s, const key *k, mv_dkim_check *c)
{
    if (s->algorithm == MV_DKIM_ED25519_SHA256) {
#ifdef MV_HAVE_SODIUM
        if (k->p_len != crypto_sign_PUBLICKEYBYTES) {
            outcome(c, MV_DKIM_PERMERROR, "malformed key record");
            return;
        }
        if (s->b_len != crypto_sign_BYTES ||
            crypto_sign_verify_detached(s->b, c->header_hash, 32, k->p) != 0)
            outcome(c, MV_DKIM_FAIL, "signature mismatch");
        else
            outcome(c, MV_DKIM_PASS, NULL);
#else
        outcome(c, MV_DKIM_NEUTRAL, "ed25519-sha256 is not available in this build");
#endif
        return;
    } else {
        mbedtls_pk_context pk;
        mbedtls_pk_init(&pk);
        if (mbedtls_pk_parse_public_key(&pk, k->p, k->p_len) != 0 ||
            !mbedtls_pk_can_do(&pk, MBEDTLS_PK_RSA))
            outcome(c, MV_DKIM_PERMERROR, "malformed key record");
        else if (mbedtls_pk_get_bitlen(&pk) < 1024)     /* RFC 8301 §3.2 */
            outcome(c, MV_DKIM_PERMERROR, "key too small");
        else if (mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, c->header_hash, 32, s->b,
                                   s->b_len) != 0)
            outcome(c, MV_DKIM_FAIL, "signature mismatch");
        else
            outcome(c, MV_DKIM_PASS, NULL);
        mbedtls_pk_free(&pk);
    }
}

int mv_dkim_verify(const mv_dkim_msg *m, const mv_dkim_sig *s, const char *rec, size_t rn,
                   long long now, mv_dkim_check *c)
{
    key *k;
    const char *why;
    unsigned long long total = 0;
    int rc = 0;
    memset(c, 0, sizeof *c);
    if (s->x >= 0 && now > s->x) {          /* §6.1.1 */
        outcome(c, MV_DKIM_PERMERROR, "expired");
        return 0;
    }
    if ((k = calloc(1, sizeof *k)) == NULL) return -1;
    if ((why = read_key(rec, rn, k)) != NULL) {
        outcome(c, MV_DKIM_PERMERROR, why);
        goto done;
    }
    c->testing = k->testing;
    if (k->algorithm != s->algorithm) {
        outcome(c, MV_DKIM_PERMERROR, "key type mismatch");
        goto done;
    }
    if (k->strict && s->identity[0] != '\0' &&
        strcasecmp(strrchr(s->identity, '@') + 1, s->domain) != 0) {
        outcome(c, MV_DKIM_PERMERROR, "i= is a subdomain but the key says t=s");
        goto done;
    }
    if (body_hash(m, s, c, &total) != 0) { rc = -1; goto done; }
    c->hashed = 1;
    if (s->l >= 0 && (unsigned long long)s->l > total) {
        outcome(c, MV_DKIM_FAIL, "body shorter than l=");
        goto done;
    }
    if (memcmp(c->body_hash, s->bh, 32) != 0) {
        outcome(c, MV_DKIM_FAIL, "body hash mismatch");
        goto done;
    }
    if (header_hash(m, s, c) != 0) { rc = -1; goto done; }
    c->hashed = 2;
    check_signature(s, k, c);
done:
    free(k);
    return rc;
}
