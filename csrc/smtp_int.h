/* What the SMTP files share privately: the session structure and a few helpers. */
#ifndef SMTP_INT_H
#define SMTP_INT_H

#include "smtp.h"
#include "mv_open.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

enum { OP_NONE, OP_OPEN, OP_SEND, OP_CMD };

enum {
    /* open */
    O_SEQUENCE, O_AUTH_READ, O_AUTH_ABORT_READ,
    /* send */
    T_MAIL, T_MAIL_READ, T_RCPT, T_RCPT_READ, T_DATA, T_DATA_READ, T_BODY, T_ABORT_DOT_READ,
    T_DOT_READ, T_BDAT_READ, T_RSET_READ, T_CHAIN_DOT_READ,
    /* command */
    C_READ,
    S_DONE
};

#define BDAT_CHUNK (256 * 1024)

struct smtp_session {
    mv_pp pp;
    mv_open open;
    /* options (owned copies) */
    mv_cfg cfg;
    char *helo;
    int pipelining, chunking;
    size_t max_data_line;
    /* connection state */
    int op, state, dead;
    size_t owed;         /* replies the server still owes: each is read before anything
                          * else is (RFC 2920 §3.1), or the session cannot go on */
    unsigned caps;
    unsigned sasl_offered;
    unsigned long long size_limit;
    mv_buf ehlo;
    smtp_reply_reader rr;
    mv_reply last;
    mv_sasl sasl;
    mv_sasl_mech auth_used;
    /* transaction */
    char *from;
    smtp_rcpt *rcpts;
    size_t nrcpt, next_rcpt, accepted;
    int piped, mail_failed, body_ended, use_bdat, bdat_last_sent, bdat_pending;
    mv_error saved;
    smtp_stuffer stuff;
    mv_buf body;         /* stuffed plaintext waiting to be written (or a BDAT chunk) */
    unsigned long long size_hint;
    int has_8bit, need_utf8;
    char verb[8];
    int chain_state;     /* SMTP_CHAIN_*: the previous message of a chained send */
    mv_reply prev_reply;
};

/* smtp.c */
int smtp_fail(smtp_session *s, mv_kind kind, const char *msg);
int smtp_read_reply(smtp_session *s);
int smtp_reply_error(smtp_session *s, mv_kind kind, const char *what);
int smtp_send_cmd(smtp_session *s, const char *line);
/* Queues one command line whose reply is then owed (see `owed`). */
int smtp_queue(smtp_session *s, const char *line, size_t len, size_t mask_from);
/* Starts an operation: clears the last error, arms the deadline. */
int smtp_begin(smtp_session *s, int op, int state);
void smtp_clear_transaction(smtp_session *s);
/* smtp_open.c */
int smtp_step_open(smtp_session *s);
/* smtp_send.c */
int smtp_step_send(smtp_session *s);

MV_HIDDEN_END

#endif
