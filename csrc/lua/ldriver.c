/* The parts of a session binding that do not depend on the protocol. */
#include "ldriver.h"

#include <string.h>

void mvl_session_teardown(mvl_session *u)
{
    void *core = u->core;
    u->core = NULL;
    u->pp = NULL;
    if (u->fd >= 0) mv_net_close(u->fd);
    u->fd = -1;
    if (core != NULL) u->free_core(core);
}

int mvl_session_error(lua_State *L, mvl_session *u)
{
    mv_error e = u->pp->err;
    if (u->is_dead(u->core) && u->fd >= 0) {
        /* Nothing more can be said on this connection. */
        mv_net_close(u->fd);
        u->fd = -1;
    }
    return mvl_push_error(L, &e);
}

int mvl_session_status(lua_State *L, mvl_session *u, int r)
{
    switch (r) {
    case MV_OK: lua_pushliteral(L, "done"); return 1;
    case MV_WANT_DATA: lua_pushliteral(L, "data"); return 1;
    case MV_WANT_READ: lua_pushliteral(L, "read"); return 1;
    case MV_WANT_WRITE: lua_pushliteral(L, "write"); return 1;
    default: return mvl_session_error(L, u);
    }
}

int mvl_m_run(lua_State *L, mvl_session *u)
{
    if (u->external) luaL_error(L, "_run is for native sessions");
    if (u->fd < 0) {
        mv_fail(&u->pp->err, MV_E_CLOSED, "the connection is closed");
        return mvl_session_error(L, u);
    }
    return mvl_session_status(L, u, mv_net_run(u->fd, u->pp, u->step, u->core));
}

int mvl_m_step(lua_State *L, mvl_session *u)
{
    return mvl_session_status(L, u, u->step(u->core));
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
