/* SMTP reply assembly (RFC 5321 §4.2): one line at a time, strict and bounded. */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H

#include "mv_buf.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef struct smtp_reply_reader {
    int code;          /* 0 until the first line */
    size_t lines;
    size_t bytes;
    mv_buf text;       /* the lines' text (after "250-"), joined by '\n' */
    size_t max_lines, max_bytes;
} smtp_reply_reader;

void smtp_rr_init(smtp_reply_reader *rr, size_t max_lines, size_t max_bytes);
void smtp_rr_free(smtp_reply_reader *rr);
void smtp_rr_reset(smtp_reply_reader *rr);
/* Adds one line (without CRLF): 0 = more lines follow, 1 = reply complete, MV_ERROR on a
 * malformed line (kind protocol) or a cap (kind limit). */
int smtp_rr_line(smtp_reply_reader *rr, const char *line, size_t len, mv_error *e);
/* Fills `out` (code, enhanced status, sanitised text) from a complete reply. */
void smtp_rr_result(const smtp_reply_reader *rr, mv_reply *out);

MV_HIDDEN_END

#endif
