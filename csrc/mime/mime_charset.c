/* Charset conversion to UTF-8: a label is first mapped to the encoding the WHATWG
 * Encoding Standard gives it (mail clients read labels as browsers do: "iso-8859-1" and
 * "us-ascii" are windows-1252, "gb2312" is GBK/GB18030, "ks_c_5601-1987" and "euc-kr"
 * are Windows-949, "shift_jis" is Windows-31J), then decoded by iconv, or here for
 * UTF-8 and windows-1252. */
#include "mime_codec.h"
#include "mv_str.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

/* WHATWG Encoding Standard labels (sorted) and the iconv name of their encoding; plus
 * UTF-7, which browsers dropped and mail still uses.  big5 is read as Windows-950 (glibc's
 * BIG5-HKSCS refuses the euro sign of CP950); the ISO-2022-* labels WHATWG maps to
 * "replacement" are left to iconv under their own names. */
static const struct cs_label {
    const char *label, *name;
} cs_labels[] = {
    {"866", "IBM866"}, {"ansi_x3.4-1968", "WINDOWS-1252"}, {"arabic", "ISO-8859-6"},
    {"ascii", "WINDOWS-1252"}, {"asmo-708", "ISO-8859-6"}, {"big5", "CP950"},
    {"big5-hkscs", "BIG5-HKSCS"}, {"chinese", "GB18030"}, {"cn-big5", "CP950"},
    {"cp1250", "CP1250"}, {"cp1251", "CP1251"}, {"cp1252", "WINDOWS-1252"},
    {"cp1253", "CP1253"}, {"cp1254", "CP1254"}, {"cp1255", "CP1255"}, {"cp1256", "CP1256"},
    {"cp1257", "CP1257"}, {"cp1258", "CP1258"}, {"cp819", "WINDOWS-1252"}, {"cp866", "IBM866"},
    {"csbig5", "CP950"}, {"cseuckr", "CP949"}, {"cseucpkdfmtjapanese", "EUC-JP-MS"},
    {"csgb2312", "GB18030"}, {"csibm866", "IBM866"}, {"csiso2022jp", "ISO-2022-JP"},
    {"csiso58gb231280", "GB18030"}, {"csiso88596e", "ISO-8859-6"},
    {"csiso88596i", "ISO-8859-6"}, {"csiso88598e", "ISO-8859-8"}, {"csiso88598i", "ISO-8859-8"},
    {"csisolatin1", "WINDOWS-1252"}, {"csisolatin2", "ISO-8859-2"},
    {"csisolatin3", "ISO-8859-3"}, {"csisolatin4", "ISO-8859-4"}, {"csisolatin5", "CP1254"},
    {"csisolatin6", "ISO-8859-10"}, {"csisolatin9", "ISO-8859-15"},
    {"csisolatinarabic", "ISO-8859-6"}, {"csisolatincyrillic", "ISO-8859-5"},
    {"csisolatingreek", "ISO-8859-7"}, {"csisolatinhebrew", "ISO-8859-8"},
    {"cskoi8r", "KOI8-R"}, {"csksc56011987", "CP949"}, {"csmacintosh", "MACINTOSH"},
    {"csshiftjis", "CP932"}, {"csunicode", "UTF-16LE"}, {"csunicode11utf7", "UTF-7"},
    {"cyrillic", "ISO-8859-5"}, {"dos-874", "CP874"}, {"ecma-114", "ISO-8859-6"},
    {"ecma-118", "ISO-8859-7"}, {"elot_928", "ISO-8859-7"}, {"euc-jp", "EUC-JP-MS"},
    {"euc-kr", "CP949"}, {"gb18030", "GB18030"}, {"gb2312", "GB18030"}, {"gb_2312", "GB18030"},
    {"gb_2312-80", "GB18030"}, {"gbk", "GB18030"}, {"greek", "ISO-8859-7"},
    {"greek8", "ISO-8859-7"}, {"hebrew", "ISO-8859-8"}, {"ibm819", "WINDOWS-1252"},
    {"ibm866", "IBM866"}, {"iso-10646-ucs-2", "UTF-16LE"}, {"iso-2022-jp", "ISO-2022-JP"},
    {"iso-8859-1", "WINDOWS-1252"}, {"iso-8859-10", "ISO-8859-10"}, {"iso-8859-11", "CP874"},
    {"iso-8859-13", "ISO-8859-13"}, {"iso-8859-14", "ISO-8859-14"},
    {"iso-8859-15", "ISO-8859-15"}, {"iso-8859-16", "ISO-8859-16"},
    {"iso-8859-2", "ISO-8859-2"}, {"iso-8859-3", "ISO-8859-3"}, {"iso-8859-4", "ISO-8859-4"},
    {"iso-8859-5", "ISO-8859-5"}, {"iso-8859-6", "ISO-8859-6"}, {"iso-8859-6-e", "ISO-8859-6"},
    {"iso-8859-6-i", "ISO-8859-6"}, {"iso-8859-7", "ISO-8859-7"}, {"iso-8859-8", "ISO-8859-8"},
    {"iso-8859-8-e", "ISO-8859-8"}, {"iso-8859-8-i", "ISO-8859-8"}, {"iso-8859-9", "CP1254"},
    {"iso-ir-100", "WINDOWS-1252"}, {"iso-ir-101", "ISO-8859-2"}, {"iso-ir-109", "ISO-8859-3"},
    {"iso-ir-110", "ISO-8859-4"}, {"iso-ir-126", "ISO-8859-7"}, {"iso-ir-127", "ISO-8859-6"},
    {"iso-ir-138", "ISO-8859-8"}, {"iso-ir-144", "ISO-8859-5"}, {"iso-ir-148", "CP1254"},
    {"iso-ir-149", "CP949"}, {"iso-ir-157", "ISO-8859-10"}, {"iso-ir-58", "GB18030"},
    {"iso8859-1", "WINDOWS-1252"}, {"iso8859-10", "ISO-8859-10"}, {"iso8859-11", "CP874"},
    {"iso8859-13", "ISO-8859-13"}, {"iso8859-14", "ISO-8859-14"}, {"iso8859-15", "ISO-8859-15"},
    {"iso8859-2", "ISO-8859-2"}, {"iso8859-3", "ISO-8859-3"}, {"iso8859-4", "ISO-8859-4"},
    {"iso8859-5", "ISO-8859-5"}, {"iso8859-6", "ISO-8859-6"}, {"iso8859-7", "ISO-8859-7"},
    {"iso8859-8", "ISO-8859-8"}, {"iso8859-9", "CP1254"}, {"iso88591", "WINDOWS-1252"},
    {"iso885910", "ISO-8859-10"}, {"iso885911", "CP874"}, {"iso885913", "ISO-8859-13"},
    {"iso885914", "ISO-8859-14"}, {"iso885915", "ISO-8859-15"}, {"iso88592", "ISO-8859-2"},
    {"iso88593", "ISO-8859-3"}, {"iso88594", "ISO-8859-4"}, {"iso88595", "ISO-8859-5"},
    {"iso88596", "ISO-8859-6"}, {"iso88597", "ISO-8859-7"}, {"iso88598", "ISO-8859-8"},
    {"iso88599", "CP1254"}, {"iso_8859-1", "WINDOWS-1252"}, {"iso_8859-15", "ISO-8859-15"},
    {"iso_8859-1:1987", "WINDOWS-1252"}, {"iso_8859-2", "ISO-8859-2"},
    {"iso_8859-2:1987", "ISO-8859-2"}, {"iso_8859-3", "ISO-8859-3"},
    {"iso_8859-3:1988", "ISO-8859-3"}, {"iso_8859-4", "ISO-8859-4"},
    {"iso_8859-4:1988", "ISO-8859-4"}, {"iso_8859-5", "ISO-8859-5"},
    {"iso_8859-5:1988", "ISO-8859-5"}, {"iso_8859-6", "ISO-8859-6"},
    {"iso_8859-6:1987", "ISO-8859-6"}, {"iso_8859-7", "ISO-8859-7"},
    {"iso_8859-7:1987", "ISO-8859-7"}, {"iso_8859-8", "ISO-8859-8"},
    {"iso_8859-8:1988", "ISO-8859-8"}, {"iso_8859-9", "CP1254"}, {"iso_8859-9:1989", "CP1254"},
    {"koi", "KOI8-R"}, {"koi8", "KOI8-R"}, {"koi8-r", "KOI8-R"}, {"koi8-ru", "KOI8-U"},
    {"koi8-u", "KOI8-U"}, {"koi8_r", "KOI8-R"}, {"korean", "CP949"},
    {"ks_c_5601-1987", "CP949"}, {"ks_c_5601-1989", "CP949"}, {"ksc5601", "CP949"},
    {"ksc_5601", "CP949"}, {"l1", "WINDOWS-1252"}, {"l2", "ISO-8859-2"}, {"l3", "ISO-8859-3"},
    {"l4", "ISO-8859-4"}, {"l5", "CP1254"}, {"l6", "ISO-8859-10"}, {"l9", "ISO-8859-15"},
    {"latin1", "WINDOWS-1252"}, {"latin2", "ISO-8859-2"}, {"latin3", "ISO-8859-3"},
    {"latin4", "ISO-8859-4"}, {"latin5", "CP1254"}, {"latin6", "ISO-8859-10"},
    {"logical", "ISO-8859-8"}, {"mac", "MACINTOSH"}, {"macintosh", "MACINTOSH"},
    {"ms932", "CP932"}, {"ms_kanji", "CP932"}, {"shift-jis", "CP932"}, {"shift_jis", "CP932"},
    {"sjis", "CP932"}, {"sun_eu_greek", "ISO-8859-7"}, {"tis-620", "CP874"},
    {"ucs-2", "UTF-16LE"}, {"unicode", "UTF-16LE"}, {"unicode-1-1-utf-7", "UTF-7"},
    {"unicode-1-1-utf-8", "UTF-8"}, {"unicode-2-0-utf-7", "UTF-7"}, {"unicode11utf8", "UTF-8"},
    {"unicode20utf8", "UTF-8"}, {"unicodefeff", "UTF-16LE"}, {"unicodefffe", "UTF-16BE"},
    {"us-ascii", "WINDOWS-1252"}, {"utf-16", "UTF-16LE"}, {"utf-16be", "UTF-16BE"},
    {"utf-16le", "UTF-16LE"}, {"utf-7", "UTF-7"}, {"utf-8", "UTF-8"}, {"utf8", "UTF-8"},
    {"visual", "ISO-8859-8"}, {"windows-1250", "CP1250"}, {"windows-1251", "CP1251"},
    {"windows-1252", "WINDOWS-1252"}, {"windows-1253", "CP1253"}, {"windows-1254", "CP1254"},
    {"windows-1255", "CP1255"}, {"windows-1256", "CP1256"}, {"windows-1257", "CP1257"},
    {"windows-1258", "CP1258"}, {"windows-31j", "CP932"}, {"windows-874", "CP874"},
    {"windows-949", "CP949"}, {"x-cp1250", "CP1250"}, {"x-cp1251", "CP1251"},
    {"x-cp1252", "WINDOWS-1252"}, {"x-cp1253", "CP1253"}, {"x-cp1254", "CP1254"},
    {"x-cp1255", "CP1255"}, {"x-cp1256", "CP1256"}, {"x-cp1257", "CP1257"},
    {"x-cp1258", "CP1258"}, {"x-euc-jp", "EUC-JP-MS"}, {"x-gbk", "GB18030"},
    {"x-mac-cyrillic", "MAC-CYRILLIC"}, {"x-mac-roman", "MACINTOSH"},
    {"x-mac-ukrainian", "MAC-CYRILLIC"}, {"x-sjis", "CP932"}, {"x-unicode-2-0-utf-7", "UTF-7"},
    {"x-unicode20utf8", "UTF-8"}, {"x-x-big5", "CP950"},
};

#define CS_LABEL_MAX 40
#define CS_PIECE 65536

static int cs_cmp(const void *k, const void *e)
{
    return strcmp((const char *)k, ((const struct cs_label *)e)->label);
}

/* The iconv name for a label (lowercased, blanks and quotes trimmed), or NULL. */
static const char *cs_lookup(const char *charset, char *low)
{
    const struct cs_label *l;
    size_t i = 0, n;
    while (*charset == ' ' || *charset == '\t' || *charset == '"') charset++;
    n = strlen(charset);
    while (n > 0 && (charset[n - 1] == ' ' || charset[n - 1] == '\t' || charset[n - 1] == '"'))
        n--;
    if (n >= CS_LABEL_MAX) n = CS_LABEL_MAX - 1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)charset[i];
        low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    low[n] = '\0';
    l = bsearch(low, cs_labels, sizeof cs_labels / sizeof cs_labels[0], sizeof cs_labels[0],
                cs_cmp);
    return l != NULL ? l->name : NULL;
}

/* windows-1252 as WHATWG decodes it: 0x80..0x9F are the typographic characters, the five
 * bytes Windows leaves undefined are the C1 controls of the same value. */
static const unsigned short w1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static unsigned w1252_cp(unsigned char c)
{
    return c >= 0x80 && c < 0xA0 ? w1252_c1[c - 0x80] : c;
}

/* Exactly the output's size first (the body of a big message is converted once, into a
 * buffer that is not grown), then the conversion. */
static int w1252_to_utf8(const unsigned char *p, size_t n, mv_buf *out)
{
    size_t i, len = n;
    unsigned char *o;
    for (i = 0; i < n; i++) {
        unsigned cp;
        if (p[i] < 0x80) continue;
        cp = w1252_cp(p[i]);
        len += cp >= 0x800 ? 2 : 1;
    }
    if (len == 0) return 0;     /* out may have no storage yet: no NULL + 0 */
    if (mv_buf_reserve(out, len) != 0) return -1;
    o = out->data + out->len;
    for (i = 0; i < n; i++) {
        unsigned cp = w1252_cp(p[i]);
        if (cp < 0x80) { *o++ = (unsigned char)cp; continue; }
        if (cp < 0x800) {
            o[0] = (unsigned char)(0xC0 | cp >> 6);
            o[1] = (unsigned char)(0x80 | (cp & 0x3F));
            o += 2;
            continue;
        }
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        o += 3;
    }
    out->len += len;
    return 0;
}

/* iconv in bounded pieces, so the output is reserved for what a piece can become (4 bytes
 * per input byte at most) rather than for the whole input at once. */
static int cs_iconv(iconv_t cd, const char *name, const unsigned char *p, size_t n,
                    mv_buf *out, int *defects)
{
    char *ip = (char *)(size_t)p;
    size_t il = n;
    /* WHATWG's gb18030 decoder reads 0x80 as the euro sign (GBK's, CP936's); glibc's
     * GB18030 refuses it. */
    int gb = strcmp(name, "GB18030") == 0;
    while (il > 0) {
        size_t piece = il < CS_PIECE ? il : CS_PIECE, left = piece, ol = 4 * piece + 16, r;
        char *op;
        if (mv_buf_reserve(out, ol) != 0) return -1;
        op = (char *)out->data + out->len;
        r = iconv(cd, &ip, &left, &op, &ol);
        out->len = (size_t)((unsigned char *)op - out->data);
        il -= piece - left;
        if (r != (size_t)-1) continue;
        if (errno == E2BIG) continue;
        /* A character across the piece's end: it starts the next piece. */
        if (errno == EINVAL && il > left) continue;
        /* EILSEQ, or a truncated sequence at the very end: replace one byte, go on. */
        if (gb && (unsigned char)*ip == 0x80) {
            if (mv_buf_append(out, "\xe2\x82\xac", 3) != 0) return -1;
        } else {
            if (mv_buf_append(out, "\xef\xbf\xbd", 3) != 0) return -1;
            if (defects != NULL) (*defects)++;
        }
        ip++;
        il--;
    }
    return 0;
}

int mv_charset_to_utf8(const char *charset, const unsigned char *p, size_t n, mv_buf *out,
                       int *defects)
{
    char low[CS_LABEL_MAX];
    const char *name = NULL;
    iconv_t cd;
    long fixes;
    int r;
    if (charset != NULL && charset[0] != '\0') name = cs_lookup(charset, low);
    /* No label, or US-ASCII (which cannot hold 8-bit text): UTF-8 when the bytes are
     * valid UTF-8, else windows-1252, as Thunderbird reads them (and GMime's 8-bit
     * rule: UTF-8 first).  8-bit text there is a mislabel the caller records. */
    if (charset == NULL || charset[0] == '\0' || strcmp(low, "us-ascii") == 0 ||
        strcmp(low, "ascii") == 0 || strcmp(low, "ansi_x3.4-1968") == 0) {
        if (!mv_has_8bit(p, n)) return mv_buf_append(out, p, n) != 0 ? -1 : 0;
        if (mv_utf8_valid(p, n)) r = mv_buf_append(out, p, n);
        else r = w1252_to_utf8(p, n, out);
        if (defects != NULL) (*defects)++;
        return r != 0 ? -1 : MV_CS_GUESSED;
    }
    if (name != NULL && strcmp(name, "UTF-8") == 0) {
        fixes = mv_utf8_sanitize(p, n, 0, out);
        if (fixes < 0) return -1;
        if (defects != NULL) *defects += fixes > 0;
        return 0;
    }
    if (name != NULL && strcmp(name, "WINDOWS-1252") == 0)
        return w1252_to_utf8(p, n, out) != 0 ? -1 : 0;
    cd = iconv_open("UTF-8", name != NULL ? name : charset);
    if (cd == (iconv_t)-1 && name == NULL) {
        /* Labels iconv spells otherwise: "cp-850", "x-cp437", "ibm_862". */
        char compact[CS_LABEL_MAX];
        size_t i, k = 0;
        const char *s = strncmp(low, "x-", 2) == 0 ? low + 2 : low;
        for (i = 0; s[i] != '\0'; i++)
            if (s[i] != '-' && s[i] != '_' && s[i] != ' ') compact[k++] = s[i];
        compact[k] = '\0';
        if (k > 0) cd = iconv_open("UTF-8", compact);
    }
    if (cd == (iconv_t)-1) {
        if (defects != NULL) (*defects)++;
        fixes = mv_utf8_sanitize(p, n, 0, out);
        return fixes < 0 ? -1 : 1;
    }
    r = cs_iconv(cd, name != NULL ? name : "", p, n, out, defects);
    iconv_close(cd);
    return r;
}
