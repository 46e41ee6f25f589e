/* The IMAP session: commands completed by tag, literals both ways, untagged data handed
 * to the caller, IDLE and waiting (imap.h). */
#include "imap_int.h"
#include "mv_clock.h"
#include "mv_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Responses read before the one the caller wants are not counted: a server may send
 * any number of untagged lines.  The trace shows this much of a command. */
#define TRACE_CMD_MAX 512

imap_session *imap_new(void)
{
    imap_session *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    mv_pp_init(&s->pp);
    imap_limits_default(&s->lim);
    imap_parser_init(&s->parser, &s->lim);
    mv_cmds_init(&s->sent);
    mv_buf_init(&s->capbuf);
    imap_events_init(&s->events);
    s->want_enable = 1;
    return s;
}

static void drop_cmd(imap_session *s)
{
    if (s->has_cmd) imap_cmd_free(&s->cmd);
    s->has_cmd = 0;
}

void imap_free(imap_session *s)
{
    size_t i;
    if (s == NULL) return;
    drop_cmd(s);
    for (i = 0; i < MV_CMDS_MAX; i++) imap_route_free(&s->routes[i]);
    imap_parser_free(&s->parser);
    imap_events_free(&s->events);
    mv_buf_free(&s->capbuf);
    mv_cfg_free(&s->cfg);
    mv_pp_free(&s->pp);
    free(s);
}

mv_pp *imap_pp(imap_session *s) { return &s->pp; }

int imap_configure(imap_session *s, const imap_opts *o)
{
    mv_cfg_free(&s->cfg);
    if (mv_cfg_copy(&s->cfg, &o->cfg, &s->pp.err) != 0) return MV_ERROR;
    if (o->max_size > 0) s->lim.max_kept = (size_t)o->max_size;
    else s->lim.max_kept = (size_t)IMAP_DEFAULT_MAX_SIZE;
    if (s->lim.max_response < s->lim.max_kept + 1024 * 1024)
        s->lim.max_response = s->lim.max_kept + 1024 * 1024;
    imap_parser_free(&s->parser);
    imap_parser_init(&s->parser, &s->lim);
    s->want_enable = o->enable;
    return MV_OK;
}

void imap_set_loopback(imap_session *s, int loopback) { s->cfg.peer_is_loopback = loopback; }

int imapi_fail(imap_session *s, mv_kind kind, const char *msg)
{
    return mv_fail(&s->pp.err, kind, "%s", msg);
}

void imap_cmd_for(const imap_session *s, imap_cmd *c)
{
    int mode = (s->caps & IMAP_CAP_LITERAL_PLUS) ? IMAP_LIT_PLUS
               : (s->caps & IMAP_CAP_LITERAL_MINUS) ? IMAP_LIT_MINUS : IMAP_LIT_SYNC;
    imap_cmd_init(c, mode, (s->enabled & IMAP_ENABLED_UTF8) != 0);
}

/* ------------------------------------------------------------------ replies, caps */

void imapi_keep_reply(imap_session *s, const imap_resp *r)
{
    static const char *const words[] = { "", "OK", "NO", "BAD", "PREAUTH", "BYE" };
    char text[MV_REPLY_TEXT_MAX];
    size_t n = 0;
    mv_reply_clear(&s->last);
    if (r->status > 0 && r->status <= IMAP_BYE)
        snprintf(s->last.status, sizeof s->last.status, "%s", words[r->status]);
    if (r->code.s != NULL) {
        n = (size_t)snprintf(text, sizeof text, "[%.*s] ",
                             (int)(r->code.len < 64 ? r->code.len : 64), r->code.s);
        if (n >= sizeof text) n = sizeof text - 1;
        mv_sanitize(s->last.resp_code, sizeof s->last.resp_code, r->code.s,
                    r->code.len < sizeof s->last.resp_code - 1 ? r->code.len
                                                               : sizeof s->last.resp_code - 1);
    }
    mv_sanitize(text + n, sizeof text - n, r->text.s != NULL ? r->text.s : "",
                r->text.s != NULL ? r->text.len : 0);
    memcpy(s->last.text, text, sizeof text);
}

static unsigned cap_bit(const char *w, size_t n)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        { "IMAP4rev1", IMAP_CAP_IMAP4REV1 }, { "STARTTLS", IMAP_CAP_STARTTLS },
        { "LOGINDISABLED", IMAP_CAP_LOGINDISABLED }, { "SASL-IR", IMAP_CAP_SASL_IR },
        { "LITERAL+", IMAP_CAP_LITERAL_PLUS }, { "LITERAL-", IMAP_CAP_LITERAL_MINUS },
        { "IDLE", IMAP_CAP_IDLE }, { "UIDPLUS", IMAP_CAP_UIDPLUS }, { "MOVE", IMAP_CAP_MOVE },
        { "ESEARCH", IMAP_CAP_ESEARCH }, { "CONDSTORE", IMAP_CAP_CONDSTORE },
        { "ENABLE", IMAP_CAP_ENABLE }, { "UTF8=ACCEPT", IMAP_CAP_UTF8_ACCEPT },
        { "SPECIAL-USE", IMAP_CAP_SPECIAL_USE }, { "BINARY", IMAP_CAP_BINARY },
        { "IMAP4rev2", IMAP_CAP_IMAP4REV2 }, { "ID", IMAP_CAP_ID },
        { "QRESYNC", IMAP_CAP_QRESYNC }, { "UNSELECT", IMAP_CAP_UNSELECT }
    };
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && strncasecmp(names[i].name, w, n) == 0)
            return names[i].bit;
    return 0;
}

void imapi_set_caps(imap_session *s, const imap_resp *r)
{
    size_t i;
    s->caps = 0;
    s->sasl_offered = 0;
    mv_buf_reset(&s->capbuf);
    for (i = 0; i < r->count; i = imap_next(r, i)) {
        imap_str w = imap_node_str(r, i);
        if (w.s == NULL || r->nodes[i].type != IMAP_V_ATOM) continue;
        s->caps |= cap_bit(w.s, w.len);
        if (w.len > 5 && strncasecmp(w.s, "AUTH=", 5) == 0)
            s->sasl_offered |= mv_sasl_parse_offer(w.s + 5, w.len - 5);
        if (mv_buf_avail(&s->capbuf) > 0) mv_buf_append(&s->capbuf, " ", 1);
        mv_buf_append(&s->capbuf, w.s, w.len);
    }
    s->have_caps = 1;
}

static void set_enabled(imap_session *s, const imap_resp *r)
{
    size_t i;
    for (i = 0; i < r->count; i = imap_next(r, i)) {
        if (imap_node_is(r, i, "UTF8=ACCEPT")) s->enabled |= IMAP_ENABLED_UTF8;
        if (imap_node_is(r, i, "CONDSTORE")) s->enabled |= IMAP_ENABLED_CONDSTORE;
        if (imap_node_is(r, i, "IMAP4REV2")) s->enabled |= IMAP_ENABLED_REV2;
    }
}

/* ------------------------------------------------------------------ sending */

static void trace_cmd(imap_session *s)
{
    char line[TRACE_CMD_MAX + 64];
    size_t n, i, end = s->cmd.buf.len, lit = 0;
    if (!s->pp.trace_on) return;
    n = (size_t)snprintf(line, sizeof line, "%s ", s->tag);
    for (i = 0; i < end && n < TRACE_CMD_MAX; i++) {
        if (i == s->cmd.mask_from) {
            memcpy(line + n, "***", 3);
            n += 3;
            break;
        }
        if (lit < s->cmd.nlit && i == s->cmd.lit[lit].start) {
            /* the literal's bytes are not shown: a message, or a secret */
            if (!s->cmd.lit[lit].ext) i += s->cmd.lit[lit].len;
            lit++;
            if (i >= end) break;
        }
        if (s->cmd.buf.data[i] == '\r' || s->cmd.buf.data[i] == '\n') continue;
        line[n++] = (char)s->cmd.buf.data[i];
    }
    mv_pp_trace(&s->pp, MV_TRACE_OUT, line, n);
}

/* Sends what may go now: up to the next synchronising literal, else all of it. */
static int pump(imap_session *s)
{
    if (s->xstate == X_FEED) {
        if (s->feed_left > 0) return MV_OK;
        s->xstate = X_SEND;
    }
    mv_pp_cork(&s->pp);
    for (;;) {
        const unsigned char *d = s->cmd.buf.data;
        if (s->next_lit < s->cmd.nlit) {
            const imap_cmd_lit *l = &s->cmd.lit[s->next_lit];
            if (s->pos < l->start) {
                if (mv_pp_send_raw(&s->pp, d + s->pos, l->start - s->pos) != MV_OK) break;
                s->pos = l->start;
                if (l->sync) {
                    s->xstate = X_WAIT_CONT;
                    return mv_pp_uncork(&s->pp);
                }
            }
            if (l->ext) {
                /* the caller supplies the bytes (imap_feed) */
                s->feed_left = l->len;
                s->xstate = X_FEED;
                s->next_lit++;
                if (mv_pp_uncork(&s->pp) != MV_OK) return MV_ERROR;
                return s->feed_left == 0 ? pump(s) : MV_OK;
            }
            if (l->len > 0 && mv_pp_send_raw(&s->pp, d + l->start, l->len) != MV_OK) break;
            s->pos = l->start + l->len;
            s->next_lit++;
            continue;
        }
        if (s->pos < s->cmd.buf.len
            && mv_pp_send_raw(&s->pp, d + s->pos, s->cmd.buf.len - s->pos) != MV_OK)
            break;
        if (mv_pp_send_raw(&s->pp, "\r\n", 2) != MV_OK) break;
        s->pos = s->cmd.buf.len;
        s->xstate = X_READ;
        drop_cmd(s);
        return mv_pp_uncork(&s->pp);
    }
    mv_pp_cork_cancel(&s->pp);
    return MV_ERROR;
}

int imapi_send(imap_session *s, imap_cmd *c, int internal, int cont)
{
    mv_cmd *e;
    size_t n;
    char *verb;
    if (c->failed) {
        s->pp.err = c->err;
        imap_cmd_free(c);
        return MV_ERROR;
    }
    if ((e = mv_cmds_push_tagged(&s->sent, &s->pp.err)) == NULL) {
        imap_cmd_free(c);
        return MV_ERROR;
    }
    if (imap_route_set(&s->routes[s->sent.serial % MV_CMDS_MAX], c->buf.data, c->buf.len,
                       &s->pp.err) != 0) {
        mv_cmds_take_tag(&s->sent, e->tag, strlen(e->tag), NULL);
        imap_cmd_free(c);
        return MV_ERROR;
    }
    drop_cmd(s);
    memcpy(s->tag, e->tag, sizeof s->tag);
    e->n = s->sent.serial;
    verb = s->verbs[e->n % MV_CMDS_MAX];
    /* The command's first word (two after UID), for messages. */
    n = 0;
    while (n < c->buf.len && n < sizeof s->verbs[0] - 1 && c->buf.data[n] != ' ') n++;
    if (n == 3 && strncasecmp((char *)c->buf.data, "UID", 3) == 0) {
        n++;
        while (n < c->buf.len && n < sizeof s->verbs[0] - 1 && c->buf.data[n] != ' ') n++;
    }
    memcpy(verb, c->buf.data, n);
    verb[n] = '\0';
    s->cmd = *c;
    s->has_cmd = 1;
    memset(c, 0, sizeof *c);
    s->logout = s->cmd.buf.len >= 6 && strncasecmp((char *)s->cmd.buf.data, "LOGOUT", 6) == 0;
    s->pos = 0;
    s->next_lit = 0;
    s->internal = internal;
    s->cont = cont;
    s->take = IMAP_TAKE_NONE;
    s->tagged_ok = 0;
    trace_cmd(s);
    mv_pp_cork(&s->pp);
    if (mv_pp_send_raw(&s->pp, s->tag, strlen(s->tag)) != MV_OK
        || mv_pp_send_raw(&s->pp, " ", 1) != MV_OK) {
        mv_pp_cork_cancel(&s->pp);
        return MV_ERROR;
    }
    s->xstate = X_SEND;
    return pump(s);
}

/* ------------------------------------------------------------------ reading */


/* Reads to the next whole response (IMAPI_GOT), or a piece of a streamed literal
 * (MV_HAVE_CHUNK). */
int imapi_read(imap_session *s)
{
    for (;;) {
        const unsigned char *d;
        size_t n, used = 0;
        int r;
        if (s->pending_used > 0) {
            mv_pp_taken(&s->pp, s->pending_used);
            s->pending_used = 0;
        }
        r = mv_pp_take(&s->pp, (size_t)-1, &d, &n);
        if (r == MV_WANT_READ) return mv_conn_want(&s->pp.conn, r);
        if (r != MV_OK) return r;
        if (s->pp.trace_on && imap_parser_idle(&s->parser)) {
            /* A response starts: its first line shows (a literal's bytes do not). */
            const unsigned char *lf = memchr(d, '\n', n);
            size_t l = lf != NULL ? (size_t)(lf - d) : n;
            if (l > 0 && d[l - 1] == '\r') l--;
            mv_pp_trace(&s->pp, MV_TRACE_IN, (const char *)d, l);
        }
        r = imap_parser_feed(&s->parser, d, n, &used, &s->pp.err);
        if (r == MV_ERROR) {
            mv_pp_taken(&s->pp, used);
            return MV_ERROR;
        }
        if (s->op != OP_WAIT && used > 0) mv_pp_arm(&s->pp);
        if (r == IMAP_LITERAL_DATA) {
            s->chunk = imap_parser_chunk(&s->parser, &s->chunk_len);
            s->pending_used = used;
            s->take = IMAP_TAKE_LITERAL;
            return MV_HAVE_CHUNK;
        }
        mv_pp_taken(&s->pp, used);
        if (r == IMAP_MORE) continue;
        if (r == IMAP_LITERAL) {
            int l8;
            imap_str key;
            uint64_t size = imap_parser_literal(&s->parser, &l8, &key);
            if (s->stream && key.s != NULL && key.len < sizeof s->keybuf
                && (strncasecmp(key.s, "BODY[", 5) == 0
                    || strncasecmp(key.s, "BINARY[", 7) == 0)) {
                memcpy(s->keybuf, key.s, key.len);
                s->keybuf[key.len] = '\0';
                s->chunk_key.s = s->keybuf;
                s->chunk_key.len = key.len;
                imap_parser_stream_literal(&s->parser);
            } else if (size > s->lim.max_kept) {
                /* Fail at the announcement rather than after reading it all. */
                return mv_fail(&s->pp.err, MV_E_LIMIT, "the server sent a literal of %llu "
                               "bytes, over max_size (%zu)", (unsigned long long)size,
                               s->lim.max_kept);
            }
            continue;
        }
        return IMAPI_GOT;
    }
}

static int ends_session(imap_session *s)
{
    s->dead = 1;
    return mv_fail_reply(&s->pp.err, MV_E_CLOSED, "the server ended the session", &s->last);
}

/* An untagged response goes to the oldest command in flight that collects it
 * (imap_route.h), else to the event queue; the caller sees it either way. */
static int hand_out(imap_session *s, const imap_resp *r)
{
    size_t i, n = mv_cmds_count(&s->sent);
    s->take = IMAP_TAKE_RESPONSE;
    for (i = 0; i < n; i++) {
        const mv_cmd *c = mv_cmds_at(&s->sent, i);
        if (imap_route_collects(&s->routes[c->n % MV_CMDS_MAX], r)) {
            memcpy(s->owner, c->tag, sizeof s->owner);
            return MV_HAVE_CHUNK;
        }
    }
    s->owner[0] = '\0';
    if (imap_events_add(&s->events, r) < 0) return imapi_fail(s, MV_E_MEMORY, "out of memory");
    return MV_HAVE_CHUNK;
}

static int on_response(imap_session *s)
{
    const imap_resp *r = imap_parser_response(&s->parser);
    char what[40];
    if (r->kind == IMAP_CONTINUE) {
        if (s->xstate == X_WAIT_CONT) {
            if (pump(s) != MV_OK) return MV_ERROR;
            if (s->xstate == X_FEED) return mv_conn_want(&s->pp.conn, MV_WANT_BODY);
            return IMAPI_GOT;
        }
        if (s->cont != CONT_NONE && s->xstate == X_READ) return IMAPI_CONT;
        return imapi_fail(s, MV_E_PROTOCOL, "unexpected continuation request from the server");
    }
    if (r->kind == IMAP_TAGGED) {
        mv_cmd done;
        if (mv_cmds_take_tag(&s->sent, r->tag.s, r->tag.len, &done) != 0)
            return imapi_fail(s, MV_E_PROTOCOL,
                              "the server answered a command that was not sent (tag mismatch)");
        memcpy(s->done_tag, done.tag, sizeof s->done_tag);
        imapi_keep_reply(s, r);
        if (r->code.s != NULL && imap_str_is(r->code, "CAPABILITY")) imapi_set_caps(s, r);
        s->tagged_ok = 1;
        if (mv_cmds_count(&s->sent) == 0) {
            s->xstate = X_DONE;
            drop_cmd(s);
        }   /* else pipelined commands are still to be answered: the next step reads on */
        if (r->status == IMAP_OK && !s->internal && r->code.s != NULL
            && imap_str_is(r->code, "ALERT") && imap_events_add(&s->events, r) < 0)
            return imapi_fail(s, MV_E_MEMORY, "out of memory");
        if (r->status == IMAP_OK) return MV_OK;
        /* "SELECT failed: NO [NONEXISTENT] ...": the command's first word */
        s->reply_failed = 1;
        snprintf(what, sizeof what, "%.24s failed", s->verbs[done.n % MV_CMDS_MAX]);
        return mv_fail_reply(&s->pp.err, MV_E_REPLY, what, &s->last);
    }
    if (r->status == IMAP_BYE) {
        imapi_keep_reply(s, r);
        s->bye = 1;
        if (s->logout) return IMAPI_GOT;
        return ends_session(s);
    }
    if (r->status == IMAP_DATA && imap_str_is(r->name, "CAPABILITY")) {
        imapi_set_caps(s, r);
        return IMAPI_GOT;
    }
    if (r->status != IMAP_DATA && r->code.s != NULL && imap_str_is(r->code, "CAPABILITY"))
        imapi_set_caps(s, r);
    if (r->status == IMAP_DATA && imap_str_is(r->name, "ENABLED")) {
        set_enabled(s, r);
        return IMAPI_GOT;
    }
    if (s->internal) return IMAPI_GOT;
    return hand_out(s, r);
}

int imapi_exchange(imap_session *s)
{
    s->take = IMAP_TAKE_NONE;
    /* a caller-supplied literal complete: the rest of the command goes on */
    if (s->xstate == X_FEED && s->feed_left == 0 && pump(s) != MV_OK) return MV_ERROR;
    if (s->xstate == X_SEND && pump(s) != MV_OK) return MV_ERROR;
    if (s->xstate == X_FEED) return mv_conn_want(&s->pp.conn, MV_WANT_BODY);
    if (s->xstate == X_DONE) return MV_OK;
    for (;;) {
        int r = imapi_read(s);
        if (r != IMAPI_GOT) return r;
        r = on_response(s);
        if (r != IMAPI_GOT) return r == MV_OK ? mv_conn_want(&s->pp.conn, MV_OK) : r;
    }
}

/* ------------------------------------------------------------------ operations */

/* A command may go while others wait for their tagged replies (RFC 9051 §5.5) when
 * they are all sent, none waits for a "+" (IDLE, AUTHENTICATE, a synchronising
 * literal, a literal the caller feeds), none is LOGOUT, and they hand literals out the
 * same way. */
static int can_pipeline(const imap_session *s, const imap_cmd *c, int stream)
{
    size_t i;
    if (s->op != OP_CMD || s->xstate != X_READ || s->internal || s->cont != CONT_NONE
        || s->logout || s->stream != stream || mv_cmds_count(&s->sent) >= MV_CMDS_MAX)
        return 0;
    for (i = 0; i < c->nlit; i++)
        if (c->lit[i].sync || c->lit[i].ext) return 0;
    if (c->buf.len >= 4 && strncasecmp((const char *)c->buf.data, "IDLE", 4) == 0) return 0;
    if (c->buf.len >= 6 && strncasecmp((const char *)c->buf.data, "LOGOUT", 6) == 0) return 0;
    return 1;
}

int imap_begin_command(imap_session *s, imap_cmd *c, int stream)
{
    size_t n = 0;
    if (s->dead) {
        imap_cmd_free(c);
        return imapi_fail(s, MV_E_CLOSED, "the connection is closed");
    }
    if (c->buf.len == 0) {
        imap_cmd_free(c);
        return imapi_fail(s, MV_E_ARG, "empty IMAP command");
    }
    if (can_pipeline(s, c, stream)) return imapi_send(s, c, 0, CONT_NONE);
    if (s->xstate == X_IDLING) {
        /* RFC 2177: nothing but DONE while idling */
        imap_cmd_free(c);
        return imapi_fail(s, MV_E_ARG, "the session is idling");
    }
    if (s->op == OP_CMD && s->xstate != X_DONE) {
        /* the command in flight goes on undisturbed; the caller reads it out first */
        imap_cmd_free(c);
        return IMAP_BUSY;
    }
    mv_error_clear(&s->pp.err);
    s->reply_failed = 0;
    s->stream = stream;
    s->op = OP_CMD;
    mv_pp_start(&s->pp);
    mv_pp_arm(&s->pp);
    n = c->buf.len == 4 && strncasecmp((const char *)c->buf.data, "IDLE", 4) == 0;
    return imapi_send(s, c, 0, n ? CONT_IDLE : CONT_NONE);
}

int imap_begin_wait(imap_session *s, int ms)
{
    if (s->dead) return imapi_fail(s, MV_E_CLOSED, "the connection is closed");
    mv_error_clear(&s->pp.err);
    s->op = OP_WAIT;
    s->wait_end = mv_now_ms() + (ms > 0 ? ms : 0);
    s->pp.deadline = s->wait_end;
    s->pp.limit = 0;
    return MV_OK;
}

int imap_begin_done(imap_session *s)
{
    if (s->dead) return imapi_fail(s, MV_E_CLOSED, "the connection is closed");
    if (s->xstate != X_IDLING) return imapi_fail(s, MV_E_ARG, "not idling");
    mv_error_clear(&s->pp.err);
    s->op = OP_CMD;
    s->xstate = X_READ;
    s->cont = CONT_NONE;
    mv_pp_start(&s->pp);
    mv_pp_arm(&s->pp);
    mv_pp_trace(&s->pp, MV_TRACE_OUT, "DONE", 4);
    return mv_pp_send_raw(&s->pp, "DONE\r\n", 6);
}

/* Waiting: untagged data for the caller until the time is up; the tagged reply to an
 * IDLE the server ended itself completes the wait too. */
static int step_wait(imap_session *s)
{
    s->take = IMAP_TAKE_NONE;
    for (;;) {
        const imap_resp *rp;
        int r = imapi_read(s);
        if (r != IMAPI_GOT) return r;
        rp = imap_parser_response(&s->parser);
        if (rp->kind == IMAP_TAGGED && s->xstate == X_IDLING) {
            s->xstate = X_READ;
            r = on_response(s);
            s->op = OP_NONE;
            return r;
        }
        if (rp->kind != IMAP_UNTAGGED)
            return imapi_fail(s, MV_E_PROTOCOL, "unexpected response while waiting");
        r = on_response(s);
        if (r != IMAPI_GOT) return r;
    }
}

void imap_after_error(imap_session *s)
{
    mv_error *e = &s->pp.err;
    if (e->kind == MV_E_TIMEOUT && mv_pp_over_limit(&s->pp) && !strstr(e->msg, "max_time"))
        snprintf(e->msg + strlen(e->msg), sizeof e->msg - strlen(e->msg),
                 " (max_time of %g s reached)", s->pp.max_time_ms / 1000.0);
    if (!mv_pp_error_keeps_session(e)) s->dead = 1;
    if (s->op == OP_OPEN) s->dead = 1;
    if (s->dead) s->op = OP_NONE;
}

int imap_step(imap_session *s)
{
    int r;
    if (s->reply_failed) {
        /* a NO/BAD was reported; pipelined commands may still be answered */
        s->reply_failed = 0;
        if (s->pp.err.kind == MV_E_REPLY) mv_error_clear(&s->pp.err);
    }
    if (s->pp.err.kind != MV_E_NONE) {
        if (s->op == OP_WAIT && s->pp.err.kind == MV_E_TIMEOUT
            && mv_now_ms() + 5 >= s->wait_end) {
            /* The wait's planned end, not a failure. */
            mv_error_clear(&s->pp.err);
            s->op = OP_NONE;
            return mv_conn_want(&s->pp.conn, MV_OK);
        }
        imap_after_error(s);
        return MV_ERROR;
    }
    switch (s->op) {
    case OP_OPEN: r = imapi_step_open(s); break;
    case OP_CMD:
        r = imapi_exchange(s);
        if (r == IMAPI_CONT) {
            if (s->cont == CONT_IDLE) {
                s->xstate = X_IDLING;
                s->op = OP_NONE;
                r = mv_conn_want(&s->pp.conn, MV_OK);
            } else {
                r = imapi_fail(s, MV_E_PROTOCOL, "unexpected continuation request");
            }
        }
        break;
    case OP_WAIT: r = step_wait(s); break;
    default: return imapi_fail(s, MV_E_ARG, "no operation in progress");
    }
    if (r == MV_ERROR) imap_after_error(s);
    return r;
}

int imap_feed(imap_session *s, const void *data, size_t len)
{
    if (s->dead) return imapi_fail(s, MV_E_CLOSED, "the connection is closed");
    if (s->op != OP_CMD || s->xstate != X_FEED)
        return imapi_fail(s, MV_E_ARG, "no literal is being sent");
    if (len > s->feed_left) {
        /* more than announced: the command can no longer be framed */
        s->dead = 1;
        return imapi_fail(s, MV_E_ARG, "the message is longer than the size announced");
    }
    if (len > 0 && mv_pp_send_raw(&s->pp, data, len) != MV_OK) return MV_ERROR;
    s->feed_left -= len;
    mv_pp_arm(&s->pp);
    return MV_OK;
}

int imap_take(const imap_session *s) { return s->take; }
const char *imap_sent_tag(const imap_session *s) { return s->tag; }
const char *imap_done_tag(const imap_session *s) { return s->done_tag; }
size_t imap_in_flight(const imap_session *s) { return mv_cmds_count(&s->sent); }
imap_events *imap_session_events(imap_session *s) { return &s->events; }

const char *imap_owner(const imap_session *s)
{
    return s->take == IMAP_TAKE_RESPONSE && s->owner[0] != '\0' ? s->owner : NULL;
}
const imap_resp *imap_response(const imap_session *s) { return imap_parser_response(&s->parser); }

const unsigned char *imap_chunk(const imap_session *s, size_t *len, imap_str *key)
{
    *len = s->chunk_len;
    *key = s->chunk_key;
    return s->chunk;
}

const mv_error *imap_error(const imap_session *s) { return &s->pp.err; }
const mv_reply *imap_last_reply(const imap_session *s) { return &s->last; }
const imap_resp *imap_tagged(const imap_session *s)
{
    return s->tagged_ok ? imap_parser_response(&s->parser) : NULL;
}
unsigned imap_caps(const imap_session *s) { return s->caps; }
unsigned imap_enabled(const imap_session *s) { return s->enabled; }
const char *imap_capability_text(const imap_session *s, size_t *len)
{
    *len = mv_buf_avail(&s->capbuf);
    return *len > 0 ? (const char *)mv_buf_head(&s->capbuf) : "";
}
const char *imap_auth_used(const imap_session *s) { return s->auth_used; }
int imap_is_dead(const imap_session *s) { return s->dead; }
int imap_is_tls(const imap_session *s) { return s->pp.conn.tls_ready; }
int imap_is_idling(const imap_session *s) { return s->xstate == X_IDLING; }
void imap_mark_dead(imap_session *s) { s->dead = 1; }
