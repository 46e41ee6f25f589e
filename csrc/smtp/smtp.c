/* The SMTP session: configuration, lifecycle, simple commands and the step dispatcher. */
#include "smtp_int.h"
#include "mv_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int smtp_fail(smtp_session *s, mv_kind kind, const char *msg)
{
    return mv_fail(&s->pp.err, kind, "%s", msg);
}

void smtp_clear_transaction(smtp_session *s)
{
    size_t i;
    for (i = 0; i < s->nrcpt; i++) { free(s->rcpts[i].addr); free(s->rcpts[i].wire); }
    free(s->rcpts);
    for (i = 0; s->rdsn != NULL && i < s->nrcpt; i++) free(s->rdsn[i].orcpt);
    free(s->rdsn);
    free(s->envid);
    s->rcpts = NULL;
    s->rdsn = NULL;
    s->envid = NULL;
    s->dsn_ret = SMTP_RET_NONE;
    s->nrcpt = s->next_rcpt = s->accepted = 0;
    free(s->from);
    s->from = NULL;
    mv_buf_reset(&s->body);
}

smtp_session *smtp_new(void)
{
    smtp_session *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    mv_pp_init(&s->pp);
    mv_buf_init(&s->body);
    smtp_rr_init(&s->rr, s->pp.max_reply_lines, s->pp.max_reply_bytes);
    mv_error_clear(&s->saved);
    s->pipelining = 1;
    s->max_data_line = MV_DEFAULT_SMTP_MAX_LINE_LENGTH;
    return s;
}

void smtp_free(smtp_session *s)
{
    if (s == NULL) return;
    smtp_clear_transaction(s);
    mv_pp_free(&s->pp);
    smtp_ehlo_clear(s);
    mv_buf_free(&s->body);
    smtp_rr_free(&s->rr);
    mv_cfg_free(&s->cfg);
    free(s->helo);
    free(s);
}

mv_pp *smtp_pp(smtp_session *s) { return &s->pp; }
const mv_error *smtp_error(const smtp_session *s) { return &s->pp.err; }
const mv_reply *smtp_last_reply(const smtp_session *s) { return &s->last; }
size_t smtp_rcpt_count(const smtp_session *s) { return s->nrcpt; }
const smtp_rcpt *smtp_rcpt_at(const smtp_session *s, size_t i) { return &s->rcpts[i]; }
unsigned long long smtp_size_limit(const smtp_session *s) { return s->size_limit; }
int smtp_is_dead(const smtp_session *s) { return s->dead; }
int smtp_is_tls(const smtp_session *s) { return s->pp.conn.tls_ready; }
unsigned long long smtp_body_bytes(const smtp_session *s) { return s->stuff.in_bytes; }

int smtp_mark_dead(smtp_session *s)
{
    s->dead = 1;
    return MV_OK;
}

void smtp_set_peer_loopback(smtp_session *s, int loopback)
{
    s->cfg.peer_is_loopback = loopback;
}

const char *smtp_auth_used(const smtp_session *s)
{
    return s->auth_used == MV_SASL_NONE ? NULL : mv_sasl_name(s->auth_used);
}

int smtp_configure(smtp_session *s, const smtp_opts *o)
{
    mv_error *e = &s->pp.err;
    const char *auth = o->cfg.auth;
    if (mv_cfg_copy(&s->cfg, &o->cfg, e) != MV_OK) return MV_ERROR;
    if (o->helo != NULL && mv_cfg_check_value("helo", o->helo, e) != MV_OK) return MV_ERROR;
    if (o->helo != NULL && (o->helo[0] == '\0' || strchr(o->helo, ' ') != NULL))
        return smtp_fail(s, MV_E_ARG, "helo must be one word");
    if (auth != NULL && strcasecmp(auth, "auto") != 0 && strcasecmp(auth, "optional") != 0
        && strcasecmp(auth, "none") != 0 && mv_sasl_from_name(auth) < 0)
        return smtp_fail(s, MV_E_ARG, "unknown auth mechanism");
    s->helo = mv_strdup(o->helo != NULL ? o->helo : MV_DEFAULT_SMTP_HELO);
    if (s->helo == NULL) return smtp_fail(s, MV_E_MEMORY, "out of memory");
    s->pipelining = o->pipelining;
    s->chunking = o->chunking;
    s->max_data_line = o->max_data_line;
    s->rr.max_lines = s->pp.max_reply_lines;
    s->rr.max_bytes = s->pp.max_reply_bytes;
    return MV_OK;
}

int smtp_begin(smtp_session *s, int op, int state)
{
    if (s->op != OP_NONE && (s->state != S_DONE || s->owed > 0)) {
        /* The last operation stopped midway (a callback raised inside the body, a
         * caller gave up): the server is inside a command or owes replies, and
         * whatever went out now would land in that message or read those replies. */
        s->dead = 1;
    }
    mv_error_clear(&s->pp.err);
    if (s->dead) return smtp_fail(s, MV_E_CLOSED, "the connection is closed");
    mv_error_clear(&s->saved);
    s->op = op;
    s->state = state;
    mv_pp_arm(&s->pp);
    return MV_OK;
}

/* Reads one whole reply into s->last.  A 421 (service closing) kills the session. */
int smtp_read_reply(smtp_session *s)
{
    for (;;) {
        const char *line;
        size_t len;
        int r = mv_pp_getline(&s->pp, &line, &len);
        /* A failure inside a reply (a line or reply over a cap, EOF) leaves the rest of
         * it unread: a later command would take those lines as its own reply. */
        if (r == MV_ERROR) s->dead = 1;
        if (r != MV_OK) return r;
        r = smtp_rr_line(&s->rr, line, len, &s->pp.err);
        mv_pp_line_done(&s->pp);
        if (r == MV_ERROR) { s->dead = 1; return MV_ERROR; }
        if (r == 1) {
            smtp_rr_result(&s->rr, &s->last);
            if (s->owed > 0) s->owed--;
            if (s->last.code == 421) s->dead = 1;
            return MV_OK;
        }
    }
}

/* The error for an unexpected reply, keeping the reply for the caller. */
int smtp_reply_error(smtp_session *s, mv_kind kind, const char *what)
{
    return mv_fail_reply(&s->pp.err, kind, what, &s->last);
}

int smtp_queue(smtp_session *s, const char *line, size_t len, size_t mask_from)
{
    if (mv_pp_send(&s->pp, line, len, mask_from) != MV_OK) return MV_ERROR;
    s->owed++;
    return MV_OK;
}

int smtp_send_cmd(smtp_session *s, const char *line)
{
    mv_pp_arm(&s->pp);
    smtp_rr_reset(&s->rr);
    return smtp_queue(s, line, strlen(line), (size_t)-1);
}

/* ------------------------------------------------------------------ commands */

int smtp_begin_command(smtp_session *s, const char *verb)
{
    if (smtp_begin(s, OP_CMD, C_READ) != MV_OK) return MV_ERROR;
    snprintf(s->verb, sizeof s->verb, "%s", verb);
    if (smtp_send_cmd(s, verb) != MV_OK) {
        s->state = S_DONE;   /* nothing went out */
        return MV_ERROR;
    }
    if (strcmp(verb, "QUIT") == 0) s->dead = 1;  /* no command may follow, whatever happens */
    return MV_OK;
}

static int step_command(smtp_session *s)
{
    int r;
    if (s->state == S_DONE) return MV_OK;
    if ((r = smtp_read_reply(s)) != MV_OK) return r;
    s->state = S_DONE;
    if (s->last.code / 100 != 2) return smtp_reply_error(s, MV_E_REPLY, s->verb);
    return MV_OK;
}

/* ------------------------------------------------------------------ step */

/* Classifies a failure once, whoever raised it (the protocol or the driver). */
static int finish_error(smtp_session *s)
{
    mv_error *e = &s->pp.err;
    if (s->op == OP_SEND) smtp_send_failed(s);
    /* SMTP raises auth and limit before it sends the command they concern. */
    if (!mv_pp_error_keeps_session(e) && e->kind != MV_E_AUTH && e->kind != MV_E_LIMIT)
        s->dead = 1;
    /* Replies left unread would answer the next commands (RFC 2920 §3.1): a session
     * that stops before reading them all cannot go on. */
    if (s->owed > 0) s->dead = 1;
    s->state = S_DONE;
    return MV_ERROR;
}

int smtp_step(smtp_session *s)
{
    int r;
    if (s->pp.err.kind != MV_E_NONE) return finish_error(s);
    switch (s->op) {
    case OP_OPEN: r = smtp_step_open(s); break;
    case OP_SEND: r = smtp_step_send(s); break;
    case OP_CMD: r = step_command(s); break;
    default: return smtp_fail(s, MV_E_ARG, "no operation in progress");
    }
    if (r == MV_ERROR) return finish_error(s);
    return r;
}

