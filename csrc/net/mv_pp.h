/* The command/response engine shared by SMTP and POP3 (curl calls it "pingpong"):
 * a connection, line framing with caps, a per-command deadline and a trace queue.
 * It never blocks and never calls out: drivers read `deadline` and the conn buffers. */
#ifndef MV_PP_H
#define MV_PP_H

#include "mv_cfg.h"
#include "mv_conn.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

enum { MV_TRACE_IN = '<', MV_TRACE_OUT = '>', MV_TRACE_INFO = '*' };

/* The longest text of one trace record: a trace is for people, so a long line or a
 * big reply shows its start only. */
#define MV_PP_TRACE_MAX 4096

typedef struct mv_pp {
    mv_conn conn;
    mv_error err;
    size_t max_line;         /* longest line accepted from the server */
    size_t max_reply_lines;  /* lines in one reply */
    size_t max_reply_bytes;  /* bytes in one reply */
    int timeout_ms;          /* per command; <= 0 means none */
    int max_time_ms;         /* a whole command or transfer, however it trickles; <= 0:
                              * none */
    long long deadline;      /* absolute mv_now_ms() time, 0 when none */
    long long limit;         /* the current command's end (max_time), 0 when none */
    int trace_on;
    mv_buf trace;            /* records: direction byte, 4-byte length, text */
    size_t scan;             /* bytes of app_in already searched for LF */
    size_t line_len;         /* length of the line handed out, with its ending */
    mv_buf cork;             /* commands of a pipelined group, written as one */
    int corked;
    int eof_check;           /* the next write commits (a final dot): look for an EOF
                              * that already arrived before writing it */
    int token_asked;         /* the open waits for an OAuth token from its caller
                              * (MV_WANT_TOKEN): why, an MV_TOKEN_* value */
    char *token;             /* the caller's answer, until the open takes it */
} mv_pp;

void mv_pp_init(mv_pp *pp);
void mv_pp_free(mv_pp *pp);

/* Starts a command: its total bound (max_time) and its first deadline. */
void mv_pp_start(mv_pp *pp);
/* Starts the deadline for one command (or for more progress on a long transfer); never
 * later than the command's total bound, so progress alone cannot hold it forever. */
void mv_pp_arm(mv_pp *pp);
/* True when the current command's total bound has passed. */
int mv_pp_over_limit(const mv_pp *pp);

/* Queues `line` plus CRLF.  In the trace, bytes from `mask_from` on show as "***"
 * (pass (size_t)-1 to show the whole line). */
int mv_pp_send(mv_pp *pp, const char *line, size_t len, size_t mask_from);

/* Between cork and uncork, commands collect and go out in one write (a pipelined
 * group).  uncork returns MV_OK or MV_ERROR. */
void mv_pp_cork(mv_pp *pp);
int mv_pp_uncork(mv_pp *pp);
/* Drops a group that will not go out (nothing of it was written), wiping it. */
void mv_pp_cork_cancel(mv_pp *pp);
/* Queues bytes as they are (message content, a literal): into the group while corked,
 * else written now.  Not traced. */
int mv_pp_send_raw(mv_pp *pp, const void *data, size_t len);
/* The next write commits something the server acts on (a final dot): the native
 * driver first looks for an EOF that already arrived, so a server already gone means
 * "not sent" rather than "uncertain". */
void mv_pp_commit_next(mv_pp *pp);

/* Hands out the next line (without CR LF) from the server: MV_OK, MV_WANT_READ,
 * MV_WANT_WRITE or MV_ERROR.  The line stays valid until mv_pp_line_done(). */
int mv_pp_getline(mv_pp *pp, const char **line, size_t *len);
void mv_pp_line_done(mv_pp *pp);
/* The size on the wire of the line handed out, its ending included (what a listing
 * cap counts). */
size_t mv_pp_line_bytes(const mv_pp *pp);

/* Byte-counted reading (a POP3 body, an IMAP literal): hands out up to `max` received
 * bytes (at least one) as MV_OK, or MV_WANT_READ / MV_ERROR.  They stay valid until
 * mv_pp_taken(), which consumes `used` of them.  The line cap does not apply to these
 * bytes: a line that continues after them is a new segment, capped on its own. */
int mv_pp_take(mv_pp *pp, size_t max, const unsigned char **data, size_t *len);
void mv_pp_taken(mv_pp *pp, size_t used);

/* The credentials rule of every protocol: always over verified TLS; otherwise as
 * c->insecure_auth says, where LOOPBACK (the default) allows only a loopback peer. */
int mv_pp_credentials_ok(const mv_pp *pp, const mv_cfg *c);
/* Which failures leave the session usable, in every protocol: a refusal the server
 * sent in full (kind reply) or a call refused before anything was sent (kind arg).
 * Any other kind kills the session (the link is in an unknown state); a protocol may
 * spare more kinds that it raises only before sending (SMTP: auth, limit). */
int mv_pp_error_keeps_session(const mv_error *e);
/* Starts the TLS handshake (implicit or after STARTTLS) as c says: the name checked
 * is c->server_name. */
int mv_pp_start_tls(mv_pp *pp, const mv_cfg *c);

/* Adds a trace record (no-op unless trace_on). */
void mv_pp_trace(mv_pp *pp, int dir, const char *text, size_t len);
/* One step of the TLS handshake (mv_conn_handshake) that traces how it ended: complete,
 * or why not (an alert the server sent, a certificate the check refused). */
int mv_pp_handshake(mv_pp *pp);

MV_HIDDEN_END

#endif
