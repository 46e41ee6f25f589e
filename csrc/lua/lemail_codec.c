/* The codecs missive.core exposes next to the email userdata: base64, quoted-printable,
 * RFC 2047 header text, RFC 2231 parameters, RFC 5322 dates and Message-IDs, and the
 * resumable pieces the streaming filters of missive.mime are made of. */
#include "lemail_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime_codec.h"
#include "mime_header.h"
#include "mv_idna.h"

static int oom(lua_State *L)
{
    return luaL_error(L, "out of memory");
}

/* Results are written once, in place, at their known (or largest) size: a fresh output
 * of tens of MB costs a page fault per 4 KB, so every extra copy showed in the time. */
static int l_b64_encode(lua_State *L)
{
    size_t n, len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    int wrap = lua_toboolean(L, 2);
    mvl_buffer b;
    char *out;
    len = mv_b64_encoded_len(n, wrap);
    out = mvl_buffinitsize(L, &b, len);
    mvl_pushresultsize(&b, mv_b64_encode(s, n, out, wrap));
    return 1;
}

static int l_b64_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int d = 0;
    mvl_buffer b;
    unsigned char *out = (unsigned char *)mvl_buffinitsize(L, &b, n / 4 * 3 + 3);
    mvl_pushresultsize(&b, mv_b64_decode(s, n, out, &d));
    lua_pushinteger(L, d);
    return 2;
}

static int l_qp_encode(lua_State *L)
{
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    int text = !lua_toboolean(L, 2);
    mvl_buffer b;
    char *out = mvl_buffinitsize(L, &b, mv_qp_encoded_max(n));
    mvl_pushresultsize(&b, mv_qp_encode_to(s, n, text, out));
    return 1;
}

static int l_qp_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int d = 0;
    mvl_buffer b;
    unsigned char *out = (unsigned char *)mvl_buffinitsize(L, &b, n);
    mvl_pushresultsize(&b, mv_qp_decode(s, n, out, &d));
    lua_pushinteger(L, d);
    return 2;
}

/* base64 decoding in pieces: the decoder's state travels as one integer (a group of at
 * most 3 characters is 18 bits; k, pads and done follow). */
static int l_b64_decode_part(lua_State *L)
{
    size_t n, len;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_Number packed = luaL_optnumber(L, 2, 0);
    int last = lua_toboolean(L, 3), d = 0;
    unsigned long u = packed > 0 ? (unsigned long)packed : 0;
    mv_b64_dec st;
    mvl_buffer b;
    unsigned char *out = (unsigned char *)mvl_buffinitsize(L, &b, n / 4 * 3 + 5);
    mv_b64_dec_init(&st);
    st.v = (unsigned)(u & 0xffffff);
    st.k = (int)(u >> 24 & 3);
    st.pads = (int)(u >> 26 & 3);
    st.done = (int)(u >> 28 & 3);
    len = mv_b64_dec_step(&st, s, n, out, &d);
    if (last) len += mv_b64_dec_end(&st, out + len, &d);
    mvl_pushresultsize(&b, len);
    lua_pushnumber(L, (lua_Number)(st.v | (unsigned long)st.k << 24 |
                                   (unsigned long)st.pads << 26 |
                                   (unsigned long)st.done << 28));
    return 2;
}

/* quoted-printable encoding in pieces: returns the output, the bytes taken and the
 * column the next piece starts at. */
static int l_qp_encode_part(lua_State *L)
{
    size_t n, used = 0, col = (size_t)luaL_optinteger(L, 3, 0);
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    int text = !lua_toboolean(L, 2), last = lua_toboolean(L, 4);
    mvl_buffer b;
    char *out = mvl_buffinitsize(L, &b, mv_qp_encoded_max(n));
    if (col > 76) col = 76;
    mvl_pushresultsize(&b, mv_qp_encode_part(s, n, text, last, &col, &used, out));
    lua_pushinteger(L, (lua_Integer)used);
    lua_pushinteger(L, (lua_Integer)col);
    return 3;
}

/* Pushes the bytes of a mv_buf (freed either way) and returns 1; an out-of-memory
 * status gives a Lua error. */
static int push_buf(lua_State *L, mv_buf *b, size_t skip, size_t trim, int rc)
{
    mvl_buffer lb;
    size_t n = rc == 0 && b->len >= skip + trim ? b->len - skip - trim : 0;
    char *p = rc == 0 ? mvl_buffinitsize(L, &lb, n) : NULL;
    if (rc != 0) { mv_buf_free(b); return oom(L); }
    if (n > 0) memcpy(p, b->data + skip, n);
    mv_buf_free(b);
    mvl_pushresultsize(&lb, n);
    return 1;
}

/* header_encode(text[, name]): the RFC 2047 form of UTF-8 text, folded for a header
 * called name ("Subject"); the "Name: " and the final CRLF are left out. */
static int l_hdr_encode(lua_State *L)
{
    size_t n, nl;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *name = luaL_optlstring(L, 2, "Subject", &nl);
    mv_buf b;
    if (!mv_hdr_name_ok(name, nl)) return mvl_fail(L, "argument", "bad header name");
    if (!mv_hdr_value_ok(s, n))
        return mvl_fail(L, "argument", "CR, LF or NUL in a header value");
    if (!mv_utf8_valid((const unsigned char *)s, n))
        return mvl_fail(L, "argument", "header text is not valid UTF-8");
    mv_buf_init(&b);
    /* luaL_checklstring's strings end with a NUL: the name can be passed as it is. */
    return push_buf(L, &b, nl + 2, 2, mv_hdr_write_text(&b, name, s, n));
}

/* header_decode(wire): UTF-8 text and the count of repairs. */
static int l_hdr_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int d = 0;
    mv_buf b;
    mv_buf_init(&b);
    push_buf(L, &b, 0, 0, mv_hdr_unfold_decode(s, n, &b, &d));
    lua_pushinteger(L, d);
    return 2;
}

/* param_encode(name, value): `name="value"` or its RFC 2231 form (`name*=utf-8''..`,
 * or `name*0*=..; name*1*=..` when long). */
static int l_param_encode(lua_State *L)
{
    size_t nl, vl, i;
    const char *name = luaL_checklstring(L, 1, &nl);
    const char *v = luaL_checklstring(L, 2, &vl);
    mv_buf b;
    for (i = 0; i < nl; i++)
        if (strchr("()<>@,;:\\\"/[]?=*% '", name[i]) != NULL || (unsigned char)name[i] <= 32 ||
            (unsigned char)name[i] >= 127) break;
    if (nl == 0 || nl > 64 || i < nl) return mvl_fail(L, "argument", "bad parameter name");
    if (strlen(v) != vl || !mv_utf8_valid((const unsigned char *)v, vl))
        return mvl_fail(L, "argument", "parameter value is not NUL-free UTF-8");
    mv_buf_init(&b);
    if (mv_param_write(&b, name, v) != 0) {
        mv_buf_free(&b);
        if (vl > MV_HDR_MAX_PARAM_VALUE)
            return mvl_fail(L, "limit", "parameter value too long");
        return oom(L);
    }
    return push_buf(L, &b, 2, 0, 0);
}

/* param_decode(wire): the main token (lowercase), a table name -> UTF-8 value, and the
 * count of repairs. */
static int l_param_decode(lua_State *L)
{
    size_t n, i;
    const char *s = luaL_checklstring(L, 1, &n);
    int d = 0;
    mv_params ps;
    memset(&ps, 0, sizeof ps);
    if (mv_params_parse(s, n, &ps, &d) != 0) { mv_params_free(&ps); return oom(L); }
    lua_pushstring(L, ps.value != NULL ? ps.value : "");
    lua_createtable(L, 0, (int)ps.n);
    for (i = 0; i < ps.n; i++) {
        lua_pushstring(L, ps.p[i].value);
        lua_setfield(L, -2, ps.p[i].name);
    }
    mv_params_free(&ps);
    lua_pushinteger(L, d);
    return 3;
}

static int l_date(lua_State *L)
{
    char d[64];
    if (lua_isnoneornil(L, 1)) mv_mime_date_now(d, sizeof d);
    else mv_mime_date(d, sizeof d, (long long)luaL_checknumber(L, 1));
    lua_pushstring(L, d);
    return 1;
}

static int l_message_id(lua_State *L)
{
    char id[160];
    size_t dl = 0;
    const char *dom = luaL_optlstring(L, 1, NULL, &dl);
    if (dom != NULL && (strlen(dom) != dl || dl > 100 || strpbrk(dom, "<>@ \t\r\n\"") != NULL))
        dom = NULL;
    if (mv_mime_new_message_id(id, sizeof id, dom) != 0)
        return mvl_fail(L, "io", "no randomness available");
    lua_pushstring(L, id);
    return 1;
}

/* email.to_ascii_domain(d) / to_unicode_domain(d): the conversion the envelope and the
 * builder apply (mv_idna); nil, reason, "argument" for a domain IDNA refuses. */
static int push_idna(lua_State *L, int to_ascii)
{
    size_t n;
    const char *d = luaL_checklstring(L, 1, &n), *why = NULL;
    char *out = NULL, msg[200];
    int rc = to_ascii ? mv_idna_to_ascii(d, n, &out, &why)
                      : mv_idna_to_unicode(d, n, &out, &why);
    if (rc == MV_IDNA_MEMORY) return oom(L);
    if (rc != MV_IDNA_OK) {
        snprintf(msg, sizeof msg, "not a valid international domain name: %s", why);
        return mvl_fail(L, "argument", msg);
    }
    lua_pushstring(L, out);
    free(out);
    return 1;
}

static int l_to_ascii_domain(lua_State *L) { return push_idna(L, 1); }
static int l_to_unicode_domain(lua_State *L) { return push_idna(L, 0); }

const luaL_Reg mvl_email_codec_funcs[] = {
    {"to_ascii_domain", l_to_ascii_domain}, {"to_unicode_domain", l_to_unicode_domain},
    {"email_date", l_date}, {"email_message_id", l_message_id},
    {"b64_encode", l_b64_encode}, {"b64_decode", l_b64_decode},
    {"qp_encode", l_qp_encode}, {"qp_decode", l_qp_decode},
    {"b64_decode_part", l_b64_decode_part}, {"qp_encode_part", l_qp_encode_part},
    {"header_encode", l_hdr_encode}, {"header_decode", l_hdr_decode},
    {"param_encode", l_param_encode}, {"param_decode", l_param_decode}, {NULL, NULL}
};
