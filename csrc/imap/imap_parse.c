#include "imap_parse.h"

#include <stdlib.h>
#include <string.h>

/* Where the machine is in a response.  Runs of ordinary bytes (text, quoted strings,
 * atoms, literal data) are taken whole, so the cost is per run, not per byte. */
enum {
    ST_START, ST_TAG, ST_STAR_SP, ST_WORD, ST_CONT_SP, ST_TEXT_START, ST_CODE_ATOM,
    ST_CODE_RAW, ST_AFTER_CODE, ST_TEXT, ST_VAL, ST_ATOM, ST_SECTION, ST_QUOTED, ST_QESC,
    ST_TILDE, ST_LITLEN, ST_LITCR, ST_LITLF, ST_LITDATA, ST_CR, ST_DONE
};
/* What a value list ends with: the end of the line, or the "]" of a response code. */
enum { MODE_DATA, MODE_CODE };

#define NO_NODE ((size_t)-1)
#define MAX_NUMBER 0x7fffffffffffffffULL

void imap_limits_default(imap_limits *l)
{
    l->max_depth = 64;
    l->max_items = 500000;
    l->max_token = 64 * 1024;
    l->max_literal = 9007199254740991ULL;   /* 2^53 - 1: exact as a Lua number */
    l->max_kept = 16 * 1024 * 1024;
    l->max_response = 64 * 1024 * 1024;
}

static void reset(imap_parser *p)
{
    mv_buf_reset(&p->store);
    p->nnodes = 0;
    p->depth = 0;
    p->prev = NO_NODE;
    p->state = ST_START;
    p->mode = MODE_DATA;
    p->lit_key = NO_NODE;
    p->chunk = NULL;
    p->chunk_len = 0;
    memset(&p->resp, 0, sizeof p->resp);
    p->tag_off = p->name_off = p->code_off = p->ctext_off = p->text_off = 0;
    p->tag_len = p->name_len = p->code_len = p->ctext_len = p->text_len = 0;
    p->cr_state = ST_START;
    p->has_ctext = 0;
    p->resp.tag.s = p->resp.name.s = p->resp.code.s = p->resp.code_text.s = NULL;
    p->resp.text.s = NULL;
}

void imap_parser_init(imap_parser *p, const imap_limits *lim)
{
    memset(p, 0, sizeof *p);
    if (lim != NULL) p->lim = *lim;
    else imap_limits_default(&p->lim);
    if (p->lim.max_depth == 0) p->lim.max_depth = 1;
    mv_buf_init(&p->store);
    reset(p);
}

void imap_parser_free(imap_parser *p)
{
    mv_buf_free(&p->store);
    free(p->nodes);
    free(p->stack);
    p->nodes = NULL;
    p->stack = NULL;
    p->cap = 0;
}

int imap_parser_idle(const imap_parser *p)
{
    return !p->failed && (p->state == ST_DONE || (p->state == ST_START && p->resp.kind == 0));
}

static int fail(imap_parser *p, mv_error *err, mv_kind kind, const char *what)
{
    p->failed = 1;
    return mv_fail(err, kind, "IMAP response: %s", what);
}

static int limit(imap_parser *p, mv_error *err, const char *what, unsigned long long max)
{
    p->failed = 1;
    return mv_fail(err, MV_E_LIMIT, "IMAP response: %s (limit %llu)", what, max);
}

/* Appends bytes of the current token (capped at max_token) or of a literal (capped by
 * the caller); every byte also counts against max_response. */
static int put(imap_parser *p, const unsigned char *s, size_t n, int token, mv_error *err)
{
    if (token && p->store.len - p->tok + n > p->lim.max_token)
        return limit(p, err, "token too long", p->lim.max_token);
    if (p->store.len + n + 1 > p->lim.max_response)
        return limit(p, err, "response too large", p->lim.max_response);
    if (mv_buf_append(&p->store, s, n) != 0)
        return fail(p, err, MV_E_MEMORY, "out of memory");
    return 0;
}

/* Ends the current token with a NUL (not part of its length). */
static int end_token(imap_parser *p, mv_error *err, size_t *len)
{
    *len = p->store.len - p->tok;
    if (p->store.len + 1 > p->lim.max_response)
        return limit(p, err, "response too large", p->lim.max_response);
    if (mv_buf_append(&p->store, "", 1) != 0) return fail(p, err, MV_E_MEMORY, "out of memory");
    return 0;
}

static int add_node(imap_parser *p, int type, int literal, size_t off, size_t len,
                    mv_error *err)
{
    imap_node *n;
    if (p->nnodes >= p->lim.max_items)
        return limit(p, err, "too many values", p->lim.max_items);
    if (p->nnodes == p->cap) {
        void *v = mv_grow(p->nodes, &p->cap, p->nnodes, sizeof *p->nodes, 64);
        if (v == NULL) return fail(p, err, MV_E_MEMORY, "out of memory");
        p->nodes = v;
    }
    n = &p->nodes[p->nnodes];
    n->type = (unsigned char)type;
    n->literal = (unsigned char)literal;
    n->off = off;
    n->len = len;
    n->end = p->nnodes + 1;
    if (p->depth > 0) p->nodes[p->stack[p->depth - 1]].len++;
    p->prev = p->nnodes++;
    return 0;
}

static int open_list(imap_parser *p, mv_error *err)
{
    if (p->depth >= p->lim.max_depth)
        return limit(p, err, "parentheses nested too deep", p->lim.max_depth);
    if (p->stack == NULL) {
        p->stack = malloc(p->lim.max_depth * sizeof *p->stack);
        if (p->stack == NULL) return fail(p, err, MV_E_MEMORY, "out of memory");
    }
    if (add_node(p, IMAP_V_LIST, 0, 0, 0, err) != 0) return MV_ERROR;
    p->stack[p->depth++] = p->nnodes - 1;
    p->prev = NO_NODE;
    return 0;
}

static int close_list(imap_parser *p, mv_error *err)
{
    size_t i;
    if (p->depth == 0) return fail(p, err, MV_E_PROTOCOL, "unbalanced ')'");
    i = p->stack[--p->depth];
    p->nodes[i].end = p->nnodes;
    p->prev = i;
    return 0;
}

static int ieq(const unsigned char *a, size_t n, const char *w)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = a[i];
        if (w[i] == '\0') return 0;
        if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
        if (c != (unsigned char)w[i]) return 0;
    }
    return w[n] == '\0';
}

int imap_str_is(imap_str s, const char *word)
{
    return s.s != NULL && ieq((const unsigned char *)s.s, s.len, word);
}

int imap_str_number(imap_str s, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;
    size_t i;
    if (s.s == NULL || s.len == 0 || s.len > 20) return -1;
    for (i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.s[i] - (unsigned)'0';
        if (d > 9 || d > max || x > (max - d) / 10) return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

imap_str imap_node_str(const imap_resp *r, size_t i)
{
    imap_str s = { NULL, 0 };
    if (i < r->count && (r->nodes[i].type == IMAP_V_ATOM || r->nodes[i].type == IMAP_V_STRING)) {
        s.s = (const char *)r->store + r->nodes[i].off;
        s.len = r->nodes[i].len;
    }
    return s;
}

int imap_node_is(const imap_resp *r, size_t i, const char *word)
{
    return imap_str_is(imap_node_str(r, i), word);
}

int imap_node_number(const imap_resp *r, size_t i, uint64_t max, uint64_t *v)
{
    if (i >= r->count || r->nodes[i].type != IMAP_V_ATOM) return -1;
    return imap_str_number(imap_node_str(r, i), max, v);
}

int imap_code_has_args(const char *code, size_t len)
{
    static const char *const codes[] = {
        "PERMANENTFLAGS", "BADCHARSET", "CAPABILITY", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
        "HIGHESTMODSEQ", "COPYUID", "APPENDUID", "MODIFIED", "NOMODSEQ", "APPENDLIMIT",
        NULL
    };
    size_t k;
    for (k = 0; codes[k] != NULL; k++)
        if (ieq((const unsigned char *)code, len, codes[k])) return 1;
    return 0;
}

/* Characters that end an atom (RFC 9051 atom-specials, less the wildcards and "\",
 * which flags and patterns use); "]" also ends one inside a response code. */
static int atom_char(unsigned char c, int mode)
{
    if (c <= 0x20 || c == 0x7f) return 0;
    if (c == '(' || c == ')' || c == '{' || c == '"') return 0;
    if (c == ']' && mode == MODE_CODE) return 0;
    return 1;
}

static int is_status(const unsigned char *w, size_t n, int tagged)
{
    if (ieq(w, n, "OK")) return IMAP_OK;
    if (ieq(w, n, "NO")) return IMAP_NO;
    if (ieq(w, n, "BAD")) return IMAP_BAD;
    if (tagged) return IMAP_DATA;
    if (ieq(w, n, "PREAUTH")) return IMAP_PREAUTH;
    if (ieq(w, n, "BYE")) return IMAP_BYE;
    return IMAP_DATA;
}

/* Fetch items whose section may hold spaces and parentheses ("BODY[HEADER.FIELDS (A)]"). */
static int section_atom(const unsigned char *w, size_t n)
{
    return ieq(w, n, "BODY") || ieq(w, n, "BODY.PEEK") || ieq(w, n, "BINARY")
        || ieq(w, n, "BINARY.PEEK") || ieq(w, n, "BINARY.SIZE");
}

static imap_str str_at(const imap_parser *p, size_t off, size_t len)
{
    imap_str s;
    s.s = (const char *)p->store.data + off;
    s.len = len;
    return s;
}

static void finish(imap_parser *p)
{
    imap_resp *r = &p->resp;
    r->nodes = p->nodes;
    r->count = p->nnodes;
    r->store = p->store.data;
    if (r->kind == IMAP_TAGGED) r->tag = str_at(p, p->tag_off, p->tag_len);
    if (r->status == IMAP_DATA && r->kind == IMAP_UNTAGGED)
        r->name = str_at(p, p->name_off, p->name_len);
    if (r->status != IMAP_DATA || r->kind == IMAP_CONTINUE) {
        if (p->code_len > 0) r->code = str_at(p, p->code_off, p->code_len);
        if (p->has_ctext) r->code_text = str_at(p, p->ctext_off, p->ctext_len);
        r->text = str_at(p, p->text_off, p->text_len);
    }
    p->state = ST_DONE;
}

static int end_atom(imap_parser *p, mv_error *err);
static int end_word(imap_parser *p, mv_error *err);

/* A status or continuation line ended without text. */
static int end_line_empty_text(imap_parser *p, mv_error *err)
{
    size_t len;
    p->tok = p->text_off = p->store.len;
    if (end_token(p, err, &len) != 0) return MV_ERROR;
    p->text_len = 0;
    finish(p);
    return IMAP_RESPONSE;
}

/* A line ended: where it may. */
static int end_line(imap_parser *p, mv_error *err)
{
    size_t len;
    switch (p->state) {
    case ST_TEXT:
        if (end_token(p, err, &len) != 0) return MV_ERROR;
        p->text_len = len;
        break;
    case ST_WORD:
        if (end_word(p, err) != 0) return MV_ERROR;
        if (p->resp.has_number && p->name_len == 0)
            return fail(p, err, MV_E_PROTOCOL, "number without a name");
        if (p->resp.status == IMAP_DATA) break;
        return end_line_empty_text(p, err);
    case ST_TEXT_START: case ST_AFTER_CODE: case ST_CONT_SP:
        return end_line_empty_text(p, err);
    case ST_ATOM: case ST_VAL:
        /* an atom cut by the line end is a value like any other (and counts) */
        if (p->state == ST_ATOM && end_atom(p, err) != 0) return MV_ERROR;
        if (p->mode == MODE_CODE) return fail(p, err, MV_E_PROTOCOL, "unterminated response code");
        if (p->depth > 0) return fail(p, err, MV_E_PROTOCOL, "unbalanced '('");
        break;
    case ST_QUOTED: case ST_QESC:
        return fail(p, err, MV_E_PROTOCOL, "unterminated quoted string");
    case ST_CODE_ATOM: case ST_CODE_RAW:
        return fail(p, err, MV_E_PROTOCOL, "unterminated response code");
    case ST_SECTION:
        return fail(p, err, MV_E_PROTOCOL, "unterminated fetch section");
    default:
        return fail(p, err, MV_E_PROTOCOL, "line ends too early");
    }
    finish(p);
    return IMAP_RESPONSE;
}

static int end_atom(imap_parser *p, mv_error *err)
{
    size_t len;
    if (end_token(p, err, &len) != 0) return MV_ERROR;
    if (len == 3 && ieq(p->store.data + p->tok, 3, "NIL"))
        return add_node(p, IMAP_V_NIL, 0, p->tok, 0, err);
    return add_node(p, IMAP_V_ATOM, 0, p->tok, len, err);
}

/* The first word(s) of an untagged or tagged line have been read into the token. */
static int end_word(imap_parser *p, mv_error *err)
{
    size_t len;
    const unsigned char *w;
    uint64_t v;
    imap_str s;
    if (end_token(p, err, &len) != 0) return MV_ERROR;
    w = p->store.data + p->tok;
    if (len == 0) return fail(p, err, MV_E_PROTOCOL, "empty word");
    if (p->resp.kind == IMAP_TAGGED) {
        p->resp.status = is_status(w, len, 1);
        if (p->resp.status == IMAP_DATA)
            return fail(p, err, MV_E_PROTOCOL, "tagged response is not OK, NO or BAD");
        return 0;
    }
    s.s = (const char *)w;
    s.len = len;
    if (!p->resp.has_number && p->name_len == 0 && imap_str_number(s, MAX_NUMBER, &v) == 0) {
        p->resp.has_number = 1;
        p->resp.number = v;
        return 0;
    }
    if (!p->resp.has_number) p->resp.status = is_status(w, len, 0);
    if (p->resp.status == IMAP_DATA) {
        p->name_off = p->tok;
        p->name_len = len;
    }
    return 0;
}

static int announce(imap_parser *p)
{
    p->lit_key = p->prev != NO_NODE && p->nodes[p->prev].type == IMAP_V_ATOM ? p->prev
                                                                            : NO_NODE;
    p->lit_stream = 0;
    p->lit_left = p->lit_len;
    p->tok = p->store.len;
    p->state = ST_LITDATA;
    return IMAP_LITERAL;
}

static int end_literal(imap_parser *p, mv_error *err)
{
    size_t len;
    int lit = p->lit8 ? 2 : 1;
    p->state = ST_VAL;
    if (p->lit_stream) return add_node(p, IMAP_V_STREAMED, lit, 0, (size_t)p->lit_len, err);
    if (end_token(p, err, &len) != 0) return MV_ERROR;
    return add_node(p, IMAP_V_STRING, lit, p->tok, len, err);
}

/* The machines below take one byte, or one run of bytes, at in[*i]: one handler per state.
 * A handler that stops at NUL, CR or LF leaves it to imap_parser_feed, which reports it or
 * ends the line. */
typedef int (*step_fn)(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                       mv_error *err);

/* Keeps in[*i, j) in the token and moves past it. */
static int keep(imap_parser *p, const unsigned char *in, size_t *i, size_t j, mv_error *err)
{
    if (j > *i && put(p, in + *i, j - *i, 1, err) != 0) return MV_ERROR;
    *i = j;
    return 0;
}

/* The end of a run from j that stops at `a`, `b`, NUL, CR or LF. */
static size_t run_to(const unsigned char *in, size_t n, size_t j, int a, int b)
{
    while (j < n && in[j] != a && in[j] != b && in[j] != '\r' && in[j] != '\n' && in[j] != 0)
        j++;
    return j;
}

/* The end of an atom-like run (a tag, a word, a code name) from j in `mode`. */
static size_t atom_run(const unsigned char *in, size_t n, size_t j, int mode, int stop)
{
    while (j < n && atom_char(in[j], mode) && in[j] != stop) j++;
    return j;
}

/* --- values: atoms, strings, literals and lists */

static int start_literal(imap_parser *p, unsigned char c, mv_error *err)
{
    if (p->mode == MODE_CODE) return fail(p, err, MV_E_PROTOCOL, "literal inside a response code");
    p->lit8 = c == '~';
    p->lit_len = 0;
    p->tok = 0;                     /* digits seen */
    p->state = c == '~' ? ST_TILDE : ST_LITLEN;
    return 0;
}

static int end_code(imap_parser *p, mv_error *err)
{
    if (p->depth > 0) return fail(p, err, MV_E_PROTOCOL, "unbalanced '(' in code");
    p->mode = MODE_DATA;
    p->state = ST_AFTER_CODE;
    return 0;
}

static int val_start(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                     mv_error *err)
{
    unsigned char c = in[*i];
    (void)n;
    if (c == ']' && p->mode == MODE_CODE) {
        if (end_code(p, err) != 0) return MV_ERROR;
        (*i)++;
        return 0;
    }
    switch (c) {
    case ' ': (*i)++; return 0;
    case '(': (*i)++; return open_list(p, err);
    case ')': (*i)++; return close_list(p, err);
    case '"': (*i)++; p->tok = p->store.len; p->state = ST_QUOTED; return 0;
    case '{': case '~':
        if (start_literal(p, c, err) != 0) return MV_ERROR;
        (*i)++;
        return 0;
    default: break;
    }
    if (!atom_char(c, p->mode)) return fail(p, err, MV_E_PROTOCOL, "unexpected byte");
    p->tok = p->store.len;
    p->state = ST_ATOM;
    return 0;
}

static int val_atom(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                    mv_error *err)
{
    size_t j = atom_run(in, n, *i, p->mode, '[');
    if (keep(p, in, i, j, err) != 0) return MV_ERROR;
    if (j == n) return 0;
    if (in[j] == '[') {
        (*i)++;
        if (p->mode == MODE_DATA && section_atom(p->store.data + p->tok, p->store.len - p->tok))
            p->state = ST_SECTION;
        return put(p, (const unsigned char *)"[", 1, 1, err);
    }
    if (in[j] == '\r' || in[j] == '\n' || in[j] == 0) return 0;
    p->state = ST_VAL;
    return end_atom(p, err);    /* the byte that ended it is read again */
}

static int val_section(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                       mv_error *err)
{
    size_t j = run_to(in, n, *i, ']', ']');
    if (keep(p, in, i, j, err) != 0) return MV_ERROR;
    if (j == n || in[j] != ']') return 0;
    (*i)++;
    p->state = ST_ATOM;
    return put(p, (const unsigned char *)"]", 1, 1, err);
}

static int val_quoted(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                      mv_error *err)
{
    size_t j = run_to(in, n, *i, '"', '\\'), len;
    if (keep(p, in, i, j, err) != 0) return MV_ERROR;
    if (j == n || (in[j] != '"' && in[j] != '\\')) return 0;
    (*i)++;
    if (in[j] == '\\') { p->state = ST_QESC; return 0; }
    p->state = ST_VAL;
    if (end_token(p, err, &len) != 0) return MV_ERROR;
    return add_node(p, IMAP_V_STRING, 0, p->tok, len, err);
}

static int val_qesc(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                    mv_error *err)
{
    unsigned char c = in[*i];
    (void)n;
    if (c != '"' && c != '\\') {
        if (c == '\r' || c == '\n') return 0;
        return fail(p, err, MV_E_PROTOCOL, "bad escape in quoted string");
    }
    (*i)++;
    p->state = ST_QUOTED;
    return put(p, &c, 1, 1, err);
}

/* --- a literal's announcement: "~"? "{" digits "}" CRLF */

static int lit_tilde(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                     mv_error *err)
{
    (void)n;
    if (in[*i] != '{') return fail(p, err, MV_E_PROTOCOL, "'~' not followed by '{'");
    (*i)++;
    p->state = ST_LITLEN;
    return 0;
}

static int lit_size(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                    mv_error *err)
{
    unsigned char c = in[(*i)++];
    (void)n;
    if (c >= '0' && c <= '9') {
        unsigned d = (unsigned)(c - '0');
        if (d > p->lim.max_literal || p->lit_len > (p->lim.max_literal - d) / 10)
            return limit(p, err, "literal too large", p->lim.max_literal);
        p->lit_len = p->lit_len * 10 + d;
        p->tok++;
        return 0;
    }
    if (c != '}' || p->tok == 0) return fail(p, err, MV_E_PROTOCOL, "bad literal size");
    p->state = ST_LITCR;
    return 0;
}

static int lit_crlf(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                    mv_error *err)
{
    unsigned char c = in[(*i)++];
    (void)n;
    if (c == '\r' && p->state == ST_LITCR) { p->state = ST_LITLF; return 0; }
    if (c == '\n') return announce(p);
    return fail(p, err, MV_E_PROTOCOL, "literal size not followed by CRLF");
}

/* --- the line around the values: tag or "*" or "+", the first words, codes and text */

static int line_start(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                      mv_error *err)
{
    unsigned char c = in[(*i)++];
    (void)n;
    if (c == '*') { p->resp.kind = IMAP_UNTAGGED; p->state = ST_STAR_SP; return 0; }
    if (c == '+') { p->resp.kind = IMAP_CONTINUE; p->state = ST_CONT_SP; return 0; }
    if (!atom_char(c, MODE_DATA)) return fail(p, err, MV_E_PROTOCOL, "bad tag");
    p->resp.kind = IMAP_TAGGED;
    p->tok = p->tag_off = p->store.len;
    p->state = ST_TAG;
    return put(p, &c, 1, 1, err);
}

static int line_tag(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                    mv_error *err)
{
    size_t j = atom_run(in, n, *i, MODE_DATA, '+'), len;
    if (keep(p, in, i, j, err) != 0) return MV_ERROR;
    if (j == n || in[j] == '\r' || in[j] == '\n') return 0;    /* end_line decides */
    if (in[j] != ' ') return fail(p, err, MV_E_PROTOCOL, "bad tag");
    (*i)++;
    if (end_token(p, err, &len) != 0) return MV_ERROR;
    p->tag_len = len;
    p->tok = p->store.len;
    p->state = ST_WORD;
    return 0;
}

static int line_star_sp(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                        mv_error *err)
{
    (void)n;
    if (in[*i] != ' ') return fail(p, err, MV_E_PROTOCOL, "'*' not followed by a space");
    (*i)++;
    p->tok = p->store.len;
    p->state = ST_WORD;
    return 0;
}

static int line_word(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                     mv_error *err)
{
    size_t j = atom_run(in, n, *i, MODE_DATA, -1);
    if (keep(p, in, i, j, err) != 0) return MV_ERROR;
    if (j == n || in[j] == '\r' || in[j] == '\n') return 0;
    if (in[j] != ' ') return fail(p, err, MV_E_PROTOCOL, "unexpected byte");
    (*i)++;
    if (end_word(p, err) != 0) return MV_ERROR;
    if (p->resp.status != IMAP_DATA) { p->state = ST_TEXT_START; return 0; }
    if (p->name_len == 0) { p->tok = p->store.len; return 0; }  /* name after number */
    p->state = ST_VAL;
    return 0;
}

/* "+" and a response code are each followed by an optional space before the text. */
static int line_space(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                      mv_error *err)
{
    (void)n;
    (void)err;
    if (in[*i] == ' ') (*i)++;
    if (p->state == ST_CONT_SP) {
        p->state = ST_TEXT_START;
        return 0;
    }
    p->tok = p->text_off = p->store.len;
    p->state = ST_TEXT;
    return 0;
}

static int line_text_start(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                           mv_error *err)
{
    (void)n;
    (void)err;
    if (in[*i] == '[') {
        (*i)++;
        p->tok = p->code_off = p->store.len;
        p->state = ST_CODE_ATOM;
        return 0;
    }
    p->tok = p->text_off = p->store.len;
    p->state = ST_TEXT;
    return 0;
}

static int code_name(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                     mv_error *err)
{
    size_t j = atom_run(in, n, *i, MODE_CODE, -1), len;
    if (keep(p, in, i, j, err) != 0) return MV_ERROR;
    if (j == n || in[j] == '\r' || in[j] == '\n') return 0;
    if (in[j] != ' ' && in[j] != ']') return fail(p, err, MV_E_PROTOCOL, "bad response code");
    (*i)++;
    if (end_token(p, err, &len) != 0) return MV_ERROR;
    if (len == 0) return fail(p, err, MV_E_PROTOCOL, "empty response code");
    p->code_len = len;
    if (in[j] == ']') {
        p->state = ST_AFTER_CODE;
    } else if (imap_code_has_args((const char *)p->store.data + p->code_off, len)) {
        p->mode = MODE_CODE;
        p->state = ST_VAL;
    } else {
        p->tok = p->ctext_off = p->store.len;
        p->has_ctext = 1;
        p->state = ST_CODE_RAW;
    }
    return 0;
}

static int code_raw(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                    mv_error *err)
{
    size_t j = run_to(in, n, *i, ']', ']'), len;
    if (keep(p, in, i, j, err) != 0) return MV_ERROR;
    if (j == n || in[j] != ']') return 0;
    (*i)++;
    if (end_token(p, err, &len) != 0) return MV_ERROR;
    p->ctext_len = len;
    p->state = ST_AFTER_CODE;
    return 0;
}

static int line_text(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                     mv_error *err)
{
    return keep(p, in, i, run_to(in, n, *i, 0, 0), err);
}

static int bad_state(imap_parser *p, const unsigned char *in, size_t n, size_t *i,
                     mv_error *err)
{
    (void)in;
    (void)n;
    (void)i;
    return fail(p, err, MV_E_PROTOCOL, "internal state");
}

/* Indexed by state; ST_LITDATA, ST_CR and ST_DONE are imap_parser_feed's own. */
static const step_fn steps[] = {
    [ST_START] = line_start,         [ST_TAG] = line_tag,
    [ST_STAR_SP] = line_star_sp,     [ST_WORD] = line_word,
    [ST_CONT_SP] = line_space,       [ST_TEXT_START] = line_text_start,
    [ST_CODE_ATOM] = code_name,      [ST_CODE_RAW] = code_raw,
    [ST_AFTER_CODE] = line_space,    [ST_TEXT] = line_text,
    [ST_VAL] = val_start,            [ST_ATOM] = val_atom,
    [ST_SECTION] = val_section,      [ST_QUOTED] = val_quoted,
    [ST_QESC] = val_qesc,            [ST_TILDE] = lit_tilde,
    [ST_LITLEN] = lit_size,          [ST_LITCR] = lit_crlf,
    [ST_LITLF] = lit_crlf,           [ST_LITDATA] = bad_state,
    [ST_CR] = bad_state,             [ST_DONE] = bad_state,
};

static int step(imap_parser *p, const unsigned char *in, size_t n, size_t *i, mv_error *err)
{
    return steps[p->state](p, in, n, i, err);
}

int imap_parser_feed(imap_parser *p, const unsigned char *in, size_t n, size_t *used,
                     mv_error *err)
{
    size_t i = 0;
    int r;
    *used = 0;
    if (p->failed) return mv_fail(err, MV_E_PROTOCOL, "IMAP response: parser failed before");
    if (p->state == ST_DONE) reset(p);
    for (;;) {
        if (p->state == ST_LITDATA) {
            size_t k;
            if (p->lit_left == 0) {
                if (end_literal(p, err) != 0) return MV_ERROR;
                continue;
            }
            if (i == n) break;
            if (!p->lit_stream && p->lit_len > p->lim.max_kept)
                return limit(p, err, "literal too large to keep", p->lim.max_kept);
            k = p->lit_left < (uint64_t)(n - i) ? (size_t)p->lit_left : n - i;
            p->lit_left -= k;
            if (p->lit_stream) {
                p->chunk = in + i;
                p->chunk_len = k;
                *used = i + k;
                return IMAP_LITERAL_DATA;
            }
            if (put(p, in + i, k, 0, err) != 0) return MV_ERROR;
            i += k;
            continue;
        }
        if (i == n) break;
        if (p->state == ST_CR) {
            if (in[i] != '\n') return fail(p, err, MV_E_PROTOCOL, "CR not followed by LF");
            *used = i + 1;
            p->state = p->cr_state;
            return end_line(p, err);
        }
        if ((in[i] == '\r' || in[i] == '\n') && p->state != ST_LITCR && p->state != ST_LITLF
            && p->state != ST_START && p->state != ST_STAR_SP && p->state != ST_TILDE
            && p->state != ST_LITLEN) {
            if (in[i] == '\n') {
                *used = i + 1;
                return end_line(p, err);
            }
            p->cr_state = p->state;
            p->state = ST_CR;
            i++;
            continue;
        }
        /* Other control bytes are refused where they are not text (atom_char). */
        if (in[i] == 0) return fail(p, err, MV_E_PROTOCOL, "NUL outside a literal");
        r = step(p, in, n, &i, err);
        if (r == MV_ERROR) return MV_ERROR;
        if (r == IMAP_LITERAL) {
            *used = i;
            return IMAP_LITERAL;
        }
    }
    *used = n;
    return IMAP_MORE;
}

const imap_resp *imap_parser_response(const imap_parser *p)
{
    return p->state == ST_DONE ? &p->resp : NULL;
}

uint64_t imap_parser_literal(const imap_parser *p, int *literal8, imap_str *key)
{
    if (literal8 != NULL) *literal8 = p->lit8;
    if (key != NULL) {
        key->s = NULL;
        key->len = 0;
        if (p->lit_key != NO_NODE) {
            key->s = (const char *)p->store.data + p->nodes[p->lit_key].off;
            key->len = p->nodes[p->lit_key].len;
        }
    }
    return p->lit_len;
}

void imap_parser_stream_literal(imap_parser *p)
{
    if (p->state == ST_LITDATA && p->lit_left == p->lit_len) p->lit_stream = 1;
}

const unsigned char *imap_parser_chunk(const imap_parser *p, size_t *len)
{
    *len = p->chunk_len;
    return p->chunk;
}
