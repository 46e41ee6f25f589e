/* The codecs missive.core exposes next to the email userdata: base64, quoted-printable,
 * RFC 5322 dates and Message-IDs (email.base64_encode, email.date, ...). */
#include "lemail_int.h"

#include <stdlib.h>
#include <string.h>

#include "mime_codec.h"

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
        return mvl_email_fail(L, "io", "no randomness available");
    lua_pushstring(L, id);
    return 1;
}

const luaL_Reg mvl_email_codec_funcs[] = {
    {"email_date", l_date}, {"email_message_id", l_message_id},
    {"b64_encode", l_b64_encode}, {"b64_decode", l_b64_decode},
    {"qp_encode", l_qp_encode}, {"qp_decode", l_qp_decode}, {NULL, NULL}
};
