/* The DSN requests of a send (RFC 3461) from Lua: {notify = {"failure", "delay"} or
 * "failure,delay", ret = "hdrs" | "full", envid = "...", rcpt = {[i] = {notify =,
 * orcpt =}}}.  A wrong type raises; a wrong word or value is the caller's to see as
 * nil, message, "argument". */
#include "lsmtp.h"

#include <string.h>

/* Bits of a NOTIFY word list: a string (words separated by commas) or an array. */
static int notify_bits(lua_State *L, int v, unsigned *bits, mv_error *e)
{
    size_t i, n;
    *bits = 0;
    if (lua_isnil(L, v)) return 0;
    if (lua_type(L, v) == LUA_TSTRING) {
        size_t len, at = 0;
        const char *s = lua_tolstring(L, v, &len);
        if (memchr(s, '\0', len) != NULL)
            return mv_fail(e, MV_E_ARG, "notify contains a control character (NUL)");
        while (at <= len) {
            char w[16];
            size_t k = at;
            unsigned b;
            while (k < len && s[k] != ',') k++;
            if (k - at == 0 || k - at >= sizeof w)
                return mv_fail(e, MV_E_ARG, "notify: unknown word in \"%.40s\"", s);
            memcpy(w, s + at, k - at);
            w[k - at] = '\0';
            b = smtp_dsn_notify_word(w);
            if (b == 0) return mv_fail(e, MV_E_ARG, "notify: unknown word \"%s\"", w);
            *bits |= b;
            at = k + 1;
        }
        return 0;
    }
    if (!lua_istable(L, v)) luaL_error(L, "'notify' must be a string or an array of words");
    n = mvl_rawlen(L, v);
    if (n == 0) return mv_fail(e, MV_E_ARG, "notify: no word given");
    for (i = 1; i <= n; i++) {
        const char *w;
        unsigned b;
        lua_rawgeti(L, v, (int)i);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "'notify' entry %d is not a string",
                                                        (int)i);
        w = lua_tostring(L, -1);
        b = strlen(w) == mvl_rawlen(L, -1) ? smtp_dsn_notify_word(w) : 0;
        lua_pop(L, 1);
        if (b == 0) return mv_fail(e, MV_E_ARG, "notify: unknown word \"%.40s\"", w);
        *bits |= b;
    }
    return 0;
}

/* A string field of table t (NULL when absent); a NUL inside is refused. */
static const char *field_string(lua_State *L, int t, const char *name, mv_error *e, int *bad)
{
    const char *s;
    size_t len;
    lua_getfield(L, t, name);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return NULL; }
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "'%s' must be a string", name);
    s = lua_tolstring(L, -1, &len);
    lua_pop(L, 1);   /* t keeps it alive */
    if (strlen(s) != len) {
        mv_fail(e, MV_E_ARG, "%s contains a control character (CR, LF, NUL...)", name);
        *bad = 1;
    }
    return s;
}

static int read_rcpts(lua_State *L, int t, size_t n, smtp_dsn *d, mv_error *e)
{
    size_t i;
    unsigned *notify;
    const char **orcpt;
    int bad = 0;
    lua_getfield(L, t, "rcpt");
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return 0; }
    if (!lua_istable(L, -1)) luaL_error(L, "dsn 'rcpt' must be a table");
    t = lua_gettop(L);
    /* Userdata left on the stack: collected whatever happens. */
    notify = lua_newuserdata(L, (n ? n : 1) * sizeof *notify);
    orcpt = lua_newuserdata(L, (n ? n : 1) * sizeof *orcpt);
    for (i = 0; i < n; i++) {
        notify[i] = 0;
        orcpt[i] = NULL;
        lua_rawgeti(L, t, (int)i + 1);
        if (!lua_isnil(L, -1)) {
            int r = lua_gettop(L);
            if (!lua_istable(L, r)) luaL_error(L, "dsn rcpt entry %d must be a table", (int)i + 1);
            orcpt[i] = field_string(L, r, "orcpt", e, &bad);
            if (bad) return -1;
            lua_getfield(L, r, "notify");
            if (notify_bits(L, lua_gettop(L), &notify[i], e) != 0) return -1;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    d->rcpt_notify = notify;
    d->orcpt = orcpt;
    return 0;
}

int mvl_smtp_read_dsn(lua_State *L, int idx, size_t n, smtp_dsn *d, const smtp_dsn **out,
                      mv_error *e)
{
    const char *ret;
    int bad = 0;
    memset(d, 0, sizeof *d);
    *out = NULL;
    if (lua_isnoneornil(L, idx)) return 0;
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "notify");
    if (notify_bits(L, lua_gettop(L), &d->notify, e) != 0) return -1;
    lua_pop(L, 1);
    ret = field_string(L, idx, "ret", e, &bad);
    if (bad) return -1;
    if (ret != NULL && (d->ret = smtp_dsn_ret_word(ret)) == SMTP_RET_NONE)
        return mv_fail(e, MV_E_ARG, "ret must be \"hdrs\" or \"full\", not \"%.40s\"", ret), -1;
    d->envid = field_string(L, idx, "envid", e, &bad);
    if (bad) return -1;
    if (read_rcpts(L, idx, n, d, e) != 0) return -1;
    if (smtp_dsn_check(d, n, e) != MV_OK) return -1;
    *out = d;
    return 0;
}

/* core.smtp_check_dsn(dsn, nrcpt): true, or nil, message, "argument". */
int mvl_smtp_check_dsn(lua_State *L)
{
    smtp_dsn d;
    const smtp_dsn *p;
    mv_error e;
    lua_Integer n = luaL_checkinteger(L, 2);
    mv_error_clear(&e);
    if (mvl_smtp_read_dsn(L, 1, n > 0 ? (size_t)n : 0, &d, &p, &e) != 0)
        return mvl_push_error(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}
