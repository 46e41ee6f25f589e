/* The one place that knows mbedTLS version differences (2.28 on Debian 12, 3.x elsewhere). */
#ifndef MV_TLS_COMPAT_H
#define MV_TLS_COMPAT_H

#include <mbedtls/version.h>
#include <mbedtls/ssl.h>

#if MBEDTLS_VERSION_MAJOR >= 3
#define MV_TLS_SET_MIN_12(conf) mbedtls_ssl_conf_min_tls_version((conf), MBEDTLS_SSL_VERSION_TLS1_2)
#define MV_PK_PARSE_KEYFILE(pk, path, rng, rctx) \
    mbedtls_pk_parse_keyfile((pk), (path), NULL, (rng), (rctx))
#else
#define MV_TLS_SET_MIN_12(conf) \
    mbedtls_ssl_conf_min_version((conf), MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
#define MV_PK_PARSE_KEYFILE(pk, path, rng, rctx) mbedtls_pk_parse_keyfile((pk), (path), NULL)
#endif

#endif
