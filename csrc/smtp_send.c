/* One mail transaction: MAIL, RCPT, DATA or BDAT, the body, per-recipient results. */
#include "smtp_int.h"
#include "mv_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ send */

/* "Name <a@b>" -> "a@b"; a bare address is kept.  Returns a new string. */
static char *envelope_address(const char *v)
{
    const char *lt = strrchr(v, '<'), *gt;
    char *p;
    size_t n;
    if (lt == NULL) return mv_strdup(v);
    gt = strchr(lt, '>');
    if (gt == NULL) return NULL;
    n = (size_t)(gt - lt - 1);
    p = malloc(n + 1);
    if (p == NULL) return NULL;
    memcpy(p, lt + 1, n);
    p[n] = '\0';
    return p;
}

/* Checks an envelope without touching the transaction: every refusal happens here, so a
 * chained transaction (below) is checked before the previous one's end goes out. */
int smtp_check_envelope(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                        unsigned long long size, int has_8bit, mv_error *e)
{
    size_t i;
    int utf8 = 0;
    char *a;
    if (n == 0) return mv_fail(e, MV_E_ARG, "no recipients");
    for (i = 0; i <= n; i++) {
        const char *v = i == 0 ? from : rcpts[i - 1];
        const char *field = i == 0 ? "from" : "recipient";
        const unsigned char *p;
        if (mv_cfg_check_value(field, v, e) != MV_OK) return MV_ERROR;
        a = envelope_address(v);
        if (a == NULL) return mv_fail(e, MV_E_ARG, "%s is not a valid address", field);
        if ((i > 0 && a[0] == '\0') || strlen(a) > SMTP_MAX_ADDRESS) {
            free(a);
            return mv_fail(e, MV_E_ARG, "%s is empty or too long", field);
        }
        for (p = (const unsigned char *)a; *p; p++) {
            if (*p == '<' || *p == '>') {
                free(a);
                return mv_fail(e, MV_E_ARG, "%s is not a valid address", field);
            }
            if (*p >= 0x80) utf8 = 1;
        }
        free(a);
    }
    if (utf8 && !(s->caps & SMTP_CAP_SMTPUTF8))
        return mv_fail(e, MV_E_ARG, "a non-ASCII address needs SMTPUTF8, which the server "
                       "does not offer");
    if (size > 0 && (s->caps & SMTP_CAP_SIZE) && s->size_limit > 0 && size > s->size_limit)
        return mv_fail(e, MV_E_LIMIT, "message of %llu bytes exceeds the server's "
                       "SIZE limit of %llu", size, s->size_limit);
    if (has_8bit == 1 && !(s->caps & SMTP_CAP_8BITMIME))
        return mv_fail(e, MV_E_LIMIT, "8-bit message data but the server lacks 8BITMIME; "
                       "encode it (quoted-printable or base64)");
    return MV_OK;
}

/* Sets up the transaction of a checked envelope; fails only for lack of memory. */
static int prepare(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                   unsigned long long size, int has_8bit)
{
    size_t i;
    const unsigned char *p;
    smtp_clear_transaction(s);
    s->need_utf8 = 0;
    s->from = envelope_address(from);
    s->rcpts = calloc(n, sizeof *s->rcpts);
    if (s->from == NULL || s->rcpts == NULL) return smtp_fail(s, MV_E_MEMORY, "out of memory");
    for (i = 0; i < n; i++) {
        s->rcpts[i].addr = envelope_address(rcpts[i]);
        s->nrcpt = i + 1;
        if (s->rcpts[i].addr == NULL) return smtp_fail(s, MV_E_MEMORY, "out of memory");
    }
    for (i = 0; i <= n; i++) {
        for (p = (const unsigned char *)(i == 0 ? s->from : s->rcpts[i - 1].addr); *p; p++)
            if (*p >= 0x80) s->need_utf8 = 1;
    }
    s->size_hint = size;
    s->has_8bit = has_8bit;
    s->mail_failed = 0;
    s->body_ended = 0;
    s->accepted = 0;
    s->piped = s->pipelining && (s->caps & SMTP_CAP_PIPELINING);
    s->use_bdat = s->chunking && (s->caps & SMTP_CAP_CHUNKING);
    s->bdat_last_sent = 0;
    s->bdat_pending = 0;
    /* BDAT frames bytes but does not make them 8-bit clean: only 8BITMIME (and
     * BODY=8BITMIME on MAIL) lets 8-bit text through (RFC 3030 §2, RFC 6152). */
    smtp_stuff_init(&s->stuff, s->max_data_line, (s->caps & SMTP_CAP_8BITMIME) != 0,
                    !s->use_bdat);
    return MV_OK;
}

int smtp_begin_send(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                    unsigned long long size, int has_8bit)
{
    if (smtp_begin(s, OP_SEND, T_MAIL) != MV_OK) return MV_ERROR;
    smtp_clear_transaction(s);
    s->chain_state = SMTP_CHAIN_NONE;
    if (smtp_check_envelope(s, from, rcpts, n, size, has_8bit, &s->pp.err) != MV_OK
        || prepare(s, from, rcpts, n, size, has_8bit) != MV_OK) {
        s->state = S_DONE;   /* refused before anything went out */
        return MV_ERROR;
    }
    return MV_OK;
}

static int send_mail(smtp_session *s)
{
    char line[sizeof "MAIL FROM:<> SIZE=18446744073709551615 BODY=8BITMIME SMTPUTF8"
              + SMTP_MAX_ADDRESS];
    size_t len;
    int n = snprintf(line, sizeof line, "MAIL FROM:<%s>", s->from);
    if (n < 0 || (size_t)n >= sizeof line) return smtp_fail(s, MV_E_ARG, "from is too long");
    len = (size_t)n;
    if ((s->caps & SMTP_CAP_SIZE) && s->size_hint > 0)
        len += (size_t)snprintf(line + len, sizeof line - len, " SIZE=%llu", s->size_hint);
    if ((s->caps & SMTP_CAP_8BITMIME) && s->has_8bit != 0)
        len += (size_t)snprintf(line + len, sizeof line - len, " BODY=8BITMIME");
    if (s->need_utf8)
        len += (size_t)snprintf(line + len, sizeof line - len, " SMTPUTF8");
    (void)len;
    return smtp_send_cmd(s, line);
}

static int send_rcpt(smtp_session *s, size_t i)
{
    char line[sizeof "RCPT TO:<>" + SMTP_MAX_ADDRESS];
    snprintf(line, sizeof line, "RCPT TO:<%s>", s->rcpts[i].addr);
    return smtp_queue(s, line, strlen(line), (size_t)-1);
}

/* MAIL, and with PIPELINING every RCPT and DATA too, in one write. */
static int send_envelope(smtp_session *s)
{
    size_t i, owed = s->owed;
    if (!s->piped) return send_mail(s);
    mv_pp_cork(&s->pp);
    if (send_mail(s) != MV_OK) goto fail;
    for (i = 0; i < s->nrcpt; i++)
        if (send_rcpt(s, i) != MV_OK) goto fail;
    if (!s->use_bdat && smtp_queue(s, "DATA", 4, (size_t)-1) != MV_OK) goto fail;
    return mv_pp_uncork(&s->pp);
fail:
    /* Nothing of a half-built group goes out, so none of its replies is owed. */
    mv_pp_cork_cancel(&s->pp);
    s->owed = owed;
    return MV_ERROR;
}

/* Before returning a failure mid-transaction, RSET keeps the session usable. */
static int fail_with_rset(smtp_session *s)
{
    s->saved = s->pp.err;
    mv_error_clear(&s->pp.err);
    if (s->dead) {
        s->pp.err = s->saved;
        return MV_ERROR;
    }
    if (smtp_send_cmd(s, "RSET") != MV_OK) return MV_ERROR;
    s->state = T_RSET_READ;
    return mv_conn_want(&s->pp.conn, MV_WANT_READ);
}

static int all_rejected(smtp_session *s)
{
    char msg[200];
    size_t i, used;
    mv_error *e = &s->pp.err;
    if (s->mail_failed) return MV_ERROR; /* the MAIL error already says why */
    used = (size_t)snprintf(msg, sizeof msg, "all %zu recipient(s) rejected:", s->nrcpt);
    for (i = 0; i < s->nrcpt && used < sizeof msg; i++)
        used += (size_t)snprintf(msg + used, sizeof msg - used, " %d", s->rcpts[i].reply.code);
    mv_fail(e, MV_E_REPLY, "%s", msg);
    e->has_reply = 1;
    e->reply = s->rcpts[s->nrcpt - 1].reply;
    return MV_ERROR;
}

static int flush_body(smtp_session *s)
{
    if (s->body.len == 0) return MV_OK;
    if (mv_conn_write(&s->pp.conn, mv_buf_head(&s->body), mv_buf_avail(&s->body),
                      &s->pp.err) != MV_OK) return MV_ERROR;
    mv_buf_reset(&s->body);
    return MV_OK;
}

/* BDAT: the chunk size goes first, so a chunk is collected whole before it is sent. */
static int send_bdat(smtp_session *s, int last)
{
    char line[48];
    snprintf(line, sizeof line, "BDAT %zu%s", mv_buf_avail(&s->body), last ? " LAST" : "");
    mv_pp_arm(&s->pp);
    if (smtp_queue(s, line, strlen(line), (size_t)-1) != MV_OK) return MV_ERROR;
    if (flush_body(s) != MV_OK) return MV_ERROR;
    s->bdat_pending = 1;
    smtp_rr_reset(&s->rr);
    s->state = T_BDAT_READ;
    return MV_OK;
}

int smtp_step_send(smtp_session *s)
{
    int r;
    for (;;) {
        switch (s->state) {
        case T_MAIL:
            if (send_envelope(s) != MV_OK) return MV_ERROR;
            s->state = T_MAIL_READ;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case T_CHAIN_DOT_READ:
            /* The previous message's end of data went out with this envelope. */
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            s->prev_reply = s->last;
            s->chain_state = SMTP_CHAIN_DONE;
            smtp_rr_reset(&s->rr);
            if (s->dead) return smtp_reply_error(s, MV_E_REPLY, "server closing");
            s->state = T_MAIL_READ;
            break;
        case T_MAIL_READ:
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            if (s->last.code / 100 != 2) {
                smtp_reply_error(s, MV_E_REPLY, "sender refused");
                if (s->dead || !s->piped) return fail_with_rset(s);
                /* The group's RCPT and DATA replies are still owed and may come later:
                 * the error waits aside, so the steps go on reading every one. */
                s->mail_failed = 1;
                s->saved = s->pp.err;
                mv_error_clear(&s->pp.err);
            }
            s->next_rcpt = 0;
            s->state = s->piped ? T_RCPT_READ : T_RCPT;
            smtp_rr_reset(&s->rr);
            break;
        case T_RCPT:
            mv_pp_arm(&s->pp);
            if (send_rcpt(s, s->next_rcpt) != MV_OK) return MV_ERROR;
            s->state = T_RCPT_READ;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case T_RCPT_READ:
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            s->rcpts[s->next_rcpt].reply = s->last;
            if (s->last.code / 100 == 2) s->accepted++;
            smtp_rr_reset(&s->rr);
            if (s->dead) {
                if (s->mail_failed) s->pp.err = s->saved;
                else smtp_reply_error(s, MV_E_REPLY, "server closing");
                return MV_ERROR;
            }
            if (++s->next_rcpt < s->nrcpt) {
                s->state = s->piped ? T_RCPT_READ : T_RCPT;
                break;
            }
            if (s->use_bdat) {
                if (s->accepted == 0 || s->mail_failed) {
                    if (s->mail_failed) s->pp.err = s->saved;
                    else all_rejected(s);
                    return fail_with_rset(s);
                }
                s->state = T_BODY;
                return MV_WANT_BODY;
            }
            if (s->piped) { s->state = T_DATA_READ; break; }
            if (s->accepted == 0) { all_rejected(s); return fail_with_rset(s); }
            s->state = T_DATA;
            break;
        case T_DATA:
            if (smtp_send_cmd(s, "DATA") != MV_OK) return MV_ERROR;
            s->state = T_DATA_READ;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case T_DATA_READ:
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            if (s->last.code == 354 && s->mail_failed && s->accepted > 0) {
                /* No sender, yet a recipient and DATA accepted: the server's state makes
                 * no sense, and even an empty message could reach that recipient.
                 * Hang up without an end of data (RFC 5321 §3.8: the transaction is
                 * void), so nothing is delivered. */
                s->pp.err = s->saved;
                s->dead = 1;
                return MV_ERROR;
            }
            if (s->last.code == 354 && (s->accepted == 0 || s->mail_failed)) {
                /* A pipelining server let DATA through with nobody to deliver to: send
                 * just the end of data (RFC 2920 §3.1 "should send a single dot"), an
                 * empty message for no recipient that the server refuses, then report
                 * why.  No body line goes out. */
                if (smtp_send_cmd(s, ".") != MV_OK) return MV_ERROR;
                s->state = T_ABORT_DOT_READ;
                return mv_conn_want(&s->pp.conn, MV_WANT_READ);
            }
            if (s->last.code != 354) {
                if (s->mail_failed) s->pp.err = s->saved;
                else if (s->accepted == 0) all_rejected(s);
                else smtp_reply_error(s, MV_E_REPLY, "DATA refused");
                return fail_with_rset(s);
            }
            s->state = T_BODY;
            mv_pp_arm(&s->pp);
            return MV_WANT_BODY;
        case T_ABORT_DOT_READ:
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            if (s->mail_failed) s->pp.err = s->saved;
            else all_rejected(s);
            return fail_with_rset(s);
        case T_BODY:
            if (s->pp.conn.eof) return smtp_fail(s, MV_E_CLOSED, "connection closed");
            if (mv_buf_avail(&s->pp.conn.net_out) > 0) return MV_WANT_WRITE;
            if (!s->body_ended) return MV_WANT_BODY;
            if (s->use_bdat && !s->bdat_last_sent && !s->bdat_pending) {
                /* The last chunk waited for its predecessor's reply. */
                if (send_bdat(s, 1) != MV_OK) return MV_ERROR;
                s->bdat_last_sent = 1;
                break;
            }
            s->state = s->use_bdat ? T_BDAT_READ : T_DOT_READ;
            smtp_rr_reset(&s->rr);
            break;
        case T_BDAT_READ:
            if (!s->bdat_pending) { s->state = T_BODY; break; }
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            s->bdat_pending = 0;
            if (s->last.code / 100 != 2) {
                smtp_reply_error(s, MV_E_REPLY, "message refused");
                return s->bdat_last_sent ? MV_ERROR : fail_with_rset(s);
            }
            if (s->bdat_last_sent) { s->state = S_DONE; return MV_OK; }
            s->state = T_BODY;
            break;
        case T_DOT_READ:
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            s->state = S_DONE;
            if (s->last.code / 100 != 2) return smtp_reply_error(s, MV_E_REPLY, "message refused");
            return MV_OK;
        case T_RSET_READ:
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            s->pp.err = s->saved;
            return MV_ERROR;
        case S_DONE:
            return MV_OK;
        default:
            return smtp_fail(s, MV_E_PROTOCOL, "internal state error");
        }
    }
}

int smtp_feed(smtp_session *s, const void *p, size_t n)
{
    int r;
    if (s->op != OP_SEND || s->state != T_BODY || s->body_ended)
        return smtp_fail(s, MV_E_ARG, "no message body expected now");
    mv_pp_arm(&s->pp);
    r = smtp_stuff(&s->stuff, p, n, &s->body);
    if (r == SMTP_STUFF_LONG_LINE) {
        s->dead = 1;
        return mv_fail(&s->pp.err, MV_E_LIMIT, "message has a line longer than %zu bytes; "
                       "encode it (quoted-printable or base64)", s->max_data_line);
    }
    if (r == SMTP_STUFF_8BIT) {
        s->dead = 1;
        return smtp_fail(s, MV_E_LIMIT, "8-bit message data but the server lacks 8BITMIME; "
                                   "encode it (quoted-printable or base64)");
    }
    if (r != SMTP_STUFF_OK) return smtp_fail(s, MV_E_MEMORY, "out of memory");
    if (s->use_bdat) {
        if (mv_buf_avail(&s->body) >= BDAT_CHUNK) return send_bdat(s, 0);
        return MV_OK;
    }
    return flush_body(s);
}

int smtp_feed_end(smtp_session *s)
{
    if (s->op != OP_SEND || s->state != T_BODY || s->body_ended)
        return smtp_fail(s, MV_E_ARG, "no message body expected now");
    mv_pp_arm(&s->pp);
    if (smtp_stuff_end(&s->stuff, &s->body, !s->use_bdat) != SMTP_STUFF_OK)
        return smtp_fail(s, MV_E_MEMORY, "out of memory");
    s->body_ended = 1;
    mv_pp_commit_next(&s->pp);
    if (s->use_bdat) {
        s->bdat_last_sent = 1;
        if (s->bdat_pending) {
            /* Wait for the previous chunk's reply, then send the last one. */
            s->bdat_last_sent = 0;
            return MV_OK;
        }
        return send_bdat(s, 1);
    }
    s->owed++;   /* the final reply, to the dot */
    return flush_body(s);
}

int smtp_can_chain(const smtp_session *s)
{
    return s->pipelining && (s->caps & SMTP_CAP_PIPELINING)
        && !(s->chunking && (s->caps & SMTP_CAP_CHUNKING));
}

/* Ends this message and, in the same write, starts the next transaction (RFC 2920 lets
 * the message content lead a pipelined group).  One round trip per message instead of
 * two.  The previous message's final reply arrives as smtp_prev_reply(); until it has
 * (chain state PENDING), that message's outcome is unknown. */
int smtp_feed_end_chain(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                        unsigned long long size, int has_8bit)
{
    if (s->op != OP_SEND || s->state != T_BODY || s->body_ended || !s->piped || s->use_bdat)
        return smtp_fail(s, MV_E_ARG, "no chained message possible now");
    if (smtp_check_envelope(s, from, rcpts, n, size, has_8bit, &s->pp.err) != MV_OK)
        return MV_ERROR;
    mv_pp_arm(&s->pp);
    if (smtp_stuff_end(&s->stuff, &s->body, 1) != SMTP_STUFF_OK)
        return smtp_fail(s, MV_E_MEMORY, "out of memory");
    /* The end of this body and the next envelope travel in one write (one record). */
    mv_pp_cork(&s->pp);
    if (mv_pp_send_raw(&s->pp, mv_buf_head(&s->body), mv_buf_avail(&s->body)) != MV_OK)
        return MV_ERROR;
    mv_buf_reset(&s->body);
    s->owed++;   /* the previous message's final reply */
    mv_pp_commit_next(&s->pp);
    s->chain_state = SMTP_CHAIN_PENDING;
    if (prepare(s, from, rcpts, n, size, has_8bit) != MV_OK) {
        (void)mv_pp_uncork(&s->pp);   /* the previous message still ends */
        return MV_ERROR;
    }
    if (send_envelope(s) != MV_OK) return MV_ERROR;
    smtp_rr_reset(&s->rr);
    s->state = T_CHAIN_DOT_READ;
    return MV_OK;
}

int smtp_chain_state(const smtp_session *s)
{
    return s->chain_state;
}

const mv_reply *smtp_prev_reply(const smtp_session *s)
{
    return &s->prev_reply;
}
