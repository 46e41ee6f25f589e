/* The open sequence every protocol shares: implicit TLS and its handshake, the
 * greeting, the capabilities, then (tls = "starttls") STARTTLS, its handshake and the
 * capabilities again (RFC 3207, 2595, 3501 §6.2.1).  The engine owns the order and the
 * security rules; a protocol supplies what is its own as hooks (its capability command
 * and reply, its STARTTLS verb and reply).
 *
 * The rules kept here, once for every protocol:
 * - no downgrade: tls = "starttls" fails (kind tls) when the server does not offer
 *   STARTTLS or refuses it;
 * - nothing received before TLS is trusted: bytes that came after the reply to STARTTLS
 *   make the TLS start fail (mv_conn_start_tls), never get read as the server's;
 * - a refused or failed STARTTLS leaves the link in an unknown state: its kind (tls)
 *   kills the session (mv_pp_error_keeps_session). */
#ifndef MV_OPEN_H
#define MV_OPEN_H

#include "mv_cfg.h"
#include "mv_pp.h"
#include "mv_sasl.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* Each hook returns MV_OK when its part is done, MV_WANT_READ / MV_WANT_WRITE to be
 * called again, or MV_ERROR with the error set in the engine.  A reading hook that
 * takes several steps (a multi-line reply, a fallback command) keeps its progress in
 * *sub, which the driver sets to 0 before the first call. */
typedef struct mv_open_ops {
    const char *starttls_verb;   /* "STARTTLS", "STLS": names it in errors */
    /* Reads the greeting; fails (kind reply) when the server refuses the connection. */
    int (*greeting)(void *proto, int *sub);
    /* Sends the capability command (EHLO, CAPA, CAPABILITY); it may send nothing when
     * the greeting already gave them (IMAP's [CAPABILITY] code), read_caps then
     * returning MV_OK at once. */
    int (*send_caps)(void *proto);
    /* Reads and keeps its reply. */
    int (*read_caps)(void *proto, int *sub);
    /* Why STARTTLS cannot be asked for (the message of the failure), or NULL when the
     * capabilities just read offer it. */
    const char *(*starttls_missing)(void *proto);
    int (*send_starttls)(void *proto);
    /* Reads the reply to STARTTLS: *reply is the server's, *accepted says it agreed. */
    int (*read_starttls)(void *proto, int *sub, const mv_reply **reply, int *accepted);
} mv_open_ops;

typedef enum {
    MV_OPEN_TLS, MV_OPEN_HANDSHAKE, MV_OPEN_GREETING, MV_OPEN_CAPS, MV_OPEN_CAPS_READ,
    MV_OPEN_STARTTLS_READ, MV_OPEN_DONE
} mv_open_state;

typedef struct mv_open {
    mv_open_state state;
    int sub;                     /* the current hook's own progress */
    int greeted;                 /* the greeting was read (implicit TLS reads it after
                                  * the handshake, STARTTLS before) */
    int renewed;                 /* a refused token was renewed (once per open) */
    mv_pp *pp;
    const mv_cfg *cfg;
    const mv_open_ops *ops;
    void *proto;
} mv_open;

/* Starts the sequence for the session `proto` over `pp`, as cfg->tls says. */
void mv_open_begin(mv_open *o, mv_pp *pp, const mv_cfg *cfg, const mv_open_ops *ops,
                   void *proto);
/* Runs the sequence on: MV_OK once the capabilities over the final link are known
 * (the protocol then logs in), else as the hooks. */
int mv_open_step(mv_open *o);

/* OAuth tokens from the caller (cfg->token_fn): the open asks for one before the first
 * AUTH with a token mechanism (MV_TOKEN_CONNECT), and once more after the server refused
 * it (MV_TOKEN_REJECTED), then sends AUTH again on the same connection: a failed AUTH
 * may be followed by another (RFC 4954 §4, RFC 5034 §4, RFC 3501 §6.2.2).  Asking
 * returns MV_WANT_TOKEN with pp->token_asked saying why; the caller puts its answer in
 * pp->token and clears token_asked (or sets pp->err to fail the open) and steps again.
 *
 * Before AUTH with m: MV_WANT_TOKEN when the token must be asked for first, else MV_OK. */
int mv_open_token_first(mv_open *o, const mv_cfg *cfg, mv_sasl_mech m);
/* After AUTH with m was refused: MV_WANT_TOKEN when a new token is asked for, MV_OK
 * when the refusal stands (a fixed token, or the renewed one refused too). */
int mv_open_token_renew(mv_open *o, const mv_cfg *cfg, mv_sasl_mech m);
/* While asked: MV_WANT_TOKEN until the caller answered, then MV_OK with cfg->token
 * replaced by the answer (the protocol sends AUTH again). */
int mv_open_token_take(mv_open *o, mv_cfg *cfg);
/* The caller's answer to the question: tok (n bytes, NUL-terminated) for the open to
 * take at its next step.  One that is empty or could not go on a command line fails the
 * open instead (pp->err: kind auth for empty, argument otherwise, never showing it);
 * MV_ERROR with kind memory when it cannot be copied. */
int mv_open_token_answer(mv_pp *pp, const char *tok, size_t n);
/* The caller has no token: the open fails with kind auth and `why`. */
void mv_open_token_refuse(mv_pp *pp, const char *why);

MV_HIDDEN_END

#endif
