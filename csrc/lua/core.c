/* luaopen_missive_core: the one C module; each binding file adds its part. */
#include "bind.h"
#include "mv_conn.h"

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
    lua_pushliteral(L, "0.1.0");
    lua_setfield(L, -2, "version");
    /* What the TLS library can do, for specs and diagnostics: "3.6.6", "1.3". */
    lua_pushstring(L, mv_tls_library_version());
    lua_setfield(L, -2, "_mbedtls_version");
    lua_pushstring(L, mv_tls_best_version() == 13 ? "1.3" : "1.2");
    lua_setfield(L, -2, "_tls_best");
    return 1;
}
