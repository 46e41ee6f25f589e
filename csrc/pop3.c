#include "pop3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { OP_NONE, OP_OPEN, OP_CMD };

enum {
    O_IMPLICIT_TLS, O_HANDSHAKE, O_GREETING, O_CAPA_STATUS, O_CAPA_LINES, O_STLS_READ,
    O_AUTH_READ, O_AUTH_ABORT_READ, O_USER_READ, O_PASS_READ,
    C_STATUS, C_LINES, C_BODY, S_DONE
};

#define MAX_SASL_ROUNDS 5
#define MAX_PENDING 64
#define MAX_UID 255
#define CHUNK (64 * 1024)

typedef struct pend {
    pop3_verb v;
    unsigned long n, lines;
} pend;

struct pop3_session {
    mv_pp pp;
    char *host, *user, *password, *token, *auth;
    char *cafile, *capath, *client_cert, *client_key;
    pop3_tls_mode tls;
    mv_tls_opts tls_opts;
    int insecure_auth, peer_is_loopback;
    unsigned long long max_size;
    unsigned long max_messages;
    /* connection */
    int op, state, dead, greeted, logged_in;
    unsigned caps, sasl_offered;
    mv_buf capa;
    char stamp[257];
    mv_reply last;
    mv_sasl sasl;
    int sasl_rounds;
    const char *auth_used;
    mv_error saved, dele_err;
    /* commands sent, replies not yet read (a ring) */
    pend q[MAX_PENDING];
    size_t q_head, q_len, skip;
    pend cur;           /* the reply being read */
    int cur_target;     /* it is the reply the current operation wants */
    /* results */
    unsigned long stat_count;
    unsigned long long stat_size;
    pop3_entry *entries;
    size_t nentries, entries_cap;
    /* message body */
    pop3_ml ml;
    mv_buf body;
    int stream, discard, fixed;
    unsigned long long expect, next_report, armed_at;
};

static const char *const verbs[] = {
    "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "NOOP", "QUIT"
};

static int fail(pop3_session *s, mv_kind kind, const char *msg)
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

static void clear_entries(pop3_session *s)
{
    size_t i;
    for (i = 0; i < s->nentries; i++) free(s->entries[i].uid);
    s->nentries = 0;
}

pop3_session *pop3_new(void)
{
    pop3_session *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    mv_pp_init(&s->pp);
    mv_buf_init(&s->capa);
    mv_buf_init(&s->body);
    mv_error_clear(&s->saved);
    mv_error_clear(&s->dele_err);
    s->max_size = 256ULL * 1024 * 1024;
    s->max_messages = 1000000;
    return s;
}

void pop3_free(pop3_session *s)
{
    if (s == NULL) return;
    clear_entries(s);
    free(s->entries);
    mv_pp_free(&s->pp);
    mv_buf_free(&s->capa);
    mv_buf_free(&s->body);
    free(s->host);
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

mv_pp *pop3_pp(pop3_session *s) { return &s->pp; }
const mv_error *pop3_error(const pop3_session *s) { return &s->pp.err; }
const mv_reply *pop3_last_reply(const pop3_session *s) { return &s->last; }
mv_buf *pop3_body(pop3_session *s) { return &s->body; }
unsigned long long pop3_body_bytes(const pop3_session *s) { return s->ml.out_bytes; }
size_t pop3_entry_count(const pop3_session *s) { return s->nentries; }
const pop3_entry *pop3_entry_at(const pop3_session *s, size_t i) { return &s->entries[i]; }
unsigned pop3_caps(const pop3_session *s) { return s->caps; }
const char *pop3_auth_used(const pop3_session *s) { return s->auth_used; }
int pop3_has_apop(const pop3_session *s) { return s->stamp[0] != '\0'; }
int pop3_is_dead(const pop3_session *s) { return s->dead; }
int pop3_is_tls(const pop3_session *s) { return s->pp.conn.tls_ready; }
void pop3_mark_dead(pop3_session *s) { s->dead = 1; }
void pop3_set_loopback(pop3_session *s, int loopback) { s->peer_is_loopback = loopback; }
size_t pop3_pending(const pop3_session *s) { return s->q_len; }

void pop3_stat_result(const pop3_session *s, unsigned long *count, unsigned long long *size)
{
    *count = s->stat_count;
    *size = s->stat_size;
}

const char *pop3_capa_lines(const pop3_session *s, size_t *len)
{
    *len = mv_buf_avail(&s->capa);
    return (const char *)mv_buf_head(&s->capa);
}

int pop3_take_dele_error(pop3_session *s, mv_error *out)
{
    if (s->dele_err.kind == MV_E_NONE) return 0;
    *out = s->dele_err;
    mv_error_clear(&s->dele_err);
    return 1;
}

static int check_value(const char *field, const char *v, mv_error *e)
{
    const unsigned char *p;
    for (p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return mv_fail(e, MV_E_ARG, "%s contains a control character (CR, LF, NUL...)",
                           field);
    }
    return MV_OK;
}

int pop3_configure(pop3_session *s, const pop3_opts *o)
{
    mv_error *e = &s->pp.err;
    const char *checks[][2] = {
        { "host", o->host }, { "user", o->user }, { "password", o->password },
        { "token", o->token }, { "auth", o->auth }
    };
    size_t i;
    for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (checks[i][1] != NULL && check_value(checks[i][0], checks[i][1], e) != MV_OK)
            return MV_ERROR;
    }
    if (o->host == NULL) return fail(s, MV_E_ARG, "host is required");
    if (o->user != NULL && (o->user[0] == '\0' || strlen(o->user) > 255))
        return fail(s, MV_E_ARG, "user must be 1 to 255 bytes");
    if (o->auth != NULL && strcasecmp(o->auth, "auto") != 0 && strcasecmp(o->auth, "user")
        && strcasecmp(o->auth, "apop") && strcasecmp(o->auth, "none")
        && mv_sasl_from_name(o->auth) < 0)
        return fail(s, MV_E_ARG, "unknown auth method");
    s->host = dupstr(o->host);
    s->user = dupstr(o->user);
    s->password = dupstr(o->password);
    s->token = dupstr(o->token);
    s->auth = dupstr(o->auth);
    s->cafile = dupstr(o->tls_opts.cafile);
    s->capath = dupstr(o->tls_opts.capath);
    s->client_cert = dupstr(o->tls_opts.client_cert);
    s->client_key = dupstr(o->tls_opts.client_key);
    if (s->host == NULL || (o->user && !s->user) || (o->password && !s->password)
        || (o->token && !s->token) || (o->auth && !s->auth)
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
    s->max_size = o->max_size;
    s->max_messages = o->max_messages > 0 ? o->max_messages : 1000000;
    return MV_OK;
}

/* Keeps the sanitised text of a status line as the last reply. */
static void keep_reply(pop3_session *s, const char *text, size_t len)
{
    s->last.code = 0;
    s->last.enhanced[0] = '\0';
    mv_sanitize(s->last.text, sizeof s->last.text, text, len);
}

static int reply_error(pop3_session *s, mv_kind kind, const char *what)
{
    mv_error *e = &s->pp.err;
    mv_fail(e, kind, "%s: -ERR %s", what, s->last.text);
    e->has_reply = 1;
    e->reply = s->last;
    return MV_ERROR;
}

/* Reads one line as a status line; *ok is 1 for +OK, 0 for -ERR.  The line is done. */
static int read_status(pop3_session *s, int *ok, const char *what)
{
    const char *line, *text;
    size_t len, tlen;
    int r = mv_pp_getline(&s->pp, &line, &len);
    if (r != MV_OK) return r;
    r = pop3_status(line, len, &text, &tlen);
    if (r < 0) {
        char shown[64];
        mv_sanitize(shown, sizeof shown, line, len);
        mv_pp_line_done(&s->pp);
        s->dead = 1;
        return mv_fail(&s->pp.err, MV_E_PROTOCOL, "malformed reply to %s: \"%s\"", what, shown);
    }
    keep_reply(s, text, tlen);
    mv_pp_line_done(&s->pp);
    *ok = r;
    return MV_OK;
}

static int send_line(pop3_session *s, const char *line, size_t mask_from)
{
    return mv_pp_send(&s->pp, line, strlen(line), mask_from);
}

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
    return send_line(s, "CAPA", (size_t)-1);
}

static int secure_enough(pop3_session *s)
{
    if (s->insecure_auth || s->peer_is_loopback) return 1;
    return s->pp.conn.tls_ready && s->tls_opts.verify;
}

static int start_sasl(pop3_session *s)
{
    mv_buf resp, line;
    int has_initial = 0, r = MV_ERROR;
    const char *name = mv_sasl_name(s->sasl.mech);
    s->sasl.user = s->user;
    s->sasl.password = s->password != NULL ? s->password : "";
    s->sasl.token = s->token != NULL ? s->token : "";
    s->sasl_rounds = 0;
    mv_buf_init(&resp);
    mv_buf_init(&line);
    if (mv_sasl_start(&s->sasl, &resp, &has_initial, &s->pp.err) != MV_OK) goto cleanup;
    if (mv_buf_append_str(&line, "AUTH ") || mv_buf_append_str(&line, name)) goto oom;
    if (has_initial) {
        /* RFC 5034 §4: an empty initial response is sent as "=". */
        if (mv_buf_append_str(&line, " ")) goto oom;
        if (resp.len == 0 ? mv_buf_append_str(&line, "=")
                          : mv_b64_encode_buf(mv_buf_head(&resp), mv_buf_avail(&resp), &line))
            goto oom;
    }
    r = mv_pp_send(&s->pp, (const char *)mv_buf_head(&line), mv_buf_avail(&line),
                   5 + strlen(name));
    s->auth_used = name;
    s->state = O_AUTH_READ;
    goto cleanup;
oom:
    r = fail(s, MV_E_MEMORY, "out of memory");
cleanup:
    mv_buf_wipe(&resp);
    mv_buf_wipe(&line);
    mv_buf_free(&resp);
    mv_buf_free(&line);
    return r;
}

static int start_auth(pop3_session *s)
{
    const char *wanted = s->auth;
    char line[600];
    mv_pp_arm(&s->pp);
    if (s->user == NULL || (wanted != NULL && strcasecmp(wanted, "none") == 0)) {
        s->state = S_DONE;
        return MV_OK;
    }
    if (!secure_enough(s))
        return fail(s, MV_E_AUTH, "refusing to send credentials over an unencrypted or "
                                  "unverified connection (set insecure_auth to allow)");
    if (wanted != NULL && strcasecmp(wanted, "apop") == 0) {
        char hex[33];
        mv_buf b;
        if (s->stamp[0] == '\0')
            return fail(s, MV_E_AUTH, "APOP asked for, but the greeting has no timestamp");
        if (s->password == NULL) return fail(s, MV_E_AUTH, "APOP needs a password");
        mv_buf_init(&b);
        if (mv_buf_append_str(&b, s->stamp) || mv_buf_append_str(&b, s->password)) {
            mv_buf_wipe(&b);
            mv_buf_free(&b);
            return fail(s, MV_E_MEMORY, "out of memory");
        }
        mv_md5_hex(mv_buf_head(&b), mv_buf_avail(&b), hex);
        mv_buf_wipe(&b);
        mv_buf_free(&b);
        snprintf(line, sizeof line, "APOP %s %s", s->user, hex);
        s->auth_used = "APOP";
        s->state = O_PASS_READ;
        return send_line(s, line, 5 + strlen(s->user) + 1);
    }
    if (wanted == NULL || strcasecmp(wanted, "auto") == 0 || mv_sasl_from_name(wanted) > 0) {
        s->sasl.mech = mv_sasl_choose(s->sasl_offered, wanted, s->password != NULL,
                                      s->token != NULL);
        if (s->sasl.mech != MV_SASL_NONE) return start_sasl(s);
        if (wanted != NULL && strcasecmp(wanted, "auto") != 0)
            return fail(s, MV_E_AUTH, "the server does not offer that SASL mechanism");
    }
    if (s->password == NULL) return fail(s, MV_E_AUTH, "USER/PASS needs a password");
    snprintf(line, sizeof line, "USER %s", s->user);
    s->auth_used = "USER";
    s->state = O_USER_READ;
    return send_line(s, line, (size_t)-1);
}

static int auth_continue(pop3_session *s, const char *chal, size_t clen)
{
    mv_buf dec, resp, line;
    int r = MV_ERROR;
    mv_buf_init(&dec);
    mv_buf_init(&resp);
    mv_buf_init(&line);
    if (++s->sasl_rounds > MAX_SASL_ROUNDS || mv_b64_decode_buf(chal, clen, &dec) != 0
        || mv_sasl_step(&s->sasl, mv_buf_head(&dec), mv_buf_avail(&dec), &resp,
                        &s->saved) != MV_OK) {
        /* Cancel the exchange (RFC 5034 §4), then report why. */
        if (s->saved.kind == MV_E_NONE)
            mv_fail(&s->saved, MV_E_AUTH, "bad SASL challenge from the server");
        r = send_line(s, "*", (size_t)-1);
        s->state = O_AUTH_ABORT_READ;
        goto cleanup;
    }
    if (mv_b64_encode_buf(mv_buf_head(&resp), mv_buf_avail(&resp), &line) != 0) {
        r = fail(s, MV_E_MEMORY, "out of memory");
        goto cleanup;
    }
    r = mv_pp_send(&s->pp, (const char *)mv_buf_head(&line), mv_buf_avail(&line), 0);
cleanup:
    mv_buf_wipe(&resp);
    mv_buf_wipe(&line);
    mv_buf_free(&dec);
    mv_buf_free(&resp);
    mv_buf_free(&line);
    return r;
}

static int logged_in(pop3_session *s)
{
    s->logged_in = 1;
    /* RFC 2449 §5: capabilities may change after login (PIPELINING, for one). */
    return send_capa(s);
}

static int step_open(pop3_session *s)
{
    int r, ok;
    const char *line;
    size_t len;
    for (;;) {
        switch (s->state) {
        case O_IMPLICIT_TLS:
            if (mv_conn_start_tls(&s->pp.conn, s->host, &s->tls_opts, &s->pp.err) != MV_OK)
                return MV_ERROR;
            s->state = O_HANDSHAKE;
            break;
        case O_HANDSHAKE:
            if ((r = mv_conn_handshake(&s->pp.conn, &s->pp.err)) != MV_OK) return r;
            mv_pp_trace(&s->pp, MV_TRACE_INFO, "TLS handshake complete", 22);
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
                    return fail(s, MV_E_PROTOCOL, "the server's greeting is not +OK/-ERR");
                }
                keep_reply(s, text, tlen);
                s->stamp[0] = '\0';
                if (st == 1 && pop3_apop_stamp(text, tlen, &a, &alen) == 0) {
                    memcpy(s->stamp, text + a, alen);
                    s->stamp[alen] = '\0';
                }
                mv_pp_line_done(&s->pp);
                if (st == 0) return reply_error(s, MV_E_REPLY, "server refused the connection");
            }
            s->greeted = 1;
            if (send_capa(s) != MV_OK) return MV_ERROR;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_CAPA_STATUS:
            if ((r = read_status(s, &ok, "CAPA")) != MV_OK) return r;
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
                return fail(s, MV_E_LIMIT, "too many CAPA lines");
            }
            parse_capa_line(s, line, len);
            if (mv_buf_append(&s->capa, line, len) || mv_buf_append(&s->capa, "\n", 1)) {
                mv_pp_line_done(&s->pp);
                return fail(s, MV_E_MEMORY, "out of memory");
            }
            mv_pp_line_done(&s->pp);
            break;
        case O_STLS_READ:
            if ((r = read_status(s, &ok, "STLS")) != MV_OK) return r;
            if (!ok) {
                s->dead = 1;
                return reply_error(s, MV_E_TLS, "STLS refused");
            }
            /* Whatever came after +OK was sent before TLS: never trust it (CHECKLIST 8/9). */
            if (mv_conn_start_tls(&s->pp.conn, s->host, &s->tls_opts, &s->pp.err) != MV_OK) {
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
                if (st >= 0) keep_reply(s, text, tlen);
                mv_pp_line_done(&s->pp);
                if (st < 0) return fail(s, MV_E_PROTOCOL, "malformed reply to AUTH");
                if (st == 0) return reply_error(s, MV_E_AUTH, "authentication failed");
            }
            if (logged_in(s) != MV_OK) return MV_ERROR;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_AUTH_ABORT_READ:
            if ((r = read_status(s, &ok, "AUTH")) != MV_OK) return r;
            s->pp.err = s->saved;
            return MV_ERROR;
        case O_USER_READ:
            if ((r = read_status(s, &ok, "USER")) != MV_OK) return r;
            if (!ok) return reply_error(s, MV_E_AUTH, "USER refused");
            {
                char cmd[600];
                int n = snprintf(cmd, sizeof cmd, "PASS %s", s->password);
                if (n < 0 || (size_t)n >= sizeof cmd) return fail(s, MV_E_ARG, "password too long");
                mv_pp_arm(&s->pp);
                r = send_line(s, cmd, 5);
                memset(cmd, 0, sizeof cmd);
                if (r != MV_OK) return r;
            }
            s->state = O_PASS_READ;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case O_PASS_READ:
            if ((r = read_status(s, &ok, "login")) != MV_OK) return r;
            if (!ok) return reply_error(s, MV_E_AUTH, "authentication failed");
            if (logged_in(s) != MV_OK) return MV_ERROR;
            return mv_conn_want(&s->pp.conn, MV_WANT_READ);
        case S_DONE:
            return mv_conn_want(&s->pp.conn, MV_OK);
        default:
            return fail(s, MV_E_PROTOCOL, "internal state error");
        }
        continue;
capa_done:
        if (s->logged_in) { s->state = S_DONE; continue; }
        if (s->tls == POP3_TLS_STARTTLS && !s->pp.conn.tls_ready) {
            if (!(s->caps & POP3_CAP_STLS)) {
                s->dead = 1;
                return fail(s, MV_E_TLS, s->caps & POP3_CAP_CAPA
                            ? "the server does not offer STLS, which is required"
                            : "the server refused CAPA, so STLS (required) is not offered");
            }
            mv_pp_arm(&s->pp);
            if (send_line(s, "STLS", (size_t)-1) != MV_OK) return MV_ERROR;
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
    if (s->dead) return fail(s, MV_E_CLOSED, "the connection is closed");
    mv_error_clear(&s->pp.err);
    mv_error_clear(&s->saved);
    s->op = OP_OPEN;
    s->state = s->tls == POP3_TLS_IMPLICIT ? O_IMPLICIT_TLS : O_GREETING;
    mv_pp_arm(&s->pp);
    return MV_OK;
}

/* ------------------------------------------------------------------ commands */

static int is_multi(const pend *p)
{
    return p->v == POP3_RETR || p->v == POP3_TOP
           || ((p->v == POP3_LIST || p->v == POP3_UIDL) && p->n == 0);
}

static int push_cmd(pop3_session *s, pop3_verb v, unsigned long n, unsigned long lines)
{
    char line[64];
    pend *p;
    if (s->q_len == MAX_PENDING) return fail(s, MV_E_LIMIT, "too many commands sent ahead");
    if (v == POP3_TOP) snprintf(line, sizeof line, "TOP %lu %lu", n, lines);
    else if (n > 0) snprintf(line, sizeof line, "%s %lu", verbs[v], n);
    else snprintf(line, sizeof line, "%s", verbs[v]);
    if (send_line(s, line, (size_t)-1) != MV_OK) return MV_ERROR;
    p = &s->q[(s->q_head + s->q_len++) % MAX_PENDING];
    p->v = v;
    p->n = n;
    p->lines = v == POP3_TOP ? lines : 0;
    return MV_OK;
}

static int check_args(pop3_session *s, pop3_verb v, unsigned long n)
{
    if (s->dead) return fail(s, MV_E_CLOSED, "the connection is closed");
    if ((v == POP3_RETR || v == POP3_TOP || v == POP3_DELE) && n == 0)
        return fail(s, MV_E_ARG, "message numbers start at 1");
    if (n > 0xffffffffUL) return fail(s, MV_E_ARG, "message number out of range");
    return MV_OK;
}

int pop3_send_ahead(pop3_session *s, pop3_verb v, unsigned long n, unsigned long lines,
                    unsigned long long expect)
{
    mv_error_clear(&s->pp.err);
    if (check_args(s, v, n) != MV_OK) return MV_ERROR;
    if (!(s->caps & POP3_CAP_PIPELINING))
        return fail(s, MV_E_ARG, "the server does not offer PIPELINING");
    if (v == POP3_QUIT) return fail(s, MV_E_ARG, "QUIT cannot be sent ahead");
    /* pop3_begin refuses it without sending: never ask for what we will not take. */
    if (v == POP3_RETR && s->max_size > 0 && expect > s->max_size) return MV_OK;
    return push_cmd(s, v, n, lines);
}

int pop3_begin(pop3_session *s, pop3_verb v, unsigned long n, unsigned long lines,
               unsigned long long expect, int stream)
{
    size_t i;
    mv_error_clear(&s->pp.err);
    if (check_args(s, v, n) != MV_OK) return MV_ERROR;
    if (s->max_size > 0 && expect > s->max_size && (v == POP3_RETR))
        return mv_fail(&s->pp.err, MV_E_LIMIT, "message %lu is %llu bytes, over max_size "
                       "(%llu)", n, expect, s->max_size);
    s->op = OP_CMD;
    s->state = C_STATUS;
    s->expect = expect;
    s->stream = stream;
    s->discard = 0;
    s->fixed = 0;
    mv_pp_arm(&s->pp);
    for (i = 0; i < s->q_len; i++) {
        const pend *p = &s->q[(s->q_head + i) % MAX_PENDING];
        if (p->v == v && p->n == n && p->lines == (v == POP3_TOP ? lines : 0)) break;
    }
    if (i == s->q_len && push_cmd(s, v, n, lines) != MV_OK) return MV_ERROR;
    s->skip = i;
    if (v == POP3_QUIT) s->dead = 1;  /* nothing may follow, whatever the reply */
    return MV_OK;
}

int pop3_discard_rest(pop3_session *s)
{
    mv_error_clear(&s->pp.err);
    if (s->dead) return fail(s, MV_E_CLOSED, "the connection is closed");
    if (s->op != OP_CMD || s->state != C_BODY) return MV_OK;
    s->discard = 1;
    s->stream = 0;
    mv_pp_arm(&s->pp);
    return MV_OK;
}

static int add_entry(pop3_session *s, unsigned long n, unsigned long long size,
                     const char *uid, size_t uid_len)
{
    pop3_entry *e;
    if (s->nentries > 0 && n <= s->entries[s->nentries - 1].n)
        return fail(s, MV_E_PROTOCOL, "listing has a duplicate or out-of-order message "
                                      "number");
    if (s->nentries >= s->max_messages)
        return fail(s, MV_E_LIMIT, "listing has more entries than max_messages");
    if (s->nentries == s->entries_cap) {
        size_t cap = s->entries_cap ? s->entries_cap * 2 : 64;
        pop3_entry *ne = realloc(s->entries, cap * sizeof *ne);
        if (ne == NULL) return fail(s, MV_E_MEMORY, "out of memory");
        s->entries = ne;
        s->entries_cap = cap;
    }
    e = &s->entries[s->nentries];
    e->n = n;
    e->size = size;
    e->uid = NULL;
    if (uid != NULL) {
        e->uid = malloc(uid_len + 1);
        if (e->uid == NULL) return fail(s, MV_E_MEMORY, "out of memory");
        memcpy(e->uid, uid, uid_len);
        e->uid[uid_len] = '\0';
    }
    s->nentries++;
    return MV_OK;
}

static int cmp_uid(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Two messages with one UID would make "since" and delete-by-UID ambiguous. */
static int check_unique_uids(pop3_session *s)
{
    char **v;
    size_t i;
    int r = MV_OK;
    if (s->nentries < 2) return MV_OK;
    v = malloc(s->nentries * sizeof *v);
    if (v == NULL) return fail(s, MV_E_MEMORY, "out of memory");
    for (i = 0; i < s->nentries; i++) v[i] = s->entries[i].uid;
    qsort(v, s->nentries, sizeof *v, cmp_uid);
    for (i = 1; i < s->nentries && r == MV_OK; i++)
        if (strcmp(v[i - 1], v[i]) == 0) r = fail(s, MV_E_PROTOCOL, "UIDL lists a UID twice");
    free(v);
    return r;
}

static int parse_entry(pop3_session *s, pop3_verb v, const char *p, size_t len)
{
    unsigned long n;
    unsigned long long size = 0;
    const char *uid = NULL;
    size_t uid_len = 0;
    if (v == POP3_LIST ? pop3_parse_list(p, len, 0xffffffffUL, &n, &size)
                       : pop3_parse_uidl(p, len, 0xffffffffUL, MAX_UID, &n, &uid, &uid_len))
        return fail(s, MV_E_PROTOCOL, v == POP3_LIST ? "malformed LIST line"
                                                     : "malformed UIDL line");
    return add_entry(s, n, size, uid, uid_len);
}

static int body_step(pop3_session *s)
{
    mv_buf *in = &s->pp.conn.app_in;
    for (;;) {
        size_t avail = mv_buf_avail(in), used;
        int done = 0;
        if (avail == 0) {
            int r = mv_conn_fill(&s->pp.conn, &s->pp.err);
            if (r != MV_OK) return r;
            continue;
        }
        used = pop3_ml_feed(&s->ml, mv_buf_head(in), avail, s->discard ? NULL : &s->body,
                            &done);
        if (used == (size_t)-1) return fail(s, MV_E_MEMORY, "out of memory");
        mv_buf_consume(in, used);
        if (!s->discard && s->max_size > 0 && s->ml.out_bytes > s->max_size)
            return mv_fail(&s->pp.err, MV_E_LIMIT, "message %lu is larger than max_size "
                           "(%llu bytes)", s->cur.n, s->max_size);
        if (!s->discard && s->expect > 0
            && s->ml.out_bytes > s->expect + s->expect / 2 + 16384)
            return mv_fail(&s->pp.err, MV_E_PROTOCOL, "message %lu is larger than the %llu "
                           "bytes the server listed", s->cur.n, s->expect);
        if (s->ml.out_bytes >= s->armed_at + CHUNK) {
            /* Progress buys time; a drip does not (one CHUNK per timeout). */
            mv_pp_arm(&s->pp);
            s->armed_at = s->ml.out_bytes;
        }
        if (done) return MV_OK;
        if (s->stream && s->ml.out_bytes >= s->next_report) {
            s->next_report = s->ml.out_bytes + CHUNK;
            return MV_WANT_DATA;
        }
    }
}

static void start_body(pop3_session *s, int discard)
{
    pop3_ml_init(&s->ml);
    s->discard = discard;
    s->next_report = CHUNK;
    s->armed_at = 0;
    if (!discard) mv_buf_reset(&s->body);
    s->state = C_BODY;
}

static int step_command(pop3_session *s)
{
    int r, ok;
    const char *line;
    size_t len;
    for (;;) {
        switch (s->state) {
        case C_STATUS:
            if (s->q_len == 0) return fail(s, MV_E_PROTOCOL, "internal state error");
            s->cur = s->q[s->q_head];
            if ((r = read_status(s, &ok, verbs[s->cur.v])) != MV_OK) return r;
            s->q_head = (s->q_head + 1) % MAX_PENDING;
            s->q_len--;
            s->cur_target = s->skip == 0;
            if (!s->cur_target) {
                /* A reply to a command sent ahead and not wanted now. */
                s->skip--;
                if (ok && is_multi(&s->cur)) start_body(s, 1);
                if (!ok && s->cur.v == POP3_DELE && s->dele_err.kind == MV_E_NONE) {
                    mv_fail(&s->dele_err, MV_E_REPLY, "DELE %lu refused: -ERR %s", s->cur.n,
                            s->last.text);
                    s->dele_err.has_reply = 1;
                    s->dele_err.reply = s->last;
                }
                mv_pp_arm(&s->pp);
                break;
            }
            if (!ok) {
                char what[48];
                s->state = S_DONE;
                if (s->cur.n > 0) snprintf(what, sizeof what, "%s %lu", verbs[s->cur.v],
                                           s->cur.n);
                else snprintf(what, sizeof what, "%s", verbs[s->cur.v]);
                return reply_error(s, MV_E_REPLY, what);
            }
            switch (s->cur.v) {
            case POP3_STAT:
                if (pop3_parse_stat(s->last.text, strlen(s->last.text), &s->stat_count,
                                    &s->stat_size) != 0)
                    return fail(s, MV_E_PROTOCOL, "malformed STAT reply");
                s->state = S_DONE;
                break;
            case POP3_LIST:
            case POP3_UIDL:
                clear_entries(s);
                if (s->cur.n == 0) { s->state = C_LINES; break; }
                if (parse_entry(s, s->cur.v, s->last.text, strlen(s->last.text)) != MV_OK)
                    return MV_ERROR;
                if (s->entries[0].n != s->cur.n)
                    return fail(s, MV_E_PROTOCOL, "reply is about another message");
                s->state = S_DONE;
                break;
            case POP3_RETR:
            case POP3_TOP:
                start_body(s, 0);
                break;
            default:
                s->state = S_DONE;
                break;
            }
            break;
        case C_LINES:
            if ((r = mv_pp_getline(&s->pp, &line, &len)) != MV_OK) return r;
            if (len == 1 && line[0] == '.') {
                mv_pp_line_done(&s->pp);
                s->state = S_DONE;
                if (s->cur.v == POP3_UIDL && check_unique_uids(s) != MV_OK) return MV_ERROR;
                break;
            }
            if (len > 0 && line[0] == '.') { line++; len--; }
            r = parse_entry(s, s->cur.v, line, len);
            mv_pp_line_done(&s->pp);
            if (r != MV_OK) return r;
            break;
        case C_BODY:
            if ((r = body_step(s)) != MV_OK) return r;
            if (!s->cur_target) {
                s->discard = 0;
                s->state = C_STATUS;
                break;
            }
            s->state = S_DONE;
            break;
        case S_DONE:
            return mv_conn_want(&s->pp.conn, MV_OK);
        default:
            return fail(s, MV_E_PROTOCOL, "internal state error");
        }
    }
}

void pop3_after_error(pop3_session *s)
{
    mv_error *e = &s->pp.err;
    if (s->op == OP_CMD && s->state == C_BODY && s->cur_target && !s->fixed
        && (e->kind == MV_E_CLOSED || e->kind == MV_E_TIMEOUT || e->kind == MV_E_TLS
            || e->kind == MV_E_IO)) {
        /* A message cut short is never complete (CHECKLIST 12, 35, 36). */
        char msg[sizeof e->msg];
        memcpy(msg, e->msg, sizeof msg);
        snprintf(e->msg, sizeof e->msg, "message %lu incomplete: %.180s", s->cur.n, msg);
        s->fixed = 1;
    }
    if (e->kind != MV_E_REPLY && e->kind != MV_E_ARG) s->dead = 1;
    if (s->op == OP_OPEN) s->dead = 1;
}

int pop3_step(pop3_session *s)
{
    int r;
    if (s->pp.err.kind != MV_E_NONE) return MV_ERROR;
    switch (s->op) {
    case OP_OPEN: r = step_open(s); break;
    case OP_CMD: r = step_command(s); break;
    default: return fail(s, MV_E_ARG, "no operation in progress");
    }
    if (r == MV_ERROR) pop3_after_error(s);
    return r;
}
