/* The smtp.session userdata: option checking, the native driver loop, results. */
#include "bind.h"
#include "mv_net.h"
#include "smtp.h"

#include <string.h>

#define SMTP_MT "missive.smtp.session"
#define FEED_SLICE 65536

typedef struct lsmtp {
    smtp_session *s;   /* NULL once closed */
    int fd;
} lsmtp;

static lsmtp *check_open(lua_State *L)
{
    lsmtp *u = luaL_checkudata(L, 1, SMTP_MT);
    if (u->s == NULL) luaL_error(L, "attempt to use a closed session");
    return u;
}

/* Frees everything without network I/O: what __gc does, and the end of close(). */
static void teardown(lsmtp *u)
{
    smtp_session *s = u->s;
    u->s = NULL;
    if (u->fd >= 0) mv_net_close(u->fd);
    u->fd = -1;
    smtp_free(s);
}

/* Hands queued trace records to the user's trace function, if any. */
static void drain_trace(lua_State *L, lsmtp *u, int ud_idx)
{
    mv_pp *pp = smtp_pp(u->s);
    mv_buf *t = &pp->trace;
    if (mv_buf_avail(t) == 0) return;
    lua_getfield(L, ud_idx, "trace");
    if (lua_isfunction(L, -1)) {
        size_t off = t->off;
        while (off + 5 <= t->len) {
            const unsigned char *h = t->data + off;
            size_t n = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
            char clean[4097];
            mv_sanitize(clean, sizeof clean, (const char *)h + 5, n);
            lua_pushvalue(L, -1);
            lua_pushstring(L, h[0] == MV_TRACE_IN ? "in" : h[0] == MV_TRACE_OUT ? "out" : "info");
            lua_pushstring(L, clean);
            off += 5 + n;
            lua_call(L, 2, 0);
            if (u->s == NULL) break;  /* closed from inside the trace function */
        }
    }
    lua_pop(L, 1);
    if (u->s != NULL) mv_buf_reset(&smtp_pp(u->s)->trace);
}

static int step_fn(void *ud)
{
    return smtp_step(ud);
}

/* Runs the current operation with the native driver; pushes the uservalue table at
 * top for trace.  Returns the step result. */
static int run(lua_State *L, lsmtp *u)
{
    int r = mv_net_run(u->fd, smtp_pp(u->s), step_fn, u->s);
    mvl_getuservalue(L, 1);
    drain_trace(L, u, lua_gettop(L));
    lua_pop(L, 1);
    return r;
}

static int push_session_error(lua_State *L, lsmtp *u)
{
    mv_error e = *smtp_error(u->s);
    if (smtp_is_dead(u->s) && u->fd >= 0) {
        /* Nothing more can be said on this connection. */
        mv_net_close(u->fd);
        u->fd = -1;
    }
    return mvl_push_error(L, &e);
}

/* After a failed open on a connection that is still sound (say AUTH refused), say
 * goodbye properly; errors here change nothing. */
static void quit_quietly(lua_State *L, lsmtp *u)
{
    mv_pp *pp = smtp_pp(u->s);
    if (u->fd < 0 || smtp_is_dead(u->s)) return;
    if (pp->timeout_ms <= 0 || pp->timeout_ms > 5000) pp->timeout_ms = 5000;
    if (smtp_begin_command(u->s, "QUIT") == MV_OK) (void)run(L, u);
}

/* core.smtp_open(opts): the option table is already filled with defaults by Lua. */
static int l_smtp_open(lua_State *L)
{
    smtp_opts o;
    lsmtp *u;
    const char *tls;
    int port, timeout_ms, loopback = 0;
    mv_error e;
    luaL_checktype(L, 1, LUA_TTABLE);
    memset(&o, 0, sizeof o);
    o.host = mvl_opt_string(L, 1, "host");
    if (o.host == NULL) luaL_error(L, "option 'host' is required");
    port = (int)mvl_opt_int(L, 1, "port", 587);
    if (port <= 0 || port > 65535) luaL_error(L, "option 'port' is out of range");
    tls = mvl_opt_string(L, 1, "tls");
    if (tls == NULL || strcmp(tls, "starttls") == 0) o.tls = MV_TLS_STARTTLS;
    else if (strcmp(tls, "implicit") == 0) o.tls = MV_TLS_IMPLICIT;
    else if (strcmp(tls, "none") == 0) o.tls = MV_TLS_NONE;
    else luaL_error(L, "option 'tls' must be \"starttls\", \"implicit\" or \"none\"");
    o.helo = mvl_opt_string(L, 1, "helo");
    o.user = mvl_opt_string(L, 1, "user");
    o.password = mvl_opt_string(L, 1, "password");
    o.token = mvl_opt_string(L, 1, "token");
    o.auth = mvl_opt_string(L, 1, "auth");
    lua_getfield(L, 1, "insecure_auth");
    o.insecure_auth = lua_isnil(L, -1) ? -1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    o.pipelining = mvl_opt_bool(L, 1, "pipelining", 1);
    o.chunking = mvl_opt_bool(L, 1, "chunking", 0);
    o.max_data_line = (size_t)mvl_opt_int(L, 1, "max_line_length", 998);
    o.tls_opts.cafile = mvl_opt_string(L, 1, "cafile");
    o.tls_opts.capath = mvl_opt_string(L, 1, "capath");
    o.tls_opts.client_cert = mvl_opt_string(L, 1, "client_cert");
    o.tls_opts.client_key = mvl_opt_string(L, 1, "client_key");
    o.tls_opts.verify = mvl_opt_bool(L, 1, "verify", 1);
    timeout_ms = mvl_opt_ms(L, 1, "timeout", 60000);
    lua_getfield(L, 1, "trace");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        luaL_error(L, "option 'trace' must be a function");
    lua_pop(L, 1);

    /* The userdata exists, closed, with its metatable, before anything is acquired. */
    u = mvl_newuserdata(L, sizeof *u);
    u->s = NULL;
    u->fd = -1;
    mvl_setmetatable(L, SMTP_MT);
    lua_createtable(L, 0, 2);
    lua_getfield(L, 1, "trace");
    lua_setfield(L, -2, "trace");
    mvl_setuservalue(L, -2);
    lua_replace(L, 1);  /* the session is now argument 1, as for methods */
    lua_settop(L, 1);

    u->s = smtp_new();
    if (u->s == NULL) luaL_error(L, "out of memory");
    smtp_pp(u->s)->timeout_ms = timeout_ms;
    mvl_getuservalue(L, 1);
    lua_getfield(L, -1, "trace");
    smtp_pp(u->s)->trace_on = lua_isfunction(L, -1);
    lua_pop(L, 2);
    /* Every option is checked before the first byte goes anywhere (CHECKLIST 14). */
    if (smtp_configure(u->s, &o) != MV_OK) {
        e = *smtp_error(u->s);
        teardown(u);
        return mvl_push_error(L, &e);
    }
    mv_error_clear(&e);
    u->fd = mv_net_connect(o.host, port, timeout_ms, &loopback, &e);
    if (u->fd < 0) {
        teardown(u);
        return mvl_push_error(L, &e);
    }
    smtp_set_peer_loopback(u->s, loopback);
    if (smtp_begin_open(u->s) != MV_OK || run(L, u) != MV_OK) {
        e = *smtp_error(u->s);
        quit_quietly(L, u);
        teardown(u);
        return mvl_push_error(L, &e);
    }
    lua_settop(L, 1);
    return 1;
}

/* Pushes {accepted = {...}, rejected = {[addr] = reply}, reply = reply}. */
static void push_result(lua_State *L, smtp_session *s)
{
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
}

static int has_8bit(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80) return 1;
    return 0;
}

static void call_progress(lua_State *L, int idx, lsmtp *u, lua_Integer total)
{
    if (lua_isnil(L, idx)) return;
    lua_pushvalue(L, idx);
    lua_pushinteger(L, (lua_Integer)smtp_body_bytes(u->s));
    if (total >= 0) lua_pushinteger(L, total); else lua_pushnil(L);
    lua_call(L, 2, 0);
}

static size_t lua_rawlen_str(lua_State *L, int idx)
{
    size_t n;
    lua_tolstring(L, idx, &n);
    return n;
}

/* A NUL would cut the C string short and hide the rest: refuse it like CR and LF. */
static int nul_error(lua_State *L, const char *field)
{
    mv_error e;
    mv_error_clear(&e);
    mv_fail(&e, MV_E_ARG, "%s contains a control character (CR, LF, NUL...)", field);
    return mvl_push_error(L, &e);
}

/* s:_send(from, rcpts, data, progress): data is a string or a source function. */
static int l_send(lua_State *L)
{
    lsmtp *u = check_open(L);
    const char *from = luaL_checkstring(L, 2);
    const char *rcpt_stack[16];
    const char **rcpts = rcpt_stack;
    size_t n, i, dlen = 0, off = 0;
    const char *data = NULL;
    int r, is_fn;
    luaL_checktype(L, 3, LUA_TTABLE);
    is_fn = lua_isfunction(L, 4);
    if (!is_fn) data = luaL_checklstring(L, 4, &dlen);
    if (!lua_isnoneornil(L, 5)) luaL_checktype(L, 5, LUA_TFUNCTION);
    lua_settop(L, 5);
    n = mvl_rawlen(L, 3);
    if (n > sizeof rcpt_stack / sizeof rcpt_stack[0]) {
        /* A userdata, so the GC frees it even when an error unwinds. */
        rcpts = lua_newuserdata(L, n * sizeof *rcpts);
    }
    if (strlen(from) != lua_rawlen_str(L, 2)) return nul_error(L, "from");
    for (i = 0; i < n; i++) {
        size_t alen;
        lua_rawgeti(L, 3, (int)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "recipient %d is not a string", (int)i + 1);
        rcpts[i] = lua_tolstring(L, -1, &alen);
        lua_pop(L, 1);  /* the table keeps the string alive */
        if (strlen(rcpts[i]) != alen) return nul_error(L, "recipient");
    }
    if (smtp_begin_send(u->s, from, rcpts, n, is_fn ? 0 : dlen,
                        is_fn ? -1 : has_8bit(data, dlen)) != MV_OK)
        return push_session_error(L, u);
    r = run(L, u);
    while (r == MV_WANT_DATA) {
        if (is_fn) {
            size_t clen;
            const char *chunk;
            lua_pushvalue(L, 4);
            if (lua_pcall(L, 0, 1, 0) != 0) {
                /* Mid-DATA there is no clean way back: drop the connection unsent. */
                smtp_mark_dead(u->s);
                mv_net_close(u->fd);
                u->fd = -1;
                return lua_error(L);
            }
            if (lua_isnil(L, -1)) {
                r = smtp_feed_end(u->s);
            } else {
                if (lua_type(L, -1) != LUA_TSTRING) {
                    smtp_mark_dead(u->s);
                    mv_net_close(u->fd);
                    u->fd = -1;
                    return luaL_error(L, "message source returned a %s, not a string",
                                      luaL_typename(L, -1));
                }
                chunk = lua_tolstring(L, -1, &clen);
                r = smtp_feed(u->s, chunk, clen);
            }
            lua_pop(L, 1);
        } else if (off < dlen) {
            size_t take = dlen - off > FEED_SLICE ? FEED_SLICE : dlen - off;
            r = smtp_feed(u->s, data + off, take);
            off += take;
        } else {
            r = smtp_feed_end(u->s);
        }
        if (r != MV_OK) return push_session_error(L, u);
        r = run(L, u);
        if (r == MV_WANT_DATA || r == MV_OK) call_progress(L, 5, u, is_fn ? -1 : (lua_Integer)dlen);
    }
    if (r != MV_OK) return push_session_error(L, u);
    push_result(L, u->s);
    return 1;
}

static int simple_command(lua_State *L, const char *verb)
{
    lsmtp *u = check_open(L);
    if (smtp_begin_command(u->s, verb) != MV_OK || run(L, u) != MV_OK)
        return push_session_error(L, u);
    mvl_push_reply(L, smtp_last_reply(u->s));
    return 1;
}

static int l_noop(lua_State *L) { return simple_command(L, "NOOP"); }
static int l_reset(lua_State *L) { return simple_command(L, "RSET"); }

/* QUIT (when the connection is still good), then free.  Always ends closed. */
static int l_close(lua_State *L)
{
    lsmtp *u = luaL_checkudata(L, 1, SMTP_MT);
    mv_error e;
    int failed = 0;
    if (u->s == NULL) {
        lua_pushboolean(L, 1);
        return 1;
    }
    mv_error_clear(&e);
    if (u->fd >= 0 && !smtp_is_dead(u->s)) {
        mv_pp *pp = smtp_pp(u->s);
        if (pp->timeout_ms <= 0 || pp->timeout_ms > 10000) pp->timeout_ms = 10000;
        if (smtp_begin_command(u->s, "QUIT") != MV_OK || run(L, u) != MV_OK) {
            e = *smtp_error(u->s);
            failed = 1;
        }
        if (u->s != NULL && u->fd >= 0) {
            mv_conn_close_notify(&pp->conn);
            mv_pp_arm(pp);
            (void)mv_net_flush(u->fd, pp);
        }
    }
    if (u->s != NULL) teardown(u);
    if (failed && e.kind == MV_E_REPLY) return mvl_push_error(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_gc(lua_State *L)
{
    lsmtp *u = luaL_checkudata(L, 1, SMTP_MT);
    if (u->s != NULL) teardown(u);
    return 0;
}

/* __close(s, err): QUIT when the block ended normally; only free after an error. */
static int l_toclose(lua_State *L)
{
    if (!lua_isnoneornil(L, 2)) return l_gc(L);
    lua_settop(L, 1);
    l_close(L);
    return 0;
}

static int l_tostring(lua_State *L)
{
    lsmtp *u = luaL_checkudata(L, 1, SMTP_MT);
    if (u->s == NULL) lua_pushliteral(L, "smtp.session (closed)");
    else lua_pushfstring(L, "smtp.session (%p)", (void *)u);
    return 1;
}

static int l_closed(lua_State *L)
{
    lsmtp *u = luaL_checkudata(L, 1, SMTP_MT);
    lua_pushboolean(L, u->s == NULL);
    return 1;
}

/* {STARTTLS = true, SIZE = 10240000, AUTH = {"PLAIN", ...}, ...} from the last EHLO. */
static int l_capabilities(lua_State *L)
{
    lsmtp *u = check_open(L);
    size_t n, i = 0;
    const char *t = smtp_ehlo_lines(u->s, &n);
    lua_newtable(L);
    while (i < n && t[i] != '\n') i++;
    while (i < n) {
        size_t start = ++i, kw_end, len;
        char key[64];
        while (i < n && t[i] != '\n') i++;
        len = i - start;
        kw_end = start;
        while (kw_end < i && t[kw_end] != ' ' && t[kw_end] != '=') kw_end++;
        if (kw_end == start || kw_end - start >= sizeof key) continue;
        {
            size_t k;
            for (k = 0; k < kw_end - start; k++) {
                char c = t[start + k];
                key[k] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
            }
            key[kw_end - start] = '\0';
        }
        if (kw_end == start + len) {
            lua_pushboolean(L, 1);
        } else if (strcmp(key, "AUTH") == 0) {
            size_t p = kw_end + 1, idx = 0;
            lua_getfield(L, -1, "AUTH");
            if (!lua_istable(L, -1)) { lua_pop(L, 1); lua_newtable(L); }
            idx = mvl_rawlen(L, -1);
            while (p < start + len) {
                size_t w = p;
                while (w < start + len && t[w] != ' ') w++;
                if (w > p) {
                    lua_pushlstring(L, t + p, w - p);
                    lua_rawseti(L, -2, (int)++idx);
                }
                p = w + 1;
            }
        } else if (strcmp(key, "SIZE") == 0) {
            lua_pushinteger(L, (lua_Integer)smtp_size_limit(u->s));
        } else {
            lua_pushlstring(L, t + kw_end + 1, start + len - kw_end - 1);
        }
        lua_setfield(L, -2, key);
    }
    return 1;
}

static int l_tls_info(lua_State *L)
{
    lsmtp *u = check_open(L);
    const mv_conn *c = &smtp_pp(u->s)->conn;
    if (!smtp_is_tls(u->s)) {
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

static int l_auth_mechanism(lua_State *L)
{
    lsmtp *u = check_open(L);
    const char *m = smtp_auth_used(u->s);
    if (m == NULL) lua_pushnil(L); else lua_pushstring(L, m);
    return 1;
}

static const luaL_Reg methods[] = {
    { "_send", l_send },
    { "noop", l_noop },
    { "reset", l_reset },
    { "close", l_close },
    { "is_closed", l_closed },
    { "capabilities", l_capabilities },
    { "tls_info", l_tls_info },
    { "auth_mechanism", l_auth_mechanism },
    { NULL, NULL }
};

void mvl_open_smtp(lua_State *L)
{
    luaL_newmetatable(L, SMTP_MT);
    lua_newtable(L);
    mvl_setfuncs(L, methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "smtp_methods");  /* the Lua layer adds its sugar here */
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_toclose);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "smtp.session");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_smtp_open);
    lua_setfield(L, -2, "smtp_open");
}
