/* The parts of a session binding that do not depend on the protocol. */
#include "lsession.h"
#include "mv_clock.h"
#include "mv_open.h"
#include "mv_str.h"

#include <stdlib.h>
#include <string.h>

int mvl_session_init(mvl_session *u, const mvl_protocol *proto, int external,
                     const char *host, int port, int timeout_ms)
{
    memset(u, 0, sizeof *u);
    mv_net_init(&u->net);
    u->external = external;
    u->proto = proto;
    u->port = port;
    u->timeout_ms = timeout_ms;
    u->host = mv_strdup(host);
    return u->host != NULL ? 0 : -1;
}

void mvl_session_teardown(mvl_session *u)
{
    void *core = u->core;
    u->core = NULL;
    u->pp = NULL;
    mv_net_close(&u->net);
    if (core != NULL) u->proto->free_core(core);
    free(u->host);
    u->host = NULL;
}

/* A native session's TLS goodbye: close_notify when TLS is sound, one write attempt
 * that never waits (RFC 8446 6.1: MUST; a peer logs its absence as an error). */
static void say_goodbye(mvl_session *u)
{
    if (u->net.fd >= 0 && mv_conn_close_notify(&u->pp->conn)) mv_net_flush_now(&u->net, u->pp);
}

int mvl_session_error(lua_State *L, mvl_session *u)
{
    mv_error e = u->pp->err;
    if (u->proto->is_dead(u->core) && u->net.fd >= 0) {
        /* Nothing more can be said on this connection. */
        say_goodbye(u);
        mv_net_close(&u->net);
    }
    return mvl_push_error(L, &e);
}

int mvl_session_result(lua_State *L, mvl_session *u, int r)
{
    if (r != MV_OK) return mvl_session_error(L, u);
    lua_pushboolean(L, 1);
    return 1;
}

int mvl_session_status(lua_State *L, mvl_session *u, int r)
{
    switch (r) {
    case MV_OK: lua_pushliteral(L, "done"); return 1;
    case MV_WANT_BODY: lua_pushliteral(L, "body"); return 1;
    case MV_HAVE_CHUNK: lua_pushliteral(L, "chunk"); return 1;
    case MV_WANT_TOKEN: lua_pushliteral(L, "token"); return 1;
    case MV_WANT_READ: lua_pushliteral(L, "read"); return 1;
    case MV_WANT_WRITE: lua_pushliteral(L, "write"); return 1;
    default: return mvl_session_error(L, u);
    }
}

int mvl_m_run(lua_State *L, mvl_session *u)
{
    if (u->external) luaL_error(L, "_run is for native sessions");
    if (u->net.fd < 0) {
        mv_fail(&u->pp->err, MV_E_CLOSED, "the connection is closed");
        return mvl_session_error(L, u);
    }
    return mvl_session_status(L, u, mv_net_run(&u->net, u->pp, u->proto->step, u->core));
}

int mvl_m_step(lua_State *L, mvl_session *u)
{
    return mvl_session_status(L, u, u->proto->step(u->core));
}

int mvl_m_output(lua_State *L, mvl_session *u)
{
    mv_buf *out = &u->pp->conn.net_out;
    if (mv_buf_avail(out) == 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, (const char *)mv_buf_head(out), mv_buf_avail(out));
    mv_buf_reset(out);
    return 1;
}

int mvl_m_input(lua_State *L, mvl_session *u)
{
    size_t n;
    const char *p = luaL_checklstring(L, 2, &n);
    if (mv_conn_feed(&u->pp->conn, p, n) != 0) luaL_error(L, "out of memory");
    return 0;
}

int mvl_m_eof(lua_State *L, mvl_session *u)
{
    (void)L;
    mv_conn_feed_eof(&u->pp->conn);
    return 0;
}

/* LuaSocket and cosockets share the words "timeout" and "closed". */
int mvl_m_io_error(lua_State *L, mvl_session *u)
{
    const char *word = luaL_checkstring(L, 2);
    if (strcmp(word, "timeout") == 0)
        mv_fail(&u->pp->err, MV_E_TIMEOUT, "timed out waiting for the server");
    else if (strcmp(word, "closed") == 0)
        mv_fail(&u->pp->err, MV_E_CLOSED, "connection closed by the server");
    else
        mv_fail(&u->pp->err, MV_E_IO, "socket error: %.200s", word);
    return 0;
}

/* Why the open asks for a token ("connect", "rejected"), or nil when it does not. */
int mvl_m_token_reason(lua_State *L, mvl_session *u)
{
    switch (u->pp->token_asked) {
    case MV_TOKEN_CONNECT: lua_pushliteral(L, "connect"); break;
    case MV_TOKEN_REJECTED: lua_pushliteral(L, "rejected"); break;
    default: lua_pushnil(L); break;
    }
    return 1;
}

/* The caller's answer: a token, which the open takes at its next step; one that could
 * not go on a command line fails the open (kind argument), without showing it. */
int mvl_m_set_token(lua_State *L, mvl_session *u)
{
    size_t n;
    const char *tok = luaL_checklstring(L, 2, &n);
    if (mv_open_token_answer(u->pp, tok, n) != MV_OK && u->pp->err.kind == MV_E_MEMORY)
        return luaL_error(L, "out of memory");
    return 0;
}

/* The caller has no token: the open fails with kind auth and this message. */
int mvl_m_token_failed(lua_State *L, mvl_session *u)
{
    mv_open_token_refuse(u->pp, luaL_checkstring(L, 2));
    return 0;
}

int mvl_m_want(lua_State *L, mvl_session *u)
{
    lua_pushinteger(L, (lua_Integer)u->pp->conn.want);
    return 1;
}

int mvl_m_time_left(lua_State *L, mvl_session *u)
{
    long long left;
    if (u->pp->deadline == 0) {
        lua_pushnil(L);
        return 1;
    }
    left = u->pp->deadline - mv_now_ms();
    lua_pushnumber(L, left > 0 ? (lua_Number)left / 1000.0 : 0.0);
    return 1;
}

int mvl_m_trace(lua_State *L, mvl_session *u)
{
    mv_buf *t = &u->pp->trace;
    size_t off = t->off;
    int i = 0;
    if (mv_buf_avail(t) == 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_newtable(L);
    while (off + 5 <= t->len) {
        const unsigned char *h = t->data + off;
        size_t n = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
        char clean[4097];
        mv_sanitize(clean, sizeof clean, (const char *)h + 5, n);
        lua_pushstring(L, h[0] == MV_TRACE_IN ? "in" : h[0] == MV_TRACE_OUT ? "out" : "info");
        lua_rawseti(L, -2, ++i);
        lua_pushstring(L, clean);
        lua_rawseti(L, -2, ++i);
        off += 5 + n;
    }
    mv_buf_reset(t);
    return 1;
}

int mvl_m_connect(lua_State *L, mvl_session *u)
{
    int loopback = 0;
    if (u->external || u->net.fd >= 0) return luaL_error(L, "already connected");
    if (mv_net_connect(&u->net, u->host, u->port, u->timeout_ms, &loopback, &u->pp->err)
        != MV_OK)
        return mvl_session_error(L, u);
    u->proto->set_loopback(u, loopback);
    lua_pushboolean(L, 1);
    return 1;
}

int mvl_m_set_loopback(lua_State *L, mvl_session *u)
{
    u->proto->set_loopback(u, lua_toboolean(L, 2));
    return 0;
}

int mvl_m_dead(lua_State *L, mvl_session *u)
{
    lua_pushboolean(L, u->core == NULL || u->proto->is_dead(u->core));
    return 1;
}

int mvl_m_abort(lua_State *L, mvl_session *u)
{
    (void)L;
    u->proto->mark_dead(u->core);
    mv_net_close(&u->net);
    return 0;
}

/* Also after QUIT (which leaves the session dead): TLS itself is still sound.  An
 * external session returns the close_notify bytes for its driver's last send. */
int mvl_m_release(lua_State *L, mvl_session *u)
{
    int n = 0;
    if (u->core != NULL && u->external && mv_conn_close_notify(&u->pp->conn)) {
        mv_buf *out = &u->pp->conn.net_out;
        lua_pushlstring(L, (const char *)mv_buf_head(out), mv_buf_avail(out));
        n = 1;
    } else if (u->core != NULL) {
        say_goodbye(u);
    }
    mvl_session_teardown(u);
    return n;
}

int mvl_m_gc(lua_State *L, mvl_session *u)
{
    (void)L;
    mvl_session_teardown(u);
    return 0;
}

int mvl_m_closed(lua_State *L, mvl_session *u)
{
    lua_pushboolean(L, u->core == NULL);
    return 1;
}

int mvl_m_tostring(lua_State *L, mvl_session *u)
{
    if (u->core == NULL) lua_pushfstring(L, "%s (closed)", u->proto->name);
    else lua_pushfstring(L, "%s (%p)", u->proto->name, (void *)u);
    return 1;
}

int mvl_m_tls_info(lua_State *L, mvl_session *u)
{
    const mv_conn *c = &u->pp->conn;
    if (!u->proto->is_tls(u->core)) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 2);
    lua_pushstring(L, mv_conn_tls_version(c));
    lua_setfield(L, -2, "version");
    lua_pushstring(L, mv_conn_tls_cipher(c));
    lua_setfield(L, -2, "cipher");
    return 1;
}

/* The generic methods as closures: upvalue 1 is the metatable name, so one C function
 * serves every session type (whose userdata starts with an mvl_session). */
static mvl_session *check_session(lua_State *L, int open)
{
    mvl_session *u = luaL_checkudata(L, 1, lua_tostring(L, lua_upvalueindex(1)));
    if (open && u->core == NULL) luaL_error(L, "attempt to use a closed session");
    return u;
}

#define OPEN_METHOD(name) \
    static int g_##name(lua_State *L) { return mvl_m_##name(L, check_session(L, 1)); }
#define ANY_METHOD(name) \
    static int g_##name(lua_State *L) { return mvl_m_##name(L, check_session(L, 0)); }
OPEN_METHOD(run)
OPEN_METHOD(step)
OPEN_METHOD(output)
OPEN_METHOD(input)
OPEN_METHOD(eof)
OPEN_METHOD(io_error)
OPEN_METHOD(want)
OPEN_METHOD(token_reason)
OPEN_METHOD(set_token)
OPEN_METHOD(token_failed)
OPEN_METHOD(time_left)
OPEN_METHOD(trace)
OPEN_METHOD(connect)
OPEN_METHOD(set_loopback)
OPEN_METHOD(abort)
OPEN_METHOD(tls_info)
ANY_METHOD(dead)
ANY_METHOD(release)
ANY_METHOD(gc)
ANY_METHOD(closed)
ANY_METHOD(tostring)

static const luaL_Reg generic_methods[] = {
    { "_run", g_run }, { "_step", g_step }, { "_output", g_output }, { "_input", g_input },
    { "_eof", g_eof }, { "_io_error", g_io_error }, { "_want", g_want },
    { "_token_reason", g_token_reason }, { "_set_token", g_set_token },
    { "_token_failed", g_token_failed },
    { "_time_left", g_time_left }, { "_trace", g_trace }, { "_connect", g_connect },
    { "_set_loopback", g_set_loopback }, { "_abort", g_abort }, { "_dead", g_dead },
    { "_release", g_release }, { "is_closed", g_closed }, { "tls_info", g_tls_info },
    { NULL, NULL }
};

static void set_closures(lua_State *L, const char *mt_name, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushstring(L, mt_name);
        lua_pushcclosure(L, l->func, 1);
        lua_setfield(L, -2, l->name);
    }
}

void mvl_session_metatable(lua_State *L, const char *mt_name, const char *type_name,
                           const luaL_Reg *methods)
{
    static const luaL_Reg meta[] = { { "__gc", g_gc }, { "__tostring", g_tostring },
                                     { NULL, NULL } };
    luaL_newmetatable(L, mt_name);
    lua_newtable(L);
    mvl_setfuncs(L, methods);
    set_closures(L, mt_name, generic_methods);
    lua_setfield(L, -2, "__index");
    set_closures(L, mt_name, meta);
    lua_pushstring(L, type_name);
    lua_setfield(L, -2, "__name");
}
