/* The DATA body transform (RFC 5321 §4.5.2): bare CR and bare LF become CRLF, a line
 * starting with "." gets a second ".", and the end adds CRLF (if needed) and ".".
 * A byte state machine, so any chunking of the input gives the same output. */
#ifndef SMTP_STUFF_H
#define SMTP_STUFF_H

#include "mv_buf.h"
#include <stddef.h>
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef struct smtp_stuffer {
    int line_start;       /* the next byte begins a line */
    int pending_cr;       /* a CR whose LF may come in the next chunk */
    size_t line_len;      /* bytes of the current line so far */
    size_t max_line;      /* 0: no limit (RFC 5321: 998) */
    int allow_8bit;
    int dots;             /* dot-stuff (DATA); BDAT sends lines as they are */
    unsigned long long in_bytes;
} smtp_stuffer;

enum { SMTP_STUFF_OK = 0, SMTP_STUFF_NOMEM = -1, SMTP_STUFF_LONG_LINE = -2,
       SMTP_STUFF_8BIT = -3 };

void smtp_stuff_init(smtp_stuffer *st, size_t max_line, int allow_8bit, int dots);
/* Without the final ".", for BDAT. */
int smtp_stuff(smtp_stuffer *st, const unsigned char *in, size_t n, mv_buf *out);
/* Terminates the last line; adds ".\r\n" when `dot`. */
int smtp_stuff_end(smtp_stuffer *st, mv_buf *out, int dot);


MV_HIDDEN_END

#endif
