/* The session's event queue: untagged data no command asked for (RFC 9051 §7: the server
 * may send it at any time) kept until the caller takes it, so nothing is lost between
 * commands.  An event is EXISTS (count), EXPUNGE (seq), RECENT (count), a FETCH of
 * flags (seq, uid, flags, modseq), VANISHED (the UIDs, earlier) or an [ALERT] (text,
 * RFC 9051 §7.1: the user must see it), with the folder selected when it came.
 *
 * The queue is bounded: past IMAP_EVENTS_MAX the oldest event is dropped and counted
 * (imap_events_dropped).  A session that is only ever read for mail and never asked for
 * its events must not fail, nor grow without end, because another client keeps
 * flagging messages; a caller that takes events sees in the count that some were lost. */
#ifndef IMAP_EVENTS_H
#define IMAP_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"
#include "mv_buf.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

#define IMAP_EVENTS_MAX 10000

enum {
    IMAP_EV_NONE = 0, IMAP_EV_EXISTS, IMAP_EV_EXPUNGE, IMAP_EV_RECENT, IMAP_EV_FLAGS,
    IMAP_EV_VANISHED, IMAP_EV_ALERT
};

typedef struct imap_event {
    int kind;
    uint32_t number;        /* count (EXISTS, RECENT) or sequence number */
    uint32_t uid;           /* FLAGS: 0 when the server did not say */
    uint64_t modseq;        /* FLAGS: 0 when none */
    int has_flags, earlier;
    size_t nflags;
    mv_buf data;            /* FLAGS: the flags, NUL after each; VANISHED: the UID set as
                             * sent; ALERT: the text as sent */
    char *folder;           /* NULL when none was selected */
} imap_event;

typedef struct imap_events {
    imap_event *v;
    size_t cap, head, n;
    unsigned long long dropped;
    char *folder;           /* the folder selected now */
    int readonly;
} imap_events;

void imap_events_init(imap_events *q);
void imap_events_free(imap_events *q);
/* The folder events are about from now on (NULL: none selected): 0, -1 out of memory. */
int imap_events_select(imap_events *q, const char *name, size_t n, int readonly);
/* Queues r when it is an event: 1 queued, 0 not an event, -1 out of memory. */
int imap_events_add(imap_events *q, const imap_resp *r);
size_t imap_events_count(const imap_events *q);
/* The oldest event, or NULL; imap_events_pop then frees it. */
const imap_event *imap_events_peek(const imap_events *q);
void imap_events_pop(imap_events *q);
unsigned long long imap_events_dropped(const imap_events *q);

MV_HIDDEN_END

#endif
