/* DKIM signing (RFC 6376, rsa-sha256): canonicalization (§3.4), header selection
 * (§5.4), the body hash over the serialised message in one streaming pass (§3.7) and
 * the DKIM-Signature field (§3.5), signed through mbedTLS pk. */
#include "mime_dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>

#include "mime_build.h"
#include "mime_codec.h"
#include "mime_header.h"
#include "mv_defaults.h"
#include "mv_random.h"
#include "mv_str.h"
#include "mv_tls_compat.h"

/* ---- body canonicalization ---- */

static void body_flush(mv_dkim_body *b)
{
    if (b->n > 0) b->out(b->ctx, b->buf, b->n);
    b->n = 0;
}

static void body_put(mv_dkim_body *b, const char *p, size_t n)
{
    if (b->n + n > sizeof b->buf) body_flush(b);
    memcpy(b->buf + b->n, p, n);
    b->n += n;
}

/* A byte of a line's content: the empty lines and the WSP run before it go out first. */
static void body_content(mv_dkim_body *b, unsigned char c)
{
    for (; b->blank > 0; b->blank--) body_put(b, "\r\n", 2);
    if (b->wsp) body_put(b, " ", 1);
    b->wsp = 0;
    body_put(b, (const char *)&c, 1);
    b->any = 1;
}

void mv_dkim_body_init(mv_dkim_body *b, int relaxed, mv_dkim_out out, void *ctx)
{
    memset(b, 0, sizeof *b);
    b->relaxed = relaxed;
    b->out = out;
    b->ctx = ctx;
}

void mv_dkim_body_feed(mv_dkim_body *b, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (b->cr) {
            b->cr = 0;
            if (c == '\n') { b->wsp = 0; b->blank++; continue; }
            body_content(b, '\r');
        }
        if (c == '\r') b->cr = 1;
        else if (c == '\n') { b->wsp = 0; b->blank++; }
        else if (b->relaxed && (c == ' ' || c == '\t')) b->wsp = 1;   /* §3.4.4 a, b */
        else body_content(b, c);
    }
}

/* §3.4.3 and §3.4.4: trailing empty lines dropped, a last line without CRLF ended; an
 * empty body is one CRLF in simple and nothing in relaxed. */
void mv_dkim_body_end(mv_dkim_body *b)
{
    if (b->cr) body_content(b, '\r');
    b->cr = b->wsp = 0;
    if (b->any || !b->relaxed) body_put(b, "\r\n", 2);
    b->blank = 0;
    body_flush(b);
}

/* ---- header canonicalization ---- */

int mv_dkim_canon_header(mv_buf *out, const char *f, size_t n, int relaxed)
{
    const char *colon = memchr(f, ':', n);
    size_t i, end;
    int wsp = 0, started = 0;
    if (!relaxed) {
        /* simple (§3.4.1): as it is; a bare LF goes out as CRLF on the wire */
        for (i = 0; i < n; i++) {
            if (f[i] == '\n' && (i == 0 || f[i - 1] != '\r') && mv_buf_append(out, "\r", 1))
                return -1;
            if (mv_buf_append(out, f + i, 1) != 0) return -1;
        }
        return 0;
    }
    /* relaxed (§3.4.2): name lowercased, WSP before the colon dropped; the value
     * unfolded, WSP runs as one SP, none at its ends */
    end = colon != NULL ? (size_t)(colon - f) : n;
    while (end > 0 && (f[end - 1] == ' ' || f[end - 1] == '\t')) end--;
    for (i = 0; i < end; i++) {
        char c = f[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (mv_buf_append(out, &c, 1) != 0) return -1;
    }
    if (mv_buf_append(out, ":", 1) != 0) return -1;
    for (i = colon != NULL ? (size_t)(colon - f) + 1 : n; i < n; i++) {
        char c = f[i];
        if (c == '\r' || c == '\n') continue;
        if (c == ' ' || c == '\t') { wsp = 1; continue; }
        if (wsp && started && mv_buf_append(out, " ", 1) != 0) return -1;
        if (mv_buf_append(out, &c, 1) != 0) return -1;
        wsp = 0;
        started = 1;
    }
    return mv_buf_append(out, "\r\n", 2);
}

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

typedef struct field { size_t off, len, name_len; } field;

typedef struct signer {
    mbedtls_md_context_t bh;
    mv_buf hdr;                 /* the header block as serialised */
    field *f;
    size_t nf, capf;
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

/* Splits the header block into fields (a line starting with WSP continues one). */
static int split_fields(signer *g)
{
    const char *h = (const char *)g->hdr.data;
    size_t i = 0, n = g->hdr.len;
    while (i < n) {
        size_t j = i, colon;
        field *f;
        do {
            const char *nl = memchr(h + j, '\n', n - j);
            j = nl == NULL ? n : (size_t)(nl - h) + 1;
        } while (j < n && (h[j] == ' ' || h[j] == '\t'));
        if ((f = mv_grow(g->f, &g->capf, g->nf, sizeof *f, 32)) == NULL) return -1;
        g->f = f;
        for (colon = i; colon < j && h[colon] != ':'; colon++) {}
        while (colon > i && (h[colon - 1] == ' ' || h[colon - 1] == '\t')) colon--;
        g->f[g->nf].off = i;
        g->f[g->nf].len = j - i;
        g->f[g->nf].name_len = colon - i;
        g->nf++;
        i = j;
    }
    return 0;
}

static size_t count_fields(const signer *g, const char *name)
{
    size_t i, c = 0, n = strlen(name);
    /* field 0 is the DKIM-Signature being made */
    for (i = 1; i < g->nf; i++)
        if (g->f[i].name_len == n &&
            strncasecmp((const char *)g->hdr.data + g->f[i].off, name, n) == 0) c++;
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

/* Hashes the fields h= names, each name's instances taken from the bottom up (§5.4.2). */
static int hash_headers(const signer *g, const char *hlist, int relaxed,
                        mbedtls_md_context_t *md, mv_buf *tmp)
{
    const char *p = hlist;
    while (*p != '\0') {
        const char *e = strchr(p, ':');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p), used = 0, i;
        const char *q;
        /* how many times this name came before in h= */
        for (q = hlist; q < p;) {
            const char *qe = strchr(q, ':');
            if ((size_t)(qe - q) == n && strncmp(q, p, n) == 0) used++;
            q = qe + 1;
        }
        for (i = g->nf; i > 1; i--) {
            const field *f = &g->f[i - 1];
            if (f->name_len != n ||
                strncasecmp((const char *)g->hdr.data + f->off, p, n) != 0) continue;
            if (used-- > 0) continue;
            mv_buf_reset(tmp);
            if (mv_dkim_canon_header(tmp, (const char *)g->hdr.data + f->off, f->len,
                                     relaxed) != 0) return -1;
            mbedtls_md_update(md, tmp->data, tmp->len);
            break;
        }
        p += n;
        if (*p == ':') p++;
    }
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
    char num[64];
    if (mv_buf_append_str(v, "v=1; a=rsa-sha256; c=") != 0 ||
        mv_buf_append_str(v, o->simple_header ? "simple/" : "relaxed/") != 0 ||
        mv_buf_append_str(v, o->simple_body ? "simple; d=" : "relaxed; d=") != 0 ||
        mv_buf_append_str(v, o->domain) != 0 || mv_buf_append_str(v, "; s=") != 0 ||
        mv_buf_append_str(v, o->selector) != 0) return -1;
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

static int check_opts(const mv_dkim_opts *o, mv_error *e)
{
    if (o->algorithm == MV_DKIM_ED25519_SHA256)
        return mv_fail(e, MV_E_ARG, "DKIM: ed25519-sha256 is not available: this build has "
                       "no Ed25519 implementation (mbedTLS has none)");
    if (o->algorithm != MV_DKIM_RSA_SHA256)
        return mv_fail(e, MV_E_ARG, "DKIM: unknown algorithm");
    if (!tag_ok(o->domain)) return mv_fail(e, MV_E_ARG, "DKIM: a domain (d=) is needed");
    if (!tag_ok(o->selector)) return mv_fail(e, MV_E_ARG, "DKIM: a selector (s=) is needed");
    if (o->key == NULL) return mv_fail(e, MV_E_ARG, "DKIM: a key is needed");
    if (o->expire < 0) return mv_fail(e, MV_E_ARG, "DKIM: expire must be positive");
    return MV_OK;
}

int mv_dkim_sign(mv_mime_msg *m, const mv_dkim_opts *o, mv_error *e)
{
    const mbedtls_md_info_t *sha = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_pk_context pk;
    mbedtls_md_context_t hh;
    signer g;
    mv_buf hlist, v, fld, tmp;
    unsigned char hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    char bh[48], *b64 = NULL;
    size_t siglen = 0, b64len, keep;
    long long now = o->now > 0 ? o->now : (long long)time(NULL);
    int dirty = m->dirty, placed = 0, rc = MV_ERROR, i;

    if (check_opts(o, e) != MV_OK) return MV_ERROR;
    mbedtls_pk_init(&pk);
    mbedtls_md_init(&hh);
    memset(&g, 0, sizeof g);
    mbedtls_md_init(&g.bh);
    mv_buf_init(&g.hdr);
    mv_buf_init(&hlist);
    mv_buf_init(&v);
    mv_buf_init(&fld);
    mv_buf_init(&tmp);
    if (load_key(&pk, o, e) != MV_OK) goto cleanup;
    if (mbedtls_md_setup(&g.bh, sha, 0) != 0 || mbedtls_md_setup(&hh, sha, 0) != 0 ||
        mbedtls_md_starts(&g.bh) != 0 || mbedtls_md_starts(&hh) != 0) goto oom;
    mv_dkim_body_init(&g.body, !o->simple_body, hash_out, &g.bh);
    if (place(m) != 0) goto oom;
    placed = 1;
    if (serialise(m, &g, e) != MV_OK) goto cleanup;
    if (split_fields(&g) != 0 || choose(&g, o, &hlist) != 0 ||
        mv_buf_append(&hlist, "", 1) != 0) goto oom;
    mbedtls_md_finish(&g.bh, hash);
    mv_b64_encode(hash, sizeof hash, bh, 0);
    bh[44] = '\0';
    /* the field as the serialiser will write it, b= holding a placeholder as long as the
     * signature; hashed without it (§3.5 b=, §3.7) */
    b64len = mv_b64_encoded_len(mbedtls_pk_get_len(&pk), 0);
    if ((b64 = malloc(b64len + 1)) == NULL) goto oom;
    memset(b64, 'A', b64len);
    b64[b64len] = '\0';
    if (sig_value(&v, o, now, (const char *)hlist.data, bh, b64) != 0 ||
        mv_hdr_write_text(&fld, "DKIM-Signature", (const char *)v.data, v.len - 1) != 0)
        goto oom;
    keep = fld.len - 2 - b64len;
    if (hash_headers(&g, (const char *)hlist.data, !o->simple_header, &hh, &tmp) != 0)
        goto oom;
    mv_buf_reset(&tmp);
    if (mv_dkim_canon_header(&tmp, (const char *)fld.data, keep, !o->simple_header) != 0)
        goto oom;
    mbedtls_md_update(&hh, tmp.data, o->simple_header ? tmp.len : tmp.len - 2);
    mbedtls_md_finish(&hh, hash);
    if ((i = MV_PK_SIGN(&pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, sizeof sig, &siglen,
                        rng, NULL)) != 0) {
        mv_fail(e, MV_E_ARG, "DKIM: signing failed (mbedTLS -0x%04x)", (unsigned)-i);
        goto cleanup;
    }
    if (mv_b64_encoded_len(siglen, 0) != b64len) goto oom;
    mv_b64_encode(sig, siglen, b64, 0);
    b64[b64len] = '\0';
    mv_buf_reset(&v);
    if (sig_value(&v, o, now, (const char *)hlist.data, bh, b64) != 0) goto oom;
    free(m->h[0].value);
    if ((m->h[0].value = mv_strdup((const char *)v.data)) == NULL) {
        m->h[0].value = mv_strdup("v=1");
        goto oom;
    }
    m->gen++;
    placed = 0;
    rc = MV_OK;
    goto cleanup;
oom:
    rc = mv_fail(e, MV_E_MEMORY, "out of memory");
cleanup:
    if (placed) unplace(m, dirty);
    free(b64);
    free(g.f);
    mv_buf_free(&g.hdr);
    mv_buf_free(&hlist);
    mv_buf_free(&v);
    mv_buf_free(&fld);
    mv_buf_free(&tmp);
    mbedtls_md_free(&g.bh);
    mbedtls_md_free(&hh);
    mbedtls_pk_free(&pk);
    return rc;
}
