/* RSA keys made on the spot for the C tests that sign (DKIM), through mbedTLS. */
#ifndef CTEST_RSA_H
#define CTEST_RSA_H

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "mv_random.h"

static int ctest_rng(void *ctx, unsigned char *p, size_t n)
{
    (void)ctx;
    return mv_random(p, n);
}

/* A fresh RSA key of `bits` as PEM into pem[cap]; 0 or -1. */
static int ctest_rsa_key(unsigned bits, unsigned char *pem, size_t cap)
{
    mbedtls_pk_context pk;
    int rc = -1;
    mbedtls_pk_init(&pk);
    if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) == 0 &&
        mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), ctest_rng, NULL, bits, 65537) == 0 &&
        mbedtls_pk_write_key_pem(&pk, pem, cap) == 0) rc = 0;
    mbedtls_pk_free(&pk);
    return rc;
}

#endif
