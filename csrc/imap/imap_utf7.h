/* The modified UTF-7 codec used where iconv has no "UTF-7-IMAP" (imap_data.h has the
 * entry points); exposed for tests and fuzzing against iconv's. */
#ifndef IMAP_UTF7_H
#define IMAP_UTF7_H

#include <stddef.h>

#include "mv_buf.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

int imap_utf7_decode_own(const char *s, size_t n, mv_buf *out);
int imap_utf7_encode_own(const char *s, size_t n, mv_buf *out);

MV_HIDDEN_END

#endif
