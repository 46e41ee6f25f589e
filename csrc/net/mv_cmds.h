/* The engine's table of commands in flight: sent, their replies not yet read.  A
 * protocol that answers in order (POP3, SMTP) uses it first in, first out; one that
 * answers by tag (IMAP, RFC 3501 §2.2.1: "A12 OK" may complete before "A11") finds and
 * removes an entry by its tag.  The table is bounded: one more command than it holds
 * fails closed (kind limit) before anything is sent. */
#ifndef MV_CMDS_H
#define MV_CMDS_H

#include <stddef.h>
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* Commands a session may have in flight: a pipelined POP3 batch, IMAP's FETCH groups. */
#define MV_CMDS_MAX 64
/* "A" and a decimal serial, with room to spare. */
#define MV_CMD_TAG_MAX 16

typedef struct mv_cmd {
    char tag[MV_CMD_TAG_MAX];    /* "" in protocols without tags */
    int verb;                    /* the protocol's command word */
    unsigned long n, arg;        /* its arguments: a message number, TOP's line count */
} mv_cmd;

typedef struct mv_cmds {
    mv_cmd slot[MV_CMDS_MAX];
    size_t head, len;            /* a ring: the oldest at head */
    size_t cap;                  /* at most MV_CMDS_MAX */
    unsigned long serial;        /* the last tag's number */
} mv_cmds;

void mv_cmds_init(mv_cmds *t);
size_t mv_cmds_count(const mv_cmds *t);
/* The i-th command in the order sent (0: the oldest), or NULL. */
mv_cmd *mv_cmds_at(mv_cmds *t, size_t i);
/* Adds an entry at the end (untagged) and returns it for the caller to fill, or NULL
 * with e set (kind limit) when the table is full. */
mv_cmd *mv_cmds_push(mv_cmds *t, mv_error *e);
/* As push, giving the entry the next tag: "A1", "A2"... */
mv_cmd *mv_cmds_push_tagged(mv_cmds *t, mv_error *e);
/* Removes the oldest entry into *out (if out is not NULL); -1 when empty. */
int mv_cmds_pop(mv_cmds *t, mv_cmd *out);
/* Removes the entry tagged `tag` (len bytes) into *out, keeping the order of the
 * others; -1 when no command has that tag (a server's reply to nothing we sent). */
int mv_cmds_take_tag(mv_cmds *t, const char *tag, size_t len, mv_cmd *out);

MV_HIDDEN_END

#endif
