/* DKIM signing (RFC 6376): header selection (§5.4), the body hash over the serialised
 * message in one streaming pass (§3.7) and the DKIM-Signature field (§3.5), signed with
 * rsa-sha256 through mbedTLS pk, or with ed25519-sha256 (RFC 8463) through libsodium
 * when the build has it (MV_HAVE_SODIUM: mbedTLS has no Ed25519). */
#include "mime_dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#ifdef MV_HAVE_SODIUM
#include <sodium.h>
#endif

#include "mime_build.h"
#include "mime_codec.h"
#include "mime_header.h"
#include "mv_defaults.h"
#include "mv_idna.h"
#include "mv_pk_compat.h"
#include "mv_random.h"
#include "mv_str.h"

/* ---- the signer ---- */

/* RFC 6376 §5.4.1's recommended set, with the fields that make the MIME structure. */
static const char *const default_headers[] = {
    "from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from",
    "resent-sender", "resent-to", "resent-cc", "in-reply-to", "references", "list-id",
    "list-help", "list-unsubscribe", "list-subscribe", "list-post", "list-owner",
    "list-archive", "message-id", "mime-version", "content-type",
    "content-transfer-encoding", NULL
};

/* Oversigned (listed once more than they occur, §8.15): the fields RFC 5322 §3.6 allows
 * once, whose second copy a reader might show instead of the signed one. */
static const char *const oversigned[] = {
    "from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id",
    "in-reply-to", "references", "mime-version", "content-type",
    "content-transfer-encoding", NULL
};

typedef struct signer {
    mbedtls_md_context_t bh;
    mv_buf hdr;                 /* the header block as serialised */
    mv_dkim_fields fl;
    int in_body;
    size_t line;                /* bytes of the current header line but CR */
    mv_dkim_body body;
} signer;

static void hash_out(void *ctx, const unsigned char *p, size_t n)
{
    mbedtls_md_update((mbedtls_md_context_t *)ctx, p, n);
}

static int in_list(const char *const *l, const char *name, size_t n)
{
    for (; *l != NULL; l++)
        if (strlen(*l) == n && strncasecmp(*l, name, n) == 0) return 1;
    return 0;
}

/* Serialised bytes: the header block is kept (without the empty line that ends it), the
 * body hashed as it passes. */
static int take(signer *g, const unsigned char *p, size_t n)
{
    size_t i;
    if (g->in_body) { mv_dkim_body_feed(&g->body, p, n); return 0; }
    for (i = 0; i < n; i++) {
        if (p[i] == '\n') {
            if (g->line == 0) {
                if (mv_buf_append(&g->hdr, p, i) != 0) return -1;
                if (g->hdr.len > 0 && g->hdr.data[g->hdr.len - 1] == '\r') g->hdr.len--;
                g->in_body = 1;
                mv_dkim_body_feed(&g->body, p + i + 1, n - i - 1);
                return 0;
            }
            g->line = 0;
        } else if (p[i] != '\r') {
            g->line++;
        }
    }
    return mv_buf_append(&g->hdr, p, n);
}

static size_t count_fields(const signer *g, const char *name)
{
    size_t i, c = 0, n = strlen(name);
    /* field 0 is the DKIM-Signature being made */
    for (i = 1; i < g->fl.n; i++)
        if (g->fl.f[i].name_len == n &&
            strncasecmp((const char *)g->hdr.data + g->fl.f[i].off, name, n) == 0) c++;
    return c;
}

static int add_name(mv_buf *h, const char *name, size_t times)
{
    size_t k;
    for (k = 0; k < times; k++) {
        char c;
        const char *p;
        if (h->len > 0 && mv_buf_append(h, ":", 1) != 0) return -1;
        for (p = name; *p != '\0'; p++) {
            c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
            if (mv_buf_append(h, &c, 1) != 0) return -1;
        }
    }
    return 0;
}

/* The h= list: each chosen name once per field present, the oversigned ones once more;
 * From always (§5.4). */
static int choose(const signer *g, const mv_dkim_opts *o, mv_buf *h)
{
    const char *const *l = o->headers != NULL ? o->headers : default_headers;
    size_t i, n = o->headers != NULL ? o->nheaders : (size_t)-1;
    int from = 0;
    for (i = 0; i < n && l[i] != NULL; i++) {
        size_t c = count_fields(g, l[i]);
        size_t k = strlen(l[i]);
        int is_from = strcasecmp(l[i], "from") == 0;
        from |= is_from;
        if (c == 0 && o->headers == NULL && !is_from) continue;
        if (in_list(oversigned, l[i], k) || c == 0) c++;
        if (add_name(h, l[i], c) != 0) return -1;
    }
    if (!from && add_name(h, "from", count_fields(g, "from") + 1) != 0) return -1;
    return 0;
}

static int rng(void *ctx, unsigned char *p, size_t n)
{
    (void)ctx;
    return mv_random(p, n) == 0 ? 0 : -1;
}

static int tag_ok(const char *s)
{
    size_t i, n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 253) return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_')) return 0;
    }
    return 1;
}

/* d= as A-labels (RFC 6376 §3.5: the domain whose DNS holds the key, which DNS knows only
 * in ASCII) into *out (free()): MV_IDNA_OK, MV_IDNA_INVALID when it is not a domain
 * IDNA2008 allows or a plain host name, MV_IDNA_MEMORY. */
static int ascii_domain(const char *d, char **out)
{
    const char *why;
    int rc;
    *out = NULL;
    if (d == NULL) return MV_IDNA_INVALID;
    if ((rc = mv_idna_to_ascii(d, strlen(d), out, &why)) != MV_IDNA_OK) return rc;
    if (!tag_ok(*out)) {
        free(*out);
        *out = NULL;
        return MV_IDNA_INVALID;
    }
    return MV_IDNA_OK;
}

int mv_dkim_have_ed25519(void)
{
#ifdef MV_HAVE_SODIUM
    return 1;
#else
    return 0;
#endif
}

#ifdef MV_HAVE_SODIUM
/* An Ed25519 private key as PKCS#8 (RFC 8410 §7) is this fixed DER prefix and the
 * 32-byte seed: OneAsymmetricKey v1, algorithm id-Ed25519 (1.3.101.112), no attributes,
 * no public key (what `openssl genpkey -algorithm ed25519` writes). */
static const unsigned char ed25519_pkcs8[16] = {
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
    0x04, 0x22, 0x04, 0x20
};

/* The PEM text of the key: o->key, or the file it names (at most 64 KB). */
static char *key_text(const mv_dkim_opts *o, mv_error *e)
{
    char *t;
    size_t n = 0;
    FILE *f;
    if (!o->key_is_path) {
        if ((t = malloc(o->key_len + 1)) == NULL) goto oom;
        memcpy(t, o->key, o->key_len);
        t[o->key_len] = '\0';
        return t;
    }
    if ((f = fopen(o->key, "rb")) == NULL) {
        mv_fail(e, MV_E_ARG, "DKIM key: cannot read the private key %.80s", o->key);
        return NULL;
    }
    if ((t = malloc(65537)) != NULL) n = fread(t, 1, 65536, f);
    fclose(f);
    if (t == NULL) goto oom;
    t[n] = '\0';
    return t;
oom:
    mv_fail(e, MV_E_MEMORY, "out of memory");
    return NULL;
}

/* The secret key (seed and public key, libsodium's layout) from a PKCS#8 PEM. */
static int load_ed25519(unsigned char sk[64], const mv_dkim_opts *o, mv_error *e)
{
    static const char begin[] = "-----BEGIN PRIVATE KEY-----";
    unsigned char pk[32], der[64 * 3 / 4 + 3];
    size_t n = 0;
    char *t = key_text(o, e), *p, *q;
    int rc;
    if (t == NULL) return MV_ERROR;
    /* the base64 lines between the BEGIN and END lines (RFC 7468) */
    p = strstr(t, begin);
    q = p != NULL ? strstr(p, "-----END PRIVATE KEY-----") : NULL;
    if (p != NULL) p += sizeof begin - 1;
    while (p != NULL && p < q && (*p == '\r' || *p == '\n')) p++;
    if (p == NULL || q == NULL || q - p > 80 ||
        mv_b64_decode_strict(p, (size_t)(q - p), der, &n) != 0 || n != 48 ||
        memcmp(der, ed25519_pkcs8, sizeof ed25519_pkcs8) != 0)
        rc = mv_fail(e, MV_E_ARG, "DKIM key: ed25519-sha256 needs an Ed25519 private key "
                     "in PKCS#8 PEM (openssl genpkey -algorithm ed25519)");
    else
        rc = crypto_sign_seed_keypair(pk, sk, der + 16) == 0 ? MV_OK
             : mv_fail(e, MV_E_ARG, "DKIM key: the Ed25519 key is refused");
    sodium_memzero(der, sizeof der);
    sodium_memzero(t, strlen(t));
    free(t);
    return rc;
}
#endif

static int load_key(mbedtls_pk_context *pk, const mv_dkim_opts *o, mv_error *e)
{
    int rc;
    char err[100];
    if (o->key_is_path) {
        rc = MV_PK_PARSE_KEYFILE(pk, o->key, rng, NULL);
    } else {
        /* PEM is parsed with its terminating NUL counted (a Lua string has one) */
        size_t n = o->key_len;
        if (strstr(o->key, "-----BEGIN") != NULL) n++;
        rc = MV_PK_PARSE_KEY(pk, (const unsigned char *)o->key, n, rng, NULL);
    }
    if (rc != 0) {
        mbedtls_strerror(rc, err, sizeof err);
        return mv_fail(e, MV_E_ARG, "DKIM key: cannot read the private key%s%.80s (%s)",
                       o->key_is_path ? " " : "", o->key_is_path ? o->key : "", err);
    }
    if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_RSA))
        return mv_fail(e, MV_E_ARG, "DKIM key: rsa-sha256 needs an RSA private key");
    if (mbedtls_pk_get_bitlen(pk) < MV_DEFAULT_DKIM_MIN_BITS && !o->allow_weak_key)
        return mv_fail(e, MV_E_ARG, "DKIM key: %u-bit RSA is too weak (at least %d bits; "
                       "allow_weak_key = true to sign anyway)",
                       (unsigned)mbedtls_pk_get_bitlen(pk), MV_DEFAULT_DKIM_MIN_BITS);
    return MV_OK;
}

static int check_opts(const mv_dkim_opts *o, mv_error *e)
{
    char *d;
    int domain = ascii_domain(o->domain, &d);
    free(d);
    if (domain == MV_IDNA_MEMORY) return mv_fail(e, MV_E_MEMORY, "out of memory");
    if (o->algorithm == MV_DKIM_ED25519_SHA256 && !mv_dkim_have_ed25519())
        return mv_fail(e, MV_E_ARG, "DKIM: ed25519-sha256 is not available: this build has "
                       "no Ed25519 implementation (mbedTLS has none; build with libsodium)");
    if (o->algorithm != MV_DKIM_RSA_SHA256 && o->algorithm != MV_DKIM_ED25519_SHA256)
        return mv_fail(e, MV_E_ARG, "DKIM: unknown algorithm");
    if (domain != MV_IDNA_OK)
        return mv_fail(e, MV_E_ARG, "DKIM: a domain (d=) is needed: a host name, or an "
                       "international domain name IDNA2008 allows");
    if (!tag_ok(o->selector)) return mv_fail(e, MV_E_ARG, "DKIM: a selector (s=) is needed");
    if (o->key == NULL) return mv_fail(e, MV_E_ARG, "DKIM: a key is needed");
    if (o->expire < 0) return mv_fail(e, MV_E_ARG, "DKIM: expire must be positive");
    return MV_OK;
}

struct mv_dkim_key {
    int ed;
    mbedtls_pk_context pk;      /* rsa-sha256 */
    unsigned char sk[64];       /* ed25519-sha256: seed and public key, libsodium's layout */
};

static void key_init(mv_dkim_key *k)
{
    memset(k, 0, sizeof *k);
    mbedtls_pk_init(&k->pk);
}

static void key_clear(mv_dkim_key *k)
{
    mbedtls_platform_zeroize(k->sk, sizeof k->sk);
    mbedtls_pk_free(&k->pk);
}

static int key_read(mv_dkim_key *k, const mv_dkim_opts *o, mv_error *e)
{
    k->ed = o->algorithm == MV_DKIM_ED25519_SHA256;
#ifdef MV_HAVE_SODIUM
    if (k->ed) return load_ed25519(k->sk, o, e);
#endif
    return load_key(&k->pk, o, e);
}

mv_dkim_key *mv_dkim_key_load(const mv_dkim_opts *o, mv_error *e)
{
    mv_dkim_key *k;
    if (check_opts(o, e) != MV_OK) return NULL;
    if ((k = malloc(sizeof *k)) == NULL) {
        mv_fail(e, MV_E_MEMORY, "out of memory");
        return NULL;
    }
    key_init(k);
    if (key_read(k, o, e) != MV_OK) {
        mv_dkim_key_free(k);
        return NULL;
    }
    return k;
}

void mv_dkim_key_free(mv_dkim_key *k)
{
    if (k == NULL) return;
    key_clear(k);
    free(k);
}

/* Serialises m (with field 0 the placeholder) into g: header block kept, body hashed. */
static int serialise(mv_mime_msg *m, signer *g, mv_error *e)
{
    mv_mime_source *s = mv_mime_source_new(m, e);
    unsigned char *buf;
    size_t n;
    int rc = MV_ERROR;
    if (s == NULL) return MV_ERROR;
    if ((buf = malloc(65536)) == NULL || mv_mime_source_pin(s) != 0) {
        mv_fail(e, MV_E_MEMORY, "out of memory");
        goto cleanup;
    }
    for (;;) {
        if (mv_mime_source_read(s, buf, 65536, &n, e) != MV_OK) goto cleanup;
        if (n == 0) break;
        if (take(g, buf, n) != 0) { mv_fail(e, MV_E_MEMORY, "out of memory"); goto cleanup; }
    }
    mv_dkim_body_end(&g->body);
    rc = MV_OK;
cleanup:
    free(buf);
    mv_mime_source_free(s);
    return rc;
}

/* The field's value with b= last, b's value `siglen` bytes of placeholder or the
 * signature; the folding depends on token lengths only, so both fold alike. */
static int sig_value(mv_buf *v, const mv_dkim_opts *o, long long now, const char *hlist,
                     const char *bh, const char *b)
{
    char num[64], *d = NULL;
    if (mv_buf_append_str(v, o->algorithm == MV_DKIM_ED25519_SHA256
                             ? "v=1; a=ed25519-sha256; c=" : "v=1; a=rsa-sha256; c=") != 0 ||
        mv_buf_append_str(v, o->simple_header ? "simple/" : "relaxed/") != 0 ||
        mv_buf_append_str(v, o->simple_body ? "simple; d=" : "relaxed; d=") != 0 ||
        ascii_domain(o->domain, &d) != MV_IDNA_OK || mv_buf_append_str(v, d) != 0 ||
        mv_buf_append_str(v, "; s=") != 0 || mv_buf_append_str(v, o->selector) != 0) {
        free(d);
        return -1;
    }
    free(d);
    snprintf(num, sizeof num, "; t=%lld", now);
    if (mv_buf_append_str(v, num) != 0) return -1;
    if (o->expire > 0) {
        snprintf(num, sizeof num, "; x=%lld", now + o->expire);
        if (mv_buf_append_str(v, num) != 0) return -1;
    }
    if (mv_buf_append_str(v, "; h=") != 0 || mv_buf_append_str(v, hlist) != 0 ||
        mv_buf_append_str(v, "; bh=") != 0 || mv_buf_append_str(v, bh) != 0 ||
        mv_buf_append_str(v, "; b=") != 0 || mv_buf_append_str(v, b) != 0) return -1;
    return mv_buf_append(v, "", 1);
}

static void unplace(mv_mime_msg *m, int dirty)
{
    free(m->h[0].name);
    free(m->h[0].value);
    memmove(m->h, m->h + 1, (m->nh - 1) * sizeof *m->h);
    m->nh--;
    m->dirty = dirty;
    m->gen++;
}

/* Puts a DKIM-Signature field at the top, so the message serialises as it will be sent. */
static int place(mv_mime_msg *m)
{
    mv_mime_hdr h;
    if (mv_mime_add_header(m, "DKIM-Signature", "v=1") != 0) return -1;
    h = m->h[m->nh - 1];
    memmove(m->h + 1, m->h, (m->nh - 1) * sizeof *m->h);
    m->h[0] = h;
    return 0;
}

/* One signature in the making: the key, the two hashes and what the field is built of. */
typedef struct sign_job {
    const mv_dkim_opts *o;
    int ed;
    long long now;
    mv_dkim_key own, *k;        /* k: o->prepared, or own read for this signature */
    mbedtls_md_context_t hh;    /* the header hash (§3.7) */
    signer g;                   /* the body hash and the header block */
    mv_buf hlist, v, fld, tmp;
    unsigned char hash[32];
    char bh[48], *b64;          /* bh=, b= (first a placeholder as long as the signature) */
    size_t b64len;
} sign_job;

static void job_init(sign_job *j, const mv_dkim_opts *o)
{
    memset(j, 0, sizeof *j);
    j->o = o;
    j->ed = o->algorithm == MV_DKIM_ED25519_SHA256;
    j->now = o->now > 0 ? o->now : (long long)time(NULL);
    key_init(&j->own);
    mbedtls_md_init(&j->hh);
    mbedtls_md_init(&j->g.bh);
    mv_buf_init(&j->g.hdr);
    mv_buf_init(&j->hlist);
    mv_buf_init(&j->v);
    mv_buf_init(&j->fld);
    mv_buf_init(&j->tmp);
}

static void job_free(sign_job *j)
{
    key_clear(&j->own);
    free(j->b64);
    free(j->g.fl.f);
    mv_buf_free(&j->g.hdr);
    mv_buf_free(&j->hlist);
    mv_buf_free(&j->v);
    mv_buf_free(&j->fld);
    mv_buf_free(&j->tmp);
    mbedtls_md_free(&j->g.bh);
    mbedtls_md_free(&j->hh);
}

static int job_key(sign_job *j, mv_error *e)
{
    j->k = j->o->prepared;
    if (j->k == NULL) {
        if (key_read(&j->own, j->o, e) != MV_OK) return MV_ERROR;
        j->k = &j->own;
    } else if (j->k->ed != j->ed) {
        return mv_fail(e, MV_E_ARG, "DKIM: the prepared key is not for %s",
                       j->ed ? "ed25519-sha256" : "rsa-sha256");
    }
    return MV_OK;
}

/* Serialises m (its field 0 the placeholder) once: the body into bh=, the header block
 * kept and split, h= chosen from it. */
static int job_body(sign_job *j, mv_mime_msg *m, mv_error *e)
{
    const mbedtls_md_info_t *sha = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (mbedtls_md_setup(&j->g.bh, sha, 0) != 0 || mbedtls_md_setup(&j->hh, sha, 0) != 0 ||
        mbedtls_md_starts(&j->g.bh) != 0 || mbedtls_md_starts(&j->hh) != 0)
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    mv_dkim_body_init(&j->g.body, !j->o->simple_body, hash_out, &j->g.bh);
    if (serialise(m, &j->g, e) != MV_OK) return MV_ERROR;
    if (mv_dkim_split_fields(&j->g.fl, (const char *)j->g.hdr.data, j->g.hdr.len) != 0 ||
        choose(&j->g, j->o, &j->hlist) != 0 || mv_buf_append(&j->hlist, "", 1) != 0)
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    mbedtls_md_finish(&j->g.bh, j->hash);
    mv_b64_encode(j->hash, sizeof j->hash, j->bh, 0);
    j->bh[44] = '\0';
    return MV_OK;
}

/* The header hash: the fields h= names, then this field as the serialiser will write it
 * with b= empty (§3.5 b=, §3.7).  The field is written with a placeholder as long as the
 * signature, so that it folds as the signed one will. */
static int job_headers(sign_job *j, mv_error *e)
{
    int relaxed = !j->o->simple_header;
    size_t keep;
    j->b64len = mv_b64_encoded_len(j->ed ? 64 : mbedtls_pk_get_len(&j->k->pk), 0);
    if ((j->b64 = malloc(j->b64len + 1)) == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    memset(j->b64, 'A', j->b64len);
    j->b64[j->b64len] = '\0';
    if (sig_value(&j->v, j->o, j->now, (const char *)j->hlist.data, j->bh, j->b64) != 0 ||
        mv_hdr_write_text(&j->fld, "DKIM-Signature", (const char *)j->v.data, j->v.len - 1))
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    keep = j->fld.len - 2 - j->b64len;
    if (mv_dkim_hash_fields((const char *)j->g.hdr.data, &j->g.fl, 1,
                            (const char *)j->hlist.data, relaxed, hash_out, &j->hh,
                            &j->tmp) != 0) return mv_fail(e, MV_E_MEMORY, "out of memory");
    mv_buf_reset(&j->tmp);
    if (mv_dkim_canon_header(&j->tmp, (const char *)j->fld.data, keep, relaxed) != 0)
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    mbedtls_md_update(&j->hh, j->tmp.data, relaxed ? j->tmp.len - 2 : j->tmp.len);
    mbedtls_md_finish(&j->hh, j->hash);
    return MV_OK;
}

/* Signs the header hash into b= (RFC 8463 §3: Ed25519 signs the SHA-256 hash). */
static int job_sign(sign_job *j, mv_error *e)
{
    unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t siglen = 0;
    int rc;
#ifdef MV_HAVE_SODIUM
    if (j->ed) {
        unsigned long long sl = 0;
        crypto_sign_detached(sig, &sl, j->hash, sizeof j->hash, j->k->sk);
        siglen = (size_t)sl;
    } else
#endif
    if ((rc = MV_PK_SIGN(&j->k->pk, MBEDTLS_MD_SHA256, j->hash, sizeof j->hash, sig,
                         sizeof sig, &siglen, rng, NULL)) != 0)
        return mv_fail(e, MV_E_ARG, "DKIM: signing failed (mbedTLS -0x%04x)", (unsigned)-rc);
    if (mv_b64_encoded_len(siglen, 0) != j->b64len)
        return mv_fail(e, MV_E_ARG, "DKIM: signing failed (a signature of %u bytes)",
                       (unsigned)siglen);
    mv_b64_encode(sig, siglen, j->b64, 0);
    j->b64[j->b64len] = '\0';
    mv_buf_reset(&j->v);
    if (sig_value(&j->v, j->o, j->now, (const char *)j->hlist.data, j->bh, j->b64) != 0)
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    return MV_OK;
}

int mv_dkim_sign(mv_mime_msg *m, const mv_dkim_opts *o, mv_error *e)
{
    sign_job j;
    char *value;
    int dirty = m->dirty, rc = MV_ERROR;
    if (check_opts(o, e) != MV_OK) return MV_ERROR;
    job_init(&j, o);
    if (job_key(&j, e) != MV_OK) goto done;
    if (place(m) != 0) {
        mv_fail(e, MV_E_MEMORY, "out of memory");
        goto done;
    }
    if (job_body(&j, m, e) != MV_OK || job_headers(&j, e) != MV_OK || job_sign(&j, e) != MV_OK)
        goto undo;
    if ((value = mv_strdup((const char *)j.v.data)) == NULL) {
        mv_fail(e, MV_E_MEMORY, "out of memory");
        goto undo;
    }
    free(m->h[0].value);
    m->h[0].value = value;
    m->gen++;
    rc = MV_OK;
    goto done;
undo:
    unplace(m, dirty);          /* the placeholder goes: m is as it was */
done:
    job_free(&j);
    return rc;
}

int mv_dkim_sign_all(mv_mime_msg *m, const mv_dkim_opts *o, size_t n, mv_error *e)
{
    int dirty = m->dirty;
    size_t i;
    for (i = 0; i < n; i++) {
        if (mv_dkim_sign(m, &o[i], e) != MV_OK) {
            while (i-- > 0) unplace(m, dirty);     /* the fields added, on top */
            return MV_ERROR;
        }
    }
    return MV_OK;
}
