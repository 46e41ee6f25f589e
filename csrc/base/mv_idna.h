/* International domain names: U-labels to A-labels (RFC 5890, IDNA2008) for the SMTP
 * envelope and the address headers the builder writes, in one place.  libidn2 does the
 * work, with the UTS #46 non-transitional mapping (what browsers and mail clients apply
 * to what a user typed: upper case and full-width forms are folded, "ß" stays "ß"). */
#ifndef MV_IDNA_H
#define MV_IDNA_H

#include <stddef.h>
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

enum { MV_IDNA_OK = 0, MV_IDNA_INVALID = -1, MV_IDNA_MEMORY = -2 };

/* The n bytes at d (a domain) as A-labels: a fresh string in *out (free()).  An
 * all-ASCII domain is copied as it is (its syntax is not judged here, so existing
 * ASCII addresses behave as before).  A domain with non-ASCII labels must be UTF-8 that
 * IDNA2008 allows, and its result a host name: labels of 1..63 letters, digits and
 * hyphens, 253 bytes at most (no empty label, no trailing dot; libidn2 itself would
 * pass "_" or "[" through).  MV_IDNA_INVALID sets *why to a static reason. */
int mv_idna_to_ascii(const char *d, size_t n, char **out, const char **why);
/* The n bytes at d with A-labels shown as U-labels (for display; an ASCII label that
 * is not an A-label is kept): a fresh string in *out, or MV_IDNA_INVALID with *why. */
int mv_idna_to_unicode(const char *d, size_t n, char **out, const char **why);

/* The domain of an address: the bytes after its last '@' (a quoted local part may hold
 * '@', a domain name never does), or its domain literal ("[...]", whose dtext may), or
 * NULL when there is no '@'. */
const char *mv_idna_domain(const char *addr);
/* local@domain with the domain as A-labels, the local part as it is: a fresh string in
 * *out.  An address without '@', with an ASCII domain or a domain literal is copied. */
int mv_idna_addr_to_ascii(const char *addr, char **out, const char **why);

MV_HIDDEN_END

#endif
