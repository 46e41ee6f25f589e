/* The IMAP client session as a resumable state machine (RFC 9051, RFC 3501): begin an
 * operation, then step until MV_OK or MV_ERROR; WANT_READ/WANT_WRITE are the driver's.
 *
 * A command is built with imap_cmd (imap_cmd.h: no argument can inject syntax) and
 * completed by its tag (RFC 3501 §2.2.1).  While it runs, every untagged response the
 * session does not keep for itself (CAPABILITY, ENABLED) is handed to the caller:
 * step returns MV_HAVE_CHUNK and imap_take says what waits, a whole response
 * (imap_response) or a piece of a streamed literal (imap_chunk, for the oldest command
 * in flight).  The session decides whose a response is (imap_route.h): imap_owner
 * names the command in flight whose result it belongs to, or is NULL when no command
 * collects it and the session has queued it in its event queue (imap_events.h), so
 * nothing the server sends unasked is lost.  Synchronising literals wait for "+" (RFC
 * 9051 §7.5); a refusal instead of "+" completes the command.
 *
 * BYE ends the session (kind closed) unless the command is LOGOUT.  A NO or BAD is a
 * failure of kind reply with the reply (status "NO"/"BAD", resp_code "TRYCREATE"...),
 * and the session goes on.  The open sequence (greeting, CAPABILITY, STARTTLS, login,
 * ENABLE) is the shared mv_open plus IMAP's own steps (imap_open.c).
 *
 * IDLE (RFC 2177): imap_begin_command("IDLE") completes at the server's "+" with the
 * session idling; imap_begin_wait(ms) then hands out untagged responses until the
 * time is up (MV_OK: the wait's end is not an error) and imap_begin_done sends DONE and
 * reads the tagged reply.  The same wait without IDLE serves NOOP polling. */
#ifndef IMAP_H
#define IMAP_H

#include <stdint.h>

#include "imap_cmd.h"
#include "imap_data.h"
#include "imap_events.h"
#include "imap_parse.h"
#include "mv_cfg.h"
#include "mv_pp.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

enum {
    IMAP_CAP_IMAP4REV1 = 1u << 0, IMAP_CAP_STARTTLS = 1u << 1,
    IMAP_CAP_LOGINDISABLED = 1u << 2, IMAP_CAP_SASL_IR = 1u << 3,
    IMAP_CAP_LITERAL_PLUS = 1u << 4, IMAP_CAP_LITERAL_MINUS = 1u << 5, IMAP_CAP_IDLE = 1u << 6,
    IMAP_CAP_UIDPLUS = 1u << 7, IMAP_CAP_MOVE = 1u << 8, IMAP_CAP_ESEARCH = 1u << 9,
    IMAP_CAP_CONDSTORE = 1u << 10, IMAP_CAP_ENABLE = 1u << 11,
    IMAP_CAP_UTF8_ACCEPT = 1u << 12, IMAP_CAP_SPECIAL_USE = 1u << 13,
    IMAP_CAP_BINARY = 1u << 14, IMAP_CAP_IMAP4REV2 = 1u << 15, IMAP_CAP_ID = 1u << 16,
    IMAP_CAP_QRESYNC = 1u << 17, IMAP_CAP_UNSELECT = 1u << 18
};
/* What ENABLE turned on (RFC 5161).  With IMAP4rev2 (RFC 9051) the server sends no
 * RECENT and answers SEARCH with ESEARCH; the session reads both forms either way. */
enum { IMAP_ENABLED_UTF8 = 1, IMAP_ENABLED_CONDSTORE = 2, IMAP_ENABLED_REV2 = 4 };

/* Defaults: the size one kept literal (a whole message in memory) may have. */
#define IMAP_DEFAULT_MAX_SIZE (256ULL * 1024 * 1024)

typedef struct imap_opts {
    mv_cfg cfg;                  /* cfg.auth: NULL/"auto", "login", "none", a SASL name */
    unsigned long long max_size; /* largest literal kept in memory; 0: the default */
    int enable;                  /* ENABLE IMAP4rev2, UTF8=ACCEPT, CONDSTORE when offered */
} imap_opts;

typedef struct imap_session imap_session;

imap_session *imap_new(void);
void imap_free(imap_session *s);
mv_pp *imap_pp(imap_session *s);
int imap_configure(imap_session *s, const imap_opts *o);
void imap_set_loopback(imap_session *s, int loopback);

int imap_begin_open(imap_session *s);
/* A new command for the caller to fill, with the session's literal and UTF-8 modes. */
void imap_cmd_for(const imap_session *s, imap_cmd *c);
/* Sends c (taken over: freed by the session) tagged; stream: hand the literals of body
 * sections out piece by piece instead of keeping them.  While earlier commands wait
 * for their tagged replies, c goes at once when the protocol allows (pipelined, RFC
 * 9051 §5.5: all sent, none waiting for "+", not LOGOUT); each tagged reply then
 * completes one step (MV_OK, or MV_ERROR kind reply for NO/BAD) and imap_done_tag says
 * whose; further steps read on while commands remain in flight.  IMAP_BUSY (c freed,
 * nothing else changed) when c cannot go before those are answered. */
#define IMAP_BUSY 100
int imap_begin_command(imap_session *s, imap_cmd *c, int stream);
/* The tag of the command sent last, of the one the last tagged reply completed, and
 * how many wait for their tagged replies. */
const char *imap_sent_tag(const imap_session *s);
const char *imap_done_tag(const imap_session *s);
size_t imap_in_flight(const imap_session *s);
/* IDLE and NOOP polling: wait up to ms for untagged data (see above). */
int imap_begin_wait(imap_session *s, int ms);
int imap_begin_done(imap_session *s);
int imap_step(imap_session *s);
/* After MV_WANT_BODY: the next bytes of a caller-supplied literal (imap_cmd_literal_ext);
 * more than announced fails and kills the session (the command cannot be framed). */
int imap_feed(imap_session *s, const void *data, size_t len);
void imap_after_error(imap_session *s);

enum { IMAP_TAKE_NONE = 0, IMAP_TAKE_RESPONSE, IMAP_TAKE_LITERAL };
/* After MV_HAVE_CHUNK: what waits. */
int imap_take(const imap_session *s);
const imap_resp *imap_response(const imap_session *s);
const unsigned char *imap_chunk(const imap_session *s, size_t *len, imap_str *key);

const mv_error *imap_error(const imap_session *s);
const mv_reply *imap_last_reply(const imap_session *s);
/* The tagged reply of the last command (its code: COPYUID, APPENDUID, READ-WRITE). */
const imap_resp *imap_tagged(const imap_session *s);
unsigned imap_caps(const imap_session *s);
unsigned imap_enabled(const imap_session *s);
const char *imap_capability_text(const imap_session *s, size_t *len);
const char *imap_auth_used(const imap_session *s);
/* After MV_HAVE_CHUNK with a response: the tag of the command in flight that collects
 * it (the oldest of those that do), or NULL when none does and it went to the event
 * queue (when it is an event: EXISTS, EXPUNGE, FETCH, VANISHED, ALERT...). */
const char *imap_owner(const imap_session *s);
/* The session's event queue (imap_events.h): untagged data no command collects, and a
 * tagged OK with [ALERT]. */
imap_events *imap_session_events(imap_session *s);
int imap_is_dead(const imap_session *s);
int imap_is_tls(const imap_session *s);
int imap_is_idling(const imap_session *s);
void imap_mark_dead(imap_session *s);

MV_HIDDEN_END

#endif
