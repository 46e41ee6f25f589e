/* A parsed part's content, its transfer encoding undone: whole, or in pieces of bounded
 * memory; an attachment's content; uuencoded blocks inside a text body. */
#ifndef MIME_PART_H
#define MIME_PART_H

#include "mime_msg.h"
#include "mime_uu.h"

MV_HIDDEN_BEGIN

/* The content of a part with its transfer encoding undone (no charset conversion).
 * Returns the number of repairs (defects) or -1 (out of memory). */
int mv_mime_part_content(const mv_mime_msg *m, size_t idx, mv_buf *out);

/* Receives decoded content piece by piece; a non-zero return stops the walk. */
typedef int (*mv_mime_each_fn)(void *ctx, const unsigned char *p, size_t n);
/* The same content as mv_mime_part_content, handed to each() in pieces decoded from
 * about `piece` input bytes at a time (0: 64 KB), so memory stays bounded by the piece
 * (CHECKLIST 45).  Returns the number of repairs, -1 when out of memory, -2 when each()
 * stopped. */
int mv_mime_part_content_each(const mv_mime_msg *m, size_t idx, size_t piece,
                              mv_mime_each_fn each, void *ctx);
/* An attachment's content (not its path's): its data, or its part decoded now.
 * mv_mime_att_each returns 0, -1 (out of memory) or -2 (each() stopped);
 * mv_mime_att_load decodes a parsed attachment into a->data for good. */
int mv_mime_att_each(const mv_mime_msg *m, const mv_mime_att *a, mv_mime_each_fn each,
                     void *ctx);
int mv_mime_att_load(const mv_mime_msg *m, mv_mime_att *a);

/* The name on a uuencode begin line, as UTF-8 without controls (a fresh string, NULL
 * when out of memory). */
char *mv_mime_uu_name(const mv_uu_block *b);
/* Takes the uuencoded blocks ("begin 644 name" .. "end") out of a text body src[0..n):
 * each becomes an attachment of m of that name, as mail clients show them, and the text
 * without them goes to rest; damaged lines add to *defects.  Returns 1 (blocks taken),
 * 0 (none: rest untouched) or -1 (out of memory). */
int mv_mime_take_uu(mv_mime_msg *m, const unsigned char *src, size_t n, mv_buf *rest,
                    int *defects);

MV_HIDDEN_END

#endif
