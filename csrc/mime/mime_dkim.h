/* DKIM (RFC 6376, RFC 8463): the canonicalizers of §3.4, the header fields and tag
 * lists both sides read (mime_dkim_canon.c), a signer that hashes the message as the
 * serialiser writes it, in one streaming pass (mime_dkim.c), and a verifier
 * (mime_dkim_verify.c). */
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

/* A header block split into fields: each field's offset, its length (continuation
 * lines and final line end included) and its name's length (WSP before the colon not
 * counted). */
typedef struct mv_dkim_field { size_t off, len, name_len; } mv_dkim_field;
typedef struct mv_dkim_fields {
    mv_dkim_field *f;
    size_t n, cap;
} mv_dkim_fields;

/* Splits h[0..n) (fields ending in CRLF or LF, no empty line) into fl, appending;
 * a line starting with WSP continues a field.  0, or -1 when out of memory. */
int mv_dkim_split_fields(mv_dkim_fields *fl, const char *h, size_t n);

/* Feeds out() the canonical form of the fields that the h= list `hlist` names
 * ("from:to:subject", lowercase, NUL-terminated), each name's instances taken from the
 * bottom up (§5.4.2), a name with no instance left contributing nothing; fields before
 * index `first` are never chosen.  tmp is scratch.  0, or -1 when out of memory. */
int mv_dkim_hash_fields(const char *h, const mv_dkim_fields *fl, size_t first,
                        const char *hlist, int relaxed, mv_dkim_out out, void *ctx,
                        mv_buf *tmp);

/* Tag lists (§3.2): "name=value; ...".  Values are trimmed of the FWS around them and
 * point into the input; FWS inside a value is left to the reader. */
#define MV_DKIM_MAX_TAGS 32
typedef struct mv_dkim_tag {
    const char *name, *val;
    size_t name_len, val_len;
    size_t end;                 /* offset of the ';' ending the tag-spec, or of the end */
} mv_dkim_tag;

/* Parses s[0..n) into t (room for MV_DKIM_MAX_TAGS); *nt tags.  0, or -1 with *why set
 * to a reason for the permerror: a malformed tag-spec, a duplicate name, too many. */
int mv_dkim_tags(const char *s, size_t n, mv_dkim_tag *t, size_t *nt, const char **why);
/* The tag called name, or NULL. */
const mv_dkim_tag *mv_dkim_tag_get(const mv_dkim_tag *t, size_t nt, const char *name);

enum { MV_DKIM_RSA_SHA256, MV_DKIM_ED25519_SHA256 };

/* Nonzero when this build signs and verifies ed25519-sha256 (libsodium). */
int mv_dkim_have_ed25519(void);

typedef struct mv_dkim_opts {
    const char *domain, *selector;
    const char *key;            /* PEM text, or a file's path when key_is_path; for
                                 * ed25519-sha256 a PKCS#8 "PRIVATE KEY" PEM */
    size_t key_len;
    int key_is_path;
    int algorithm;              /* MV_DKIM_* */
    int simple_header, simple_body;
    const char *const *headers; /* names to sign, or NULL for the default set */
    size_t nheaders;
    long long now;              /* t= */
    long long expire;           /* seconds after now for x=; 0: no x= */
    int allow_weak_key;         /* RSA keys under MV_DEFAULT_DKIM_MIN_BITS */
    struct mv_dkim_key *prepared;   /* this key already read (mv_dkim_key_load), or NULL */
} mv_dkim_opts;

/* A signing key read once, to sign many messages with: reading a 2048-bit RSA key and
 * preparing its blinding values is 30% of a signature (mbedTLS 2.28, counted with
 * callgrind), which a kept key pays once (later signatures only update the blinding,
 * as mbedTLS does for any context used again).  Checks o as mv_dkim_sign does.  NULL
 * with e set. */
typedef struct mv_dkim_key mv_dkim_key;
mv_dkim_key *mv_dkim_key_load(const mv_dkim_opts *o, mv_error *e);
void mv_dkim_key_free(mv_dkim_key *k);

/* Signs m and adds the DKIM-Signature field at the top of its header.  The boundaries
 * the serialiser chose are pinned, so the message as sent is the message signed.
 * MV_OK, or MV_ERROR with e set (MV_E_ARG: a bad option or key); m is then as it was. */
int mv_dkim_sign(mv_mime_msg *m, const mv_dkim_opts *o, mv_error *e);
/* Signs with each of o[0..n) in turn (each field on top of the last), all or none: on
 * an error the fields already added are taken away again. */
int mv_dkim_sign_all(mv_mime_msg *m, const mv_dkim_opts *o, size_t n, mv_error *e);

/* ---- verification (§6) ---- */

/* RFC 8601 result words */
enum { MV_DKIM_PASS, MV_DKIM_FAIL, MV_DKIM_NEUTRAL, MV_DKIM_TEMPERROR, MV_DKIM_PERMERROR };

/* A message read for verification: its header fields and where its body starts.  The
 * message text is borrowed and must outlive it. */
typedef struct mv_dkim_msg {
    const char *text;
    size_t len, hdr_len, body_off;
    mv_dkim_fields fl;
} mv_dkim_msg;

/* A DKIM-Signature field's tags, checked (§6.1.1). */
typedef struct mv_dkim_sig {
    size_t field;               /* index of its field in the message */
    int algorithm, simple_header, simple_body;
    char domain[254], selector[254], identity[256];
    char *hlist;                /* h=, lowercase, without FWS, NUL-terminated */
    unsigned char bh[32];
    unsigned char b[512];
    size_t b_len;
    long long t, x, l;          /* -1 when absent */
} mv_dkim_sig;

/* 0, or -1 when out of memory. */
int mv_dkim_msg_init(mv_dkim_msg *m, const char *text, size_t n);
void mv_dkim_msg_free(mv_dkim_msg *m);
/* Index of the k-th (0-based) DKIM-Signature field, or (size_t)-1. */
size_t mv_dkim_msg_sig_field(const mv_dkim_msg *m, size_t k);

/* Reads field `field` as a DKIM-Signature: MV_DKIM_PASS when its tags are acceptable
 * (then free with mv_dkim_sig_free), else MV_DKIM_PERMERROR or MV_DKIM_NEUTRAL with a
 * reason; *why stays pointing at a static string.  -1: out of memory. */
int mv_dkim_sig_parse(const mv_dkim_msg *m, size_t field, mv_dkim_sig *s, const char **why);
void mv_dkim_sig_free(mv_dkim_sig *s);

/* The outcome of one check, with what was computed (for reports). */
typedef struct mv_dkim_check {
    int result;
    const char *reason;         /* NULL on pass */
    unsigned char body_hash[32], header_hash[32];
    int hashed;                 /* 1 when body_hash is set, 2 when header_hash is too */
    int testing;                /* the key record says t=y */
} mv_dkim_check;

/* Checks s against the key record (the TXT text of selector._domainkey.domain) at time
 * `now`: x= (§6.1.1), the key record (§3.6.1, RFC 8301 key sizes), the body hash, the
 * signature.  Fills c; returns 0, or -1 when out of memory. */
int mv_dkim_verify(const mv_dkim_msg *m, const mv_dkim_sig *s, const char *rec, size_t rn,
                   long long now, mv_dkim_check *c);

MV_HIDDEN_END

#endif
