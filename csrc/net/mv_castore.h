/* Trust stores shared between TLS sessions: a CA bundle is parsed once per process
 * while any session uses it (the system bundle is ~450 KB parsed; 1000 sessions each
 * with their own copy would hold 450 MB).  Thread-safe: async senders use it too. */
#ifndef MV_CASTORE_H
#define MV_CASTORE_H

#include <mbedtls/x509_crt.h>

#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef struct mv_castore mv_castore;

/* The store for cafile and/or capath, or the system bundle when both are NULL; a new
 * reference, or NULL with the error set. */
mv_castore *mv_castore_get(const char *cafile, const char *capath, mv_error *e);
mbedtls_x509_crt *mv_castore_chain(mv_castore *store);
void mv_castore_release(mv_castore *store);

MV_HIDDEN_END

#endif
