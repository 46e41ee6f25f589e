/* What to send for an operation, decided from the server's capabilities: the steps of a
 * move or a delete (MOVE, RFC 6851; else COPY, STORE \Deleted and UID EXPUNGE of exactly
 * those UIDs with UIDPLUS, RFC 4315 — never a bare EXPUNGE, which removes every
 * message flagged \Deleted by any client, unless the caller asks), the STORE item, the
 * FETCH items behind the friendly names, the section item of one part (BINARY, RFC 3516,
 * when offered), the STATUS items, and the names that mark a special folder on a server
 * without SPECIAL-USE (RFC 6154). */
#ifndef IMAP_OPS_H
#define IMAP_OPS_H

#include <stddef.h>

#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* Steps of a move or a delete, in the order they go out. */
enum {
    IMAP_STEP_MOVE = 1, IMAP_STEP_COPY = 2, IMAP_STEP_STORE_DELETED = 4,
    IMAP_STEP_UID_EXPUNGE = 8, IMAP_STEP_EXPUNGE = 16
};
/* move: UID MOVE, else COPY + STORE \Deleted + UID EXPUNGE (UIDPLUS) or, only when
 * expunge_all, EXPUNGE.  caps: IMAP_CAP_* bits. */
unsigned imap_move_steps(unsigned caps, int expunge_all);
/* delete: STORE \Deleted, then UID EXPUNGE (UIDPLUS) or, only when expunge_all, EXPUNGE. */
unsigned imap_delete_steps(unsigned caps, int expunge_all);

/* "+" "-" "=" -> "+FLAGS.SILENT", "-FLAGS.SILENT", "FLAGS.SILENT"; NULL otherwise. */
const char *imap_store_item(const char *op, size_t n);
/* A friendly FETCH name ("headers", "size"...) -> its item ("BODY.PEEK[HEADER]",
 * "RFC822.SIZE"); NULL for any other (a raw item, checked as an atom when sent). */
const char *imap_fetch_item(const char *name, size_t n);
/* The item fetching one section without setting \Seen: BINARY.PEEK[1.2] for a numbered
 * part when the server has BINARY (decoded content; *binary = 1), else BODY.PEEK[...].
 * 0, or -1 when out is too small. */
int imap_part_item(unsigned caps, const char *section, size_t n, char *out, size_t cap,
                   int *binary);
/* STATUS items: MESSAGES UIDNEXT UIDVALIDITY UNSEEN, and HIGHESTMODSEQ with CONDSTORE. */
const char *const *imap_status_items(unsigned caps, size_t *n);

/* The special-use kind a folder's last name suggests ("Sent Items" -> "sent"), for a
 * server without SPECIAL-USE, or NULL.  delim: the hierarchy delimiter, -1 for none. */
const char *imap_special_by_name(const char *name, size_t n, int delim);

MV_HIDDEN_END

#endif
