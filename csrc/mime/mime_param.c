/* Content-Type / Content-Disposition parameters with RFC 2231 (CHECKLIST 43, 53). */
#include "mime_header.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime_codec.h"
#include "mv_str.h"

#define MAX_RAW_PARAMS 256

typedef struct raw_param {
    const char *name;   /* base name, in the source */
    size_t namelen;
    int section;        /* -1: none */
    int ext;            /* value is charset'lang'%XX (first) or %XX */
    char *value;        /* unquoted */
} raw_param;

static char *lower_dup(const char *s, size_t n)
{
    char *p = mv_strndup(s, n);
    size_t i;
    for (i = 0; p != NULL && i < n; i++) p[i] = (char)tolower((unsigned char)p[i]);
    return p;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int pct_decode(mv_buf *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexv((unsigned char)s[i + 1]) >= 0 &&
            hexv((unsigned char)s[i + 2]) >= 0) {
            c = (unsigned char)(hexv((unsigned char)s[i + 1]) << 4 |
                                hexv((unsigned char)s[i + 2]));
            i += 2;
        }
        if (mv_buf_append(b, &c, 1) != 0) return -1;
    }
    return 0;
}

static int set_param(mv_params *ps, const char *name, size_t nlen, char *value)
{
    mv_param *p = &ps->p[ps->n];
    p->name = lower_dup(name, nlen);
    if (p->name == NULL) { free(value); return -1; }
    p->value = value;
    ps->n++;
    return 0;
}

static int same_name(const raw_param *a, const raw_param *b)
{
    size_t i;
    if (a->namelen != b->namelen) return 0;
    for (i = 0; i < a->namelen; i++)
        if (tolower((unsigned char)a->name[i]) != tolower((unsigned char)b->name[i])) return 0;
    return 1;
}

/* The entry holding section sec of r[first]'s name, or (size_t)-1 at a gap: the value
 * ends there and later sections are ignored (a defect). */
static size_t find_section(const raw_param *r, size_t nr, size_t first, int sec,
                           int *defects)
{
    size_t i, found = (size_t)-1;
    for (i = first; i < nr; i++)
        if (same_name(&r[i], &r[first]) && r[i].section == sec) {
            if (found == (size_t)-1) found = i; else (*defects)++;
        }
    if (found != (size_t)-1) return found;
    for (i = first; i < nr; i++)
        if (same_name(&r[i], &r[first]) && r[i].section > sec) {
            (*defects)++;
            break;
        }
    return (size_t)-1;
}

/* An extended value percent-decoded into bytes; the first section starts with
 * charset'lang', the charset copied into charset[cap]. */
static int append_extended(mv_buf *bytes, const char *v, int first_section, char *charset,
                           size_t cap, int *defects)
{
    if (first_section) {
        const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
        if (q1 != NULL && q2 != NULL) {
            size_t cl = (size_t)(q1 - v) < cap - 1 ? (size_t)(q1 - v) : cap - 1;
            memcpy(charset, v, cl);
            charset[cl] = '\0';
            v = q2 + 1;
        } else {
            (*defects)++;
        }
    }
    return pct_decode(bytes, v, strlen(v));
}

/* An RFC 2231 value as bytes: its sections in order (or the one extended entry when
 * there are none), charset into charset[cap]. */
static int join_sections(const raw_param *r, size_t nr, size_t first, int have_ext,
                         int any_sections, mv_buf *bytes, char *charset, size_t cap,
                         int *defects)
{
    int sec;
    for (sec = 0; sec < MV_HDR_MAX_SEGMENTS; sec++) {
        size_t found;
        if (have_ext >= 0 && !any_sections) {
            if (sec > 0) break;
            found = (size_t)have_ext;
        } else if ((found = find_section(r, nr, first, sec, defects)) == (size_t)-1) {
            break;
        }
        if (r[found].ext ? append_extended(bytes, r[found].value, sec == 0, charset, cap,
                                           defects) != 0
                         : mv_buf_append_str(bytes, r[found].value) != 0) return -1;
    }
    return 0;
}

/* Resolves every raw entry named like r[first] into one UTF-8 value. */
static char *resolve(raw_param *r, size_t nr, size_t first, int *defects)
{
    mv_buf bytes, out;
    char charset[64] = "";
    size_t i;
    int have_ext = -1, have_plain = -1, any_sections = 0;
    char *res = NULL;
    mv_buf_init(&bytes);
    mv_buf_init(&out);
    for (i = first; i < nr; i++) {
        if (!same_name(&r[i], &r[first])) continue;
        if (r[i].section >= 0) any_sections = 1;
        else if (r[i].ext) { if (have_ext < 0) have_ext = (int)i; else (*defects)++; }
        else { if (have_plain < 0) have_plain = (int)i; else (*defects)++; }
    }
    if (have_ext >= 0 || any_sections) {
        /* RFC 2231 wins over a plain duplicate. */
        if (join_sections(r, nr, first, have_ext, any_sections, &bytes, charset,
                          sizeof charset, defects) != 0 ||
            mv_charset_to_utf8(charset, bytes.data, bytes.len, &out, defects) < 0)
            goto cleanup;
        mv_buf_reset(&bytes);
        /* Controls never come out of a parameter either. */
        if (mv_utf8_sanitize(out.data, out.len, 1, &bytes) < 0) goto cleanup;
    } else {
        const char *v = r[have_plain].value;
        /* Widespread violation: encoded-words inside a quoted parameter. */
        if (mv_hdr_decode_text(v, strlen(v), &bytes, defects) != 0) goto cleanup;
    }
    if (mv_buf_append(&bytes, "", 1) != 0) goto cleanup;
    res = (char *)bytes.data;
    mv_buf_init(&bytes);
cleanup:
    mv_buf_free(&bytes);
    mv_buf_free(&out);
    return res;
}

/* A parameter's value at *i (after the '='): a quoted-string (unquoted) or a token,
 * NUL-terminated into val; *i moves to the next ';'.  0, or -1 out of memory. */
static int read_value(const char *v, size_t n, size_t *pi, mv_buf *val, int *defects)
{
    size_t i = *pi;
    if (i < n && v[i] == '"') {
        i++;
        while (i < n && v[i] != '"') {
            if (v[i] == '\\' && i + 1 < n) i++;
            if (mv_buf_append(val, v + i, 1) != 0) return -1;
            i++;
        }
        if (i >= n) (*defects)++; else i++;
        while (i < n && v[i] != ';') i++;
    } else {
        size_t vs = i, ve;
        while (i < n && v[i] != ';') i++;
        ve = i;
        while (ve > vs && isspace((unsigned char)v[ve - 1])) ve--;
        if (mv_buf_append(val, v + vs, ve - vs) != 0) return -1;
    }
    *pi = i;
    return mv_buf_append(val, "", 1);
}

/* The name v[ns..ne) with its RFC 2231 marks: "name*N" a section, a final '*' an
 * extended (charset'lang'%XX) value. */
static void read_name(const char *v, size_t ns, size_t ne, raw_param *r)
{
    size_t star = ns, d;
    r->section = -1;
    r->ext = 0;
    while (star < ne && v[star] != '*') star++;
    r->name = v + ns;
    r->namelen = star - ns;
    if (star == ne) return;
    d = star + 1;
    if (d < ne && isdigit((unsigned char)v[d])) {
        int sec = 0;
        while (d < ne && isdigit((unsigned char)v[d]) && sec < 100000)
            sec = sec * 10 + (v[d++] - '0');
        r->section = sec;
        if (d < ne && v[d] == '*') r->ext = 1;
    } else {
        r->ext = 1;
    }
}

/* Each parameter (the first of a name, its sections joined) into ps. */
static int resolve_all(raw_param *r, size_t nr, mv_params *ps, int *defects)
{
    size_t i, j;
    for (i = 0; i < nr; i++) {
        int seen = 0;
        char *val;
        for (j = 0; j < i && !seen; j++) seen = same_name(&r[j], &r[i]);
        if (seen) continue;
        if (ps->n >= MV_HDR_MAX_PARAMS) { (*defects)++; break; }
        val = resolve(r, nr, i, defects);
        if (val == NULL || set_param(ps, r[i].name, r[i].namelen, val) != 0) return -1;
    }
    return 0;
}

int mv_params_parse(const char *v, size_t n, mv_params *ps, int *defects)
{
    raw_param *r = NULL;
    size_t nr = 0, i = 0, st, k;
    int rc = -1, dummy = 0;
    if (defects == NULL) defects = &dummy;
    memset(ps, 0, sizeof *ps);
    r = calloc(MAX_RAW_PARAMS, sizeof *r);
    if (r == NULL) return -1;
    while (i < n && isspace((unsigned char)v[i])) i++;
    st = i;
    while (i < n && v[i] != ';') i++;
    k = i;
    while (k > st && isspace((unsigned char)v[k - 1])) k--;
    ps->value = lower_dup(v + st, k - st);
    if (ps->value == NULL) goto cleanup;
    while (i < n) {
        size_t ns, ne;
        mv_buf val;
        i++;   /* ';' */
        while (i < n && isspace((unsigned char)v[i])) i++;
        ns = i;
        while (i < n && v[i] != '=' && v[i] != ';') i++;
        ne = i;
        while (ne > ns && isspace((unsigned char)v[ne - 1])) ne--;
        if (i >= n || v[i] == ';') { if (ne > ns) (*defects)++; continue; }
        i++;   /* '=' */
        while (i < n && isspace((unsigned char)v[i])) i++;
        mv_buf_init(&val);
        if (read_value(v, n, &i, &val, defects) != 0) { mv_buf_free(&val); goto cleanup; }
        if (nr >= MAX_RAW_PARAMS || ne == ns) {
            (*defects)++;
            mv_buf_free(&val);
            continue;
        }
        r[nr].value = (char *)val.data;
        read_name(v, ns, ne, &r[nr]);
        nr++;
    }
    if (resolve_all(r, nr, ps, defects) == 0) rc = 0;
cleanup:
    for (i = 0; i < nr; i++) free(r[i].value);
    free(r);
    if (rc != 0) mv_params_free(ps);
    return rc;
}

void mv_params_free(mv_params *ps)
{
    size_t i;
    for (i = 0; i < ps->n; i++) { free(ps->p[i].name); free(ps->p[i].value); }
    free(ps->value);
    memset(ps, 0, sizeof *ps);
}

const char *mv_params_get(const mv_params *ps, const char *name)
{
    size_t i;
    for (i = 0; i < ps->n; i++) if (strcmp(ps->p[i].name, name) == 0) return ps->p[i].value;
    return NULL;
}

static int attr_char(unsigned char c)
{
    return isalnum(c) || (c != 0 && strchr("!#$&+-.^_`|~", c) != NULL);
}

int mv_param_write(mv_buf *out, const char *name, const char *value)
{
    const unsigned char *p = (const unsigned char *)value;
    size_t len = strlen(value), i, enc = 0, seg = 0, col, seglen;
    int plain = len <= 60;
    char tmp[16];
    /* "=?" too: a reader RFC 2047-decodes quoted parameter values (CHECKLIST 43). */
    for (i = 0; i < len && plain; i++)
        if (p[i] < 0x20 || p[i] >= 0x7f || p[i] == '"' || p[i] == '\\' || p[i] == ';' ||
            (p[i] == '=' && p[i + 1] == '?'))
            plain = 0;
    if (plain) {
        if (mv_buf_append(out, "; ", 2) != 0 || mv_buf_append_str(out, name) != 0 ||
            mv_buf_append(out, "=\"", 2) != 0 || mv_buf_append(out, value, len) != 0 ||
            mv_buf_append(out, "\"", 1) != 0) return -1;
        return 0;
    }
    for (i = 0; i < len; i++) enc += attr_char(p[i]) ? 1 : 3;
    if (enc <= 50) {
        if (mv_buf_append(out, "; ", 2) != 0 || mv_buf_append_str(out, name) != 0 ||
            mv_buf_append(out, "*=utf-8''", 9) != 0) return -1;
        for (i = 0; i < len; i++) {
            if (attr_char(p[i])) { if (mv_buf_append(out, p + i, 1) != 0) return -1; continue; }
            snprintf(tmp, sizeof tmp, "%%%02X", p[i]);
            if (mv_buf_append(out, tmp, 3) != 0) return -1;
        }
        return 0;
    }
    /* Long: sections of about 40 encoded characters (a %XX triplet is never split), or
     * longer ones when 40 would take more sections than a reader keeps
     * (MV_HDR_MAX_SEGMENTS); past ~900 a section would not fit on a line. */
    seglen = enc / MV_HDR_MAX_SEGMENTS + 3;
    if (seglen < 40) seglen = 40;
    if (seglen > 900) return -1;
    col = seglen + 1;
    for (i = 0; i < len; i++) {
        if (col > seglen) {
            snprintf(tmp, sizeof tmp, "*%u*=", (unsigned)seg);
            if (mv_buf_append(out, "; ", 2) != 0 || mv_buf_append_str(out, name) != 0 ||
                mv_buf_append_str(out, tmp) != 0) return -1;
            if (seg == 0 && mv_buf_append(out, "utf-8''", 7) != 0) return -1;
            seg++;
            col = 0;
        }
        if (attr_char(p[i])) { if (mv_buf_append(out, p + i, 1) != 0) return -1; col++; continue; }
        snprintf(tmp, sizeof tmp, "%%%02X", p[i]);
        if (mv_buf_append(out, tmp, 3) != 0) return -1;
        col += 3;
    }
    return 0;
}
