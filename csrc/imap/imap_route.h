/* Which command in flight an untagged response answers (RFC 9051 §2.2.2, §7): each
 * command, when it is sent, records the untagged data that make up its result, and the
 * session hands each untagged response to the oldest command in flight that collects
 * it; what none collects is an event (imap_events.h).
 *
 * What a command collects follows from its verb:
 *   SELECT, EXAMINE      EXISTS, RECENT, FLAGS, and status responses with the codes
 *                        UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, UNSEEN, PERMANENTFLAGS
 *   LIST                 LIST             STATUS   STATUS
 *   [UID] SEARCH         SEARCH, ESEARCH  ID       ID
 *   [UID] COPY, MOVE     status responses with the code COPYUID
 *   UID FETCH set        FETCH responses carrying a UID in the set; a set with "*"
 *                        (its end is the server's) takes any FETCH carrying a UID
 * Every other command collects nothing (STORE's FETCH echoes, NOOP, IDLE: events).
 * The UID set is kept as ranges, as many as the command's set has: its size is bounded
 * by the command itself. */
#ifndef IMAP_ROUTE_H
#define IMAP_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "imap_data.h"
#include "imap_parse.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

enum {
    IMAP_COLLECT_SELECT = 1, IMAP_COLLECT_LIST = 2, IMAP_COLLECT_STATUS = 4,
    IMAP_COLLECT_SEARCH = 8, IMAP_COLLECT_ID = 16, IMAP_COLLECT_COPYUID = 32,
    IMAP_COLLECT_FETCH = 64
};

typedef struct imap_route {
    unsigned collects;      /* IMAP_COLLECT_* */
    int any_uid;            /* FETCH: any UID (a set ending at "*") */
    size_t n;               /* FETCH: the UID ranges asked for */
    imap_range *v;
} imap_route;

/* Records what the command text (without its tag) collects; an earlier route in rt is
 * freed first.  -1 with e set when out of memory. */
int imap_route_set(imap_route *rt, const unsigned char *cmd, size_t len, mv_error *e);
void imap_route_free(imap_route *rt);
/* 1 when the untagged response r belongs to the command's result. */
int imap_route_collects(const imap_route *rt, const imap_resp *r);

MV_HIDDEN_END

#endif
