/* What every session is configured with, whatever its protocol: where to connect, how
 * TLS is opened and checked, the credentials and the rule for sending them.  A protocol's
 * options embed one and add only their own (helo, listing limits...). */
#ifndef MV_CFG_H
#define MV_CFG_H

#include "mv_error.h"
#include "mv_tls.h"
#include "mv_defaults.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* What insecure_auth says about credentials over cleartext or unverified TLS. */
enum { MV_INSECURE_NEVER = 0, MV_INSECURE_ALWAYS = 1, MV_INSECURE_LOOPBACK = -1 };

typedef enum { MV_TLS_NONE = 0, MV_TLS_STARTTLS, MV_TLS_IMPLICIT } mv_tls_mode;

/* Why a session asks its caller for an OAuth token (token_fn): before the first AUTH
 * that needs one, or after the server refused the one sent. */
enum { MV_TOKEN_NONE = 0, MV_TOKEN_CONNECT, MV_TOKEN_REJECTED };

typedef struct mv_cfg {
    const char *host;          /* where to connect */
    const char *server_name;   /* for SNI and the certificate check; NULL: host */
    int port;                  /* for whoever connects; the core does not read it */
    int timeout_ms;            /* likewise: the driver's per-command timeout */
    mv_tls_mode tls;
    mv_tls_opts tls_opts;
    const char *user, *password, *token;
    int token_fn;              /* tokens come from the caller when asked (MV_WANT_TOKEN,
                                * mv_open.h); token stays NULL until then */
    const char *auth;          /* NULL/"auto", "none", a SASL name or a protocol's word */
    int insecure_auth;         /* credentials over cleartext/unverified TLS: an
                                * MV_INSECURE_* value */
    int peer_is_loopback;      /* set by whoever connected */
    mv_tls_owned tls_own;      /* an owned copy's TLS strings; unused in a caller's */
} mv_cfg;

/* Checks a value bound for a command line: no control bytes.  Names the field only. */
int mv_cfg_check_value(const char *field, const char *v, mv_error *e);

/* Checks src (no control bytes in any string, a host, TLS options this build can
 * honour) and makes dst an owned copy of it, server_name defaulting to host.  On
 * failure dst holds nothing to free.  The auth word is the protocol's to check. */
int mv_cfg_copy(mv_cfg *dst, const mv_cfg *src, mv_error *e);
/* Replaces an owned copy's token with `token` (taken over, freed by mv_cfg_free). */
void mv_cfg_replace_token(mv_cfg *c, char *token);
/* Frees an owned copy (secrets are wiped) and zeroes it. */
void mv_cfg_free(mv_cfg *c);

MV_HIDDEN_END

#endif
