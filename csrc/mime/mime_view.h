/* What a reader asks of a message that no single field answers: the SMTP envelope its
 * headers imply, and its leaf parts as a mail reader lists them. */
#ifndef MIME_VIEW_H
#define MIME_VIEW_H

#include "mime_msg.h"

MV_HIDDEN_BEGIN

/* The envelope: the reverse path is the first address of Sender, else of From (NULL
 * when neither gives one); the recipients are the addresses of To, Cc and Bcc in that
 * order, each once (the first occurrence stays).  Resent-* fields play no part. */
typedef struct mv_mime_envelope {
    char *from;
    char **rcpts;
    size_t nrcpts;
} mv_mime_envelope;

/* Fills env (freshly initialised or zeroed) from m's headers: 0, or -1 when out of
 * memory (env is then empty again). */
int mv_mime_envelope_of(const mv_mime_msg *m, mv_mime_envelope *env);
void mv_mime_envelope_free(mv_mime_envelope *env);

/* The parsed form of a message, which its parts are read from: the message itself when
 * it was parsed and not changed since, else its serialisation parsed again. */
typedef struct mv_mime_view {
    const mv_mime_msg *m;   /* the parsed form */
    mv_mime_msg reparsed;   /* m when the message had to be written and read again */
    mv_buf wire;            /* the bytes `reparsed` reads in place */
} mv_mime_view;

/* MV_OK with v->m set, or an error (v is then closed already). */
int mv_mime_view_open(mv_mime_view *v, mv_mime_msg *m, mv_error *e);
void mv_mime_view_close(mv_mime_view *v);

/* 1 when part i of a parsed message is a leaf: neither a multipart nor a
 * message/rfc822 with parts of its own (an empty one is shown as it is). */
int mv_mime_part_is_leaf(const mv_mime_msg *m, size_t i);

/* Calls each() with every header field of part i, in order, its value unfolded and
 * decoded (RFC 2047; controls replaced); scratch holds the value between calls.
 * Returns 0, -1 when out of memory, or each()'s non-zero return. */
typedef int (*mv_mime_header_fn)(void *ctx, const char *name, size_t nlen,
                                 const char *value, size_t vlen);
int mv_mime_part_headers_each(const mv_mime_msg *m, size_t i, mv_buf *scratch,
                              mv_mime_header_fn each, void *ctx);

MV_HIDDEN_END

#endif
