/* The serialiser: the message model written out as a pull source of bytes (built
 * messages as MIME structure, parsed ones from their original bytes where unchanged). */
#include "mime_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_codec.h"
#include "mime_header.h"
#include "mv_random.h"
#include "mv_str.h"

#define B64_CHUNK (57 * 1024)   /* whole 76-character lines per chunk */
#define RAW_CHUNK 65536         /* original bytes copied per step */

enum { IT_LIT, IT_RAW, IT_TEXT, IT_QP, IT_B64, IT_FILE };

typedef struct item {
    int kind;
    mv_buf lit;                 /* IT_LIT */
    /* IT_RAW (original bytes, copied as they are), IT_TEXT (7bit/8bit, LF -> CRLF),
     * IT_QP, IT_B64 */
    const unsigned char *p;
    size_t n;
    const char *path;           /* IT_FILE */
} item;

struct mv_mime_source {
    mv_mime_msg *m;
    unsigned gen;
    item *it;
    size_t nit, capit, cur, off;
    FILE *f;
    int started;                /* the current base64 item has written a chunk */
    mv_buf out;
    char **bounds;              /* boundaries in use, to keep them distinct */
    size_t nbounds;
};

static item *new_item(mv_mime_source *s, int kind)
{
    item *it;
    if ((it = mv_grow(s->it, &s->capit, s->nit, sizeof *it, 16)) == NULL) return NULL;
    s->it = it;
    it = &s->it[s->nit++];
    memset(it, 0, sizeof *it);
    mv_buf_init(&it->lit);
    it->kind = kind;
    return it;
}

/* Literal text goes into the last item when it is literal already. */
static int lit(mv_mime_source *s, const char *p, size_t n)
{
    item *it = s->nit > 0 && s->it[s->nit - 1].kind == IT_LIT ? &s->it[s->nit - 1]
                                                              : new_item(s, IT_LIT);
    return it == NULL ? -1 : mv_buf_append(&it->lit, p, n);
}

static int lits(mv_mime_source *s, const char *p) { return lit(s, p, strlen(p)); }

static int body_item(mv_mime_source *s, int kind, const void *p, size_t n, const char *path)
{
    item *it = new_item(s, kind);
    if (it == NULL) return -1;
    it->p = p;
    it->n = n;
    it->path = path;
    return 0;
}

typedef struct leaf {
    const unsigned char *p;
    size_t n;
    int cte;
} leaf;

static int scan_text(const unsigned char *p, size_t n, int *ascii, size_t *maxline)
{
    size_t i, line = 0, high = 0;
    *maxline = 0;
    for (i = 0; i < n; i++) {
        if (p[i] == '\n' || p[i] == '\r') { if (line > *maxline) *maxline = line; line = 0; }
        else line++;
        if (p[i] >= 0x80 || p[i] == 0) high++;
    }
    if (line > *maxline) *maxline = line;
    *ascii = high == 0;
    return high > n / 3 ? MV_CTE_BASE64 : MV_CTE_QP;
}

static int choose_cte(const mv_mime_msg *m, const unsigned char *p, size_t n)
{
    int ascii;
    size_t maxline;
    int fallback = scan_text(p, n, &ascii, &maxline);
    if (maxline <= 998) {
        if (ascii) return MV_CTE_7BIT;
        if (m->allow_8bit && mv_utf8_valid(p, n) && memchr(p, 0, n) == NULL) return MV_CTE_8BIT;
    }
    return fallback;
}

static const char *cte_name(int cte)
{
    switch (cte) {
    case MV_CTE_8BIT: return "8bit";
    case MV_CTE_QP: return "quoted-printable";
    case MV_CTE_BASE64: return "base64";
    default: return "7bit";
    }
}

/* A parsed attachment that is still as it was parsed: written from its original bytes. */
static int att_is_raw(const mv_mime_msg *m, const mv_mime_att *a)
{
    return a->part >= 0 && (size_t)a->part < m->nparts && a->data == NULL && a->path == NULL &&
           m->raw != NULL;
}

/* 1 when the string b occurs in p[0..n). */
static int holds(const unsigned char *p, size_t n, const char *b)
{
    size_t bl = strlen(b);
    const unsigned char *q = p, *end = p + n;
    while ((size_t)(end - q) >= bl && (q = memchr(q, b[0], (size_t)(end - q) - bl + 1)) != NULL) {
        if (memcmp(q, b, bl) == 0) return 1;
        q++;
    }
    return 0;
}

static int new_boundary(mv_mime_source *s, const mv_mime_msg *m, char *out)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[24];
    size_t i, k;
    int tries;
    for (tries = 0; tries < 16; tries++) {
        int clash = 0;
        /* "=_" cannot occur in base64 or quoted-printable output, so only the 7bit and
         * 8bit parts and earlier boundaries need checking. */
        if (tries == 0 && s->nbounds < m->npinned) {
            snprintf(out, 6 + sizeof r, "%s", m->pinned[s->nbounds]);
        } else {
            if (mv_random(r, sizeof r) != 0) return -1;
            memcpy(out, "=_mv_", 5);
            for (i = 0; i < sizeof r; i++) out[5 + i] = al[r[i] % 62];
            out[5 + sizeof r] = '\0';
        }
        for (k = 0; k < s->nbounds && !clash; k++) clash = strcmp(s->bounds[k], out) == 0;
        if (m->text != NULL && strstr(m->text, out) != NULL) clash = 1;
        if (m->html != NULL && strstr(m->html, out) != NULL) clash = 1;
        /* original parts are copied as they are, whatever their encoding */
        for (k = 0; k < m->natt && !clash; k++) {
            const mv_mime_part *pt;
            if (!att_is_raw(m, &m->att[k])) continue;
            pt = &m->parts[m->att[k].part];
            clash = holds(m->raw + pt->hdr_off, pt->body_end - pt->hdr_off, out);
        }
        if (!clash) break;
    }
    if (tries == 16) return -1;
    return mv_mime_strv_push(&s->bounds, &s->nbounds, out);
}

static int body_part(mv_mime_source *s, const mv_mime_msg *m, int html)
{
    const unsigned char *p = (const unsigned char *)(html ? m->html : m->text);
    size_t n = html ? m->html_len : m->text_len;
    int cte = choose_cte(m, p, n);
    mv_buf v;
    int rc = -1;
    mv_buf_init(&v);
    if (mv_buf_append_str(&v, html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8")
        != 0) goto cleanup;
    {
        mv_buf h;
        mv_buf_init(&h);
        if (mv_hdr_write_raw(&h, "Content-Type", (const char *)v.data, v.len) != 0 ||
            mv_hdr_write_raw(&h, "Content-Transfer-Encoding", cte_name(cte),
                             strlen(cte_name(cte))) != 0 ||
            mv_buf_append(&h, "\r\n", 2) != 0 || lit(s, (const char *)h.data, h.len) != 0) {
            mv_buf_free(&h);
            goto cleanup;
        }
        mv_buf_free(&h);
    }
    rc = body_item(s, cte == MV_CTE_QP ? IT_QP : cte == MV_CTE_BASE64 ? IT_B64 : IT_TEXT, p,
                   n, NULL);
cleanup:
    mv_buf_free(&v);
    return rc;
}

/* A parsed part exactly as it came: its header block, the blank line, its body (a part
 * whose header block ran to the end, or ended at a line without a colon, gets the line
 * end and blank line the parser assumed). */
static int raw_part(mv_mime_source *s, const mv_mime_part *pt)
{
    const unsigned char *r = s->m->raw;
    if (body_item(s, IT_RAW, r + pt->hdr_off, pt->hdr_end - pt->hdr_off, NULL) != 0) return -1;
    if (pt->hdr_end > pt->hdr_off && r[pt->hdr_end - 1] != '\n' && lits(s, "\r\n") != 0)
        return -1;
    if (pt->body_off > pt->hdr_end) {
        if (body_item(s, IT_RAW, r + pt->hdr_end, pt->body_off - pt->hdr_end, NULL) != 0)
            return -1;
    } else if (lits(s, "\r\n") != 0) {
        return -1;
    }
    return body_item(s, IT_RAW, r + pt->body_off, pt->body_end - pt->body_off, NULL);
}

static int att_part(mv_mime_source *s, const mv_mime_att *a)
{
    mv_buf v, h;
    int rc = -1;
    if (att_is_raw(s->m, a)) return raw_part(s, &s->m->parts[a->part]);
    mv_buf_init(&v);
    mv_buf_init(&h);
    /* A part without a file name (an inline image, a signature) gets no name parameter. */
    if (mv_buf_append_str(&v, a->type) != 0 ||
        (a->raw_name != NULL && mv_param_write(&v, "name", a->raw_name) != 0) ||
        mv_hdr_write_raw(&h, "Content-Type", (const char *)v.data, v.len) != 0) goto cleanup;
    mv_buf_reset(&v);
    if (mv_buf_append_str(&v, a->is_inline ? "inline" : "attachment") != 0 ||
        (a->raw_name != NULL && mv_param_write(&v, "filename", a->raw_name) != 0) ||
        mv_hdr_write_raw(&h, "Content-Disposition", (const char *)v.data, v.len) != 0 ||
        mv_hdr_write_raw(&h, "Content-Transfer-Encoding", "base64", 6) != 0) goto cleanup;
    if (a->cid != NULL) {
        mv_buf_reset(&v);
        if (mv_buf_append(&v, "<", 1) != 0 || mv_buf_append_str(&v, a->cid) != 0 ||
            mv_buf_append(&v, ">", 1) != 0 ||
            mv_hdr_write_raw(&h, "Content-ID", (const char *)v.data, v.len) != 0) goto cleanup;
    }
    if (mv_buf_append(&h, "\r\n", 2) != 0 || lit(s, (const char *)h.data, h.len) != 0)
        goto cleanup;
    rc = a->path != NULL ? body_item(s, IT_FILE, NULL, 0, a->path)
         : a->data != NULL ? body_item(s, IT_B64, a->data, a->len, NULL)
         : body_item(s, IT_B64, (const unsigned char *)"", 0, NULL);
cleanup:
    mv_buf_free(&v);
    mv_buf_free(&h);
    return rc;
}

static int emit_related(mv_mime_source *s, const mv_mime_msg *m);
static int emit_alternative(mv_mime_source *s, const mv_mime_msg *m);

static int has_inline(const mv_mime_msg *m)
{
    size_t i;
    if (m->html == NULL) return 0;
    for (i = 0; i < m->natt; i++) if (m->att[i].is_inline) return 1;
    return 0;
}

static int open_multipart(mv_mime_source *s, const mv_mime_msg *m, const char *sub, char *b)
{
    mv_buf h;
    char v[128];
    int rc;
    if (new_boundary(s, m, b) != 0) return -1;
    snprintf(v, sizeof v, "multipart/%s; boundary=\"%s\"", sub, b);
    mv_buf_init(&h);
    rc = mv_hdr_write_raw(&h, "Content-Type", v, strlen(v));
    if (rc == 0) rc = mv_buf_append(&h, "\r\n", 2);
    if (rc == 0) rc = lit(s, (const char *)h.data, h.len);
    mv_buf_free(&h);
    return rc;
}

static int delim(mv_mime_source *s, const char *b, int first, int close)
{
    if (lits(s, first ? "--" : "\r\n--") != 0 || lits(s, b) != 0) return -1;
    return lits(s, close ? "--\r\n" : "\r\n");
}

static int emit_html_node(mv_mime_source *s, const mv_mime_msg *m)
{
    return has_inline(m) ? emit_related(s, m) : body_part(s, m, 1);
}

static int emit_related(mv_mime_source *s, const mv_mime_msg *m)
{
    char b[40];
    size_t i;
    if (open_multipart(s, m, "related", b) != 0 || delim(s, b, 1, 0) != 0 ||
        body_part(s, m, 1) != 0) return -1;
    for (i = 0; i < m->natt; i++) {
        if (!m->att[i].is_inline) continue;
        if (delim(s, b, 0, 0) != 0 || att_part(s, &m->att[i]) != 0) return -1;
    }
    return delim(s, b, 0, 1);
}

static int emit_alternative(mv_mime_source *s, const mv_mime_msg *m)
{
    char b[40];
    if (m->html == NULL) return body_part(s, m, 0);
    if (m->text == NULL) return emit_html_node(s, m);
    if (open_multipart(s, m, "alternative", b) != 0 || delim(s, b, 1, 0) != 0 ||
        body_part(s, m, 0) != 0 || delim(s, b, 0, 0) != 0 || emit_html_node(s, m) != 0)
        return -1;
    return delim(s, b, 0, 1);
}

static int emit_body(mv_mime_source *s, const mv_mime_msg *m)
{
    size_t i, nmixed = 0;
    int inl = has_inline(m), have_body = m->text != NULL || m->html != NULL;
    char b[40];
    for (i = 0; i < m->natt; i++) if (!(inl && m->att[i].is_inline)) nmixed++;
    if (nmixed == 0) {
        if (!have_body) return body_part(s, m, 0);
        return emit_alternative(s, m);
    }
    if (open_multipart(s, m, "mixed", b) != 0) return -1;
    if (have_body && (delim(s, b, 1, 0) != 0 || emit_alternative(s, m) != 0)) return -1;
    for (i = 0, nmixed = 0; i < m->natt; i++) {
        if (inl && m->att[i].is_inline) continue;
        if (delim(s, b, !have_body && nmixed++ == 0, 0) != 0 || att_part(s, &m->att[i]) != 0)
            return -1;
    }
    return delim(s, b, 0, 1);
}

/* Appends p[0..n) with every line end (CRLF or bare LF) written as eol, and a final
 * eol when the bytes do not end with one. */
static int append_eol(mv_buf *out, const unsigned char *p, size_t n, const char *eol)
{
    size_t i = 0, el = strlen(eol);
    while (i < n) {
        const unsigned char *nl = memchr(p + i, '\n', n - i);
        size_t e = nl != NULL ? (size_t)(nl - p) : n, t = e;
        if (nl != NULL && t > i && p[t - 1] == '\r') t--;
        if (mv_buf_append(out, p + i, t - i) != 0 || mv_buf_append(out, eol, el) != 0)
            return -1;
        i = nl != NULL ? e + 1 : n;
    }
    return 0;
}

/* A received field's bytes as the parser read its value: up to the first NUL, without
 * bare CRs; so a second parse sees what the first saw. */
static int append_repaired(mv_buf *out, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n && p[i] != '\0'; i++) {
        if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n')) continue;
        if (mv_buf_append(out, p + i, 1) != 0) return -1;
    }
    return 0;
}

/* The line end a parsed message uses (that of its first line). */
static const char *raw_eol(const mv_mime_msg *m)
{
    const unsigned char *nl = memchr(m->raw, '\n', m->raw_len);
    return nl == NULL || (nl > m->raw && nl[-1] == '\r') ? "\r\n" : "\n";
}

/* Writes a field set by the caller (or changed since parsed), checked again here. */
static int write_field(mv_buf *h, const char *name, const char *v, mv_error *e)
{
    size_t vn = strlen(v);
    int rc;
    if (!mv_hdr_name_ok(name, strlen(name)) || !mv_hdr_value_ok(v, vn))
        return mv_fail(e, MV_E_ARG, "invalid header %.60s", name);
    if (mv_mime_is_addr_header(name)) {
        mv_addr_list l = {NULL, 0, 0};
        char err[160];
        if ((rc = mv_addr_parse(v, vn, 0, &l, NULL, err, sizeof err)) != 0) {
            mv_addr_list_free(&l);
            if (rc == -2) return mv_fail(e, MV_E_MEMORY, "out of memory");
            return mv_fail(e, MV_E_ARG, "%s: %s", name, err);
        }
        rc = mv_hdr_write_addrs(h, name, &l);
        mv_addr_list_free(&l);
    } else if (strcasecmp(name, "message-id") == 0 || strcasecmp(name, "date") == 0) {
        rc = mv_hdr_write_raw(h, name, v, vn);
    } else {
        rc = mv_hdr_write_text(h, name, v, vn);
    }
    return rc != 0 ? mv_fail(e, MV_E_MEMORY, "out of memory") : MV_OK;
}

/* The header block.  keep_content: only headers changed, the original body follows, so
 * the original Content-* and MIME-Version fields stay and the message's own line end is
 * used; else they are left to the body built after.  A field not changed since parsed is
 * written from its original bytes, so RFC 6532 or obsolete addresses that the strict
 * writer would refuse still go out.  Bcc belongs to the envelope: never written. */
static int emit_headers(mv_mime_source *s, const mv_mime_msg *m, int keep_content,
                        mv_error *e)
{
    const char *eol = keep_content ? raw_eol(m) : "\r\n";
    mv_buf h, f;
    size_t i;
    int rc = MV_ERROR;
    mv_buf_init(&h);
    mv_buf_init(&f);
    for (i = 0; i < m->nh; i++) {
        const mv_mime_hdr *hd = &m->h[i];
        if (strcasecmp(hd->name, "bcc") == 0) continue;
        if (!keep_content && (strncasecmp(hd->name, "content-", 8) == 0 ||
                              strcasecmp(hd->name, "mime-version") == 0)) continue;
        if (hd->raw_len > 0) {
            const unsigned char *p = m->raw + hd->raw_off;
            size_t n = hd->raw_len;
            if (hd->raw_repair) {
                mv_buf_reset(&f);
                if (append_repaired(&f, p, n) != 0) goto oom;
                p = f.data;
                n = f.len;
            }
            if (keep_content ? mv_buf_append(&h, p, n) != 0 ||
                               (p[n - 1] != '\n' && mv_buf_append_str(&h, eol) != 0)
                             : append_eol(&h, p, n, eol) != 0) goto oom;
            continue;
        }
        mv_buf_reset(&f);
        if (write_field(&f, hd->name, hd->value, e) != MV_OK) goto cleanup;
        if (append_eol(&h, f.data, f.len, eol) != 0) goto oom;
    }
    if (!keep_content && mv_buf_append_str(&h, "MIME-Version: 1.0\r\n") != 0) goto oom;
    if (h.len > 0 && lit(s, (const char *)h.data, h.len) != 0) goto oom;
    rc = MV_OK;
    goto cleanup;
oom:
    rc = mv_fail(e, MV_E_MEMORY, "out of memory");
cleanup:
    mv_buf_free(&h);
    mv_buf_free(&f);
    return rc;
}

/* Only headers changed: the original blank line and body bytes, untouched. */
static int emit_original_body(mv_mime_source *s, const mv_mime_msg *m)
{
    const mv_mime_part *top = &m->parts[0];
    if (top->body_off > top->hdr_end) {
        if (body_item(s, IT_RAW, m->raw + top->hdr_end, top->body_off - top->hdr_end, NULL)
            != 0) return -1;
    } else if (lits(s, raw_eol(m)) != 0) {
        return -1;
    }
    return body_item(s, IT_RAW, m->raw + top->body_off, m->raw_len - top->body_off, NULL);
}

void mv_mime_source_free(mv_mime_source *s)
{
    size_t i;
    if (s == NULL) return;
    for (i = 0; i < s->nit; i++) mv_buf_free(&s->it[i].lit);
    free(s->it);
    for (i = 0; i < s->nbounds; i++) free(s->bounds[i]);
    free(s->bounds);
    if (s->f != NULL) fclose(s->f);
    mv_buf_free(&s->out);
    free(s);
}

int mv_mime_source_pin(mv_mime_source *s)
{
    mv_mime_msg *m = s->m;
    size_t i;
    for (i = 0; i < s->nbounds; i++) {
        if (i < m->npinned) {
            if (strcmp(m->pinned[i], s->bounds[i]) == 0) continue;
            free(m->pinned[i]);
            if ((m->pinned[i] = mv_strdup(s->bounds[i])) == NULL) return -1;
        } else if (mv_mime_strv_push(&m->pinned, &m->npinned, s->bounds[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

mv_mime_source *mv_mime_source_new(mv_mime_msg *m, mv_error *e)
{
    mv_mime_source *s = calloc(1, sizeof *s);
    size_t i;
    if (s == NULL) { mv_fail(e, MV_E_MEMORY, "out of memory"); return NULL; }
    s->m = m;
    s->gen = m->gen;
    mv_buf_init(&s->out);
    if (m->raw != NULL && !m->dirty) {
        if (body_item(s, IT_RAW, m->raw, m->raw_len, NULL) != 0) goto oom;
        return s;
    }
    if (m->raw != NULL && !(m->dirty & MV_DIRTY_BODY) && m->nparts > 0) {
        if (emit_headers(s, m, 1, e) != 0) goto fail;
        if (emit_original_body(s, m) != 0) goto oom;
        return s;
    }
    for (i = 0; i < m->natt; i++) {
        FILE *f;
        if (m->att[i].path == NULL) continue;
        f = fopen(m->att[i].path, "rb");
        if (f == NULL) {
            mv_fail(e, MV_E_IO, "cannot open attachment %.180s", m->att[i].path);
            goto fail;
        }
        fclose(f);
    }
    if (emit_headers(s, m, 0, e) != 0) goto fail;
    if (emit_body(s, m) != 0) goto oom;
    return s;
oom:
    mv_fail(e, MV_E_MEMORY, "out of memory (or no random boundary)");
fail:
    mv_mime_source_free(s);
    return NULL;
}

static int out_of_memory(mv_error *e)
{
    return mv_fail(e, MV_E_MEMORY, "out of memory");
}

/* Original bytes, copied as they are, RAW_CHUNK at a time. */
static int produce_raw(mv_mime_source *s, const item *it, mv_error *e)
{
    size_t k = it->n - s->off < RAW_CHUNK ? it->n - s->off : RAW_CHUNK;
    if (k > 0 && mv_buf_append(&s->out, it->p + s->off, k) != 0) return out_of_memory(e);
    s->off += k;
    return s->off >= it->n;
}

/* 7bit or 8bit text: line ends (CR, LF, CRLF) written as CRLF, in bounded pieces. */
static int produce_text(mv_mime_source *s, const item *it, mv_error *e)
{
    size_t end = s->off + B64_CHUNK < it->n ? s->off + B64_CHUNK : it->n, i;
    unsigned char *o;
    if (mv_buf_reserve(&s->out, (end - s->off) * 2) != 0) return out_of_memory(e);
    o = s->out.data + s->out.len;
    for (i = s->off; i < end; i++) {
        unsigned char c = it->p[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < it->n && it->p[i + 1] == '\n') i++;
            *o++ = '\r';
            *o++ = '\n';
        } else {
            *o++ = c;
        }
    }
    s->out.len = (size_t)(o - s->out.data);
    s->off = i;
    return s->off >= it->n;
}

/* The next input of a base64 item: from memory, or read from its file (B64_CHUNK at a
 * time into fbuf).  *k = its length; 1 when it is the last; -1 on a read error. */
static int b64_input(mv_mime_source *s, const item *it, unsigned char *fbuf,
                     const unsigned char **p, size_t *k, mv_error *e)
{
    if (it->kind == IT_B64) {
        *k = it->n - s->off < B64_CHUNK ? it->n - s->off : B64_CHUNK;
        *p = it->p + s->off;
        return s->off + *k >= it->n;
    }
    if (s->f == NULL && (s->f = fopen(it->path, "rb")) == NULL)
        return mv_fail(e, MV_E_IO, "cannot open attachment %.180s", it->path);
    *k = fread(fbuf, 1, B64_CHUNK, s->f);
    if (ferror(s->f)) return mv_fail(e, MV_E_IO, "read error on %.180s", it->path);
    *p = fbuf;
    return *k < B64_CHUNK;
}

/* An attachment's data or file as base64 in 76-character lines, B64_CHUNK input bytes
 * (whole lines) at a time. */
static int produce_b64(mv_mime_source *s, const item *it, mv_error *e)
{
    unsigned char fbuf[B64_CHUNK];
    const unsigned char *p = NULL;
    size_t k = 0;
    int last = b64_input(s, it, fbuf, &p, &k, e);
    if (last < 0) return MV_ERROR;
    if (k > 0) {
        if (mv_buf_reserve(&s->out, mv_b64_encoded_len(k, 1) + 2) != 0)
            return out_of_memory(e);
        if (s->started) mv_buf_append(&s->out, "\r\n", 2);   /* room reserved above */
        s->out.len += mv_b64_encode(p, k, (char *)s->out.data + s->out.len, 1);
        s->started = 1;
        s->off += k;
    }
    if (last && s->f != NULL) { fclose(s->f); s->f = NULL; }
    return last;
}

/* Produces the next piece of the current item into s->out; 1 when the item is done. */
static int produce(mv_mime_source *s, item *it, mv_error *e)
{
    switch (it->kind) {
    case IT_LIT:
        if (mv_buf_append(&s->out, it->lit.data, it->lit.len) != 0) return out_of_memory(e);
        return 1;
    case IT_RAW:
        return produce_raw(s, it, e);
    case IT_TEXT:
        return produce_text(s, it, e);
    case IT_QP:
        if (mv_qp_encode(it->p, it->n, 1, &s->out) != 0) return out_of_memory(e);
        return 1;
    case IT_B64:
    case IT_FILE:
        return produce_b64(s, it, e);
    default:
        return 1;
    }
}

int mv_mime_source_read(mv_mime_source *s, unsigned char *buf, size_t cap, size_t *n,
                        mv_error *e)
{
    *n = 0;
    if (s->m->gen != s->gen)
        return mv_fail(e, MV_E_ARG, "the message changed while it was being serialised");
    while (mv_buf_avail(&s->out) == 0 && s->cur < s->nit) {
        int r = produce(s, &s->it[s->cur], e);
        if (r < 0) return MV_ERROR;
        if (r == 1) { s->cur++; s->off = 0; s->started = 0; }
    }
    *n = mv_buf_avail(&s->out) < cap ? mv_buf_avail(&s->out) : cap;
    if (*n > 0) memcpy(buf, mv_buf_head(&s->out), *n);   /* an empty buffer's head may be NULL */
    mv_buf_consume(&s->out, *n);
    return MV_OK;
}

int mv_mime_serialize(mv_mime_msg *m, mv_buf *out, mv_error *e)
{
    mv_mime_source *s = mv_mime_source_new(m, e);
    int rc = MV_ERROR;
    if (s == NULL) return MV_ERROR;
    for (;;) {
        size_t n;
        if (mv_buf_reserve(out, 65536) != 0) { mv_fail(e, MV_E_MEMORY, "out of memory"); break; }
        if (mv_mime_source_read(s, out->data + out->len, 65536, &n, e) != MV_OK) break;
        out->len += n;
        if (n == 0) { rc = MV_OK; break; }
    }
    mv_mime_source_free(s);
    return rc;
}
