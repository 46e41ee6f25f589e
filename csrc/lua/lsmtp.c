/* The smtp.session userdata: option checking, the protocol's primitives and results.
 * The sequence (begin, drive, feed the body, result) is in lua/missive/smtp.lua, so it
 * is the same whichever driver moves the bytes, and any yield happens in Lua. */
#include "lsession.h"
#include "mv_str.h"
#include "lsmtp.h"

#include <stdlib.h>
#include <string.h>

#define SMTP_MT "missive.smtp.session"

typedef struct lsmtp {
    mvl_session base;   /* first: the generic methods see the session through it */
} lsmtp;

static lsmtp *check_any(lua_State *L)
{
    return luaL_checkudata(L, 1, SMTP_MT);
}

static lsmtp *check_open(lua_State *L)
{
    lsmtp *u = check_any(L);
    if (u->base.core == NULL) luaL_error(L, "attempt to use a closed session");
    return u;
}

#define S(u) ((smtp_session *)(u)->base.core)

static int step_fn(void *core) { return smtp_step(core); }
static void free_fn(void *core) { smtp_free(core); }
static int dead_fn(const void *core) { return smtp_is_dead(core); }
static void mark_dead_fn(void *core) { smtp_mark_dead(core); }
static int tls_fn(const void *core) { return smtp_is_tls(core); }
static void loopback_fn(mvl_session *u, int loopback)
{
    smtp_set_peer_loopback(u->core, loopback);
}

static const mvl_protocol smtp_protocol = {
    "smtp.session", step_fn, free_fn, dead_fn, mark_dead_fn, loopback_fn, tls_fn
};

static void teardown(lsmtp *u)
{
    mvl_session_teardown(&u->base);
}

static int push_ok_or_error(lua_State *L, lsmtp *u, int r)
{
    return mvl_session_result(L, &u->base, r);
}

/* Reads the SMTP options shared by smtp.session and async sessions from table t
 * (already completed with defaults by the Lua side).  Wrong types raise. */
void mvl_smtp_read_opts(lua_State *L, int t, smtp_opts *o)
{
    memset(o, 0, sizeof *o);
    mvl_opt_session(L, t, &o->cfg, MV_DEFAULT_SMTP_PORT, MV_TLS_STARTTLS);
    o->helo = mvl_opt_string(L, t, "helo");
    o->pipelining = mvl_opt_bool(L, t, "pipelining", MV_DEFAULT_SMTP_PIPELINING);
    o->chunking = mvl_opt_bool(L, t, "chunking", MV_DEFAULT_SMTP_CHUNKING);
    o->max_data_line = (size_t)mvl_opt_int(L, t, "max_line_length",
                                             MV_DEFAULT_SMTP_MAX_LINE_LENGTH);
}

/* core.smtp_new(opts, external): a configured session, not yet connected. */
static int l_smtp_new(lua_State *L)
{
    smtp_opts o;
    lsmtp *u;
    int external;
    luaL_checktype(L, 1, LUA_TTABLE);
    external = lua_toboolean(L, 2);
    mvl_smtp_read_opts(L, 1, &o);
    lua_getfield(L, 1, "trace");

    /* The userdata exists, closed, with its metatable, before anything is acquired. */
    u = mvl_newuserdata(L, sizeof *u);
    memset(u, 0, sizeof *u);
    mv_net_init(&u->base.net);
    u->base.proto = &smtp_protocol;
    mvl_setmetatable(L, SMTP_MT);
    if (mvl_session_init(&u->base, &smtp_protocol, external, o.cfg.host, o.cfg.port,
                         o.cfg.timeout_ms) != 0
        || (u->base.core = smtp_new()) == NULL) {
        teardown(u);
        return luaL_error(L, "out of memory");
    }
    u->base.pp = smtp_pp(S(u));
    u->base.pp->timeout_ms = o.cfg.timeout_ms;
    u->base.pp->trace_on = lua_isfunction(L, -2);
    /* Every option is checked before the first byte goes anywhere (CHECKLIST 14). */
    if (smtp_configure(S(u), &o) != MV_OK) {
        mv_error e = *smtp_error(S(u));
        teardown(u);
        return mvl_push_error(L, &e);
    }
    return 1;
}

static int l_begin_open(lua_State *L)
{
    lsmtp *u = check_open(L);
    return push_ok_or_error(L, u, smtp_begin_open(S(u)));
}

/* A NUL would cut the C string short and hide the rest: refuse it like CR and LF. */
static int nul_error(lua_State *L, const char *field)
{
    mv_error e;
    mv_error_clear(&e);
    mv_fail(&e, MV_E_ARG, "%s contains a control character (CR, LF, NUL...)", field);
    return mvl_push_error(L, &e);
}

/* Reads (from, rcpts, size, has_8bit, dsn) at argument `a`..a+4 into an envelope; the
 * strings stay alive in the caller's table.  Returns 0, or pushes an error and returns
 * its count. */
typedef struct envelope {
    const char *from;
    const char **rcpts;
    size_t n;
    unsigned long long size;
    int has8;
    smtp_dsn dsn_storage;
    const smtp_dsn *dsn;   /* NULL: nothing asked */
} envelope;

static int read_envelope(lua_State *L, int a, envelope *env)
{
    size_t flen, i;
    lua_Integer size;
    mv_error e;
    env->from = luaL_checklstring(L, a, &flen);
    luaL_checktype(L, a + 1, LUA_TTABLE);
    size = luaL_optinteger(L, a + 2, 0);
    env->size = size > 0 ? (unsigned long long)size : 0;
    env->has8 = (int)luaL_optinteger(L, a + 3, -1);
    if (strlen(env->from) != flen) return nul_error(L, "from");
    env->n = mvl_rawlen(L, a + 1);
    /* A userdata, left on the stack: the GC frees it even when an error unwinds. */
    env->rcpts = lua_newuserdata(L, (env->n + 1) * sizeof *env->rcpts);
    for (i = 0; i < env->n; i++) {
        size_t alen;
        lua_rawgeti(L, a + 1, (int)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "recipient %d is not a string", (int)i + 1);
        env->rcpts[i] = lua_tolstring(L, -1, &alen);
        lua_pop(L, 1);  /* the table keeps the string alive */
        if (strlen(env->rcpts[i]) != alen) return nul_error(L, "recipient");
    }
    mv_error_clear(&e);
    if (mvl_smtp_read_dsn(L, a + 4, env->n, &env->dsn_storage, &env->dsn, &e) != 0)
        return mvl_push_error(L, &e);
    return 0;
}

/* s:_begin_send(from, rcpts, size, has_8bit[, dsn]) where has_8bit is 1, 0 or -1
 * (unknown). */
static int l_begin_send(lua_State *L)
{
    lsmtp *u = check_open(L);
    envelope env;
    int r = read_envelope(L, 2, &env);
    if (r) return r;
    return push_ok_or_error(L, u, smtp_begin_send(S(u), env.from, env.rcpts, env.n, env.size,
                                                  env.has8, env.dsn));
}

/* s:_check_envelope(from, rcpts, size, has_8bit[, dsn]): true, or the refusal. */
static int l_check_envelope(lua_State *L)
{
    lsmtp *u = check_open(L);
    envelope env;
    mv_error e;
    int r = read_envelope(L, 2, &env);
    if (r) return r;
    mv_error_clear(&e);
    if (smtp_check_envelope(S(u), env.from, env.rcpts, env.n, env.size, env.has8, env.dsn,
                            &e) != MV_OK)
        return mvl_push_error(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

/* s:_feed_end_chain(from, rcpts, size, has_8bit[, dsn]): ends this body, begins the
 * next. */
static int l_feed_end_chain(lua_State *L)
{
    lsmtp *u = check_open(L);
    envelope env;
    int r = read_envelope(L, 2, &env);
    if (r) return r;
    return push_ok_or_error(L, u, smtp_feed_end_chain(S(u), env.from, env.rcpts, env.n,
                                                      env.size, env.has8, env.dsn));
}

static int l_can_chain(lua_State *L)
{
    lsmtp *u = check_open(L);
    lua_pushboolean(L, smtp_can_chain(S(u)));
    return 1;
}

/* The previous chained message's final reply, or nil while it is unknown. */
static int l_prev_reply(lua_State *L)
{
    lsmtp *u = check_open(L);
    const mv_reply *prev = smtp_prev_reply(S(u));
    if (prev == NULL) lua_pushnil(L); else mvl_push_reply(L, prev);
    return 1;
}

/* s:_feed(data[, i[, j]]): body bytes i..j (1-based, inclusive) without a copy. */
static int l_feed(lua_State *L)
{
    lsmtp *u = check_open(L);
    size_t len;
    const char *p = luaL_checklstring(L, 2, &len);
    lua_Integer i = luaL_optinteger(L, 3, 1), j = luaL_optinteger(L, 4, (lua_Integer)len);
    if (i < 1) i = 1;
    if (j > (lua_Integer)len) j = (lua_Integer)len;
    if (j < i) return push_ok_or_error(L, u, MV_OK);
    return push_ok_or_error(L, u, smtp_feed(S(u), p + i - 1, (size_t)(j - i + 1)));
}

static int l_feed_end(lua_State *L)
{
    lsmtp *u = check_open(L);
    return push_ok_or_error(L, u, smtp_feed_end(S(u)));
}

static int l_begin_command(lua_State *L)
{
    lsmtp *u = check_open(L);
    const char *verb = luaL_checkstring(L, 2);
    if (strcmp(verb, "NOOP") != 0 && strcmp(verb, "RSET") != 0 && strcmp(verb, "QUIT") != 0)
        return luaL_error(L, "unknown command");
    return push_ok_or_error(L, u, smtp_begin_command(S(u), verb));
}

/* {accepted = {...}, rejected = {[addr] = reply}, reply = reply} of the last send. */
static int l_result(lua_State *L)
{
    lsmtp *u = check_open(L);
    smtp_session *s = S(u);
    size_t i, n = smtp_rcpt_count(s), na = 0;
    lua_createtable(L, 0, 3);
    lua_newtable(L);
    lua_newtable(L);
    for (i = 0; i < n; i++) {
        const smtp_rcpt *r = smtp_rcpt_at(s, i);
        if (r->reply.code / 100 == 2) {
            lua_pushstring(L, r->addr);
            lua_rawseti(L, -3, (int)++na);
        } else {
            mvl_push_reply(L, &r->reply);
            lua_setfield(L, -2, r->addr);
        }
    }
    lua_setfield(L, -3, "rejected");
    lua_setfield(L, -2, "accepted");
    mvl_push_reply(L, smtp_last_reply(s));
    lua_setfield(L, -2, "reply");
    return 1;
}

static int l_reply(lua_State *L)
{
    lsmtp *u = check_open(L);
    mvl_push_reply(L, smtp_last_reply(S(u)));
    return 1;
}

static int l_body_bytes(lua_State *L)
{
    lsmtp *u = check_open(L);
    lua_pushinteger(L, (lua_Integer)smtp_body_bytes(S(u)));
    return 1;
}

/* AUTH's mechanisms, added to those of an earlier AUTH line. */
static void push_auth(lua_State *L, const smtp_ext *x)
{
    size_t i, n;
    lua_getfield(L, -1, "AUTH");
    if (!lua_istable(L, -1)) { lua_pop(L, 1); lua_newtable(L); }
    n = mvl_rawlen(L, -1);
    for (i = 0; i < x->nwords; i++) {
        lua_pushstring(L, x->words[i]);
        lua_rawseti(L, -2, (int)(n + i + 1));
    }
}

/* {STARTTLS = true, SIZE = 10240000, AUTH = {"PLAIN", ...}, ...} from the last EHLO:
 * true for a keyword alone, else its parameters. */
static int l_capabilities(lua_State *L)
{
    lsmtp *u = check_open(L);
    size_t i, n = smtp_ext_count(S(u));
    lua_newtable(L);
    for (i = 0; i < n; i++) {
        const smtp_ext *x = smtp_ext_at(S(u), i);
        if (x->params == NULL) lua_pushboolean(L, 1);
        else if (strcmp(x->keyword, "AUTH") == 0) push_auth(L, x);
        else if (strcmp(x->keyword, "SIZE") == 0)
            lua_pushinteger(L, (lua_Integer)smtp_size_limit(S(u)));
        else lua_pushstring(L, x->params);
        lua_setfield(L, -2, x->keyword);
    }
    return 1;
}

static int l_auth_mechanism(lua_State *L)
{
    lsmtp *u = check_open(L);
    const char *m = smtp_auth_used(S(u));
    if (m == NULL) lua_pushnil(L); else lua_pushstring(L, m);
    return 1;
}

/* core.has_8bit(s): whether a body needs 8BITMIME (a Lua pattern for this was the
 * slowest part of sending a large string). */
static int l_has_8bit(lua_State *L)
{
    size_t n;
    const char *p = luaL_checklstring(L, 1, &n);
    lua_pushboolean(L, mv_has_8bit(p, n));
    return 1;
}

static const luaL_Reg methods[] = {
    { "_begin_open", l_begin_open }, { "_begin_send", l_begin_send },
    { "_feed", l_feed }, { "_feed_end", l_feed_end }, { "_begin_command", l_begin_command },
    { "_check_envelope", l_check_envelope }, { "_feed_end_chain", l_feed_end_chain },
    { "_can_chain", l_can_chain }, { "_prev_reply", l_prev_reply },
    { "_result", l_result }, { "_reply", l_reply }, { "_body_bytes", l_body_bytes },
    { "capabilities", l_capabilities },
    { "auth_mechanism", l_auth_mechanism },
    { NULL, NULL }
};

static const luaL_Reg core_funcs[] = {
    { "smtp_new", l_smtp_new },
    { "has_8bit", l_has_8bit },
    { "smtp_check_dsn", mvl_smtp_check_dsn },
    { NULL, NULL }
};

void mvl_open_smtp(lua_State *L)
{
    mvl_session_metatable(L, SMTP_MT, "smtp.session", methods);
    /* missive.smtp adds the public methods and __close to this metatable. */
    lua_setfield(L, -2, "smtp_mt");
    mvl_setfuncs(L, core_funcs);
    /* The slice missive.smtp and missive.spool feed a string body in. */
    lua_pushinteger(L, SMTP_FEED_SLICE);
    lua_setfield(L, -2, "smtp_feed_slice");
}
