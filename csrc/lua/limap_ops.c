/* The session's decisions of what to send, for imap.lua (imap_ops.h): the steps of a
 * move or a delete, the STORE and FETCH items, the part item, STATUS, and the special
 * folders found by name. */
#include "limap.h"
#include "imap_ops.h"

#include <string.h>

static void push_steps(lua_State *L, unsigned steps)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        { IMAP_STEP_MOVE, "move" }, { IMAP_STEP_COPY, "copy" },
        { IMAP_STEP_STORE_DELETED, "store_deleted" },
        { IMAP_STEP_UID_EXPUNGE, "uid_expunge" }, { IMAP_STEP_EXPUNGE, "expunge" },
    };
    size_t i;
    int k = 0;
    lua_newtable(L);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(steps & names[i].bit)) continue;
        lua_pushstring(L, names[i].name);
        lua_rawseti(L, -2, ++k);
    }
}

/* s:_move_steps(expunge_all), s:_delete_steps(expunge_all): the commands, in order. */
static int l_move_steps(lua_State *L)
{
    imap_session *s = mvl_imap_check(L);
    push_steps(L, imap_move_steps(imap_caps(s), lua_toboolean(L, 2)));
    return 1;
}

static int l_delete_steps(lua_State *L)
{
    imap_session *s = mvl_imap_check(L);
    push_steps(L, imap_delete_steps(imap_caps(s), lua_toboolean(L, 2)));
    return 1;
}

/* s:_store_item(op): "+FLAGS.SILENT"..., or nil for another op. */
static int l_store_item(lua_State *L)
{
    size_t n;
    const char *op = luaL_checklstring(L, 2, &n);
    const char *item = imap_store_item(op, n);
    mvl_imap_check(L);
    if (item == NULL) return 0;
    lua_pushstring(L, item);
    return 1;
}

/* s:_fetch_list(items): the typed arguments "(" "aUID" ... ")" for a list of friendly
 * names or raw items (UID always: results are matched by it). */
static int l_fetch_list(lua_State *L)
{
    size_t i, n;
    int k = 0;
    mvl_imap_check(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    n = (size_t)mvl_rawlen(L, 2);
    lua_createtable(L, (int)n + 3, 0);
    lua_pushliteral(L, "(");
    lua_rawseti(L, -2, ++k);
    lua_pushliteral(L, "aUID");
    lua_rawseti(L, -2, ++k);
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *name, *item;
        lua_rawgeti(L, 2, (int)i);
        name = lua_tolstring(L, -1, &len);
        if (name == NULL) return luaL_error(L, "bad fetch item %d (a string expected)", (int)i);
        item = imap_fetch_item(name, len);
        if (item != NULL && strcmp(item, "UID") == 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushliteral(L, "a");
        if (item != NULL) lua_pushstring(L, item); else lua_pushvalue(L, -2);
        lua_concat(L, 2);
        lua_rawseti(L, -3, ++k);
        lua_pop(L, 1);
    }
    lua_pushliteral(L, ")");
    lua_rawseti(L, -2, ++k);
    return 1;
}

/* s:_part_item(section): "BINARY.PEEK[1.2]" or "BODY.PEEK[...]", and whether BINARY. */
static int l_part_item(lua_State *L)
{
    imap_session *s = mvl_imap_check(L);
    size_t n;
    const char *sec = luaL_checklstring(L, 2, &n);
    char item[256];
    int binary;
    if (imap_part_item(imap_caps(s), sec, n, item, sizeof item, &binary) != 0)
        return luaL_error(L, "section too long");
    lua_pushstring(L, item);
    lua_pushboolean(L, binary);
    return 2;
}

/* s:_status_items(): the typed arguments "(" "aMESSAGES" ... ")". */
static int l_status_items(lua_State *L)
{
    imap_session *s = mvl_imap_check(L);
    size_t i, n;
    const char *const *items = imap_status_items(imap_caps(s), &n);
    lua_createtable(L, (int)n + 2, 0);
    lua_pushliteral(L, "(");
    lua_rawseti(L, -2, 1);
    for (i = 0; i < n; i++) {
        lua_pushfstring(L, "a%s", items[i]);
        lua_rawseti(L, -2, (int)i + 2);
    }
    lua_pushliteral(L, ")");
    lua_rawseti(L, -2, (int)n + 2);
    return 1;
}

/* s:_fill_specials(list): a folder without a SPECIAL-USE attribute gets `special` from
 * its name (Sent Items, Trash...), for a kind no folder has yet (attributes first). */
static int l_fill_specials(lua_State *L)
{
    size_t i, n;
    mvl_imap_check(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    n = (size_t)mvl_rawlen(L, 2);
    lua_newtable(L);   /* taken kinds, 3 */
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, (int)i);
        lua_getfield(L, -1, "special");
        if (lua_isstring(L, -1)) {
            lua_pushboolean(L, 1);
            lua_rawset(L, 3);
        } else {
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    for (i = 1; i <= n; i++) {
        size_t len, dl = 0;
        const char *name, *d, *kind;
        lua_rawgeti(L, 2, (int)i);
        lua_getfield(L, -1, "special");
        lua_getfield(L, -2, "name");
        lua_getfield(L, -3, "delimiter");
        name = lua_tolstring(L, -2, &len);
        d = lua_tolstring(L, -1, &dl);
        kind = lua_isnil(L, -3) && name != NULL
               ? imap_special_by_name(name, len, d != NULL && dl == 1 ? (unsigned char)d[0] : -1)
               : NULL;
        lua_pop(L, 3);
        if (kind != NULL) {
            lua_getfield(L, 3, kind);
            if (!lua_toboolean(L, -1)) {
                lua_pushstring(L, kind);
                lua_setfield(L, -3, "special");
                lua_pushboolean(L, 1);
                lua_setfield(L, 3, kind);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    return 0;
}

const luaL_Reg mvl_imap_ops[] = {
    { "_move_steps", l_move_steps }, { "_delete_steps", l_delete_steps },
    { "_store_item", l_store_item }, { "_fetch_list", l_fetch_list },
    { "_part_item", l_part_item }, { "_status_items", l_status_items },
    { "_fill_specials", l_fill_specials },
    { NULL, NULL }
};
