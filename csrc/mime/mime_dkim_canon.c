/* DKIM pieces the signer and the verifier share (RFC 6376): the canonicalizers of
 * §3.4, a header block split into fields, the fields h= names hashed (§5.4.2) and the
 * tag-list syntax of §3.2. */
#include "mime_dkim.h"

#include <string.h>
#include <strings.h>

/* ---- body canonicalization ---- */

static void body_flush(mv_dkim_body *b)
{
    if (b->n > 0) b->out(b->ctx, b->buf, b->n);
    b->n = 0;
}

static void body_put(mv_dkim_body *b, const char *p, size_t n)
{
    if (b->n + n > sizeof b->buf) body_flush(b);
    memcpy(b->buf + b->n, p, n);
    b->n += n;
}

/* A byte of a line's content: the empty lines and the WSP run before it go out first. */
static void body_content(mv_dkim_body *b, unsigned char c)
{
    for (; b->blank > 0; b->blank--) body_put(b, "\r\n", 2);
    if (b->wsp) body_put(b, " ", 1);
    b->wsp = 0;
    body_put(b, (const char *)&c, 1);
    b->any = 1;
}

void mv_dkim_body_init(mv_dkim_body *b, int relaxed, mv_dkim_out out, void *ctx)
{
    memset(b, 0, sizeof *b);
    b->relaxed = relaxed;
    b->out = out;
    b->ctx = ctx;
}

/* How many bytes from p are line content as they are: up to a CR, an LF or (relaxed) a
 * WSP.  The canonicalizer copies such runs whole: a byte at a time it cost as much as
 * the SHA-256 after it (callgrind, a 1 MB body). */
static size_t plain_run(const mv_dkim_body *b, const unsigned char *p, size_t n)
{
    size_t i = 0;
    if (b->relaxed)
        while (i < n && p[i] != '\r' && p[i] != '\n' && p[i] != ' ' && p[i] != '\t') i++;
    else
        while (i < n && p[i] != '\r' && p[i] != '\n') i++;
    return i;
}

/* A run of line content: the empty lines and the WSP run before it go out first. */
static void body_run(mv_dkim_body *b, const unsigned char *p, size_t n)
{
    for (; b->blank > 0; b->blank--) body_put(b, "\r\n", 2);
    if (b->wsp) body_put(b, " ", 1);
    b->wsp = 0;
    b->any = 1;
    if (n < sizeof b->buf) {
        body_put(b, (const char *)p, n);
    } else {
        body_flush(b);
        b->out(b->ctx, p, n);
    }
}

void mv_dkim_body_feed(mv_dkim_body *b, const unsigned char *p, size_t n)
{
    size_t i = 0, k;
    while (i < n) {
        unsigned char c = p[i];
        if (b->cr) {
            b->cr = 0;
            if (c == '\n') { b->wsp = 0; b->blank++; i++; continue; }
            body_content(b, '\r');     /* a CR alone is content */
        }
        if ((k = plain_run(b, p + i, n - i)) > 0) {
            body_run(b, p + i, k);
            i += k;
            continue;
        }
        i++;
        if (c == '\r') b->cr = 1;
        else if (c == '\n') { b->wsp = 0; b->blank++; }
        else b->wsp = 1;                /* relaxed: §3.4.4 a, b */
    }
}

/* §3.4.3 and §3.4.4: trailing empty lines dropped, a last line without CRLF ended; an
 * empty body is one CRLF in simple and nothing in relaxed. */
void mv_dkim_body_end(mv_dkim_body *b)
{
    if (b->cr) body_content(b, '\r');
    b->cr = b->wsp = 0;
    if (b->any || !b->relaxed) body_put(b, "\r\n", 2);
    b->blank = 0;
    body_flush(b);
}

/* ---- header canonicalization ---- */

int mv_dkim_canon_header(mv_buf *out, const char *f, size_t n, int relaxed)
{
    const char *colon = memchr(f, ':', n);
    size_t i, end;
    int wsp = 0, started = 0;
    if (!relaxed) {
        /* simple (§3.4.1): as it is; a bare LF goes out as CRLF on the wire */
        for (i = 0; i < n; i++) {
            if (f[i] == '\n' && (i == 0 || f[i - 1] != '\r') && mv_buf_append(out, "\r", 1))
                return -1;
            if (mv_buf_append(out, f + i, 1) != 0) return -1;
        }
        return 0;
    }
    /* relaxed (§3.4.2): name lowercased, WSP before the colon dropped; the value
     * unfolded, WSP runs as one SP, none at its ends */
    end = colon != NULL ? (size_t)(colon - f) : n;
    while (end > 0 && (f[end - 1] == ' ' || f[end - 1] == '\t')) end--;
    for (i = 0; i < end; i++) {
        char c = f[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (mv_buf_append(out, &c, 1) != 0) return -1;
    }
    if (mv_buf_append(out, ":", 1) != 0) return -1;
    for (i = colon != NULL ? (size_t)(colon - f) + 1 : n; i < n; i++) {
        char c = f[i];
        if (c == '\r' || c == '\n') continue;
        if (c == ' ' || c == '\t') { wsp = 1; continue; }
        if (wsp && started && mv_buf_append(out, " ", 1) != 0) return -1;
        if (mv_buf_append(out, &c, 1) != 0) return -1;
        wsp = 0;
        started = 1;
    }
    return mv_buf_append(out, "\r\n", 2);
}

/* ---- header fields ---- */

int mv_dkim_split_fields(mv_dkim_fields *fl, const char *h, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i, colon;
        mv_dkim_field *f;
        do {
            const char *nl = memchr(h + j, '\n', n - j);
            j = nl == NULL ? n : (size_t)(nl - h) + 1;
        } while (j < n && (h[j] == ' ' || h[j] == '\t'));
        if ((f = mv_grow(fl->f, &fl->cap, fl->n, sizeof *f, 32)) == NULL) return -1;
        fl->f = f;
        for (colon = i; colon < j && h[colon] != ':'; colon++) {}
        while (colon > i && (h[colon - 1] == ' ' || h[colon - 1] == '\t')) colon--;
        fl->f[fl->n].off = i;
        fl->f[fl->n].len = j - i;
        fl->f[fl->n].name_len = colon - i;
        fl->n++;
        i = j;
    }
    return 0;
}

int mv_dkim_hash_fields(const char *h, const mv_dkim_fields *fl, size_t first,
                        const char *hlist, int relaxed, mv_dkim_out out, void *ctx,
                        mv_buf *tmp)
{
    const char *p = hlist;
    while (*p != '\0') {
        const char *e = strchr(p, ':');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p), used = 0, i;
        const char *q;
        /* how many times this name came before in h= */
        for (q = hlist; q < p;) {
            const char *qe = strchr(q, ':');
            if ((size_t)(qe - q) == n && strncasecmp(q, p, n) == 0) used++;
            q = qe + 1;
        }
        for (i = fl->n; i > first; i--) {
            const mv_dkim_field *f = &fl->f[i - 1];
            if (f->name_len != n || strncasecmp(h + f->off, p, n) != 0) continue;
            if (used-- > 0) continue;
            mv_buf_reset(tmp);
            if (mv_dkim_canon_header(tmp, h + f->off, f->len, relaxed) != 0) return -1;
            out(ctx, tmp->data, tmp->len);
            break;
        }
        p += n;
        if (*p == ':') p++;
    }
    return 0;
}

/* ---- tag lists (§3.2) ---- */

static int is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

int mv_dkim_tags(const char *s, size_t n, mv_dkim_tag *t, size_t *nt, const char **why)
{
    size_t i = 0, k;
    *nt = 0;
    while (i < n) {
        size_t ns, ne, vs, ve;
        while (i < n && is_wsp(s[i])) i++;
        if (i == n) break;                  /* a trailing ';' (and FWS) */
        if (s[i] == ';') { i++; continue; } /* an empty tag-spec, as verifiers allow */
        ns = i;
        if (!is_alpha(s[i])) { *why = "malformed tag list"; return -1; }
        while (i < n && (is_alpha(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) i++;
        ne = i;
        while (i < n && is_wsp(s[i])) i++;
        if (i == n || s[i] != '=') { *why = "malformed tag list"; return -1; }
        i++;
        while (i < n && is_wsp(s[i])) i++;
        vs = i;
        while (i < n && s[i] != ';') {
            unsigned char c = (unsigned char)s[i];
            if (!is_wsp(s[i]) && (c < 0x21 || c > 0x7e)) {
                *why = "malformed tag value";
                return -1;
            }
            i++;
        }
        ve = i;
        while (ve > vs && is_wsp(s[ve - 1])) ve--;
        for (k = 0; k < *nt; k++)
            if (t[k].name_len == ne - ns && memcmp(t[k].name, s + ns, ne - ns) == 0) {
                *why = "duplicate tag";
                return -1;
            }
        if (*nt == MV_DKIM_MAX_TAGS) { *why = "too many tags"; return -1; }
        t[*nt].name = s + ns;
        t[*nt].name_len = ne - ns;
        t[*nt].val = s + vs;
        t[*nt].val_len = ve - vs;
        t[*nt].end = i;
        (*nt)++;
        if (i < n) i++;                     /* the ';' */
    }
    return 0;
}

const mv_dkim_tag *mv_dkim_tag_get(const mv_dkim_tag *t, size_t nt, const char *name)
{
    size_t k, n = strlen(name);
    for (k = 0; k < nt; k++)
        if (t[k].name_len == n && memcmp(t[k].name, name, n) == 0) return &t[k];
    return NULL;
}
