/* s:search's criteria table walked into the C compiler (imap_search.h): this file only
 * reads Lua values; the vocabulary, the checks, dates and nesting are the core's. */
#include "limap.h"

#include <stdlib.h>
#include <string.h>

typedef struct key_ref {
    const char *s;
    size_t n;
} key_ref;

static int cmp_keys(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

static int walk(lua_State *L, int idx, imap_search_q *q, int paren);

/* UIDs as numbers: a number, or an array of them. */
static int uids_value(lua_State *L, int idx, imap_search_q *q)
{
    size_t n, i;
    uint32_t *v;
    int r;
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return imap_search_uid_text(q, s, len);
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        n = 1;
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        n = (size_t)mvl_rawlen(L, idx);
    } else {
        return imap_search_fail(q, MV_E_ARG, "search '%s' expects UIDs", "uid");
    }
    if ((v = malloc((n ? n : 1) * sizeof *v)) == NULL)
        return imap_search_fail(q, MV_E_MEMORY, "%s", "out of memory");
    for (i = 0; i < n; i++) {
        lua_Number x;
        if (lua_type(L, idx) == LUA_TTABLE) lua_rawgeti(L, idx, (int)i + 1);
        else lua_pushvalue(L, idx);
        x = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
        lua_pop(L, 1);
        if (x < 1 || x > 4294967295.0 || x != (lua_Number)(uint32_t)x) {
            free(v);
            return imap_search_fail(q, MV_E_ARG, "bad UID in search '%s'", "uid");
        }
        v[i] = (uint32_t)x;
    }
    r = imap_search_uids(q, v, n);
    free(v);
    return r;
}

static long int_field(lua_State *L, int idx, const char *k)
{
    long v;
    lua_getfield(L, idx, k);
    v = lua_type(L, -1) == LUA_TNUMBER ? (long)lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    return v;
}

static int date_value(lua_State *L, int idx, imap_search_q *q, const char *k, size_t kn)
{
    size_t len;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: return imap_search_date_time(q, k, kn, (double)lua_tonumber(L, idx));
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        return imap_search_date_text(q, k, kn, s, len);
    case LUA_TTABLE:
        return imap_search_date(q, k, kn, int_field(L, idx, "year"),
                                int_field(L, idx, "month"), int_field(L, idx, "day"));
    default: return imap_search_date(q, k, kn, 0, 0, 0);
    }
}

/* header = {name, value} or {name =, value =}; the value may be left out. */
static int header_value(lua_State *L, int idx, imap_search_q *q)
{
    size_t fn = 0, vn = 0;
    const char *f = NULL, *v = NULL;
    int r = -1;
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_rawgeti(L, idx, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_getfield(L, idx, "name");
        }
        lua_rawgeti(L, idx, 2);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_getfield(L, idx, "value");
        }
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushliteral(L, "");
        }
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            f = lua_tolstring(L, -2, &fn);
            v = lua_tolstring(L, -1, &vn);
            r = imap_search_header(q, f, fn, v, vn);
        }
        lua_pop(L, 2);
    }
    if (f == NULL) r = imap_search_fail(q, MV_E_ARG, "search '%s' expects {name, value}",
                                        "header");
    return r;
}

/* One key = value; the value is on the top of the stack. */
static int one(lua_State *L, imap_search_q *q, const char *k, size_t kn)
{
    int v = lua_gettop(L);
    size_t len;
    const char *s;
    switch (imap_search_kind(k, kn)) {
    case IMAP_SK_FLAG: return imap_search_flag(q, k, kn, lua_toboolean(L, v));
    case IMAP_SK_STRING:
        if (lua_type(L, v) != LUA_TSTRING)
            return imap_search_fail(q, MV_E_ARG, "search '%s' expects a string", k);
        s = lua_tolstring(L, v, &len);
        return imap_search_string(q, k, kn, s, len);
    case IMAP_SK_DATE: return date_value(L, v, q, k, kn);
    case IMAP_SK_SIZE:
        return imap_search_size(q, k, kn, lua_type(L, v) == LUA_TNUMBER
                                          ? (double)lua_tonumber(L, v) : -1.0);
    case IMAP_SK_HEADER: return header_value(L, v, q);
    case IMAP_SK_KEYWORD:
        if (lua_type(L, v) != LUA_TSTRING && lua_type(L, v) != LUA_TNUMBER)
            return imap_search_fail(q, MV_E_ARG, "search '%s' expects a keyword", k);
        s = lua_tolstring(L, v, &len);   /* a number is made a string in place: v is a copy */
        return imap_search_keyword(q, k, kn, s, len);
    case IMAP_SK_UID: return uids_value(L, v, q);
    case IMAP_SK_NOT:
        if (imap_search_op(q, k, kn) != 0) return -1;
        return walk(L, v, q, 1);
    case IMAP_SK_OR:
        if (lua_type(L, v) != LUA_TTABLE || mvl_rawlen(L, v) != 2)
            return imap_search_fail(q, MV_E_ARG, "search '%s' expects two criteria", k);
        if (imap_search_op(q, k, kn) != 0) return -1;
        lua_rawgeti(L, v, 1);
        if (walk(L, lua_gettop(L), q, 1) != 0) return -1;
        lua_rawgeti(L, v, 2);
        return walk(L, lua_gettop(L), q, 1);
    default:
        return imap_search_fail(q, MV_E_ARG, "unknown search key '%s'", k);
    }
}

/* The criteria table at idx: the array part first (each ANDed), then the keys in
 * sorted order (the same command for the same table). */
static int walk(lua_State *L, int idx, imap_search_q *q, int paren)
{
    size_t i, n, nk = 0, cap = 0;
    key_ref *keys = NULL;
    int top = lua_gettop(L), r = 0;
    luaL_checkstack(L, 8, "search criteria too deep");
    if (lua_type(L, idx) != LUA_TTABLE)
        return imap_search_fail(q, MV_E_ARG, "%s", "search criteria must be a table");
    if (imap_search_open(q, paren) != 0) return -1;
    n = (size_t)mvl_rawlen(L, idx);
    for (i = 1; i <= n && r == 0; i++) {
        lua_rawgeti(L, idx, (int)i);
        r = walk(L, lua_gettop(L), q, 0);
        lua_settop(L, top);
    }
    lua_pushnil(L);
    while (r == 0 && lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) continue;   /* the array part, read above */
        if (lua_type(L, -1) != LUA_TSTRING) {
            r = imap_search_fail(q, MV_E_ARG, "unknown search key '%s'", luaL_typename(L, -1));
            break;
        }
        if (nk == cap) {
            key_ref *k2 = mv_grow(keys, &cap, nk, sizeof *keys, 16);
            if (k2 == NULL) {
                r = imap_search_fail(q, MV_E_MEMORY, "%s", "out of memory");
                break;
            }
            keys = k2;
        }
        keys[nk].s = lua_tolstring(L, -1, &keys[nk].n);   /* kept alive by the table */
        nk++;
    }
    lua_settop(L, top);
    if (nk > 1) qsort(keys, nk, sizeof *keys, cmp_keys);
    for (i = 0; i < nk && r == 0; i++) {
        lua_pushlstring(L, keys[i].s, keys[i].n);
        lua_rawget(L, idx);
        r = one(L, q, keys[i].s, keys[i].n);
        lua_settop(L, top);
    }
    free(keys);
    if (r != 0) return -1;
    return imap_search_close(q, paren);
}

int mvl_imap_search_walk(lua_State *L, int idx, imap_search_q *q)
{
    return walk(L, idx, q, 0);   /* idx: an absolute index */
}
