#include "mv_castore.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mv_castore {
    char *key;             /* "f:<cafile>\np:<capath>", or "system" */
    mbedtls_x509_crt chain;
    int refs;
    mv_castore *next;
};

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static mv_castore *stores;

/* Where distributions keep the CA bundle; the first readable one wins. */
static const char *const ca_bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt",              /* Debian, Ubuntu, Alpine, Arch */
    "/etc/pki/tls/certs/ca-bundle.crt",                /* Fedora, RHEL */
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",                          /* openSUSE */
    "/etc/ssl/cert.pem",                               /* BSDs, macOS */
    NULL
};

static int load(mbedtls_x509_crt *chain, const char *cafile, const char *capath, mv_error *e)
{
    const char *env;
    int i;
    if (cafile != NULL || capath != NULL) {
        if (cafile != NULL && mbedtls_x509_crt_parse_file(chain, cafile) < 0)
            return mv_fail(e, MV_E_CERT, "cannot load cafile %.150s", cafile);
        if (capath != NULL && mbedtls_x509_crt_parse_path(chain, capath) < 0)
            return mv_fail(e, MV_E_CERT, "cannot load capath %.150s", capath);
        return MV_OK;
    }
    env = getenv("SSL_CERT_FILE");
    if (env != NULL && env[0] != '\0' && mbedtls_x509_crt_parse_file(chain, env) >= 0)
        return MV_OK;
    for (i = 0; ca_bundles[i] != NULL; i++) {
        if (access(ca_bundles[i], R_OK) == 0
            && mbedtls_x509_crt_parse_file(chain, ca_bundles[i]) >= 0) return MV_OK;
    }
    return mv_fail(e, MV_E_CERT, "no system CA bundle found; pass cafile or capath");
}

mv_castore *mv_castore_get(const char *cafile, const char *capath, mv_error *e)
{
    mv_castore *s;
    size_t n;
    char *key;
    if (cafile == NULL && capath == NULL) {
        key = malloc(sizeof "system");
        if (key != NULL) memcpy(key, "system", sizeof "system");
    } else {
        n = (cafile ? strlen(cafile) : 0) + (capath ? strlen(capath) : 0) + 8;
        key = malloc(n);
        if (key != NULL) snprintf(key, n, "f:%s\np:%s", cafile ? cafile : "",
                                  capath ? capath : "");
    }
    if (key == NULL) {
        mv_fail(e, MV_E_MEMORY, "out of memory");
        return NULL;
    }
    pthread_mutex_lock(&store_lock);
    for (s = stores; s != NULL; s = s->next) {
        if (strcmp(s->key, key) == 0) {
            s->refs++;
            pthread_mutex_unlock(&store_lock);
            free(key);
            return s;
        }
    }
    /* Parsing under the lock keeps two sessions from parsing the same bundle twice. */
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        mv_fail(e, MV_E_MEMORY, "out of memory");
        goto fail;
    }
    mbedtls_x509_crt_init(&s->chain);
    if (load(&s->chain, cafile, capath, e) != MV_OK) {
        mbedtls_x509_crt_free(&s->chain);
        free(s);
        s = NULL;
        goto fail;
    }
    s->key = key;
    s->refs = 1;
    s->next = stores;
    stores = s;
    pthread_mutex_unlock(&store_lock);
    return s;
fail:
    pthread_mutex_unlock(&store_lock);
    free(key);
    return NULL;
}

mbedtls_x509_crt *mv_castore_chain(mv_castore *store)
{
    return &store->chain;
}

void mv_castore_release(mv_castore *store)
{
    mv_castore **p;
    if (store == NULL) return;
    pthread_mutex_lock(&store_lock);
    if (--store->refs > 0) {
        pthread_mutex_unlock(&store_lock);
        return;
    }
    for (p = &stores; *p != NULL; p = &(*p)->next) {
        if (*p == store) {
            *p = store->next;
            break;
        }
    }
    pthread_mutex_unlock(&store_lock);
    mbedtls_x509_crt_free(&store->chain);
    free(store->key);
    free(store);
}
