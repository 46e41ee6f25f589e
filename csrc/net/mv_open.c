/* The shared open sequence (mv_open.h): one handler per state, each returning MV_OK
 * when it moved the sequence on, anything else to hand back to the caller. */
#include "mv_open.h"

#include "mv_str.h"

#include <stdio.h>
#include <string.h>

static void go(mv_open *o, mv_open_state next)
{
    o->state = next;
    o->sub = 0;
}

static int on_tls(mv_open *o)
{
    if (mv_pp_start_tls(o->pp, o->cfg) != MV_OK) return MV_ERROR;
    go(o, MV_OPEN_HANDSHAKE);
    return MV_OK;
}

static int on_handshake(mv_open *o)
{
    int r = mv_pp_handshake(o->pp);
    if (r != MV_OK) return r;
    /* Implicit TLS: the greeting comes next; after STARTTLS, the capabilities again,
     * since those sent before TLS may have been forged (RFC 3207 §4.2, 2595 §4). */
    go(o, o->greeted ? MV_OPEN_CAPS : MV_OPEN_GREETING);
    return MV_OK;
}

static int on_greeting(mv_open *o)
{
    int r = o->ops->greeting(o->proto, &o->sub);
    if (r != MV_OK) return r;
    o->greeted = 1;
    go(o, MV_OPEN_CAPS);
    return MV_OK;
}

static int on_caps(mv_open *o)
{
    if (o->ops->send_caps(o->proto) != MV_OK) return MV_ERROR;
    go(o, MV_OPEN_CAPS_READ);
    /* The command goes out before its reply is awaited; a protocol that sent nothing
     * (the capabilities came with the greeting) reads on at once. */
    return mv_conn_want(&o->pp->conn, MV_OK);
}

static int on_caps_read(mv_open *o)
{
    const char *missing;
    int r = o->ops->read_caps(o->proto, &o->sub);
    if (r != MV_OK) return r;
    if (o->cfg->tls != MV_TLS_STARTTLS || o->pp->conn.tls_ready) {
        go(o, MV_OPEN_DONE);
        return MV_OK;
    }
    /* Required and not offered: fail rather than go on in plaintext. */
    missing = o->ops->starttls_missing(o->proto);
    if (missing != NULL) return mv_fail(&o->pp->err, MV_E_TLS, "%s", missing);
    mv_pp_arm(o->pp);
    if (o->ops->send_starttls(o->proto) != MV_OK) return MV_ERROR;
    go(o, MV_OPEN_STARTTLS_READ);
    return mv_conn_want(&o->pp->conn, MV_OK);
}

static int on_starttls_read(mv_open *o)
{
    const mv_reply *reply = NULL;
    int accepted = 0, r;
    char what[32];
    r = o->ops->read_starttls(o->proto, &o->sub, &reply, &accepted);
    if (r != MV_OK) return r;
    if (!accepted) {
        snprintf(what, sizeof what, "%s refused", o->ops->starttls_verb);
        return mv_fail_reply(&o->pp->err, MV_E_TLS, what, reply);
    }
    /* Whatever came after the reply was sent before TLS: mv_conn_start_tls refuses to
     * start over it, so it is never read as the server's. */
    if (mv_pp_start_tls(o->pp, o->cfg) != MV_OK) return MV_ERROR;
    go(o, MV_OPEN_HANDSHAKE);
    return MV_OK;
}

typedef int (*handler)(mv_open *o);

static const handler handlers[] = {
    on_tls, on_handshake, on_greeting, on_caps, on_caps_read, on_starttls_read
};

void mv_open_begin(mv_open *o, mv_pp *pp, const mv_cfg *cfg, const mv_open_ops *ops,
                   void *proto)
{
    o->pp = pp;
    o->cfg = cfg;
    o->ops = ops;
    o->proto = proto;
    o->greeted = 0;
    o->renewed = 0;
    pp->token_asked = MV_TOKEN_NONE;
    go(o, cfg->tls == MV_TLS_IMPLICIT ? MV_OPEN_TLS : MV_OPEN_GREETING);
}

int mv_open_step(mv_open *o)
{
    while (o->state != MV_OPEN_DONE) {
        int r;
        if ((size_t)o->state >= sizeof handlers / sizeof handlers[0])
            return mv_fail(&o->pp->err, MV_E_PROTOCOL, "internal state error");
        r = handlers[o->state](o);
        if (r != MV_OK) return r;
    }
    return MV_OK;
}

static int ask_token(mv_open *o, int reason)
{
    o->pp->token_asked = reason;
    return mv_conn_want(&o->pp->conn, MV_WANT_TOKEN);
}

int mv_open_token_first(mv_open *o, const mv_cfg *cfg, mv_sasl_mech m)
{
    if (!cfg->token_fn || !mv_sasl_is_token(m) || cfg->token != NULL) return MV_OK;
    return ask_token(o, MV_TOKEN_CONNECT);
}

int mv_open_token_renew(mv_open *o, const mv_cfg *cfg, mv_sasl_mech m)
{
    if (!cfg->token_fn || !mv_sasl_is_token(m) || o->renewed) return MV_OK;
    o->renewed = 1;
    return ask_token(o, MV_TOKEN_REJECTED);
}

int mv_open_token_take(mv_open *o, mv_cfg *cfg)
{
    if (o->pp->token_asked != MV_TOKEN_NONE || o->pp->token == NULL)
        return mv_conn_want(&o->pp->conn, MV_WANT_TOKEN);
    mv_cfg_replace_token(cfg, o->pp->token);
    o->pp->token = NULL;
    return MV_OK;
}

int mv_open_token_answer(mv_pp *pp, const char *tok, size_t n)
{
    pp->token_asked = MV_TOKEN_NONE;
    mv_free_secret(pp->token);
    pp->token = NULL;
    if (n == 0)
        return mv_fail(&pp->err, MV_E_AUTH, "the token function returned an empty token");
    if (strlen(tok) != n) return mv_fail(&pp->err, MV_E_ARG, "token contains a NUL byte");
    if (mv_cfg_check_value("token", tok, &pp->err) != MV_OK) return MV_ERROR;
    if ((pp->token = mv_strdup(tok)) == NULL)
        return mv_fail(&pp->err, MV_E_MEMORY, "out of memory");
    return MV_OK;
}

void mv_open_token_refuse(mv_pp *pp, const char *why)
{
    pp->token_asked = MV_TOKEN_NONE;
    mv_fail(&pp->err, MV_E_AUTH, "%s", why);
}
