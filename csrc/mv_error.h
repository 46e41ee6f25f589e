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
    MV_ERROR = -1
};

/* Stable error words, mirrored one to one in Lua as strings. */
typedef enum {
    MV_E_NONE = 0, MV_E_TIMEOUT, MV_E_CLOSED, MV_E_RESOLVE, MV_E_IO, MV_E_TLS, MV_E_CERT,
    MV_E_PROTOCOL, MV_E_REPLY, MV_E_AUTH, MV_E_LIMIT, MV_E_UNCERTAIN, MV_E_ARG, MV_E_MEMORY
} mv_kind;

#define MV_REPLY_TEXT_MAX 512

typedef struct mv_reply {
    int code;                        /* 0 when the server said nothing */
    char enhanced[16];               /* "5.1.1" or "" */
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

MV_HIDDEN_END

#endif
