/* TLS for the core (mbedTLS): the options a session gives, the copy of them it owns,
 * and a client TLS session whose records go through memory buffers (its BIO appends
 * ciphertext to one and reads it from another), so that the connection above it
 * (mv_conn.h) stays pure state and any driver moves the bytes. */
#ifndef MV_TLS_H
#define MV_TLS_H

#include "mv_buf.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* What a TLS handshake checks: chain and name, the name alone (a private CA you do
 * not have, but still the right host), or nothing. */
enum { MV_VERIFY_NONE = 0, MV_VERIFY_FULL = 1, MV_VERIFY_NAME = 2 };

typedef struct mv_tls_opts {
    const char *cafile;       /* NULL: the system bundle */
    const char *capath;
    const char *client_cert;
    const char *client_key;
    int verify;               /* MV_VERIFY_FULL (default), MV_VERIFY_NAME or MV_VERIFY_NONE */
    int tls_min, tls_max;     /* 12 (TLS 1.2) or 13 (TLS 1.3); 0: 1.2 .. the build's best */
} mv_tls_opts;

/* The highest TLS version this build speaks (12 or 13) and its mbedTLS ("3.6.6"). */
int mv_tls_best_version(void);
const char *mv_tls_library_version(void);

/* A session's own copy of its TLS options, so the caller's strings need not outlive
 * the call: `view` points into `own` afterwards.  0, or -1 when out of memory (then
 * nothing is kept). */
typedef struct mv_tls_owned {
    char *cafile, *capath, *client_cert, *client_key;
} mv_tls_owned;

int mv_tls_own(mv_tls_owned *own, mv_tls_opts *view, const mv_tls_opts *src);
/* Refuses what this build cannot do (tls_min TLS 1.3 without it: kind tls) or what
 * contradicts itself, so a session fails before its first byte. */
int mv_tls_check(const mv_tls_opts *o, mv_error *e);
void mv_tls_owned_free(mv_tls_owned *own);

typedef struct mv_tls mv_tls;

/* Where a TLS session's records come from and go to (the connection's network side):
 * `in` is read, `out` appended to; `eof` says the peer closed; `want` gets how many bytes
 * a read asked for beyond `in` (a hint for a driver's receive(n)). */
typedef struct mv_tls_bio {
    mv_buf *in, *out;
    const int *eof;
    size_t *want;
} mv_tls_bio;

/* What mv_tls_new refuses before anything is set up: a verifying handshake without a
 * host name, or options mv_tls_check refuses. */
int mv_tls_check_start(const char *host, const mv_tls_opts *o, mv_error *e);
/* A client session for `host` (SNI and the name the certificate must carry) over `bio`,
 * or NULL with the error set. */
mv_tls *mv_tls_new(const mv_tls_bio *bio, const char *host, const mv_tls_opts *o,
                   mv_error *e);
void mv_tls_free(mv_tls *t);
/* One handshake step: MV_OK when complete, MV_WANT_READ for more bytes, or MV_ERROR. */
int mv_tls_handshake(mv_tls *t, mv_error *e);
/* Encrypts all n bytes into the BIO's out buffer. */
int mv_tls_write(mv_tls *t, const void *p, size_t n, mv_error *e);
/* Appends the plaintext of the complete records to `app`: MV_OK when some arrived,
 * MV_WANT_READ when none, MV_ERROR at the peer's close or on a failure. */
int mv_tls_read(mv_tls *t, mv_buf *app, mv_error *e);
/* After a completed handshake: queues a close_notify unless the session failed or
 * already said goodbye; returns 1 when the alert is in the out buffer. */
int mv_tls_close_notify(mv_tls *t);
/* "TLSv1.2" and "TLS-ECDHE-..." of a completed handshake. */
const char *mv_tls_version(const mv_tls *t);
const char *mv_tls_cipher(const mv_tls *t);

MV_HIDDEN_END

#endif
