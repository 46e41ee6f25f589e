/* MIME codecs: base64, quoted-printable, UTF-8 checks, charset conversion (mime_charset.c).
 * Decoders are lenient (RFC 2045 §6.7/6.8, documented below) and count what they
 * repaired in *defects instead of failing. */
#ifndef MIME_CODEC_H
#define MIME_CODEC_H

#include <stddef.h>

#include "mv_buf.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* Base64 output length; wrap != 0 breaks lines every 76 characters with CRLF
 * (no CRLF after the last line). */
size_t mv_b64_encoded_len(size_t n, int wrap);
/* Encodes n bytes into out (mv_b64_encoded_len bytes); returns the length written. */
size_t mv_b64_encode(const unsigned char *in, size_t n, char *out, int wrap);
/* Lenient decode into out (room for n * 3 / 4 + 3 bytes); returns the length.
 * Rules (Python's binascii.a2b_base64, which email and GMime agree with): bytes outside
 * the alphabet are skipped (whitespace silently, anything else counted as a defect); a
 * '=' completing a group of 2 or 3 characters ends the data, and anything but blanks
 * after it is ignored (a defect); a '=' that cannot pad is skipped (a defect); a
 * truncated final group is flushed as if padded (a lone character is dropped). */
size_t mv_b64_decode(const char *in, size_t n, unsigned char *out, int *defects);
/* Strict decode (RFC 4648 section 3: SASL challenges, APOP-style lines) into out (room
 * for n * 3 / 4 + 3 bytes): alphabet characters in groups of four, the last padded with
 * '='; only line breaks (LF, CRLF) and blanks ending a line are skipped.  Returns 0 and
 * the length in *olen, or -1 on any other byte, a '=' before the end or a truncated
 * group. */
int mv_b64_decode_strict(const char *in, size_t n, unsigned char *out, size_t *olen);
/* The same decoder fed in pieces of any size: init, step for every piece (room for
 * n / 4 * 3 + 3 bytes), end (room for 2) flushes a truncated group.  The output of all
 * the steps and the end equals mv_b64_decode of the whole; done != 0 once the data has
 * ended at its padding (later steps return 0). */
typedef struct mv_b64_dec {
    unsigned v;
    int k, pads, done;
} mv_b64_dec;
void mv_b64_dec_init(mv_b64_dec *st);
size_t mv_b64_dec_step(mv_b64_dec *st, const char *in, size_t n, unsigned char *out,
                       int *defects);
size_t mv_b64_dec_end(mv_b64_dec *st, unsigned char *out, int *defects);

/* Quoted-printable encode (RFC 2045 §6.7), lines <= 76.  text != 0: LF, CRLF and bare
 * CR in the input are line breaks (emitted as CRLF); text == 0: CR and LF are encoded. */
int mv_qp_encode(const unsigned char *in, size_t n, int text, mv_buf *out);
/* The largest output of n bytes (SIZE_MAX when that does not fit a size_t). */
size_t mv_qp_encoded_max(size_t n);
/* The same into out (mv_qp_encoded_max(n) bytes of room); returns the length. */
size_t mv_qp_encode_to(const unsigned char *in, size_t n, int text, char *out);
/* The same fed in pieces: encodes a prefix of in (all of it when last != 0), starting at
 * column *col (0 at first); *used = the bytes taken, the caller passes the rest again
 * in front of the next piece.  The outputs joined equal the one-shot encoding. */
size_t mv_qp_encode_part(const unsigned char *in, size_t n, int text, int last,
                         size_t *col, size_t *used, char *out);
/* Lenient decode into out (room for n bytes); returns the length.  "=XX" (either case)
 * is a byte; "=" before optional blanks and a line end is a soft break; any other "="
 * is kept literally (a defect); blanks before a line end are removed; line ends stay as
 * they were in the input. */
size_t mv_qp_decode(const char *in, size_t n, unsigned char *out, int *defects);
/* RFC 2047 "Q" decode: like quoted-printable, plus '_' is a space. */
size_t mv_q_decode(const char *in, size_t n, unsigned char *out, int *defects);

/* 1 when p[0..n) is valid UTF-8 (no overlongs, no surrogates). */
int mv_utf8_valid(const unsigned char *p, size_t n);
/* Length of the valid UTF-8 sequence at p (1..4) or 0 when invalid. */
size_t mv_utf8_seq(const unsigned char *p, size_t n);
/* Appends p as UTF-8 to out, replacing invalid sequences with U+FFFD and, when
 * controls != 0, C0 controls other than TAB (and DEL) too.
 * Returns the number of replacements, or -1 when out of memory. */
long mv_utf8_sanitize(const unsigned char *p, size_t n, int controls, mv_buf *out);

/* Converts from `charset` to UTF-8, appending to out.  The label is read as the WHATWG
 * Encoding Standard reads it (its superset: iso-8859-1 -> windows-1252, gb2312 ->
 * GB18030, ks_c_5601-1987 -> Windows-949, ...), then decoded by iconv (UTF-8 and
 * windows-1252 without it).  Returns 0; 1 when the charset is unknown (bytes appended
 * as sanitised UTF-8); MV_CS_GUESSED when there is no label or it says US-ASCII but the
 * text has 8-bit bytes (read as UTF-8 when valid, else windows-1252; a defect, which the
 * caller may name); -1 when out of memory.  Invalid input bytes become U+FFFD, each
 * adding to *defects. */
#define MV_CS_GUESSED 2
int mv_charset_to_utf8(const char *charset, const unsigned char *p, size_t n, mv_buf *out,
                       int *defects);

MV_HIDDEN_END

#endif
