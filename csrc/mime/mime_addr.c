/* RFC 5322 address lists: parse strictly (a caller's value: anything ambiguous is an
 * error, CVE-2023-27043) or tolerantly (a received header: the obsolete syntax of RFC
 * 5322 section 4 is read, damaged mailboxes are repaired where one reading is plain and
 * counted as defects, and a mailbox with two candidate addresses is skipped, never
 * guessed). */
#include "mime_header.h"
#include "mv_idna.h"
#include "mv_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime_codec.h"

enum { T_ATOM, T_QUOTED, T_COMMENT, T_DLIT, T_SPECIAL };

typedef struct tok {
    int type;
    char ch;            /* T_SPECIAL */
    size_t off, len;    /* text in the source (without delimiters) */
    int ws_before;
} tok;

typedef struct lexer {
    const char *s;
    size_t n, i;
    int wire;
    int err;            /* unbalanced quote, comment or literal */
} lexer;

static int is_special(unsigned char c)
{
    return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' ||
           c == ':' || c == ';' || c == '@' || c == '\\' || c == ',' || c == '"';
}

static int lex_next(lexer *lx, tok *t)
{
    const char *s = lx->s;
    size_t n = lx->n;
    t->ws_before = 0;
    while (lx->i < n && (s[lx->i] == ' ' || s[lx->i] == '\t' || s[lx->i] == '\r' ||
                         s[lx->i] == '\n')) { lx->i++; t->ws_before = 1; }
    if (lx->i >= n) return 0;
    if (s[lx->i] == '"') {
        size_t j = ++lx->i;
        while (j < n && s[j] != '"') j += (s[j] == '\\' && j + 1 < n) ? 2 : 1;
        t->type = T_QUOTED;
        t->off = lx->i;
        t->len = (j < n ? j : n) - lx->i;
        if (j >= n) lx->err = 1;
        lx->i = j < n ? j + 1 : n;
        return 1;
    }
    if (s[lx->i] == '(') {
        /* Nested comments are counted, not recursed into; deep nesting is an error. */
        size_t j = lx->i + 1;
        int depth = 1;
        while (j < n && depth > 0) {
            if (s[j] == '\\' && j + 1 < n) { j += 2; continue; }
            if (s[j] == '(' && ++depth > MV_HDR_MAX_COMMENT_DEPTH) lx->err = 1;
            if (s[j] == ')') depth--;
            j++;
        }
        if (depth > 0) lx->err = 1;
        t->type = T_COMMENT;
        t->off = lx->i + 1;
        t->len = (depth == 0 ? j - 1 : j) - t->off;
        lx->i = j;
        return 1;
    }
    if (s[lx->i] == '[') {
        size_t j = lx->i + 1;
        while (j < n && s[j] != ']') j++;
        t->type = T_DLIT;
        t->off = lx->i;
        t->len = (j < n ? j + 1 : n) - lx->i;
        if (j >= n) lx->err = 1;
        lx->i = j < n ? j + 1 : n;
        return 1;
    }
    if (is_special((unsigned char)s[lx->i])) {
        t->type = T_SPECIAL;
        t->ch = s[lx->i];
        t->off = lx->i;
        t->len = 1;
        lx->i++;
        return 1;
    }
    t->type = T_ATOM;
    t->off = lx->i;
    while (lx->i < n && !is_special((unsigned char)s[lx->i]) && s[lx->i] != ' ' &&
           s[lx->i] != '\t' && s[lx->i] != '\r' && s[lx->i] != '\n') lx->i++;
    t->len = lx->i - t->off;
    return 1;
}

void mv_addr_list_free(mv_addr_list *l)
{
    size_t i;
    for (i = 0; i < l->n; i++) { free(l->v[i].name); free(l->v[i].addr); }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int append_unquoted(mv_buf *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) i++;
        if (mv_buf_append(b, s + i, 1) != 0) return -1;
    }
    return 0;
}

/* A caller's dot-atom: ASCII, no leading, trailing or doubled dot. */
static int dot_atom_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || s[0] == '.' || s[n - 1] == '.') return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || c < 0x21 || c == 0x7f) return 0;
        if (c == '.' && s[i + 1] == '.') return 0;
    }
    return 1;
}

/* A caller's domain literal "[...]": dtext and blanks (RFC 5322 3.4.1), so it is ASCII
 * and its '[' the last one of the address. */
static int dlit_ok(const char *s, size_t n)
{
    size_t i;
    if (n < 2 || s[n - 1] != ']') return 0;
    for (i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != ' ' && c != '\t' && (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\'))
            return 0;
    }
    return 1;
}

/* A caller's non-ASCII domain must be one IDNA2008 allows (the header gets its
 * A-labels): MV_IDNA_OK, MV_IDNA_INVALID or MV_IDNA_MEMORY. */
static int idn_check(const char *s, size_t n)
{
    char *a;
    const char *why;
    int rc = mv_idna_to_ascii(s, n, &a, &why);
    if (rc == MV_IDNA_OK) free(a);
    return rc;
}

/* The angle brackets among one mailbox's tokens (*lt, *gt: (size_t)-1 when none); -1
 * with a reason when they are unbalanced, or another special stands outside a word. */
static int find_angles(const tok *t, size_t nt, size_t *lt, size_t *gt, const char **why)
{
    size_t i;
    int nlt = 0, ngt = 0;
    *lt = *gt = (size_t)-1;
    for (i = 0; i < nt; i++) {
        if (t[i].type != T_SPECIAL) continue;
        if (t[i].ch == '<') { nlt++; *lt = i; }
        else if (t[i].ch == '>') { ngt++; *gt = i; }
        else if (t[i].ch != '@') { *why = "unexpected special character"; return -1; }
    }
    if (nlt > 1 || ngt > 1 || nlt != ngt) {
        *why = "unbalanced or repeated angle brackets";
        return -1;
    }
    if (nlt == 1 && *gt < *lt) { *why = "'>' before '<'"; return -1; }
    return 0;
}

/* "Name <addr>": the words before '<' are the display name (an '@' there makes two
 * candidate addresses); only comments may follow '>'. */
static int angle_name(const lexer *lx, const tok *t, size_t nt, size_t lt, size_t gt,
                      mv_buf *name, const char **why)
{
    const char *s = lx->s;
    size_t i;
    for (i = gt + 1; i < nt; i++)
        if (t[i].type != T_COMMENT) { *why = "text after the address"; return -1; }
    for (i = 0; i < lt; i++) {
        if (t[i].type == T_COMMENT) continue;
        if (t[i].type != T_ATOM && t[i].type != T_QUOTED) {
            *why = "an address in the display name";
            return -1;
        }
        if (name->len > 0 && t[i].ws_before && mv_buf_append(name, " ", 1) != 0) return -1;
        if (t[i].type == T_ATOM ? mv_buf_append(name, s + t[i].off, t[i].len) != 0
                                : append_unquoted(name, s + t[i].off, t[i].len) != 0)
            return -1;
    }
    return 0;
}

/* addr-spec t[a0..a1): local-part "@" domain, each one word (dot-atom, or quoted local
 * part, or domain literal). */
static int addr_spec(const lexer *lx, const tok *t, size_t a0, size_t a1, mv_buf *addr,
                     const char **why)
{
    const char *s = lx->s;
    size_t k, words = 0;
    int seen_at = 0;
    for (k = a0; k < a1; k++) {
        const tok *x = &t[k];
        if (x->type == T_COMMENT) continue;
        if (x->type == T_SPECIAL && x->ch == '@') {
            if (seen_at || words != 1) { *why = "not local@domain"; return -1; }
            seen_at = 1;
            words = 0;
            if (mv_buf_append(addr, "@", 1) != 0) return -1;
            continue;
        }
        if (words++ > 0) { *why = "more than one word where an address belongs"; return -1; }
        /* A NUL would silently cut the C string short: never guess past it. */
        if ((x->type == T_QUOTED || x->type == T_DLIT) &&
            memchr(s + x->off, '\0', x->len) != NULL) { *why = "NUL in the address"; return -1; }
        if (x->type == T_QUOTED && !seen_at) {
            if (mv_buf_append(addr, s + x->off - 1, x->len + 2) != 0) return -1;
        } else if (x->type == T_ATOM || (x->type == T_DLIT && seen_at)) {
            if (x->type == T_ATOM && seen_at && mv_has_8bit(s + x->off, x->len)) {
                int idn = idn_check(s + x->off, x->len);
                if (idn == MV_IDNA_MEMORY) return -1;
                if (idn != MV_IDNA_OK) {
                    *why = "not a valid international domain name";
                    return -1;
                }
            } else if (x->type == T_ATOM ? !dot_atom_ok(s + x->off, x->len)
                                         : !dlit_ok(s + x->off, x->len)) {
                *why = "invalid characters in the address";
                return -1;
            }
            if (mv_buf_append(addr, s + x->off, x->len) != 0) return -1;
        } else {
            *why = "not local@domain";
            return -1;
        }
    }
    if (!seen_at || words != 1) { *why = "not local@domain"; return -1; }
    return 0;
}

/* Ends reading one mailbox: when ok, the address built in addr goes to a->addr;
 * otherwise a->name is let go too.  The buffers are freed either way.  0 or -1. */
static int end_mailbox(mv_addr *a, mv_buf *name, mv_buf *addr, int ok)
{
    if (ok && mv_buf_append(addr, "", 1) == 0) {
        a->addr = (char *)addr->data;
        mv_buf_init(addr);
    } else {
        ok = 0;
        free(a->name);
        a->name = NULL;
    }
    mv_buf_free(name);
    mv_buf_free(addr);
    return ok ? 0 : -1;
}

/* Turns the tokens of one mailbox of a caller's value into name and address; returns 0,
 * or -1 with a reason when the tokens do not form exactly one unambiguous mailbox. */
static int build_mailbox(const lexer *lx, const tok *t, size_t nt, mv_addr *a,
                         const char **why)
{
    size_t lt, gt, a0 = 0, a1 = nt;
    mv_buf name, addr;
    mv_buf_init(&name);
    mv_buf_init(&addr);
    a->name = a->addr = NULL;
    if (find_angles(t, nt, &lt, &gt, why) != 0) goto cleanup;
    if (lt != (size_t)-1) {
        if (angle_name(lx, t, nt, lt, gt, &name, why) != 0) goto cleanup;
        a0 = lt + 1;
        a1 = gt;
    } else {
        /* A trailing comment is the old "addr (Name)" form. */
        while (a1 > a0 && t[a1 - 1].type == T_COMMENT) {
            if (name.len == 0 &&
                mv_buf_append(&name, lx->s + t[a1 - 1].off, t[a1 - 1].len) != 0) goto cleanup;
            a1--;
        }
        while (a0 < a1 && t[a0].type == T_COMMENT) a0++;
    }
    if (addr_spec(lx, t, a0, a1, &addr, why) != 0) goto cleanup;
    if (name.len > 0) {
        if (!mv_utf8_valid(name.data, name.len)) {
            *why = "display name is not UTF-8";
            goto cleanup;
        }
        if (mv_buf_append(&name, "", 1) != 0) goto cleanup;
        a->name = (char *)name.data;
        mv_buf_init(&name);
    }
    return end_mailbox(a, &name, &addr, 1);
cleanup:
    return end_mailbox(a, &name, &addr, 0);
}

static int is_sp(const tok *x, char c) { return x->type == T_SPECIAL && x->ch == c; }

/* Joins the words t[a..b) (comments skipped) into one local-part or domain: RFC 5322
 * obs-local-part and obs-domain allow blanks and comments around the dots
 * ("john . smith @ example . com").  Two words not joined by a dot are two names for
 * one thing: -1.  A domain is atoms or one domain literal. */
static int join_words(const lexer *lx, const tok *t, size_t a, size_t b, int domain,
                      mv_buf *out)
{
    const char *s = lx->s;
    size_t k, words = 0, start = out->len;
    int dlit = 0, prev_dot = 1;
    for (k = a; k < b; k++) {
        const tok *x = &t[k];
        int lead_dot;
        if (x->type == T_COMMENT) continue;
        if (dlit) return -1;
        if ((x->type == T_QUOTED || x->type == T_DLIT) && memchr(s + x->off, '\0', x->len))
            return -1;                         /* a NUL would cut the C string short */
        lead_dot = x->type == T_ATOM && s[x->off] == '.';
        if (words > 0 && !prev_dot && !lead_dot) return -1;
        if (x->type == T_ATOM) {
            size_t i;
            for (i = 0; i < x->len; i++) {
                unsigned char c = (unsigned char)s[x->off + i];
                if (c < 0x21 || c == 0x7f) return -1;
            }
            if (mv_buf_append(out, s + x->off, x->len) != 0) return -1;
            prev_dot = s[x->off + x->len - 1] == '.';
        } else if (x->type == T_QUOTED && !domain) {
            if (mv_buf_append(out, s + x->off - 1, x->len + 2) != 0) return -1;
            prev_dot = 0;
        } else if (x->type == T_DLIT && domain && words == 0) {
            if (mv_buf_append(out, s + x->off, x->len) != 0) return -1;
            dlit = 1;
        } else {
            return -1;
        }
        words++;
    }
    if (words == 0 || out->len == start) return -1;
    return 0;
}

/* The display name from t[a..b): words as written (quoted ones unquoted), comments
 * dropped; '.' (obs-phrase) is fine, an '@' is kept and counted as a defect (GMime
 * shows "alice@example.com <bob@example.com>" so), any other special fails. */
static int wire_name(const lexer *lx, const tok *t, size_t a, size_t b, mv_buf *name,
                     int *bad)
{
    size_t k;
    for (k = a; k < b; k++) {
        const tok *x = &t[k];
        if (x->type == T_COMMENT) continue;
        if (x->type == T_SPECIAL && x->ch != '@') return -1;
        if (x->type == T_DLIT) return -1;
        if (x->type == T_SPECIAL) (*bad)++;
        if (name->len > 0 && x->ws_before && mv_buf_append(name, " ", 1) != 0) return -1;
        if (x->type == T_QUOTED ? append_unquoted(name, lx->s + x->off, x->len) != 0
                                : mv_buf_append(name, lx->s + x->off, x->len) != 0) return -1;
    }
    return 0;
}

/* The angle brackets of a received mailbox, a missing '<' or '>' repaired: narrows
 * [*a0, *a1) to the address and reads the display name before '<', or the old
 * "addr (Name)" comment.  *lt: the '<', or (size_t)-1.  -1 when there is no one
 * reading. */
static int wire_angles(const lexer *lx, const tok *t, size_t nt, size_t *lt, size_t *a0,
                       size_t *a1, mv_buf *name, int *bad)
{
    size_t i, gt = (size_t)-1, nlt = 0, ngt = 0, last = (size_t)-1, e;
    *lt = (size_t)-1;
    for (i = 0; i < nt; i++) {
        if (t[i].type == T_COMMENT) continue;
        last = i;
        if (is_sp(&t[i], '<')) { nlt++; *lt = i; }
        else if (is_sp(&t[i], '>')) { ngt++; if (gt == (size_t)-1) gt = i; }
    }
    if (nlt > 1 || ngt > 1) return -1;
    if (nlt == 1) {
        if (ngt == 0) { gt = nt; (*bad)++; }                /* "<a@b" */
        else if (gt < *lt) return -1;
        for (i = gt + 1; i < nt; i++)
            if (t[i].type != T_COMMENT) { (*bad)++; break; }  /* text after '>' ignored */
        *a0 = *lt + 1;
        *a1 = gt;
        return wire_name(lx, t, 0, *lt, name, bad);
    }
    if (ngt == 1) {
        if (gt != last) return -1;                          /* "a@b>" only */
        (*bad)++;
        *a1 = gt;
    }
    /* A trailing comment is the old "addr (Name)" form. */
    e = *a1;
    while (e > *a0 && t[e - 1].type == T_COMMENT) e--;
    if (e < *a1 && mv_buf_append(name, lx->s + t[e].off, t[e].len) != 0) return -1;
    return 0;
}

/* Where the '@' of a received address t[a0..a1) is: *at, or (size_t)-1 when it has no
 * domain.  "user at example.org" (mail archives): exactly one blank-separated "at"
 * between two words, a repair.  -1 for two '@' or any other special. */
static int wire_at(const lexer *lx, const tok *t, size_t a0, size_t a1, size_t *at, int *bad)
{
    size_t i, nat = 0, n_at = 0;
    *at = (size_t)-1;
    for (i = a0; i < a1; i++) {
        if (t[i].type != T_SPECIAL) continue;
        if (t[i].ch != '@' || ++nat > 1) return -1;
        *at = i;
    }
    if (nat == 1) return 0;
    for (i = a0; i < a1; i++)
        if (t[i].type == T_ATOM && t[i].len == 2 && t[i].ws_before && i + 1 < a1 &&
            t[i + 1].ws_before && (lx->s[t[i].off] | 0x20) == 'a' &&
            (lx->s[t[i].off + 1] | 0x20) == 't' && i > a0) { n_at++; *at = i; }
    if (n_at != 1) *at = (size_t)-1;
    (*bad)++;
    return 0;
}

/* One mailbox of a received header, read as GMime would: the angle-addr is the address
 * (a missing '<' or '>' is repaired), an obs-route before it is dropped, obs-local-part
 * and obs-domain are joined, "user at host" (mail archives) becomes user@host and an
 * address without a domain is kept as it is; each repair counts in *bad.  Two
 * candidate addresses ("a@b c@d", "<a@b> <c@d>", "a@b@c") are never guessed between. */
static int wire_mailbox(const lexer *lx, const tok *t, size_t nt, mv_addr *a, int *bad)
{
    size_t i, lt, a0 = 0, a1 = nt, at;
    mv_buf name, addr;
    mv_buf_init(&name);
    mv_buf_init(&addr);
    a->name = a->addr = NULL;
    if (wire_angles(lx, t, nt, &lt, &a0, &a1, &name, bad) != 0) goto cleanup;
    /* obs-route: "<@a,@b:user@d>" is user@d. */
    for (i = a0; i < a1 && t[i].type == T_COMMENT; i++) {}
    if (lt != (size_t)-1 && i < a1 && is_sp(&t[i], '@')) {
        while (i < a1 && !is_sp(&t[i], ':')) i++;
        if (i == a1) goto cleanup;
        a0 = i + 1;
    }
    if (wire_at(lx, t, a0, a1, &at, bad) != 0) goto cleanup;
    if (at == (size_t)-1) {
        /* No domain: atoms only ("bob", "MAILER-DAEMON"), never a stray quote. */
        for (i = a0; i < a1; i++) if (t[i].type == T_QUOTED) goto cleanup;
        if (join_words(lx, t, a0, a1, 0, &addr) != 0) goto cleanup;
    } else if (join_words(lx, t, a0, at, 0, &addr) != 0 || mv_buf_append(&addr, "@", 1) != 0 ||
               join_words(lx, t, at + 1, a1, 1, &addr) != 0) {
        goto cleanup;
    }
    if (name.len > 0) {
        mv_buf dec;
        mv_buf_init(&dec);
        if (mv_hdr_decode_text((const char *)name.data, name.len, &dec, bad) != 0 ||
            mv_buf_append(&dec, "", 1) != 0) { mv_buf_free(&dec); goto cleanup; }
        a->name = (char *)dec.data;
    }
    return end_mailbox(a, &name, &addr, 1);
cleanup:
    return end_mailbox(a, &name, &addr, 0);
}

/* Parsing state of one address list. */
typedef struct addr_parse {
    lexer lx;
    tok *t;             /* the tokens of the list item being read */
    size_t nt, cap;
    int too_long;       /* the item passed MV_HDR_MAX_TOKENS */
    mv_addr_list *l;
    int *defects;       /* never NULL */
    char *err;
    size_t errsize;
} addr_parse;

static int push_token(addr_parse *ap, const tok *cur)
{
    tok *t;
    if (ap->nt >= MV_HDR_MAX_TOKENS) { ap->too_long = 1; return 0; }
    if ((t = mv_grow(ap->t, &ap->cap, ap->nt, sizeof *t, 16)) == NULL) return -1;
    ap->t = t;
    ap->t[ap->nt++] = *cur;
    return 0;
}

static int list_add(mv_addr_list *l, const mv_addr *a)
{
    mv_addr *v = mv_grow(l->v, &l->cap, l->n, sizeof *v, 4);
    if (v == NULL) return -1;
    l->v = v;
    l->v[l->n++] = *a;
    return 0;
}

/* A caller's mailbox that cannot be read one way: the error quotes it (80 bytes). */
static void refuse_mailbox(addr_parse *ap, const char *why)
{
    const tok *t = ap->t;
    size_t len = t[ap->nt - 1].off + t[ap->nt - 1].len - t[0].off;
    snprintf(ap->err, ap->errsize, "ambiguous or invalid address (%s): %.*s", why,
             (int)(len > 80 ? 80 : len), ap->lx.s + t[0].off);
}

/* The tokens of one list item are read as a mailbox and added to the list.  0: go on;
 * 1: the list is full (a received header is read up to there); -1: failed (err set
 * unless out of memory). */
static int end_item(addr_parse *ap)
{
    size_t i, real = 0;
    mv_addr a;
    const char *why = NULL;     /* a refusal says why; nothing said is memory */
    int wire = ap->lx.wire;
    if (ap->too_long) {
        /* No mailbox has that many words: not one to read (memory stays bounded by the
         * cap whatever the header's size). */
        if (!wire) {
            snprintf(ap->err, ap->errsize, "address of more than %d words", MV_HDR_MAX_TOKENS);
            return -1;
        }
        (*ap->defects)++;
        ap->too_long = 0;
        ap->nt = 0;
        return 0;
    }
    for (i = 0; i < ap->nt; i++) if (ap->t[i].type != T_COMMENT) real++;
    if (real == 0) { ap->nt = 0; return 0; }
    if (ap->l->n >= MV_HDR_MAX_ADDRS) {
        if (!wire) { snprintf(ap->err, ap->errsize, "too many addresses"); return -1; }
        (*ap->defects)++;
        return 1;
    }
    if (wire ? wire_mailbox(&ap->lx, ap->t, ap->nt, &a, ap->defects) != 0
             : build_mailbox(&ap->lx, ap->t, ap->nt, &a, &why) != 0) {
        if (!wire) {
            if (why != NULL) refuse_mailbox(ap, why);
            return -1;
        }
        (*ap->defects)++;
        ap->nt = 0;
        return 0;
    }
    if (list_add(ap->l, &a) != 0) { free(a.name); free(a.addr); return -1; }
    ap->nt = 0;
    return 0;
}

/* RFC 5322 2.2.3: unfolding drops the CRLF and keeps the blank, so that no CR or LF
 * survives in a quoted local-part, domain literal, comment or name.  A fresh string of
 * *n bytes, or NULL. */
static char *unfold_copy(const char *v, size_t *n)
{
    size_t i, o = 0;
    char *u = malloc(*n + 1);
    if (u == NULL) return NULL;
    for (i = 0; i < *n; i++) if (v[i] != '\r' && v[i] != '\n') u[o++] = v[i];
    u[o] = '\0';
    *n = o;
    return u;
}

int mv_addr_parse(const char *v, size_t n, int wire, mv_addr_list *l, int *defects,
                  char *err, size_t errsize)
{
    addr_parse ap;
    char *u = NULL;
    int in_group = 0, in_angle = 0, rc = -1, more = 1, spare = 0, r;
    if (err != NULL && errsize > 0) err[0] = '\0';
    /* A caller's value is one logical line (CHECKLIST 42, 54). */
    if (!wire && (memchr(v, '\0', n) != NULL || memchr(v, '\r', n) != NULL ||
                  memchr(v, '\n', n) != NULL)) {
        snprintf(err, errsize, "address list contains CR, LF or NUL");
        return -1;
    }
    memset(&ap, 0, sizeof ap);
    if (wire && (v = u = unfold_copy(v, &n)) == NULL) goto cleanup;
    ap.lx.s = v;
    ap.lx.n = n;
    ap.lx.wire = wire;
    ap.l = l;
    ap.defects = defects != NULL ? defects : &spare;
    ap.err = err;
    ap.errsize = errsize;
    while (more) {
        tok cur;
        int sep;
        more = lex_next(&ap.lx, &cur);
        if (ap.lx.err) {
            if (!wire) {
                snprintf(err, errsize, "unbalanced quote, comment or bracket");
                goto cleanup;
            }
            (*ap.defects)++;
            ap.lx.err = 0;
        }
        sep = more && !in_angle && cur.type == T_SPECIAL;
        if (sep && cur.ch == ':' && !in_group) {
            ap.nt = 0;                      /* a group's name is not an address */
            ap.too_long = 0;
            in_group = 1;
            continue;
        }
        if (more && !(sep && (cur.ch == ',' || (cur.ch == ';' && in_group)))) {
            if (is_sp(&cur, '<')) in_angle = 1;
            if (is_sp(&cur, '>')) in_angle = 0;
            if (push_token(&ap, &cur) != 0) goto cleanup;
            continue;
        }
        if (sep && cur.ch == ';') in_group = 0;
        in_angle = 0;
        if ((r = end_item(&ap)) < 0) goto cleanup;
        if (r > 0) break;
    }
    if (in_group && !wire) { snprintf(err, errsize, "unterminated group"); goto cleanup; }
    rc = 0;
cleanup:
    /* every refusal says why in err (a received header is never refused): a failure
     * with nothing said is memory */
    if (rc != 0 && (wire || err == NULL || errsize == 0 || err[0] == '\0')) {
        rc = -2;
        if (err != NULL && errsize > 0) snprintf(err, errsize, "out of memory");
    }
    free(ap.t);
    free(u);
    return rc;
}

static int name_is_plain(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (*p == ' ' || *p == '\0') return 0;
    for (; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || is_special(*p) || *p == '.') return 0;
        if (*p == ' ' && (p[1] == ' ' || p[1] == '\0')) return 0;
    }
    return 1;
}

static int append_quoted(mv_buf *out, const char *s)
{
    if (mv_buf_append(out, "\"", 1) != 0) return -1;
    for (; *s; s++) {
        if ((*s == '"' || *s == '\\') && mv_buf_append(out, "\\", 1) != 0) return -1;
        if (mv_buf_append(out, s, 1) != 0) return -1;
    }
    return mv_buf_append(out, "\"", 1);
}

int mv_addr_format(mv_buf *out, const mv_addr *a)
{
    if (a->name != NULL && a->name[0] != '\0') {
        if (name_is_plain(a->name) ? mv_buf_append_str(out, a->name) != 0
                                   : append_quoted(out, a->name) != 0) return -1;
        if (mv_buf_append(out, " <", 2) != 0 || mv_buf_append_str(out, a->addr) != 0 ||
            mv_buf_append(out, ">", 1) != 0) return -1;
        return 0;
    }
    return mv_buf_append_str(out, a->addr);
}

/* An address as a header carries it: a non-ASCII domain as A-labels (RFC 5890), since
 * RFC 2047 cannot encode an addr-spec.  The same bytes whatever server takes the message
 * (so a DKIM signature, a spooled file and a relay without SMTPUTF8 beyond the first hop
 * all see plain RFC 5322); readers show U-labels again. */
static int append_addr(mv_buf *v, const char *addr)
{
    char *a;
    const char *why;
    int rc;
    if (mv_idna_addr_to_ascii(addr, &a, &why) != MV_IDNA_OK) return -1;
    rc = mv_buf_append_str(v, a);
    free(a);
    return rc;
}

int mv_hdr_write_addrs(mv_buf *out, const char *name, const mv_addr_list *l)
{
    mv_buf v;
    size_t i;
    int rc = -1;
    mv_buf_init(&v);
    for (i = 0; i < l->n; i++) {
        const mv_addr *a = &l->v[i];
        if (i > 0 && mv_buf_append(&v, ", ", 2) != 0) goto cleanup;
        if (a->name != NULL && a->name[0] != '\0') {
            const unsigned char *p = (const unsigned char *)a->name;
            size_t k, len = strlen(a->name);
            if (!mv_has_8bit(p, len) && strstr(a->name, "=?") == NULL) {
                if (name_is_plain(a->name) ? mv_buf_append_str(&v, a->name) != 0
                                           : append_quoted(&v, a->name) != 0) goto cleanup;
            } else {
                /* Whole-character encoded-words separated by blanks (which decoders drop). */
                size_t j = 0;
                while (j < len) {
                    size_t c = len - j < 45 ? len - j : 45;
                    char w[80];
                    if (c < len - j) while (c > 0 && (p[j + c] & 0xc0) == 0x80) c--;
                    if (c == 0) c = 45;
                    memcpy(w, "=?UTF-8?B?", 10);
                    k = 10 + mv_b64_encode(p + j, c, w + 10, 0);
                    w[k++] = '?';
                    w[k++] = '=';
                    if ((j > 0 && mv_buf_append(&v, " ", 1) != 0) || mv_buf_append(&v, w, k) != 0)
                        goto cleanup;
                    j += c;
                }
            }
            if (mv_buf_append(&v, " <", 2) != 0 || append_addr(&v, a->addr) != 0 ||
                mv_buf_append(&v, ">", 1) != 0) goto cleanup;
        } else if (append_addr(&v, a->addr) != 0) {
            goto cleanup;
        }
    }
    rc = mv_hdr_write_raw(out, name, (const char *)v.data, v.len);
cleanup:
    mv_buf_free(&v);
    return rc;
}
