/* The asynchronous SMTP session userdata ("missive.smtp.async"): submit serialised
 * messages to the sender thread of csrc/smtp_async.c and read their outcomes.  The thread
 * never sees the Lua state; everything crosses through copies made under its mutex.
 *
 * Collection: __gc must not do network I/O nor wait on the network for long.  It stops
 * the thread without sending what is still queued, gives the message in flight a short
 * grace to finish (GC_GRACE_MS), then shuts the socket down, which wakes the thread at
 * once, and waits as long again.  Only a thread stuck in a call a socket shutdown cannot
 * interrupt (getaddrinfo) outlives that: it is detached and frees everything itself
 * when the call returns.  So that it never runs code from an unmapped library after
 * lua_close unloads this module, the module is then pinned in memory (RTLD_NODELETE).
 * close() (or <close>, or wait()) is how a program makes sure its messages went out. */
#define _GNU_SOURCE
#include "lsmtp.h"
#include "smtp_async.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define ASYNC_MT "missive.smtp.async"
#define GC_GRACE_MS 1000

typedef struct lasync {
    smtp_async *a;
    int closed;   /* close() ran: results stay readable, sending raises */
} lasync;

static lasync *check_any(lua_State *L)
{
    return luaL_checkudata(L, 1, ASYNC_MT);
}

static lasync *check_readable(lua_State *L)
{
    lasync *u = check_any(L);
    if (u->a == NULL) luaL_error(L, "attempt to use a closed session");
    return u;
}

static lasync *check_open(lua_State *L)
{
    lasync *u = check_readable(L);
    if (u->closed) luaL_error(L, "attempt to use a closed session");
    return u;
}

static void pin_module(void)
{
#ifdef RTLD_NODELETE
    Dl_info info;
    if (dladdr((void *)(size_t)pin_module, &info) && info.dli_fname != NULL) {
        void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
        (void)h;   /* deliberately never closed */
    }
#endif
}

/* core.async_new(opts): options already completed with defaults by missive.async. */
static int l_async_new(lua_State *L)
{
    smtp_opts o;
    lasync *u;
    mv_error e;
    luaL_checktype(L, 1, LUA_TTABLE);
    mvl_smtp_read_opts(L, 1, &o);

    u = mvl_newuserdata(L, sizeof *u);
    memset(u, 0, sizeof *u);
    mvl_setmetatable(L, ASYNC_MT);
    mv_error_clear(&e);
    u->a = smtp_async_new(&o, &e);
    if (u->a == NULL) return mvl_push_error(L, &e);
    return 1;
}

/* s:_submit(from, rcpts, data[, dsn]) -> id | nil, message, kind */
static int l_submit(lua_State *L)
{
    lasync *u = check_open(L);
    size_t flen, dlen, n, i;
    const char *from = luaL_checklstring(L, 2, &flen);
    const char *data;
    const char **rcpts;
    long long id;
    mv_error e;
    smtp_dsn dsn;
    const smtp_dsn *dp;
    luaL_checktype(L, 3, LUA_TTABLE);
    data = luaL_checklstring(L, 4, &dlen);
    mv_error_clear(&e);
    n = mvl_rawlen(L, 3);
    rcpts = lua_newuserdata(L, (n ? n : 1) * sizeof *rcpts);  /* freed by the GC */
    if (strlen(from) != flen) {
        mv_fail(&e, MV_E_ARG, "from contains a control character (CR, LF, NUL...)");
        return mvl_push_error(L, &e);
    }
    for (i = 0; i < n; i++) {
        size_t alen;
        lua_rawgeti(L, 3, (int)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "recipient %d is not a string", (int)i + 1);
        rcpts[i] = lua_tolstring(L, -1, &alen);
        lua_pop(L, 1);
        if (strlen(rcpts[i]) != alen) {
            mv_fail(&e, MV_E_ARG, "recipient contains a control character (CR, LF, NUL...)");
            return mvl_push_error(L, &e);
        }
    }
    if (mvl_smtp_read_dsn(L, 5, n, &dsn, &dp, &e) != 0) return mvl_push_error(L, &e);
    id = smtp_async_submit(u->a, from, rcpts, n, data, dlen, dp, &e);
    if (id < 0) return mvl_push_error(L, &e);
    lua_pushinteger(L, (lua_Integer)id);
    return 1;
}

static const char *state_name(smtp_async_state s)
{
    switch (s) {
    case SMTP_ASYNC_SENT: return "sent";
    case SMTP_ASYNC_FAILED: return "failed";
    case SMTP_ASYNC_UNCERTAIN: return "uncertain";
    case SMTP_ASYNC_SENDING: return "sending";
    default: return "queued";
    }
}

/* s:_status(id) -> state, detail | nil for an unknown id.  detail: for "sent" the same
 * table a blocking send returns ({accepted, rejected, reply}); for "failed" and
 * "uncertain" {error =, kind =, reply =, accepted =, rejected =}. */
static int l_status(lua_State *L)
{
    lasync *u = check_readable(L);
    lua_Integer id = luaL_checkinteger(L, 2);
    smtp_async_res r;
    size_t i, na = 0;
    if (smtp_async_result(u->a, (long long)id, &r) != 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushstring(L, state_name(r.state));
    if (r.state == SMTP_ASYNC_PENDING || r.state == SMTP_ASYNC_SENDING) {
        smtp_async_res_free(&r);
        return 1;
    }
    lua_createtable(L, 0, 5);
    lua_newtable(L);
    lua_newtable(L);
    for (i = 0; i < r.nrcpt; i++) {
        if (r.rcpts[i].reply.code / 100 == 2) {
            lua_pushstring(L, r.rcpts[i].addr);
            lua_rawseti(L, -3, (int)++na);
        } else {
            mvl_push_reply(L, &r.rcpts[i].reply);
            lua_setfield(L, -2, r.rcpts[i].addr);
        }
    }
    lua_setfield(L, -3, "rejected");
    lua_setfield(L, -2, "accepted");
    if (r.reply.code != 0) {
        mvl_push_reply(L, &r.reply);
        lua_setfield(L, -2, "reply");
    }
    if (r.state != SMTP_ASYNC_SENT) {
        lua_pushstring(L, r.err.msg[0] ? r.err.msg : "unknown error");
        lua_setfield(L, -2, "error");
        lua_pushstring(L, mv_kind_name(r.err.kind));
        lua_setfield(L, -2, "kind");
    }
    smtp_async_res_free(&r);
    return 2;
}

/* s:_wait(id or 0, seconds or nil) -> true (done) | false (timed out) | nil (unknown) |
 * "token", seconds left or nil (the sender asks for a token: answer, then wait on) */
static int l_wait(lua_State *L)
{
    lasync *u = check_readable(L);
    lua_Integer id = luaL_optinteger(L, 2, 0);
    int ms = -1, left = -1, r;
    if (!lua_isnoneornil(L, 3)) {
        lua_Number s = luaL_checknumber(L, 3);
        ms = s <= 0 ? 0 : s > 2000000 ? 2000000000 : (int)(s * 1000 + 0.5);
    }
    r = smtp_async_wait(u->a, (long long)id, ms, &left);
    if (r == 2) {
        lua_pushliteral(L, "token");
        if (left < 0) lua_pushnil(L); else lua_pushnumber(L, (lua_Number)left / 1000.0);
        return 2;
    }
    if (r < 0) lua_pushnil(L); else lua_pushboolean(L, r);
    return 1;
}

/* s:_token_asked() -> "connect" | "rejected" | false, refused: the sender's question
 * for an OAuth token, and whether a token given earlier was refused since. */
static int l_token_asked(lua_State *L)
{
    lasync *u = check_readable(L);
    int refused = 0;
    switch (smtp_async_token_asked(u->a, &refused)) {
    case MV_TOKEN_CONNECT: lua_pushliteral(L, "connect"); break;
    case MV_TOKEN_REJECTED: lua_pushliteral(L, "rejected"); break;
    default: lua_pushboolean(L, 0); break;
    }
    lua_pushboolean(L, refused);
    return 2;
}

/* s:_token_answer(token) or s:_token_answer(nil, why): the answer to the question. */
static int l_token_answer(lua_State *L)
{
    lasync *u = check_readable(L);
    size_t n = 0;
    const char *tok = lua_isnil(L, 2) ? NULL : luaL_checklstring(L, 2, &n);
    const char *why = tok == NULL ? luaL_checkstring(L, 3) : NULL;
    if (smtp_async_token_answer(u->a, tok, n, why) < 0) return luaL_error(L, "out of memory");
    return 0;
}

static int l_pending(lua_State *L)
{
    lasync *u = check_readable(L);
    lua_pushinteger(L, (lua_Integer)smtp_async_pending(u->a));
    return 1;
}

/* s:_close(): flush the queue, QUIT, join.  Blocks for as long as the queue takes. */
static int l_close(lua_State *L)
{
    lasync *u = check_any(L);
    if (u->a != NULL && !u->closed) {
        u->closed = 1;
        smtp_async_close(u->a);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_closed(lua_State *L)
{
    lasync *u = check_any(L);
    lua_pushboolean(L, u->a == NULL || u->closed);
    return 1;
}

static int l_gc(lua_State *L)
{
    lasync *u = check_any(L);
    smtp_async *a = u->a;
    u->a = NULL;
    if (a == NULL) return 0;
    if (u->closed) smtp_async_free(a);
    else if (smtp_async_abandon(a, GC_GRACE_MS) != 0) pin_module();
    return 0;
}

static int l_tostring(lua_State *L)
{
    lasync *u = check_any(L);
    if (u->a == NULL || u->closed) lua_pushliteral(L, "smtp.async (closed)");
    else lua_pushfstring(L, "smtp.async (%p)", (void *)u);
    return 1;
}

static const luaL_Reg methods[] = {
    { "_submit", l_submit }, { "_status", l_status }, { "_wait", l_wait },
    { "_pending", l_pending }, { "_close", l_close }, { "is_closed", l_closed },
    { "_token_asked", l_token_asked }, { "_token_answer", l_token_answer },
    { NULL, NULL }
};

void mvl_open_async(lua_State *L)
{
    mvl_new_type(L, ASYNC_MT, "smtp.async", methods, l_gc, l_tostring);
    /* missive.async adds the public methods and __close to this metatable. */
    lua_setfield(L, -2, "async_mt");
    lua_pushcfunction(L, l_async_new);
    lua_setfield(L, -2, "async_new");
}
