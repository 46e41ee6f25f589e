/* Helpers shared by the libFuzzer targets: an input cursor and an assertion that
 * crashes (so libFuzzer saves the input) when an invariant of the core breaks. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ASSERT(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline unsigned fz_byte(fz_in *in)
{
    unsigned b;
    if (in->n == 0) return 0;
    b = in->p[0];
    in->p++;
    in->n--;
    return b;
}

/* Takes up to `max` bytes (at least 1 when any are left). */
static inline size_t fz_take(fz_in *in, size_t max, const uint8_t **out)
{
    size_t k = max < in->n ? max : in->n;
    *out = in->p;
    in->p += k;
    in->n -= k;
    return k;
}

/* A heap copy of exactly n bytes (NUL-terminated), so ASan sees reads past the end. */
static inline char *fz_dup(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL) abort();
    if (n > 0) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* True when no byte is a C0 control other than TAB, nor DEL. */
static inline int fz_no_controls(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) return 0;
    return 1;
}

#endif
