/* Delivery status notification requests (RFC 3461): what a sender asks, checked and
 * written as MAIL and RCPT parameters. */
#ifndef SMTP_DSN_H
#define SMTP_DSN_H

#include <stddef.h>
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* NOTIFY words (RFC 3461 §4.1): NEVER stands alone, the others combine. */
enum {
    SMTP_NOTIFY_NEVER = 1u << 0, SMTP_NOTIFY_SUCCESS = 1u << 1,
    SMTP_NOTIFY_FAILURE = 1u << 2, SMTP_NOTIFY_DELAY = 1u << 3
};
enum { SMTP_RET_NONE = 0, SMTP_RET_HDRS, SMTP_RET_FULL };

/* RFC 3461 §4.4: an ENVID of at most 100 characters.  §5: the parameters may lengthen a
 * RCPT line by 500 characters, so an ORCPT (after xtext) gets what NOTIFY leaves. */
#define SMTP_ENVID_MAX 100
#define SMTP_ORCPT_MAX (500 - (sizeof " NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=" - 1))
/* What the parameters can add to MAIL and RCPT lines, at most. */
#define SMTP_DSN_MAIL_EXTRA (sizeof " RET=HDRS ENVID=" + 3 * SMTP_ENVID_MAX)
#define SMTP_DSN_RCPT_EXTRA (sizeof " NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=" + SMTP_ORCPT_MAX)

/* A transaction's requests as the caller gives them.  Per recipient (n entries each, or
 * NULL): notify (0: the message's) and orcpt ("addr-type;address", or a bare address
 * taken as rfc822; NULL: none). */
typedef struct smtp_dsn {
    unsigned notify;
    int ret;
    const char *envid;
    const unsigned *rcpt_notify;
    const char *const *orcpt;
} smtp_dsn;

/* A recipient's requests, as the transaction keeps them. */
typedef struct smtp_rcpt_dsn {
    unsigned notify;
    char *orcpt;      /* "addr-type;address" */
} smtp_rcpt_dsn;

/* The bit of one NOTIFY word (any case), 0 for none; the RET value of "hdrs"/"full". */
unsigned smtp_dsn_notify_word(const char *w);
int smtp_dsn_ret_word(const char *w);
/* Whether anything is asked at all. */
int smtp_dsn_asked(const smtp_dsn *d, size_t n);
/* Checks every value: words that combine, printable ASCII, lengths.  Kind "argument". */
int smtp_dsn_check(const smtp_dsn *d, size_t n, mv_error *e);
/* "type;address" of an orcpt as given (a bare address becomes "rfc822;address"); a new
 * string, NULL when out of memory. */
char *smtp_dsn_orcpt(const char *v);
/* Appends " RET=.. ENVID=.." or " NOTIFY=.. ORCPT=.." at line[len] of a line of `cap`
 * bytes (the EXTRA sizes above give the room every checked request needs); returns the
 * new length, or cap when it would not fit (never written past cap). */
size_t smtp_dsn_mail_params(char *line, size_t cap, size_t len, int ret, const char *envid);
size_t smtp_dsn_rcpt_params(char *line, size_t cap, size_t len, const smtp_rcpt_dsn *r);

MV_HIDDEN_END

#endif
