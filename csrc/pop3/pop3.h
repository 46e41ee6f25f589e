/* The POP3 client as a resumable state machine (RFC 1939, 2449, 2595, 5034): begin an
 * operation, then step until MV_OK or MV_ERROR.  WANT_READ/WANT_WRITE are for the
 * driver; MV_HAVE_CHUNK during RETR/TOP in stream mode means "a chunk of the message
 * (at most 64 KiB) is in pop3_body(): take it (or leave it) and step again".  The
 * core does no I/O itself: the native driver (mv_net_run) or the Lua one moves bytes.
 * Commands may be sent ahead (RFC 2449 PIPELINING): their replies are read, in
 * order, by a later pop3_begin() of the same command; replies that come first and
 * belong to other sent-ahead commands are consumed on the way. */
#ifndef POP3_H
#define POP3_H

#include "mv_cfg.h"
#include "mv_pp.h"
#include "mv_sasl.h"
#include "pop3_parse.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

enum {
    POP3_CAP_CAPA = 1u << 0, POP3_CAP_STLS = 1u << 1, POP3_CAP_PIPELINING = 1u << 2,
    POP3_CAP_UIDL = 1u << 3, POP3_CAP_TOP = 1u << 4, POP3_CAP_USER = 1u << 5,
    POP3_CAP_SASL = 1u << 6,
    /* Text that starts with "[" is a response code (RFC 2449 §6.4); AUTH-RESP-CODE
     * promises [AUTH] alone (RFC 3206 §6). */
    POP3_CAP_RESP_CODES = 1u << 7, POP3_CAP_AUTH_RESP_CODE = 1u << 8
};

typedef enum {
    POP3_STAT, POP3_LIST, POP3_UIDL, POP3_RETR, POP3_TOP, POP3_DELE, POP3_RSET, POP3_NOOP,
    POP3_QUIT
} pop3_verb;

/* The largest message number accepted from a server or a caller: a Lua table key (a C
 * int on Lua 5.1) on every supported Lua, so never negative there.  TOP's line count
 * has the same bound, for the same reason. */
#define POP3_MAX_MSG_NUMBER 0x7fffffffUL
#define POP3_MAX_TOP_LINES 0x7fffffffUL

/* Defaults of pop3_opts.max_size and .max_messages. */
#define POP3_DEFAULT_MAX_SIZE MV_DEFAULT_POP3_MAX_SIZE
#define POP3_DEFAULT_MAX_MESSAGES MV_DEFAULT_POP3_MAX_MESSAGES

/* Streaming hands a body out (pop3_body at MV_HAVE_CHUNK) in pieces of at most this many
 * bytes, and each this many bytes received move the command's deadline on. */
#define POP3_CHUNK (64 * 1024)

typedef struct pop3_opts {
    mv_cfg cfg;                   /* cfg.auth: NULL/"auto", "user", "apop", "none", SASL */
    unsigned long long max_size;  /* largest message accepted; 0: no limit */
    unsigned long max_messages;   /* entries in a LIST/UIDL listing; 0: default */
    unsigned long long max_listing_bytes;  /* bytes of one LIST/UIDL listing; 0: default */
} pop3_opts;

typedef struct pop3_entry {
    unsigned long n;
    unsigned long long size;
    char *uid;                    /* UIDL only */
} pop3_entry;

typedef struct pop3_session pop3_session;

pop3_session *pop3_new(void);
void pop3_free(pop3_session *s);
mv_pp *pop3_pp(pop3_session *s);
/* Checks values (no control bytes: CHECKLIST 41) and copies them. */
int pop3_configure(pop3_session *s, const pop3_opts *o);
/* Whoever connected tells whether the peer is a loopback address. */
void pop3_set_loopback(pop3_session *s, int loopback);

/* Greeting, CAPA, STLS or implicit TLS, CAPA again, login, CAPA after login. */
int pop3_begin_open(pop3_session *s);
/* n: message number (0: none, or the whole listing for LIST/UIDL); lines: for TOP;
 * expect: the size LIST gave (0 unknown) to catch a lying server; stream: report
 * body chunks with MV_HAVE_CHUNK. */
int pop3_begin(pop3_session *s, pop3_verb v, unsigned long n, unsigned long lines,
               unsigned long long expect, int stream);
/* Sends a command now; its reply is read by the matching pop3_begin. */
int pop3_send_ahead(pop3_session *s, pop3_verb v, unsigned long n, unsigned long lines,
                    unsigned long long expect);
size_t pop3_pending(const pop3_session *s);
/* After a sink failed mid-message: read the rest of it into the void, then fail. */
int pop3_discard_rest(pop3_session *s);
int pop3_step(pop3_session *s);
/* Classifies a failure: a message cut short says "incomplete", and anything but a -ERR
 * reply or bad argument kills the session, so no QUIT can follow (RFC 1939 §6).
 * pop3_step calls it, also for a failure the driver reported (timeout, EOF) before
 * stepping again. */
void pop3_after_error(pop3_session *s);

const mv_error *pop3_error(const pop3_session *s);
const mv_reply *pop3_last_reply(const pop3_session *s);
/* A refused sent-ahead DELE seen while reading another reply (kind reply), or NULL;
 * the caller takes it (it is cleared). */
int pop3_take_dele_error(pop3_session *s, mv_error *out);
mv_buf *pop3_body(pop3_session *s);
unsigned long long pop3_body_bytes(const pop3_session *s);
void pop3_stat_result(const pop3_session *s, unsigned long *count, unsigned long long *size);
size_t pop3_entry_count(const pop3_session *s);
const pop3_entry *pop3_entry_at(const pop3_session *s, size_t i);
unsigned pop3_caps(const pop3_session *s);
const char *pop3_capa_lines(const pop3_session *s, size_t *len);
const char *pop3_auth_used(const pop3_session *s);
int pop3_has_apop(const pop3_session *s);
int pop3_is_dead(const pop3_session *s);
int pop3_is_tls(const pop3_session *s);
void pop3_mark_dead(pop3_session *s);

MV_HIDDEN_END

#endif
