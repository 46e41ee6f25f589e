/* Part decoding: a parsed part's content with its transfer encoding undone, whole or
 * piece by piece, and the uuencoded blocks a text body may carry. */
#include "mime_part.h"

#include <stdlib.h>
#include <string.h>

#include "mime_codec.h"

int mv_mime_part_content(const mv_mime_msg *m, size_t idx, mv_buf *out)
{
    const mv_mime_part *pt = &m->parts[idx];
    const char *b = (const char *)m->raw + pt->body_off;
    size_t n = pt->body_end > pt->body_off ? pt->body_end - pt->body_off : 0;
    int d = 0;
    if (pt->cte == MV_CTE_UU)
        return mv_uu_decode((const unsigned char *)b, n, out, &d) < 0 ? -1 : d;
    if (mv_buf_reserve(out, n + 4) != 0) return -1;
    if (pt->cte == MV_CTE_BASE64) out->len += mv_b64_decode(b, n, out->data + out->len, &d);
    else if (pt->cte == MV_CTE_QP) out->len += mv_qp_decode(b, n, out->data + out->len, &d);
    else { memcpy(out->data + out->len, b, n); out->len += n; }
    return d;
}

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* Where the next piece of a quoted-printable body (from i) may end, at or after `want`:
 * after a hard line end, a point the decoder carries no state across (a soft break
 * "=[blanks]CRLF" joins lines).  base64 needs no such point: its decoder resumes. */
static size_t piece_end(int cte, const unsigned char *b, size_t n, size_t i, size_t want)
{
    if (want >= n) return n;
    if (cte == MV_CTE_QP) {
        while (i < n) {
            if (b[i] == '=') {
                size_t j = i + 1;
                if (j + 1 < n && is_hex(b[j]) && is_hex(b[j + 1])) { i += 3; continue; }
                while (j < n && (b[j] == ' ' || b[j] == '\t')) j++;
                if (j < n && b[j] == '\r' && j + 1 < n && b[j + 1] == '\n') j++;
                i = j < n && (b[j] == '\r' || b[j] == '\n') ? j + 1 : i + 1;
                continue;
            }
            i++;
            if ((b[i - 1] == '\r' || b[i - 1] == '\n') && i >= want) return i;
        }
        return n;
    }
    return want;
}

int mv_mime_part_content_each(const mv_mime_msg *m, size_t idx, size_t piece,
                              mv_mime_each_fn each, void *ctx)
{
    const mv_mime_part *pt = &m->parts[idx];
    const unsigned char *b = m->raw + pt->body_off;
    size_t n = pt->body_end > pt->body_off ? pt->body_end - pt->body_off : 0, i = 0;
    int d = 0, rc = 0;
    mv_buf out;
    mv_b64_dec b64;
    if (piece == 0) piece = 65536;
    mv_buf_init(&out);
    mv_b64_dec_init(&b64);
    while (i < n && rc == 0) {
        size_t j;
        if (pt->cte == MV_CTE_BASE64) {
            size_t k = n - i < piece ? n - i : piece;
            mv_buf_reset(&out);
            if (mv_buf_reserve(&out, k / 4 * 3 + 8) != 0) { rc = -1; break; }
            out.len = mv_b64_dec_step(&b64, (const char *)b + i, k, out.data, &d);
            if (i + k == n) out.len += mv_b64_dec_end(&b64, out.data + out.len, &d);
            if (out.len > 0 && each(ctx, out.data, out.len) != 0) rc = -2;
            i += k;
            continue;
        }
        j = piece_end(pt->cte, b, n, i, i + piece);
        if (pt->cte == MV_CTE_UU) {
            /* Lines decode on their own: a piece ends after a line break (an "end"
             * line stops the decoder; what follows it is not content). */
            const unsigned char *nl = j < n ? memchr(b + j, '\n', n - j) : NULL;
            int dd = 0, r;
            j = nl != NULL ? (size_t)(nl - b) + 1 : n;
            mv_buf_reset(&out);
            if ((r = mv_uu_decode(b + i, j - i, &out, &dd)) < 0) { rc = -1; break; }
            d += dd;
            if (out.len > 0 && each(ctx, out.data, out.len) != 0) rc = -2;
            if (r == 1) break;
            i = j;
            continue;
        }
        if (pt->cte != MV_CTE_QP) {
            if (each(ctx, b + i, j - i) != 0) rc = -2;
            i = j;
            continue;
        }
        mv_buf_reset(&out);
        if (mv_buf_reserve(&out, j - i + 4) != 0) { rc = -1; break; }
        out.len = mv_qp_decode((const char *)b + i, j - i, out.data, &d);
        if (out.len > 0 && each(ctx, out.data, out.len) != 0) rc = -2;
        i = j;
    }
    mv_buf_free(&out);
    return rc != 0 ? rc : d;
}

static int append_piece(void *ctx, const unsigned char *p, size_t n)
{
    return mv_buf_append((mv_buf *)ctx, p, n);
}

int mv_mime_att_each(const mv_mime_msg *m, const mv_mime_att *a, mv_mime_each_fn each,
                     void *ctx)
{
    int r;
    if (a->data != NULL || a->part < 0)
        return a->len > 0 && each(ctx, a->data, a->len) != 0 ? -2 : 0;
    r = mv_mime_part_content_each(m, (size_t)a->part, 0, each, ctx);
    return r < 0 ? r : 0;
}

int mv_mime_att_load(const mv_mime_msg *m, mv_mime_att *a)
{
    mv_buf b;
    if (a->data != NULL || a->part < 0) return 0;
    mv_buf_init(&b);
    if (mv_buf_reserve(&b, a->len + 1) != 0 || mv_mime_att_each(m, a, append_piece, &b) != 0) {
        mv_buf_free(&b);
        return -1;
    }
    a->data = b.data;
    a->len = b.len;
    a->part = -1;
    return 0;
}

/* The name on a uuencode begin line, as UTF-8 without controls (a fresh string). */
char *mv_mime_uu_name(const mv_uu_block *b)
{
    mv_buf n;
    mv_buf_init(&n);
    if (mv_utf8_sanitize((const unsigned char *)b->name, strlen(b->name), 1, &n) < 0 ||
        mv_buf_append(&n, "", 1) != 0) { mv_buf_free(&n); return NULL; }
    return (char *)n.data;
}

int mv_mime_take_uu(mv_mime_msg *m, const unsigned char *src, size_t n, mv_buf *rest,
                    int *defects)
{
    mv_uu_block b;
    size_t from = 0;
    mv_buf data;
    int rc = 0, found = 0;
    mv_buf_init(&data);
    while (rc == 0 && mv_uu_find(src, n, from, &b)) {
        char *name = mv_mime_uu_name(&b);
        mv_error ae;
        mv_error_clear(&ae);
        mv_buf_reset(&data);
        if (name == NULL ||
            mv_uu_decode(src + b.data, b.data_end - b.data, &data, defects) < 0 ||
            mv_mime_add_att(m, NULL, data.data != NULL ? data.data : (unsigned char *)"",
                            data.len, name, NULL, NULL, 0, &ae) != MV_OK ||
            mv_buf_append(rest, src + from, b.start - from) != 0) rc = -1;
        free(name);
        from = b.end;
        found = 1;
    }
    if (rc == 0 && found && mv_buf_append(rest, src + from, n - from) != 0) rc = -1;
    mv_buf_free(&data);
    return rc != 0 ? -1 : found;
}
