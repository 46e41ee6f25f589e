/* The session's bounded event queue (imap_events.h). */
#include "imap_events.h"
#include "imap_data.h"

#include <stdlib.h>
#include <string.h>

void imap_events_init(imap_events *q)
{
    memset(q, 0, sizeof *q);
}

static void event_free(imap_event *ev)
{
    mv_buf_free(&ev->data);
    free(ev->folder);
    memset(ev, 0, sizeof *ev);
}

void imap_events_free(imap_events *q)
{
    while (q->n > 0) imap_events_pop(q);
    free(q->v);
    free(q->folder);
    memset(q, 0, sizeof *q);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int imap_events_select(imap_events *q, const char *name, size_t n, int readonly)
{
    char *f = NULL;
    if (name != NULL && (f = dup_n(name, n)) == NULL) return -1;
    free(q->folder);
    q->folder = f;
    q->readonly = name != NULL && readonly;
    return 0;
}

/* Room for one more at the tail: the oldest goes when the queue is full. */
static imap_event *tail(imap_events *q)
{
    if (q->n == IMAP_EVENTS_MAX) {
        imap_events_pop(q);
        q->dropped++;
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16, i;
        imap_event *v;
        if (cap > IMAP_EVENTS_MAX) cap = IMAP_EVENTS_MAX;
        if ((v = calloc(cap, sizeof *v)) == NULL) return NULL;
        for (i = 0; i < q->n; i++) v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->cap = cap;
        q->head = 0;
    }
    return &q->v[(q->head + q->n) % q->cap];
}

static int keep_flags(imap_event *ev, const imap_resp *r)
{
    imap_arena a;
    imap_fetch f;
    mv_error e;
    size_t i;
    int rc = 0;
    imap_arena_init(&a);
    mv_error_clear(&e);
    if (imap_parse_fetch(r, &a, &f, &e) == 0) {
        if (f.has & IMAP_F_UID) ev->uid = f.uid;
        if (f.has & IMAP_F_MODSEQ) ev->modseq = f.modseq;
        if (f.has & IMAP_F_FLAGS) {
            ev->has_flags = 1;
            ev->nflags = f.flags.n;
            for (i = 0; i < f.flags.n && rc == 0; i++)
                if (mv_buf_append(&ev->data, f.flags.v[i].s, f.flags.v[i].len) != 0
                    || mv_buf_append(&ev->data, "", 1) != 0) rc = -1;
        }
    }
    imap_arena_free(&a);
    return rc;
}

int imap_events_add(imap_events *q, const imap_resp *r)
{
    imap_event ev;
    int rc = 0;
    memset(&ev, 0, sizeof ev);
    mv_buf_init(&ev.data);
    if (r->status == IMAP_DATA) {
        if (imap_str_is(r->name, "EXISTS")) ev.kind = IMAP_EV_EXISTS;
        else if (imap_str_is(r->name, "EXPUNGE")) ev.kind = IMAP_EV_EXPUNGE;
        else if (imap_str_is(r->name, "RECENT")) ev.kind = IMAP_EV_RECENT;
        else if (imap_str_is(r->name, "FETCH")) ev.kind = IMAP_EV_FLAGS;
        else if (imap_str_is(r->name, "VANISHED")) ev.kind = IMAP_EV_VANISHED;
        else return 0;
        ev.number = (uint32_t)r->number;
        if (ev.kind == IMAP_EV_FLAGS) {
            rc = keep_flags(&ev, r);
        } else if (ev.kind == IMAP_EV_VANISHED && r->count > 0) {
            size_t i = 0;
            imap_str set;
            if (r->nodes[0].type == IMAP_V_LIST) {
                ev.earlier = 1;
                i = imap_next(r, 0);
            }
            if (i < r->count && (set = imap_node_str(r, i)).s != NULL)
                rc = mv_buf_append(&ev.data, set.s, set.len);
        }
    } else if (r->code.s != NULL && imap_str_is(r->code, "ALERT")) {
        ev.kind = IMAP_EV_ALERT;
        if (r->text.s != NULL) rc = mv_buf_append(&ev.data, r->text.s, r->text.len);
    } else {
        return 0;
    }
    if (rc == 0 && q->folder != NULL && (ev.folder = dup_n(q->folder, strlen(q->folder))) == NULL)
        rc = -1;
    if (rc == 0) {
        imap_event *slot = tail(q);
        if (slot == NULL) {
            rc = -1;
        } else {
            *slot = ev;
            q->n++;
            return 1;
        }
    }
    event_free(&ev);
    return -1;
}

size_t imap_events_count(const imap_events *q) { return q->n; }

const imap_event *imap_events_peek(const imap_events *q)
{
    return q->n > 0 ? &q->v[q->head] : NULL;
}

void imap_events_pop(imap_events *q)
{
    if (q->n == 0) return;
    event_free(&q->v[q->head]);
    q->head = (q->head + 1) % q->cap;
    q->n--;
}

unsigned long long imap_events_dropped(const imap_events *q) { return q->dropped; }
