/* The parser: one linear pass over the lines with an explicit stack of open multiparts
 * (no recursion per nesting level, CVE-2020-12100), then a pass over the leaves. */
#include "mime_parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_codec.h"
#include "mime_header.h"
#include "mime_part.h"
#include "mv_defaults.h"
#include "mv_str.h"

void mv_mime_limits_default(mv_mime_limits *l)
{
    l->max_depth = MV_DEFAULT_MIME_MAX_DEPTH;
    l->max_parts = MV_DEFAULT_MIME_MAX_PARTS;
    l->max_headers = MV_DEFAULT_MIME_MAX_HEADERS;
    l->max_header_bytes = MV_DEFAULT_MIME_MAX_HEADER_BYTES;
}

typedef struct frame {
    size_t part;
    const char *b;
    size_t blen;
} frame;

typedef struct parser {
    mv_mime_msg *m;
    const unsigned char *s;
    size_t n;
    const mv_mime_limits *lim;
    mv_error *e;
    frame *fr;
    size_t nfr;
    size_t *open;       /* parts whose body has not ended, innermost last */
    size_t nopen;
} parser;

static size_t line_end(const unsigned char *s, size_t n, size_t i, size_t *next)
{
    const unsigned char *nl = memchr(s + i, '\n', n - i);
    size_t e = nl != NULL ? (size_t)(nl - s) : n;
    *next = nl != NULL ? e + 1 : n;
    if (e > i && s[e - 1] == '\r') e--;
    return e;
}

static int oom(parser *p)
{
    return mv_fail(p->e, MV_E_MEMORY, "out of memory");
}

static int defect(parser *p, const char *what)
{
    return mv_mime_add_defect(p->m, what) != 0 ? oom(p) : 0;
}

int mv_mime_next_header(const unsigned char *raw, size_t end, size_t *pos,
                        const char **name, size_t *nlen, const char **val, size_t *vlen)
{
    size_t i = *pos;
    while (i < end) {
        size_t nx, le = line_end(raw, end, i, &nx), c, j;
        const unsigned char *colon;
        if (raw[i] == ' ' || raw[i] == '\t') { i = nx; continue; }   /* stray continuation */
        colon = memchr(raw + i, ':', le - i);
        if (colon == NULL) { i = nx; continue; }
        c = (size_t)(colon - raw);
        j = c;
        while (j > i && (raw[j - 1] == ' ' || raw[j - 1] == '\t')) j--;
        if (!mv_hdr_name_ok((const char *)raw + i, j - i)) {
            i = nx;
            while (i < end && (raw[i] == ' ' || raw[i] == '\t')) line_end(raw, end, i, &i);
            continue;
        }
        *name = (const char *)raw + i;
        *nlen = j - i;
        *val = (const char *)raw + c + 1;
        i = nx;
        while (i < end && (raw[i] == ' ' || raw[i] == '\t')) line_end(raw, end, i, &i);
        *vlen = i - (c + 1);
        *pos = i;
        return 1;
    }
    *pos = end;
    return 0;
}

#define MAX_STRAY_LINES 4

/* Where the header field is that follows the stray line ending at i: after at most
 * MAX_STRAY_LINES lines without a colon (with their continuations), a line "Name:" with
 * a valid name.  (size_t)-1 when a blank line, the end or another line comes first. */
static size_t field_after(const unsigned char *s, size_t n, size_t i)
{
    int stray = 1;
    while (i < n) {
        size_t nx, le = line_end(s, n, i, &nx), j;
        const unsigned char *colon;
        if (s[i] == ' ' || s[i] == '\t') { i = nx; continue; }
        if (le == i) break;
        colon = memchr(s + i, ':', le - i);
        if (colon == NULL) {
            if (++stray > MAX_STRAY_LINES) break;
            i = nx;
            continue;
        }
        j = (size_t)(colon - s);
        while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t')) j--;
        return mv_hdr_name_ok((const char *)s + i, j - i) ? i : (size_t)-1;
    }
    return (size_t)-1;
}

/* Reads the header block at `at`; records the part's type information. */
static int parse_headers(parser *p, mv_mime_part *pt, size_t at)
{
    const unsigned char *s = p->s;
    size_t i = at, count = 0, nx;
    int in_field = 0;
    pt->hdr_off = at;
    /* An mbox "From " line before the first header is not a header. */
    if (pt->parent < 0 && p->n - i >= 5 && memcmp(s + i, "From ", 5) == 0)
        { line_end(s, p->n, i, &i); pt->hdr_off = i; }
    while (i < p->n) {
        size_t le = line_end(s, p->n, i, &nx);
        if (le == i) { pt->hdr_end = i; pt->body_off = nx; return 0; }
        if (le - pt->hdr_off > p->lim->max_header_bytes)
            return mv_fail(p->e, MV_E_LIMIT, "header block larger than %lu bytes",
                           (unsigned long)p->lim->max_header_bytes);
        if (s[i] == ' ' || s[i] == '\t') {
            if (!in_field && defect(p, count == 0 ? "first header line is a continuation"
                                                  : "continuation of an invalid header") != 0)
                return MV_ERROR;
        } else {
            const unsigned char *colon = memchr(s + i, ':', le - i);
            size_t j;
            if (colon == NULL) {
                /* A few stray lines between two fields (a mangled ">From ", a fold that
                 * lost its blank) are skipped, as GMime does; otherwise the blank line is
                 * missing and the body starts here, as Python's email has it, so no body
                 * text is lost. */
                size_t f = field_after(s, p->n, nx);
                if (f != (size_t)-1) {
                    if (defect(p, "lines without a colon in the header skipped") != 0)
                        return MV_ERROR;
                    in_field = 0;
                    i = f;
                    continue;
                }
                if (defect(p, "line without a colon in the header; body starts there") != 0)
                    return MV_ERROR;
                pt->hdr_end = i;
                pt->body_off = i;
                return 0;
            }
            j = (size_t)(colon - s);
            while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t')) j--;
            in_field = mv_hdr_name_ok((const char *)s + i, j - i);
            if (!in_field && defect(p, "invalid header name (NUL, blank or control)") != 0)
                return MV_ERROR;
            if (++count > p->lim->max_headers)
                return mv_fail(p->e, MV_E_LIMIT, "more than %lu header fields",
                               (unsigned long)p->lim->max_headers);
        }
        i = nx;
    }
    pt->hdr_end = pt->body_off = p->n;
    return 0;
}

enum { CF_OTHER, CF_TYPE, CF_DISPOSITION, CF_ENCODING, CF_ID };

/* Which of the Content-* fields a part's type information comes from the name is. */
static int content_field(const char *name, size_t nl)
{
    static const struct { const char *name; size_t len; int kind; } f[] = {
        {"content-type", 12, CF_TYPE}, {"content-disposition", 19, CF_DISPOSITION},
        {"content-transfer-encoding", 25, CF_ENCODING}, {"content-id", 10, CF_ID},
    };
    size_t i;
    for (i = 0; i < sizeof f / sizeof f[0]; i++)
        if (nl == f[i].len && strncasecmp(name, f[i].name, nl) == 0) return f[i].kind;
    return CF_OTHER;
}

/* Content-Transfer-Encoding; an unknown one leaves the part as it was. */
static void read_encoding(mv_mime_part *pt, const char *v)
{
    if (strcasecmp(v, "base64") == 0) pt->cte = MV_CTE_BASE64;
    else if (strcasecmp(v, "quoted-printable") == 0) pt->cte = MV_CTE_QP;
    else if (strcasecmp(v, "8bit") == 0) pt->cte = MV_CTE_8BIT;
    else if (strcasecmp(v, "binary") == 0) pt->cte = MV_CTE_BINARY;
    else if (strcasecmp(v, "x-uuencode") == 0 || strcasecmp(v, "uuencode") == 0 ||
             strcasecmp(v, "x-uue") == 0) pt->cte = MV_CTE_UU;
}

/* Content-ID without its angle brackets and blanks. */
static int read_id(parser *p, mv_mime_part *pt, const char *v)
{
    const char *a = v, *b;
    while (*a == '<' || *a == ' ') a++;
    b = a + strlen(a);
    while (b > a && (b[-1] == '>' || b[-1] == ' ')) b--;
    free(pt->cid);
    return (pt->cid = mv_strndup(a, (size_t)(b - a))) == NULL ? oom(p) : MV_OK;
}

/* Content-Type: the type (taken from ps), boundary, charset and the name a file may
 * have (Content-Disposition's filename wins). */
static int read_type(parser *p, mv_mime_part *pt, mv_params *ps)
{
    const char *b = mv_params_get(ps, "boundary"), *cs = mv_params_get(ps, "charset");
    const char *nm = mv_params_get(ps, "name");
    if (strchr(ps->value, '/') != NULL && strlen(ps->value) < 128) {
        free(pt->type);
        pt->type = ps->value;
        ps->value = NULL;
    } else if (defect(p, "invalid Content-Type") != 0) {
        return MV_ERROR;
    }
    if ((b != NULL && (pt->boundary = mv_strdup(b)) == NULL) ||
        (cs != NULL && (pt->charset = mv_strdup(cs)) == NULL) ||
        (nm != NULL && pt->filename == NULL && (pt->filename = mv_strdup(nm)) == NULL))
        return oom(p);
    return MV_OK;
}

/* Content-Disposition: the disposition (taken from ps) and the file name. */
static int read_disposition(parser *p, mv_mime_part *pt, mv_params *ps)
{
    const char *fn = mv_params_get(ps, "filename");
    free(pt->disposition);
    pt->disposition = ps->value;
    ps->value = NULL;
    if (fn != NULL) {
        free(pt->filename);
        if ((pt->filename = mv_strdup(fn)) == NULL) return oom(p);
    }
    return MV_OK;
}

/* A part without Content-Type: RFC 2046, message/rfc822 inside multipart/digest,
 * text/plain elsewhere. */
static int default_type(parser *p, mv_mime_part *pt)
{
    int digest = pt->parent >= 0 && p->m->parts[pt->parent].type != NULL &&
                 strcmp(p->m->parts[pt->parent].type, "multipart/digest") == 0;
    if ((pt->type = mv_strdup(digest ? "message/rfc822" : "text/plain")) == NULL)
        return oom(p);
    return MV_OK;
}

/* The part's type information from its Content-* fields (the first Content-Type wins). */
static int interpret(parser *p, mv_mime_part *pt)
{
    size_t pos = pt->hdr_off, nl, vl;
    const char *name, *val;
    int d = 0, have_ct = 0, rc = MV_OK;
    char *v = NULL;
    mv_params ps;
    memset(&ps, 0, sizeof ps);
    pt->cte = MV_CTE_7BIT;
    while (rc == MV_OK && mv_mime_next_header(p->s, pt->hdr_end, &pos, &name, &nl, &val, &vl)) {
        int kind = content_field(name, nl);
        if (kind == CF_OTHER || (kind == CF_TYPE && have_ct++)) continue;
        free(v);
        if ((v = mv_hdr_unfold(val, vl)) == NULL) rc = oom(p);
        else if (kind == CF_ENCODING) read_encoding(pt, v);
        else if (kind == CF_ID) rc = read_id(p, pt, v);
        else if (mv_params_parse(v, strlen(v), &ps, &d) != 0) rc = oom(p);
        else rc = kind == CF_TYPE ? read_type(p, pt, &ps) : read_disposition(p, pt, &ps);
        mv_params_free(&ps);
    }
    if (rc == MV_OK && pt->type == NULL) rc = default_type(p, pt);
    if (rc == MV_OK && d > 0 &&
        defect(p, "damaged parameters or encoded-words in MIME headers") != 0) rc = MV_ERROR;
    free(v);
    return rc;
}

/* Creates a part whose header block starts at `at`; returns its index or -1. */
static long new_part(parser *p, long parent, size_t at)
{
    mv_mime_msg *m = p->m;
    mv_mime_part *pt;
    size_t *no;
    int depth = parent >= 0 ? m->parts[parent].depth + 1 : 0;
    if ((size_t)depth > p->lim->max_depth) {
        mv_fail(p->e, MV_E_LIMIT, "nesting deeper than %lu levels",
                (unsigned long)p->lim->max_depth);
        return -1;
    }
    if (m->nparts >= p->lim->max_parts) {
        mv_fail(p->e, MV_E_LIMIT, "more than %lu parts", (unsigned long)p->lim->max_parts);
        return -1;
    }
    if ((pt = mv_grow(m->parts, &m->capparts, m->nparts, sizeof *pt, 8)) == NULL) goto oom;
    m->parts = pt;
    no = realloc(p->open, (p->nopen + 1) * sizeof *no);
    if (no == NULL) goto oom;
    p->open = no;
    pt = &m->parts[m->nparts];
    memset(pt, 0, sizeof *pt);
    pt->parent = (int)parent;
    pt->depth = depth;
    m->nparts++;
    if (parent >= 0) m->parts[parent].nchildren++;
    p->open[p->nopen++] = m->nparts - 1;
    if (parse_headers(p, pt, at) != 0 || interpret(p, pt) != 0) return -1;
    return (long)(m->nparts - 1);
oom:
    mv_fail(p->e, MV_E_MEMORY, "out of memory");
    return -1;
}

/* After a part's headers: open a multipart frame, or descend into message/rfc822. */
static int enter(parser *p, long idx)
{
    for (;;) {
        mv_mime_part *pt = &p->m->parts[idx];
        if (strncmp(pt->type, "multipart/", 10) == 0) {
            frame *nf;
            if (pt->boundary == NULL || pt->boundary[0] == '\0') {
                if (defect(p, "multipart without a boundary: read as text") != 0) return -1;
                free(pt->type);
                pt->type = mv_strdup("text/plain");
                return pt->type == NULL ? mv_fail(p->e, MV_E_MEMORY, "out of memory") : 0;
            }
            nf = realloc(p->fr, (p->nfr + 1) * sizeof *nf);
            if (nf == NULL) return mv_fail(p->e, MV_E_MEMORY, "out of memory");
            p->fr = nf;
            nf[p->nfr].part = (size_t)idx;
            nf[p->nfr].b = pt->boundary;
            nf[p->nfr].blen = strlen(pt->boundary);
            p->nfr++;
            return 0;
        }
        if (strcmp(pt->type, "message/rfc822") == 0 && pt->cte != MV_CTE_BASE64 &&
            pt->cte != MV_CTE_QP && pt->body_off < p->n) {
            idx = new_part(p, idx, pt->body_off);
            if (idx < 0) return -1;
            continue;
        }
        return 0;
    }
}

/* Which open frame (innermost first) does this "--" line delimit?  *close for "--b--". */
static long match_frame(parser *p, size_t i, size_t le, int *close)
{
    size_t k = p->nfr;
    while (k-- > 0) {
        const frame *f = &p->fr[k];
        size_t j = i + 2 + f->blen;
        if (j > le || memcmp(p->s + i + 2, f->b, f->blen) != 0) continue;
        *close = j + 2 <= le && p->s[j] == '-' && p->s[j + 1] == '-';
        if (*close) j += 2;
        while (j < le && (p->s[j] == ' ' || p->s[j] == '\t')) j++;
        if (j == le) return (long)k;
    }
    return -1;
}

static void end_open(parser *p, size_t keep, size_t at)
{
    while (p->nopen > 0 && p->open[p->nopen - 1] != keep) {
        mv_mime_part *pt = &p->m->parts[p->open[--p->nopen]];
        pt->body_end = at < pt->body_off ? pt->body_off : at;
        pt->ended = 1;
    }
}

/* The first line at or after the line start i that begins with "--" (only such a line
 * can be a delimiter): memchr hops from '-' to '-', so a base64 body (which holds none)
 * is crossed in one call instead of one call per line. */
static size_t next_dash_line(const unsigned char *s, size_t n, size_t i)
{
    size_t q = i;
    while (q + 1 < n) {
        const unsigned char *d = memchr(s + q, '-', n - q - 1);
        if (d == NULL) return n;
        q = (size_t)(d - s);
        if (s[q + 1] == '-' && (q == i || s[q - 1] == '\n')) return q;
        q++;
    }
    return n;
}

static int scan(parser *p)
{
    size_t i = p->m->parts[0].body_off, nx;
    while (i < p->n) {
        size_t le;
        /* Lines that cannot be delimiters change nothing: skip them. */
        if (p->nfr == 0) break;
        i = next_dash_line(p->s, p->n, i);
        if (i >= p->n) break;
        le = line_end(p->s, p->n, i, &nx);
        int close = 0;
        long k;
        if (p->nfr > 0 && le - i >= 2 && p->s[i] == '-' && p->s[i + 1] == '-' &&
            (k = match_frame(p, i, le, &close)) >= 0) {
            /* The line break before a delimiter belongs to the delimiter. */
            size_t end = i;
            size_t fpart = p->fr[k].part;
            if (end > 0 && p->s[end - 1] == '\n') end--;
            if (end > 0 && p->s[end - 1] == '\r') end--;
            if ((size_t)k + 1 < p->nfr &&
                defect(p, "missing close delimiter of an inner multipart") != 0) return -1;
            p->nfr = (size_t)k + 1;
            end_open(p, fpart, end);
            if (close) {
                p->nfr--;
            } else {
                long c = new_part(p, (long)fpart, nx);
                if (c < 0 || enter(p, c) != 0) return -1;
                nx = p->m->parts[c].body_off > nx ? p->m->parts[c].body_off : nx;
                /* A child part whose header block swallowed further lines continues
                 * from its body; its headers were read by new_part. */
            }
        }
        i = nx;
    }
    if (p->nfr > 0 && defect(p, "missing close delimiter at the end of the message") != 0)
        return -1;
    end_open(p, (size_t)-1, p->n);
    return 0;
}

static int top_headers(parser *p)
{
    mv_mime_msg *m = p->m;
    const mv_mime_part *pt = &m->parts[0];
    size_t pos = pt->hdr_off, nl, vl;
    const char *name, *val;
    mv_buf v;
    int d = 0, rc = MV_ERROR;
    mv_buf_init(&v);
    while (mv_mime_next_header(p->s, pt->hdr_end, &pos, &name, &nl, &val, &vl)) {
        char nm[80];
        memcpy(nm, name, nl);
        nm[nl] = '\0';
        mv_buf_reset(&v);
        if (mv_mime_is_addr_header(nm)) {
            mv_addr_list l = {NULL, 0, 0};
            size_t k;
            if (mv_addr_parse(val, vl, 1, &l, &d, NULL, 0) != 0) { mv_addr_list_free(&l);
                                                                  goto oom; }
            for (k = 0; k < l.n; k++)
                if ((k > 0 && mv_buf_append(&v, ", ", 2) != 0) ||
                    mv_addr_format(&v, &l.v[k]) != 0) { mv_addr_list_free(&l); goto oom; }
            mv_addr_list_free(&l);
        } else if (mv_hdr_unfold_decode(val, vl, &v, &d) != 0) {
            goto oom;
        }
        if (mv_buf_append(&v, "", 1) != 0 || mv_mime_add_header(m, nm, (char *)v.data) != 0)
            goto oom;
        mv_mime_keep_raw_header(m, (size_t)((const unsigned char *)name - p->s), pos);
    }
    if (d > 0 && defect(p, "damaged header fields repaired (encoding, controls or addresses)")
        != 0) goto done;
    rc = MV_OK;
    goto done;
oom:
    mv_fail(p->e, MV_E_MEMORY, "out of memory");
done:
    mv_buf_free(&v);
    return rc;
}

static int in_message(const mv_mime_msg *m, size_t idx)
{
    int q = m->parts[idx].parent;
    while (q >= 0) {
        if (strcmp(m->parts[q].type, "message/rfc822") == 0) return 1;
        q = m->parts[q].parent;
    }
    return 0;
}

/* Bodies read as text use LF line ends, as the caller wrote them.  The runs between
 * CRs move at memchr/memmove speed (a body can be megabytes: a byte loop here cost as
 * much as decrypting it). */
static void crlf_to_lf(mv_buf *b)
{
    unsigned char *end, *r, *o;
    if (b->len == 0 || (r = memchr(b->data, '\r', b->len)) == NULL) return;
    end = b->data + b->len;
    o = r;
    while (r < end) {
        unsigned char *next;
        if (r + 1 < end && r[1] == '\n') r++;  /* r is at a CR: dropped before LF */
        else *o++ = *r++;                     /* a lone CR stays */
        next = memchr(r, '\r', (size_t)(end - r));
        if (next == NULL) next = end;
        memmove(o, r, (size_t)(next - r));
        o += next - r;
        r = next;
    }
    b->len = (size_t)(o - b->data);
}

static int count_piece(void *ctx, const unsigned char *p, size_t n)
{
    (void)p;
    *(size_t *)ctx += n;
    return 0;
}

/* The uuencoded blocks of a text body become attachments (mv_mime_take_uu). */
static int extract_uu(parser *p, const unsigned char *src, size_t n, mv_buf *rest)
{
    int d = 0, r = mv_mime_take_uu(p->m, src, n, rest, &d);
    if (r < 0) return mv_fail(p->e, MV_E_MEMORY, "out of memory");
    if (d > 0 && defect(p, "damaged uuencoded lines repaired") != 0) return -1;
    return r;
}

/* Whether part pt is a body (1) or an attachment (0; *att when it must be one); -1 when
 * out of memory.  RFC 2183 2.1: an inline part is shown with the message, so the first
 * text part is the body even when it names a file; later named ones are attachments.
 * An x-uuencode part is a file, named on its begin line when its headers do not. */
static int pick_body(const mv_mime_msg *m, mv_mime_part *pt, int is_msg, int *seen_text,
                     int *att)
{
    int is_text = strcmp(pt->type, "text/plain") == 0 || strcmp(pt->type, "text/html") == 0;
    int body;
    if (pt->cte == MV_CTE_UU && pt->filename == NULL) {
        mv_uu_block b;
        if (pt->body_end > pt->body_off &&
            mv_uu_find(m->raw + pt->body_off, pt->body_end - pt->body_off, 0, &b) &&
            (pt->filename = mv_mime_uu_name(&b)) == NULL) return -1;
    }
    *att = is_msg || pt->cte == MV_CTE_UU ||
           (pt->disposition != NULL && strcmp(pt->disposition, "attachment") == 0);
    body = !*att && is_text && (pt->filename == NULL || !*seen_text) &&
           (strcmp(pt->type, "text/plain") == 0 ? m->text == NULL : m->html == NULL);
    *seen_text |= is_text;
    return body;
}

/* A multipart without parts is read as text. */
static int empty_multipart(parser *p, mv_mime_part *pt)
{
    if (defect(p, "multipart without parts: read as text") != 0) return MV_ERROR;
    free(pt->type);
    return (pt->type = mv_strdup("text/plain")) == NULL ? oom(p) : MV_OK;
}

/* The repairs undoing part pt's transfer encoding took (d; -1: out of memory). */
static int encoding_repairs(parser *p, const mv_mime_part *pt, int d)
{
    if (d < 0) return oom(p);
    if (d > 0 && defect(p, pt->cte == MV_CTE_BASE64 ? "invalid base64 repaired"
                           : pt->cte == MV_CTE_UU ? "damaged uuencoded lines repaired"
                                                  : "invalid quoted-printable kept") != 0)
        return MV_ERROR;
    return MV_OK;
}

/* What converting a body to UTF-8 repaired, by what mv_charset_to_utf8 returned. */
static const char *charset_defect(int r, int html)
{
    if (r == MV_CS_GUESSED)
        return "8-bit text without a charset (or declared us-ascii): "
               "read as UTF-8 if valid, else windows-1252";
    return html ? "html not valid in its charset (or unknown charset)"
                : "text not valid in its charset (or unknown charset)";
}

/* Part i is the text or html body: decoded now (read where it lies when it has no
 * transfer encoding), its uuencoded blocks taken out as attachments (plain text), then
 * converted to UTF-8 with LF line ends.  c and u are scratch buffers; the decoded bytes
 * are let go as soon as they are converted (a body can be most of a message). */
static int read_body(parser *p, size_t i, mv_buf *c, mv_buf *u)
{
    mv_mime_msg *m = p->m;
    const mv_mime_part *pt = &m->parts[i];
    int identity = pt->cte == MV_CTE_7BIT || pt->cte == MV_CTE_8BIT ||
                   pt->cte == MV_CTE_BINARY;
    int html = strcmp(pt->type, "text/html") == 0, d = 0, r;
    const unsigned char *src;
    size_t sn;
    mv_buf_reset(c);
    if (encoding_repairs(p, pt, identity ? 0 : mv_mime_part_content(m, i, c)) != MV_OK)
        return MV_ERROR;
    src = identity ? m->raw + pt->body_off : c->data;
    sn = !identity ? c->len : pt->body_end > pt->body_off ? pt->body_end - pt->body_off : 0;
    if (!html) {
        mv_buf_reset(u);
        if ((r = extract_uu(p, src, sn, u)) < 0) return MV_ERROR;
        if (r > 0) {
            mv_buf t = *c;
            *c = *u;
            *u = t;
            src = c->data;
            sn = c->len;
        }
        mv_buf_reset(u);
    }
    if ((r = mv_charset_to_utf8(pt->charset, src, sn, u, &d)) < 0) return oom(p);
    free(c->data);
    mv_buf_init(c);
    if (d > 0 && defect(p, charset_defect(r, html)) != 0) return MV_ERROR;
    crlf_to_lf(u);
    return mv_mime_take_body(m, html, u) != 0 ? oom(p) : MV_OK;
}

/* Part i is an attachment: only measured now (its size and repairs, in pieces), and
 * decoded again when its content is asked for.  (A message/rfc822 with parts has an
 * identity encoding: its content is its raw body.) */
static int read_att(parser *p, size_t i, int is_msg)
{
    size_t alen = 0;
    int d = mv_mime_part_content_each(p->m, i, 0, count_piece, &alen);
    if (encoding_repairs(p, &p->m->parts[i], d) != MV_OK) return MV_ERROR;
    if (mv_mime_add_part_att(p->m, i, alen, is_msg ? "message.eml" : NULL) != 0)
        return oom(p);
    return MV_OK;
}

/* The pass over the leaves: each is the body, an attachment, or inside an attached
 * message (whose parts belong to that message). */
static int leaves(parser *p)
{
    mv_mime_msg *m = p->m;
    size_t i;
    mv_buf c, u;
    int rc = MV_OK, seen_text = 0;
    mv_buf_init(&c);
    mv_buf_init(&u);
    for (i = 0; i < m->nparts && rc == MV_OK; i++) {
        mv_mime_part *pt = &m->parts[i];
        int att, body, is_msg = strcmp(pt->type, "message/rfc822") == 0;
        if (strncmp(pt->type, "multipart/", 10) == 0) {
            if (pt->nchildren > 0) continue;
            if ((rc = empty_multipart(p, pt)) != MV_OK) break;
        }
        if (in_message(m, i)) continue;
        if (is_msg && pt->nchildren == 0 && pt->cte != MV_CTE_BASE64 && pt->cte != MV_CTE_QP)
            continue;
        if ((body = pick_body(m, pt, is_msg, &seen_text, &att)) < 0) rc = oom(p);
        else rc = body ? read_body(p, i, &c, &u) : read_att(p, i, is_msg);
    }
    mv_buf_free(&c);
    mv_buf_free(&u);
    return rc;
}

static int parse_raw(mv_mime_msg *m, const unsigned char *raw, size_t n,
                     const mv_mime_limits *lim, mv_error *e)
{
    parser p;
    mv_mime_limits def;
    int rc = MV_ERROR;
    long root;
    if (lim == NULL) { mv_mime_limits_default(&def); lim = &def; }
    memset(&p, 0, sizeof p);
    m->raw = raw;
    m->raw_len = n;
    p.m = m;
    p.s = raw;
    p.n = n;
    p.lim = lim;
    p.e = e;
    root = new_part(&p, -1, 0);
    if (root < 0 || enter(&p, root) != 0 || scan(&p) != 0 || top_headers(&p) != 0 ||
        leaves(&p) != 0) goto cleanup;
    rc = MV_OK;
cleanup:
    free(p.fr);
    free(p.open);
    m->dirty = 0;
    m->gen++;
    return rc;
}

int mv_mime_parse(mv_mime_msg *m, const void *data, size_t n, const mv_mime_limits *lim,
                  mv_error *e)
{
    m->raw_owned = malloc(n ? n : 1);
    if (m->raw_owned == NULL) return mv_fail(e, MV_E_MEMORY, "out of memory");
    if (n) memcpy(m->raw_owned, data, n);
    return parse_raw(m, m->raw_owned, n, lim, e);
}

int mv_mime_parse_borrowed(mv_mime_msg *m, const void *data, size_t n,
                           const mv_mime_limits *lim, mv_error *e)
{
    /* A non-NULL raw marks the message as parsed, even when it is empty. */
    static const unsigned char empty[1] = {0};
    return parse_raw(m, n ? (const unsigned char *)data : empty, n, lim, e);
}
