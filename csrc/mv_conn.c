#include "mv_conn.h"
#include "mv_castore.h"
#include "mv_random.h"
#include "mv_tls_compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

struct mv_tls {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context drbg;
    mv_castore *ca;        /* shared, referenced */
    mbedtls_x509_crt own_cert;
    mbedtls_pk_context own_key;
    int name_only;         /* MV_VERIFY_NAME: only a name mismatch fails */
    /* What verification saw, for a precise error: */
    int leaf_self_signed;
    int top_depth;
    char top_issuer[160]; /* issuer of the last certificate the server sent */
};

static int on_verify(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags);


void mv_tls_owned_free(mv_tls_owned *own)
{
    free(own->cafile);
    free(own->capath);
    free(own->client_cert);
    free(own->client_key);
    own->cafile = own->capath = own->client_cert = own->client_key = NULL;
}

int mv_tls_own(mv_tls_owned *own, mv_tls_opts *view, const mv_tls_opts *src)
{
    own->cafile = mv_strdup(src->cafile);
    own->capath = mv_strdup(src->capath);
    own->client_cert = mv_strdup(src->client_cert);
    own->client_key = mv_strdup(src->client_key);
    if ((src->cafile && !own->cafile) || (src->capath && !own->capath)
        || (src->client_cert && !own->client_cert) || (src->client_key && !own->client_key)) {
        mv_tls_owned_free(own);
        return -1;
    }
    view->cafile = own->cafile;
    view->capath = own->capath;
    view->client_cert = own->client_cert;
    view->client_key = own->client_key;
    view->verify = src->verify;
    return 0;
}

void mv_conn_init(mv_conn *c)
{
    mv_buf_init(&c->net_in);
    mv_buf_init(&c->net_out);
    mv_buf_init(&c->app_in);
    c->eof = 0;
    c->tls = NULL;
    c->tls_ready = 0;
    c->want = 0;
}

static void tls_free(mv_tls *t)
{
    if (t == NULL) return;
    mbedtls_ssl_free(&t->ssl);
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_ctr_drbg_free(&t->drbg);
    mv_castore_release(t->ca);
    mbedtls_x509_crt_free(&t->own_cert);
    mbedtls_pk_free(&t->own_key);
    free(t);
}

void mv_conn_free(mv_conn *c)
{
    tls_free(c->tls);
    c->tls = NULL;
    mv_buf_free(&c->net_in);
    mv_buf_free(&c->net_out);
    mv_buf_free(&c->app_in);
}

int mv_conn_feed(mv_conn *c, const void *p, size_t n)
{
    c->want = 0;
    return mv_buf_append(&c->net_in, p, n);
}

void mv_conn_feed_eof(mv_conn *c)
{
    c->eof = 1;
}

/* mbedTLS BIO over our buffers. */
static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
    mv_conn *c = ctx;
    if (mv_buf_append(&c->net_out, p, n) != 0) return MBEDTLS_ERR_NET_SEND_FAILED;
    return (int)n;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
    mv_conn *c = ctx;
    size_t avail = mv_buf_avail(&c->net_in);
    if (avail == 0) {
        if (c->eof) return 0;
        c->want = n;
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    if (n > avail) n = avail;
    memcpy(p, mv_buf_head(&c->net_in), n);
    mv_buf_consume(&c->net_in, n);
    return (int)n;
}

static int tls_error(mv_error *e, int ret, const char *what)
{
    char buf[128];
    mbedtls_strerror(ret, buf, sizeof buf);
    return mv_fail(e, MV_E_TLS, "TLS %s failed: %s", what, buf);
}

int mv_conn_start_tls(mv_conn *c, const char *host, const mv_tls_opts *o, mv_error *e)
{
    static const char pers[] = "missive";
    mv_tls *t;
    int ret;
    /* mbedTLS before 2.28.10 skips the name check when no host name is set
     * (CVE-2025-27809): never start a verifying handshake without one. */
    if (o->verify != MV_VERIFY_NONE && (host == NULL || host[0] == '\0'))
        return mv_fail(e, MV_E_CERT, "no server name to verify the certificate against");
    if (mv_buf_avail(&c->app_in) > 0 || mv_buf_avail(&c->net_in) > 0) {
        return mv_fail(e, MV_E_PROTOCOL,
                       "server sent unexpected data before the TLS handshake");
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    mbedtls_ssl_init(&t->ssl);
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_x509_crt_init(&t->own_cert);
    mbedtls_pk_init(&t->own_key);

    ret = mbedtls_ctr_drbg_seed(&t->drbg, mv_entropy, NULL,
                                (const unsigned char *)pers, sizeof pers - 1);
    if (ret != 0) { tls_error(e, ret, "random seeding"); goto cleanup; }
    ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) { tls_error(e, ret, "setup"); goto cleanup; }
    MV_TLS_SET_MIN_12(&t->conf);
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    if (o->verify == MV_VERIFY_FULL) {
        t->ca = mv_castore_get(o->cafile, o->capath, e);
        if (t->ca == NULL) goto cleanup;
        mbedtls_ssl_conf_ca_chain(&t->conf, mv_castore_chain(t->ca), NULL);
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else if (o->verify == MV_VERIFY_NAME) {
        /* The chain may fail; the name is checked after the handshake. */
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
        t->name_only = 1;
    } else {
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    if (o->client_cert != NULL || o->client_key != NULL) {
        if (o->client_cert == NULL || o->client_key == NULL) {
            mv_fail(e, MV_E_CERT, "client_cert and client_key go together");
            goto cleanup;
        }
        if (mbedtls_x509_crt_parse_file(&t->own_cert, o->client_cert) != 0) {
            mv_fail(e, MV_E_CERT, "cannot load client_cert %s", o->client_cert);
            goto cleanup;
        }
        if (MV_PK_PARSE_KEYFILE(&t->own_key, o->client_key, mbedtls_ctr_drbg_random,
                                &t->drbg) != 0) {
            mv_fail(e, MV_E_CERT, "cannot load client_key %s", o->client_key);
            goto cleanup;
        }
        ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->own_cert, &t->own_key);
        if (ret != 0) { tls_error(e, ret, "client certificate setup"); goto cleanup; }
    }
    mbedtls_ssl_conf_verify(&t->conf, on_verify, t);
    ret = mbedtls_ssl_setup(&t->ssl, &t->conf);
    if (ret != 0) { tls_error(e, ret, "setup"); goto cleanup; }
    /* Always set: it is both SNI and the name the certificate must carry. */
    ret = mbedtls_ssl_set_hostname(&t->ssl, host);
    if (ret != 0) { tls_error(e, ret, "host name setup"); goto cleanup; }
    mbedtls_ssl_set_bio(&t->ssl, c, bio_send, bio_recv, NULL);
    c->tls = t;
    c->tls_ready = 0;
    return MV_OK;
cleanup:
    tls_free(t);
    return MV_ERROR;
}

/* Called by mbedTLS for each certificate of the chain, deepest first: remembers what
 * an error message needs.  Changes no verdict. */
static int on_verify(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    mv_tls *t = ctx;
    (void)flags;
    if (depth == 0) {
        t->leaf_self_signed = crt->issuer_raw.len == crt->subject_raw.len
            && memcmp(crt->issuer_raw.p, crt->subject_raw.p, crt->issuer_raw.len) == 0;
    }
    if (depth >= t->top_depth) {
        char dn[160];
        t->top_depth = depth;
        if (mbedtls_x509_dn_gets(dn, sizeof dn, &crt->issuer) < 0) dn[0] = '\0';
        mv_sanitize(t->top_issuer, sizeof t->top_issuer, dn, strlen(dn));
    }
    return 0;
}

/* Says why a chain was not trusted: a self-signed leaf, or one whose issuer is unknown
 * (an unknown CA, or an intermediate the server did not send). */
static int untrusted_error(mv_error *e, const mv_tls *t)
{
    if (t->leaf_self_signed)
        return mv_fail(e, MV_E_CERT,
                       "certificate verification failed: self-signed certificate");
    if (t->top_issuer[0] == '\0')
        return mv_fail(e, MV_E_CERT,
                       "certificate verification failed: unknown or untrusted issuer");
    return mv_fail(e, MV_E_CERT, "certificate verification failed: unknown or untrusted "
                   "issuer (%s; an unknown CA or a missing intermediate)", t->top_issuer);
}

static int cert_error(mv_error *e, uint32_t flags, const mv_tls *t)
{
    if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
        return mv_fail(e, MV_E_CERT, "certificate verification failed: hostname mismatch");
    if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
        return mv_fail(e, MV_E_CERT, "certificate verification failed: certificate expired");
    if (flags & MBEDTLS_X509_BADCERT_FUTURE)
        return mv_fail(e, MV_E_CERT,
                       "certificate verification failed: certificate not yet valid");
    if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE))
        return mv_fail(e, MV_E_CERT,
                       "certificate verification failed: certificate not for server use");
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) return untrusted_error(e, t);
    if (flags & MBEDTLS_X509_BADCERT_REVOKED)
        return mv_fail(e, MV_E_CERT, "certificate verification failed: certificate revoked");
    return mv_fail(e, MV_E_CERT, "certificate verification failed (flags 0x%x)",
                   (unsigned)flags);
}

int mv_conn_handshake(mv_conn *c, mv_error *e)
{
    int ret;
    if (c->tls == NULL) return mv_fail(e, MV_E_TLS, "TLS was not started");
    if (c->tls_ready) return MV_OK;
    ret = mbedtls_ssl_handshake(&c->tls->ssl);
    if (ret == 0) {
        if (c->tls->name_only
            && (mbedtls_ssl_get_verify_result(&c->tls->ssl) & MBEDTLS_X509_BADCERT_CN_MISMATCH))
            return cert_error(e, MBEDTLS_X509_BADCERT_CN_MISMATCH, c->tls);
        c->tls_ready = 1;
        return mv_conn_want(c, MV_OK);
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        if (c->eof && mv_buf_avail(&c->net_in) == 0 && ret == MBEDTLS_ERR_SSL_WANT_READ)
            return mv_fail(e, MV_E_CLOSED, "connection closed during the TLS handshake");
        return mv_conn_want(c, MV_WANT_READ);
    }
    {
        /* Some certificate failures surface as other handshake errors (a wrong key
         * usage as a bad certificate message): the verify flags tell. */
        uint32_t flags = mbedtls_ssl_get_verify_result(&c->tls->ssl);
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
            || (flags != 0 && flags != (uint32_t)-1))
            return cert_error(e, flags, c->tls);
    }
    if (ret == MBEDTLS_ERR_SSL_CONN_EOF)
        return mv_fail(e, MV_E_CLOSED, "connection closed during the TLS handshake");
    return tls_error(e, ret, "handshake");
}

int mv_conn_write(mv_conn *c, const void *p, size_t n, mv_error *e)
{
    const unsigned char *s = p;
    if (c->tls == NULL) {
        if (mv_buf_append(&c->net_out, p, n) != 0)
            return mv_fail(e, MV_E_MEMORY, "out of memory");
        return MV_OK;
    }
    if (!c->tls_ready) return mv_fail(e, MV_E_TLS, "write before the TLS handshake finished");
    while (n > 0) {
        /* The BIO never blocks (it appends), so every call makes progress. */
        int ret = mbedtls_ssl_write(&c->tls->ssl, s, n);
        if (ret < 0) return tls_error(e, ret, "write");
        s += ret;
        n -= (size_t)ret;
    }
    return MV_OK;
}

int mv_conn_fill(mv_conn *c, mv_error *e)
{
    if (c->tls == NULL) {
        size_t n = mv_buf_avail(&c->net_in);
        if (n > 0) {
            if (mv_buf_append(&c->app_in, mv_buf_head(&c->net_in), n) != 0)
                return mv_fail(e, MV_E_MEMORY, "out of memory");
            mv_buf_consume(&c->net_in, n);
            return MV_OK;
        }
        if (c->eof) return mv_fail(e, MV_E_CLOSED, "connection closed by the server");
        return MV_WANT_READ;
    } else {
        int got = 0;
        for (;;) {
            int ret;
            /* Up to one record's plaintext, into the room already there when it is a
             * useful size: asking for a full record every time doubled an idle
             * session's buffer to 32 KB. */
            size_t room = c->app_in.cap - c->app_in.len;
            if (room < 4096 || room > 16384) room = 16384;
            if (mv_buf_reserve(&c->app_in, room) != 0)
                return mv_fail(e, MV_E_MEMORY, "out of memory");
            ret = mbedtls_ssl_read(&c->tls->ssl, c->app_in.data + c->app_in.len, room);
            if (ret > 0) {
                c->app_in.len += (size_t)ret;
                got = 1;
                continue;
            }
            if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
                if (got) return MV_OK;
                return mv_conn_want(c, MV_WANT_READ);
            }
            if (got) return MV_OK; /* report the error on the next call */
            if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
                return mv_fail(e, MV_E_CLOSED, "connection closed by the server");
            if (ret == 0 || ret == MBEDTLS_ERR_SSL_CONN_EOF)
                return mv_fail(e, MV_E_CLOSED,
                               "connection closed by the server without TLS close_notify"
                               " (truncated)");
            return tls_error(e, ret, "read");
        }
    }
}

void mv_conn_close_notify(mv_conn *c)
{
    if (c->tls != NULL && c->tls_ready) mbedtls_ssl_close_notify(&c->tls->ssl);
}

const char *mv_conn_tls_version(const mv_conn *c)
{
    return (c->tls != NULL && c->tls_ready) ? mbedtls_ssl_get_version(&c->tls->ssl) : NULL;
}

const char *mv_conn_tls_cipher(const mv_conn *c)
{
    return (c->tls != NULL && c->tls_ready) ? mbedtls_ssl_get_ciphersuite(&c->tls->ssl) : NULL;
}
