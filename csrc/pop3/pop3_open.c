/* Opening a POP3 session: what is POP3's own in the shared open sequence (mv_open:
 * the greeting and its APOP timestamp, CAPA, STLS), then login (APOP, SASL,
 * USER/PASS) and CAPA after login (RFC 1939, 2449, 2595, 5034). */
#include "pop3_int.h"
#include "mv_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ CAPA */

static void parse_capa_line(pop3_session *s, const char *l, size_t len)
{
    size_t w = 0;
    while (w < len && l[w] != ' ') w++;
#define IS(word) (w == sizeof word - 1 && strncasecmp(l, word, w) == 0)
    if (IS("STLS")) s->caps |= POP3_CAP_STLS;
    else if (IS("PIPELINING")) s->caps |= POP3_CAP_PIPELINING;
    else if (IS("UIDL")) s->caps |= POP3_CAP_UIDL;
    else if (IS("TOP")) s->caps |= POP3_CAP_TOP;
    else if (IS("USER")) s->caps |= POP3_CAP_USER;
    else if (IS("RESP-CODES")) s->caps |= POP3_CAP_RESP_CODES;
    else if (IS("AUTH-RESP-CODE")) s->caps |= POP3_CAP_AUTH_RESP_CODE;
    else if (IS("SASL")) {
        s->caps |= POP3_CAP_SASL;
        s->sasl_offered |= mv_sasl_parse_offer(l + w, len - w);
    }
#undef IS
}

static int send_capa(pop3_session *s)
{
    mv_pp_arm(&s->pp);
    return pop3i_send_line(s, "CAPA", (size_t)-1);
}

/* Keeps a CAPA line for capabilities(): server text, so without control or ANSI bytes
 * (CHECKLIST 60). */
static int keep_capa_line(pop3_session *s, const char *line, size_t len)
{
    if (mv_buf_reserve(&s->capa, len + 1) != 0)
        return pop3i_fail(s, MV_E_MEMORY, "out of memory");
    mv_sanitize((char *)s->capa.data + s->capa.len, len + 1, line, len);
    s->capa.data[s->capa.len + len] = '\n';
    s->capa.len += len + 1;
    return MV_OK;
}

/* The reply to CAPA: its status (*sub 0), then its lines up to "." (*sub 1).  A -ERR
 * means no capabilities (an RFC 1939 server). */
static int read_capa(pop3_session *s, int *sub)
{
    const char *line;
    size_t len;
    int r, ok;
    if (*sub == 0) {
        if ((r = pop3i_read_status(s, &ok, "CAPA")) != MV_OK) return r;
        s->caps = 0;
        s->sasl_offered = 0;
        mv_buf_reset(&s->capa);
        if (!ok) return MV_OK;
        s->caps = POP3_CAP_CAPA;
        s->skip = 0;
        *sub = 1;
    }
    for (;;) {
        if ((r = mv_pp_getline(&s->pp, &line, &len)) != MV_OK) return r;
        if (len == 1 && line[0] == '.') {
            mv_pp_line_done(&s->pp);
            return MV_OK;
        }
        if (len > 0 && line[0] == '.') { line++; len--; }
        if (++s->skip > s->pp.max_reply_lines) {
            mv_pp_line_done(&s->pp);
            return pop3i_fail(s, MV_E_LIMIT, "too many CAPA lines");
        }
        parse_capa_line(s, line, len);
        r = keep_capa_line(s, line, len);
        mv_pp_line_done(&s->pp);
        if (r != MV_OK) return r;
    }
}

/* ------------------------------------------------------------------ open hooks */

/* The greeting: +OK (with an APOP timestamp, RFC 1939 §7, perhaps) or a refusal. */
static int hook_greeting(void *p, int *sub)
{
    pop3_session *s = p;
    const char *line, *text;
    size_t len, tlen, a, alen;
    int r, st;
    (void)sub;
    if ((r = mv_pp_getline(&s->pp, &line, &len)) != MV_OK) return r;
    st = pop3_status(line, len, &text, &tlen);
    if (st < 0) {
        mv_pp_line_done(&s->pp);
        return pop3i_fail(s, MV_E_PROTOCOL, "the server's greeting is not +OK/-ERR");
    }
    pop3i_keep_reply(s, st, text, tlen);
    s->stamp[0] = '\0';
    if (st == 1 && pop3_apop_stamp(text, tlen, &a, &alen) == 0) {
        memcpy(s->stamp, text + a, alen);
        s->stamp[alen] = '\0';
    }
    mv_pp_line_done(&s->pp);
    if (st == 0) return pop3i_reply_error(s, MV_E_REPLY, "server refused the connection");
    return MV_OK;
}

static int hook_send_caps(void *p)
{
    return send_capa(p);
}

static int hook_read_caps(void *p, int *sub)
{
    return read_capa(p, sub);
}

static const char *hook_starttls_missing(void *p)
{
    pop3_session *s = p;
    if (s->caps & POP3_CAP_STLS) return NULL;
    return s->caps & POP3_CAP_CAPA ? "the server does not offer STLS, which is required"
                                   : "the server refused CAPA, so STLS (required) is not "
                                     "offered";
}

static int hook_send_starttls(void *p)
{
    return pop3i_send_line(p, "STLS", (size_t)-1);
}

static int hook_read_starttls(void *p, int *sub, const mv_reply **reply, int *accepted)
{
    pop3_session *s = p;
    int r;
    (void)sub;
    if ((r = pop3i_read_status(s, accepted, "STLS")) != MV_OK) return r;
    *reply = &s->last;
    return MV_OK;
}

static const mv_open_ops open_ops = {
    "STLS", hook_greeting, hook_send_caps, hook_read_caps, hook_starttls_missing,
    hook_send_starttls, hook_read_starttls
};

/* ------------------------------------------------------------------ login */

static int start_sasl(pop3_session *s)
{
    mv_buf line;
    size_t mask;
    int r;
    mv_sasl_begin(&s->sasl, s->sasl.mech, s->cfg.user, s->cfg.password, s->cfg.token);
    mv_buf_init(&line);
    r = mv_sasl_command(&s->sasl, "AUTH", &line, &mask, &s->pp.err);
    if (r == MV_OK)
        r = mv_pp_send(&s->pp, (const char *)mv_buf_head(&line), mv_buf_avail(&line), mask);
    mv_buf_wipe(&line);
    mv_buf_free(&line);
    if (r != MV_OK) return r;
    s->auth_used = mv_sasl_name(s->sasl.mech);
    s->state = O_AUTH_READ;
    return MV_OK;
}

/* MV_OK with the login under way (or not needed), MV_WANT_TOKEN when the caller must
 * give the token first, or MV_ERROR. */
static int start_auth(pop3_session *s)
{
    const char *wanted = s->cfg.auth;
    char line[600];
    mv_pp_arm(&s->pp);
    if (s->cfg.user == NULL || (wanted != NULL && strcasecmp(wanted, "none") == 0)) {
        s->state = S_DONE;
        return MV_OK;
    }
    if (!mv_pp_credentials_ok(&s->pp, &s->cfg))
        return pop3i_fail(s, MV_E_AUTH, "refusing to send credentials over an unencrypted or "
                                  "unverified connection (set insecure_auth to allow)");
    if (wanted != NULL && strcasecmp(wanted, "apop") == 0) {
        char hex[33];
        mv_buf b;
        if (s->stamp[0] == '\0')
            return pop3i_fail(s, MV_E_AUTH,
                              "APOP asked for, but the greeting has no timestamp");
        if (s->cfg.password == NULL) return pop3i_fail(s, MV_E_AUTH, "APOP needs a password");
        mv_buf_init(&b);
        if (mv_buf_append_str(&b, s->stamp) || mv_buf_append_str(&b, s->cfg.password)) {
            mv_buf_wipe(&b);
            mv_buf_free(&b);
            return pop3i_fail(s, MV_E_MEMORY, "out of memory");
        }
        mv_md5_hex(mv_buf_head(&b), mv_buf_avail(&b), hex);
        mv_buf_wipe(&b);
        mv_buf_free(&b);
        snprintf(line, sizeof line, "APOP %s %s", s->cfg.user, hex);
        s->auth_used = "APOP";
        s->state = O_PASS_READ;
        return pop3i_send_line(s, line, 5 + strlen(s->cfg.user) + 1);
    }
    if (wanted == NULL || strcasecmp(wanted, "auto") == 0 || mv_sasl_from_name(wanted) > 0) {
        s->sasl.mech = mv_sasl_choose(s->sasl_offered, wanted, s->cfg.password != NULL,
                                      s->cfg.token != NULL || s->cfg.token_fn);
        if (s->sasl.mech != MV_SASL_NONE) {
            int r = mv_open_token_first(&s->open, &s->cfg, s->sasl.mech);
            if (r == MV_OK) return start_sasl(s);
            s->state = O_TOKEN;
            return r;
        }
        if (wanted != NULL && strcasecmp(wanted, "auto") != 0)
            return pop3i_fail(s, MV_E_AUTH, "the server does not offer that SASL mechanism");
    }
    if (s->cfg.password == NULL) return pop3i_fail(s, MV_E_AUTH, "USER/PASS needs a password");
    snprintf(line, sizeof line, "USER %s", s->cfg.user);
    s->auth_used = "USER";
    s->state = O_USER_READ;
    return pop3i_send_line(s, line, (size_t)-1);
}

static int auth_continue(pop3_session *s, const char *chal, size_t clen)
{
    mv_buf line;
    int r;
    mv_buf_init(&line);
    if (mv_sasl_answer(&s->sasl, chal, clen, &line, &s->saved) != MV_OK) {
        /* Cancel the exchange (RFC 5034 §4), then report why. */
        r = pop3i_send_line(s, "*", (size_t)-1);
        s->state = O_AUTH_ABORT_READ;
    } else {
        r = mv_pp_send(&s->pp, (const char *)mv_buf_head(&line), mv_buf_avail(&line), 0);
    }
    mv_buf_wipe(&line);
    mv_buf_free(&line);
    return r;
}

static int logged_in(pop3_session *s)
{
    s->logged_in = 1;
    /* RFC 2449 §5: capabilities may change after login (PIPELINING, for one). */
    s->sub = 0;
    s->state = O_CAPA_AGAIN;
    if (send_capa(s) != MV_OK) return MV_ERROR;
    return mv_conn_want(&s->pp.conn, MV_WANT_READ);
}

/* ------------------------------------------------------------------ open states */

/* Each handler returns MV_OK when it moved the session on, anything else to hand
 * back to the driver. */

static int on_sequence(pop3_session *s)
{
    int r = mv_open_step(&s->open);
    if (r != MV_OK) return r;
    if ((r = start_auth(s)) != MV_OK) return r;
    if (s->state == S_DONE) return MV_OK;
    return mv_conn_want(&s->pp.conn, MV_WANT_READ);
}

/* A "+ challenge" line goes on with SASL; else the final status. */
static int on_auth_read(pop3_session *s)
{
    const char *line, *text;
    size_t len, tlen;
    int r, st;
    if ((r = mv_pp_getline(&s->pp, &line, &len)) != MV_OK) return r;
    if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
        mv_pp_arm(&s->pp);
        r = auth_continue(s, len > 2 ? line + 2 : "", len > 2 ? len - 2 : 0);
        mv_pp_line_done(&s->pp);
        if (r != MV_OK) return r;
        return mv_conn_want(&s->pp.conn, MV_WANT_READ);
    }
    st = pop3_status(line, len, &text, &tlen);
    if (st >= 0) pop3i_keep_reply(s, st, text, tlen);
    mv_pp_line_done(&s->pp);
    if (st < 0) return pop3i_fail(s, MV_E_PROTOCOL, "malformed reply to AUTH");
    if (st == 0) {
        /* A refused token may be renewed once, then AUTH goes again (mv_open.h). */
        if ((r = mv_open_token_renew(&s->open, &s->cfg, s->sasl.mech)) != MV_OK) {
            s->state = O_TOKEN;
            return r;
        }
        pop3i_reply_error(s, MV_E_AUTH, "authentication failed");
        mv_sasl_explain(&s->sasl, &s->pp.err);
        return MV_ERROR;
    }
    return logged_in(s);
}

/* Waiting for the caller's token; then AUTH with it. */
static int on_token(pop3_session *s)
{
    int r = mv_open_token_take(&s->open, &s->cfg);
    if (r != MV_OK) return r;
    mv_pp_arm(&s->pp);
    if (start_sasl(s) != MV_OK) return MV_ERROR;
    return mv_conn_want(&s->pp.conn, MV_WANT_READ);
}

static int on_auth_abort_read(pop3_session *s)
{
    int ok, r;
    if ((r = pop3i_read_status(s, &ok, "AUTH")) != MV_OK) return r;
    s->pp.err = s->saved;
    return MV_ERROR;
}

static int on_user_read(pop3_session *s)
{
    char cmd[600];
    int ok, n, r;
    if ((r = pop3i_read_status(s, &ok, "USER")) != MV_OK) return r;
    if (!ok) return pop3i_reply_error(s, MV_E_AUTH, "USER refused");
    n = snprintf(cmd, sizeof cmd, "PASS %s", s->cfg.password);
    if (n < 0 || (size_t)n >= sizeof cmd) {
        memset(cmd, 0, sizeof cmd);
        return pop3i_fail(s, MV_E_ARG, "password too long");
    }
    mv_pp_arm(&s->pp);
    r = pop3i_send_line(s, cmd, 5);
    memset(cmd, 0, sizeof cmd);
    if (r != MV_OK) return r;
    s->state = O_PASS_READ;
    return mv_conn_want(&s->pp.conn, MV_WANT_READ);
}

static int on_pass_read(pop3_session *s)
{
    int ok, r;
    if ((r = pop3i_read_status(s, &ok, "login")) != MV_OK) return r;
    if (!ok) return pop3i_reply_error(s, MV_E_AUTH, "authentication failed");
    return logged_in(s);
}

static int on_capa_again(pop3_session *s)
{
    int r = read_capa(s, &s->sub);
    if (r != MV_OK) return r;
    s->state = S_DONE;
    return MV_OK;
}

int pop3i_step_open(pop3_session *s)
{
    for (;;) {
        int r;
        switch (s->state) {
        case O_SEQUENCE: r = on_sequence(s); break;
        case O_AUTH_READ: r = on_auth_read(s); break;
        case O_AUTH_ABORT_READ: r = on_auth_abort_read(s); break;
        case O_USER_READ: r = on_user_read(s); break;
        case O_PASS_READ: r = on_pass_read(s); break;
        case O_CAPA_AGAIN: r = on_capa_again(s); break;
        case O_TOKEN: r = on_token(s); break;
        case S_DONE: return mv_conn_want(&s->pp.conn, MV_OK);
        default: return pop3i_fail(s, MV_E_PROTOCOL, "internal state error");
        }
        if (r != MV_OK) return r;
    }
}

int pop3_begin_open(pop3_session *s)
{
    if (s->dead) return pop3i_fail(s, MV_E_CLOSED, "the connection is closed");
    mv_error_clear(&s->pp.err);
    mv_error_clear(&s->saved);
    s->op = OP_OPEN;
    s->state = O_SEQUENCE;
    mv_open_begin(&s->open, &s->pp, &s->cfg, &open_ops, s);
    mv_pp_start(&s->pp);
    return MV_OK;
}
