/* The one place that knows mbedTLS version differences in TLS (2.28 on Debian 12, 3.x
 * elsewhere); those of the public-key calls are in mv_pk_compat.h. */
#ifndef MV_TLS_COMPAT_H
#define MV_TLS_COMPAT_H

#include <mbedtls/version.h>
#include <mbedtls/ssl.h>

#include "mv_pk_compat.h"

#if MBEDTLS_VERSION_MAJOR >= 3
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define MV_TLS_HAS_13 1
#else
#define MV_TLS_HAS_13 0
#endif
/* Versions as 12 or 13; 0 leaves the library's default. */
static inline void mv_tls_conf_versions(mbedtls_ssl_config *conf, int min, int max)
{
    mbedtls_ssl_conf_min_tls_version(conf, min == 13 ? MBEDTLS_SSL_VERSION_TLS1_3
                                                     : MBEDTLS_SSL_VERSION_TLS1_2);
    if (max == 12) mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
}
/* The record that ended a handshake with MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE still
 * holds the alert: level, description.  Private in 3.x, so reached through its macro. */
#define MV_SSL_IN_MSG(ssl) ((ssl)->MBEDTLS_PRIVATE(in_msg))
#else
#define MV_TLS_HAS_13 0
static inline void mv_tls_conf_versions(mbedtls_ssl_config *conf, int min, int max)
{
    (void)min;
    (void)max;
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
}
#define MV_SSL_IN_MSG(ssl) ((ssl)->in_msg)
#endif

#endif
