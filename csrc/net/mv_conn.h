/* A connection as pure state: plaintext in/out for the protocol above, ciphertext
 * (or plaintext, before TLS) in/out for whichever driver moves bytes to the network.
 * TLS always runs over these memory buffers, so the native C driver and a Lua socket
 * driver move bytes the same way and the protocol code never does I/O. */
#ifndef MV_CONN_H
#define MV_CONN_H

#include "mv_buf.h"
#include "mv_error.h"
#include "mv_tls.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef struct mv_conn {
    mv_buf net_in;    /* bytes from the network not yet consumed */
    mv_buf net_out;   /* bytes waiting to go to the network */
    mv_buf app_in;    /* plaintext received, not yet parsed */
    int eof;          /* the peer closed its side */
    mv_tls *tls;      /* NULL until TLS starts */
    int tls_ready;    /* handshake complete */
    size_t want;      /* bytes TLS asked for beyond net_in (a hint for receive(n)) */
} mv_conn;

void mv_conn_init(mv_conn *c);
void mv_conn_free(mv_conn *c);

/* Driver side. */
int mv_conn_feed(mv_conn *c, const void *p, size_t n);
void mv_conn_feed_eof(mv_conn *c);

/* Protocol side.  write queues plaintext (encrypting when TLS is on). */
int mv_conn_write(mv_conn *c, const void *p, size_t n, mv_error *e);
/* Pulls available plaintext into app_in: MV_OK when bytes arrived, MV_WANT_READ when
 * none are available, MV_ERROR at EOF (kind closed) or on a TLS failure. */
int mv_conn_fill(mv_conn *c, mv_error *e);

/* Starts TLS for `host` (SNI and name check); then call handshake until MV_OK.
 * Fails if plaintext is still unread: bytes sent before TLS must never be trusted. */
int mv_conn_start_tls(mv_conn *c, const char *host, const mv_tls_opts *o, mv_error *e);
int mv_conn_handshake(mv_conn *c, mv_error *e);
/* Queues a close_notify (RFC 8446 6.1) when TLS is up, sound (no fatal alert either
 * way) and at a record boundary (nothing else waits in net_out); at most once.
 * Returns 1 when queued, for the driver to make one last write attempt. */
int mv_conn_close_notify(mv_conn *c);
/* "TLSv1.2 / TLS-ECDHE-..." for the binding, or NULL. */
const char *mv_conn_tls_version(const mv_conn *c);
const char *mv_conn_tls_cipher(const mv_conn *c);

/* Returns MV_WANT_WRITE if ciphertext waits, else `r`: the one rule for every step. */
static inline int mv_conn_want(const mv_conn *c, int r)
{
    return mv_buf_avail(&c->net_out) > 0 ? MV_WANT_WRITE : r;
}

MV_HIDDEN_END

#endif
