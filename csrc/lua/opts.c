/* Reading constructor option tables. */
#include "bind.h"
#include "mv_conn.h"

#include <string.h>

const char *mvl_opt_string(lua_State *L, int t, const char *name)
{
    const char *v = NULL;
    lua_getfield(L, t, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "option '%s' must be a string", name);
        size_t n;
        v = lua_tolstring(L, -1, &n);
        if (strlen(v) != n) luaL_error(L, "option '%s' contains a NUL byte", name);
    }
    /* The string stays alive: the option table holds it. */
    lua_pop(L, 1);
    return v;
}

int mvl_opt_bool(lua_State *L, int t, const char *name, int dflt)
{
    int v = dflt;
    lua_getfield(L, t, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TBOOLEAN)
            luaL_error(L, "option '%s' must be a boolean", name);
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

lua_Integer mvl_opt_int(lua_State *L, int t, const char *name, lua_Integer dflt)
{
    lua_Integer v = dflt;
    lua_getfield(L, t, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "option '%s' must be a number", name);
        v = (lua_Integer)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

int mvl_opt_ms(lua_State *L, int t, const char *name, int dflt)
{
    int v = dflt;
    lua_getfield(L, t, name);
    if (!lua_isnil(L, -1)) {
        lua_Number n;
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "option '%s' must be a number of seconds", name);
        n = lua_tonumber(L, -1);
        if (!(n >= 0) || n > 2000000) luaL_error(L, "option '%s' is out of range", name);
        v = (int)(n * 1000 + 0.5);
    }
    lua_pop(L, 1);
    return v;
}

int mvl_opt_verify(lua_State *L, int t)
{
    int v = MV_VERIFY_FULL;
    lua_getfield(L, t, "verify");
    if (lua_type(L, -1) == LUA_TBOOLEAN) {
        v = lua_toboolean(L, -1) ? MV_VERIFY_FULL : MV_VERIFY_NONE;
    } else if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "name") == 0) {
        v = MV_VERIFY_NAME;
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "option 'verify' must be true, false or \"name\"");
    }
    lua_pop(L, 1);
    return v;
}

/* tls_min / tls_max = "1.2" | "1.3" -> 12 / 13; 0 when absent. */
static int opt_tls_version(lua_State *L, int t, const char *name)
{
    int v = 0;
    const char *s = mvl_opt_string(L, t, name);
    if (s == NULL) return 0;
    if (strcmp(s, "1.2") == 0) v = 12;
    else if (strcmp(s, "1.3") == 0) v = 13;
    else luaL_error(L, "option '%s' must be \"1.2\" or \"1.3\"", name);
    return v;
}

void mvl_opt_tls(lua_State *L, int t, mv_tls_opts *o)
{
    o->cafile = mvl_opt_string(L, t, "cafile");
    o->capath = mvl_opt_string(L, t, "capath");
    o->client_cert = mvl_opt_string(L, t, "client_cert");
    o->client_key = mvl_opt_string(L, t, "client_key");
    o->verify = mvl_opt_verify(L, t);
    o->tls_min = opt_tls_version(L, t, "tls_min");
    o->tls_max = opt_tls_version(L, t, "tls_max");
    if (o->tls_min != 0 && o->tls_max != 0 && o->tls_min > o->tls_max)
        luaL_error(L, "option 'tls_min' is above 'tls_max'");
}
