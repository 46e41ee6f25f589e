/* The message model: headers, bodies, attachments, the parsed structure and its
 * defects, and the values a new message's fields take (Date, Message-ID). */
#include "mime_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mime_codec.h"
#include "mime_header.h"
#include "mv_random.h"
#include "mv_str.h"

void mv_mime_init(mv_mime_msg *m)
{
    memset(m, 0, sizeof *m);
}

void mv_mime_clear_atts(mv_mime_msg *m)
{
    size_t i;
    for (i = 0; i < m->natt; i++) {
        mv_mime_att *a = &m->att[i];
        free(a->path); free(a->data); free(a->name); free(a->raw_name); free(a->type);
        free(a->cid);
    }
    m->natt = 0;
    m->dirty |= MV_DIRTY_BODY;
    m->gen++;
}

void mv_mime_free(mv_mime_msg *m)
{
    size_t i;
    for (i = 0; i < m->nh; i++) { free(m->h[i].name); free(m->h[i].value); }
    free(m->h);
    free(m->text);
    free(m->html);
    mv_mime_clear_atts(m);
    free(m->att);
    free(m->raw_owned);
    for (i = 0; i < m->nparts; i++) {
        mv_mime_part *p = &m->parts[i];
        free(p->type); free(p->boundary); free(p->charset); free(p->filename);
        free(p->disposition); free(p->cid);
    }
    free(m->parts);
    for (i = 0; i < m->ndefects; i++) free(m->defects[i]);
    free(m->defects);
    for (i = 0; i < m->npinned; i++) free(m->pinned[i]);
    free(m->pinned);
    mv_mime_init(m);
}

int mv_mime_strv_push(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (nv == NULL) return -1;
    *v = nv;
    if ((nv[*n] = mv_strdup(s)) == NULL) return -1;
    (*n)++;
    return 0;
}

int mv_mime_add_defect(mv_mime_msg *m, const char *what)
{
    if (m->ndefects >= 1000) return 0;   /* bounded: the first thousand tell enough */
    return mv_mime_strv_push(&m->defects, &m->ndefects, what);
}

int mv_mime_is_addr_header(const char *name)
{
    static const char *const names[] = { "from", "to", "cc", "bcc", "reply-to", "sender",
                                         "resent-from", "resent-to", "resent-cc", NULL };
    size_t i;
    for (i = 0; names[i] != NULL; i++) if (strcasecmp(name, names[i]) == 0) return 1;
    return 0;
}

int mv_mime_add_header(mv_mime_msg *m, const char *name, const char *value)
{
    mv_mime_hdr *h;
    if ((h = mv_grow(m->h, &m->caph, m->nh, sizeof *h, 16)) == NULL) return -1;
    m->h = h;
    h = &m->h[m->nh];
    h->name = mv_strdup(name);
    h->value = mv_strdup(value);
    h->raw_off = h->raw_len = 0;
    h->raw_repair = 0;
    if (h->name == NULL || h->value == NULL) { free(h->name); free(h->value); return -1; }
    m->nh++;
    m->dirty |= MV_DIRTY_HEADERS;
    m->gen++;
    return 0;
}

void mv_mime_keep_raw_header(mv_mime_msg *m, size_t off, size_t end)
{
    size_t i;
    int repair = 0;
    if (m->nh == 0 || end <= off || m->raw == NULL || end > m->raw_len) return;
    /* A NUL or a bare CR (which a transport turns into a line break) is never passed
     * on; the rest of such a field still is, as far as the parser read it, since its
     * parsed value may be one the writer refuses (an address it cannot re-validate). */
    for (i = off; i < end && !repair; i++)
        repair = m->raw[i] == '\0' ||
                 (m->raw[i] == '\r' && (i + 1 == end || m->raw[i + 1] != '\n'));
    m->h[m->nh - 1].raw_off = off;
    m->h[m->nh - 1].raw_len = end - off;
    m->h[m->nh - 1].raw_repair = repair;
}

int mv_mime_set_header(mv_mime_msg *m, const char *name, const char *value)
{
    size_t i, o = 0, at = (size_t)-1;
    for (i = 0; i < m->nh; i++) {
        if (strcasecmp(m->h[i].name, name) == 0) {
            if (at == (size_t)-1 && value != NULL) {
                char *v = mv_strdup(value);
                if (v == NULL) return -1;
                free(m->h[i].value);
                m->h[i].value = v;
                m->h[i].raw_len = 0;    /* changed: written from the new value */
                at = i;
                m->h[o++] = m->h[i];
                continue;
            }
            free(m->h[i].name);
            free(m->h[i].value);
            continue;
        }
        m->h[o++] = m->h[i];
    }
    m->nh = o;
    m->dirty |= MV_DIRTY_HEADERS;
    m->gen++;
    if (at == (size_t)-1 && value != NULL) return mv_mime_add_header(m, name, value);
    return 0;
}

const char *mv_mime_get_header(const mv_mime_msg *m, const char *name, size_t idx)
{
    size_t i;
    for (i = 0; i < m->nh; i++)
        if (strcasecmp(m->h[i].name, name) == 0 && idx-- == 0) return m->h[i].value;
    return NULL;
}

int mv_mime_set_body(mv_mime_msg *m, int html, const char *p, size_t n)
{
    char **dst = html ? &m->html : &m->text;
    size_t *dl = html ? &m->html_len : &m->text_len;
    char *c = NULL;
    if (p != NULL) {
        c = malloc(n + 1);
        if (c == NULL) return -1;
        memcpy(c, p, n);
        c[n] = '\0';
    }
    free(*dst);
    *dst = c;
    *dl = p != NULL ? n : 0;
    m->dirty |= MV_DIRTY_BODY;
    m->gen++;
    return 0;
}

char *mv_mime_safe_name(const char *raw)
{
    const char *s = raw != NULL ? raw : "", *p;
    mv_buf b;
    size_t i, n;
    for (p = s; *p; p++) if (*p == '/' || *p == '\\') s = p + 1;
    if (((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') && s[1] == ':') s += 2;  /* C:x */
    while (*s == '.' || *s == ' ') s++;
    mv_buf_init(&b);
    n = strlen(s);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) continue;
        if (mv_buf_append(&b, &c, 1) != 0) { mv_buf_free(&b); return NULL; }
    }
    if (b.len == 0 && mv_buf_append_str(&b, "attachment") != 0) { mv_buf_free(&b); return NULL; }
    if (mv_buf_append(&b, "", 1) != 0) { mv_buf_free(&b); return NULL; }
    return (char *)b.data;
}

static const char *guess_type(const char *name)
{
    static const char *const map[][2] = {
        {"pdf", "application/pdf"}, {"txt", "text/plain"}, {"html", "text/html"},
        {"htm", "text/html"}, {"png", "image/png"}, {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"svg", "image/svg+xml"},
        {"zip", "application/zip"}, {"gz", "application/gzip"}, {"csv", "text/csv"},
        {"json", "application/json"}, {"xml", "application/xml"}, {"eml", "message/rfc822"},
        {"ics", "text/calendar"}, {"webp", "image/webp"}, {NULL, NULL}
    };
    const char *dot = name != NULL ? strrchr(name, '.') : NULL;
    size_t i;
    if (dot != NULL)
        for (i = 0; map[i][0] != NULL; i++)
            if (strcasecmp(dot + 1, map[i][0]) == 0) return map[i][1];
    return "application/octet-stream";
}

int mv_mime_add_att(mv_mime_msg *m, const char *path, const void *data, size_t len,
                    const char *name, const char *type, const char *cid, int is_inline,
                    mv_error *e)
{
    mv_mime_att *a;
    const char *base = name;
    if ((name != NULL && !mv_hdr_value_ok(name, strlen(name))) ||
        (type != NULL && !mv_hdr_value_ok(type, strlen(type))) ||
        (cid != NULL && !mv_hdr_value_ok(cid, strlen(cid))))
        return mv_fail(e, MV_E_ARG,
                       "control character in an attachment's name, type or cid");
    if (type != NULL && (strchr(type, '/') == NULL || strpbrk(type, " ;\"\\") != NULL))
        return mv_fail(e, MV_E_ARG, "invalid attachment type '%.60s'", type);
    if (cid != NULL && strpbrk(cid, "<> \t\"") != NULL)
        return mv_fail(e, MV_E_ARG, "invalid cid '%.60s'", cid);
    if (path != NULL && base == NULL) {
        const char *s = strrchr(path, '/');
        base = s != NULL ? s + 1 : path;
    }
    if (base != NULL && strlen(base) > MV_HDR_MAX_PARAM_VALUE)   /* mv_param_write's cap */
        return mv_fail(e, MV_E_ARG, "attachment name longer than %d bytes",
                       MV_HDR_MAX_PARAM_VALUE);
    if ((a = mv_grow(m->att, &m->capatt, m->natt, sizeof *a, 4)) == NULL)
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    m->att = a;
    a = &m->att[m->natt];
    memset(a, 0, sizeof *a);
    a->raw_name = mv_strdup(base != NULL ? base : "attachment");
    a->name = mv_mime_safe_name(a->raw_name);
    a->type = mv_strdup(type != NULL ? type : guess_type(base));
    a->cid = mv_strdup(cid);
    a->path = mv_strdup(path);
    a->part = -1;
    a->is_inline = is_inline || cid != NULL;
    if (path == NULL) {
        a->data = malloc(len ? len : 1);
        if (a->data != NULL && len) memcpy(a->data, data, len);
        a->len = len;
    }
    if (a->raw_name == NULL || a->name == NULL || a->type == NULL || (cid && !a->cid) ||
        (path && !a->path) || (!path && !a->data)) {
        free(a->raw_name); free(a->name); free(a->type); free(a->cid); free(a->path);
        free(a->data);
        return mv_fail(e, MV_E_MEMORY, "out of memory");
    }
    m->natt++;
    m->dirty |= MV_DIRTY_BODY;
    m->gen++;
    return MV_OK;
}

int mv_mime_date_now(char *out, size_t cap)
{
    return mv_mime_date(out, cap, (long long)time(NULL));
}

int mv_mime_date(char *out, size_t cap, long long when)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t t = (time_t)when;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) return -1;
    snprintf(out, cap, "%.3s, %02d %.3s %04d %02d:%02d:%02d +0000", days + 3 * tm.tm_wday,
             tm.tm_mday, mons + 3 * tm.tm_mon, tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    return 0;
}

int mv_mime_new_message_id(char *out, size_t cap, const char *domain)
{
    unsigned char r[16];
    char hex[33];
    size_t i;
    /* a domain that is not printable ASCII without blanks is never written into the id */
    for (i = 0; domain != NULL && domain[i] != '\0'; i++)
        if ((unsigned char)domain[i] <= ' ' || (unsigned char)domain[i] >= 0x7f ||
            strchr("<>@\"", domain[i]) != NULL) domain = NULL;
    if (mv_random(r, sizeof r) != 0) return -1;
    for (i = 0; i < sizeof r; i++) snprintf(hex + 2 * i, 3, "%02x", r[i]);
    snprintf(out, cap, "<%s@%s>", hex, domain != NULL && domain[0] ? domain : "missive.invalid");
    return 0;
}

int mv_mime_header_text(const mv_mime_msg *m, size_t i, mv_buf *out)
{
    const mv_mime_hdr *h = &m->h[i];
    const unsigned char *v;
    size_t n, k, o = 0, a = 0;
    unsigned char *u;
    long r;
    if (h->raw_len == 0 || m->raw == NULL || !mv_mime_is_addr_header(h->name))
        return mv_buf_append_str(out, h->value);
    /* An address field as it was written: what the list parser could not read (a group,
     * a mailbox it dropped) is still there.  The value follows the name's colon; it is
     * unfolded, controls replaced. */
    v = memchr(m->raw + h->raw_off, ':', h->raw_len);
    if (v == NULL) return mv_buf_append_str(out, h->value);
    v++;
    n = h->raw_len - (size_t)(v - (m->raw + h->raw_off));
    if ((u = malloc(n + 1)) == NULL) return -1;
    for (k = 0; k < n; k++) if (v[k] != '\r' && v[k] != '\n') u[o++] = v[k];
    while (a < o && (u[a] == ' ' || u[a] == '\t')) a++;
    while (o > a && (u[o - 1] == ' ' || u[o - 1] == '\t')) o--;
    r = mv_utf8_sanitize(u + a, o - a, 1, out);
    free(u);
    return r < 0 ? -1 : 0;
}

/* Hands u's bytes to the message as its text or html, NUL-terminated as
 * mv_mime_set_body leaves them, without copying them (a body can be most of a message);
 * u is left empty. */
int mv_mime_take_body(mv_mime_msg *m, int html, mv_buf *u)
{
    unsigned char *t;
    size_t n = u->len;
    if (u->data == NULL) return mv_mime_set_body(m, html, "", 0);   /* empty, not absent */
    if (mv_mime_set_body(m, html, NULL, 0) != 0 || mv_buf_append(u, "", 1) != 0) return -1;
    t = realloc(u->data, u->len);   /* the spare capacity back */
    if (t == NULL) t = u->data;
    if (html) { m->html = (char *)t; m->html_len = n; }
    else { m->text = (char *)t; m->text_len = n; }
    mv_buf_init(u);
    return 0;
}


int mv_mime_add_part_att(mv_mime_msg *m, size_t idx, size_t len, const char *dflt_name)
{
    const mv_mime_part *pt = &m->parts[idx];
    mv_mime_att *a;
    mv_error ae;
    mv_error_clear(&ae);
    if (mv_mime_add_att(m, NULL, "", 0, NULL, NULL, NULL, 0, &ae) != MV_OK) return -1;
    a = &m->att[m->natt - 1];
    free(a->data);
    a->data = NULL;
    a->len = len;
    a->part = (long)idx;
    free(a->raw_name);
    free(a->name);
    free(a->type);
    a->raw_name = mv_strdup(pt->filename);
    a->name = mv_mime_safe_name(pt->filename != NULL ? pt->filename : dflt_name);
    a->type = mv_strdup(pt->type);
    if (pt->cid != NULL && (a->cid = mv_strdup(pt->cid)) == NULL) return -1;
    a->is_inline = pt->disposition != NULL ? strcmp(pt->disposition, "inline") == 0
                                           : pt->cid != NULL;
    if ((pt->filename != NULL && a->raw_name == NULL) || a->name == NULL || a->type == NULL)
        return -1;
    return 0;
}
