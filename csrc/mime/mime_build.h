/* The serialiser: a parsed or built message as bytes, streamed (a pull "source"). */
#ifndef MIME_BUILD_H
#define MIME_BUILD_H

#include "mime_msg.h"

MV_HIDDEN_BEGIN

/* Streaming serialiser: pull chunks until *n == 0. */
typedef struct mv_mime_source mv_mime_source;
mv_mime_source *mv_mime_source_new(mv_mime_msg *m, mv_error *e);
int mv_mime_source_read(mv_mime_source *s, unsigned char *buf, size_t cap, size_t *n,
                        mv_error *e);
void mv_mime_source_free(mv_mime_source *s);
/* Keeps the boundaries this source chose in its message, for every later source to
 * reuse (a DKIM body hash covers them).  0 or -1 (out of memory). */
int mv_mime_source_pin(mv_mime_source *s);
/* The whole message in one buffer (through the source). */
int mv_mime_serialize(mv_mime_msg *m, mv_buf *out, mv_error *e);

MV_HIDDEN_END

#endif
