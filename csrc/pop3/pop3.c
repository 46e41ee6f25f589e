/* The POP3 session: configuration, the commands and their replies (status lines,
 * listings, message bodies), pipelining and error classification.  The opening
 * (greeting, CAPA, STLS, login) is in pop3_open.c. */
#include "pop3_int.h"
#include "mv_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const verbs[] = {
    "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "NOOP", "QUIT"
};

int pop3i_fail(pop3_session *s, mv_kind kind, const char *msg)
{
    return mv_fail(&s->pp.err, kind, "%s", msg);
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
    mv_cmds_init(&s->sent);
    mv_buf_init(&s->capa);
    mv_buf_init(&s->body);
    mv_error_clear(&s->saved);
    mv_error_clear(&s->dele_err);
    s->max_size = POP3_DEFAULT_MAX_SIZE;
    s->max_messages = POP3_DEFAULT_MAX_MESSAGES;
    s->max_listing_bytes = DEFAULT_MAX_LISTING_BYTES;
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
    mv_cfg_free(&s->cfg);
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
void pop3_set_loopback(pop3_session *s, int loopback) { s->cfg.peer_is_loopback = loopback; }
size_t pop3_pending(const pop3_session *s) { return mv_cmds_count(&s->sent); }

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

int pop3_configure(pop3_session *s, const pop3_opts *o)
{
    const char *user = o->cfg.user, *auth = o->cfg.auth;
    if (mv_cfg_copy(&s->cfg, &o->cfg, &s->pp.err) != MV_OK) return MV_ERROR;
    if (user != NULL && (user[0] == '\0' || strlen(user) > 255))
        return pop3i_fail(s, MV_E_ARG, "user must be 1 to 255 bytes");
    if (auth != NULL && strcasecmp(auth, "auto") != 0 && strcasecmp(auth, "user")
        && strcasecmp(auth, "apop") && strcasecmp(auth, "none")
        && mv_sasl_from_name(auth) < 0)
        return pop3i_fail(s, MV_E_ARG, "unknown auth method");
    s->max_size = o->max_size;
    s->max_messages = o->max_messages > 0 ? o->max_messages : POP3_DEFAULT_MAX_MESSAGES;
    s->max_listing_bytes = o->max_listing_bytes > 0 ? o->max_listing_bytes
                                                    : DEFAULT_MAX_LISTING_BYTES;
    return MV_OK;
}

void pop3i_keep_reply(pop3_session *s, int ok, const char *text, size_t len)
{
    mv_reply_clear(&s->last);
    strcpy(s->last.status, ok ? "+OK" : "-ERR");
    /* A bracket is a response code only where the server said its text has them:
     * "-ERR [no such message]" from any other server is just text. */
    if (s->caps & (POP3_CAP_RESP_CODES | POP3_CAP_AUTH_RESP_CODE)) {
        mv_reply_set_resp_code(&s->last, text, len);
        if (!(s->caps & POP3_CAP_RESP_CODES) && strcmp(s->last.resp_code, "AUTH") != 0)
            s->last.resp_code[0] = '\0';
    }
    mv_sanitize(s->last.text, sizeof s->last.text, text, len);
}

int pop3i_reply_error(pop3_session *s, mv_kind kind, const char *what)
{
    return mv_fail_reply(&s->pp.err, kind, what, &s->last);
}

/* Reads one line as a status line; *ok is 1 for +OK, 0 for -ERR.  The line is done. */
int pop3i_read_status(pop3_session *s, int *ok, const char *what)
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
        /* kind protocol: the session dies (mv_pp_error_keeps_session) */
        return mv_fail(&s->pp.err, MV_E_PROTOCOL, "malformed reply to %s: \"%s\"", what, shown);
    }
    pop3i_keep_reply(s, r, text, tlen);
    mv_pp_line_done(&s->pp);
    *ok = r;
    return MV_OK;
}

int pop3i_send_line(pop3_session *s, const char *line, size_t mask_from)
{
    return mv_pp_send(&s->pp, line, strlen(line), mask_from);
}

/* ------------------------------------------------------------------ commands */

static int is_multi(const mv_cmd *c)
{
    return c->verb == POP3_RETR || c->verb == POP3_TOP
           || ((c->verb == POP3_LIST || c->verb == POP3_UIDL) && c->n == 0);
}

static int push_cmd(pop3_session *s, pop3_verb v, unsigned long n, unsigned long lines)
{
    char line[64];
    mv_cmd *c;
    /* Bounded before anything goes out: a reply is never owed to no entry. */
    if (mv_cmds_count(&s->sent) >= s->sent.cap)
        return pop3i_fail(s, MV_E_LIMIT, "too many commands sent ahead");
    if (v == POP3_TOP) snprintf(line, sizeof line, "TOP %lu %lu", n, lines);
    else if (n > 0) snprintf(line, sizeof line, "%s %lu", verbs[v], n);
    else snprintf(line, sizeof line, "%s", verbs[v]);
    if (pop3i_send_line(s, line, (size_t)-1) != MV_OK) return MV_ERROR;
    if ((c = mv_cmds_push(&s->sent, &s->pp.err)) == NULL) return MV_ERROR;
    c->verb = (int)v;
    c->n = n;
    c->arg = v == POP3_TOP ? lines : 0;
    return MV_OK;
}

static int check_args(pop3_session *s, pop3_verb v, unsigned long n)
{
    if (s->dead) return pop3i_fail(s, MV_E_CLOSED, "the connection is closed");
    if ((v == POP3_RETR || v == POP3_TOP || v == POP3_DELE) && n == 0)
        return pop3i_fail(s, MV_E_ARG, "message numbers start at 1");
    if (n > POP3_MAX_MSG_NUMBER)
        return pop3i_fail(s, MV_E_ARG, "message number out of range");
    return MV_OK;
}

int pop3_send_ahead(pop3_session *s, pop3_verb v, unsigned long n, unsigned long lines,
                    unsigned long long expect)
{
    mv_error_clear(&s->pp.err);
    if (check_args(s, v, n) != MV_OK) return MV_ERROR;
    if (!(s->caps & POP3_CAP_PIPELINING))
        return pop3i_fail(s, MV_E_ARG, "the server does not offer PIPELINING");
    if (v == POP3_QUIT) return pop3i_fail(s, MV_E_ARG, "QUIT cannot be sent ahead");
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
    mv_pp_start(&s->pp);
    for (i = 0; i < mv_cmds_count(&s->sent); i++) {
        const mv_cmd *c = mv_cmds_at(&s->sent, i);
        if (c->verb == (int)v && c->n == n && c->arg == (v == POP3_TOP ? lines : 0)) break;
    }
    if (i == mv_cmds_count(&s->sent) && push_cmd(s, v, n, lines) != MV_OK) return MV_ERROR;
    s->skip = i;
    if (v == POP3_QUIT) s->dead = 1;  /* nothing may follow, whatever the reply */
    return MV_OK;
}

int pop3_discard_rest(pop3_session *s)
{
    mv_error_clear(&s->pp.err);
    if (s->dead) return pop3i_fail(s, MV_E_CLOSED, "the connection is closed");
    if (s->op != OP_CMD || s->state != C_BODY) return MV_OK;
    s->discard = 1;
    s->stream = 0;
    mv_pp_arm(&s->pp);  /* within the command's max_time: a server cannot stretch it */
    return MV_OK;
}

static int add_entry(pop3_session *s, unsigned long n, unsigned long long size,
                     const char *uid, size_t uid_len)
{
    pop3_entry *e;
    if (s->nentries > 0 && n <= s->entries[s->nentries - 1].n)
        return pop3i_fail(s, MV_E_PROTOCOL, "listing has a duplicate or out-of-order message "
                                      "number");
    if (s->nentries >= s->max_messages)
        return pop3i_fail(s, MV_E_LIMIT, "listing has more entries than max_messages");
    if (s->nentries == s->entries_cap) {
        size_t cap = s->entries_cap ? s->entries_cap * 2 : 64;
        pop3_entry *ne = realloc(s->entries, cap * sizeof *ne);
        if (ne == NULL) return pop3i_fail(s, MV_E_MEMORY, "out of memory");
        s->entries = ne;
        s->entries_cap = cap;
    }
    e = &s->entries[s->nentries];
    e->n = n;
    e->size = size;
    e->uid = NULL;
    if (uid != NULL) {
        e->uid = malloc(uid_len + 1);
        if (e->uid == NULL) return pop3i_fail(s, MV_E_MEMORY, "out of memory");
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
    if (v == NULL) return pop3i_fail(s, MV_E_MEMORY, "out of memory");
    for (i = 0; i < s->nentries; i++) v[i] = s->entries[i].uid;
    qsort(v, s->nentries, sizeof *v, cmp_uid);
    for (i = 1; i < s->nentries && r == MV_OK; i++)
        if (strcmp(v[i - 1], v[i]) == 0)
            r = pop3i_fail(s, MV_E_PROTOCOL, "UIDL lists a UID twice");
    free(v);
    return r;
}

static int parse_entry(pop3_session *s, pop3_verb v, const char *p, size_t len)
{
    unsigned long n;
    unsigned long long size = 0;
    const char *uid = NULL;
    size_t uid_len = 0;
    if (v == POP3_LIST ? pop3_parse_list(p, len, POP3_MAX_MSG_NUMBER, &n, &size)
                       : pop3_parse_uidl(p, len, POP3_MAX_MSG_NUMBER, MAX_UID, &n, &uid,
                                         &uid_len))
        return pop3i_fail(s, MV_E_PROTOCOL, v == POP3_LIST ? "malformed LIST line"
                                                     : "malformed UIDL line");
    return add_entry(s, n, size, uid, uid_len);
}

static int body_step(pop3_session *s)
{
    for (;;) {
        const unsigned char *data;
        size_t avail, used, max = (size_t)-1;
        int done = 0, r;
        /* Streaming hands out at most POP3_CHUNK bytes at a time: unstuffing never makes
         * more bytes than it reads, so reading no further than the report mark is
         * enough. */
        if (s->stream && s->next_report > s->ml.out_bytes)
            max = (size_t)(s->next_report - s->ml.out_bytes);
        r = mv_pp_take(&s->pp, max, &data, &avail);
        if (r != MV_OK) return r;
        used = pop3_ml_feed(&s->ml, data, avail, s->discard ? NULL : &s->body, &done);
        if (used == (size_t)-1) return pop3i_fail(s, MV_E_MEMORY, "out of memory");
        mv_pp_taken(&s->pp, used);
        /* Also when discarding: bytes thrown away still take time (CHECKLIST 70). */
        if (s->max_size > 0 && s->ml.out_bytes > s->max_size)
            return mv_fail(&s->pp.err, MV_E_LIMIT, "message %lu is larger than max_size "
                           "(%llu bytes)", s->cur.n, s->max_size);
        if (s->cur_target && s->expect > 0
            && s->ml.out_bytes > s->expect + s->expect / 2 + 16384)
            return mv_fail(&s->pp.err, MV_E_PROTOCOL, "message %lu is larger than the %llu "
                           "bytes the server listed", s->cur.n, s->expect);
        if (s->ml.out_bytes >= s->armed_at + POP3_CHUNK) {
            /* Progress buys time, up to the command's max_time; a drip does not (one
             * POP3_CHUNK per timeout). */
            mv_pp_arm(&s->pp);
            s->armed_at = s->ml.out_bytes;
        }
        if (done) return MV_OK;
        if (s->stream && s->ml.out_bytes >= s->next_report) {
            s->next_report = s->ml.out_bytes + POP3_CHUNK;
            return MV_HAVE_CHUNK;
        }
    }
}

static void start_body(pop3_session *s, int discard)
{
    pop3_ml_init(&s->ml);
    s->discard = discard;
    s->next_report = POP3_CHUNK;
    s->armed_at = 0;
    if (!discard) mv_buf_reset(&s->body);
    s->state = C_BODY;
}

/* ------------------------------------------------------------------ command states */

/* Each handler returns MV_OK when it moved the command on, anything else to hand back
 * to the driver. */

/* A reply to a command sent ahead and not wanted now: consumed, its body thrown away,
 * a refused DELE kept for the caller. */
static int skip_reply(pop3_session *s, int ok)
{
    s->skip--;
    if (ok && is_multi(&s->cur)) start_body(s, 1);
    if (!ok && s->cur.verb == POP3_DELE && s->dele_err.kind == MV_E_NONE) {
        char what[48];
        snprintf(what, sizeof what, "DELE %lu refused", s->cur.n);
        mv_fail_reply(&s->dele_err, MV_E_REPLY, what, &s->last);
    }
    mv_pp_arm(&s->pp);
    return MV_OK;
}

static int refused(pop3_session *s)
{
    char what[48];
    s->state = S_DONE;
    if (s->cur.n > 0) snprintf(what, sizeof what, "%s %lu", verbs[s->cur.verb], s->cur.n);
    else snprintf(what, sizeof what, "%s", verbs[s->cur.verb]);
    return pop3i_reply_error(s, MV_E_REPLY, what);
}

/* +OK to the wanted command: what its status line says, or where its data starts. */
static int accepted(pop3_session *s)
{
    switch (s->cur.verb) {
    case POP3_STAT:
        if (pop3_parse_stat(s->last.text, strlen(s->last.text), &s->stat_count,
                            &s->stat_size) != 0)
            return pop3i_fail(s, MV_E_PROTOCOL, "malformed STAT reply");
        s->state = S_DONE;
        return MV_OK;
    case POP3_LIST:
    case POP3_UIDL:
        clear_entries(s);
        s->listing_bytes = 0;
        if (s->cur.n == 0) { s->state = C_LINES; return MV_OK; }
        if (parse_entry(s, s->cur.verb, s->last.text, strlen(s->last.text)) != MV_OK)
            return MV_ERROR;
        if (s->entries[0].n != s->cur.n)
            return pop3i_fail(s, MV_E_PROTOCOL, "reply is about another message");
        s->state = S_DONE;
        return MV_OK;
    case POP3_RETR:
    case POP3_TOP:
        start_body(s, 0);
        return MV_OK;
    default:
        s->state = S_DONE;
        return MV_OK;
    }
}

/* The status line of the oldest command in flight. */
static int on_status(pop3_session *s)
{
    int r, ok;
    if (mv_cmds_count(&s->sent) == 0)
        return pop3i_fail(s, MV_E_PROTOCOL, "internal state error");
    s->cur = *mv_cmds_at(&s->sent, 0);
    if ((r = pop3i_read_status(s, &ok, verbs[s->cur.verb])) != MV_OK) return r;
    mv_cmds_pop(&s->sent, NULL);
    s->cur_target = s->skip == 0;
    if (!s->cur_target) return skip_reply(s, ok);
    return ok ? accepted(s) : refused(s);
}

/* One line of a LIST or UIDL listing, up to ".". */
static int on_lines(pop3_session *s)
{
    const char *line;
    size_t len;
    int r = mv_pp_getline(&s->pp, &line, &len);
    if (r != MV_OK) return r;
    s->listing_bytes += mv_pp_line_bytes(&s->pp);
    if (s->listing_bytes > s->max_listing_bytes) {
        /* Memory follows the listing: a byte budget bounds it whatever the shape of the
         * lines (CHECKLIST 70). */
        mv_pp_line_done(&s->pp);
        return mv_fail(&s->pp.err, MV_E_LIMIT, "%s listing is larger than "
                       "max_listing_bytes (%llu)", verbs[s->cur.verb], s->max_listing_bytes);
    }
    if (len == 1 && line[0] == '.') {
        mv_pp_line_done(&s->pp);
        s->state = S_DONE;
        if (s->cur.verb == POP3_UIDL && check_unique_uids(s) != MV_OK) return MV_ERROR;
        return MV_OK;
    }
    if (len > 0 && line[0] == '.') { line++; len--; }
    r = parse_entry(s, s->cur.verb, line, len);
    mv_pp_line_done(&s->pp);
    return r;
}

static int on_body(pop3_session *s)
{
    int r = body_step(s);
    if (r != MV_OK) return r;
    if (!s->cur_target) {
        /* a skipped reply's body is gone: the next status line follows */
        s->discard = 0;
        s->state = C_STATUS;
        return MV_OK;
    }
    s->state = S_DONE;
    return MV_OK;
}

static int step_command(pop3_session *s)
{
    for (;;) {
        int r;
        switch (s->state) {
        case C_STATUS: r = on_status(s); break;
        case C_LINES: r = on_lines(s); break;
        case C_BODY: r = on_body(s); break;
        case S_DONE: return mv_conn_want(&s->pp.conn, MV_OK);
        default: return pop3i_fail(s, MV_E_PROTOCOL, "internal state error");
        }
        if (r != MV_OK) return r;
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
    if (e->kind == MV_E_TIMEOUT && mv_pp_over_limit(&s->pp) && !strstr(e->msg, "max_time"))
        snprintf(e->msg + strlen(e->msg), sizeof e->msg - strlen(e->msg),
                 " (max_time of %g s reached)", s->pp.max_time_ms / 1000.0);
    if (!mv_pp_error_keeps_session(e)) s->dead = 1;
    if (s->op == OP_OPEN) s->dead = 1;
}

int pop3_step(pop3_session *s)
{
    int r;
    if (s->pp.err.kind != MV_E_NONE) {
        /* A failure the driver reported (timeout, EOF, socket error): classify it. */
        pop3_after_error(s);
        return MV_ERROR;
    }
    switch (s->op) {
    case OP_OPEN: r = pop3i_step_open(s); break;
    case OP_CMD: r = step_command(s); break;
    default: return pop3i_fail(s, MV_E_ARG, "no operation in progress");
    }
    if (r == MV_ERROR) pop3_after_error(s);
    return r;
}
