/* The SEARCH criteria compiler (RFC 9051 §6.4.4, RFC 3501 §6.4.4): the vocabulary of
 * criteria a caller may give (seen, from, since, larger, uid, not, or...), the check of
 * each value, dates in IMAP form ("1-Feb-2026") and the nesting cap.  A binding walks
 * its own table and calls one function per key; imap_search_emit then writes
 * "UID SEARCH [RETURN (ALL)] [CHARSET UTF-8] keys" into a command, every string quoted
 * or sent as a literal by imap_cmd (no value can inject syntax).  A group that adds no
 * key means ALL.  The first failure (kind arg, limit, memory) is kept; later calls do
 * nothing. */
#ifndef IMAP_SEARCH_H
#define IMAP_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "imap_cmd.h"
#include "mv_buf.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* Nested not/or/groups deeper than this fail closed (kind limit). */
#define IMAP_SEARCH_MAX_DEPTH 32
/* Search keys in one command. */
#define IMAP_SEARCH_MAX_KEYS 1000

/* What value a criterion takes. */
enum {
    IMAP_SK_UNKNOWN = 0,
    IMAP_SK_FLAG,       /* true adds the key (seen, unseen, flagged, all, new...) */
    IMAP_SK_STRING,     /* from, to, cc, bcc, subject, body, text */
    IMAP_SK_DATE,       /* since, before, on, sent_since, sent_before, sent_on */
    IMAP_SK_SIZE,       /* larger, smaller: bytes */
    IMAP_SK_HEADER,     /* header = {name, value} */
    IMAP_SK_KEYWORD,    /* keyword, unkeyword: a flag atom */
    IMAP_SK_UID,        /* uid: a set */
    IMAP_SK_NOT,        /* not = {criteria} */
    IMAP_SK_OR          /* or = {{criteria}, {criteria}} */
};

typedef struct imap_search_q {
    mv_buf toks;            /* tokens: type byte, 4-byte length, bytes */
    size_t depth, nkeys;
    size_t group_at[IMAP_SEARCH_MAX_DEPTH + 1];  /* toks.len at each open group */
    int utf8;               /* a string is not ASCII: CHARSET UTF-8 */
    int failed;
    mv_error err;
} imap_search_q;

void imap_search_init(imap_search_q *q);
void imap_search_free(imap_search_q *q);

/* The kind of criterion `name` is (IMAP_SK_*); UNKNOWN for a name outside the
 * vocabulary. */
int imap_search_kind(const char *name, size_t n);
/* A failure of kind arg for the caller's own checks ("search 'or' expects two
 * criteria"); returns -1. */
int imap_search_fail(imap_search_q *q, mv_kind kind, const char *fmt, const char *name);

/* A group of criteria ANDed: paren writes "(...)" (operands of NOT and OR), else the
 * keys join their neighbours (the top level, an array part). */
int imap_search_open(imap_search_q *q, int paren);
int imap_search_close(imap_search_q *q, int paren);

int imap_search_flag(imap_search_q *q, const char *name, size_t n, int on);
int imap_search_string(imap_search_q *q, const char *name, size_t n, const char *v,
                       size_t vn);
/* A date as "YYYY-MM-DD", as seconds since the epoch (its UTC day), or as its parts. */
int imap_search_date_text(imap_search_q *q, const char *name, size_t n, const char *v,
                          size_t vn);
int imap_search_date_time(imap_search_q *q, const char *name, size_t n, double seconds);
int imap_search_date(imap_search_q *q, const char *name, size_t n, long y, long m, long d);
int imap_search_size(imap_search_q *q, const char *name, size_t n, double bytes);
int imap_search_header(imap_search_q *q, const char *field, size_t fn, const char *v,
                       size_t vn);
int imap_search_keyword(imap_search_q *q, const char *name, size_t n, const char *kw,
                        size_t kn);
/* A UID set as text ("1:5,9", "1:*"), or as numbers (ranges made here). */
int imap_search_uid_text(imap_search_q *q, const char *set, size_t n);
int imap_search_uids(imap_search_q *q, const uint32_t *uids, size_t n);
/* "NOT" and "OR": the operands follow as parenthesised groups. */
int imap_search_op(imap_search_q *q, const char *name, size_t n);

/* "UID SEARCH [RETURN (ALL)] [CHARSET UTF-8] keys" into c (esearch: RETURN (ALL));
 * CHARSET only for a non-ASCII string and not once UTF8=ACCEPT is enabled (c->utf8). */
int imap_search_emit(imap_search_q *q, imap_cmd *c, int esearch);

/* A day in IMAP form "1-Feb-2026" (out holds 16 bytes): 0, or -1 when out of range. */
int imap_search_format_date(char *out, size_t cap, long y, long m, long d);

MV_HIDDEN_END

#endif
