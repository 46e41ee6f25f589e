/* Opening an SMTP session: what is SMTP's own in the shared open sequence (mv_open:
 * the 220 greeting, EHLO with its HELO fallback, STARTTLS), then AUTH. */
#include "smtp_int.h"
#include "mv_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ EHLO */

static int send_ehlo(smtp_session *s, const char *verb)
{
    char line[sizeof "EHLO " + SMTP_MAX_DOMAIN];
    if (strlen(s->helo) > SMTP_MAX_DOMAIN) return smtp_fail(s, MV_E_ARG, "helo too long");
    strcpy(line, verb);
    strcat(line, " ");
    strcat(line, s->helo);
    return smtp_send_cmd(s, line);
}

/* ------------------------------------------------------------------ AUTH */

/* AUTH with the mechanism chosen, its initial response masked in the trace. */
static int send_auth(smtp_session *s)
{
    mv_buf line;
    size_t mask;
    int r;
    mv_sasl_begin(&s->sasl, s->sasl.mech, s->cfg.user, s->cfg.password, s->cfg.token);
    mv_buf_init(&line);
    r = mv_sasl_command(&s->sasl, "AUTH", &line, &mask, &s->pp.err);
    if (r == MV_OK) {
        mv_pp_arm(&s->pp);
        smtp_rr_reset(&s->rr);
        r = smtp_queue(s, (const char *)line.data, line.len, mask);
    }
    mv_buf_wipe(&line);
    mv_buf_free(&line);
    if (r != MV_OK) return MV_ERROR;
    s->auth_used = s->sasl.mech;
    s->state = O_AUTH_READ;
    return MV_OK;
}

/* After the final EHLO: decide on AUTH, or finish the open.  MV_WANT_TOKEN when the
 * caller must give the token first. */
static int start_auth(smtp_session *s)
{
    const char *wanted = s->cfg.auth;
    int r;
    if (s->cfg.user == NULL || (wanted && strcasecmp(wanted, "none") == 0)) {
        s->state = S_DONE;
        return MV_OK;
    }
    if (!mv_pp_credentials_ok(&s->pp, &s->cfg))
        return smtp_fail(s, MV_E_AUTH, "refusing to send credentials over an unencrypted or "
                                  "unverified connection (set insecure_auth to allow)");
    s->sasl.mech = mv_sasl_choose(s->sasl_offered, wanted, s->cfg.password != NULL,
                                  s->cfg.token != NULL || s->cfg.token_fn);
    if (s->sasl.mech == MV_SASL_NONE) {
        if (wanted && strcasecmp(wanted, "optional") == 0) {
            s->state = S_DONE;
            return MV_OK;
        }
        if (!(s->caps & SMTP_CAP_AUTH))
            return smtp_fail(s, MV_E_AUTH, "the server offers no authentication (AUTH); "
                                      "use auth = \"optional\" to send without it");
        return smtp_fail(s, MV_E_AUTH, "no authentication mechanism in common with the server");
    }
    if ((r = mv_open_token_first(&s->open, &s->cfg, s->sasl.mech)) != MV_OK) {
        s->state = O_TOKEN;
        return r;
    }
    return send_auth(s);
}

static int auth_reply(smtp_session *s)
{
    mv_buf line;
    int r;
    if (s->last.code == 235) { s->state = S_DONE; return MV_OK; }
    if (s->last.code != 334) {
        s->auth_used = MV_SASL_NONE;
        /* A refused token may be renewed once, then AUTH goes again (mv_open.h). */
        if (!s->dead && (r = mv_open_token_renew(&s->open, &s->cfg, s->sasl.mech)) != MV_OK) {
            s->state = O_TOKEN;
            return r;
        }
        smtp_reply_error(s, MV_E_AUTH, "authentication failed");
        mv_sasl_explain(&s->sasl, &s->pp.err);
        return MV_ERROR;
    }
    mv_buf_init(&line);
    /* The challenge is the text of a one-line 334 reply (RFC 4954 §4). */
    if (s->rr.lines != 1)
        r = smtp_fail(s, MV_E_AUTH, "authentication aborted: malformed server challenge");
    else
        r = mv_sasl_answer(&s->sasl, (const char *)mv_buf_head(&s->rr.text),
                           mv_buf_avail(&s->rr.text), &line, &s->pp.err);
    if (r == MV_OK) {
        mv_pp_arm(&s->pp);
        smtp_rr_reset(&s->rr);
        r = smtp_queue(s, line.len ? (const char *)line.data : "", line.len, 0);
    }
    mv_buf_wipe(&line);
    mv_buf_free(&line);
    if (r == MV_OK) return MV_OK;
    /* Cancel the exchange (RFC 4954 §4) and still read the server's answer. */
    s->auth_used = MV_SASL_NONE;
    s->saved = s->pp.err;
    mv_error_clear(&s->pp.err);
    if (smtp_send_cmd(s, "*") != MV_OK) return MV_ERROR;
    s->state = O_AUTH_ABORT_READ;
    return MV_OK;
}

/* ------------------------------------------------------------------ open hooks */

static int hook_greeting(void *p, int *sub)
{
    smtp_session *s = p;
    int r;
    (void)sub;
    if ((r = smtp_read_reply(s)) != MV_OK) return r;
    if (s->last.code != 220)
        return smtp_reply_error(s, MV_E_REPLY, "server refused the connection");
    return MV_OK;
}

static int hook_send_caps(void *p)
{
    return send_ehlo(p, "EHLO");
}

/* The reply to EHLO (*sub 0), or to HELO after a refused EHLO (*sub 1). */
static int hook_read_caps(void *p, int *sub)
{
    smtp_session *s = p;
    int r;
    if ((r = smtp_read_reply(s)) != MV_OK) return r;
    if (*sub == 1) {
        if (s->last.code / 100 != 2) return smtp_reply_error(s, MV_E_REPLY, "HELO refused");
        smtp_ehlo_clear(s);
        return MV_OK;
    }
    if (s->last.code / 100 != 2) {
        /* HELO would silently lose STARTTLS and AUTH: only when neither is asked. */
        if (s->dead || s->cfg.tls == MV_TLS_STARTTLS || s->cfg.user != NULL
            || s->last.code == 421)
            return smtp_reply_error(s, MV_E_REPLY, "EHLO refused");
        if (send_ehlo(s, "HELO") != MV_OK) return MV_ERROR;
        *sub = 1;
        return mv_conn_want(&s->pp.conn, MV_WANT_READ);
    }
    smtp_ehlo_parse(s, (const char *)mv_buf_head(&s->rr.text), mv_buf_avail(&s->rr.text));
    return MV_OK;
}

static const char *hook_starttls_missing(void *p)
{
    const smtp_session *s = p;
    if (s->caps & SMTP_CAP_STARTTLS) return NULL;
    return "the server does not offer STARTTLS, which is required (tls = \"starttls\")";
}

static int hook_send_starttls(void *p)
{
    return smtp_send_cmd(p, "STARTTLS");
}

static int hook_read_starttls(void *p, int *sub, const mv_reply **reply, int *accepted)
{
    smtp_session *s = p;
    int r;
    (void)sub;
    if ((r = smtp_read_reply(s)) != MV_OK) return r;
    *reply = &s->last;
    *accepted = s->last.code == 220;
    return MV_OK;
}

static const mv_open_ops open_ops = {
    "STARTTLS", hook_greeting, hook_send_caps, hook_read_caps, hook_starttls_missing,
    hook_send_starttls, hook_read_starttls
};

/* ------------------------------------------------------------------ open */

int smtp_step_open(smtp_session *s)
{
    int r;
    for (;;) {
        switch (s->state) {
        case O_SEQUENCE:
            if ((r = mv_open_step(&s->open)) != MV_OK) return r;
            if ((r = start_auth(s)) != MV_OK) return r;
            if (s->state == S_DONE) return mv_conn_want(&s->pp.conn, MV_OK);
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_AUTH_READ:
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            if ((r = auth_reply(s)) != MV_OK) return r;
            if (s->state == S_DONE) return MV_OK;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_TOKEN:
            if ((r = mv_open_token_take(&s->open, &s->cfg)) != MV_OK) return r;
            if (send_auth(s) != MV_OK) return MV_ERROR;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_AUTH_ABORT_READ:
            if ((r = smtp_read_reply(s)) != MV_OK) return r;
            s->pp.err = s->saved;
            return MV_ERROR;
        case S_DONE:
            return mv_conn_want(&s->pp.conn, MV_OK);
        default:
            return smtp_fail(s, MV_E_PROTOCOL, "internal state error");
        }
    }
}

int smtp_begin_open(smtp_session *s)
{
    if (smtp_begin(s, OP_OPEN, O_SEQUENCE) != MV_OK) return MV_ERROR;
    /* The greeting is the first reply owed, TLS or not (RFC 5321 §4.3.1). */
    s->owed = 1;
    smtp_rr_reset(&s->rr);
    mv_open_begin(&s->open, &s->pp, &s->cfg, &open_ops, s);
    return MV_OK;
}
