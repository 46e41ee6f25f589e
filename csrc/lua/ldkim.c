/* email:sign_dkim{domain, selector, key, ...}: the DKIM signer (mime_dkim.c) for Lua. */
#include "lemail_int.h"

#include <string.h>

#include "mime_dkim.h"

#define MAX_NAMES 64

static const char *opt_string(lua_State *L, const char *k, size_t *n)
{
    const char *s;
    lua_getfield(L, 2, k);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return NULL; }
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "sign_dkim: %s must be a string", k);
    s = lua_tolstring(L, -1, n);
    lua_pop(L, 1);   /* the options table keeps the string alive */
    return s;
}

static int l_sign_dkim(lua_State *L)
{
    lemail *em = mvl_check_email(L, 1);
    mv_dkim_opts o;
    const char *names[MAX_NAMES], *s;
    size_t n = 0;
    mv_error err;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (em->unparsed)
        return mvl_fail(L, "argument", "this message could not be parsed: it cannot be signed");
    memset(&o, 0, sizeof o);
    o.domain = opt_string(L, "domain", NULL);
    o.selector = opt_string(L, "selector", NULL);
    o.key = opt_string(L, "key", &o.key_len);
    /* a PEM or DER key holds a NUL or a line break; anything else is a path */
    o.key_is_path = o.key != NULL && strchr(o.key, '\n') == NULL && strlen(o.key) == o.key_len;
    s = opt_string(L, "algorithm", NULL);
    if (s == NULL || strcmp(s, "rsa-sha256") == 0) o.algorithm = MV_DKIM_RSA_SHA256;
    else if (strcmp(s, "ed25519-sha256") == 0) o.algorithm = MV_DKIM_ED25519_SHA256;
    else return mvl_failf(L, "argument", "DKIM: unknown algorithm %s", s);
    s = opt_string(L, "canonicalization", NULL);
    if (s != NULL) {
        const char *slash = strchr(s, '/');
        size_t hn = slash ? (size_t)(slash - s) : strlen(s);
        const char *b = slash ? slash + 1 : "simple";   /* §3.5 c=: body defaults to simple */
        if (!((hn == 6 && strncmp(s, "simple", 6) == 0) ||
              (hn == 7 && strncmp(s, "relaxed", 7) == 0)) ||
            (strcmp(b, "simple") != 0 && strcmp(b, "relaxed") != 0))
            return mvl_failf(L, "argument", "DKIM: canonicalization must be "
                             "\"relaxed/relaxed\", \"simple/simple\" or a mix, not %s", s);
        o.simple_header = hn == 6;
        o.simple_body = strcmp(b, "simple") == 0;
    }
    lua_getfield(L, 2, "headers");
    if (!lua_isnil(L, -1)) {
        luaL_argcheck(L, lua_istable(L, -1), 2, "headers must be a list of field names");
        for (n = 0; n < MAX_NAMES; n++) {
            lua_rawgeti(L, -1, (lua_Integer)n + 1);
            if (lua_isnil(L, -1)) { lua_pop(L, 1); break; }
            s = lua_tostring(L, -1);
            if (s == NULL || *s == '\0' || strpbrk(s, ": \t\r\n;") != NULL)
                return mvl_fail(L, "argument", "DKIM: headers must be field names");
            names[n] = s;
            lua_pop(L, 1);   /* the list keeps it */
        }
        o.headers = names;
        o.nheaders = n;
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "expire");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) <= 0)
            return mvl_fail(L, "argument", "DKIM: expire must be a number of seconds");
        o.expire = (long long)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "time");
    if (!lua_isnil(L, -1)) o.now = (long long)luaL_checknumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "allow_weak_key");
    o.allow_weak_key = lua_toboolean(L, -1);
    lua_pop(L, 1);
    mv_error_clear(&err);
    return mvl_result(L, mv_dkim_sign(&em->m, &o, &err) == MV_OK, &err);
}

const luaL_Reg mvl_email_dkim_methods[] = {
    {"sign_dkim", l_sign_dkim}, {NULL, NULL}
};
