/* mbedTLS's public-key calls whose arguments differ between 2.28 (Debian 12) and 3.x:
 * one set of names for TLS (mv_tls.c) and DKIM (mime_dkim.c) alike. */
#ifndef MV_PK_COMPAT_H
#define MV_PK_COMPAT_H

#include <mbedtls/pk.h>
#include <mbedtls/version.h>

#if MBEDTLS_VERSION_MAJOR >= 3
#define MV_PK_PARSE_KEYFILE(pk, path, rng, rctx) \
    mbedtls_pk_parse_keyfile((pk), (path), NULL, (rng), (rctx))
#define MV_PK_PARSE_KEY(pk, key, n, rng, rctx) \
    mbedtls_pk_parse_key((pk), (key), (n), NULL, 0, (rng), (rctx))
#define MV_PK_SIGN(pk, md, h, hn, sig, cap, sn, rng, rctx) \
    mbedtls_pk_sign((pk), (md), (h), (hn), (sig), (cap), (sn), (rng), (rctx))
#else
#define MV_PK_PARSE_KEYFILE(pk, path, rng, rctx) mbedtls_pk_parse_keyfile((pk), (path), NULL)
#define MV_PK_PARSE_KEY(pk, key, n, rng, rctx) mbedtls_pk_parse_key((pk), (key), (n), NULL, 0)
#define MV_PK_SIGN(pk, md, h, hn, sig, cap, sn, rng, rctx) \
    mbedtls_pk_sign((pk), (md), (h), (hn), (sig), (sn), (rng), (rctx))
#endif

#endif
