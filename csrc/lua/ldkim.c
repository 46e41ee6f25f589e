/* email:sign_dkim{domain, selector, key, ...}: the DKIM signer (mime_dkim.c) for Lua;
 * core.dkim_signatures and core.dkim_check: the verifier (mime_dkim_verify.c), in two
 * steps so the key lookup between them runs in Lua (and may yield, in OpenResty). */
#include "lemail_int.h"

#include <string.h>
#include <sys/stat.h>

#include "mime_codec.h"
#include "mime_dkim.h"

#define MAX_NAMES 64
#define MAX_SIGS 8

static const char *opt_string(lua_State *L, int t, const char *k, size_t *n)
{
    const char *s;
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return NULL; }
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "sign_dkim: %s must be a string", k);
    s = lua_tolstring(L, -1, n);
    lua_pop(L, 1);   /* the options table keeps the string alive */
    return s;
}

/* c= "header/body" (§3.5: the body defaults to simple).  0, or -1 with nil, message,
 * "argument" pushed. */
static int read_canon(lua_State *L, const char *s, mv_dkim_opts *o)
{
    const char *slash, *b;
    size_t hn;
    if (s == NULL) return 0;
    slash = strchr(s, '/');
    hn = slash ? (size_t)(slash - s) : strlen(s);
    b = slash ? slash + 1 : "simple";
    if (!((hn == 6 && strncmp(s, "simple", 6) == 0) ||
          (hn == 7 && strncmp(s, "relaxed", 7) == 0)) ||
        (strcmp(b, "simple") != 0 && strcmp(b, "relaxed") != 0)) {
        mvl_failf(L, "argument", "DKIM: canonicalization must be "
                  "\"relaxed/relaxed\", \"simple/simple\" or a mix, not %s", s);
        return -1;
    }
    o->simple_header = hn == 6;
    o->simple_body = strcmp(b, "simple") == 0;
    return 0;
}

/* headers = {...}: the field names to sign (room for MAX_NAMES in names; the list keeps
 * the strings alive).  0, or -1 with nil, message, "argument" pushed. */
static int read_headers(lua_State *L, int t, mv_dkim_opts *o, const char **names)
{
    size_t n;
    const char *s;
    lua_getfield(L, t, "headers");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    luaL_argcheck(L, lua_istable(L, -1), 2, "headers must be a list of field names");
    for (n = 0; n < MAX_NAMES; n++) {
        lua_rawgeti(L, -1, (lua_Integer)n + 1);
        if (lua_isnil(L, -1)) { lua_pop(L, 1); break; }
        s = lua_tostring(L, -1);
        if (s == NULL || *s == '\0' || strpbrk(s, ": \t\r\n;") != NULL) {
            lua_pop(L, 2);
            mvl_fail(L, "argument", "DKIM: headers must be field names");
            return -1;
        }
        names[n] = s;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    o->headers = names;
    o->nheaders = n;
    return 0;
}

/* Reads the options table at index t into o (names: room for MAX_NAMES).  0, or -1 with
 * nil, message, "argument" pushed. */
static int read_opts(lua_State *L, int t, mv_dkim_opts *o, const char **names)
{
    const char *s;
    memset(o, 0, sizeof *o);
    o->domain = opt_string(L, t, "domain", NULL);
    o->selector = opt_string(L, t, "selector", NULL);
    o->key = opt_string(L, t, "key", &o->key_len);
    /* a PEM or DER key holds a NUL or a line break; anything else is a path */
    o->key_is_path = o->key != NULL && strchr(o->key, '\n') == NULL &&
                     strlen(o->key) == o->key_len;
    s = opt_string(L, t, "algorithm", NULL);
    if (s == NULL || strcmp(s, "rsa-sha256") == 0) o->algorithm = MV_DKIM_RSA_SHA256;
    else if (strcmp(s, "ed25519-sha256") == 0) o->algorithm = MV_DKIM_ED25519_SHA256;
    else { mvl_failf(L, "argument", "DKIM: unknown algorithm %s", s); return -1; }
    if (read_canon(L, opt_string(L, t, "canonicalization", NULL), o) != 0) return -1;
    if (read_headers(L, t, o, names) != 0) return -1;
    lua_getfield(L, t, "expire");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) <= 0) {
            mvl_fail(L, "argument", "DKIM: expire must be a number of seconds");
            return -1;
        }
        o->expire = (long long)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, t, "time");
    if (!lua_isnil(L, -1)) o->now = (long long)luaL_checknumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, t, "allow_weak_key");
    o->allow_weak_key = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return 0;
}

#define KEYS_REG "missive.dkim.keys"
#define KEY_MT "missive.dkim.key"
#define KEYS_MAX 16

static int key_gc(lua_State *L)
{
    mv_dkim_key **box = lua_touserdata(L, 1);
    mv_dkim_key_free(*box);
    *box = NULL;
    return 0;
}

/* Pushes the string a key is kept under: the algorithm, allow_weak_key and the PEM text,
 * or for a path the file's identity (device, inode, size, modification time), so that a
 * key file replaced on disk is read again.  0, or -1 (nothing pushed) when the path
 * cannot be stat()ed: the signer then reports why it cannot read it. */
static int push_key_id(lua_State *L, const mv_dkim_opts *o)
{
    char id[160];
    struct stat st;
    if (!o->key_is_path) {
        lua_pushfstring(L, "%d %d pem\n", o->algorithm, o->allow_weak_key);
        lua_pushlstring(L, o->key, o->key_len);
    } else {
        if (stat(o->key, &st) != 0) return -1;
        snprintf(id, sizeof id, "%d %d file %llu %llu %lld %lld.%09ld\n", o->algorithm,
                 o->allow_weak_key, (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
        lua_pushstring(L, id);
        lua_pushstring(L, o->key);
    }
    lua_concat(L, 2);
    return 0;
}

/* Sets o->prepared to o's key, read once per Lua state and kept (KEYS_MAX keys, then the
 * cache starts over), so that a session or a spool signing every message with one key
 * reads it once.  The key's userdata is left on the stack, which keeps it alive for the
 * caller's signing whatever the cache does meanwhile.  0, or -1 with e set. */
static int prepare_key(lua_State *L, mv_dkim_opts *o, mv_error *e)
{
    mv_dkim_key **box;
    int t;
    luaL_checkstack(L, 5, "sign_dkim");
    lua_getfield(L, LUA_REGISTRYINDEX, KEYS_REG);
    if (!lua_istable(L, -1) || mvl_rawlen(L, -1) >= KEYS_MAX) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, KEYS_REG);
    }
    t = lua_gettop(L);
    if (push_key_id(L, o) != 0) {
        lua_pop(L, 1);
        lua_pushnil(L);                 /* a slot, as the other outcomes leave */
        return 0;
    }
    lua_pushvalue(L, -1);
    lua_rawget(L, t);
    if (lua_isuserdata(L, -1)) {
        box = lua_touserdata(L, -1);
        o->prepared = *box;
        lua_replace(L, t);
        lua_settop(L, t);
        return 0;
    }
    lua_pop(L, 1);
    box = lua_newuserdata(L, sizeof *box);
    *box = NULL;
    if (luaL_newmetatable(L, KEY_MT)) {
        lua_pushcfunction(L, key_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    if ((*box = mv_dkim_key_load(o, e)) == NULL) {
        lua_settop(L, t - 1);
        return -1;
    }
    o->prepared = *box;
    /* the count of keys kept, as the table's border: t[1..n] hold them too */
    lua_pushvalue(L, -1);
    lua_rawseti(L, t, (int)mvl_rawlen(L, t) + 1);
    lua_pushvalue(L, -1);
    lua_insert(L, -3);                  /* id, box -> box, id, box */
    lua_rawset(L, t);
    lua_replace(L, t);
    lua_settop(L, t);
    return 0;
}

/* m:sign_dkim{...}, or m:sign_dkim{{...}, {...}}: a list signs once per table (RSA beside
 * Ed25519, RFC 8463 §4), all or none. */
static int l_sign_dkim(lua_State *L)
{
    lemail *em = mvl_check_email(L, 1);
    mv_dkim_opts o[MAX_SIGS];
    const char *names[MAX_SIGS][MAX_NAMES];
    size_t n = 0, i;
    mv_error err;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (em->unparsed)
        return mvl_fail(L, "argument", "this message could not be parsed: it cannot be signed");
    lua_rawgeti(L, 2, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (read_opts(L, 2, &o[0], names[0]) != 0) return 3;
        n = 1;
    } else {
        lua_pop(L, 1);
        for (n = 0;; n++) {
            lua_rawgeti(L, 2, (lua_Integer)n + 1);
            if (lua_isnil(L, -1)) { lua_pop(L, 1); break; }
            if (!lua_istable(L, -1) || n == MAX_SIGS)
                return mvl_failf(L, "argument", "DKIM: a list of at most %d option tables",
                                 MAX_SIGS);
            if (read_opts(L, lua_gettop(L), &o[n], names[n]) != 0) return 3;
            lua_pop(L, 1);   /* the list keeps it */
        }
    }
    mv_error_clear(&err);
    for (i = 0; i < n; i++)
        if (prepare_key(L, &o[i], &err) != 0) return mvl_result(L, 0, &err);
    return mvl_result(L, mv_dkim_sign_all(&em->m, o, n, &err) == MV_OK, &err);
}

static const char *const algorithms[] = { "rsa-sha256", "ed25519-sha256" };
static const char *const results[] = { "pass", "fail", "neutral", "temperror", "permerror" };

static void set_int(lua_State *L, const char *k, long long v)
{
    if (v < 0) return;
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

/* core.dkim_signatures(text): a list with one table per DKIM-Signature field, in header
 * order: {field, domain, selector, algorithm, canonicalization, headers, identity,
 * timestamp, expires, length}, or {field, result = "permerror", reason} when its tags
 * are not acceptable. */
static int l_dkim_signatures(lua_State *L)
{
    size_t n, k, f;
    const char *text = luaL_checklstring(L, 1, &n);
    mv_dkim_msg m;
    if (mv_dkim_msg_init(&m, text, n) != 0) {
        mv_dkim_msg_free(&m);
        return mvl_fail(L, "memory", "out of memory");
    }
    lua_newtable(L);
    for (k = 0; (f = mv_dkim_msg_sig_field(&m, k)) != (size_t)-1; k++) {
        mv_dkim_sig sig;
        const char *why = NULL;
        int rc = mv_dkim_sig_parse(&m, f, &sig, &why);
        if (rc < 0) {
            mv_dkim_msg_free(&m);
            return mvl_fail(L, "memory", "out of memory");
        }
        lua_newtable(L);
        lua_pushinteger(L, (lua_Integer)f + 1);
        lua_setfield(L, -2, "field");
        if (rc != MV_DKIM_PASS) {
            lua_pushstring(L, results[rc]);
            lua_setfield(L, -2, "result");
            lua_pushstring(L, why);
            lua_setfield(L, -2, "reason");
        } else {
            lua_pushstring(L, sig.domain);
            lua_setfield(L, -2, "domain");
            lua_pushstring(L, sig.selector);
            lua_setfield(L, -2, "selector");
            lua_pushstring(L, algorithms[sig.algorithm]);
            lua_setfield(L, -2, "algorithm");
            lua_pushfstring(L, "%s/%s", sig.simple_header ? "simple" : "relaxed",
                            sig.simple_body ? "simple" : "relaxed");
            lua_setfield(L, -2, "canonicalization");
            lua_pushstring(L, sig.hlist);
            lua_setfield(L, -2, "headers");
            if (sig.identity[0] != '\0') {
                lua_pushstring(L, sig.identity);
                lua_setfield(L, -2, "identity");
            }
            set_int(L, "timestamp", sig.t);
            set_int(L, "expires", sig.x);
            set_int(L, "length", sig.l);
            mv_dkim_sig_free(&sig);
        }
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    mv_dkim_msg_free(&m);
    return 1;
}

static void push_hex(lua_State *L, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char s[64];
    size_t i;
    for (i = 0; i < n && i < 32; i++) {
        s[2 * i] = hex[p[i] >> 4];
        s[2 * i + 1] = hex[p[i] & 15];
    }
    lua_pushlstring(L, s, 2 * i);
}

/* core.dkim_check(text, field, record, now): result, reason (nil on pass), the body hash
 * computed (base64), the header hash (hex), testing (the key record's t=y). */
static int l_dkim_check(lua_State *L)
{
    size_t n, rn;
    const char *text = luaL_checklstring(L, 1, &n);
    lua_Integer field = luaL_checkinteger(L, 2);
    const char *rec = luaL_checklstring(L, 3, &rn);
    long long now = (long long)luaL_checknumber(L, 4);
    mv_dkim_msg m;
    mv_dkim_sig sig;
    mv_dkim_check c;
    const char *why = NULL;
    char bh[48];
    int rc;
    if (mv_dkim_msg_init(&m, text, n) != 0) {
        mv_dkim_msg_free(&m);
        return mvl_fail(L, "memory", "out of memory");
    }
    rc = field >= 1 ? mv_dkim_sig_parse(&m, (size_t)field - 1, &sig, &why)
                    : MV_DKIM_PERMERROR;
    if (rc == MV_DKIM_PASS) {
        rc = mv_dkim_verify(&m, &sig, rec, rn, now, &c);
        mv_dkim_sig_free(&sig);
    } else if (rc >= 0) {
        memset(&c, 0, sizeof c);
        c.result = rc;
        c.reason = why != NULL ? why : "not a DKIM-Signature";
        rc = 0;
    }
    mv_dkim_msg_free(&m);
    if (rc != 0) return mvl_fail(L, "memory", "out of memory");
    lua_pushstring(L, results[c.result]);
    if (c.reason != NULL) lua_pushstring(L, c.reason);
    else lua_pushnil(L);
    if (c.hashed >= 1) {
        mv_b64_encode(c.body_hash, 32, bh, 0);
        lua_pushlstring(L, bh, 44);
    } else {
        lua_pushnil(L);
    }
    if (c.hashed >= 2) push_hex(L, c.header_hash, 32);
    else lua_pushnil(L);
    lua_pushboolean(L, c.testing);
    return 5;
}

/* core.dkim_algorithms(): the algorithms this build signs and verifies. */
static int l_dkim_algorithms(lua_State *L)
{
    lua_newtable(L);
    lua_pushstring(L, algorithms[MV_DKIM_RSA_SHA256]);
    lua_rawseti(L, -2, 1);
    if (mv_dkim_have_ed25519()) {
        lua_pushstring(L, algorithms[MV_DKIM_ED25519_SHA256]);
        lua_rawseti(L, -2, 2);
    }
    return 1;
}

const luaL_Reg mvl_email_dkim_methods[] = {
    {"sign_dkim", l_sign_dkim}, {NULL, NULL}
};

const luaL_Reg mvl_dkim_core_funcs[] = {
    {"dkim_signatures", l_dkim_signatures}, {"dkim_check", l_dkim_check},
    {"dkim_algorithms", l_dkim_algorithms}, {NULL, NULL}
};
