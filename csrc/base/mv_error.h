/* Results and errors shared by every layer of the core. */
#ifndef MV_ERROR_H
#define MV_ERROR_H

#include <stddef.h>
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* What a resumable step returns.  Negative is failure (details in mv_error). */
enum {
    MV_OK = 0,          /* the operation finished */
    MV_WANT_READ = 1,   /* feed network bytes (or EOF) and call again */
    MV_WANT_WRITE = 2,  /* take pending network bytes, then call again */
    MV_WANT_BODY = 3,   /* sending: the caller must supply more of the message */
    MV_HAVE_CHUNK = 4,  /* receiving: a piece of the message waits for the caller */
    MV_WANT_TOKEN = 5,  /* opening: the caller must supply an OAuth token (mv_open.h) */
    MV_ERROR = -1
};

/* Stable error words, mirrored one to one in Lua as strings. */
typedef enum {
    MV_E_NONE = 0, MV_E_TIMEOUT, MV_E_CLOSED, MV_E_RESOLVE, MV_E_IO, MV_E_TLS, MV_E_CERT,
    MV_E_PROTOCOL, MV_E_REPLY, MV_E_AUTH, MV_E_LIMIT, MV_E_UNCERTAIN, MV_E_ARG, MV_E_MEMORY
} mv_kind;

#define MV_REPLY_TEXT_MAX 512

/* What a server said, in one shape for every protocol:
 * - status: the server's verdict word as sent: "+OK" / "-ERR" (POP3), "OK" / "NO" /
 *   "BAD" (IMAP).  SMTP has no word: its verdict is the number in `code`, and status
 *   stays "" (the number would say the same thing twice);
 * - code: SMTP's reply code (250, 550); 0 for the other protocols;
 * - enhanced: SMTP's RFC 3463 status ("5.1.1");
 * - resp_code: the bracketed response code's keyword at the start of the text: POP3's
 *   RFC 2449 §8 / RFC 3206 codes ("IN-USE", "LOGIN-DELAY", "AUTH", "SYS/TEMP"), IMAP's
 *   ("TRYCREATE", "ALERT"); its arguments stay in the text;
 * - text: the whole text after the verdict (a response code included), sanitised.
 * A reply is an error's reply when the error says has_reply. */
#define MV_REPLY_STATUS_MAX 8
#define MV_REPLY_RESP_CODE_MAX 32

typedef struct mv_reply {
    char status[MV_REPLY_STATUS_MAX];       /* "-ERR", "NO"; "" for SMTP */
    int code;                        /* SMTP; 0 when the server said nothing */
    char enhanced[16];               /* "5.1.1" or "" */
    char resp_code[MV_REPLY_RESP_CODE_MAX]; /* "IN-USE", "TRYCREATE" or "" */
    char text[MV_REPLY_TEXT_MAX];    /* sanitised: no control bytes, lines joined by "; " */
} mv_reply;

typedef struct mv_error {
    mv_kind kind;
    char msg[256];
    int has_reply;
    mv_reply reply;
} mv_error;

const char *mv_kind_name(mv_kind kind);
/* Sets kind and a printf-style message; returns MV_ERROR for `return mv_fail(...)`. */
int mv_fail(mv_error *e, mv_kind kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void mv_error_clear(mv_error *e);
/* Empties a reply (no status, no codes, no text). */
void mv_reply_clear(mv_reply *r);
/* The verdict as people read it in a message: the status word, else SMTP's number. */
void mv_reply_verdict(const mv_reply *r, char *out, size_t size);
/* Fails with kind and "what: <verdict> <text>", the reply attached (has_reply). */
int mv_fail_reply(mv_error *e, mv_kind kind, const char *what, const mv_reply *r);
/* Keeps the keyword of a "[KEYWORD args] text" response code (RFC 2449 §8, RFC 3501
 * §7.1) that starts `text` in r->resp_code; "" when there is none or it is malformed. */
void mv_reply_set_resp_code(mv_reply *r, const char *text, size_t len);

MV_HIDDEN_END

#endif
