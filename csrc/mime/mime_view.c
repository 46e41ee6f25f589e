/* A reader's view of a message: the envelope its headers imply and its leaf parts. */
#include "mime_view.h"

#include <stdlib.h>
#include <string.h>

#include "mime_build.h"
#include "mime_header.h"
#include "mime_parse.h"
#include "mv_str.h"

void mv_mime_envelope_free(mv_mime_envelope *env)
{
    size_t i;
    free(env->from);
    for (i = 0; i < env->nrcpts; i++) free(env->rcpts[i]);
    free(env->rcpts);
    memset(env, 0, sizeof *env);
}

/* The addresses of the header field `name` (display form, as the model keeps it) read as
 * a received one would be; an absent field gives none.  0 or -1. */
static int addrs_of(const mv_mime_msg *m, const char *name, mv_addr_list *l)
{
    const char *v = mv_mime_get_header(m, name, 0);
    if (v == NULL) return 0;
    return mv_addr_parse(v, strlen(v), 1, l, NULL, NULL, 0);
}

/* A string and where it stood, sorted by string, then by place: among equal strings the
 * first occurrence comes first. */
typedef struct placed {
    const char *s;
    size_t at;
} placed;

static int by_string_then_place(const void *a, const void *b)
{
    const placed *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    if (c != 0) return c;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Drops repeated strings from v[0..*n), keeping each first occurrence where it stood:
 * O(n log n), so thousands of recipients per field cost no quadratic time.  0 or -1. */
static int drop_repeats(char **v, size_t *n)
{
    placed *p;
    size_t i, run, k = 0;
    if (*n < 2) return 0;
    if ((p = malloc(*n * sizeof *p)) == NULL) return -1;
    for (i = 0; i < *n; i++) { p[i].s = v[i]; p[i].at = i; }
    qsort(p, *n, sizeof *p, by_string_then_place);
    for (i = 1, run = 0; i < *n; i++) {
        /* p[run] is the first of a run of equal strings, kept; its repeats are freed */
        if (strcmp(p[i].s, p[run].s) != 0) { run = i; continue; }
        free(v[p[i].at]);
        v[p[i].at] = NULL;
    }
    free(p);
    for (i = 0; i < *n; i++) if (v[i] != NULL) v[k++] = v[i];
    *n = k;
    return 0;
}

/* Appends a copy of every address of l to env's recipients.  0 or -1. */
static int add_rcpts(mv_mime_envelope *env, const mv_addr_list *l)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        if (mv_mime_strv_push(&env->rcpts, &env->nrcpts, l->v[i].addr) != 0) return -1;
    return 0;
}

int mv_mime_envelope_of(const mv_mime_msg *m, mv_mime_envelope *env)
{
    static const char *const rcpt_fields[] = { "To", "Cc", "Bcc" };
    mv_addr_list l = {NULL, 0, 0};
    size_t i;
    int rc = -1;
    memset(env, 0, sizeof *env);
    if (addrs_of(m, mv_mime_get_header(m, "Sender", 0) != NULL ? "Sender" : "From", &l) != 0)
        goto cleanup;
    if (l.n > 0 && (env->from = mv_strdup(l.v[0].addr)) == NULL) goto cleanup;
    for (i = 0; i < sizeof rcpt_fields / sizeof rcpt_fields[0]; i++) {
        mv_addr_list_free(&l);
        if (addrs_of(m, rcpt_fields[i], &l) != 0 || add_rcpts(env, &l) != 0) goto cleanup;
    }
    if (drop_repeats(env->rcpts, &env->nrcpts) != 0) goto cleanup;
    rc = 0;
cleanup:
    mv_addr_list_free(&l);
    if (rc != 0) mv_mime_envelope_free(env);
    return rc;
}

int mv_mime_view_open(mv_mime_view *v, mv_mime_msg *m, mv_error *e)
{
    mv_mime_init(&v->reparsed);
    mv_buf_init(&v->wire);
    v->m = m;
    if (m->raw != NULL && !m->dirty) return MV_OK;
    /* reparsed reads the serialised bytes in place: wire lives until it is freed */
    if (mv_mime_serialize(m, &v->wire, e) != MV_OK ||
        mv_mime_parse_borrowed(&v->reparsed, v->wire.data, v->wire.len, NULL, e) != MV_OK) {
        mv_mime_view_close(v);
        return MV_ERROR;
    }
    v->m = &v->reparsed;
    return MV_OK;
}

void mv_mime_view_close(mv_mime_view *v)
{
    mv_mime_free(&v->reparsed);
    mv_buf_free(&v->wire);
    v->m = NULL;
}

int mv_mime_part_is_leaf(const mv_mime_msg *m, size_t i)
{
    const mv_mime_part *pt = &m->parts[i];
    if (pt->nchildren == 0) return 1;
    return strncmp(pt->type, "multipart/", 10) != 0 && strcmp(pt->type, "message/rfc822") != 0;
}

int mv_mime_part_headers_each(const mv_mime_msg *m, size_t i, mv_buf *scratch,
                              mv_mime_header_fn each, void *ctx)
{
    const mv_mime_part *pt = &m->parts[i];
    size_t pos = pt->hdr_off, nl, vl;
    const char *name, *val;
    while (mv_mime_next_header(m->raw, pt->hdr_end, &pos, &name, &nl, &val, &vl)) {
        int d = 0, r;
        mv_buf_reset(scratch);
        if (mv_hdr_unfold_decode(val, vl, scratch, &d) != 0) return -1;
        r = each(ctx, name, nl, scratch->data != NULL ? (const char *)scratch->data : "",
                 scratch->len);
        if (r != 0) return r;
    }
    return 0;
}
