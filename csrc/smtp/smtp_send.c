/* One mail transaction: MAIL, RCPT, DATA or BDAT, the body, per-recipient results. */
#include "smtp_int.h"
#include "mv_idna.h"
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

/* The address as it goes out: its domain as A-labels when the server lacks SMTPUTF8
 * (RFC 5890; RFC 6531 §3.2 lets U-labels through only under SMTPUTF8), else as given.
 * A fresh string, or NULL (out of memory, or *why says what IDNA refuses). */
static char *wire_address(const char *a, int smtputf8, const char **why)
{
    char *out;
    *why = NULL;
    /* Checked under SMTPUTF8 too: a domain IDNA refuses is refused either way. */
    if (mv_idna_addr_to_ascii(a, &out, why) != MV_IDNA_OK) return NULL;
    if (!smtputf8) return out;
    free(out);
    return mv_strdup(a);
}

/* One address as the caller gave it: no control byte, one pair of brackets at most, not
 * empty (but the null sender), within RFC 5321's bounds as it goes out.  A non-ASCII
 * local part has no ASCII form: it needs SMTPUTF8 (the MAIL that carries it says so). */
static int check_address(const char *v, const char *field, int may_be_empty, int smtputf8,
                         mv_error *e)
{
    char *a, *w = NULL;
    const char *d, *why;
    size_t len;
    int r = MV_OK;
    if (mv_cfg_check_value(field, v, e) != MV_OK) return MV_ERROR;
    a = envelope_address(v);
    if (a == NULL && (strrchr(v, '<') == NULL || strchr(strrchr(v, '<'), '>') != NULL))
        return mv_fail(e, MV_E_MEMORY, "out of memory");   /* well formed: no memory */
    if (a == NULL) return mv_fail(e, MV_E_ARG, "%s is not a valid address", field);
    d = mv_idna_domain(a);
    len = strlen(a);
    if ((len == 0 && !may_be_empty) || len > SMTP_MAX_ADDRESS)
        r = mv_fail(e, MV_E_ARG, "%s is empty or too long", field);
    else if (strpbrk(a, "<>") != NULL)
        r = mv_fail(e, MV_E_ARG, "%s is not a valid address", field);
    else if (!smtputf8 && mv_has_8bit(a, d != NULL ? (size_t)(d - a) : len))
        r = mv_fail(e, MV_E_ARG, "%s %.100s: a non-ASCII local part needs SMTPUTF8, which "
                    "the server does not offer", field, a);
    else if ((w = wire_address(a, smtputf8, &why)) == NULL)
        r = why != NULL ? mv_fail(e, MV_E_ARG, "%s domain %.100s is not a valid international "
                                  "domain name: %s", field, d, why)
                        : mv_fail(e, MV_E_MEMORY, "out of memory");
    else if (strlen(w) > SMTP_MAX_ADDRESS)
        r = mv_fail(e, MV_E_ARG, "%s is empty or too long", field);
    else if (!smtputf8 && mv_has_8bit(w, strlen(w)))
        r = mv_fail(e, MV_E_ARG, "%s %.100s: a non-ASCII address needs SMTPUTF8, which the "
                    "server does not offer", field, a);
    free(w);
    free(a);
    return r;
}

/* Checks an envelope without touching the transaction: every refusal happens here, so a
 * chained transaction (below) is checked before the previous one's end goes out. */
int smtp_check_envelope(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                        unsigned long long size, int has_8bit, const smtp_dsn *dsn,
                        mv_error *e)
{
    size_t i;
    int smtputf8 = (s->caps & SMTP_CAP_SMTPUTF8) != 0;
    if (n == 0) return mv_fail(e, MV_E_ARG, "no recipients");
    if (check_address(from, "from", 1, smtputf8, e) != MV_OK) return MV_ERROR;
    for (i = 0; i < n; i++)
        if (check_address(rcpts[i], "recipient", 0, smtputf8, e) != MV_OK)
            return MV_ERROR;
    if (size > 0 && (s->caps & SMTP_CAP_SIZE) && s->size_limit > 0 && size > s->size_limit)
        return mv_fail(e, MV_E_LIMIT, "message of %llu bytes exceeds the server's "
                       "SIZE limit of %llu", size, s->size_limit);
    if (has_8bit == 1 && !(s->caps & SMTP_CAP_8BITMIME))
        return mv_fail(e, MV_E_LIMIT, "8-bit message data but the server lacks 8BITMIME; "
                       "encode it (quoted-printable or base64)");
    if (smtp_dsn_check(dsn, n, e) != MV_OK) return MV_ERROR;
    /* Sent anyway, the parameters would be refused (RFC 5321 §4.1.1.11: 555) or, worse,
     * the message would go without the notifications the caller counts on. */
    if (smtp_dsn_asked(dsn, n) && !(s->caps & SMTP_CAP_DSN))
        return mv_fail(e, MV_E_ARG, "delivery status notifications (notify, ret, envid, "
                       "orcpt) need DSN, which the server does not offer");
    return MV_OK;
}

/* Keeps a checked envelope's DSN requests in the transaction. */
static int prepare_dsn(smtp_session *s, const smtp_dsn *d, size_t n)
{
    size_t i;
    if (!smtp_dsn_asked(d, n)) return MV_OK;
    s->dsn_ret = d->ret;
    if (d->envid != NULL && (s->envid = mv_strdup(d->envid)) == NULL) return MV_ERROR;
    s->rdsn = calloc(n, sizeof *s->rdsn);
    if (s->rdsn == NULL) return MV_ERROR;
    for (i = 0; i < n; i++) {
        unsigned own = d->rcpt_notify != NULL ? d->rcpt_notify[i] : 0;
        s->rdsn[i].notify = own != 0 ? own : d->notify;
        if (d->orcpt != NULL && d->orcpt[i] != NULL
            && (s->rdsn[i].orcpt = smtp_dsn_orcpt(d->orcpt[i])) == NULL) return MV_ERROR;
    }
    return MV_OK;
}

/* A checked envelope address as it goes out, or NULL (out of memory). */
static char *outgoing(const smtp_session *s, const char *v)
{
    const char *why;
    char *a = envelope_address(v), *w;
    if (a == NULL) return NULL;
    w = wire_address(a, (s->caps & SMTP_CAP_SMTPUTF8) != 0, &why);
    free(a);
    return w;
}

/* Sets up the transaction of a checked envelope; fails only for lack of memory. */
static int prepare(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                   unsigned long long size, int has_8bit, const smtp_dsn *dsn)
{
    size_t i;
    smtp_clear_transaction(s);
    s->from = outgoing(s, from);
    s->rcpts = calloc(n, sizeof *s->rcpts);
    if (s->from == NULL || s->rcpts == NULL) return smtp_fail(s, MV_E_MEMORY, "out of memory");
    s->need_utf8 = mv_has_8bit(s->from, strlen(s->from));
    for (i = 0; i < n; i++) {
        s->rcpts[i].addr = envelope_address(rcpts[i]);
        s->rcpts[i].wire = outgoing(s, rcpts[i]);
        s->nrcpt = i + 1;
        if (s->rcpts[i].addr == NULL || s->rcpts[i].wire == NULL)
            return smtp_fail(s, MV_E_MEMORY, "out of memory");
        if (mv_has_8bit(s->rcpts[i].wire, strlen(s->rcpts[i].wire))) s->need_utf8 = 1;
    }
    if (prepare_dsn(s, dsn, n) != MV_OK) return smtp_fail(s, MV_E_MEMORY, "out of memory");
    s->size_hint = size;
    s->has_8bit = has_8bit;
    s->accepted = 0;
    s->shape = 0;
    if (s->pipelining && (s->caps & SMTP_CAP_PIPELINING)) s->shape |= TX_PIPELINED;
    if (s->chunking && (s->caps & SMTP_CAP_CHUNKING)) s->shape |= TX_BDAT;
    /* BDAT frames bytes but does not make them 8-bit clean: only 8BITMIME (and
     * BODY=8BITMIME on MAIL) lets 8-bit text through (RFC 3030 §2, RFC 6152). */
    smtp_stuff_init(&s->stuff, s->max_data_line, (s->caps & SMTP_CAP_8BITMIME) != 0,
                    !(s->shape & TX_BDAT));
    return MV_OK;
}

int smtp_begin_send(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                    unsigned long long size, int has_8bit, const smtp_dsn *dsn)
{
    if (smtp_begin(s, OP_SEND, TX_ENVELOPE) != MV_OK) return MV_ERROR;
    smtp_clear_transaction(s);
    memset(&s->prev_reply, 0, sizeof s->prev_reply);
    if (smtp_check_envelope(s, from, rcpts, n, size, has_8bit, dsn, &s->pp.err) != MV_OK
        || prepare(s, from, rcpts, n, size, has_8bit, dsn) != MV_OK) {
        s->state = S_DONE;   /* refused before anything went out */
        return MV_ERROR;
    }
    return MV_OK;
}

/* ------------------------------------------------------------------ commands */

static int send_mail(smtp_session *s)
{
    char line[sizeof "MAIL FROM:<> SIZE=18446744073709551615 BODY=8BITMIME SMTPUTF8"
              + SMTP_MAX_ADDRESS + SMTP_DSN_MAIL_EXTRA];
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
    if (len < sizeof line) len = smtp_dsn_mail_params(line, sizeof line, len, s->dsn_ret,
                                                       s->envid);
    if (len >= sizeof line) return smtp_fail(s, MV_E_ARG, "MAIL line too long");
    return smtp_send_cmd(s, line);
}

static int send_rcpt(smtp_session *s, size_t i)
{
    char line[sizeof "RCPT TO:<>" + SMTP_MAX_ADDRESS + SMTP_DSN_RCPT_EXTRA];
    size_t len;
    snprintf(line, sizeof line, "RCPT TO:<%s>", s->rcpts[i].wire);
    len = strlen(line);
    if (s->rdsn != NULL) len = smtp_dsn_rcpt_params(line, sizeof line, len, &s->rdsn[i]);
    if (len >= sizeof line) return smtp_fail(s, MV_E_ARG, "RCPT line too long");
    return smtp_queue(s, line, len, (size_t)-1);
}

/* MAIL, and with PIPELINING every RCPT and DATA too, in one write. */
static int send_envelope(smtp_session *s)
{
    size_t i, owed = s->owed;
    if (!(s->shape & TX_PIPELINED)) return send_mail(s);
    mv_pp_cork(&s->pp);
    if (send_mail(s) != MV_OK) goto fail;
    for (i = 0; i < s->nrcpt; i++)
        if (send_rcpt(s, i) != MV_OK) goto fail;
    if (!(s->shape & TX_BDAT) && smtp_queue(s, "DATA", 4, (size_t)-1) != MV_OK) goto fail;
    return mv_pp_uncork(&s->pp);
fail:
    /* Nothing of a half-built group goes out, so none of its replies is owed. */
    mv_pp_cork_cancel(&s->pp);
    s->owed = owed;
    return MV_ERROR;
}

/* Sends one command and waits for its reply in state `next`. */
static int command_then(smtp_session *s, const char *line, int next)
{
    if (smtp_send_cmd(s, line) != MV_OK) return MV_ERROR;
    s->state = next;
    return mv_conn_want(&s->pp.conn, MV_WANT_READ);
}

/* Reads the reply the state waits for into s->last; anything but MV_OK goes back to
 * the driver.  The state changes only once the handler has decided. */
static int read_reply(smtp_session *s)
{
    int r = smtp_read_reply(s);
    if (r == MV_OK) smtp_rr_reset(&s->rr);
    return r;
}

/* ------------------------------------------------------------------ failures */

/* Before returning a failure mid-transaction, RSET keeps the session usable. */
static int fail_with_rset(smtp_session *s)
{
    s->saved = s->pp.err;
    mv_error_clear(&s->pp.err);
    if (s->dead) {
        s->pp.err = s->saved;
        return MV_ERROR;
    }
    return command_then(s, "RSET", TX_RSET_REPLY);
}

/* A failure decided now but returned after the owed replies: it waits in `saved`. */
static void hold_error(smtp_session *s)
{
    s->saved = s->pp.err;
    mv_error_clear(&s->pp.err);
}

static int held_error(smtp_session *s)
{
    s->pp.err = s->saved;
    return MV_ERROR;
}

static int all_rejected(smtp_session *s)
{
    char msg[200];
    size_t i, used;
    mv_error *e = &s->pp.err;
    used = (size_t)snprintf(msg, sizeof msg, "all %zu recipient(s) rejected:", s->nrcpt);
    for (i = 0; i < s->nrcpt && used < sizeof msg; i++)
        used += (size_t)snprintf(msg + used, sizeof msg - used, " %d", s->rcpts[i].reply.code);
    mv_fail(e, MV_E_REPLY, "%s", msg);
    e->has_reply = 1;
    e->reply = s->rcpts[s->nrcpt - 1].reply;
    return MV_ERROR;
}

/* Keeps a recipient's reply; 1 when it was the last recipient. */
static int keep_rcpt_reply(smtp_session *s)
{
    s->rcpts[s->next_rcpt].reply = s->last;
    if (s->last.code / 100 == 2) s->accepted++;
    return ++s->next_rcpt == s->nrcpt;
}

/* DATA got 354 but nobody is to receive the message: just the end of data (RFC 2920
 * §3.1 "should send a single dot"), an empty message the server refuses; no body line
 * goes out.  The failure (in `saved`) is returned after RSET. */
static int lone_dot(smtp_session *s)
{
    return command_then(s, ".", TX_LONE_DOT_REPLY);
}

/* ------------------------------------------------------------------ the body */

static int flush_body(smtp_session *s)
{
    if (s->body.len == 0) return MV_OK;
    if (mv_conn_write(&s->pp.conn, mv_buf_head(&s->body), mv_buf_avail(&s->body),
                      &s->pp.err) != MV_OK) return MV_ERROR;
    mv_buf_reset(&s->body);
    return MV_OK;
}

/* BDAT: the chunk size goes first, so a chunk is collected whole before it is sent.
 * Its reply is read (next: TX_CHUNK_REPLY or TX_FINAL_REPLY) before more goes out. */
static int send_bdat(smtp_session *s, int last)
{
    char line[48];
    snprintf(line, sizeof line, "BDAT %zu%s", mv_buf_avail(&s->body), last ? " LAST" : "");
    mv_pp_arm(&s->pp);
    if (smtp_queue(s, line, strlen(line), (size_t)-1) != MV_OK) return MV_ERROR;
    if (flush_body(s) != MV_OK) return MV_ERROR;
    smtp_rr_reset(&s->rr);
    s->state = last ? TX_FINAL_REPLY : TX_CHUNK_REPLY;
    return MV_OK;
}

/* The body's bytes are written before the next reply is read; the connection lost on
 * the way is reported before the end of data can commit. */
static int body_written(smtp_session *s)
{
    if (s->pp.conn.eof) return smtp_fail(s, MV_E_CLOSED, "connection closed");
    if (mv_buf_avail(&s->pp.conn.net_out) > 0) return MV_WANT_WRITE;
    return MV_OK;
}

/* ------------------------------------------------------------------ one handler per state */

static int on_envelope(smtp_session *s)
{
    if (send_envelope(s) != MV_OK) return MV_ERROR;
    s->state = TX_MAIL_REPLY;
    return mv_conn_want(&s->pp.conn, MV_WANT_READ);
}

static int on_chained(smtp_session *s)
{
    int r = read_reply(s);
    if (r != MV_OK) return r;
    s->prev_reply = s->last;
    if (s->dead) return smtp_reply_error(s, MV_E_REPLY, "server closing");
    s->state = TX_MAIL_REPLY;
    return MV_OK;
}

static int on_mail_reply(smtp_session *s)
{
    int pipelined = (s->shape & TX_PIPELINED) != 0;
    int r = read_reply(s);
    if (r != MV_OK) return r;
    s->next_rcpt = 0;
    if (s->last.code / 100 == 2) {
        s->state = pipelined ? TX_RCPT_REPLY : TX_RCPT;
        return MV_OK;
    }
    smtp_reply_error(s, MV_E_REPLY, "sender refused");
    if (s->dead || !pipelined) return fail_with_rset(s);
    /* The group's RCPT and DATA replies are still owed and may come later: the error
     * waits aside while they are read. */
    hold_error(s);
    s->state = TX_DRAIN_RCPT;
    return MV_OK;
}

static int on_rcpt(smtp_session *s)
{
    mv_pp_arm(&s->pp);
    if (send_rcpt(s, s->next_rcpt) != MV_OK) return MV_ERROR;
    s->state = TX_RCPT_REPLY;
    return mv_conn_want(&s->pp.conn, MV_WANT_READ);
}

static int on_rcpt_reply(smtp_session *s)
{
    int r = read_reply(s), last;
    if (r != MV_OK) return r;
    last = keep_rcpt_reply(s);
    if (s->dead) return smtp_reply_error(s, MV_E_REPLY, "server closing");
    if (!last) {
        s->state = s->shape & TX_PIPELINED ? TX_RCPT_REPLY : TX_RCPT;
        return MV_OK;
    }
    if (s->shape & TX_BDAT) {
        if (s->accepted == 0) { all_rejected(s); return fail_with_rset(s); }
        s->state = TX_BODY;
        return MV_WANT_BODY;
    }
    if (s->shape & TX_PIPELINED) { s->state = TX_DATA_REPLY; return MV_OK; }
    if (s->accepted == 0) { all_rejected(s); return fail_with_rset(s); }
    s->state = TX_DATA;
    return MV_OK;
}

static int on_data(smtp_session *s)
{
    return command_then(s, "DATA", TX_DATA_REPLY);
}

static int on_data_reply(smtp_session *s)
{
    int r = read_reply(s);
    if (r != MV_OK) return r;
    if (s->last.code == 354 && s->accepted == 0) {
        all_rejected(s);
        hold_error(s);
        return lone_dot(s);
    }
    if (s->last.code != 354) {
        if (s->accepted == 0) all_rejected(s);
        else smtp_reply_error(s, MV_E_REPLY, "DATA refused");
        return fail_with_rset(s);
    }
    s->state = TX_BODY;
    mv_pp_arm(&s->pp);
    return MV_WANT_BODY;
}

static int on_drain_rcpt(smtp_session *s)
{
    int r = read_reply(s), last;
    if (r != MV_OK) return r;
    last = keep_rcpt_reply(s);
    if (s->dead) return held_error(s);
    if (!last) return MV_OK;
    if (s->shape & TX_BDAT) {
        held_error(s);
        return fail_with_rset(s);
    }
    s->state = TX_DRAIN_DATA;
    return MV_OK;
}

static int on_drain_data(smtp_session *s)
{
    int r = read_reply(s);
    if (r != MV_OK) return r;
    if (s->last.code == 354 && s->accepted > 0) {
        /* No sender, yet a recipient and DATA accepted: the server's state makes no
         * sense, and even an empty message could reach that recipient.  Hang up
         * without an end of data (RFC 5321 §3.8: the transaction is void), so nothing
         * is delivered. */
        s->dead = 1;
        return held_error(s);
    }
    if (s->last.code == 354) return lone_dot(s);
    held_error(s);
    return fail_with_rset(s);
}

static int on_lone_dot_reply(smtp_session *s)
{
    int r = read_reply(s);
    if (r != MV_OK) return r;
    held_error(s);
    return fail_with_rset(s);
}

static int on_body(smtp_session *s)
{
    int r = body_written(s);
    return r == MV_OK ? MV_WANT_BODY : r;
}

static int on_chunk_reply(smtp_session *s)
{
    int r = read_reply(s);
    if (r != MV_OK) return r;
    if (s->last.code / 100 == 2) {
        s->state = TX_BODY;
        return MV_OK;
    }
    smtp_reply_error(s, MV_E_REPLY, "message refused");
    return fail_with_rset(s);
}

static int on_end_write(smtp_session *s)
{
    int r = body_written(s);
    if (r != MV_OK) return r;
    smtp_rr_reset(&s->rr);
    s->state = TX_FINAL_REPLY;
    return MV_OK;
}

static int on_final_reply(smtp_session *s)
{
    int r = smtp_read_reply(s);
    if (r != MV_OK) return r;
    if (s->last.code / 100 != 2) return smtp_reply_error(s, MV_E_REPLY, "message refused");
    s->state = S_DONE;
    return MV_OK;
}

static int on_rset_reply(smtp_session *s)
{
    int r = smtp_read_reply(s);
    if (r != MV_OK) return r;
    return held_error(s);
}

typedef int (*tx_handler)(smtp_session *s);

static const tx_handler handlers[] = {
    [TX_ENVELOPE] = on_envelope,       [TX_CHAINED] = on_chained,
    [TX_MAIL_REPLY] = on_mail_reply,   [TX_RCPT] = on_rcpt,
    [TX_RCPT_REPLY] = on_rcpt_reply,   [TX_DATA] = on_data,
    [TX_DATA_REPLY] = on_data_reply,   [TX_DRAIN_RCPT] = on_drain_rcpt,
    [TX_DRAIN_DATA] = on_drain_data,   [TX_LONE_DOT_REPLY] = on_lone_dot_reply,
    [TX_BODY] = on_body,               [TX_CHUNK_REPLY] = on_chunk_reply,
    [TX_END_WRITE] = on_end_write,     [TX_FINAL_REPLY] = on_final_reply,
    [TX_RSET_REPLY] = on_rset_reply,
};

/* Runs handlers while they advance (MV_OK); anything else goes back to the driver. */
int smtp_step_send(smtp_session *s)
{
    while (s->state != S_DONE) {
        int r;
        if (s->state < TX_ENVELOPE || s->state > TX_RSET_REPLY)
            return smtp_fail(s, MV_E_PROTOCOL, "internal state error");
        r = handlers[s->state](s);
        if (r != MV_OK) return r;
    }
    return MV_OK;
}

/* What a failure of the connection means for the message, by the state it hit. */
void smtp_send_failed(smtp_session *s)
{
    mv_error *e = &s->pp.err;
    /* A dead connection after the final dot: the server may or may not have the
     * message, and the caller must not blindly send it again. */
    if (s->state == TX_FINAL_REPLY
        && (e->kind == MV_E_CLOSED || e->kind == MV_E_TIMEOUT || e->kind == MV_E_IO
            || e->kind == MV_E_TLS || e->kind == MV_E_PROTOCOL || e->kind == MV_E_LIMIT)) {
        char msg[sizeof e->msg];
        memcpy(msg, e->msg, sizeof msg);
        e->kind = MV_E_UNCERTAIN;
        snprintf(e->msg, sizeof e->msg, "outcome unknown: %.150s after the end of data; "
                 "the message may have been delivered", msg);
    }
    /* Lost while the body was still going out: the server never saw the end of data,
     * so the message is not sent (RFC 5321 §3.8 treats it as a 451). */
    if ((s->state == TX_BODY || s->state == TX_END_WRITE) && e->kind == MV_E_CLOSED)
        snprintf(e->msg, sizeof e->msg, "connection closed by the server before the end "
                 "of data: message not sent (temporary failure)");
}

/* ------------------------------------------------------------------ feeding */

int smtp_feed(smtp_session *s, const void *p, size_t n)
{
    int r;
    if (s->op != OP_SEND || s->state != TX_BODY)
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
    if (s->shape & TX_BDAT) {
        if (mv_buf_avail(&s->body) >= BDAT_CHUNK) return send_bdat(s, 0);
        return MV_OK;
    }
    return flush_body(s);
}

int smtp_feed_end(smtp_session *s)
{
    if (s->op != OP_SEND || s->state != TX_BODY)
        return smtp_fail(s, MV_E_ARG, "no message body expected now");
    mv_pp_arm(&s->pp);
    if (smtp_stuff_end(&s->stuff, &s->body, !(s->shape & TX_BDAT)) != SMTP_STUFF_OK)
        return smtp_fail(s, MV_E_MEMORY, "out of memory");
    mv_pp_commit_next(&s->pp);
    if (s->shape & TX_BDAT) return send_bdat(s, 1);
    s->owed++;   /* the final reply, to the dot */
    s->state = TX_END_WRITE;
    return flush_body(s);
}

int smtp_can_chain(const smtp_session *s)
{
    return s->pipelining && (s->caps & SMTP_CAP_PIPELINING)
        && !(s->chunking && (s->caps & SMTP_CAP_CHUNKING));
}

/* Ends this message and, in the same write, starts the next transaction (RFC 2920 lets
 * the message content lead a pipelined group).  One round trip per message instead of
 * two.  The previous message's final reply arrives as smtp_prev_reply(); until it has,
 * that message's outcome is unknown. */
int smtp_feed_end_chain(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                        unsigned long long size, int has_8bit, const smtp_dsn *dsn)
{
    if (s->op != OP_SEND || s->state != TX_BODY || s->shape != TX_PIPELINED)
        return smtp_fail(s, MV_E_ARG, "no chained message possible now");
    if (smtp_check_envelope(s, from, rcpts, n, size, has_8bit, dsn, &s->pp.err) != MV_OK)
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
    memset(&s->prev_reply, 0, sizeof s->prev_reply);
    if (prepare(s, from, rcpts, n, size, has_8bit, dsn) != MV_OK) {
        (void)mv_pp_uncork(&s->pp);   /* the previous message still ends */
        return MV_ERROR;
    }
    if (send_envelope(s) != MV_OK) return MV_ERROR;
    smtp_rr_reset(&s->rr);
    s->state = TX_CHAINED;
    return MV_OK;
}

const mv_reply *smtp_prev_reply(const smtp_session *s)
{
    return s->prev_reply.code != 0 ? &s->prev_reply : NULL;
}
