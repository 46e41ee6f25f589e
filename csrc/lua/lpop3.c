/* The pop3.session userdata: option checking, the protocol's primitives and results.
 * The sequences (begin, drive, hand body chunks to a sink, read the result) are in
 * lua/missive/pop3.lua, so they are the same whichever driver moves the bytes, and
 * sinks, progress and trace callbacks run in Lua frames only (a cosocket may yield). */
#include "lsession.h"
#include "pop3.h"
#include "mv_str.h"

#include <stdlib.h>
#include <string.h>

#define POP3_MT "missive.pop3.session"
#define QUIT_TIMEOUT_MS 10000
#define MAX_TIME_MS MV_DEFAULT_POP3_MAX_TIME_MS  /* a whole command or message */

typedef struct lpop3 {
    mvl_session base;   /* first: the generic methods see the session through it */
    int assume_remote;  /* test hook: treat a loopback peer as remote */
} lpop3;

static lpop3 *check_any(lua_State *L)
{
    return luaL_checkudata(L, 1, POP3_MT);
}

static lpop3 *check_open(lua_State *L)
{
    lpop3 *u = check_any(L);
    if (u->base.core == NULL) luaL_error(L, "attempt to use a closed session");
    return u;
}

#define S(u) ((pop3_session *)(u)->base.core)

static int step_fn(void *core) { return pop3_step(core); }
static void free_fn(void *core) { pop3_free(core); }
static int dead_fn(const void *core) { return pop3_is_dead(core); }
static void mark_dead_fn(void *core) { pop3_mark_dead(core); }
static int tls_fn(const void *core) { return pop3_is_tls(core); }
static void loopback_fn(mvl_session *u, int loopback)
{
    pop3_set_loopback(u->core, loopback && !((lpop3 *)u)->assume_remote);
}

static const mvl_protocol pop3_protocol = {
    "pop3.session", step_fn, free_fn, dead_fn, mark_dead_fn, loopback_fn, tls_fn
};

static void teardown(lpop3 *u)
{
    mvl_session_teardown(&u->base);
}

static int push_ok_or_error(lua_State *L, lpop3 *u, int r)
{
    return mvl_session_result(L, &u->base, r);
}

static void check_callback(lua_State *L, const char *name)
{
    lua_getfield(L, 1, name);
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        luaL_error(L, "option '%s' must be a function", name);
    lua_pop(L, 1);
}

/* core.pop3_new(opts, external): a configured session, not yet connected.  The option
 * table is already completed with defaults by missive.pop3. */
static int l_pop3_new(lua_State *L)
{
    pop3_opts o;
    lpop3 *u;
    int max_time_ms, external, trace_on;
    luaL_checktype(L, 1, LUA_TTABLE);
    external = lua_toboolean(L, 2);
    memset(&o, 0, sizeof o);
    mvl_opt_session(L, 1, &o.cfg, MV_DEFAULT_POP3_PORT, MV_TLS_IMPLICIT);
    o.max_size = (unsigned long long)mvl_opt_int(L, 1, "max_size", POP3_DEFAULT_MAX_SIZE);
    o.max_messages = (unsigned long)mvl_opt_int(L, 1, "max_messages", POP3_DEFAULT_MAX_MESSAGES);
    o.max_listing_bytes = (unsigned long long)mvl_opt_int(L, 1, "max_listing_bytes", 0);
    max_time_ms = mvl_opt_ms(L, 1, "max_time", MAX_TIME_MS);
    check_callback(L, "progress");
    lua_getfield(L, 1, "trace");
    trace_on = lua_isfunction(L, -1);
    lua_pop(L, 1);

    /* The userdata exists, closed, with its metatable, before anything is acquired. */
    u = mvl_newuserdata(L, sizeof *u);
    memset(u, 0, sizeof *u);
    mv_net_init(&u->base.net);
    u->base.proto = &pop3_protocol;
    mvl_setmetatable(L, POP3_MT);
    if (mvl_session_init(&u->base, &pop3_protocol, external, o.cfg.host, o.cfg.port,
                         o.cfg.timeout_ms) != 0
        || (u->base.core = pop3_new()) == NULL) {
        teardown(u);
        return luaL_error(L, "out of memory");
    }
    u->assume_remote = mvl_opt_bool(L, 1, "_assume_remote", 0);
    u->base.pp = pop3_pp(S(u));
    u->base.pp->timeout_ms = o.cfg.timeout_ms;
    u->base.pp->max_time_ms = max_time_ms;
    u->base.pp->trace_on = trace_on;
    /* Values are checked before any connection (CHECKLIST 41). */
    if (pop3_configure(S(u), &o) != MV_OK) {
        mv_error e = *pop3_error(S(u));
        teardown(u);
        return mvl_push_error(L, &e);
    }
    return 1;
}

/* s:_connect(): the native driver's connect (getaddrinfo, deadline). */
static int l_begin_open(lua_State *L)
{
    lpop3 *u = check_open(L);
    return push_ok_or_error(L, u, pop3_begin_open(S(u)));
}

static const char *const verb_names[] = {
    "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "NOOP", "QUIT", NULL
};
static const pop3_verb verb_values[] = {
    POP3_STAT, POP3_LIST, POP3_UIDL, POP3_RETR, POP3_TOP, POP3_DELE, POP3_RSET, POP3_NOOP,
    POP3_QUIT
};

/* An optional count at idx: nil is 0; a non-integer or out of range raises. */
static unsigned long long opt_count(lua_State *L, int idx, unsigned long long max)
{
    lua_Integer v;
    if (lua_isnoneornil(L, idx)) return 0;
    if (lua_type(L, idx) != LUA_TNUMBER) luaL_argerror(L, idx, "number expected");
    v = luaL_checkinteger(L, idx);
    if (v < 0 || (unsigned long long)v > max) luaL_argerror(L, idx, "out of range");
    return (unsigned long long)v;
}

/* s:_begin_command(verb[, n[, lines[, expect[, stream]]]]): n is the message number
 * (nil: none, or the whole listing for LIST/UIDL), lines for TOP, expect the size LIST
 * gave (to catch a lying server), stream true to stop with "chunk" at each body piece.
 * The reply of a command sent ahead with the same arguments is read, not sent again. */
static int l_begin_command(lua_State *L)
{
    lpop3 *u = check_open(L);
    pop3_verb v = verb_values[luaL_checkoption(L, 2, NULL, verb_names)];
    unsigned long n = (unsigned long)opt_count(L, 3, POP3_MAX_MSG_NUMBER);
    unsigned long lines = (unsigned long)opt_count(L, 4, POP3_MAX_TOP_LINES);
    unsigned long long expect = opt_count(L, 5, 0x7fffffffffffffffULL);
    int stream = lua_toboolean(L, 6);
    if (v == POP3_QUIT) {
        /* Saying goodbye should not take a full command timeout. */
        mv_pp *pp = u->base.pp;
        if (pp->timeout_ms <= 0 || pp->timeout_ms > QUIT_TIMEOUT_MS)
            pp->timeout_ms = QUIT_TIMEOUT_MS;
    }
    return push_ok_or_error(L, u, pop3_begin(S(u), v, n, lines, expect, stream));
}

/* s:_send_ahead(verb, n[, lines[, expect]]): RETR, TOP or DELE queued now (PIPELINING);
 * the bytes go out with the next drive, the reply is read by a later _begin_command. */
static int l_send_ahead(lua_State *L)
{
    static const char *const names[] = { "RETR", "TOP", "DELE", NULL };
    static const pop3_verb vs[] = { POP3_RETR, POP3_TOP, POP3_DELE };
    lpop3 *u = check_open(L);
    pop3_verb v = vs[luaL_checkoption(L, 2, NULL, names)];
    unsigned long n = (unsigned long)opt_count(L, 3, POP3_MAX_MSG_NUMBER);
    unsigned long lines = (unsigned long)opt_count(L, 4, POP3_MAX_TOP_LINES);
    unsigned long long expect = opt_count(L, 5, 0x7fffffffffffffffULL);
    return push_ok_or_error(L, u, pop3_send_ahead(S(u), v, n, lines, expect));
}

#define BODY_KEEP (256 * 1024)

/* s:_take_body([final]): the unstuffed body bytes received since the last take (at
 * most about one chunk in stream mode); final also frees the buffer when it is big. */
static int l_take_body(lua_State *L)
{
    lpop3 *u = check_open(L);
    mv_buf *b = pop3_body(S(u));
    size_t n = mv_buf_avail(b);
    if (n == 0) lua_pushliteral(L, "");
    else lua_pushlstring(L, (const char *)mv_buf_head(b), n);
    /* Final: a small buffer is kept for the next message (no malloc and page faults
     * per message); a big one is freed.  No wipe: message text is not a secret. */
    if (lua_toboolean(L, 2) && b->cap > BODY_KEEP) {
        free(b->data);
        mv_buf_init(b);
    } else {
        mv_buf_reset(b);
    }
    return 1;
}

/* After a sink failed mid-message: the rest is read into the void by the next drive. */
static int l_discard_rest(lua_State *L)
{
    lpop3 *u = check_open(L);
    return push_ok_or_error(L, u, pop3_discard_rest(S(u)));
}

static int l_body_bytes(lua_State *L)
{
    lpop3 *u = check_open(L);
    lua_pushinteger(L, (lua_Integer)pop3_body_bytes(S(u)));
    return 1;
}

/* count, size of the last STAT. */
static int l_stat_result(lua_State *L)
{
    lpop3 *u = check_open(L);
    unsigned long count;
    unsigned long long size;
    pop3_stat_result(S(u), &count, &size);
    lua_pushinteger(L, (lua_Integer)count);
    lua_pushinteger(L, (lua_Integer)size);
    return 2;
}

/* s:_entries(uidl, single): the last LIST/UIDL as {[n] = size | uid}, or the value of
 * its one entry. */
static int l_entries(lua_State *L)
{
    lpop3 *u = check_open(L);
    int uidl = lua_toboolean(L, 2), single = lua_toboolean(L, 3);
    size_t i, cnt = pop3_entry_count(S(u));
    if (single) {
        const pop3_entry *e;
        if (cnt == 0) return 0;
        e = pop3_entry_at(S(u), 0);
        if (uidl) lua_pushstring(L, e->uid); else lua_pushinteger(L, (lua_Integer)e->size);
        return 1;
    }
    lua_createtable(L, 0, (int)(cnt < POP3_DEFAULT_MAX_MESSAGES ? cnt : 0));
    for (i = 0; i < cnt; i++) {
        const pop3_entry *e = pop3_entry_at(S(u), i);
        if (uidl) lua_pushstring(L, e->uid); else lua_pushinteger(L, (lua_Integer)e->size);
        lua_rawseti(L, -2, (int)e->n);
    }
    return 1;
}

static int l_pending(lua_State *L)
{
    lpop3 *u = check_open(L);
    lua_pushinteger(L, (lua_Integer)pop3_pending(S(u)));
    return 1;
}

/* nil, message, "reply", reply for a refused sent-ahead DELE (taken once), or nothing. */
static int l_dele_error(lua_State *L)
{
    lpop3 *u = check_open(L);
    mv_error e;
    if (!pop3_take_dele_error(S(u), &e)) return 0;
    return mvl_push_error(L, &e);
}

static int l_reply(lua_State *L)
{
    lpop3 *u = check_open(L);
    mvl_push_reply(L, pop3_last_reply(S(u)));
    return 1;
}

/* {TOP = true, SASL = {"PLAIN", ...}, IMPLEMENTATION = "...", ...} from the last CAPA. */
static int l_capabilities(lua_State *L)
{
    lpop3 *u = check_open(L);
    size_t n, i = 0;
    const char *t = pop3_capa_lines(S(u), &n);
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

static int l_auth_mechanism(lua_State *L)
{
    lpop3 *u = check_open(L);
    const char *m = pop3_auth_used(S(u));
    if (m == NULL) lua_pushnil(L); else lua_pushstring(L, m);
    return 1;
}

static int l_pipelining(lua_State *L)
{
    lpop3 *u = check_open(L);
    lua_pushboolean(L, (pop3_caps(S(u)) & POP3_CAP_PIPELINING) != 0);
    return 1;
}

static int l_has_apop(lua_State *L)
{
    lpop3 *u = check_open(L);
    lua_pushboolean(L, pop3_has_apop(S(u)));
    return 1;
}

static const luaL_Reg methods[] = {
    { "_begin_open", l_begin_open }, { "_begin_command", l_begin_command },
    { "_send_ahead", l_send_ahead }, { "_take_body", l_take_body },
    { "_discard_rest", l_discard_rest }, { "_body_bytes", l_body_bytes },
    { "_stat_result", l_stat_result }, { "_entries", l_entries },
    { "_pending", l_pending }, { "_dele_error", l_dele_error }, { "_reply", l_reply },
    { "capabilities", l_capabilities },
    { "auth_mechanism", l_auth_mechanism },
    { "pipelining", l_pipelining }, { "has_apop", l_has_apop },
    { NULL, NULL }
};

void mvl_open_pop3(lua_State *L)
{
    mvl_session_metatable(L, POP3_MT, "pop3.session", methods);
    /* missive.pop3 adds the public methods and __close to this metatable. */
    lua_setfield(L, -2, "pop3_mt");
    lua_pushcfunction(L, l_pop3_new);
    lua_setfield(L, -2, "pop3_new");
    /* missive.pop3 checks its arguments against the core's bounds. */
    lua_pushinteger(L, (lua_Integer)POP3_MAX_MSG_NUMBER);
    lua_setfield(L, -2, "pop3_max_msg_number");
    lua_pushinteger(L, (lua_Integer)POP3_MAX_TOP_LINES);
    lua_setfield(L, -2, "pop3_max_top_lines");
}
