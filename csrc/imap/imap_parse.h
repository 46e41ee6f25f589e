/* IMAP server responses (RFC 9051 and RFC 3501, section 9 formal syntax) as a resumable,
 * bounded byte state machine: bytes go in, one whole response comes out as a flat tree of
 * values, and the literals on the way are announced so the caller can stream them.
 *
 * What it reads: untagged lines ("* ..."), tagged lines ("tag OK|NO|BAD ..."), and
 * continuation requests ("+ ...").  A status response (OK, NO, BAD, PREAUTH, BYE) keeps
 * its response code ("[UIDNEXT 4]") and its free text apart; the arguments of the codes
 * with a grammar (imap_code_has_args) become values, any other code's arguments are kept
 * as raw text, and the text itself is never tokenized.  A data response keeps an optional
 * leading number ("* 3 FETCH"), its name and its values: atoms (numbers, flags such as
 * \Seen, sequence sets, and fetch items with their section, "BODY[HEADER.FIELDS (A B)]<0>",
 * as one atom), quoted strings (\" and \\ unescaped), literals {n} and literal8 ~{n}, NIL
 * and nested parenthesised lists.
 *
 * Literals: when "{n}" CRLF has been read the parser returns IMAP_LITERAL with the size
 * and the atom before it (the fetch item, e.g. "BODY[1]"); by default the n bytes are
 * then kept as a string, or, after imap_parser_stream_literal, handed back piece by piece
 * (IMAP_LITERAL_DATA, pointing into the caller's input) and never stored: the value is
 * left as IMAP_V_STREAMED with its size.  A literal may arrive split at any byte.
 *
 * Limits, each failing closed with kind MV_E_LIMIT and a message naming it (defaults in
 * imap_limits_default):
 *   max_depth    nested parentheses (64); the nesting is an explicit stack, no recursion
 *   max_items    values in one response, lists included (500000)
 *   max_token    one atom, quoted string, tag, response code or text line (64 KiB)
 *   max_literal  the size a literal may announce, streamed or not (2^53 - 1)
 *   max_kept     one literal kept in memory (16 MiB)
 *   max_response all the bytes one response keeps (64 MiB)
 * Malformed input (a NUL or control byte outside a literal, an unterminated quoted string
 * or code, an unbalanced parenthesis, a bad escape, a literal size that is not a number, a
 * tagged status other than OK/NO/BAD, a bare CR) fails with MV_E_PROTOCOL.  After a
 * failure the parser stays failed: the stream can no longer be framed.  A line may end in
 * CRLF or a bare LF. */
#ifndef IMAP_PARSE_H
#define IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "mv_buf.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef struct imap_limits {
    size_t max_depth;
    size_t max_items;
    size_t max_token;
    uint64_t max_literal;
    size_t max_kept;
    size_t max_response;
} imap_limits;

void imap_limits_default(imap_limits *l);

enum imap_vtype {
    IMAP_V_ATOM = 1,    /* also numbers, flags, sets and "BODY[...]" */
    IMAP_V_STRING,      /* quoted or literal (see `literal`) */
    IMAP_V_NIL,
    IMAP_V_LIST,
    IMAP_V_STREAMED     /* a literal handed to the caller; len = its size */
};

/* The values of a response, in document order (a list is followed by its subtree).
 * Strings are NUL-terminated in the response's storage (a literal may hold NULs). */
typedef struct imap_node {
    unsigned char type;
    unsigned char literal;  /* 0 quoted or atom, 1 literal, 2 literal8 */
    size_t off;             /* strings: offset of the bytes in the storage */
    size_t len;             /* strings: byte count; lists: children; streamed: size */
    size_t end;             /* index just past this value's subtree */
} imap_node;

/* A byte string inside a response (or an arena); s == NULL stands for NIL or absent. */
typedef struct imap_str {
    const char *s;
    size_t len;
} imap_str;

enum imap_kind { IMAP_UNTAGGED = 1, IMAP_TAGGED, IMAP_CONTINUE };
enum imap_status {
    IMAP_DATA = 0,      /* "* name ..." or "* n name ..." */
    IMAP_OK, IMAP_NO, IMAP_BAD, IMAP_PREAUTH, IMAP_BYE
};

typedef struct imap_resp {
    int kind;
    int status;
    imap_str tag;           /* tagged responses */
    int has_number;
    uint64_t number;        /* "* 3 EXISTS" (at most 2^63 - 1) */
    imap_str name;          /* data responses: "EXISTS", "FETCH", "LIST", as sent */
    imap_str code;          /* status responses: "UIDNEXT" without brackets, or NULL */
    imap_str code_text;     /* raw arguments of a code without a grammar, or NULL */
    imap_str text;          /* status text or continuation text (may be empty) */
    /* Data values, or the arguments of a code with a grammar: nodes[0 .. count). */
    const imap_node *nodes;
    size_t count;
    const unsigned char *store;
} imap_resp;

enum {
    IMAP_MORE = 0,          /* every byte was used; feed more */
    IMAP_RESPONSE = 1,      /* a response is complete: imap_parser_response */
    IMAP_LITERAL = 2,       /* a literal was announced: imap_parser_literal */
    IMAP_LITERAL_DATA = 3   /* a piece of a streamed literal: imap_parser_chunk */
};

typedef struct imap_parser {
    imap_limits lim;
    int state, mode, failed, cr_state, has_ctext;
    mv_buf store;               /* the bytes of every string of the response */
    imap_node *nodes;
    size_t nnodes, cap;
    size_t *stack;              /* open lists, innermost last */
    size_t depth;
    size_t prev;                /* last value completed at this depth, or SIZE_MAX */
    size_t tok;                 /* offset of the token being read */
    uint64_t lit_left, lit_len;
    size_t lit_key;             /* node of the atom before the literal, or SIZE_MAX */
    int lit8, lit_stream;
    const unsigned char *chunk;
    size_t chunk_len;
    imap_resp resp;
    size_t tag_off, name_off, code_off, ctext_off, text_off;
    size_t tag_len, name_len, code_len, ctext_len, text_len;
} imap_parser;

void imap_parser_init(imap_parser *p, const imap_limits *lim);
void imap_parser_free(imap_parser *p);

/* Consumes bytes from in[0 .. n) until a response is complete, a literal is announced
 * or a piece of a streamed literal is ready, and says so; *used gets the bytes consumed.
 * MV_ERROR with err set (MV_E_PROTOCOL, MV_E_LIMIT, MV_E_MEMORY) on failure.  The
 * response and its strings stay valid until the next call. */
int imap_parser_feed(imap_parser *p, const unsigned char *in, size_t n, size_t *used,
                     mv_error *err);
const imap_resp *imap_parser_response(const imap_parser *p);
/* After IMAP_LITERAL: the size, whether it is literal8, and the atom before it (NULL
 * when the literal does not follow an atom in its list). */
uint64_t imap_parser_literal(const imap_parser *p, int *literal8, imap_str *key);
/* After IMAP_LITERAL: hand the bytes back instead of keeping them. */
void imap_parser_stream_literal(imap_parser *p);
/* After IMAP_LITERAL_DATA: the piece (inside the caller's input). */
const unsigned char *imap_parser_chunk(const imap_parser *p, size_t *len);
/* True between responses (nothing of a response read yet). */
int imap_parser_idle(const imap_parser *p);

/* Access to values. */
imap_str imap_node_str(const imap_resp *r, size_t i);   /* atoms and strings; else NULL */
/* Next sibling of value i (its subtree skipped). */
static inline size_t imap_next(const imap_resp *r, size_t i) { return r->nodes[i].end; }
/* Case-insensitive comparison of an atom or string value with a NUL-terminated word. */
int imap_node_is(const imap_resp *r, size_t i, const char *word);
/* A number atom (digits only) no larger than max: 0, else -1. */
int imap_node_number(const imap_resp *r, size_t i, uint64_t max, uint64_t *v);
/* Case-insensitive equality of a string with a word. */
int imap_str_is(imap_str s, const char *word);
/* Digits only, no larger than max: 0, else -1. */
int imap_str_number(imap_str s, uint64_t max, uint64_t *v);

/* True for the response codes whose arguments are parsed as values (PERMANENTFLAGS,
 * BADCHARSET, CAPABILITY, UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ, COPYUID,
 * APPENDUID, MODIFIED, ...). */
int imap_code_has_args(const char *code, size_t len);

MV_HIDDEN_END

#endif
