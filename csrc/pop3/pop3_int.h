/* Private to the POP3 core (pop3.c: session, commands, bodies; pop3_open.c: greeting,
 * CAPA, STLS, login): the session layout and the helpers both halves use. */
#ifndef POP3_INT_H
#define POP3_INT_H

#include "pop3.h"
#include "mv_cmds.h"
#include "mv_open.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

enum { OP_NONE, OP_OPEN, OP_CMD };

enum {
    /* open: the shared sequence (mv_open), then login and CAPA after it */
    O_SEQUENCE, O_AUTH_READ, O_AUTH_ABORT_READ, O_USER_READ, O_PASS_READ, O_CAPA_AGAIN, O_TOKEN,
    C_STATUS, C_LINES, C_BODY, S_DONE
};

#define MAX_UID 255
#define DEFAULT_MAX_LISTING_BYTES MV_DEFAULT_POP3_MAX_LISTING_BYTES

struct pop3_session {
    mv_pp pp;
    mv_cfg cfg;
    unsigned long long max_size;
    unsigned long max_messages;
    unsigned long long max_listing_bytes, listing_bytes;
    /* connection */
    int op, state, dead, logged_in;
    int sub;            /* progress inside a multi-step reply (CAPA's lines) */
    mv_open open;
    unsigned caps, sasl_offered;
    mv_buf capa;
    char stamp[257];
    mv_reply last;
    mv_sasl sasl;
    const char *auth_used;
    mv_error saved, dele_err;
    /* commands sent, replies not yet read, first in first out: verb is a pop3_verb,
     * n the message number, arg TOP's line count */
    mv_cmds sent;
    size_t skip;        /* replies to read before the one the operation wants */
    mv_cmd cur;         /* the reply being read */
    int cur_target;     /* it is the reply the current operation wants */
    /* results */
    unsigned long stat_count;
    unsigned long long stat_size;
    pop3_entry *entries;
    size_t nentries, entries_cap;
    /* message body */
    pop3_ml ml;
    mv_buf body;
    int stream, discard, fixed;
    unsigned long long expect, next_report, armed_at;
};

/* Sets the error; returns MV_ERROR. */
int pop3i_fail(pop3_session *s, mv_kind kind, const char *msg);
/* Keeps a status line (ok: +OK or -ERR) as the last reply: its text sanitised, its
 * response code (RFC 2449 §8) parsed. */
void pop3i_keep_reply(pop3_session *s, int ok, const char *text, size_t len);
/* Fails with kind and "what: -ERR text", the reply attached. */
int pop3i_reply_error(pop3_session *s, mv_kind kind, const char *what);
/* Reads one line as a status line; *ok is 1 for +OK, 0 for -ERR.  The line is done. */
int pop3i_read_status(pop3_session *s, int *ok, const char *what);
int pop3i_send_line(pop3_session *s, const char *line, size_t mask_from);
/* One step of OP_OPEN (pop3_open.c). */
int pop3i_step_open(pop3_session *s);

MV_HIDDEN_END

#endif
