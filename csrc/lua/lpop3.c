/* The pop3.session userdata: options, the native driver loop, results, sinks. */
#include "bind.h"
#include "mv_net.h"
#include "pop3.h"

#include <string.h>

#define POP3_MT "missive.pop3.session"

typedef struct lpop3 {
    pop3_session *s;   /* NULL once closed */
    int fd;
} lpop3;

static lpop3 *check_open(lua_State *L)
{
    lpop3 *u = luaL_checkudata(L, 1, POP3_MT);
    if (u->s == NULL) luaL_error(L, "attempt to use a closed session");
    return u;
}

/* Frees everything without network I/O: __gc, and the end of close(). */
static void teardown(lpop3 *u)
{
    pop3_session *s = u->s;
    u->s = NULL;
    if (u->fd >= 0) mv_net_close(u->fd);
    u->fd = -1;
    pop3_free(s);
}

static void drain_trace(lua_State *L, lpop3 *u)
{
    mv_buf *t = &pop3_pp(u->s)->trace;
    if (mv_buf_avail(t) == 0) return;
    mvl_getuservalue(L, 1);
    lua_getfield(L, -1, "trace");
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
            if (u->s == NULL) break;
        }
    }
    lua_pop(L, 2);
    if (u->s != NULL) mv_buf_reset(&pop3_pp(u->s)->trace);
}

static int step_fn(void *ud)
{
    return pop3_step(ud);
}

static int run(lua_State *L, lpop3 *u)
{
    int r = mv_net_run(u->fd, pop3_pp(u->s), step_fn, u->s);
    if (r == MV_ERROR) pop3_after_error(u->s);
    drain_trace(L, u);
    return r;
}

static void push_reply(lua_State *L, const mv_reply *r)
{
    lua_createtable(L, 0, 1);
    lua_pushstring(L, r->text);
    lua_setfield(L, -2, "text");
}

static int push_error(lua_State *L, const mv_error *e)
{
    lua_pushnil(L);
    lua_pushstring(L, e->msg[0] != '\0' ? e->msg : "unknown error");
    lua_pushstring(L, mv_kind_name(e->kind));
    if (e->has_reply) {
        push_reply(L, &e->reply);
        return 4;
    }
    return 3;
}

static int push_session_error(lua_State *L, lpop3 *u)
{
    mv_error e = *pop3_error(u->s);
    if (pop3_is_dead(u->s) && u->fd >= 0) {
        mv_net_close(u->fd);
        u->fd = -1;
    }
    return push_error(L, &e);
}

/* core.pop3_open(opts): defaults are filled in by Lua. */
static int l_pop3_open(lua_State *L)
{
    pop3_opts o;
    lpop3 *u;
    const char *tls;
    int port, timeout_ms, loopback = 0;
    mv_error e;
    luaL_checktype(L, 1, LUA_TTABLE);
    memset(&o, 0, sizeof o);
    o.host = mvl_opt_string(L, 1, "host");
    if (o.host == NULL) luaL_error(L, "option 'host' is required");
    port = (int)mvl_opt_int(L, 1, "port", 995);
    if (port <= 0 || port > 65535) luaL_error(L, "option 'port' is out of range");
    tls = mvl_opt_string(L, 1, "tls");
    if (tls == NULL || strcmp(tls, "implicit") == 0) o.tls = POP3_TLS_IMPLICIT;
    else if (strcmp(tls, "starttls") == 0) o.tls = POP3_TLS_STARTTLS;
    else if (strcmp(tls, "none") == 0) o.tls = POP3_TLS_NONE;
    else luaL_error(L, "option 'tls' must be \"implicit\", \"starttls\" or \"none\"");
    o.user = mvl_opt_string(L, 1, "user");
    o.password = mvl_opt_string(L, 1, "password");
    o.token = mvl_opt_string(L, 1, "token");
    o.auth = mvl_opt_string(L, 1, "auth");
    o.insecure_auth = mvl_opt_bool(L, 1, "insecure_auth", 0);
    o.max_size = (unsigned long long)mvl_opt_int(L, 1, "max_size", 256 * 1024 * 1024);
    o.max_messages = (unsigned long)mvl_opt_int(L, 1, "max_messages", 1000000);
    o.tls_opts.cafile = mvl_opt_string(L, 1, "cafile");
    o.tls_opts.capath = mvl_opt_string(L, 1, "capath");
    o.tls_opts.client_cert = mvl_opt_string(L, 1, "client_cert");
    o.tls_opts.client_key = mvl_opt_string(L, 1, "client_key");
    o.tls_opts.verify = mvl_opt_bool(L, 1, "verify", 1);
    timeout_ms = mvl_opt_ms(L, 1, "timeout", 60000);
    lua_getfield(L, 1, "trace");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        luaL_error(L, "option 'trace' must be a function");
    lua_getfield(L, 1, "progress");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        luaL_error(L, "option 'progress' must be a function");
    lua_pop(L, 2);

    /* The userdata exists, closed, with its metatable, before anything is acquired. */
    u = mvl_newuserdata(L, sizeof *u);
    u->s = NULL;
    u->fd = -1;
    mvl_setmetatable(L, POP3_MT);
    lua_createtable(L, 0, 2);
    lua_getfield(L, 1, "trace");
    lua_setfield(L, -2, "trace");
    lua_getfield(L, 1, "progress");
    lua_setfield(L, -2, "progress");
    mvl_setuservalue(L, -2);
    lua_getfield(L, 1, "_assume_remote");  /* test hook: exercise the cleartext rule */
    {
        int assume_remote = lua_toboolean(L, -1);
        lua_pop(L, 1);
        lua_replace(L, 1);
        lua_settop(L, 1);
        u->s = pop3_new();
        if (u->s == NULL) luaL_error(L, "out of memory");
        pop3_pp(u->s)->timeout_ms = timeout_ms;
        mvl_getuservalue(L, 1);
        lua_getfield(L, -1, "trace");
        pop3_pp(u->s)->trace_on = lua_isfunction(L, -1);
        lua_pop(L, 2);
        /* Values are checked before any connection (CHECKLIST 41). */
        if (pop3_configure(u->s, &o) != MV_OK) {
            e = *pop3_error(u->s);
            teardown(u);
            return push_error(L, &e);
        }
        mv_error_clear(&e);
        u->fd = mv_net_connect(o.host, port, timeout_ms, &loopback, &e);
        if (u->fd < 0) {
            teardown(u);
            return push_error(L, &e);
        }
        pop3_set_loopback(u->s, loopback && !assume_remote);
    }
    if (pop3_begin_open(u->s) != MV_OK
        || run(L, u) != MV_OK) {
        e = *pop3_error(u->s);
        teardown(u);
        return push_error(L, &e);
    }
    lua_settop(L, 1);
    return 1;
}

static unsigned long check_number(lua_State *L, int idx)
{
    lua_Integer n;
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_argerror(L, idx, "message number expected");
    n = luaL_checkinteger(L, idx);
    if (n < 1 || n > 0x7fffffff) luaL_argerror(L, idx, "message number out of range");
    return (unsigned long)n;
}

static int simple(lua_State *L, pop3_verb v, unsigned long n)
{
    lpop3 *u = check_open(L);
    if (pop3_begin(u->s, v, n, 0, 0, 0) != MV_OK || run(L, u) != MV_OK)
        return push_session_error(L, u);
    return 0;
}

static int l_stat(lua_State *L)
{
    unsigned long count;
    unsigned long long size;
    int r = simple(L, POP3_STAT, 0);
    if (r) return r;
    pop3_stat_result(check_open(L)->s, &count, &size);
    lua_pushinteger(L, (lua_Integer)count);
    lua_pushinteger(L, (lua_Integer)size);
    return 2;
}

static int listing(lua_State *L, pop3_verb v)
{
    unsigned long n = lua_isnoneornil(L, 2) ? 0 : check_number(L, 2);
    size_t i, cnt;
    pop3_session *s;
    int r = simple(L, v, n);
    if (r) return r;
    s = check_open(L)->s;
    cnt = pop3_entry_count(s);
    if (n > 0) {
        const pop3_entry *e = pop3_entry_at(s, 0);
        if (v == POP3_LIST) lua_pushinteger(L, (lua_Integer)e->size);
        else lua_pushstring(L, e->uid);
        return 1;
    }
    lua_createtable(L, 0, (int)(cnt < 1000000 ? cnt : 0));
    for (i = 0; i < cnt; i++) {
        const pop3_entry *e = pop3_entry_at(s, i);
        if (v == POP3_LIST) lua_pushinteger(L, (lua_Integer)e->size);
        else lua_pushstring(L, e->uid);
        lua_rawseti(L, -2, (int)e->n);
    }
    return 1;
}

static int l_list(lua_State *L) { return listing(L, POP3_LIST); }
static int l_uidl(lua_State *L) { return listing(L, POP3_UIDL); }

static int l_delete(lua_State *L)
{
    int r = simple(L, POP3_DELE, check_number(L, 2));
    if (r) return r;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_reset(lua_State *L)
{
    int r = simple(L, POP3_RSET, 0);
    if (r) return r;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_noop(lua_State *L)
{
    int r = simple(L, POP3_NOOP, 0);
    if (r) return r;
    lua_pushboolean(L, 1);
    return 1;
}

/* Calls the sink with a chunk: a function, or an object with :write (a file).
 * Returns nil on success, else pushes nothing and returns an error string on the
 * stack top (the sink said no), or raises what the sink raised. */
static int call_sink(lua_State *L, int sink, const char *p, size_t n)
{
    int top = lua_gettop(L);
    if (lua_isfunction(L, sink)) {
        lua_pushvalue(L, sink);
        lua_pushlstring(L, p, n);
        if (lua_pcall(L, 1, 2, 0) != 0) return -1;
    } else {
        lua_getfield(L, sink, "write");
        lua_pushvalue(L, sink);
        lua_pushlstring(L, p, n);
        if (lua_pcall(L, 2, 2, 0) != 0) return -1;
    }
    /* Fails on false, or on nil followed by an error (the io/ltn12 convention). */
    if ((lua_isboolean(L, -2) && !lua_toboolean(L, -2))
        || (lua_isnil(L, -2) && !lua_isnil(L, -1))) {
        lua_pushfstring(L, "sink failed: %s",
                        lua_isstring(L, -1) ? lua_tostring(L, -1) : "returned false");
        lua_replace(L, top + 1);
        lua_settop(L, top + 1);
        return 1;
    }
    lua_settop(L, top);
    return 0;
}

static void call_progress(lua_State *L, int prog, lpop3 *u, unsigned long long expect)
{
    if (lua_isnil(L, prog)) return;
    lua_pushvalue(L, prog);
    lua_pushinteger(L, (lua_Integer)pop3_body_bytes(u->s));
    if (expect > 0) lua_pushinteger(L, (lua_Integer)expect); else lua_pushnil(L);
    lua_call(L, 2, 0);
}

/* RETR or TOP with: arg 2 n, then (lines, sink, expect, progress) at fixed places. */
static int fetch(lua_State *L, lpop3 *u, unsigned long n, int top, unsigned long lines,
                 int sink, unsigned long long expect, int prog)
{
    int r, sres;
    int have_sink = !lua_isnil(L, sink);
    mv_buf *body;
    if (pop3_begin(u->s, top ? POP3_TOP : POP3_RETR, n, lines, expect,
                   have_sink || !lua_isnil(L, prog)) != MV_OK)
        return push_session_error(L, u);
    for (;;) {
        r = run(L, u);
        if (r != MV_OK && r != MV_WANT_DATA) return push_session_error(L, u);
        body = pop3_body(u->s);
        if (have_sink && mv_buf_avail(body) > 0) {
            sres = call_sink(L, sink, (const char *)mv_buf_head(body), mv_buf_avail(body));
            mv_buf_reset(body);
            if (sres != 0) {
                /* No handoff, so no DELE; read the rest to keep the session usable. */
                if (r == MV_WANT_DATA) {
                    if (pop3_discard_rest(u->s) != MV_OK || run(L, u) != MV_OK) {
                        pop3_mark_dead(u->s);
                        if (u->fd >= 0) mv_net_close(u->fd);
                        u->fd = -1;
                    }
                }
                if (sres < 0) return lua_error(L);
                lua_pushnil(L);
                lua_insert(L, -2);
                lua_pushliteral(L, "io");
                return 3;
            }
        }
        if (r == MV_WANT_DATA || r == MV_OK) call_progress(L, prog, u, expect);
        if (r == MV_OK) break;
    }
    if (have_sink) {
        lua_pushboolean(L, 1);
    } else {
        body = pop3_body(u->s);
        lua_pushlstring(L, (const char *)mv_buf_head(body), mv_buf_avail(body));
        mv_buf_free(body);
    }
    return 1;
}

static void check_sink(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx) || lua_isfunction(L, idx)) return;
    if (lua_type(L, idx) == LUA_TUSERDATA || lua_type(L, idx) == LUA_TTABLE) {
        lua_getfield(L, idx, "write");
        if (!lua_isnil(L, -1)) { lua_pop(L, 1); return; }
    }
    luaL_argerror(L, idx, "sink must be a function or have a write method");
}

static void push_progress(lua_State *L, int arg)
{
    if (!lua_isnoneornil(L, arg)) {
        luaL_checktype(L, arg, LUA_TFUNCTION);
        lua_pushvalue(L, arg);
        return;
    }
    mvl_getuservalue(L, 1);
    lua_getfield(L, -1, "progress");
    lua_remove(L, -2);
}

/* s:retrieve(n[, sink[, progress]]) */
static int l_retrieve(lua_State *L)
{
    lpop3 *u = check_open(L);
    unsigned long n = check_number(L, 2);
    check_sink(L, 3);
    lua_settop(L, 4);
    push_progress(L, 4);
    return fetch(L, u, n, 0, 0, 3, 0, 5);
}

/* s:top(n, lines) */
static int l_top(lua_State *L)
{
    lpop3 *u = check_open(L);
    unsigned long n = check_number(L, 2);
    lua_Integer lines = luaL_checkinteger(L, 3);
    if (lines < 0 || lines > 0x7fffffff) luaL_argerror(L, 3, "line count out of range");
    lua_settop(L, 3);
    lua_pushnil(L);                     /* 4: no sink */
    push_progress(L, 5);                /* 5 */
    return fetch(L, u, n, 1, (unsigned long)lines, 4, 0, 5);
}

/* s:_fetch(n, lines|nil, expect|nil): for the iterators (pipelined replies). */
static int l_fetch(lua_State *L)
{
    lpop3 *u = check_open(L);
    unsigned long n = check_number(L, 2);
    int top = !lua_isnoneornil(L, 3);
    lua_Integer lines = top ? luaL_checkinteger(L, 3) : 0;
    lua_Integer expect = luaL_optinteger(L, 4, 0);
    if (lines < 0 || expect < 0) luaL_argerror(L, 3, "out of range");
    lua_settop(L, 4);
    lua_pushnil(L);                     /* 5: no sink */
    push_progress(L, 6);                /* 6 */
    return fetch(L, u, n, top, (unsigned long)lines, 5, (unsigned long long)expect, 6);
}

/* s:_ahead(verb, n[, lines[, expect]]): send a command now, read its reply later. */
static int l_ahead(lua_State *L)
{
    static const char *const names[] = { "RETR", "TOP", "DELE", NULL };
    static const pop3_verb vs[] = { POP3_RETR, POP3_TOP, POP3_DELE };
    lpop3 *u = check_open(L);
    int v = luaL_checkoption(L, 2, NULL, names);
    unsigned long n = check_number(L, 3);
    lua_Integer lines = luaL_optinteger(L, 4, 0);
    lua_Integer expect = luaL_optinteger(L, 5, 0);
    if (lines < 0 || expect < 0) luaL_argerror(L, 4, "out of range");
    if (pop3_send_ahead(u->s, vs[v], n, (unsigned long)lines,
                        (unsigned long long)expect) != MV_OK)
        return push_session_error(L, u);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_pending(lua_State *L)
{
    lpop3 *u = check_open(L);
    lua_pushinteger(L, (lua_Integer)pop3_pending(u->s));
    return 1;
}

/* Reads and drops every reply still owed (pipelined commands); true or nil, err. */
static int l_settle(lua_State *L)
{
    lpop3 *u = check_open(L);
    while (pop3_pending(u->s) > 0) {
        int r = simple(L, POP3_NOOP, 0);
        if (r) return r;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_dele_error(lua_State *L)
{
    lpop3 *u = check_open(L);
    mv_error e;
    if (!pop3_take_dele_error(u->s, &e)) return 0;
    return push_error(L, &e);
}

/* QUIT when the connection is still good, then free.  Reports a QUIT -ERR
 * (CHECKLIST 39).  Never QUITs after an error left deletions uncertain: such an
 * error kills the session, and a dead session is only freed (RFC 1939 §6). */
static int l_close(lua_State *L)
{
    lpop3 *u = luaL_checkudata(L, 1, POP3_MT);
    mv_error e;
    int failed = 0;
    if (u->s == NULL) {
        lua_pushboolean(L, 1);
        return 1;
    }
    mv_error_clear(&e);
    if (u->fd >= 0 && !pop3_is_dead(u->s)) {
        mv_pp *pp = pop3_pp(u->s);
        if (pp->timeout_ms <= 0 || pp->timeout_ms > 10000) pp->timeout_ms = 10000;
        if (pop3_begin(u->s, POP3_QUIT, 0, 0, 0, 0) != MV_OK || run(L, u) != MV_OK) {
            e = *pop3_error(u->s);
            failed = 1;
        }
        if (u->s != NULL && u->fd >= 0) {
            mv_conn_close_notify(&pp->conn);
            mv_pp_arm(pp);
            (void)mv_net_flush(u->fd, pp);
        }
    }
    if (u->s != NULL) teardown(u);
    if (failed && e.kind == MV_E_REPLY) return push_error(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_gc(lua_State *L)
{
    lpop3 *u = luaL_checkudata(L, 1, POP3_MT);
    if (u->s != NULL) teardown(u);
    return 0;
}

static int l_toclose(lua_State *L)
{
    if (!lua_isnoneornil(L, 2)) return l_gc(L);
    lua_settop(L, 1);
    l_close(L);
    return 0;
}

static int l_tostring(lua_State *L)
{
    lpop3 *u = luaL_checkudata(L, 1, POP3_MT);
    if (u->s == NULL) lua_pushliteral(L, "pop3.session (closed)");
    else lua_pushfstring(L, "pop3.session (%p)", (void *)u);
    return 1;
}

static int l_closed(lua_State *L)
{
    lpop3 *u = luaL_checkudata(L, 1, POP3_MT);
    lua_pushboolean(L, u->s == NULL);
    return 1;
}

/* {TOP = true, SASL = {"PLAIN", ...}, IMPLEMENTATION = "...", ...} from the last CAPA. */
static int l_capabilities(lua_State *L)
{
    lpop3 *u = check_open(L);
    size_t n, i = 0;
    const char *t = pop3_capa_lines(u->s, &n);
    lua_newtable(L);
    while (i < n) {
        size_t start = i, kw, k;
        char key[64];
        while (i < n && t[i] != '\n') i++;
        kw = start;
        while (kw < i && t[kw] != ' ') kw++;
        if (kw > start && kw - start < sizeof key) {
            for (k = 0; k < kw - start; k++) {
                char c = t[start + k];
                key[k] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
            }
            key[kw - start] = '\0';
            if (kw == i) {
                lua_pushboolean(L, 1);
            } else if (strcmp(key, "SASL") == 0) {
                size_t p = kw + 1;
                int idx = 0;
                lua_newtable(L);
                while (p < i) {
                    size_t w = p;
                    while (w < i && t[w] != ' ') w++;
                    if (w > p) {
                        lua_pushlstring(L, t + p, w - p);
                        lua_rawseti(L, -2, ++idx);
                    }
                    p = w + 1;
                }
            } else {
                char clean[512];
                mv_sanitize(clean, sizeof clean, t + kw + 1, i - kw - 1);
                lua_pushstring(L, clean);
            }
            lua_setfield(L, -2, key);
        }
        i++;
    }
    return 1;
}

static int l_tls_info(lua_State *L)
{
    lpop3 *u = check_open(L);
    const mv_conn *c = &pop3_pp(u->s)->conn;
    if (!pop3_is_tls(u->s)) {
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
    lpop3 *u = check_open(L);
    const char *m = pop3_auth_used(u->s);
    if (m == NULL) lua_pushnil(L); else lua_pushstring(L, m);
    return 1;
}

static int l_pipelining(lua_State *L)
{
    lpop3 *u = check_open(L);
    lua_pushboolean(L, (pop3_caps(u->s) & POP3_CAP_PIPELINING) != 0);
    return 1;
}

static int l_has_apop(lua_State *L)
{
    lpop3 *u = check_open(L);
    lua_pushboolean(L, pop3_has_apop(u->s));
    return 1;
}

static const luaL_Reg methods[] = {
    { "stat", l_stat },
    { "list", l_list },
    { "uidl", l_uidl },
    { "retrieve", l_retrieve },
    { "top", l_top },
    { "delete", l_delete },
    { "reset", l_reset },
    { "noop", l_noop },
    { "close", l_close },
    { "is_closed", l_closed },
    { "capabilities", l_capabilities },
    { "tls_info", l_tls_info },
    { "auth_mechanism", l_auth_mechanism },
    { "pipelining", l_pipelining },
    { "has_apop", l_has_apop },
    { "_fetch", l_fetch },
    { "_ahead", l_ahead },
    { "_pending", l_pending },
    { "_settle", l_settle },
    { "_dele_error", l_dele_error },
    { NULL, NULL }
};

void mvl_open_pop3(lua_State *L)
{
    luaL_newmetatable(L, POP3_MT);
    lua_newtable(L);
    mvl_setfuncs(L, methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "pop3_methods");
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_toclose);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "pop3.session");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_pop3_open);
    lua_setfield(L, -2, "pop3_open");
}
