/* Reports about mail: delivery status notifications (RFC 3464 multipart/report with
 * message/delivery-status, RFC 6533 message/global-delivery-status) and feedback reports
 * (RFC 5965 ARF, message/feedback-report), read from a parsed message into field groups.
 * Bounded: at most MV_REPORT_MAX_GROUPS groups of MV_REPORT_MAX_FIELDS fields, values cut
 * at MV_REPORT_MAX_VALUE bytes; what a cap cuts sets `truncated`. */
#ifndef MIME_REPORT_H
#define MIME_REPORT_H

#include <stddef.h>

#include "mime_msg.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

#define MV_REPORT_MAX_GROUPS 1001   /* the per-message fields and 1000 recipients */
#define MV_REPORT_MAX_FIELDS 64
#define MV_REPORT_MAX_VALUE 1000

enum { MV_REPORT_NONE, MV_REPORT_DSN, MV_REPORT_ARF };

/* One field: its name in lower case; for the typed fields of RFC 3464 ("Final-Recipient:
 * rfc822; a@b", "Diagnostic-Code: smtp; 550 ...") the type in lower case and the value
 * after ";", else type NULL.  Values are unfolded and trimmed; Action's is lower-cased,
 * Status's is its code alone (a comment after it dropped). */
typedef struct mv_report_field {
    char *name, *type, *value;
} mv_report_field;

typedef struct mv_report_group {
    mv_report_field *f;
    size_t n;
} mv_report_group;

typedef struct mv_report {
    int kind;                 /* MV_REPORT_* */
    mv_report_group *g;       /* g[0]: the per-message fields; a DSN's recipients follow */
    size_t ng;
    long returned;            /* the part of the returned message or headers, or -1 */
    int headers_only;         /* it is headers alone (text/rfc822-headers) */
    int truncated;
} mv_report;

void mv_report_init(mv_report *r);
void mv_report_free(mv_report *r);
/* The field groups of a report body p[0..n) (groups end at blank lines; folded lines;
 * CRLF or LF): 0, or -1 when out of memory. */
int mv_report_parse_fields(const unsigned char *p, size_t n, mv_report *r);
/* The report a parsed message is, when its top part is a multipart/report holding a
 * status or feedback part: 1 (r filled), 0 (not a report), -1 (out of memory). */
int mv_report_of(const mv_mime_msg *m, mv_report *r);
/* The value of field `name` (lower case) in group gi, or NULL. */
const mv_report_field *mv_report_find(const mv_report *r, size_t gi, const char *name);

MV_HIDDEN_END

#endif
