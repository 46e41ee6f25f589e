/* DKIM signing (RFC 6376): the canonicalizers of §3.4 and a signer that hashes the
 * message as the serialiser writes it, in one streaming pass. */
#ifndef MIME_DKIM_H
#define MIME_DKIM_H

#include <stddef.h>

#include "mime_msg.h"

MV_HIDDEN_BEGIN

/* Body canonicalization (§3.4.3 simple, §3.4.4 relaxed), fed in pieces of any size:
 * the output does not depend on where the input was cut.  Line ends are CRLF or a bare
 * LF (read as CRLF); the output goes to out() in pieces. */
typedef void (*mv_dkim_out)(void *ctx, const unsigned char *p, size_t n);
typedef struct mv_dkim_body {
    int relaxed;
    int cr;             /* a CR waits: a line end if LF follows */
    int wsp;            /* relaxed: a run of WSP waits for the rest of its line */
    int any;            /* something was written */
    size_t blank;       /* line ends not yet written (trailing empty lines are dropped) */
    mv_dkim_out out;
    void *ctx;
    unsigned char buf[512];
    size_t n;
} mv_dkim_body;

void mv_dkim_body_init(mv_dkim_body *b, int relaxed, mv_dkim_out out, void *ctx);
void mv_dkim_body_feed(mv_dkim_body *b, const unsigned char *p, size_t n);
void mv_dkim_body_end(mv_dkim_body *b);

/* Header canonicalization (§3.4.1, §3.4.2) of one field as written ("Name: value",
 * continuation lines included, its final CRLF included or not): appends the canonical
 * form; relaxed always ends with CRLF, simple keeps the bytes.  0 or -1. */
int mv_dkim_canon_header(mv_buf *out, const char *f, size_t n, int relaxed);

enum { MV_DKIM_RSA_SHA256, MV_DKIM_ED25519_SHA256 };

typedef struct mv_dkim_opts {
    const char *domain, *selector;
    const char *key;            /* PEM text, or a file's path when key_is_path */
    size_t key_len;
    int key_is_path;
    int algorithm;              /* MV_DKIM_* */
    int simple_header, simple_body;
    const char *const *headers; /* names to sign, or NULL for the default set */
    size_t nheaders;
    long long now;              /* t= */
    long long expire;           /* seconds after now for x=; 0: no x= */
    int allow_weak_key;         /* RSA keys under MV_DEFAULT_DKIM_MIN_BITS */
} mv_dkim_opts;

/* Signs m and adds the DKIM-Signature field at the top of its header.  The boundaries
 * the serialiser chose are pinned, so the message as sent is the message signed.
 * MV_OK, or MV_ERROR with e set (MV_E_ARG: a bad option or key); m is then as it was. */
int mv_dkim_sign(mv_mime_msg *m, const mv_dkim_opts *o, mv_error *e);

MV_HIDDEN_END

#endif
