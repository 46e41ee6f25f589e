/* A reader's view of a random message (mime_view.h): the envelope its headers imply and
 * its leaf parts, read in place and, after a header change, from the message written and
 * read again. */
#include "fuzz_common.h"

#include "mime_msg.h"
#include "mime_parse.h"
#include "mime_view.h"

static int count_field(void *ctx, const char *name, size_t nlen, const char *value,
                       size_t vlen)
{
    FZ_ASSERT(nlen > 0 && name != NULL && value != NULL);
    FZ_ASSERT(memchr(value, '\r', vlen) == NULL && memchr(value, '\n', vlen) == NULL);
    (*(size_t *)ctx)++;
    return 0;
}

static void check_envelope(const mv_mime_msg *m)
{
    mv_mime_envelope env;
    size_t i;
    if (mv_mime_envelope_of(m, &env) != 0) return;   /* out of memory only */
    for (i = 0; i < env.nrcpts; i++) {
        FZ_ASSERT(env.rcpts[i] != NULL);
        /* each once: sorted neighbours would be cheaper, but the input is small */
        if (env.nrcpts <= 64 && i > 0) {
            size_t j;
            for (j = 0; j < i; j++) FZ_ASSERT(strcmp(env.rcpts[i], env.rcpts[j]) != 0);
        }
    }
    mv_mime_envelope_free(&env);
}

static void check_leaves(mv_mime_msg *m)
{
    mv_mime_view v;
    mv_error e;
    mv_buf scratch;
    size_t i;
    mv_error_clear(&e);
    if (mv_mime_view_open(&v, m, &e) != MV_OK) return;
    mv_buf_init(&scratch);
    for (i = 0; i < v.m->nparts; i++) {
        size_t n = 0;
        if (!mv_mime_part_is_leaf(v.m, i)) continue;
        FZ_ASSERT(v.m->parts[i].nchildren == 0 || (strncmp(v.m->parts[i].type, "multipart/",
                  10) != 0 && strcmp(v.m->parts[i].type, "message/rfc822") != 0));
        (void)mv_mime_part_headers_each(v.m, i, &scratch, count_field, &n);
    }
    mv_buf_free(&scratch);
    mv_mime_view_close(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_mime_msg m;
    mv_error e;
    mv_mime_init(&m);
    mv_error_clear(&e);
    if (mv_mime_parse_borrowed(&m, data, size, NULL, &e) != MV_OK) {
        mv_mime_free(&m);
        return 0;
    }
    check_envelope(&m);
    check_leaves(&m);
    if (mv_mime_set_header(&m, "X-Fuzz", "changed") == 0) check_leaves(&m);
    mv_mime_free(&m);
    return 0;
}
