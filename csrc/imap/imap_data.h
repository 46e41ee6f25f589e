/* IMAP response data as plain C structs, read from a parsed response (imap_parse.h):
 * flags, LIST/LSUB, STATUS, SEARCH, ESEARCH, response codes, FETCH items, ENVELOPE and
 * BODYSTRUCTURE; sequence sets both ways (reading them, and building bounded UID-set
 * commands); modified UTF-7 mailbox names (RFC 3501 5.1.3).
 *
 * Results are allocated in an imap_arena the caller frees once; every string is copied
 * into it (NUL-terminated, length kept), so results outlive the parser's response.  A
 * value of the wrong shape fails with MV_E_PROTOCOL; counts past a cap with MV_E_LIMIT. */
#ifndef IMAP_DATA_H
#define IMAP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"
#include "mv_buf.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef struct imap_arena {
    struct imap_chunk *head;
} imap_arena;

void imap_arena_init(imap_arena *a);
void imap_arena_free(imap_arena *a);
/* n bytes, zeroed and aligned for any struct, or NULL when out of memory. */
void *imap_arena_alloc(imap_arena *a, size_t n);

typedef struct imap_strs {
    size_t n;
    imap_str *v;
} imap_strs;

/* A list of atoms or strings at node i ("(\Seen \Answered $Label)"): FLAGS,
 * PERMANENTFLAGS, LIST attributes, the language list of a body part. */
int imap_parse_strs(const imap_resp *r, size_t i, imap_arena *a, imap_strs *out, mv_error *e);

/* "* LIST (attrs) delim name" (and LSUB, the same shape): the name decoded to UTF-8 from modified UTF-7 unless
 * utf8 (UTF8=ACCEPT enabled: names are UTF-8 already); raw is the name as sent;
 * special is "sent", "trash", "drafts", "junk", "archive", "all", "flagged" from a
 * RFC 6154 attribute, else NULL. */
typedef struct imap_mailbox {
    imap_strs attrs;
    int delim;              /* the hierarchy delimiter, or -1 for NIL */
    imap_str raw, name;
    const char *special;
} imap_mailbox;
int imap_parse_list(const imap_resp *r, int utf8, imap_arena *a, imap_mailbox *out,
                    mv_error *e);

enum {
    IMAP_STA_MESSAGES = 1, IMAP_STA_RECENT = 2, IMAP_STA_UIDNEXT = 4, IMAP_STA_UIDVALIDITY = 8,
    IMAP_STA_UNSEEN = 16, IMAP_STA_DELETED = 32, IMAP_STA_SIZE = 64,
    IMAP_STA_HIGHESTMODSEQ = 128
};
/* "* STATUS name (MESSAGES 2 UIDNEXT 3 ...)"; `has` says which were present. */
typedef struct imap_status_data {
    imap_str raw, name;
    unsigned has;
    uint64_t messages, recent, uidnext, uidvalidity, unseen, deleted, size, highestmodseq;
} imap_status_data;
int imap_parse_status(const imap_resp *r, int utf8, imap_arena *a, imap_status_data *out,
                      mv_error *e);

/* "* SEARCH 2 84 882 [(MODSEQ 917162500)]". */
typedef struct imap_search {
    size_t n;
    uint32_t *v;
    int has_modseq;
    uint64_t modseq;
} imap_search;
int imap_parse_search(const imap_resp *r, imap_arena *a, imap_search *out, mv_error *e);

/* A sequence set ("1:4,7,9:*") as ranges lo <= hi; "*" is UINT32_MAX. */
typedef struct imap_range {
    uint32_t lo, hi;
} imap_range;
typedef struct imap_set {
    size_t n;
    imap_range *v;
} imap_set;
int imap_parse_set(imap_str s, size_t max_ranges, imap_arena *a, imap_set *out, mv_error *e);

enum { IMAP_ES_MIN = 1, IMAP_ES_MAX = 2, IMAP_ES_COUNT = 4, IMAP_ES_ALL = 8, IMAP_ES_MODSEQ = 16 };
/* "* ESEARCH (TAG "a1") UID MIN 1 MAX 9 COUNT 5 ALL 1:3,9" (RFC 4731). */
typedef struct imap_esearch {
    imap_str tag;
    int uid;
    unsigned has;
    uint32_t min, max;
    uint64_t count, modseq;
    imap_set all;
} imap_esearch;
int imap_parse_esearch(const imap_resp *r, imap_arena *a, imap_esearch *out, mv_error *e);

enum {
    IMAP_CODE_OTHER = 0, IMAP_CODE_ALERT, IMAP_CODE_TRYCREATE, IMAP_CODE_UIDVALIDITY,
    IMAP_CODE_UIDNEXT, IMAP_CODE_UNSEEN, IMAP_CODE_HIGHESTMODSEQ, IMAP_CODE_NOMODSEQ,
    IMAP_CODE_PERMANENTFLAGS, IMAP_CODE_CAPABILITY, IMAP_CODE_COPYUID, IMAP_CODE_APPENDUID,
    IMAP_CODE_READ_ONLY, IMAP_CODE_READ_WRITE, IMAP_CODE_CLOSED, IMAP_CODE_BADCHARSET,
    IMAP_CODE_MODIFIED
};
/* The response code of a status response.  uidvalidity serves UIDVALIDITY, COPYUID and
 * APPENDUID; number serves UIDNEXT, UNSEEN and HIGHESTMODSEQ; list serves
 * PERMANENTFLAGS, CAPABILITY and BADCHARSET; src/dst serve COPYUID (dst alone,
 * APPENDUID) and MODIFIED (src). */
typedef struct imap_code_data {
    int kind;               /* IMAP_CODE_*, OTHER for none or unknown */
    imap_str name;
    uint64_t number;
    uint32_t uidvalidity;
    imap_strs list;
    imap_set src, dst;
} imap_code_data;
int imap_parse_code(const imap_resp *r, imap_arena *a, imap_code_data *out, mv_error *e);

/* One body section of a FETCH: "BODY[1.2]<0>" -> name "BODY", section "1.2", origin 0. */
typedef struct imap_section {
    imap_str item, name, section;
    int has_origin;
    uint64_t origin;
    size_t node;            /* the value: string, NIL or streamed */
} imap_section;

enum {
    IMAP_F_UID = 1, IMAP_F_FLAGS = 2, IMAP_F_SIZE = 4, IMAP_F_INTERNALDATE = 8,
    IMAP_F_MODSEQ = 16, IMAP_F_ENVELOPE = 32, IMAP_F_BODYSTRUCTURE = 64
};
/* "* 12 FETCH (UID 5 FLAGS (\Seen) RFC822.SIZE 44 INTERNALDATE "..." ...)".  envelope
 * and body are node indexes for imap_parse_envelope / imap_parse_body. */
typedef struct imap_fetch {
    uint32_t seq;
    unsigned has;
    uint32_t uid;
    imap_strs flags;
    uint64_t size, modseq;
    imap_str internaldate;
    size_t envelope, body;
    size_t nsections;
    imap_section *sections;
} imap_fetch;
int imap_parse_fetch(const imap_resp *r, imap_arena *a, imap_fetch *out, mv_error *e);
/* "17-Jul-1996 02:44:25 -0700" -> seconds since the epoch (UTC): 0, else -1. */
int imap_parse_date_time(imap_str s, int64_t *t);

/* ENVELOPE (RFC 9051 7.5.2).  An address list keeps RFC 5322 groups as the grammar
 * does: a start marker (mailbox = group name, host NULL), members, an end marker (all
 * NULL). */
typedef struct imap_addr {
    imap_str name, adl, mailbox, host;
} imap_addr;
typedef struct imap_addrs {
    size_t n;
    imap_addr *v;
} imap_addrs;
typedef struct imap_envelope {
    imap_str date, subject, in_reply_to, message_id;
    imap_addrs from, sender, reply_to, to, cc, bcc;
} imap_envelope;
int imap_parse_envelope(const imap_resp *r, size_t i, imap_arena *a, imap_envelope *out,
                        mv_error *e);

typedef struct imap_param {
    imap_str name, value;
} imap_param;
/* BODYSTRUCTURE (or BODY): one part, with its children for a multipart (subtype and
 * params from the multipart's own data) or its one child for message/rfc822.  section
 * is the part's number for BODY[...] ("1.2"; "" for the message itself).  Depth is
 * capped by max_depth (MV_E_LIMIT). */
typedef struct imap_body imap_body;
struct imap_body {
    imap_str type, subtype, section;
    size_t nparams;
    imap_param *params;
    imap_str id, description, encoding, md5, location;
    uint64_t size, lines;
    imap_str disposition;
    size_t ndparams;
    imap_param *dparams;
    imap_strs language;
    imap_envelope *envelope;
    size_t nparts;
    imap_body *parts;
};
int imap_parse_body(const imap_resp *r, size_t i, size_t max_depth, imap_arena *a,
                    imap_body *out, mv_error *e);

/* Modified UTF-7 (RFC 3501 5.1.3) to UTF-8 and back: 0, or -1 for a malformed name
 * (MV_E_PROTOCOL) or no memory.  Appends to out. */
int imap_utf7_decode(const char *s, size_t n, mv_buf *out);
int imap_utf7_encode(const char *s, size_t n, mv_buf *out);

/* UIDs (any order, duplicates and zeros ignored) as sets of ranges "1:5,9,12:14", cut
 * into pieces of at most max_len bytes each, one per command. */
int imap_uid_sets(const uint32_t *uids, size_t n, size_t max_len, imap_arena *a,
                  imap_strs *out, mv_error *e);

MV_HIDDEN_END

#endif
