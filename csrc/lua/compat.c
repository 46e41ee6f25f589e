#include "compat.h"

#if LUA_VERSION_NUM < 502
char *mvl_buffinitsize(lua_State *L, mvl_buffer *b, size_t n)
{
    b->L = L;
    b->p = lua_newuserdata(L, n > 0 ? n : 1);
    return b->p;
}

void mvl_pushresultsize(mvl_buffer *b, size_t len)
{
    lua_pushlstring(b->L, b->p, len);
    lua_remove(b->L, -2);
}

void mvl_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}
#endif

void mvl_setmetatable(lua_State *L, const char *name)
{
    luaL_getmetatable(L, name);
    lua_setmetatable(L, -2);
}

void *mvl_testudata(lua_State *L, int idx, const char *name)
{
    void *p = lua_touserdata(L, idx);
    if (p == NULL || !lua_getmetatable(L, idx)) return NULL;
    luaL_getmetatable(L, name);
    if (!lua_rawequal(L, -1, -2)) p = NULL;
    lua_pop(L, 2);
    return p;
}
