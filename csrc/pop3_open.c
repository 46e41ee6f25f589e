/* Opening a POP3 session: greeting (and its APOP timestamp), CAPA, STLS or implicit
 * TLS, CAPA again, login (APOP, SASL, USER/PASS), CAPA after login (RFC 1939, 2449,
 * 2595, 5034). */
#include "pop3_int.h"
#include "mv_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ open */

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
    else if (IS("SASL")) {
        s->caps |= POP3_CAP_SASL;
        s->sasl_offered |= mv_sasl_parse_offer(l + w, len - w);
    }
#undef IS
}

static int send_capa(pop3_session *s)
{
    mv_pp_arm(&s->pp);
    s->state = O_CAPA_STATUS;
    return pop3i_send_line(s, "CAPA", (size_t)-1);
}

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
                                      s->cfg.token != NULL);
        if (s->sasl.mech != MV_SASL_NONE) return start_sasl(s);
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
    return send_capa(s);
}

int pop3i_step_open(pop3_session *s)
{
    int r, ok;
    const char *line;
    size_t len;
    for (;;) {
        switch (s->state) {
        case O_IMPLICIT_TLS:
            if (mv_pp_start_tls(&s->pp, &s->cfg) != MV_OK)
                return MV_ERROR;
            s->state = O_HANDSHAKE;
            break;
        case O_HANDSHAKE:
            if ((r = mv_pp_handshake(&s->pp)) != MV_OK) return r;
            if (!s->greeted) { s->state = O_GREETING; break; }
            if (send_capa(s) != MV_OK) return MV_ERROR;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_GREETING:
            if ((r = mv_pp_getline(&s->pp, &line, &len)) != MV_OK) return r;
            {
                const char *text;
                size_t tlen, a, alen;
                int st = pop3_status(line, len, &text, &tlen);
                if (st < 0) {
                    mv_pp_line_done(&s->pp);
                    return pop3i_fail(s, MV_E_PROTOCOL,
                                      "the server's greeting is not +OK/-ERR");
                }
                pop3i_keep_reply(s, text, tlen);
                s->stamp[0] = '\0';
                if (st == 1 && pop3_apop_stamp(text, tlen, &a, &alen) == 0) {
                    memcpy(s->stamp, text + a, alen);
                    s->stamp[alen] = '\0';
                }
                mv_pp_line_done(&s->pp);
                if (st == 0)
                    return pop3i_reply_error(s, MV_E_REPLY, "server refused the connection");
            }
            s->greeted = 1;
            if (send_capa(s) != MV_OK) return MV_ERROR;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_CAPA_STATUS:
            if ((r = pop3i_read_status(s, &ok, "CAPA")) != MV_OK) return r;
            s->caps = 0;
            s->sasl_offered = 0;
            mv_buf_reset(&s->capa);
            if (ok) {
                s->caps = POP3_CAP_CAPA;
                s->skip = 0;
                s->state = O_CAPA_LINES;
                break;
            }
            goto capa_done;
        case O_CAPA_LINES:
            if ((r = mv_pp_getline(&s->pp, &line, &len)) != MV_OK) return r;
            if (len == 1 && line[0] == '.') {
                mv_pp_line_done(&s->pp);
                goto capa_done;
            }
            if (len > 0 && line[0] == '.') { line++; len--; }
            if (++s->skip > s->pp.max_reply_lines) {
                mv_pp_line_done(&s->pp);
                return pop3i_fail(s, MV_E_LIMIT, "too many CAPA lines");
            }
            parse_capa_line(s, line, len);
            /* Kept for capabilities(): server text, so without control or ANSI bytes
             * (CHECKLIST 60). */
            if (mv_buf_reserve(&s->capa, len + 1) != 0) {
                mv_pp_line_done(&s->pp);
                return pop3i_fail(s, MV_E_MEMORY, "out of memory");
            }
            mv_sanitize((char *)s->capa.data + s->capa.len, len + 1, line, len);
            s->capa.data[s->capa.len + len] = '\n';
            s->capa.len += len + 1;
            mv_pp_line_done(&s->pp);
            break;
        case O_STLS_READ:
            if ((r = pop3i_read_status(s, &ok, "STLS")) != MV_OK) return r;
            if (!ok) {
                s->dead = 1;
                return pop3i_reply_error(s, MV_E_TLS, "STLS refused");
            }
            /* Whatever came after +OK was sent before TLS: never trust it (CHECKLIST 8/9). */
            if (mv_pp_start_tls(&s->pp, &s->cfg) != MV_OK) {
                s->dead = 1;
                return MV_ERROR;
            }
            s->state = O_HANDSHAKE;
            break;
        case O_AUTH_READ:
            if ((r = mv_pp_getline(&s->pp, &line, &len)) != MV_OK) return r;
            if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
                const char *chal = len > 2 ? line + 2 : "";
                size_t clen = len > 2 ? len - 2 : 0;
                mv_pp_arm(&s->pp);
                r = auth_continue(s, chal, clen);
                mv_pp_line_done(&s->pp);
                if (r != MV_OK) return r;
                return mv_conn_want(&s->pp.conn, MV_WANT_READ);
            }
            {
                const char *text;
                size_t tlen;
                int st = pop3_status(line, len, &text, &tlen);
                if (st >= 0) pop3i_keep_reply(s, text, tlen);
                mv_pp_line_done(&s->pp);
                if (st < 0) return pop3i_fail(s, MV_E_PROTOCOL, "malformed reply to AUTH");
                if (st == 0) return pop3i_reply_error(s, MV_E_AUTH, "authentication failed");
            }
            if (logged_in(s) != MV_OK) return MV_ERROR;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_AUTH_ABORT_READ:
            if ((r = pop3i_read_status(s, &ok, "AUTH")) != MV_OK) return r;
            s->pp.err = s->saved;
            return MV_ERROR;
        case O_USER_READ:
            if ((r = pop3i_read_status(s, &ok, "USER")) != MV_OK) return r;
            if (!ok) return pop3i_reply_error(s, MV_E_AUTH, "USER refused");
            {
                char cmd[600];
                int n = snprintf(cmd, sizeof cmd, "PASS %s", s->cfg.password);
                if (n < 0 || (size_t)n >= sizeof cmd)
                    return pop3i_fail(s, MV_E_ARG, "password too long");
                mv_pp_arm(&s->pp);
                r = pop3i_send_line(s, cmd, 5);
                memset(cmd, 0, sizeof cmd);
                if (r != MV_OK) return r;
            }
            s->state = O_PASS_READ;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_PASS_READ:
            if ((r = pop3i_read_status(s, &ok, "login")) != MV_OK) return r;
            if (!ok) return pop3i_reply_error(s, MV_E_AUTH, "authentication failed");
            if (logged_in(s) != MV_OK) return MV_ERROR;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case S_DONE:
            return mv_conn_want(&s->pp.conn, MV_OK);
        default:
            return pop3i_fail(s, MV_E_PROTOCOL, "internal state error");
        }
        continue;
capa_done:
        if (s->logged_in) { s->state = S_DONE; continue; }
        if (s->cfg.tls == MV_TLS_STARTTLS && !s->pp.conn.tls_ready) {
            if (!(s->caps & POP3_CAP_STLS)) {
                s->dead = 1;
                return pop3i_fail(s, MV_E_TLS, s->caps & POP3_CAP_CAPA
                            ? "the server does not offer STLS, which is required"
                            : "the server refused CAPA, so STLS (required) is not offered");
            }
            mv_pp_arm(&s->pp);
            if (pop3i_send_line(s, "STLS", (size_t)-1) != MV_OK) return MV_ERROR;
            s->state = O_STLS_READ;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        }
        if (start_auth(s) != MV_OK) return MV_ERROR;
        if (s->state == S_DONE) return mv_conn_want(&s->pp.conn, MV_OK);
        return mv_conn_want(&s->pp.conn, MV_WANT_READ);
    }
}

int pop3_begin_open(pop3_session *s)
{
    if (s->dead) return pop3i_fail(s, MV_E_CLOSED, "the connection is closed");
    mv_error_clear(&s->pp.err);
    mv_error_clear(&s->saved);
    s->op = OP_OPEN;
    s->state = s->cfg.tls == MV_TLS_IMPLICIT ? O_IMPLICIT_TLS : O_GREETING;
    mv_pp_start(&s->pp);
    return MV_OK;
}
