/* Every default a user can meet, in one place.  The core and the bindings use these
 * names; missive.core exports them as core.defaults (csrc/lua/ldefaults.c), which
 * missive.config is the one Lua module to read; README's "Defaults" table lists them
 * and a spec fails when the two drift apart.  Macros only: nothing here is linked. */
#ifndef MV_DEFAULTS_H
#define MV_DEFAULTS_H

/* Every session */
#define MV_DEFAULT_TIMEOUT_MS 60000        /* one wait (connect, a reply, a write) */
/* Caps of what a server sends (the engine's, for every protocol) */
#define MV_DEFAULT_MAX_LINE 8192           /* bytes in one line */
#define MV_DEFAULT_MAX_REPLY_LINES 1000    /* lines in one reply */
#define MV_DEFAULT_MAX_REPLY_BYTES (256 * 1024)

/* SMTP: submission with STARTTLS (RFC 6409), or implicit TLS (RFC 8314) */
#define MV_DEFAULT_SMTP_PORT 587
#define MV_DEFAULT_SMTP_IMPLICIT_PORT 465
#define MV_DEFAULT_SMTP_HELO "localhost"
#define MV_DEFAULT_SMTP_MAX_LINE_LENGTH 998  /* RFC 5322 2.1.1, without CRLF */
#define MV_DEFAULT_SMTP_PIPELINING 1
#define MV_DEFAULT_SMTP_CHUNKING 0

/* POP3: implicit TLS (RFC 8314), or STLS on 110 (RFC 2595) */
#define MV_DEFAULT_POP3_PORT 995
#define MV_DEFAULT_POP3_STARTTLS_PORT 110
#define MV_DEFAULT_POP3_MAX_SIZE (256 * 1024 * 1024)     /* bytes of one message */
#define MV_DEFAULT_POP3_MAX_MESSAGES 1000000             /* entries in one listing */
#define MV_DEFAULT_POP3_MAX_LISTING_BYTES (8ULL * 1024 * 1024)  /* one LIST/UIDL reply */
#define MV_DEFAULT_POP3_MAX_TIME_MS (10 * 60 * 1000)     /* one command or message */
#define MV_DEFAULT_POP3_WINDOW 16          /* commands in flight when pipelining */

/* Parsing a message (mv_mime_limits) and writing one to a file */
#define MV_DEFAULT_MIME_MAX_DEPTH 64       /* nesting of multiparts and messages */
#define MV_DEFAULT_MIME_MAX_PARTS 5000
#define MV_DEFAULT_MIME_MAX_HEADERS 1000   /* fields in one header block */
#define MV_DEFAULT_MIME_MAX_HEADER_BYTES (1024 * 1024)
#define MV_DEFAULT_SAVE_MODE 0600          /* mail is private data */

/* DKIM signing (RFC 6376; RFC 8301 §3.2: signers use keys of at least 2048 bits) */
#define MV_DEFAULT_DKIM_MIN_BITS 2048

/* The spool's retry policy, in seconds */
#define MV_DEFAULT_SPOOL_BACKOFF 60
#define MV_DEFAULT_SPOOL_MAX_BACKOFF 3600
#define MV_DEFAULT_SPOOL_MAX_AGE (5 * 86400)

#endif
