/* Shared by the files that read IMAP response data (imap_data.c, imap_body.c). */
#ifndef IMAP_DATA_INT_H
#define IMAP_DATA_INT_H

#include "imap_data.h"

MV_HIDDEN_BEGIN

#define IMAP_MAX_NUMBER 0x7fffffffffffffffULL   /* mod-sequences are 63-bit */

/* A copy of s (NULL stays NULL) in the arena. */
int imap_copy_str(imap_arena *a, imap_str s, imap_str *out, mv_error *e);
/* MV_E_PROTOCOL "malformed <what>". */
int imap_bad(mv_error *e, const char *what);
/* Value i as a string (atom, quoted, literal), NIL as the NULL string. */
int imap_nstring(const imap_resp *r, size_t i, imap_arena *a, imap_str *out, mv_error *e);

MV_HIDDEN_END

#endif
