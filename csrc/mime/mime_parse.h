/* The parser: raw message bytes into the model (mime_msg.h), damage repaired and listed. */
#ifndef MIME_PARSE_H
#define MIME_PARSE_H

#include "mime_msg.h"

MV_HIDDEN_BEGIN

typedef struct mv_mime_limits {
    size_t max_depth;         /* nesting of multipart and message/rfc822 */
    size_t max_parts;
    size_t max_headers;       /* fields per header block */
    size_t max_header_bytes;  /* bytes per header block */
} mv_mime_limits;

/* The MV_DEFAULT_MIME_* caps of mv_defaults.h. */
void mv_mime_limits_default(mv_mime_limits *l);
/* Parses p[0..n) (copied into m->raw) into m, which must be freshly initialised.
 * Damage is repaired and listed in m->defects; a cap fails with kind MV_E_LIMIT. */
int mv_mime_parse(mv_mime_msg *m, const void *p, size_t n, const mv_mime_limits *lim,
                  mv_error *e);
/* The same without the copy: m->raw points at p, which is never written and must stay
 * unchanged and alive until mv_mime_free(m) (the binding anchors the Lua string). */
int mv_mime_parse_borrowed(mv_mime_msg *m, const void *p, size_t n,
                           const mv_mime_limits *lim, mv_error *e);
/* Iterates the header fields in raw[off..end): returns 1 with name/value (folded, raw)
 * and advances *pos, or 0 at the end. */
int mv_mime_next_header(const unsigned char *raw, size_t end, size_t *pos,
                        const char **name, size_t *nlen, const char **val, size_t *vlen);

MV_HIDDEN_END

#endif
