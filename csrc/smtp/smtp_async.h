/* Asynchronous sending: a sender thread owns one native SMTP connection and sends the
 * messages queued to it, in order, while the caller goes on.  The caller submits
 * serialised messages with their envelopes, then polls or waits for each one's
 * outcome.  No Lua here: the thread never touches an interpreter, and the binding only
 * reads results through these calls, under the queue's mutex. */
#ifndef SMTP_ASYNC_H
#define SMTP_ASYNC_H

#include "smtp.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef enum {
    SMTP_ASYNC_PENDING = 0,   /* queued, not taken by the sender yet */
    SMTP_ASYNC_SENT,          /* 2xx to end of data */
    SMTP_ASYNC_FAILED,        /* not delivered: a refusal, or the connection failed first */
    SMTP_ASYNC_UNCERTAIN,     /* the connection died after the final dot */
    SMTP_ASYNC_SENDING        /* taken by the sender, outcome not known yet */
} smtp_async_state;

typedef struct smtp_async smtp_async;

/* A copy of one message's outcome.  rcpts: every recipient with its RCPT reply (for
 * accepted/rejected); free it with smtp_async_res_free. */
typedef struct smtp_async_res {
    smtp_async_state state;
    mv_reply reply;       /* reply to end of data (sent), or the failing reply, if any */
    mv_error err;         /* failed / uncertain */
    smtp_rcpt *rcpts;
    size_t nrcpt;
} smtp_async_res;

/* Checks the options (like smtp_configure), copies them and starts the thread, which
 * connects at once so that the first message goes out without delay (with tokens from
 * the owner, when the first message is queued).  NULL on error. */
/* o->cfg.port and o->cfg.timeout_ms are the thread's to connect with. */
smtp_async *smtp_async_new(const smtp_opts *o, mv_error *e);

/* Queues a copy of the message (dsn: its RFC 3461 requests, or NULL); returns its id
 * (>= 1) or -1 with e set. */
long long smtp_async_submit(smtp_async *a, const char *from, const char *const *rcpts, size_t n,
                            const char *data, size_t len, const smtp_dsn *dsn, mv_error *e);

/* 0 and *out filled, or -1 for an id never handed out. */
int smtp_async_result(smtp_async *a, long long id, smtp_async_res *out);
void smtp_async_res_free(smtp_async_res *r);

/* Waits until message `id` (0: every message submitted so far) is sent, failed or
 * uncertain.
 * timeout_ms < 0 waits as long as it takes (each send is bounded by the session
 * timeout).  1 done, 0 timed out, -1 unknown id, 2 the thread asks for a token
 * (smtp_async_token_asked): the caller answers it and waits on for *left_ms (-1: as
 * long as it takes). */
int smtp_async_wait(smtp_async *a, long long id, int timeout_ms, int *left_ms);
size_t smtp_async_pending(smtp_async *a);

/* OAuth tokens from a function (o->cfg.token_fn).  The thread cannot call it, so a
 * connection it opens that needs a token (mv_open.h: before the first AUTH with a
 * token mechanism, and once after the server refused it) asks the owner and waits for
 * the answer, which only the owner's own calls give: while the owner calls nothing, the
 * question waits.  smtp_async_wait returns 2 when one is open.
 *
 * smtp_async_token_asked: why a token is wanted (MV_TOKEN_CONNECT, MV_TOKEN_REJECTED),
 * MV_TOKEN_NONE when nothing is asked; *refused says (once) that an open with the
 * owner's tokens failed with kind auth since, so a kept token must not be offered
 * again.  smtp_async_token_answer: the token (n bytes), or with tok NULL why there is
 * none (the open fails, kind auth, with that message).  0 handed over, 1 nothing was
 * asked (the answer is dropped), -1 out of memory.  The copies made are wiped after
 * use.  close and abandon fail a question still open (kind auth). */
int smtp_async_token_asked(smtp_async *a, int *refused);
int smtp_async_token_answer(smtp_async *a, const char *tok, size_t n, const char *why);

/* Flushes the queue, says QUIT and joins the thread.  Results stay readable. */
void smtp_async_close(smtp_async *a);
/* Frees a closed handle. */
void smtp_async_free(smtp_async *a);

/* For a collector: stops the thread without sending what is still queued (those end
 * "failed"), gives the message in flight grace_ms to finish, then shuts the socket down
 * and waits grace_ms more.  Returns 0 when the thread ended and everything is freed; 1
 * when it is still inside a call it could not interrupt (a DNS lookup, say): it is then
 * detached and frees everything itself when that call returns. */
int smtp_async_abandon(smtp_async *a, int grace_ms);

MV_HIDDEN_END

#endif
