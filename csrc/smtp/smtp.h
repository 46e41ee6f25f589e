/* The SMTP client as a resumable state machine (RFC 5321, 3207, 4954, 2920, 3030,
 * 1870, 6152, 6531).  Every operation is begun, then stepped until it returns MV_OK
 * or MV_ERROR; WANT_READ/WANT_WRITE are for the driver, WANT_BODY asks for the body. */
#ifndef SMTP_H
#define SMTP_H

#include "mv_cfg.h"
#include "mv_pp.h"
#include "mv_sasl.h"
#include "smtp_reply.h"
#include "smtp_stuff.h"
#include "smtp_dsn.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* RFC 5321 4.5.3.1: a domain of at most 255 octets, a local-part of at most 64, so an
 * envelope address of at most 64 + "@" + 255 octets.  Longer ones are refused before
 * anything is sent, and the command buffers are sized from these. */
#define SMTP_MAX_DOMAIN 255
#define SMTP_MAX_ADDRESS (64 + 1 + SMTP_MAX_DOMAIN)

/* A body held in memory goes to smtp_feed in slices of this many bytes (the C thread
 * and both Lua send loops): the stuffed copy waiting to be written stays small. */
#define SMTP_FEED_SLICE 65536

/* Capabilities from EHLO. */
enum {
    SMTP_CAP_STARTTLS = 1u << 0, SMTP_CAP_PIPELINING = 1u << 1, SMTP_CAP_8BITMIME = 1u << 2,
    SMTP_CAP_SMTPUTF8 = 1u << 3, SMTP_CAP_SIZE = 1u << 4, SMTP_CAP_CHUNKING = 1u << 5,
    SMTP_CAP_AUTH = 1u << 6, SMTP_CAP_ESMTP = 1u << 7, SMTP_CAP_DSN = 1u << 8
};

typedef struct smtp_opts {
    mv_cfg cfg;                /* cfg.auth: NULL/"auto", "optional", "none", a SASL name */
    const char *helo;          /* NULL: "localhost" */
    int pipelining;            /* use PIPELINING when offered (default 1) */
    int chunking;              /* use BDAT when offered (default 0) */
    size_t max_data_line;      /* 998 by RFC 5321; 0 for no check */
} smtp_opts;

typedef struct smtp_rcpt {
    char *addr;         /* as the caller gave it (results are keyed by it) */
    char *wire;         /* as RCPT carries it: A-labels when the server lacks SMTPUTF8 */
    mv_reply reply;
} smtp_rcpt;

/* One extension of the last EHLO reply (RFC 5321 4.1.1.1): its keyword in upper case,
 * its parameters as sent (NULL when it has none) and the same cut at spaces. */
typedef struct smtp_ext {
    const char *keyword;
    const char *params;
    const char *const *words;
    size_t nwords;
} smtp_ext;

typedef struct smtp_session smtp_session;

smtp_session *smtp_new(void);
void smtp_free(smtp_session *s);
mv_pp *smtp_pp(smtp_session *s);

/* Copies everything it needs from opts.  Checks option values (control bytes etc.). */
int smtp_configure(smtp_session *s, const smtp_opts *o);

/* Greeting, EHLO, STARTTLS or implicit TLS, EHLO again, AUTH. */
int smtp_begin_open(smtp_session *s);

/* One transaction.  size: the body size when known, else 0; has_8bit: 1, 0, or -1 when
 * unknown (streaming).  Addresses may be "Name <addr>" or bare.  dsn: the RFC 3461
 * requests, or NULL; asked of a server without DSN, the send is refused. */
int smtp_begin_send(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                    unsigned long long size, int has_8bit, const smtp_dsn *dsn);
/* While a send returns MV_WANT_BODY: feed body bytes, or end the body. */
int smtp_feed(smtp_session *s, const void *p, size_t n);
int smtp_feed_end(smtp_session *s);

/* Checks an envelope as smtp_begin_send would, changing nothing. */
int smtp_check_envelope(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                        unsigned long long size, int has_8bit, const smtp_dsn *dsn,
                        mv_error *e);
/* Chained sends (PIPELINING without BDAT): end this body and begin the next transaction
 * in one write; the send operation then goes on with the new message. */
int smtp_can_chain(const smtp_session *s);
int smtp_feed_end_chain(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                        unsigned long long size, int has_8bit, const smtp_dsn *dsn);
/* The previous chained message's final reply, or NULL while it is unknown. */
const mv_reply *smtp_prev_reply(const smtp_session *s);

/* NOOP, RSET or QUIT ("QUIT" makes the session closed whatever the reply). */
int smtp_begin_command(smtp_session *s, const char *verb);

int smtp_step(smtp_session *s);

/* Results. */
const mv_error *smtp_error(const smtp_session *s);
const mv_reply *smtp_last_reply(const smtp_session *s);
size_t smtp_rcpt_count(const smtp_session *s);
const smtp_rcpt *smtp_rcpt_at(const smtp_session *s, size_t i);
size_t smtp_ext_count(const smtp_session *s);
const smtp_ext *smtp_ext_at(const smtp_session *s, size_t i);
unsigned long long smtp_size_limit(const smtp_session *s);
const char *smtp_auth_used(const smtp_session *s);
int smtp_is_dead(const smtp_session *s);
int smtp_is_tls(const smtp_session *s);
int smtp_mark_dead(smtp_session *s);
void smtp_set_peer_loopback(smtp_session *s, int loopback);
unsigned long long smtp_body_bytes(const smtp_session *s);

MV_HIDDEN_END

#endif
