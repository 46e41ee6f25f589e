#include "smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { OP_NONE, OP_OPEN, OP_SEND, OP_CMD };

enum {
    /* open */
    O_IMPLICIT_TLS, O_HANDSHAKE, O_GREETING, O_EHLO, O_EHLO_READ, O_HELO_READ,
    O_STARTTLS_READ, O_AUTH, O_AUTH_READ, O_AUTH_ABORT_READ,
    /* send */
    T_MAIL, T_MAIL_READ, T_RCPT, T_RCPT_READ, T_DATA, T_DATA_READ, T_BODY, T_ABORT_DOT_READ,
    T_DOT_READ, T_BDAT_READ, T_RSET_READ,
    /* command */
    C_READ,
    S_DONE
};

#define MAX_SASL_ROUNDS 5
#define BDAT_CHUNK (256 * 1024)

struct smtp_session {
    mv_pp pp;
    /* options (owned copies) */
    char *host, *server_name, *helo, *user, *password, *token, *auth;
    mv_tls_mode tls;
    mv_tls_opts tls_opts;
    char *cafile, *capath, *client_cert, *client_key;
    int insecure_auth, peer_is_loopback, pipelining, chunking;
    size_t max_data_line;
    /* connection state */
    int op, state, dead, ehlo_done_tls;
    unsigned caps;
    unsigned sasl_offered;
    unsigned long long size_limit;
    mv_buf ehlo;
    smtp_reply_reader rr;
    mv_reply last;
    mv_sasl sasl;
    int sasl_rounds;
    mv_sasl_mech auth_used;
    /* transaction */
    char *from;
    smtp_rcpt *rcpts;
    size_t nrcpt, next_rcpt, accepted;
    int piped, mail_failed, body_ended, use_bdat, bdat_last_sent, bdat_pending;
    mv_error saved;
    smtp_stuffer stuff;
    mv_buf body;         /* stuffed plaintext waiting to be written (or a BDAT chunk) */
    unsigned long long size_hint;
    int has_8bit, need_utf8;
    char verb[8];
};

static int fail(smtp_session *s, mv_kind kind, const char *msg)
{
    return mv_fail(&s->pp.err, kind, "%s", msg);
}

static char *dupstr(const char *v)
{
    char *p;
    size_t n;
    if (v == NULL) return NULL;
    n = strlen(v) + 1;
    p = malloc(n);
    if (p != NULL) memcpy(p, v, n);
    return p;
}

static void wipe_free(char *p)
{
    if (p != NULL) {
        volatile char *v = p;
        while (*v) *v++ = 0;
        free(p);
    }
}

static void clear_transaction(smtp_session *s)
{
    size_t i;
    for (i = 0; i < s->nrcpt; i++) free(s->rcpts[i].addr);
    free(s->rcpts);
    s->rcpts = NULL;
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
    mv_buf_init(&s->ehlo);
    mv_buf_init(&s->body);
    smtp_rr_init(&s->rr, s->pp.max_reply_lines, s->pp.max_reply_bytes);
    mv_error_clear(&s->saved);
    s->pipelining = 1;
    s->max_data_line = 998;
    return s;
}

void smtp_free(smtp_session *s)
{
    if (s == NULL) return;
    clear_transaction(s);
    mv_pp_free(&s->pp);
    mv_buf_free(&s->ehlo);
    mv_buf_free(&s->body);
    smtp_rr_free(&s->rr);
    free(s->host);
    free(s->server_name);
    free(s->helo);
    wipe_free(s->user);
    wipe_free(s->password);
    wipe_free(s->token);
    free(s->auth);
    free(s->cafile);
    free(s->capath);
    free(s->client_cert);
    free(s->client_key);
    free(s);
}

mv_pp *smtp_pp(smtp_session *s) { return &s->pp; }
const mv_error *smtp_error(const smtp_session *s) { return &s->pp.err; }
const mv_reply *smtp_last_reply(const smtp_session *s) { return &s->last; }
size_t smtp_rcpt_count(const smtp_session *s) { return s->nrcpt; }
const smtp_rcpt *smtp_rcpt_at(const smtp_session *s, size_t i) { return &s->rcpts[i]; }
unsigned smtp_caps(const smtp_session *s) { return s->caps; }
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
    s->peer_is_loopback = loopback;
}

const char *smtp_auth_used(const smtp_session *s)
{
    return s->auth_used == MV_SASL_NONE ? NULL : mv_sasl_name(s->auth_used);
}

const char *smtp_ehlo_lines(const smtp_session *s, size_t *len)
{
    *len = mv_buf_avail(&s->ehlo);
    return (const char *)mv_buf_head(&s->ehlo);
}

int smtp_check_value(const char *field, const char *v, mv_error *e)
{
    const unsigned char *p;
    for (p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return mv_fail(e, MV_E_ARG, "%s contains a control character (CR, LF, NUL...)",
                           field);
    }
    return MV_OK;
}

int smtp_configure(smtp_session *s, const smtp_opts *o)
{
    mv_error *e = &s->pp.err;
    const char *checks[][2] = {
        { "host", o->host }, { "server_name", o->server_name }, { "helo", o->helo },
        { "user", o->user },
        { "password", o->password }, { "token", o->token }, { "auth", o->auth }
    };
    size_t i;
    for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (checks[i][1] != NULL && smtp_check_value(checks[i][0], checks[i][1], e) != MV_OK)
            return MV_ERROR;
    }
    if (o->host == NULL) return fail(s, MV_E_ARG, "host is required");
    if (o->helo != NULL && (o->helo[0] == '\0' || strchr(o->helo, ' ') != NULL))
        return fail(s, MV_E_ARG, "helo must be one word");
    if (o->auth != NULL && strcasecmp(o->auth, "auto") != 0
        && strcasecmp(o->auth, "optional") != 0 && strcasecmp(o->auth, "none") != 0
        && mv_sasl_from_name(o->auth) < 0)
        return fail(s, MV_E_ARG, "unknown auth mechanism");
    s->host = dupstr(o->host);
    s->server_name = dupstr(o->server_name != NULL ? o->server_name : o->host);
    s->helo = dupstr(o->helo != NULL ? o->helo : "localhost");
    s->user = dupstr(o->user);
    s->password = dupstr(o->password);
    s->token = dupstr(o->token);
    s->auth = dupstr(o->auth);
    s->cafile = dupstr(o->tls_opts.cafile);
    s->capath = dupstr(o->tls_opts.capath);
    s->client_cert = dupstr(o->tls_opts.client_cert);
    s->client_key = dupstr(o->tls_opts.client_key);
    if (s->host == NULL || s->server_name == NULL || s->helo == NULL || (o->user && !s->user)
        || (o->password && !s->password) || (o->token && !s->token) || (o->auth && !s->auth)
        || (o->tls_opts.cafile && !s->cafile) || (o->tls_opts.capath && !s->capath)
        || (o->tls_opts.client_cert && !s->client_cert)
        || (o->tls_opts.client_key && !s->client_key))
        return fail(s, MV_E_MEMORY, "out of memory");
    s->tls = o->tls;
    s->tls_opts.cafile = s->cafile;
    s->tls_opts.capath = s->capath;
    s->tls_opts.client_cert = s->client_cert;
    s->tls_opts.client_key = s->client_key;
    s->tls_opts.verify = o->tls_opts.verify;
    s->insecure_auth = o->insecure_auth;
    s->peer_is_loopback = o->peer_is_loopback;
    s->pipelining = o->pipelining;
    s->chunking = o->chunking;
    s->max_data_line = o->max_data_line;
    s->rr.max_lines = s->pp.max_reply_lines;
    s->rr.max_bytes = s->pp.max_reply_bytes;
    return MV_OK;
}

static int begin(smtp_session *s, int op, int state)
{
    if (s->dead) return fail(s, MV_E_CLOSED, "the connection is closed");
    mv_error_clear(&s->pp.err);
    mv_error_clear(&s->saved);
    s->op = op;
    s->state = state;
    mv_pp_arm(&s->pp);
    return MV_OK;
}

/* Reads one whole reply into s->last.  A 421 (service closing) kills the session. */
static int read_reply(smtp_session *s)
{
    for (;;) {
        const char *line;
        size_t len;
        int r = mv_pp_getline(&s->pp, &line, &len);
        if (r != MV_OK) return r;
        r = smtp_rr_line(&s->rr, line, len, &s->pp.err);
        mv_pp_line_done(&s->pp);
        if (r == MV_ERROR) return MV_ERROR;
        if (r == 1) {
            smtp_rr_result(&s->rr, &s->last);
            if (s->last.code == 421) s->dead = 1;
            return MV_OK;
        }
    }
}

/* The error for an unexpected reply, keeping the reply for the caller. */
static int reply_error(smtp_session *s, mv_kind kind, const char *what)
{
    mv_error *e = &s->pp.err;
    mv_fail(e, kind, "%s: %d %s", what, s->last.code, s->last.text);
    e->has_reply = 1;
    e->reply = s->last;
    return MV_ERROR;
}

static int send_cmd(smtp_session *s, const char *line)
{
    mv_pp_arm(&s->pp);
    smtp_rr_reset(&s->rr);
    return mv_pp_send(&s->pp, line, strlen(line), (size_t)-1);
}

/* ------------------------------------------------------------------ EHLO */

static int word_is(const char *p, size_t n, const char *w)
{
    size_t wl = strlen(w);
    return n >= wl && strncasecmp(p, w, wl) == 0 && (n == wl || p[wl] == ' ' || p[wl] == '=');
}

static void parse_ehlo(smtp_session *s)
{
    const char *t = (const char *)mv_buf_head(&s->rr.text);
    size_t n = mv_buf_avail(&s->rr.text), i = 0;
    s->caps = SMTP_CAP_ESMTP;
    s->sasl_offered = 0;
    s->size_limit = 0;
    mv_buf_reset(&s->ehlo);
    mv_buf_append(&s->ehlo, t, n);
    /* The first line is the server's greeting name; capabilities follow. */
    while (i < n && t[i] != '\n') i++;
    while (i < n) {
        size_t start = ++i, len;
        const char *l;
        while (i < n && t[i] != '\n') i++;
        l = t + start;
        len = i - start;
        if (word_is(l, len, "STARTTLS")) s->caps |= SMTP_CAP_STARTTLS;
        else if (word_is(l, len, "PIPELINING")) s->caps |= SMTP_CAP_PIPELINING;
        else if (word_is(l, len, "8BITMIME")) s->caps |= SMTP_CAP_8BITMIME;
        else if (word_is(l, len, "SMTPUTF8")) s->caps |= SMTP_CAP_SMTPUTF8;
        else if (word_is(l, len, "CHUNKING")) s->caps |= SMTP_CAP_CHUNKING;
        else if (word_is(l, len, "SIZE")) {
            size_t k = 4;
            unsigned long long v = 0;
            s->caps |= SMTP_CAP_SIZE;
            while (k < len && l[k] == ' ') k++;
            while (k < len && l[k] >= '0' && l[k] <= '9' && v < (1ULL << 60))
                v = v * 10 + (unsigned)(l[k++] - '0');
            s->size_limit = v;
        } else if (word_is(l, len, "AUTH")) {
            s->caps |= SMTP_CAP_AUTH;
            s->sasl_offered |= mv_sasl_parse_offer(l + 4, len - 4);
        }
    }
}

static int send_ehlo(smtp_session *s, const char *verb)
{
    char line[300];
    if (strlen(s->helo) > 255) return fail(s, MV_E_ARG, "helo too long");
    strcpy(line, verb);
    strcat(line, " ");
    strcat(line, s->helo);
    return send_cmd(s, line);
}

/* ------------------------------------------------------------------ AUTH */

/* insecure_auth: 1 always allows, 0 never, -1 (default) allows only a loopback peer. */
static int secure_enough(smtp_session *s)
{
    if (s->pp.conn.tls_ready && s->tls_opts.verify) return 1;
    if (s->insecure_auth == 1) return 1;
    return s->insecure_auth < 0 && s->peer_is_loopback;
}

/* After the final EHLO: decide on AUTH, or finish the open. */
static int start_auth(smtp_session *s)
{
    mv_buf resp;
    int has_initial = 0, r;
    const char *wanted = s->auth;
    if (s->user == NULL || (wanted && strcasecmp(wanted, "none") == 0)) {
        s->state = S_DONE;
        return MV_OK;
    }
    if (!secure_enough(s))
        return fail(s, MV_E_AUTH, "refusing to send credentials over an unencrypted or "
                                  "unverified connection (set insecure_auth to allow)");
    s->sasl.mech = mv_sasl_choose(s->sasl_offered, wanted, s->password != NULL,
                                  s->token != NULL);
    if (s->sasl.mech == MV_SASL_NONE) {
        if (wanted && strcasecmp(wanted, "optional") == 0) {
            s->state = S_DONE;
            return MV_OK;
        }
        if (!(s->caps & SMTP_CAP_AUTH))
            return fail(s, MV_E_AUTH, "the server offers no authentication (AUTH); "
                                      "use auth = \"optional\" to send without it");
        return fail(s, MV_E_AUTH, "no authentication mechanism in common with the server");
    }
    s->sasl.user = s->user;
    s->sasl.password = s->password != NULL ? s->password : "";
    s->sasl.token = s->token != NULL ? s->token : "";
    s->sasl_rounds = 0;
    mv_buf_init(&resp);
    r = mv_sasl_start(&s->sasl, &resp, &has_initial, &s->pp.err);
    if (r == MV_OK) {
        mv_buf line;
        const char *name = mv_sasl_name(s->sasl.mech);
        size_t mask;
        mv_buf_init(&line);
        if (mv_buf_append_str(&line, "AUTH ") || mv_buf_append_str(&line, name)) r = MV_ERROR;
        mask = line.len + 1;
        if (r == MV_OK && has_initial) {
            if (mv_buf_append(&line, " ", 1) != 0) r = MV_ERROR;
            else if (resp.len == 0) r = mv_buf_append(&line, "=", 1);
            else r = mv_b64_encode_buf(resp.data, resp.len, &line);
        }
        if (r != MV_OK) {
            r = fail(s, MV_E_MEMORY, "out of memory");
        } else {
            mv_pp_arm(&s->pp);
            smtp_rr_reset(&s->rr);
            r = mv_pp_send(&s->pp, (const char *)line.data, line.len,
                           has_initial ? mask : (size_t)-1);
        }
        mv_buf_free(&line);
    }
    mv_buf_free(&resp);
    if (r != MV_OK) return MV_ERROR;
    s->auth_used = s->sasl.mech;
    s->state = O_AUTH_READ;
    return MV_OK;
}

static int auth_reply(smtp_session *s)
{
    mv_buf chal, resp, line;
    int r = MV_OK;
    if (s->last.code == 235) { s->state = S_DONE; return MV_OK; }
    if (s->last.code != 334) {
        s->auth_used = MV_SASL_NONE;
        return reply_error(s, MV_E_AUTH, "authentication failed");
    }
    if (++s->sasl_rounds > MAX_SASL_ROUNDS) {
        fail(s, MV_E_AUTH, "authentication aborted: too many server challenges");
        goto abort;
    }
    mv_buf_init(&chal);
    mv_buf_init(&resp);
    mv_buf_init(&line);
    {
        const char *t = (const char *)mv_buf_head(&s->rr.text);
        size_t n = mv_buf_avail(&s->rr.text);
        if (s->rr.lines != 1 || (n > 0 && mv_b64_decode_buf(t, n, &chal) != 0)) {
            r = fail(s, MV_E_AUTH, "authentication aborted: malformed server challenge");
        }
    }
    if (r == MV_OK) r = mv_sasl_step(&s->sasl, chal.data, chal.len, &resp, &s->pp.err);
    if (r == MV_OK && mv_b64_encode_buf(resp.data, resp.len, &line) != 0)
        r = fail(s, MV_E_MEMORY, "out of memory");
    if (r == MV_OK) {
        mv_pp_arm(&s->pp);
        smtp_rr_reset(&s->rr);
        r = mv_pp_send(&s->pp, line.len ? (const char *)line.data : "", line.len, 0);
    }
    mv_buf_free(&chal);
    mv_buf_free(&resp);
    mv_buf_free(&line);
    if (r == MV_OK) return MV_OK;
abort:
    /* Cancel the exchange (RFC 4954 §4) and still read the server's answer. */
    s->auth_used = MV_SASL_NONE;
    s->saved = s->pp.err;
    mv_error_clear(&s->pp.err);
    if (send_cmd(s, "*") != MV_OK) return MV_ERROR;
    s->state = O_AUTH_ABORT_READ;
    return MV_OK;
}

/* ------------------------------------------------------------------ open */

static int step_open(smtp_session *s)
{
    int r;
    for (;;) {
        switch (s->state) {
        case O_IMPLICIT_TLS:
            if (mv_conn_start_tls(&s->pp.conn, s->server_name, &s->tls_opts, &s->pp.err) != MV_OK)
                return MV_ERROR;
            s->state = O_HANDSHAKE;
            break;
        case O_HANDSHAKE:
            r = mv_conn_handshake(&s->pp.conn, &s->pp.err);
            if (r != MV_OK) return r;
            mv_pp_trace(&s->pp, MV_TRACE_INFO, "TLS handshake complete", 22);
            if (s->tls == MV_TLS_IMPLICIT && !s->ehlo_done_tls) {
                s->ehlo_done_tls = 1;
                s->state = O_GREETING;
                smtp_rr_reset(&s->rr);
            } else {
                s->state = O_EHLO;
            }
            break;
        case O_GREETING:
            if ((r = read_reply(s)) != MV_OK) return r;
            if (s->last.code != 220) return reply_error(s, MV_E_REPLY, "server refused the "
                                                                       "connection");
            s->state = O_EHLO;
            break;
        case O_EHLO:
            if (send_ehlo(s, "EHLO") != MV_OK) return MV_ERROR;
            s->state = O_EHLO_READ;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_EHLO_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            if (s->last.code / 100 != 2) {
                /* HELO would silently lose STARTTLS and AUTH: only when neither is asked. */
                if (s->dead || s->tls == MV_TLS_STARTTLS || s->user != NULL
                    || s->last.code == 421)
                    return reply_error(s, MV_E_REPLY, "EHLO refused");
                if (send_ehlo(s, "HELO") != MV_OK) return MV_ERROR;
                s->state = O_HELO_READ;
                return mv_conn_want(&s->pp.conn, MV_WANT_READ);
            }
            parse_ehlo(s);
            if (s->tls == MV_TLS_STARTTLS && !s->pp.conn.tls_ready) {
                if (!(s->caps & SMTP_CAP_STARTTLS))
                    return fail(s, MV_E_TLS, "the server does not offer STARTTLS, which is "
                                             "required (tls = \"starttls\")");
                if (send_cmd(s, "STARTTLS") != MV_OK) return MV_ERROR;
                s->state = O_STARTTLS_READ;
                return mv_conn_want(&s->pp.conn, MV_WANT_READ);
            }
            if ((r = start_auth(s)) != MV_OK) return r;
            if (s->state == S_DONE) return mv_conn_want(&s->pp.conn, MV_OK);
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_HELO_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            if (s->last.code / 100 != 2) return reply_error(s, MV_E_REPLY, "HELO refused");
            s->caps = 0;
            mv_buf_reset(&s->ehlo);
            s->state = S_DONE;
            return MV_OK;
        case O_STARTTLS_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            if (s->last.code != 220) {
                s->dead = 1;
                return reply_error(s, MV_E_TLS, "STARTTLS refused");
            }
            /* Anything the server sent after its 220 came before TLS: never trust it. */
            if (mv_conn_start_tls(&s->pp.conn, s->server_name, &s->tls_opts, &s->pp.err) != MV_OK) {
                s->dead = 1;
                return MV_ERROR;
            }
            s->ehlo_done_tls = 1;
            s->state = O_HANDSHAKE;
            break;
        case O_AUTH_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            if ((r = auth_reply(s)) != MV_OK) return r;
            if (s->state == S_DONE) return MV_OK;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_AUTH_ABORT_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            s->pp.err = s->saved;
            return MV_ERROR;
        case S_DONE:
            return mv_conn_want(&s->pp.conn, MV_OK);
        default:
            return fail(s, MV_E_PROTOCOL, "internal state error");
        }
    }
}

int smtp_begin_open(smtp_session *s)
{
    return begin(s, OP_OPEN, s->tls == MV_TLS_IMPLICIT ? O_IMPLICIT_TLS : O_GREETING);
}

/* ------------------------------------------------------------------ send */

/* "Name <a@b>" -> "a@b"; a bare address is kept.  Returns a new string. */
static char *envelope_address(const char *v)
{
    const char *lt = strrchr(v, '<'), *gt;
    char *p;
    size_t n;
    if (lt == NULL) return dupstr(v);
    gt = strchr(lt, '>');
    if (gt == NULL) return NULL;
    n = (size_t)(gt - lt - 1);
    p = malloc(n + 1);
    if (p == NULL) return NULL;
    memcpy(p, lt + 1, n);
    p[n] = '\0';
    return p;
}

static int check_address(smtp_session *s, const char *field, const char *a, int allow_empty)
{
    const unsigned char *p;
    if (smtp_check_value(field, a, &s->pp.err) != MV_OK) return MV_ERROR;
    if (!allow_empty && a[0] == '\0')
        return mv_fail(&s->pp.err, MV_E_ARG, "%s is empty", field);
    if (strlen(a) > 320) return mv_fail(&s->pp.err, MV_E_ARG, "%s is too long", field);
    for (p = (const unsigned char *)a; *p; p++) {
        if (*p == '<' || *p == '>')
            return mv_fail(&s->pp.err, MV_E_ARG, "%s is not a valid address", field);
        if (*p >= 0x80) s->need_utf8 = 1;
    }
    return MV_OK;
}

int smtp_begin_send(smtp_session *s, const char *from, const char *const *rcpts, size_t n,
                    unsigned long long size, int has_8bit)
{
    size_t i;
    if (begin(s, OP_SEND, T_MAIL) != MV_OK) return MV_ERROR;
    clear_transaction(s);
    s->need_utf8 = 0;
    if (n == 0) return fail(s, MV_E_ARG, "no recipients");
    if (smtp_check_value("from", from, &s->pp.err) != MV_OK) return MV_ERROR;
    s->from = envelope_address(from);
    if (s->from == NULL) return fail(s, MV_E_ARG, "from is not a valid address");
    if (check_address(s, "from", s->from, 1) != MV_OK) return MV_ERROR;
    s->rcpts = calloc(n, sizeof *s->rcpts);
    if (s->rcpts == NULL) return fail(s, MV_E_MEMORY, "out of memory");
    for (i = 0; i < n; i++) {
        if (smtp_check_value("recipient", rcpts[i], &s->pp.err) != MV_OK) return MV_ERROR;
        s->rcpts[i].addr = envelope_address(rcpts[i]);
        s->nrcpt = i + 1;
        if (s->rcpts[i].addr == NULL) return fail(s, MV_E_ARG, "recipient is not an address");
        if (check_address(s, "recipient", s->rcpts[i].addr, 0) != MV_OK) return MV_ERROR;
    }
    if (s->need_utf8 && !(s->caps & SMTP_CAP_SMTPUTF8))
        return fail(s, MV_E_ARG, "a non-ASCII address needs SMTPUTF8, which the server "
                                 "does not offer");
    if (size > 0 && (s->caps & SMTP_CAP_SIZE) && s->size_limit > 0 && size > s->size_limit)
        return mv_fail(&s->pp.err, MV_E_LIMIT, "message of %llu bytes exceeds the server's "
                       "SIZE limit of %llu", size, s->size_limit);
    if (has_8bit == 1 && !(s->caps & SMTP_CAP_8BITMIME))
        return fail(s, MV_E_LIMIT, "8-bit message data but the server lacks 8BITMIME; "
                                   "encode it (quoted-printable or base64)");
    s->size_hint = size;
    s->has_8bit = has_8bit;
    s->mail_failed = 0;
    s->body_ended = 0;
    s->piped = s->pipelining && (s->caps & SMTP_CAP_PIPELINING);
    s->use_bdat = s->chunking && (s->caps & SMTP_CAP_CHUNKING);
    s->bdat_last_sent = 0;
    s->bdat_pending = 0;
    smtp_stuff_init(&s->stuff, s->max_data_line,
                    (s->caps & SMTP_CAP_8BITMIME) || s->use_bdat, !s->use_bdat);
    return MV_OK;
}

static int send_mail(smtp_session *s)
{
    char line[512];
    size_t len;
    int n = snprintf(line, sizeof line, "MAIL FROM:<%s>", s->from);
    if (n < 0 || (size_t)n >= sizeof line) return fail(s, MV_E_ARG, "from is too long");
    len = (size_t)n;
    if ((s->caps & SMTP_CAP_SIZE) && s->size_hint > 0)
        len += (size_t)snprintf(line + len, sizeof line - len, " SIZE=%llu", s->size_hint);
    if ((s->caps & SMTP_CAP_8BITMIME) && s->has_8bit != 0)
        len += (size_t)snprintf(line + len, sizeof line - len, " BODY=8BITMIME");
    if (s->need_utf8)
        len += (size_t)snprintf(line + len, sizeof line - len, " SMTPUTF8");
    (void)len;
    return send_cmd(s, line);
}

static int send_rcpt(smtp_session *s, size_t i)
{
    char line[400];
    snprintf(line, sizeof line, "RCPT TO:<%s>", s->rcpts[i].addr);
    return mv_pp_send(&s->pp, line, strlen(line), (size_t)-1);
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
    if (send_cmd(s, "RSET") != MV_OK) return MV_ERROR;
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
    if (mv_pp_send(&s->pp, line, strlen(line), (size_t)-1) != MV_OK) return MV_ERROR;
    if (flush_body(s) != MV_OK) return MV_ERROR;
    s->bdat_pending = 1;
    smtp_rr_reset(&s->rr);
    s->state = T_BDAT_READ;
    return MV_OK;
}

static int step_send(smtp_session *s)
{
    int r;
    for (;;) {
        switch (s->state) {
        case T_MAIL:
            if (send_mail(s) != MV_OK) return MV_ERROR;
            if (s->piped) {
                size_t i;
                for (i = 0; i < s->nrcpt; i++)
                    if (send_rcpt(s, i) != MV_OK) return MV_ERROR;
                if (!s->use_bdat && mv_pp_send(&s->pp, "DATA", 4, (size_t)-1) != MV_OK)
                    return MV_ERROR;
            }
            s->state = T_MAIL_READ;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case T_MAIL_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            if (s->last.code / 100 != 2) {
                reply_error(s, MV_E_REPLY, "sender refused");
                if (s->dead || !s->piped) return fail_with_rset(s);
                s->mail_failed = 1;
                s->saved = s->pp.err;
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
            if ((r = read_reply(s)) != MV_OK) return r;
            s->rcpts[s->next_rcpt].reply = s->last;
            if (s->last.code / 100 == 2) s->accepted++;
            smtp_rr_reset(&s->rr);
            if (s->dead) {
                if (!s->mail_failed) reply_error(s, MV_E_REPLY, "server closing");
                return MV_ERROR;
            }
            if (++s->next_rcpt < s->nrcpt) {
                s->state = s->piped ? T_RCPT_READ : T_RCPT;
                break;
            }
            if (s->mail_failed) mv_error_clear(&s->pp.err);
            if (s->use_bdat) {
                if (s->accepted == 0 || s->mail_failed) {
                    if (s->mail_failed) s->pp.err = s->saved;
                    else all_rejected(s);
                    return fail_with_rset(s);
                }
                s->state = T_BODY;
                return MV_WANT_DATA;
            }
            if (s->piped) { s->state = T_DATA_READ; break; }
            if (s->accepted == 0) { all_rejected(s); return fail_with_rset(s); }
            s->state = T_DATA;
            break;
        case T_DATA:
            if (send_cmd(s, "DATA") != MV_OK) return MV_ERROR;
            s->state = T_DATA_READ;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case T_DATA_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            if (s->last.code == 354 && (s->accepted == 0 || s->mail_failed)) {
                /* A pipelining server let DATA through with nobody to deliver to: end it
                 * empty, then report why (RFC 2920 §3.1). */
                if (send_cmd(s, ".") != MV_OK) return MV_ERROR;
                s->state = T_ABORT_DOT_READ;
                return mv_conn_want(&s->pp.conn, MV_WANT_READ);
            }
            if (s->last.code != 354) {
                if (s->mail_failed) s->pp.err = s->saved;
                else if (s->accepted == 0) all_rejected(s);
                else reply_error(s, MV_E_REPLY, "DATA refused");
                return fail_with_rset(s);
            }
            s->state = T_BODY;
            mv_pp_arm(&s->pp);
            return MV_WANT_DATA;
        case T_ABORT_DOT_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            if (s->mail_failed) s->pp.err = s->saved;
            else all_rejected(s);
            return fail_with_rset(s);
        case T_BODY:
            if (s->pp.conn.eof) return fail(s, MV_E_CLOSED, "connection closed");
            if (mv_buf_avail(&s->pp.conn.net_out) > 0) return MV_WANT_WRITE;
            if (!s->body_ended) return MV_WANT_DATA;
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
            if ((r = read_reply(s)) != MV_OK) return r;
            s->bdat_pending = 0;
            if (s->last.code / 100 != 2) {
                reply_error(s, MV_E_REPLY, "message refused");
                return s->bdat_last_sent ? MV_ERROR : fail_with_rset(s);
            }
            if (s->bdat_last_sent) { s->state = S_DONE; return MV_OK; }
            s->state = T_BODY;
            break;
        case T_DOT_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            s->state = S_DONE;
            if (s->last.code / 100 != 2) return reply_error(s, MV_E_REPLY, "message refused");
            return MV_OK;
        case T_RSET_READ:
            if ((r = read_reply(s)) != MV_OK) return r;
            s->pp.err = s->saved;
            return MV_ERROR;
        case S_DONE:
            return MV_OK;
        default:
            return fail(s, MV_E_PROTOCOL, "internal state error");
        }
    }
}

int smtp_feed(smtp_session *s, const void *p, size_t n)
{
    int r;
    if (s->op != OP_SEND || s->state != T_BODY || s->body_ended)
        return fail(s, MV_E_ARG, "no message body expected now");
    mv_pp_arm(&s->pp);
    r = smtp_stuff(&s->stuff, p, n, &s->body);
    if (r == SMTP_STUFF_LONG_LINE) {
        s->dead = 1;
        return mv_fail(&s->pp.err, MV_E_LIMIT, "message has a line longer than %zu bytes; "
                       "encode it (quoted-printable or base64)", s->max_data_line);
    }
    if (r == SMTP_STUFF_8BIT) {
        s->dead = 1;
        return fail(s, MV_E_LIMIT, "8-bit message data but the server lacks 8BITMIME; "
                                   "encode it (quoted-printable or base64)");
    }
    if (r != SMTP_STUFF_OK) return fail(s, MV_E_MEMORY, "out of memory");
    if (s->use_bdat) {
        if (mv_buf_avail(&s->body) >= BDAT_CHUNK) return send_bdat(s, 0);
        return MV_OK;
    }
    return flush_body(s);
}

int smtp_feed_end(smtp_session *s)
{
    if (s->op != OP_SEND || s->state != T_BODY || s->body_ended)
        return fail(s, MV_E_ARG, "no message body expected now");
    mv_pp_arm(&s->pp);
    if (smtp_stuff_end(&s->stuff, &s->body, !s->use_bdat) != SMTP_STUFF_OK)
        return fail(s, MV_E_MEMORY, "out of memory");
    s->body_ended = 1;
    if (s->use_bdat) {
        s->bdat_last_sent = 1;
        if (s->bdat_pending) {
            /* Wait for the previous chunk's reply, then send the last one. */
            s->bdat_last_sent = 0;
            return MV_OK;
        }
        return send_bdat(s, 1);
    }
    return flush_body(s);
}

/* ------------------------------------------------------------------ commands */

int smtp_begin_command(smtp_session *s, const char *verb)
{
    if (begin(s, OP_CMD, C_READ) != MV_OK) return MV_ERROR;
    snprintf(s->verb, sizeof s->verb, "%s", verb);
    if (send_cmd(s, verb) != MV_OK) return MV_ERROR;
    if (strcmp(verb, "QUIT") == 0) s->dead = 1;  /* no command may follow, whatever happens */
    return MV_OK;
}

static int step_command(smtp_session *s)
{
    int r;
    if (s->state == S_DONE) return MV_OK;
    if ((r = read_reply(s)) != MV_OK) return r;
    s->state = S_DONE;
    if (s->last.code / 100 != 2) return reply_error(s, MV_E_REPLY, s->verb);
    return MV_OK;
}

/* ------------------------------------------------------------------ step */

/* Classifies a failure once, whoever raised it (the protocol or the driver). */
static int finish_error(smtp_session *s)
{
    mv_error *e = &s->pp.err;
    /* A dead connection after the final dot: the server may or may not have the
     * message, and the caller must not blindly send it again. */
    if (s->op == OP_SEND && s->body_ended && !s->use_bdat && s->state == T_DOT_READ
        && (e->kind == MV_E_CLOSED || e->kind == MV_E_TIMEOUT || e->kind == MV_E_IO
            || e->kind == MV_E_TLS)) {
        char msg[sizeof e->msg];
        memcpy(msg, e->msg, sizeof msg);
        e->kind = MV_E_UNCERTAIN;
        snprintf(e->msg, sizeof e->msg, "outcome unknown: %.150s after the end of data; "
                 "the message may have been delivered", msg);
    }
    /* Lost while the body was still going out: the server never saw the end of data,
     * so the message is not sent (RFC 5321 §3.8 treats it as a 451). */
    if (s->op == OP_SEND && s->state == T_BODY && e->kind == MV_E_CLOSED)
        snprintf(e->msg, sizeof e->msg, "connection closed by the server before the end "
                 "of data: message not sent (temporary failure)");
    if (e->kind != MV_E_REPLY && e->kind != MV_E_ARG && e->kind != MV_E_AUTH
        && e->kind != MV_E_LIMIT) s->dead = 1;
    s->state = S_DONE;
    return MV_ERROR;
}

int smtp_step(smtp_session *s)
{
    int r;
    if (s->pp.err.kind != MV_E_NONE) return finish_error(s);
    switch (s->op) {
    case OP_OPEN: r = step_open(s); break;
    case OP_SEND: r = step_send(s); break;
    case OP_CMD: r = step_command(s); break;
    default: return fail(s, MV_E_ARG, "no operation in progress");
    }
    if (r == MV_ERROR) return finish_error(s);
    return r;
}
