/* The "missive.email" userdata: its life (constructors, __gc), what it holds besides the
 * message, and __index/__newindex over the C message model.  Reading fields and the
 * methods that read are in lemail_get.c, setting them (where every caller value is
 * checked) in lemail_set.c, writing the message out in lemail_write.c; the codecs
 * missive.core exposes beside it are in lemail_codec.c. */
#include "lemail_int.h"

#include "mime_parse.h"

/* Where a message came from (ORIGIN_KEY): a table the mailbox layer attaches with
 * core.email_annotate (a POP3 message's number, uid and size; an IMAP message's flags or
 * folder).  The email knows none of those names: a key that is not an email field is
 * read from that table. */
#define ORIGIN_KEY "missive.email.origin"
/* The marker tells our table from the environment table Lua 5.1 gives every userdata. */
#define EXTRAS_MARK "missive.email.extras"

lemail *mvl_check_email(lua_State *L, int idx)
{
    return (lemail *)luaL_checkudata(L, idx, EMAIL_MT);
}

static lemail *push_email(lua_State *L)
{
    lemail *e = (lemail *)mvl_newuserdata(L, sizeof *e);
    mv_mime_init(&e->m);
    e->unparsed = 0;
    mvl_setmetatable(L, EMAIL_MT);
    return e;
}

void mvl_email_push_extras(lua_State *L, int ud, int create)
{
    mvl_getuservalue(L, ud);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, EXTRAS_MARK);
        if (lua_toboolean(L, -1)) { lua_pop(L, 1); return; }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (!create) { lua_pushnil(L); return; }
    lua_newtable(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, EXTRAS_MARK);
    lua_pushvalue(L, -1);
    mvl_setuservalue(L, ud);
}

void mvl_email_push_extra(lua_State *L, int ud, const char *key)
{
    mvl_email_push_extras(L, ud, 0);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, key);
        lua_remove(L, -2);
    }
}

static int l_index(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    const char *k = luaL_checkstring(L, 2);
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);
    if (mvl_email_get_field(L, e, k) == 1) return 1;
    mvl_email_push_extra(L, 1, ORIGIN_KEY);
    if (lua_istable(L, -1)) lua_getfield(L, -1, k);
    return 1;
}

/* A key the origin table holds (and the email has no field of that name) is written
 * there; any other key is an email field. */
static int l_newindex(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (!mvl_email_is_field(k)) {
        mvl_email_push_extra(L, 1, ORIGIN_KEY);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, k);
            if (!lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushvalue(L, 3);
                lua_setfield(L, -2, k);
                return 0;
            }
        }
        lua_settop(L, 3);
    }
    if (mvl_email_set_field(L, e, k, 3) != 0) return lua_error(L);
    return 0;
}

static int l_gc(lua_State *L)
{
    lemail *e = (lemail *)luaL_checkudata(L, 1, EMAIL_MT);
    mv_mime_free(&e->m);
    return 0;
}

static int l_email_new(lua_State *L)
{
    push_email(L);
    return 1;
}

static int opt_size(lua_State *L, int idx, const char *k, size_t def)
{
    lua_Integer v;
    lua_getfield(L, idx, k);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return (int)def; }
    v = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    if (v < 1) luaL_error(L, "option %s must be positive", k);
    return (int)(v > 0x3fffffff ? 0x3fffffff : v);
}

static int l_email_parse(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    mv_mime_limits lim;
    mv_error err;
    lemail *e;
    mv_mime_limits_default(&lim);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lim.max_depth = (size_t)opt_size(L, 2, "max_depth", lim.max_depth);
        lim.max_parts = (size_t)opt_size(L, 2, "max_parts", lim.max_parts);
        lim.max_headers = (size_t)opt_size(L, 2, "max_headers", lim.max_headers);
        lim.max_header_bytes = (size_t)opt_size(L, 2, "max_header_bytes", lim.max_header_bytes);
    }
    e = push_email(L);
    mvl_email_push_extras(L, lua_gettop(L), 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, EMAIL_RAW_KEY);
    lua_pop(L, 1);
    mv_error_clear(&err);
    if (mv_mime_parse_borrowed(&e->m, s, n, &lim, &err) != MV_OK) {
        mv_mime_free(&e->m);
        return mvl_push_error(L, &err);
    }
    return 1;
}

int mvl_email_parse(lua_State *L)
{
    return l_email_parse(L);
}

/* email_unparsed(raw[, parse_error]): a message kept as received, nothing parsed (a
 * mailbox hands out every message as an email, also one the parser refused). */
static int l_email_unparsed(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TSTRING);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TSTRING);
    push_email(L)->unparsed = 1;
    mvl_email_push_extras(L, lua_gettop(L), 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, EMAIL_RAW_KEY);
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, EMAIL_PARSE_ERROR_KEY);
    lua_pop(L, 1);
    return 1;
}

/* email_annotate(m, fields): copies fields into m's origin table (made on first use) and
 * returns m.  What a mailbox knows of a message it handed out (a number, a UID, flags)
 * reads as m.number, m.uid, m.flags without the email type knowing those names. */
static int l_email_annotate(lua_State *L)
{
    mvl_check_email(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    mvl_email_push_extras(L, 1, 1);
    lua_getfield(L, 3, ORIGIN_KEY);
    if (!lua_istable(L, 4)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, 4);
        lua_setfield(L, 3, ORIGIN_KEY);
    }
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 4);
    }
    lua_settop(L, 1);
    return 1;
}

static const luaL_Reg core_funcs[] = {
    {"email_new", l_email_new}, {"email_parse", l_email_parse},
    {"email_unparsed", l_email_unparsed}, {"email_annotate", l_email_annotate},
    {NULL, NULL}
};

void mvl_open_email(lua_State *L)
{
    mvl_email_open_write(L);
    luaL_newmetatable(L, EMAIL_MT);
    lua_newtable(L);
    mvl_setfuncs(L, mvl_email_get_methods);
    mvl_setfuncs(L, mvl_email_set_methods);
    mvl_setfuncs(L, mvl_email_write_methods);
    mvl_setfuncs(L, mvl_email_dkim_methods);
    /* core.email_methods lets the Lua sugar add methods written in Lua. */
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "email_methods");
    lua_pushcclosure(L, l_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, mvl_email_tostring_meta);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, EMAIL_MT);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);

    mvl_setfuncs(L, core_funcs);
    mvl_setfuncs(L, mvl_email_codec_funcs);
    mvl_setfuncs(L, mvl_dkim_core_funcs);
}
