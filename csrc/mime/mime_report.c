/* Delivery status and feedback reports (RFC 3464, RFC 6533, RFC 5965): the status part
 * of a multipart/report is groups of header-like fields, separated by blank lines; the
 * first group is about the message, each further one (DSN) about one recipient. */
#include "mime_report.h"
#include "mime_parse.h"
#include "mime_part.h"
#include "mv_str.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void mv_report_init(mv_report *r)
{
    memset(r, 0, sizeof *r);
    r->returned = -1;
}

void mv_report_free(mv_report *r)
{
    size_t i, j;
    for (i = 0; i < r->ng; i++) {
        for (j = 0; j < r->g[i].n; j++) {
            free(r->g[i].f[j].name);
            free(r->g[i].f[j].type);
            free(r->g[i].f[j].value);
        }
        free(r->g[i].f);
    }
    free(r->g);
    mv_report_init(r);
}

/* RFC 3464 §2.2, §2.3: the fields whose value is "type; value". */
static int is_typed(const char *name)
{
    static const char *const typed[] = {
        "reporting-mta", "dsn-gateway", "received-from-mta", "original-recipient",
        "final-recipient", "remote-mta", "diagnostic-code",
    };
    size_t i;
    for (i = 0; i < sizeof typed / sizeof typed[0]; i++)
        if (strcmp(name, typed[i]) == 0) return 1;
    return 0;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A NUL-terminated copy of p[0..n) trimmed, cut at `cap` bytes (*cut set), lower-cased
 * when asked; NULL when out of memory. */
static char *trimmed(const char *p, size_t n, size_t cap, int lower, int *cut)
{
    char *s;
    size_t i;
    while (n > 0 && is_space((unsigned char)*p)) { p++; n--; }
    if (n > cap) { n = cap; *cut = 1; }
    while (n > 0 && is_space((unsigned char)p[n - 1])) n--;
    s = mv_strndup(p, n);
    if (s != NULL && lower)
        for (i = 0; i < n; i++) if (s[i] >= 'A' && s[i] <= 'Z') s[i] = (char)(s[i] + 32);
    return s;
}

/* The first word of v (Action, Status: a comment may follow), in place. */
static void first_word(char *v)
{
    size_t i = 0;
    while (v[i] != '\0' && !is_space((unsigned char)v[i]) && v[i] != '(' && v[i] != ';') i++;
    v[i] = '\0';
}

/* An unfolded copy of a raw value: line ends and NULs go, tabs become spaces. */
static int unfold(const char *v, size_t n, mv_buf *out)
{
    size_t i;
    mv_buf_reset(out);
    for (i = 0; i < n; i++) {
        char c = v[i];
        if (c == '\r' || c == '\n' || c == '\0') continue;
        if (c == '\t') c = ' ';
        if (mv_buf_append(out, &c, 1) != 0) return -1;
    }
    return 0;
}

static int add_field(mv_report *r, mv_report_group *g, const char *name, size_t nlen,
                     const char *val, size_t vlen, mv_buf *tmp)
{
    mv_report_field *f;
    const char *v;
    size_t n;
    if (g->n >= MV_REPORT_MAX_FIELDS) { r->truncated = 1; return 0; }
    f = realloc(g->f, (g->n + 1) * sizeof *f);
    if (f == NULL) return -1;
    g->f = f;
    f = &g->f[g->n];
    memset(f, 0, sizeof *f);
    if (unfold(val, vlen, tmp) != 0) return -1;
    v = tmp->data != NULL ? (const char *)tmp->data : "";
    n = tmp->len;
    if ((f->name = trimmed(name, nlen, 64, 1, &r->truncated)) == NULL) return -1;
    g->n++;
    if (is_typed(f->name)) {
        const char *semi = memchr(v, ';', n);
        if (semi != NULL) {
            f->type = trimmed(v, (size_t)(semi - v), 64, 1, &r->truncated);
            if (f->type == NULL) return -1;
            n -= (size_t)(semi + 1 - v);
            v = semi + 1;
        }
    }
    f->value = trimmed(v, n, MV_REPORT_MAX_VALUE, strcmp(f->name, "action") == 0,
                       &r->truncated);
    if (f->value == NULL) return -1;
    if (strcmp(f->name, "action") == 0 || strcmp(f->name, "status") == 0) first_word(f->value);
    return 0;
}

/* Where the line at i ends (*next: the start of the following line). */
static size_t line_end(const unsigned char *p, size_t n, size_t i, size_t *next)
{
    const unsigned char *lf = memchr(p + i, '\n', n - i);
    size_t e = lf != NULL ? (size_t)(lf - p) : n;
    *next = lf != NULL ? e + 1 : n;
    if (e > i && p[e - 1] == '\r') e--;
    return e;
}

static int blank(const unsigned char *p, size_t i, size_t e)
{
    for (; i < e; i++) if (p[i] != ' ' && p[i] != '\t') return 0;
    return 1;
}

/* One group: its fields in p[start..end). */
static int add_group(mv_report *r, const unsigned char *p, size_t start, size_t end,
                     mv_buf *tmp)
{
    mv_report_group *g;
    const char *name, *val;
    size_t nlen, vlen, pos = start;
    if (r->ng >= MV_REPORT_MAX_GROUPS) { r->truncated = 1; return 0; }
    g = realloc(r->g, (r->ng + 1) * sizeof *g);
    if (g == NULL) return -1;
    r->g = g;
    g = &r->g[r->ng];
    memset(g, 0, sizeof *g);
    while (mv_mime_next_header(p, end, &pos, &name, &nlen, &val, &vlen))
        if (add_field(r, g, name, nlen, val, vlen, tmp) != 0) { r->ng++; return -1; }
    if (g->n > 0) r->ng++;
    else free(g->f);
    return 0;
}

int mv_report_parse_fields(const unsigned char *p, size_t n, mv_report *r)
{
    size_t i = 0, start = 0;
    int rc = 0;
    mv_buf tmp;
    mv_buf_init(&tmp);
    while (i < n && rc == 0) {
        size_t next, e = line_end(p, n, i, &next);
        if (blank(p, i, e)) {
            if (i > start) rc = add_group(r, p, start, i, &tmp);
            start = next;
        }
        i = next;
    }
    if (rc == 0 && n > start) rc = add_group(r, p, start, n, &tmp);
    mv_buf_free(&tmp);
    return rc;
}

static int is_status_type(const char *t)
{
    if (strcmp(t, "message/delivery-status") == 0
        || strcmp(t, "message/global-delivery-status") == 0) return MV_REPORT_DSN;
    if (strcmp(t, "message/feedback-report") == 0) return MV_REPORT_ARF;
    return MV_REPORT_NONE;
}

int mv_report_of(const mv_mime_msg *m, mv_report *r)
{
    size_t i;
    long status = -1;
    int rc;
    mv_buf content;
    mv_report_init(r);
    if (m->nparts == 0 || strcmp(m->parts[0].type, "multipart/report") != 0) return 0;
    for (i = 1; i < m->nparts; i++) {
        const char *t = m->parts[i].type;
        if (m->parts[i].parent != 0) continue;
        if (status < 0 && is_status_type(t) != MV_REPORT_NONE) status = (long)i;
        else if (r->returned < 0 && (strcmp(t, "message/rfc822") == 0
                                     || strcmp(t, "message/global") == 0)) {
            r->returned = (long)i;
        } else if (r->returned < 0 && (strcmp(t, "text/rfc822-headers") == 0
                                       || strcmp(t, "message/global-headers") == 0)) {
            r->returned = (long)i;
            r->headers_only = 1;
        }
    }
    if (status < 0) { mv_report_init(r); return 0; }
    r->kind = is_status_type(m->parts[status].type);
    mv_buf_init(&content);
    rc = mv_mime_part_content(m, (size_t)status, &content) < 0
         || mv_report_parse_fields(content.data, content.len, r) != 0 ? -1 : 1;
    mv_buf_free(&content);
    if (rc < 0) mv_report_free(r);
    return rc;
}

const mv_report_field *mv_report_find(const mv_report *r, size_t gi, const char *name)
{
    size_t j;
    if (gi >= r->ng) return NULL;
    for (j = 0; j < r->g[gi].n; j++)
        if (strcmp(r->g[gi].f[j].name, name) == 0) return &r->g[gi].f[j];
    return NULL;
}
