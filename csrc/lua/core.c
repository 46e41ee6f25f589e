/* luaopen_missive_core: the one C module; each binding file adds its part. */
#include "bind.h"
#include "mv_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

/* SMTP: {code = 550, enhanced = "5.1.1", text}; POP3 (and IMAP): {status = "-ERR",
 * code = "IN-USE" when the server gave a response code, text}. */
void mvl_push_reply(lua_State *L, const mv_reply *r)
{
    lua_createtable(L, 0, 4);
    if (r->status[0] != '\0') {
        lua_pushstring(L, r->status);
        lua_setfield(L, -2, "status");
        if (r->resp_code[0] != '\0') {
            lua_pushstring(L, r->resp_code);
            lua_setfield(L, -2, "code");
        }
    } else {
        lua_pushinteger(L, r->code);
        lua_setfield(L, -2, "code");
    }
    if (r->enhanced[0] != '\0') {
        lua_pushstring(L, r->enhanced);
        lua_setfield(L, -2, "enhanced");
    }
    lua_pushstring(L, r->text);
    lua_setfield(L, -2, "text");
}

int mvl_push_error(lua_State *L, const mv_error *e)
{
    mvl_pushfail(L);
    lua_pushstring(L, e->msg[0] != '\0' ? e->msg : "unknown error");
    lua_pushstring(L, mv_kind_name(e->kind));
    if (e->has_reply) {
        mvl_push_reply(L, &e->reply);
        return 4;
    }
    return 3;
}

int mvl_result(lua_State *L, int ok, const mv_error *e)
{
    if (!ok) return mvl_push_error(L, e);
    lua_pushboolean(L, 1);
    return 1;
}

int mvl_fail_top(lua_State *L, const char *kind)
{
    mvl_pushfail(L);
    lua_insert(L, -2);
    lua_pushstring(L, kind);
    return 3;
}

int mvl_fail(lua_State *L, const char *kind, const char *msg)
{
    lua_pushstring(L, msg);
    return mvl_fail_top(L, kind);
}

int mvl_failf(lua_State *L, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return mvl_fail_top(L, kind);
}

int mvl_fileresult(lua_State *L, int ok, const char *what, const char *path)
{
    int err = errno;
    if (ok) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return mvl_failf(L, err == ENOENT ? "closed" : "io", "%s %s: %s", what, path,
                     strerror(err));
}

/* The one exported name (mv_visibility.h). */
MV_EXPORT int luaopen_missive_core(lua_State *L);

int luaopen_missive_core(lua_State *L)
{
    lua_newtable(L);
    mvl_open_smtp(L);
    mvl_open_pop3(L);
    mvl_open_imap(L);
    mvl_open_email(L);
    mvl_open_async(L);
    mvl_open_fs(L);
    mvl_open_defaults(L);
    lua_pushliteral(L, "0.1.0");
    lua_setfield(L, -2, "version");
    /* What the TLS library can do, for specs and diagnostics: "3.6.6", "1.3". */
    lua_pushstring(L, mv_tls_library_version());
    lua_setfield(L, -2, "_mbedtls_version");
    lua_pushstring(L, mv_tls_best_version() == 13 ? "1.3" : "1.2");
    lua_setfield(L, -2, "_tls_best");
    return 1;
}

void mvl_new_type(lua_State *L, const char *mt_name, const char *type_name,
                  const luaL_Reg *methods, lua_CFunction gc, lua_CFunction tostring)
{
    luaL_newmetatable(L, mt_name);
    lua_newtable(L);
    mvl_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, type_name);
    lua_setfield(L, -2, "__name");
}
