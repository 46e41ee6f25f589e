/* The sender thread and its queue.  One mutex guards everything shared (the queue, the
 * outcome records, the flags, the socket number and the token question); the SMTP
 * session and its TLS context belong to the thread alone.  Two condition variables:
 * `work` wakes the thread (a job, an answer, a stop), `done` wakes whoever waits for
 * outcomes or for a question to answer. */
#include "smtp_async.h"
#include "mv_net.h"
#include "mv_open.h"
#include "mv_str.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

typedef struct job {
    struct job *next;
    long long id;
    char *from;
    char **rcpts;
    size_t nrcpt;
    char *data;
    size_t len;
    /* The DSN requests, copied (rcpt_notify and orcpt: nrcpt entries, or NULL). */
    smtp_dsn dsn;
    unsigned *rcpt_notify;
    char **orcpt;
} job;

typedef struct record {
    smtp_async_state state;
    mv_reply reply;
    mv_error err;
    smtp_rcpt *rcpts;
    size_t nrcpt;
} record;

struct smtp_async {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pthread_t thread;
    job *head, *tail;
    record *recs;           /* id n is recs[n - 1] */
    size_t nrecs, caprecs;
    size_t pending;         /* queued + in flight */
    int closing;            /* flush, then QUIT */
    int abandon;            /* stop now: no more sends, no QUIT */
    int thread_done;
    int detached;           /* the thread frees everything when it ends */
    int fd;                 /* the thread's socket, so abandon can shut it down */
    /* OAuth tokens from the owner (opts.cfg.token_fn): the thread's question and the
     * owner's answer (smtp_async.h). */
    int token_asked;        /* why the thread waits for a token (MV_TOKEN_*), or 0 */
    int token_answered;     /* the owner answered: token, or token_why */
    char *token;            /* the answer, a secret until the thread takes it */
    size_t token_len;
    char token_why[256];    /* why there is no token */
    int token_refused;      /* an open with the owner's tokens failed (kind auth) */
    /* The options, copied: a reconnect needs them after the caller's strings are gone. */
    smtp_opts opts;
};

static char *dup_str(const char *s, int *oom)
{
    char *c = mv_strdup(s);
    if (s != NULL && c == NULL) *oom = 1;
    return c;
}

/* The copies in a->opts are ours: the cast drops the const of the caller's view. */
static void free_opts(smtp_async *a)
{
    mv_cfg_free(&a->opts.cfg);
    free((void *)(size_t)a->opts.helo);
    memset(&a->opts, 0, sizeof a->opts);
}

static int copy_opts(smtp_async *a, const smtp_opts *s, mv_error *e)
{
    smtp_opts *d = &a->opts;
    int oom = 0;
    *d = *s;
    d->helo = dup_str(s->helo, &oom);
    if (oom) return mv_fail(e, MV_E_MEMORY, "out of memory");
    return mv_cfg_copy(&d->cfg, &s->cfg, e);
}

static void free_job(job *j)
{
    size_t i;
    if (j == NULL) return;
    for (i = 0; i < j->nrcpt; i++) {
        free(j->rcpts[i]);
        if (j->orcpt != NULL) free(j->orcpt[i]);
    }
    free(j->rcpts);
    free(j->orcpt);
    free(j->rcpt_notify);
    free((void *)(size_t)j->dsn.envid);
    free(j->from);
    free(j->data);
    free(j);
}

static void free_rcpts(smtp_rcpt *r, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) free(r[i].addr);
    free(r);
}

/* Overwrites n bytes of a token before freeing them (it may hold a NUL the session
 * will refuse, so mv_free_secret's NUL-terminated wipe would stop short). */
static void free_token(char *tok, size_t n)
{
    volatile char *v = tok;
    size_t i;
    if (tok == NULL) return;
    for (i = 0; i < n; i++) v[i] = 0;
    free(tok);
}

/* An answer nobody took.  Mutex held, or the handle is the caller's alone. */
static void wipe_token(smtp_async *a)
{
    free_token(a->token, a->token_len);
    a->token = NULL;
    a->token_len = 0;
}

static void free_all(smtp_async *a)
{
    size_t i;
    job *j = a->head;
    while (j != NULL) {
        job *next = j->next;
        free_job(j);
        j = next;
    }
    for (i = 0; i < a->nrecs; i++) free_rcpts(a->recs[i].rcpts, a->recs[i].nrcpt);
    free(a->recs);
    wipe_token(a);
    free_opts(a);
    pthread_cond_destroy(&a->work);
    pthread_cond_destroy(&a->done);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* ------------------------------------------------------------------ the thread */

typedef struct conn {
    smtp_session *s;
    mv_net net;
    int used;        /* a message went over it: it may have gone stale since */
} conn;

static int step_fn(void *s) { return smtp_step(s); }

static int run(conn *c)
{
    return mv_net_run(&c->net, smtp_pp(c->s), step_fn, c->s);
}

static void set_fd(smtp_async *a, int fd)
{
    pthread_mutex_lock(&a->mu);
    a->fd = fd;
    pthread_mutex_unlock(&a->mu);
}

static void drop(smtp_async *a, conn *c)
{
    set_fd(a, -1);
    mv_net_close(&c->net);
    if (c->s != NULL) smtp_free(c->s);
    c->s = NULL;
    c->used = 0;
}

/* The open stopped for an OAuth token (MV_WANT_TOKEN): the question goes to the owner,
 * whose next call answers it; the thread waits for that, or for close or abandon,
 * which fail it.  The answer goes to the session, and its copy here is wiped. */
static void ask_owner(smtp_async *a, conn *c)
{
    mv_pp *pp = smtp_pp(c->s);
    char why[sizeof a->token_why];
    char *tok = NULL;
    size_t n = 0;
    pthread_mutex_lock(&a->mu);
    a->token_asked = pp->token_asked;
    a->token_answered = 0;
    pthread_cond_broadcast(&a->done);   /* a wait() in the owner's thread answers */
    while (!a->token_answered && !a->closing && !a->abandon)
        pthread_cond_wait(&a->work, &a->mu);
    if (a->token_answered) {
        tok = a->token;
        n = a->token_len;
        a->token = NULL;
        a->token_len = 0;
        memcpy(why, a->token_why, sizeof why);
    } else {
        snprintf(why, sizeof why, "the session was %s while its sender waited for an "
                 "OAuth token", a->abandon ? "collected" : "closed");
    }
    a->token_asked = MV_TOKEN_NONE;
    a->token_answered = 0;
    pthread_mutex_unlock(&a->mu);
    if (tok == NULL) {
        mv_open_token_refuse(pp, why);
        return;
    }
    (void)mv_open_token_answer(pp, tok, n);   /* a refusal is in pp->err */
    free_token(tok, n);
}

/* Runs the open, answering its token questions. */
static int run_open(smtp_async *a, conn *c)
{
    int r = run(c);
    while (r == MV_WANT_TOKEN) {
        ask_owner(a, c);
        r = run(c);
    }
    return r;
}

static int open_conn(smtp_async *a, conn *c, mv_error *e)
{
    int loopback = 0;
    if (mv_net_connect(&c->net, a->opts.cfg.host, a->opts.cfg.port, a->opts.cfg.timeout_ms,
                       &loopback, e) != MV_OK)
        return MV_ERROR;
    set_fd(a, c->net.fd);
    c->s = smtp_new();
    if (c->s == NULL) {
        drop(a, c);
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    }
    smtp_pp(c->s)->timeout_ms = a->opts.cfg.timeout_ms;
    if (smtp_configure(c->s, &a->opts) != MV_OK) goto fail;
    smtp_set_peer_loopback(c->s, loopback);
    if (smtp_begin_open(c->s) != MV_OK || run_open(a, c) != MV_OK) goto fail;
    return MV_OK;
fail:
    *e = *smtp_error(c->s);
    drop(a, c);
    if (e->kind == MV_E_AUTH && a->opts.cfg.token_fn) {
        /* the owner's kept token is not offered again */
        pthread_mutex_lock(&a->mu);
        a->token_refused = 1;
        pthread_mutex_unlock(&a->mu);
    }
    return MV_ERROR;
}

/* One transaction on an open connection: MV_OK or MV_ERROR (details in the session). */
static int transact(conn *c, const job *j)
{
    size_t pos = 0;
    int r = smtp_begin_send(c->s, j->from, (const char *const *)j->rcpts, j->nrcpt,
                            (unsigned long long)j->len, mv_has_8bit(j->data, j->len),
                            &j->dsn);
    if (r != MV_OK) return smtp_step(c->s);  /* classifies the failure */
    c->used = 1;
    r = run(c);
    while (r == MV_WANT_BODY) {
        if (pos < j->len) {
            size_t n = j->len - pos > SMTP_FEED_SLICE ? SMTP_FEED_SLICE : j->len - pos;
            r = smtp_feed(c->s, j->data + pos, n);
            pos += n;
        } else {
            r = smtp_feed_end(c->s);
        }
        r = r == MV_OK ? run(c) : smtp_step(c->s);
    }
    return r == MV_OK ? MV_OK : MV_ERROR;
}

/* A copy of n recipients and their replies; *copied says how many made it (all, or
 * those before memory ran out). */
static smtp_rcpt *copy_rcpts(const smtp_rcpt *src, size_t n, size_t *copied)
{
    smtp_rcpt *d;
    size_t i;
    *copied = 0;
    if (n == 0 || (d = calloc(n, sizeof *d)) == NULL) return NULL;
    for (i = 0; i < n; i++) {
        int oom = 0;
        d[i].addr = dup_str(src[i].addr, &oom);
        if (oom) break;
        d[i].reply = src[i].reply;
        *copied = i + 1;
    }
    return d;
}

static void fill_rcpts(record *out, const smtp_session *s)
{
    size_t n = smtp_rcpt_count(s);
    out->rcpts = copy_rcpts(n > 0 ? smtp_rcpt_at(s, 0) : NULL, n, &out->nrcpt);
}

/* A connection that sat idle may have been closed by the server (Postfix says 421 and
 * hangs up after its timeout).  A failure of that sort before the final dot means the
 * message was not taken, so it is worth one more try on a fresh connection. */
static int stale(const mv_error *e)
{
    return e->kind == MV_E_CLOSED || e->kind == MV_E_IO || e->kind == MV_E_TLS
        || (e->kind == MV_E_REPLY && e->has_reply && e->reply.code == 421);
}

static void send_job(smtp_async *a, conn *c, const job *j, record *out)
{
    int attempt;
    for (attempt = 0; attempt < 2; attempt++) {
        int reused = c->s != NULL && c->used;
        mv_error_clear(&out->err);
        if (c->s == NULL && open_conn(a, c, &out->err) != MV_OK) {
            out->state = SMTP_ASYNC_FAILED;
            if (out->err.has_reply) out->reply = out->err.reply;
            return;
        }
        if (transact(c, j) == MV_OK) {
            out->state = SMTP_ASYNC_SENT;
            out->reply = *smtp_last_reply(c->s);
            fill_rcpts(out, c->s);
            return;
        }
        out->err = *smtp_error(c->s);
        if (out->err.has_reply) out->reply = out->err.reply;
        out->state = out->err.kind == MV_E_UNCERTAIN ? SMTP_ASYNC_UNCERTAIN : SMTP_ASYNC_FAILED;
        if (out->state == SMTP_ASYNC_FAILED) fill_rcpts(out, c->s);
        if (!smtp_is_dead(c->s)) return;
        drop(a, c);
        if (out->state == SMTP_ASYNC_UNCERTAIN || !reused || !stale(&out->err)) return;
        free_rcpts(out->rcpts, out->nrcpt);
        out->rcpts = NULL;
        out->nrcpt = 0;
        pthread_mutex_lock(&a->mu);
        attempt += a->abandon;   /* a collector is waiting: no second try */
        pthread_mutex_unlock(&a->mu);
    }
}

static void quit(smtp_async *a, conn *c)
{
    if (c->s == NULL) return;
    if (!smtp_is_dead(c->s) && smtp_begin_command(c->s, "QUIT") == MV_OK) {
        (void)run(c);
        mv_conn_close_notify(&smtp_pp(c->s)->conn);
        mv_pp_arm(smtp_pp(c->s));
        (void)mv_net_flush(&c->net, smtp_pp(c->s));
    }
    drop(a, c);
}

/* The next job, waited for; NULL when the thread is to stop (abandoned, or closing with
 * nothing left).  Called and returns with the mutex held. */
static job *take_job(smtp_async *a)
{
    job *j;
    while (a->head == NULL && !a->closing && !a->abandon)
        pthread_cond_wait(&a->work, &a->mu);
    if (a->abandon || a->head == NULL) return NULL;
    j = a->head;
    a->head = j->next;
    if (a->head == NULL) a->tail = NULL;
    a->recs[j->id - 1].state = SMTP_ASYNC_SENDING;
    return j;
}

/* Makes a message's outcome readable and wakes whoever waits.  Mutex held. */
static void publish(smtp_async *a, long long id, record *r)
{
    r->reply.text[sizeof r->reply.text - 1] = '\0';
    a->recs[id - 1] = *r;
    a->pending--;
    pthread_cond_broadcast(&a->done);
}

/* Whatever is still queued when the thread stops was never sent.  Mutex held; returns
 * whether the session was abandoned (then no QUIT). */
static int fail_unsent(smtp_async *a)
{
    job *j;
    while ((j = a->head) != NULL) {
        record *r = &a->recs[j->id - 1];
        a->head = j->next;
        r->state = SMTP_ASYNC_FAILED;
        mv_fail(&r->err, MV_E_CLOSED, "the session was collected before this message "
                "was sent: message not sent");
        a->pending--;
        free_job(j);
    }
    a->tail = NULL;
    return a->abandon;
}

/* Says the thread is over; a detached thread frees everything itself. */
static void end_thread(smtp_async *a)
{
    int detached;
    pthread_mutex_lock(&a->mu);
    a->thread_done = 1;
    detached = a->detached;
    pthread_cond_broadcast(&a->done);
    pthread_mutex_unlock(&a->mu);
    if (detached) free_all(a);
}

static void *thread_main(void *arg)
{
    smtp_async *a = arg;
    conn c = { NULL, { -1, 0, 0 }, 0 };
    int abandon;
    job *j;
    mv_error e;
    mv_error_clear(&e);
    /* Connect before the first message is queued: it then goes out without the wait.
     * Not with tokens from the owner: each connection asks for one, and a question for
     * no message would wait for the owner's next call to no purpose. */
    if (!a->opts.cfg.token_fn && open_conn(a, &c, &e) != MV_OK)
        mv_error_clear(&e);  /* the first send retries */
    pthread_mutex_lock(&a->mu);
    while ((j = take_job(a)) != NULL) {
        long long id = j->id;
        record r;
        pthread_mutex_unlock(&a->mu);
        memset(&r, 0, sizeof r);
        send_job(a, &c, j, &r);
        free_job(j);
        pthread_mutex_lock(&a->mu);
        publish(a, id, &r);
    }
    abandon = fail_unsent(a);
    pthread_mutex_unlock(&a->mu);
    if (abandon) drop(a, &c); else quit(a, &c);
    end_thread(a);
    return NULL;
}

/* ------------------------------------------------------------------ the caller's side */

smtp_async *smtp_async_new(const smtp_opts *o, mv_error *e)
{
    smtp_async *a;
    smtp_session *probe;
    pthread_condattr_t ca;
    /* Every option is checked here, before any thread or byte exists. */
    probe = smtp_new();
    if (probe == NULL) { mv_fail(e, MV_E_MEMORY, "out of memory"); return NULL; }
    if (smtp_configure(probe, o) != MV_OK) {
        *e = *smtp_error(probe);
        smtp_free(probe);
        return NULL;
    }
    smtp_free(probe);
    a = calloc(1, sizeof *a);
    if (a == NULL) { mv_fail(e, MV_E_MEMORY, "out of memory"); return NULL; }
    a->fd = -1;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->work, NULL);
    pthread_cond_init(&a->done, &ca);
    pthread_condattr_destroy(&ca);
    if (copy_opts(a, o, e) != MV_OK) {
        free_all(a);
        return NULL;
    }
    if (pthread_create(&a->thread, NULL, thread_main, a) != 0) {
        free_all(a);
        mv_fail(e, MV_E_MEMORY, "cannot start the sender thread");
        return NULL;
    }
    return a;
}

/* The job's own copy of the DSN requests: 0, or -1 without the memory. */
static int copy_dsn(job *j, const smtp_dsn *d, size_t n)
{
    int oom = 0;
    size_t i;
    if (d == NULL) return 0;
    j->dsn.notify = d->notify;
    j->dsn.ret = d->ret;
    j->dsn.envid = dup_str(d->envid, &oom);
    if (d->rcpt_notify != NULL) {
        j->rcpt_notify = malloc((n ? n : 1) * sizeof *j->rcpt_notify);
        if (j->rcpt_notify == NULL) return -1;
        memcpy(j->rcpt_notify, d->rcpt_notify, n * sizeof *j->rcpt_notify);
        j->dsn.rcpt_notify = j->rcpt_notify;
    }
    if (d->orcpt != NULL) {
        j->orcpt = calloc(n ? n : 1, sizeof *j->orcpt);
        if (j->orcpt == NULL) return -1;
        for (i = 0; i < n; i++) j->orcpt[i] = dup_str(d->orcpt[i], &oom);
        j->dsn.orcpt = (const char *const *)j->orcpt;
    }
    return oom ? -1 : 0;
}

/* A copy of a message and its envelope, or NULL without the memory. */
static job *new_job(const char *from, const char *const *rcpts, size_t n, const char *data,
                    size_t len, const smtp_dsn *dsn)
{
    job *j = calloc(1, sizeof *j);
    int oom = 0;
    size_t i;
    if (j == NULL) return NULL;
    j->from = dup_str(from, &oom);
    j->rcpts = calloc(n ? n : 1, sizeof *j->rcpts);
    j->data = malloc(len ? len : 1);
    if (oom || j->rcpts == NULL || j->data == NULL) goto oom;
    for (i = 0; i < n; i++) {
        j->rcpts[i] = dup_str(rcpts[i], &oom);
        if (oom) goto oom;
        j->nrcpt = i + 1;
    }
    if (copy_dsn(j, dsn, n) != 0) goto oom;
    memcpy(j->data, data, len);
    j->len = len;
    return j;
oom:
    free_job(j);
    return NULL;
}

/* Room for one more outcome record.  Mutex held. */
static int grow_records(smtp_async *a)
{
    size_t cap;
    record *nr;
    if (a->nrecs < a->caprecs) return 0;
    cap = a->caprecs ? a->caprecs * 2 : 16;
    nr = realloc(a->recs, cap * sizeof *nr);
    if (nr == NULL) return -1;
    a->recs = nr;
    a->caprecs = cap;
    return 0;
}

long long smtp_async_submit(smtp_async *a, const char *from, const char *const *rcpts, size_t n,
                            const char *data, size_t len, const smtp_dsn *dsn, mv_error *e)
{
    job *j;
    long long id;
    if (smtp_dsn_check(dsn, n, e) != MV_OK) return -1;
    j = new_job(from, rcpts, n, data, len, dsn);
    if (j == NULL) {
        mv_fail(e, MV_E_MEMORY, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&a->mu);
    if (a->closing || a->abandon || a->thread_done) {
        pthread_mutex_unlock(&a->mu);
        free_job(j);
        mv_fail(e, MV_E_CLOSED, "the session is closing");
        return -1;
    }
    if (grow_records(a) != 0) {
        pthread_mutex_unlock(&a->mu);
        free_job(j);
        mv_fail(e, MV_E_MEMORY, "out of memory");
        return -1;
    }
    memset(&a->recs[a->nrecs], 0, sizeof a->recs[0]);
    a->recs[a->nrecs].state = SMTP_ASYNC_PENDING;
    id = (long long)++a->nrecs;
    j->id = id;
    if (a->tail) a->tail->next = j; else a->head = j;
    a->tail = j;
    a->pending++;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
    return id;
}

int smtp_async_result(smtp_async *a, long long id, smtp_async_res *out)
{
    record *r;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&a->mu);
    if (id < 1 || (size_t)id > a->nrecs) {
        pthread_mutex_unlock(&a->mu);
        return -1;
    }
    r = &a->recs[id - 1];
    out->state = r->state;
    out->reply = r->reply;
    out->err = r->err;
    out->rcpts = copy_rcpts(r->rcpts, r->nrcpt, &out->nrcpt);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

void smtp_async_res_free(smtp_async_res *r)
{
    free_rcpts(r->rcpts, r->nrcpt);
    r->rcpts = NULL;
    r->nrcpt = 0;
}

static int is_done(smtp_async *a, long long id)
{
    if (id == 0) return a->pending == 0;
    return a->recs[id - 1].state != SMTP_ASYNC_PENDING
        && a->recs[id - 1].state != SMTP_ASYNC_SENDING;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* A question for the owner that is not answered yet.  Mutex held. */
static int token_open(const smtp_async *a)
{
    return a->token_asked != MV_TOKEN_NONE && !a->token_answered;
}

/* Milliseconds from now to ts, at least 0. */
static int ms_until(const struct timespec *ts)
{
    struct timespec now;
    long long ms;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long long)(ts->tv_sec - now.tv_sec) * 1000
        + (ts->tv_nsec - now.tv_nsec) / 1000000L;
    return ms < 0 ? 0 : ms > 2000000000 ? 2000000000 : (int)ms;
}

int smtp_async_wait(smtp_async *a, long long id, int timeout_ms, int *left_ms)
{
    struct timespec ts;
    int r = 1;
    if (timeout_ms >= 0) deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&a->mu);
    if (id < 0 || (id > 0 && (size_t)id > a->nrecs)) {
        pthread_mutex_unlock(&a->mu);
        return -1;
    }
    while (!is_done(a, id)) {
        if (token_open(a)) {
            r = 2;
            *left_ms = timeout_ms < 0 ? -1 : ms_until(&ts);
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&a->done, &a->mu);
        } else if (pthread_cond_timedwait(&a->done, &a->mu, &ts) == ETIMEDOUT) {
            r = is_done(a, id);
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return r;
}

size_t smtp_async_pending(smtp_async *a)
{
    size_t n;
    pthread_mutex_lock(&a->mu);
    n = a->pending;
    pthread_mutex_unlock(&a->mu);
    return n;
}

int smtp_async_token_asked(smtp_async *a, int *refused)
{
    int reason;
    pthread_mutex_lock(&a->mu);
    reason = token_open(a) ? a->token_asked : MV_TOKEN_NONE;
    *refused = a->token_refused;
    a->token_refused = 0;
    pthread_mutex_unlock(&a->mu);
    return reason;
}

int smtp_async_token_answer(smtp_async *a, const char *tok, size_t n, const char *why)
{
    char *copy = NULL;
    if (tok != NULL) {
        if ((copy = malloc(n + 1)) == NULL) return -1;
        memcpy(copy, tok, n);
        copy[n] = '\0';
    }
    pthread_mutex_lock(&a->mu);
    if (!token_open(a)) {
        /* nobody asks (any more): the answer is dropped */
        pthread_mutex_unlock(&a->mu);
        free_token(copy, n);
        return 1;
    }
    wipe_token(a);
    a->token = copy;
    a->token_len = n;
    snprintf(a->token_why, sizeof a->token_why, "%s",
             why != NULL ? why : "no token from the token function");
    a->token_answered = 1;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

void smtp_async_close(smtp_async *a)
{
    pthread_mutex_lock(&a->mu);
    a->closing = 1;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
}

void smtp_async_free(smtp_async *a)
{
    if (a != NULL) free_all(a);
}

static int wait_thread(smtp_async *a, int ms)
{
    struct timespec ts;
    deadline_in(&ts, ms);
    while (!a->thread_done)
        if (pthread_cond_timedwait(&a->done, &a->mu, &ts) == ETIMEDOUT) break;
    return a->thread_done;
}

int smtp_async_abandon(smtp_async *a, int grace_ms)
{
    int done;
    pthread_mutex_lock(&a->mu);
    a->abandon = 1;
    pthread_cond_signal(&a->work);
    done = wait_thread(a, grace_ms);
    if (!done && a->fd >= 0) {
        /* Wakes the thread's poll at once: the send in flight fails (or is uncertain). */
        shutdown(a->fd, SHUT_RDWR);
        done = wait_thread(a, grace_ms);
    }
    if (!done) {
        a->detached = 1;
        pthread_detach(a->thread);
        pthread_mutex_unlock(&a->mu);
        return 1;
    }
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    free_all(a);
    return 0;
}
