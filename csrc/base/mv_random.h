/* Randomness for the whole process, from mbedTLS: one entropy pool (its context is
 * 38 KB, too big to hold per session) and one shared DRBG for MIME boundaries and
 * Message-IDs.  Both are guarded by their own locks, whatever the mbedTLS build's
 * threading option, and live as long as the process. */
#ifndef MV_RANDOM_H
#define MV_RANDOM_H

#include <stddef.h>
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* An mbedTLS entropy callback (f_entropy): seeds a session's own DRBG.  0 or an
 * mbedTLS error. */
int mv_entropy(void *unused, unsigned char *out, size_t len);

/* n random bytes from the shared DRBG; 0, or -1 when it cannot be seeded.  A process
 * fork()ed after the DRBG was seeded reseeds it before its first draw. */
int mv_random(unsigned char *p, size_t n);

MV_HIDDEN_END

#endif
