/* The email message: one model for built and parsed messages.  Around it: the parser
 * (mime_parse.h) fills it, part decoding (mime_part.h) reads a parsed part's content,
 * the serialiser (mime_build.h) writes it out. */
#ifndef MIME_MSG_H
#define MIME_MSG_H

#include <stddef.h>

#include "mv_buf.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef struct mv_mime_hdr {
    char *name;
    char *value;        /* logical UTF-8 (address lists in display form) */
    /* A parsed field not changed since: its bytes raw[raw_off..+raw_len) (line end
     * included) are written back as they are, even where the builder would refuse the
     * value (RFC 6532 addresses, obsolete syntax).  raw_len 0: written from value. */
    size_t raw_off, raw_len;
    int raw_repair;     /* those bytes hold a NUL or a bare CR: written without them */
} mv_mime_hdr;

typedef struct mv_mime_att {
    char *path;         /* read lazily when serialised, or NULL */
    unsigned char *data;    /* NULL for a parsed attachment not yet decoded (part >= 0) */
    size_t len;             /* the decoded size, known from parse time */
    long part;          /* parsed: the part decoded on demand from m->raw, and written
                         * again as its original bytes raw[hdr_off..body_end); else -1 */
    char *name;         /* safe basename (what the default accessor gives) */
    char *raw_name;     /* as given or as found in the message */
    char *type;         /* "application/pdf" */
    char *cid;          /* Content-ID without <>, or NULL */
    int is_inline;
} mv_mime_att;

typedef struct mv_mime_part {
    int parent, depth, nchildren;
    size_t hdr_off, hdr_end, body_off, body_end;
    char *type;         /* lowercase "text/plain" */
    char *boundary;
    char *charset;
    char *filename;     /* raw name (Content-Disposition filename or Content-Type name) */
    char *disposition;  /* lowercase or NULL */
    char *cid;
    int cte;            /* MV_CTE_* */
    int ended;
} mv_mime_part;

enum { MV_CTE_7BIT, MV_CTE_8BIT, MV_CTE_BINARY, MV_CTE_QP, MV_CTE_BASE64,
       MV_CTE_UU /* x-uuencode: read, never written */ };

/* What changed in a parsed message.  Headers only: the new header block is written
 * before the original body bytes, untouched (a multipart/signed stays verifiable).
 * The body (text, html, attachments): the structure is built again, but every parsed
 * attachment still there is copied from its original bytes, not decoded and encoded. */
enum { MV_DIRTY_HEADERS = 1, MV_DIRTY_BODY = 2 };

typedef struct mv_mime_msg {
    mv_mime_hdr *h;
    size_t nh, caph;
    char *text, *html;
    size_t text_len, html_len;
    mv_mime_att *att;
    size_t natt, capatt;
    int allow_8bit;     /* the transport takes 8BITMIME */
    /* parsed messages: raw is the input, owned (raw_owned) or borrowed from the caller */
    const unsigned char *raw;
    unsigned char *raw_owned;
    size_t raw_len;
    int dirty;          /* MV_DIRTY_* bits: what changed since parsed */
    mv_mime_part *parts;
    size_t nparts, capparts;
    char **defects;
    size_t ndefects;
    unsigned gen;       /* bumped by every change; a running source notices */
    /* Boundaries a signature covers (mv_mime_source_pin): later serialisations reuse
     * them in order, so the bytes sent are the bytes signed. */
    char **pinned;
    size_t npinned;
} mv_mime_msg;

void mv_mime_init(mv_mime_msg *m);
void mv_mime_free(mv_mime_msg *m);

/* Headers by name, case-insensitive.  set replaces all (value NULL deletes). */
int mv_mime_set_header(mv_mime_msg *m, const char *name, const char *value);
int mv_mime_add_header(mv_mime_msg *m, const char *name, const char *value);
/* The parser: the header just added is the field raw[off..end) of the parsed input. */
void mv_mime_keep_raw_header(mv_mime_msg *m, size_t off, size_t end);
const char *mv_mime_get_header(const mv_mime_msg *m, const char *name, size_t idx);
int mv_mime_is_addr_header(const char *name);
/* Appends what m:header shows of m->h[i]: its value, but an address field of a parsed
 * message as written (unfolded, controls and invalid UTF-8 replaced).  0 or -1. */
int mv_mime_header_text(const mv_mime_msg *m, size_t i, mv_buf *out);
int mv_mime_set_body(mv_mime_msg *m, int html, const char *p, size_t n);
/* The same with u's bytes taken over, not copied (a body can be most of a message);
 * u is left empty.  0 or -1 (out of memory). */
int mv_mime_take_body(mv_mime_msg *m, int html, mv_buf *u);
/* Adds an attachment; data copied unless path is given.  Type guessed from the name
 * when NULL.  Fails (MV_E_ARG) on CR/LF/NUL in name, type or cid. */
int mv_mime_add_att(mv_mime_msg *m, const char *path, const void *data, size_t len,
                    const char *name, const char *type, const char *cid, int is_inline,
                    mv_error *e);
/* Adds the attachment that stands for parsed part idx: decoded on demand, len bytes
 * once decoded, named after the part (or dflt_name).  0 or -1 (out of memory). */
int mv_mime_add_part_att(mv_mime_msg *m, size_t idx, size_t len, const char *dflt_name);
void mv_mime_clear_atts(mv_mime_msg *m);
/* The default attachment name: no directory, drive, controls or leading dots. */
char *mv_mime_safe_name(const char *raw);
/* "Tue, 05 Mar 2024 10:00:00 +0000" for now, and "<hex@domain>". */
int mv_mime_date_now(char *out, size_t cap);
int mv_mime_date(char *out, size_t cap, long long when);
int mv_mime_new_message_id(char *out, size_t cap, const char *domain);
/* Appends a copy of s to the array *v of *n strings; 0, or -1 when out of memory (the
 * array stays valid and owned by the caller). */
int mv_mime_strv_push(char ***v, size_t *n, const char *s);
int mv_mime_add_defect(mv_mime_msg *m, const char *what);

MV_HIDDEN_END

#endif
