/* Private to the IMAP core (imap.c: commands, responses, waiting; imap_open.c:
 * greeting, capabilities, STARTTLS, login, ENABLE). */
#ifndef IMAP_INT_H
#define IMAP_INT_H

#include "imap.h"
#include "imap_route.h"
#include "mv_cmds.h"
#include "mv_open.h"
#include "mv_sasl.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

enum { OP_NONE, OP_OPEN, OP_CMD, OP_WAIT };

/* The exchange of one command: sending (up to a synchronising literal), waiting for
 * its "+", reading to the tagged reply; then idling (after IDLE's "+"). */
enum { X_NONE, X_SEND, X_WAIT_CONT, X_FEED, X_READ, X_IDLING, X_DONE };

/* Open steps after the shared sequence. */
enum { O_SEQUENCE, O_LOGIN, O_TOKEN, O_CAPS, O_ENABLE, O_DONE };

/* What a continuation "+" means for the command being read. */
enum { CONT_NONE, CONT_SASL, CONT_IDLE };

struct imap_session {
    mv_pp pp;
    mv_cfg cfg;
    imap_limits lim;
    imap_parser parser;
    int want_enable;
    int op, state, dead, logged_in, preauth, bye;
    mv_open open;
    unsigned caps, sasl_offered, enabled;
    int have_caps;              /* caps known for the link in use */
    mv_buf capbuf;
    mv_sasl sasl;
    const char *auth_used;
    /* the command in flight */
    mv_cmds sent;
    imap_cmd cmd;
    int has_cmd;
    char tag[MV_CMD_TAG_MAX];   /* the command sent last */
    char done_tag[MV_CMD_TAG_MAX];  /* the command the last tagged reply completed */
    char verbs[MV_CMDS_MAX][24];    /* each command's first word(s), for messages, by
                                     * its tag's serial (mv_cmd.n) */
    imap_route routes[MV_CMDS_MAX]; /* what each collects, by the same serial */
    char owner[MV_CMD_TAG_MAX];     /* the command the response taken answers; "": none */
    int reply_failed;           /* a NO/BAD was reported: the next step reads on */
    int xstate, cont, internal, stream, logout;
    size_t pos, next_lit;       /* bytes of cmd.buf gone out; next literal */
    size_t feed_left;           /* bytes of a caller-supplied literal still owed */
    /* what the caller takes (MV_HAVE_CHUNK) */
    int take;
    size_t pending_used;        /* input to consume once the caller had the chunk */
    const unsigned char *chunk;
    size_t chunk_len;
    imap_str chunk_key;
    char keybuf[128];
    int tagged_ok;              /* the parser's response is the last tagged reply */
    mv_reply last;
    mv_error saved;
    long long wait_end;
    imap_events events;
};

int imapi_fail(imap_session *s, mv_kind kind, const char *msg);
/* Starts a command built in c (taken over); internal: untagged data is the session's. */
int imapi_send(imap_session *s, imap_cmd *c, int internal, int cont);
/* One step of the exchange: MV_OK at the tagged OK, MV_ERROR (a NO/BAD is kind reply
 * with the reply kept), MV_HAVE_CHUNK for the caller, IMAPI_CONT at a "+" the command
 * expects (cont), else WANT_*. */
#define IMAPI_CONT 100
/* Reads to the next whole response (IMAPI_GOT: imap_parser_response), or a piece of a
 * streamed literal (MV_HAVE_CHUNK), else WANT_* / MV_ERROR. */
#define IMAPI_GOT 101
int imapi_read(imap_session *s);
int imapi_exchange(imap_session *s);
/* Keeps a CAPABILITY list (response data or code) as the session's. */
void imapi_set_caps(imap_session *s, const imap_resp *r);
/* Keeps a status response as the last reply (status word, code, text). */
void imapi_keep_reply(imap_session *s, const imap_resp *r);
int imapi_step_open(imap_session *s);

MV_HIDDEN_END

#endif
