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
    O_SEQUENCE, O_AUTH_READ, O_AUTH_ABORT_READ, O_TOKEN,
    /* send: one mail transaction, see below */
    TX_ENVELOPE, TX_CHAINED, TX_MAIL_REPLY, TX_RCPT, TX_RCPT_REPLY, TX_DATA, TX_DATA_REPLY,
    TX_DRAIN_RCPT, TX_DRAIN_DATA, TX_LONE_DOT_REPLY, TX_BODY, TX_CHUNK_REPLY, TX_END_WRITE,
    TX_FINAL_REPLY, TX_RSET_REPLY,
    /* command */
    C_READ,
    S_DONE
};

/* The states of a mail transaction (smtp_send.c has one handler for each).  Each state
 * names what the session does next or waits for; `owed` counts the replies still to come
 * and every one is read before anything else is sent (RFC 2920 §3.1).
 *
 *   TX_ENVELOPE      MAIL goes out; with PIPELINING every RCPT (and DATA, unless BDAT)
 *                    in the same write                               -> TX_MAIL_REPLY
 *   TX_CHAINED       the previous message's end of data led this envelope: its final
 *                    reply comes first (smtp_prev_reply)             -> TX_MAIL_REPLY
 *   TX_MAIL_REPLY    2xx -> TX_RCPT (lockstep) or TX_RCPT_REPLY (pipelined); refused ->
 *                    TX_RSET_REPLY, or in a pipelined group (the rest of the group's
 *                    replies still owed, the refusal kept in `saved`) -> TX_DRAIN_RCPT
 *   TX_RCPT          lockstep: the next RCPT goes out                -> TX_RCPT_REPLY
 *   TX_RCPT_REPLY    each recipient's reply is kept; after the last: DATA pipelined ->
 *                    TX_DATA_REPLY (its reply is owed whatever happened); else nobody
 *                    accepted -> TX_RSET_REPLY, BDAT -> TX_BODY, lockstep -> TX_DATA
 *   TX_DATA          lockstep: DATA goes out                         -> TX_DATA_REPLY
 *   TX_DATA_REPLY    354 -> TX_BODY; 354 with nobody accepted -> TX_LONE_DOT_REPLY;
 *                    refused -> TX_RSET_REPLY
 *   TX_DRAIN_RCPT    MAIL was refused: the group's RCPT replies, read and kept; then
 *                    BDAT -> TX_RSET_REPLY, DATA -> TX_DRAIN_DATA
 *   TX_DRAIN_DATA    the group's DATA reply: 354 with a recipient accepted -> hang up (no
 *                    end of data may follow a void transaction); 354 ->
 *                    TX_LONE_DOT_REPLY; refused -> TX_RSET_REPLY
 *   TX_LONE_DOT_REPLY  a lone "." (RFC 2920 §3.1) ended an empty DATA -> TX_RSET_REPLY
 *   TX_BODY          the caller feeds the body (MV_WANT_BODY).  DATA: the end ->
 *                    TX_END_WRITE, or a chained end -> TX_CHAINED (the next message);
 *                    BDAT: a full chunk -> TX_CHUNK_REPLY, the end (BDAT LAST) ->
 *                    TX_FINAL_REPLY
 *   TX_CHUNK_REPLY   a BDAT chunk, not the last, in flight: 2xx -> TX_BODY; refused ->
 *                    TX_RSET_REPLY
 *   TX_END_WRITE     the end of data waits to be written; lost here, the message is not
 *                    sent                                            -> TX_FINAL_REPLY
 *   TX_FINAL_REPLY   the reply to the end of data; lost here, the outcome is uncertain
 *                                                                    -> S_DONE
 *   TX_RSET_REPLY    the failure waits in `saved` while RSET's reply is read; then it is
 *                    returned and the session goes on
 *
 * How a transaction is framed (`shape`, TX_PIPELINED | TX_BDAT) is decided at MAIL from
 * the options and EHLO and never changes while it runs. */
enum { TX_PIPELINED = 1u << 0, TX_BDAT = 1u << 1 };

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
    smtp_ext *ext;       /* the last EHLO's extensions (smtp_ehlo.c) */
    size_t n_ext, n_words;
    char *ext_text;      /* their strings */
    char **ext_words;    /* their parameters cut at spaces */
    smtp_reply_reader rr;
    mv_reply last;
    mv_sasl sasl;
    mv_sasl_mech auth_used;
    /* transaction */
    char *from;
    smtp_rcpt *rcpts;
    smtp_rcpt_dsn *rdsn; /* each recipient's DSN requests (NULL: none asked) */
    int dsn_ret;         /* SMTP_RET_* */
    char *envid;
    size_t nrcpt, next_rcpt, accepted;
    unsigned shape;      /* TX_PIPELINED | TX_BDAT */
    mv_error saved;      /* a failure held back while owed replies are read */
    smtp_stuffer stuff;
    mv_buf body;         /* stuffed plaintext waiting to be written (or a BDAT chunk) */
    unsigned long long size_hint;
    int has_8bit, need_utf8;
    char verb[8];
    mv_reply prev_reply; /* a chained send's previous message: code 0 while unknown */
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
/* smtp_ehlo.c: the capability bits, SIZE, SASL offer and extension list from the
 * text of a 2xx EHLO reply; clear forgets them (HELO: no extensions). */
void smtp_ehlo_parse(smtp_session *s, const char *text, size_t len);
void smtp_ehlo_clear(smtp_session *s);
/* smtp_open.c */
int smtp_step_open(smtp_session *s);
/* smtp_send.c */
int smtp_step_send(smtp_session *s);
/* Says what a failure in the state it hit means for the message (uncertain, not sent). */
void smtp_send_failed(smtp_session *s);

MV_HIDDEN_END

#endif
