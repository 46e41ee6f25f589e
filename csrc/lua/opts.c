/* Reading constructor option tables. */
#include "bind.h"
#include "mv_cfg.h"
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

/* verify = true | false | "name" -> MV_VERIFY_*. */
static int opt_verify(lua_State *L, int t)
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

/* cafile, capath, client_cert, client_key, verify, tls_min, tls_max. */
static void opt_tls(lua_State *L, int t, mv_tls_opts *o)
{
    o->cafile = mvl_opt_string(L, t, "cafile");
    o->capath = mvl_opt_string(L, t, "capath");
    o->client_cert = mvl_opt_string(L, t, "client_cert");
    o->client_key = mvl_opt_string(L, t, "client_key");
    o->verify = opt_verify(L, t);
    o->tls_min = opt_tls_version(L, t, "tls_min");
    o->tls_max = opt_tls_version(L, t, "tls_max");
    if (o->tls_min != 0 && o->tls_max != 0 && o->tls_min > o->tls_max)
        luaL_error(L, "option 'tls_min' is above 'tls_max'");
}

/* nil or "loopback" gives MV_INSECURE_LOOPBACK, true ALWAYS, false NEVER: the same
 * three words for every protocol. */
static int opt_insecure_auth(lua_State *L, int t)
{
    int v;
    lua_getfield(L, t, "insecure_auth");
    if (lua_isnil(L, -1)) v = MV_INSECURE_LOOPBACK;
    else if (lua_type(L, -1) == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1) ? MV_INSECURE_ALWAYS : MV_INSECURE_NEVER;
    else if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "loopback") == 0)
        v = MV_INSECURE_LOOPBACK;
    else return luaL_error(L, "option 'insecure_auth' must be \"loopback\", true or false");
    lua_pop(L, 1);
    return v;
}

/* tls = "starttls" | "implicit" | "none"; the error lists the default first. */
static int opt_tls_mode(lua_State *L, int t, int dflt)
{
    const char *s = mvl_opt_string(L, t, "tls");
    if (s == NULL) return dflt;
    if (strcmp(s, "starttls") == 0) return MV_TLS_STARTTLS;
    if (strcmp(s, "implicit") == 0) return MV_TLS_IMPLICIT;
    if (strcmp(s, "none") == 0) return MV_TLS_NONE;
    return luaL_error(L, "option 'tls' must be \"%s\", \"%s\" or \"none\"",
                      dflt == MV_TLS_IMPLICIT ? "implicit" : "starttls",
                      dflt == MV_TLS_IMPLICIT ? "starttls" : "implicit");
}

void mvl_opt_session(lua_State *L, int t, mv_cfg *c, int port, int tls)
{
    memset(c, 0, sizeof *c);
    c->host = mvl_opt_string(L, t, "host");
    if (c->host == NULL) luaL_error(L, "option 'host' is required");
    c->server_name = mvl_opt_string(L, t, "server_name");
    c->port = (int)mvl_opt_int(L, t, "port", port);
    if (c->port <= 0 || c->port > 65535) luaL_error(L, "option 'port' is out of range");
    c->tls = (mv_tls_mode)opt_tls_mode(L, t, tls);
    c->user = mvl_opt_string(L, t, "user");
    c->password = mvl_opt_string(L, t, "password");
    /* token = a string, or a function the session calls when it needs one (the Lua
     * driver answers the core's MV_WANT_TOKEN) */
    lua_getfield(L, t, "token");
    c->token_fn = lua_isfunction(L, -1);
    if (!c->token_fn && !lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "option 'token' must be a string or a function");
    lua_pop(L, 1);
    c->token = c->token_fn ? NULL : mvl_opt_string(L, t, "token");
    c->auth = mvl_opt_string(L, t, "auth");
    c->insecure_auth = opt_insecure_auth(L, t);
    opt_tls(L, t, &c->tls_opts);
    c->timeout_ms = mvl_opt_ms(L, t, "timeout", MV_DEFAULT_TIMEOUT_MS);
    lua_getfield(L, t, "trace");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        luaL_error(L, "option 'trace' must be a function");
    lua_pop(L, 1);
}
