/* International domain names through libidn2 (see mv_idna.h). */
#include "mv_idna.h"
#include "mv_str.h"

#include <idn2.h>
#include <stdlib.h>
#include <string.h>

/* RFC 1035 §2.3.4 and RFC 5321 §4.5.3.1.2: 63 bytes a label, 255 a name on the wire,
 * so 253 as text without the root's dot. */
#define LABEL_MAX 63
#define DOMAIN_MAX 253
/* More input than this cannot make a domain of DOMAIN_MAX bytes in any useful way;
 * refused before libidn2 sees it, so its work stays bounded. */
#define INPUT_MAX 1024

/* IDNA2008 (RFC 5891) with the UTS #46 non-transitional mapping and NFC.  Not
 * IDN2_USE_STD3_ASCII_RULES: libidn2 2.3 deletes "_" or "@" under it instead of
 * refusing them, which would turn a domain into another one; host_name() refuses them. */
#define FLAGS (IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT)

static int is_ldh(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-';
}

/* What libidn2 returned must be a host name (RFC 1123 §2.1, RFC 5321 §4.1.2). */
static const char *host_name(const char *s)
{
    size_t i, label = 0, n = strlen(s);
    if (n > DOMAIN_MAX) return "domain longer than 253 bytes";
    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0) return "empty label";
            label = 0;
            continue;
        }
        if (!is_ldh((unsigned char)s[i])) return "a character a host name cannot hold";
        if (++label > LABEL_MAX) return "label longer than 63 bytes";
    }
    return NULL;
}

/* A NUL-terminated copy of a domain libidn2 may read, or NULL with *rc set. */
static char *input_copy(const char *d, size_t n, int *rc, const char **why)
{
    char *c;
    *rc = MV_IDNA_INVALID;
    if (n == 0) { *why = "empty domain"; return NULL; }
    if (n > INPUT_MAX) { *why = "domain too long"; return NULL; }
    if (memchr(d, '\0', n) != NULL) { *why = "NUL in the domain"; return NULL; }
    if ((c = mv_strndup(d, n)) == NULL) *rc = MV_IDNA_MEMORY;
    return c;
}

/* libidn2's result in memory the caller frees with free(). */
static int take(int r, char *got, char **out, const char **why)
{
    if (r == IDN2_MALLOC) return MV_IDNA_MEMORY;
    if (r != IDN2_OK) {
        *why = idn2_strerror(r);
        return MV_IDNA_INVALID;
    }
    *out = mv_strdup(got);
    idn2_free(got);
    return *out != NULL ? MV_IDNA_OK : MV_IDNA_MEMORY;
}

int mv_idna_to_ascii(const char *d, size_t n, char **out, const char **why)
{
    char *in, *got = NULL;
    int rc;
    *out = NULL;
    if (n > 0 && !mv_has_8bit(d, n) && memchr(d, '\0', n) == NULL) {
        *out = mv_strndup(d, n);
        return *out != NULL ? MV_IDNA_OK : MV_IDNA_MEMORY;
    }
    if ((in = input_copy(d, n, &rc, why)) == NULL) return rc;
    rc = idn2_to_ascii_8z(in, &got, FLAGS);
    rc = take(rc, got, out, why);
    free(in);
    if (rc == MV_IDNA_OK && (*why = host_name(*out)) != NULL) {
        free(*out);
        *out = NULL;
        rc = MV_IDNA_INVALID;
    }
    return rc;
}

int mv_idna_to_unicode(const char *d, size_t n, char **out, const char **why)
{
    char *in, *got = NULL;
    int rc;
    *out = NULL;
    if ((in = input_copy(d, n, &rc, why)) == NULL) return rc;
    rc = idn2_to_unicode_8z8z(in, &got, 0);
    rc = take(rc, got, out, why);
    free(in);
    return rc;
}

const char *mv_idna_domain(const char *addr)
{
    size_t n = strlen(addr);
    const char *at;
    /* A domain literal may hold '@' (RFC 5322 dtext) but never '[': the last '[' starts
     * it when an '@' stands before. */
    if (n > 0 && addr[n - 1] == ']') {
        const char *lb = strrchr(addr, '[');
        if (lb != NULL && lb > addr && lb[-1] == '@') return lb;
    }
    at = strrchr(addr, '@');
    return at != NULL ? at + 1 : NULL;
}

int mv_idna_addr_to_ascii(const char *addr, char **out, const char **why)
{
    const char *d = mv_idna_domain(addr);
    size_t local, dn;
    char *a, *joined;
    int rc;
    /* A domain literal ("[192.0.2.1]") is an address, not a name: IDNA has no say. */
    if (d == NULL || d[0] == '[' || !mv_has_8bit(d, strlen(d))) {
        *out = mv_strdup(addr);
        return *out != NULL ? MV_IDNA_OK : MV_IDNA_MEMORY;
    }
    if ((rc = mv_idna_to_ascii(d, strlen(d), &a, why)) != MV_IDNA_OK) {
        *out = NULL;
        return rc;
    }
    local = (size_t)(d - addr);          /* the '@' included */
    dn = strlen(a);
    joined = malloc(local + dn + 1);
    if (joined != NULL) {
        memcpy(joined, addr, local);
        memcpy(joined + local, a, dn + 1);
    }
    free(a);
    *out = joined;
    return joined != NULL ? MV_IDNA_OK : MV_IDNA_MEMORY;
}
