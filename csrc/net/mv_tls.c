#include "mv_tls.h"
#include "mv_castore.h"
#include "mv_random.h"
#include "mv_str.h"
#include "mv_tls_compat.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

struct mv_tls {
    mv_tls_bio bio;        /* the connection's buffers the records go through */
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context drbg;
    mv_castore *ca;        /* shared, referenced */
    mbedtls_x509_crt own_cert;
    mbedtls_pk_context own_key;
    int name_only;         /* MV_VERIFY_NAME: only a name mismatch fails */
    /* The host is an IP literal: the certificate must carry it as an iPAddress
     * subjectAltName (RFC 6125 1.7.2, RFC 5280 4.2.1.6), checked here because mbedTLS
     * 2.28 compares it with DNS names and the CN, and 3.6 lets a DNS name spelling
     * the address match it too. */
    unsigned char ip[16];
    size_t ip_len;         /* 4, 16, or 0 for a DNS name */
    int tls_max;           /* what was asked for, to explain a protocol_version alert */
    int failed;            /* a fatal error either way: nothing more may be sent */
    int bye;               /* close_notify queued */
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
    view->tls_min = src->tls_min;
    view->tls_max = src->tls_max;
    return 0;
}

void mv_tls_free(mv_tls *t)
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

/* mbedTLS BIO over the connection's buffers. */
static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
    mv_tls *t = ctx;
    if (mv_buf_append(t->bio.out, p, n) != 0) return MBEDTLS_ERR_NET_SEND_FAILED;
    return (int)n;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
    mv_tls *t = ctx;
    size_t avail = mv_buf_avail(t->bio.in);
    if (avail == 0) {
        if (*t->bio.eof) return 0;
        *t->bio.want = n;
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    if (n > avail) n = avail;
    memcpy(p, mv_buf_head(t->bio.in), n);
    mv_buf_consume(t->bio.in, n);
    return (int)n;
}

int mv_tls_best_version(void)
{
    return MV_TLS_HAS_13 ? 13 : 12;
}

const char *mv_tls_library_version(void)
{
    return MBEDTLS_VERSION_STRING;
}

/* RFC 8446 6.2 and RFC 5246 7.2.2 names of the alerts a server may end a handshake with. */
static const char *alert_name(int d)
{
    switch (d) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return "unknown";
    }
}

/* What a user can do about an alert, when there is something to say. */
static const char *alert_hint(int d, const mv_tls *t)
{
    switch (d) {
    case 70:
        if (!MV_TLS_HAS_13) return ": this build supports TLS 1.2 at most";
        if (t->tls_max == 12) return ": tls_max is \"1.2\"";
        return "";
    case 40: return ": likely no cipher suite, group or signature algorithm in common";
    case 71: return ": the server wants stronger cipher suites";
    case 116: return ": the server wants a client certificate (client_cert, client_key)";
    case 112: return ": the server does not know the name sent (server_name)";
    default: return "";
    }
}

static int tls_error(mv_error *e, int ret, const char *what, mv_tls *t)
{
    char buf[128];
    t->failed = 1;
    if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && MV_SSL_IN_MSG(&t->ssl) != NULL) {
        int d = MV_SSL_IN_MSG(&t->ssl)[1];
        return mv_fail(e, MV_E_TLS, "TLS %s failed: server sent alert %s (%d)%s", what,
                       alert_name(d), d, alert_hint(d, t));
    }
    mbedtls_strerror(ret, buf, sizeof buf);
    return mv_fail(e, MV_E_TLS, "TLS %s failed: %s", what, buf);
}

static int setup_error(mv_error *e, int ret, const char *what)
{
    char buf[128];
    mbedtls_strerror(ret, buf, sizeof buf);
    return mv_fail(e, MV_E_TLS, "TLS %s failed: %s", what, buf);
}

/* Fills t->ip when host is an IPv4 or IPv6 literal. */
static void parse_ip_host(mv_tls *t, const char *host)
{
    if (inet_pton(AF_INET, host, t->ip) == 1) t->ip_len = 4;
    else if (inet_pton(AF_INET6, host, t->ip) == 1) t->ip_len = 16;
    else t->ip_len = 0;
}

/* Whether the certificate's subjectAltName lists the address as an iPAddress ([7],
 * OCTET STRING of 4 or 16 bytes).  The CN and dNSName entries never count. */
static int san_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t len)
{
    const mbedtls_x509_sequence *cur;
    for (cur = &crt->subject_alt_names; cur != NULL; cur = cur->next) {
        if (cur->buf.p != NULL
            && cur->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7)
            && cur->buf.len == len && memcmp(cur->buf.p, ip, len) == 0)
            return 1;
    }
    return 0;
}

int mv_tls_check(const mv_tls_opts *o, mv_error *e)
{
    if (o->tls_min == 13 && !MV_TLS_HAS_13)
        return mv_fail(e, MV_E_TLS, "tls_min = \"1.3\", but this build (mbedTLS %s) "
                       "supports TLS 1.2 at most", MBEDTLS_VERSION_STRING);
    if (o->tls_min != 0 && o->tls_max != 0 && o->tls_min > o->tls_max)
        return mv_fail(e, MV_E_ARG, "tls_min is above tls_max");
    return MV_OK;
}

int mv_tls_check_start(const char *host, const mv_tls_opts *o, mv_error *e)
{
    /* mbedTLS before 2.28.10 skips the name check when no host name is set
     * (CVE-2025-27809): never start a verifying handshake without one. */
    if (o->verify != MV_VERIFY_NONE && (host == NULL || host[0] == '\0'))
        return mv_fail(e, MV_E_CERT, "no server name to verify the certificate against");
    return mv_tls_check(o, e);
}

/* The certificate and key the client proves itself with (both or neither). */
static int load_client_cert(mv_tls *t, const mv_tls_opts *o, mv_error *e)
{
    int ret;
    if (o->client_cert == NULL || o->client_key == NULL)
        return mv_fail(e, MV_E_CERT, "client_cert and client_key go together");
    if (mbedtls_x509_crt_parse_file(&t->own_cert, o->client_cert) != 0)
        return mv_fail(e, MV_E_CERT, "cannot load client_cert %s", o->client_cert);
    if (MV_PK_PARSE_KEYFILE(&t->own_key, o->client_key, mbedtls_ctr_drbg_random,
                            &t->drbg) != 0)
        return mv_fail(e, MV_E_CERT, "cannot load client_key %s", o->client_key);
    ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->own_cert, &t->own_key);
    if (ret != 0) return setup_error(e, ret, "client certificate setup");
    return MV_OK;
}

mv_tls *mv_tls_new(const mv_tls_bio *bio, const char *host, const mv_tls_opts *o,
                   mv_error *e)
{
    static const char pers[] = "missive";
    mv_tls *t;
    int ret;
    if (mv_tls_check_start(host, o, e) != MV_OK) return NULL;
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        mv_fail(e, MV_E_MEMORY, "out of memory");
        return NULL;
    }
    t->bio = *bio;
    mbedtls_ssl_init(&t->ssl);
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_x509_crt_init(&t->own_cert);
    mbedtls_pk_init(&t->own_key);

    ret = mbedtls_ctr_drbg_seed(&t->drbg, mv_entropy, NULL,
                                (const unsigned char *)pers, sizeof pers - 1);
    if (ret != 0) { setup_error(e, ret, "random seeding"); goto cleanup; }
    ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) { setup_error(e, ret, "setup"); goto cleanup; }
    mv_tls_conf_versions(&t->conf, o->tls_min, o->tls_max);
    t->tls_max = o->tls_max;
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
    if ((o->client_cert != NULL || o->client_key != NULL)
        && load_client_cert(t, o, e) != MV_OK)
        goto cleanup;
    mbedtls_ssl_conf_verify(&t->conf, on_verify, t);
    ret = mbedtls_ssl_setup(&t->ssl, &t->conf);
    if (ret != 0) { setup_error(e, ret, "setup"); goto cleanup; }
    /* Always set: it is both SNI and the name the certificate must carry.  An address
     * is neither (RFC 6066 3: no literal in SNI): NULL, said explicitly, turns the
     * library's name check off and on_verify checks the iPAddress entries instead. */
    if (host != NULL) parse_ip_host(t, host);
    ret = mbedtls_ssl_set_hostname(&t->ssl, t->ip_len > 0 ? NULL : host);
    if (ret != 0) { setup_error(e, ret, "host name setup"); goto cleanup; }
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    return t;
cleanup:
    mv_tls_free(t);
    return NULL;
}

/* Called by mbedTLS for each certificate of the chain, deepest first: remembers what
 * an error message needs, and fails an IP host whose address the leaf does not list. */
static int on_verify(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    mv_tls *t = ctx;
    if (depth == 0 && t->ip_len > 0 && !san_has_ip(crt, t->ip, t->ip_len))
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
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

int mv_tls_handshake(mv_tls *t, mv_error *e)
{
    int ret = mbedtls_ssl_handshake(&t->ssl);
    if (ret == 0) {
        if (t->name_only
            && (mbedtls_ssl_get_verify_result(&t->ssl) & MBEDTLS_X509_BADCERT_CN_MISMATCH)) {
            t->failed = 1;
            return cert_error(e, MBEDTLS_X509_BADCERT_CN_MISMATCH, t);
        }
        return MV_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        if (*t->bio.eof && mv_buf_avail(t->bio.in) == 0 && ret == MBEDTLS_ERR_SSL_WANT_READ)
            return mv_fail(e, MV_E_CLOSED, "connection closed during the TLS handshake");
        return MV_WANT_READ;
    }
    t->failed = 1;
    {
        /* Some certificate failures surface as other handshake errors (a wrong key
         * usage as a bad certificate message): the verify flags tell. */
        uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
            || (flags != 0 && flags != (uint32_t)-1))
            return cert_error(e, flags, t);
    }
    if (ret == MBEDTLS_ERR_SSL_CONN_EOF)
        return mv_fail(e, MV_E_CLOSED, "connection closed during the TLS handshake");
    return tls_error(e, ret, "handshake", t);
}

int mv_tls_write(mv_tls *t, const void *p, size_t n, mv_error *e)
{
    const unsigned char *s = p;
    while (n > 0) {
        /* The BIO never blocks (it appends), so every call makes progress. */
        int ret = mbedtls_ssl_write(&t->ssl, s, n);
        if (ret < 0) return tls_error(e, ret, "write", t);
        s += ret;
        n -= (size_t)ret;
    }
    return MV_OK;
}

int mv_tls_read(mv_tls *t, mv_buf *app, mv_error *e)
{
    int got = 0;
    for (;;) {
        int ret;
        /* Up to one record's plaintext, into the room already there when it is a
         * useful size: asking for a full record every time doubled an idle
         * session's buffer to 32 KB. */
        size_t room = app->cap - app->len;
        if (room < 4096 || room > 16384) room = 16384;
        if (mv_buf_reserve(app, room) != 0)
            return mv_fail(e, MV_E_MEMORY, "out of memory");
        ret = mbedtls_ssl_read(&t->ssl, app->data + app->len, room);
        if (ret > 0) {
            app->len += (size_t)ret;
            got = 1;
            continue;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            return got ? MV_OK : MV_WANT_READ;
        if (got) return MV_OK; /* report the error on the next call */
        /* The peer's close_notify still deserves ours (RFC 8446 6.1). */
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
            return mv_fail(e, MV_E_CLOSED, "connection closed by the server");
        t->failed = 1;
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_CONN_EOF)
            return mv_fail(e, MV_E_CLOSED,
                           "connection closed by the server without TLS close_notify"
                           " (truncated)");
        return tls_error(e, ret, "read", t);
    }
}

int mv_tls_close_notify(mv_tls *t)
{
    if (t->failed || t->bye) return 0;
    t->bye = 1;
    /* The BIO appends, so the alert is in the out buffer when this returns. */
    return mbedtls_ssl_close_notify(&t->ssl) == 0 && mv_buf_avail(t->bio.out) > 0;
}

const char *mv_tls_version(const mv_tls *t)
{
    return mbedtls_ssl_get_version(&t->ssl);
}

const char *mv_tls_cipher(const mv_tls *t)
{
    return mbedtls_ssl_get_ciphersuite(&t->ssl);
}
