/* Opening an IMAP session: IMAP's part of the shared open sequence (mv_open: the
 * greeting and its [CAPABILITY] code, CAPABILITY, STARTTLS), then login (LOGIN, or
 * AUTHENTICATE with SASL-IR, RFC 4959), CAPABILITY after login unless the tagged OK
 * carried it, and ENABLE (RFC 5161). */
#include "imap_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Runs one internal command (untagged data is the session's) to its tagged reply. */
static int simple(imap_session *s, const char *verb)
{
    imap_cmd c;
    imap_cmd_for(s, &c);
    imap_cmd_atom(&c, verb, strlen(verb));
    return imapi_send(s, &c, 1, CONT_NONE);
}

/* ------------------------------------------------------------------ open hooks */

static int hook_greeting(void *p, int *sub)
{
    imap_session *s = p;
    const imap_resp *rp;
    int r;
    (void)sub;
    if ((r = imapi_read(s)) != IMAPI_GOT) return r;
    rp = imap_parser_response(&s->parser);
    if (rp->kind != IMAP_UNTAGGED
        || (rp->status != IMAP_OK && rp->status != IMAP_PREAUTH && rp->status != IMAP_BYE))
        return imapi_fail(s, MV_E_PROTOCOL, "the server's greeting is not OK, PREAUTH or BYE");
    imapi_keep_reply(s, rp);
    if (rp->code.s != NULL && imap_str_is(rp->code, "CAPABILITY")) imapi_set_caps(s, rp);
    if (rp->status == IMAP_BYE)
        return mv_fail_reply(&s->pp.err, MV_E_REPLY, "server refused the connection", &s->last);
    if (rp->status == IMAP_PREAUTH) {
        s->preauth = 1;
        s->logged_in = 1;
    }
    return MV_OK;
}

static int hook_send_caps(void *p)
{
    imap_session *s = p;
    if (s->have_caps) {
        s->xstate = X_DONE;
        return MV_OK;
    }
    return simple(s, "CAPABILITY");
}

static int hook_read_caps(void *p, int *sub)
{
    imap_session *s = p;
    int r;
    (void)sub;
    if ((r = imapi_exchange(s)) != MV_OK) return r == MV_HAVE_CHUNK ? MV_ERROR : r;
    if (!s->have_caps) return imapi_fail(s, MV_E_PROTOCOL, "the server sent no CAPABILITY");
    return MV_OK;
}

static const char *hook_starttls_missing(void *p)
{
    imap_session *s = p;
    if (s->preauth) return "the server greeted with PREAUTH, so STARTTLS (required) "
                           "cannot be used";
    if (s->caps & IMAP_CAP_STARTTLS) return NULL;
    return "the server does not offer STARTTLS, which is required";
}

static int hook_send_starttls(void *p)
{
    return simple(p, "STARTTLS");
}

static int hook_read_starttls(void *p, int *sub, const mv_reply **reply, int *accepted)
{
    imap_session *s = p;
    int r = imapi_exchange(s);
    (void)sub;
    if (r == MV_ERROR && s->pp.err.kind == MV_E_REPLY) {
        mv_error_clear(&s->pp.err);
        *accepted = 0;
        *reply = &s->last;
        return MV_OK;
    }
    if (r != MV_OK) return r;
    /* RFC 3501 §6.2.1: the capabilities from before TLS are forgotten. */
    s->have_caps = 0;
    s->caps = 0;
    s->sasl_offered = 0;
    *accepted = 1;
    *reply = &s->last;
    return MV_OK;
}

static const mv_open_ops open_ops = {
    "STARTTLS", hook_greeting, hook_send_caps, hook_read_caps, hook_starttls_missing,
    hook_send_starttls, hook_read_starttls
};

/* ------------------------------------------------------------------ login */

static int send_login(imap_session *s)
{
    imap_cmd c;
    if (s->caps & IMAP_CAP_LOGINDISABLED)
        return imapi_fail(s, MV_E_AUTH, "the server disabled LOGIN (LOGINDISABLED) and offers "
                                        "no usable AUTHENTICATE mechanism");
    if (s->cfg.password == NULL) return imapi_fail(s, MV_E_AUTH, "LOGIN needs a password");
    imap_cmd_for(s, &c);
    imap_cmd_atom(&c, "LOGIN", 5);
    imap_cmd_mask(&c);
    imap_cmd_astring(&c, s->cfg.user, strlen(s->cfg.user));
    imap_cmd_astring(&c, s->cfg.password, strlen(s->cfg.password));
    s->auth_used = "LOGIN";
    return imapi_send(s, &c, 1, CONT_NONE);
}

static int send_authenticate(imap_session *s)
{
    mv_buf line;
    imap_cmd c;
    size_t mask;
    int r;
    mv_sasl_begin(&s->sasl, s->sasl.mech, s->cfg.user, s->cfg.password, s->cfg.token);
    mv_buf_init(&line);
    r = mv_sasl_command(&s->sasl, "AUTHENTICATE", &line, &mask, &s->pp.err);
    if (r != MV_OK) {
        mv_buf_free(&line);
        return r;
    }
    imap_cmd_for(s, &c);
    /* Without SASL-IR the initial response waits for the server's first "+". */
    if (mask != (size_t)-1 && !(s->caps & IMAP_CAP_SASL_IR)) line.len = mask - 1;
    if (mv_buf_append(&c.buf, mv_buf_head(&line), mv_buf_avail(&line)) != 0)
        r = imapi_fail(s, MV_E_MEMORY, "out of memory");
    if (mask != (size_t)-1) c.mask_from = mask;
    mv_buf_wipe(&line);
    mv_buf_free(&line);
    if (r != MV_OK) {
        imap_cmd_free(&c);
        return r;
    }
    s->auth_used = mv_sasl_name(s->sasl.mech);
    return imapi_send(s, &c, 1, CONT_SASL);
}

static int start_login(imap_session *s)
{
    const char *wanted = s->cfg.auth;
    if (s->preauth || s->cfg.user == NULL || (wanted != NULL && strcasecmp(wanted, "none") == 0)) {
        s->state = O_DONE;
        return MV_OK;
    }
    if (!mv_pp_credentials_ok(&s->pp, &s->cfg))
        return imapi_fail(s, MV_E_AUTH, "refusing to send credentials over an unencrypted or "
                                        "unverified connection (set insecure_auth to allow)");
    mv_pp_arm(&s->pp);
    s->state = O_LOGIN;
    if (wanted != NULL && strcasecmp(wanted, "login") == 0) return send_login(s);
    s->sasl.mech = mv_sasl_choose(s->sasl_offered, wanted, s->cfg.password != NULL,
                                  s->cfg.token != NULL || s->cfg.token_fn);
    if (s->sasl.mech != MV_SASL_NONE) {
        int r = mv_open_token_first(&s->open, &s->cfg, s->sasl.mech);
        if (r == MV_OK) return send_authenticate(s);
        s->state = O_TOKEN;
        return r;
    }
    if (wanted != NULL && strcasecmp(wanted, "auto") != 0)
        return imapi_fail(s, MV_E_AUTH, "the server does not offer that SASL mechanism");
    return send_login(s);
}

/* A "+ challenge" during AUTHENTICATE: the mechanism's answer, or "*" to cancel. */
static int sasl_continue(imap_session *s)
{
    const imap_resp *r = imap_parser_response(&s->parser);
    mv_buf line;
    int rc;
    mv_buf_init(&line);
    mv_pp_arm(&s->pp);
    if (mv_sasl_answer(&s->sasl, r->text.s != NULL ? r->text.s : "",
                       r->text.s != NULL ? r->text.len : 0, &line, &s->saved) != MV_OK) {
        mv_pp_trace(&s->pp, MV_TRACE_OUT, "*", 1);
        rc = mv_pp_send_raw(&s->pp, "*\r\n", 3);
        s->cont = CONT_NONE;
    } else {
        mv_pp_trace(&s->pp, MV_TRACE_OUT, "***", 3);
        rc = mv_buf_append(&line, "\r\n", 2) == 0
             ? mv_pp_send_raw(&s->pp, mv_buf_head(&line), mv_buf_avail(&line))
             : imapi_fail(s, MV_E_MEMORY, "out of memory");
    }
    mv_buf_wipe(&line);
    mv_buf_free(&line);
    return rc;
}

static int on_login(imap_session *s)
{
    int r = imapi_exchange(s);
    if (r == IMAPI_CONT && s->cont == CONT_SASL) {
        if (sasl_continue(s) != MV_OK) return MV_ERROR;
        return mv_conn_want(&s->pp.conn, MV_WANT_READ);
    }
    if (r == MV_ERROR && s->saved.kind != MV_E_NONE) {
        s->pp.err = s->saved;
        return MV_ERROR;
    }
    if (r == MV_ERROR && s->pp.err.kind == MV_E_REPLY) {
        mv_error_clear(&s->pp.err);
        /* A refused token may be renewed once, then AUTHENTICATE goes again (mv_open.h). */
        if ((r = mv_open_token_renew(&s->open, &s->cfg, s->sasl.mech)) != MV_OK) {
            s->reply_failed = 0;
            s->state = O_TOKEN;
            return r;
        }
        mv_fail_reply(&s->pp.err, MV_E_AUTH, "authentication failed", &s->last);
        mv_sasl_explain(&s->sasl, &s->pp.err);
        return MV_ERROR;
    }
    if (r != MV_OK) return r;
    s->logged_in = 1;
    /* RFC 9051 §6.2.2: capabilities change after login; Dovecot sends them in the OK. */
    s->state = O_CAPS;
    {
        const imap_resp *t = imap_tagged(s);
        if (t != NULL && t->code.s != NULL && imap_str_is(t->code, "CAPABILITY")) {
            s->xstate = X_DONE;
            return MV_OK;
        }
    }
    return simple(s, "CAPABILITY");
}

static int send_enable(imap_session *s)
{
    imap_cmd c;
    int any = 0;
    s->state = O_ENABLE;
    if (!s->want_enable || !(s->caps & IMAP_CAP_ENABLE) || !s->logged_in) {
        s->state = O_DONE;
        return MV_OK;
    }
    imap_cmd_for(s, &c);
    imap_cmd_atom(&c, "ENABLE", 6);
    /* RFC 9051 §3.1: IMAP4rev2 semantics when the server offers both revisions */
    if (s->caps & IMAP_CAP_IMAP4REV2) { imap_cmd_atom(&c, "IMAP4rev2", 9); any = 1; }
    if (s->caps & IMAP_CAP_UTF8_ACCEPT) { imap_cmd_atom(&c, "UTF8=ACCEPT", 11); any = 1; }
    if (s->caps & IMAP_CAP_CONDSTORE) { imap_cmd_atom(&c, "CONDSTORE", 9); any = 1; }
    if (!any) {
        imap_cmd_free(&c);
        s->state = O_DONE;
        return MV_OK;
    }
    return imapi_send(s, &c, 1, CONT_NONE);
}

int imapi_step_open(imap_session *s)
{
    for (;;) {
        int r;
        switch (s->state) {
        case O_SEQUENCE:
            r = mv_open_step(&s->open);
            if (r != MV_OK) return r;
            r = start_login(s);
            break;
        case O_LOGIN: r = on_login(s); break;
        case O_TOKEN:
            /* the caller's token, then AUTHENTICATE with it */
            r = mv_open_token_take(&s->open, &s->cfg);
            if (r != MV_OK) break;
            mv_pp_arm(&s->pp);
            s->state = O_LOGIN;
            r = send_authenticate(s);
            break;
        case O_CAPS:
            r = imapi_exchange(s);
            if (r == MV_OK) r = send_enable(s);
            break;
        case O_ENABLE:
            r = imapi_exchange(s);
            if (r == MV_ERROR && s->pp.err.kind == MV_E_REPLY) {
                /* A refused ENABLE leaves the defaults: not a reason to fail. */
                mv_error_clear(&s->pp.err);
                r = MV_OK;
            }
            if (r == MV_OK) s->state = O_DONE;
            break;
        case O_DONE:
            s->op = OP_NONE;
            s->internal = 0;
            return mv_conn_want(&s->pp.conn, MV_OK);
        default: return imapi_fail(s, MV_E_PROTOCOL, "internal state error");
        }
        if (r == MV_HAVE_CHUNK) r = MV_OK;
        if (r != MV_OK) return r;
    }
}

int imap_begin_open(imap_session *s)
{
    if (s->dead) return imapi_fail(s, MV_E_CLOSED, "the connection is closed");
    mv_error_clear(&s->pp.err);
    mv_error_clear(&s->saved);
    s->op = OP_OPEN;
    s->state = O_SEQUENCE;
    mv_open_begin(&s->open, &s->pp, &s->cfg, &open_ops, s);
    mv_pp_start(&s->pp);
    mv_pp_arm(&s->pp);
    return MV_OK;
}
