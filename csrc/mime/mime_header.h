/* Header fields: RFC 2047 encoded-words, RFC 2231 parameters, RFC 5322 address lists
 * and folding.  Values inside the library are UTF-8 "logical" text; these functions
 * move between that and the 7-bit wire form. */
#ifndef MIME_HEADER_H
#define MIME_HEADER_H

#include <stddef.h>

#include "mv_buf.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* Caps (CHECKLIST 49, 53): parameters per header, segments per RFC 2231 parameter,
 * nesting of comments in an address list. */
#define MV_HDR_MAX_PARAMS 64
#define MV_HDR_MAX_SEGMENTS 64
#define MV_HDR_MAX_COMMENT_DEPTH 32
#define MV_HDR_MAX_ADDRS 10000
#define MV_HDR_MAX_TOKENS 4096      /* words and specials in one mailbox */

/* 1 when the name is 1..76 printable ASCII characters without ':' (RFC 5322 ftext). */
int mv_hdr_name_ok(const char *name, size_t n);
/* 1 when the value has no C0 control but TAB, and no DEL (what a caller may hand us):
 * besides CR, LF and NUL, readers turn VT and FF into line breaks when they write the
 * message again (Python's email does), and ESC reaches terminals. */
int mv_hdr_value_ok(const char *v, size_t n);

/* Appends "Name: value\r\n" for an unstructured value (Subject, custom headers):
 * non-ASCII words become RFC 2047 B encoded-words of <= 75 characters that never split
 * a UTF-8 character, lines are folded at whitespace to <= 78 columns where possible. */
int mv_hdr_write_text(mv_buf *out, const char *name, const char *v, size_t n);
/* Appends an already-ASCII structured value (Date, Message-ID, Content-Type built by
 * us), folding at "; " boundaries. */
int mv_hdr_write_raw(mv_buf *out, const char *name, const char *v, size_t n);

/* Decodes an unstructured wire value (unfolded) to UTF-8: encoded-words decoded and
 * joined (whitespace between adjacent words dropped), 8-bit bytes kept when UTF-8, else
 * read as Latin-1, and controls (CR, LF, NUL, ESC, ...) replaced by U+FFFD.  Each
 * repair adds to *defects. */
int mv_hdr_decode_text(const char *v, size_t n, mv_buf *out, int *defects);
/* Test hook: when set, the RFC 2047 scanner adds the bytes it examines here, so a test
 * can prove the work linear in the value's length without timing it. */
extern unsigned long *mv_hdr_work;
/* Unfolds (drops CR and LF) and trims blanks; returns a fresh NUL-terminated string. */
char *mv_hdr_unfold(const char *v, size_t n);
/* mv_hdr_unfold then mv_hdr_decode_text over the whole length: a NUL in the value becomes
 * U+FFFD (a defect) instead of cutting the value short.  Returns 0 or -1. */
int mv_hdr_unfold_decode(const char *v, size_t n, mv_buf *out, int *defects);

/* Address lists. */
typedef struct mv_addr {
    char *name;   /* UTF-8 display name or NULL */
    char *addr;   /* local@domain */
} mv_addr;

typedef struct mv_addr_list {
    mv_addr *v;
    size_t n, cap;
} mv_addr_list;

void mv_addr_list_free(mv_addr_list *l);
/* Parses an address list.  wire != 0: a received header, read as GMime does (encoded-
 * words in names decoded, 8-bit addresses allowed, obs-route, obs-local-part and
 * obs-domain accepted; "Name@x <addr>", a lone '<' or '>', "user at host" and an
 * address without a domain repaired and counted in *defects; a mailbox with two
 * candidate addresses skipped and counted); wire == 0: a caller's value (UTF-8 names,
 * ASCII addresses, any ambiguity is an error with a message in err, which must be
 * given).  Groups are flattened.  Returns 0, -1 (refused: err says why) or -2 (out of
 * memory). */
int mv_addr_parse(const char *v, size_t n, int wire, mv_addr_list *l, int *defects,
                  char *err, size_t errsize);
/* Appends the display form: `addr`, `Name <addr>` or `"Doe, J." <addr>`. */
int mv_addr_format(mv_buf *out, const mv_addr *a);
/* Appends "Name: a, b\r\n" with names encoded (RFC 2047) and folded. */
int mv_hdr_write_addrs(mv_buf *out, const char *name, const mv_addr_list *l);

/* Content-Type / Content-Disposition values. */
typedef struct mv_param {
    char *name;   /* lowercase */
    char *value;  /* UTF-8 */
} mv_param;

typedef struct mv_params {
    char *value;  /* the main token, lowercase ("text/plain", "attachment") */
    mv_param p[MV_HDR_MAX_PARAMS];
    size_t n;
} mv_params;

/* Parses `token; a=b; c*=utf-8''x; d*0=..; d*1=..` (wire value, unfolded).  Duplicate
 * rule: an RFC 2231 form (name* or name*0..) wins over the plain name; otherwise the
 * first occurrence wins.  Segments are joined in order up to the first gap (a defect),
 * then converted from their charset once, so a character split across segments survives.
 * At most MV_HDR_MAX_PARAMS parameters and MV_HDR_MAX_SEGMENTS segments are read;
 * the rest are ignored (a defect). */
int mv_params_parse(const char *v, size_t n, mv_params *ps, int *defects);
void mv_params_free(mv_params *ps);
const char *mv_params_get(const mv_params *ps, const char *name);
/* Appends `; name="value"` or, when the value is not plain ASCII or holds '"', '\',
 * ';', "=?" (which a reader would RFC 2047-decode) or controls, the RFC 2231 form
 * `; name*=utf-8''%..` (split into name*0*, name*1* segments when long, never more
 * than MV_HDR_MAX_SEGMENTS).  Fails (-1) for a value too long for that (over
 * MV_HDR_MAX_PARAM_VALUE bytes always fits). */
#define MV_HDR_MAX_PARAM_VALUE 16384
int mv_param_write(mv_buf *out, const char *name, const char *value);

MV_HIDDEN_END

#endif
