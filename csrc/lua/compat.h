/* Lua 5.1/LuaJIT .. 5.4 differences, behind project-prefixed names. */
#ifndef MVL_COMPAT_H
#define MVL_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

#if LUA_VERSION_NUM >= 504
#define mvl_newuserdata(L, sz) lua_newuserdatauv((L), (sz), 1)
#else
#define mvl_newuserdata(L, sz) lua_newuserdata((L), (sz))
#endif

#if LUA_VERSION_NUM >= 502
#define mvl_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#define mvl_rawlen(L, i) lua_rawlen((L), (i))
#else
#define mvl_rawlen(L, i) lua_objlen((L), (i))
void mvl_setfuncs(lua_State *L, const luaL_Reg *l);
#endif

/* The userdata's one Lua value (a table): get pushes it, set pops it. */
#if LUA_VERSION_NUM >= 504
#define mvl_getuservalue(L, i) ((void)lua_getiuservalue((L), (i), 1))
#define mvl_setuservalue(L, i) ((void)lua_setiuservalue((L), (i), 1))
#elif LUA_VERSION_NUM >= 502
#define mvl_getuservalue(L, i) ((void)lua_getuservalue((L), (i)))
#define mvl_setuservalue(L, i) ((void)lua_setuservalue((L), (i)))
#else
#define mvl_getuservalue(L, i) lua_getfenv((L), (i))
#define mvl_setuservalue(L, i) ((void)lua_setfenv((L), (i)))
#endif

/* A result string written in place: mvl_buffinitsize returns room for n bytes that lives
 * on the Lua stack (freed by the GC if an error unwinds it); mvl_pushresultsize replaces
 * it with the string of its first len bytes.  5.2+: luaL_Buffer; 5.1: a userdata. */
#if LUA_VERSION_NUM >= 502
typedef luaL_Buffer mvl_buffer;
#define mvl_buffinitsize(L, b, n) luaL_buffinitsize((L), (b), (n))
#define mvl_pushresultsize(b, len) luaL_pushresultsize((b), (len))
#else
typedef struct mvl_buffer {
    lua_State *L;
    char *p;
} mvl_buffer;
char *mvl_buffinitsize(lua_State *L, mvl_buffer *b, size_t n);
void mvl_pushresultsize(mvl_buffer *b, size_t len);
#endif

/* Pushes nil (5.4's luaL_pushfail). */
#define mvl_pushfail(L) lua_pushnil(L)

/* Sets a metatable by registry name. */
void mvl_setmetatable(lua_State *L, const char *name);
/* luaL_testudata for 5.1. */
void *mvl_testudata(lua_State *L, int idx, const char *name);

MV_HIDDEN_END

#endif
