/* Building IMAP commands (RFC 9051 §4, RFC 3501 §9): every argument the caller gives is
 * sent as the grammar allows and never as syntax, so no value can inject a command.
 *
 * - atoms (sequence sets, flags, search keys, fetch items) are checked against the atom
 *   grammar (plus the few specials their rules allow) and refused otherwise;
 * - strings become a quoted string when they are short, 7-bit (or UTF-8 with
 *   UTF8=ACCEPT) and free of CR, LF and NUL, else a literal: "{n}" waits for the
 *   server's "+" (synchronising), "{n+}" goes at once with LITERAL+ (and with LITERAL-
 *   up to 4096 bytes, RFC 7888);
 * - mailbox names are modified UTF-7 (RFC 3501 §5.1.3) unless UTF8=ACCEPT is enabled.
 *
 * A command is one buffer (text and literal bytes, without the tag and final CRLF) and
 * the positions of its literals; the session sends it piece by piece. */
#ifndef IMAP_CMD_H
#define IMAP_CMD_H

#include <stddef.h>

#include "mv_buf.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* Literals in one command (a search with many strings): more fail closed (kind limit). */
#define IMAP_CMD_MAX_LITERALS 64
/* A quoted string longer than this goes as a literal instead. */
#define IMAP_CMD_MAX_QUOTED 1024
/* LITERAL- (RFC 7888 §4): non-synchronising literals up to this size only. */
#define IMAP_LITERAL_MINUS_MAX 4096

enum { IMAP_LIT_SYNC = 0, IMAP_LIT_PLUS = 1, IMAP_LIT_MINUS = 2 };

typedef struct imap_cmd_lit {
    size_t start, len;      /* the literal's bytes in buf (none in buf when ext) */
    int sync;               /* wait for "+" before sending them */
    int ext;                /* the bytes come from the caller while sending (APPEND) */
} imap_cmd_lit;

typedef struct imap_cmd {
    mv_buf buf;
    size_t nlit;
    imap_cmd_lit lit[IMAP_CMD_MAX_LITERALS];
    int literal_mode;       /* IMAP_LIT_* the server allows */
    int utf8;               /* UTF8=ACCEPT enabled: 8-bit quoted strings and names */
    size_t mask_from;       /* the trace hides the command from here; (size_t)-1: none */
    mv_error err;           /* the first failure; later appends do nothing */
    int failed;
} imap_cmd;

void imap_cmd_init(imap_cmd *c, int literal_mode, int utf8);
void imap_cmd_free(imap_cmd *c);   /* wipes: a command may hold a password */

/* Each appends " " (unless the command is empty) and one argument; -1 with c->err set
 * (kind arg for a value the grammar cannot carry, limit, memory).  After a failure
 * every later call fails too. */
int imap_cmd_atom(imap_cmd *c, const char *s, size_t n);       /* checked atom */
int imap_cmd_string(imap_cmd *c, const char *s, size_t n);     /* quoted or literal */
int imap_cmd_astring(imap_cmd *c, const char *s, size_t n);    /* atom, quoted, literal */
int imap_cmd_literal(imap_cmd *c, const char *s, size_t n);    /* always a literal */
/* A literal of n bytes the caller supplies while the command goes out (a message
 * streamed from a file): the session asks for them with MV_WANT_BODY. */
int imap_cmd_literal_ext(imap_cmd *c, unsigned long long n);
int imap_cmd_mailbox(imap_cmd *c, const char *s, size_t n);    /* UTF-8 name */
/* "(" and ")" open and close a list (no space after "(" or before ")"). */
int imap_cmd_open(imap_cmd *c);
int imap_cmd_close(imap_cmd *c);
/* The trace hides what follows (LOGIN's arguments). */
void imap_cmd_mask(imap_cmd *c);

/* An atom as the grammar allows: ATOM-CHAR, plus '\' first for a flag, '*' and '%' for
 * list wildcards when list_wildcards, and "[...]" / "<...>" / "." inside fetch items
 * ("BODY.PEEK[HEADER.FIELDS (FROM)]<0.100>" is an atom here). */
int imap_atom_ok(const char *s, size_t n);

MV_HIDDEN_END

#endif
