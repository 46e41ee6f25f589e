/* POP3 byte-level parsing, pure and unit-tested on its own: the multi-line reader
 * (terminator detection and dot-unstuffing as a streaming state machine), status
 * lines, LIST/UIDL/STAT values and the APOP timestamp. */
#ifndef POP3_PARSE_H
#define POP3_PARSE_H

#include <stddef.h>

#include "mv_buf.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* The multi-line reader.  Rule (RFC 1939 §3, documented for bare LF): a line ends at
 * LF, with or without a CR before it; a line that is "." alone (CRLF or bare LF)
 * ends the response; any other line starting with "." loses that first dot.  Line
 * endings are otherwise passed through unchanged.  State survives any chunk split. */
typedef struct pop3_ml {
    int state;
    unsigned long long out_bytes;   /* unstuffed bytes produced so far */
} pop3_ml;

void pop3_ml_init(pop3_ml *m);
/* Consumes up to n bytes; appends the unstuffed data to out (when out is not NULL).
 * Returns the bytes consumed (fewer than n only once the terminator was seen, which
 * sets *done), or (size_t)-1 when out of memory. */
size_t pop3_ml_feed(pop3_ml *m, const unsigned char *p, size_t n, mv_buf *out, int *done);

/* Status line: 1 for "+OK", 0 for "-ERR", -1 for anything else.  *text points at
 * the text after the status word and its space (may be empty). */
int pop3_status(const char *line, size_t len, const char **text, size_t *tlen);

/* A decimal number of at most 19 digits no bigger than max; -1 on anything else.
 * Leading spaces are skipped; *used gets the index just after the digits. */
int pop3_number(const char *p, size_t len, unsigned long long max,
                unsigned long long *v, size_t *used);

/* "n size" (LIST) -> 0, or -1 when malformed / out of range (n in 1..max_n). */
int pop3_parse_list(const char *p, size_t len, unsigned long max_n, unsigned long *n,
                    unsigned long long *size);
/* "n uid" (UIDL): uid is 1..max_uid bytes of 0x21..0x7E; returns 0 or -1. */
int pop3_parse_uidl(const char *p, size_t len, unsigned long max_n, size_t max_uid,
                    unsigned long *n, const char **uid, size_t *uid_len);
/* "count size" (STAT). */
int pop3_parse_stat(const char *p, size_t len, unsigned long *count, unsigned long long *size);

/* Finds the APOP timestamp "<...>" in a greeting in one linear pass; 0 with its
 * bounds (brackets included) or -1 when absent, empty, too long or malformed. */
int pop3_apop_stamp(const char *p, size_t len, size_t *start, size_t *slen);

MV_HIDDEN_END

#endif
