/* The imap.session userdata: options, commands built from typed arguments, and the
 * server's responses as Lua tables (parsed in C: imap_data.h).  The sequences (what to
 * send, how to collect the results and events) are in lua/missive/imap.lua, so they are
 * the same whichever driver moves the bytes. */
#include "lsession.h"
#include "limap.h"
#include "mv_str.h"

#include <stdlib.h>
#include <string.h>

#define IMAP_MT "missive.imap.session"
#define MAX_TIME_MS (10 * 60 * 1000)

typedef struct limap {
    mvl_session base;
    int assume_remote;
} limap;

#define S(u) ((imap_session *)(u)->base.core)

static limap *check_open(lua_State *L)
{
    limap *u = luaL_checkudata(L, 1, IMAP_MT);
    if (u->base.core == NULL) luaL_error(L, "attempt to use a closed session");
    return u;
}

imap_session *mvl_imap_check(lua_State *L)
{
    return S(check_open(L));
}

static int step_fn(void *core) { return imap_step(core); }
static void free_fn(void *core) { imap_free(core); }
static int dead_fn(const void *core) { return imap_is_dead(core); }
static void mark_dead_fn(void *core) { imap_mark_dead(core); }
static int tls_fn(const void *core) { return imap_is_tls(core); }
static void loopback_fn(mvl_session *u, int loopback)
{
    imap_set_loopback(u->core, loopback && !((limap *)u)->assume_remote);
}

static const mvl_protocol imap_protocol = {
    "imap.session", step_fn, free_fn, dead_fn, mark_dead_fn, loopback_fn, tls_fn
};

static int push_ok_or_error(lua_State *L, limap *u, int r)
{
    return mvl_session_result(L, &u->base, r);
}

/* A command begun: true and its tag; false when it must wait for the commands in
 * flight (nothing sent); or the failure. */
static int push_sent(lua_State *L, limap *u, int r)
{
    if (r == IMAP_BUSY) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (r != MV_OK) return mvl_session_error(L, &u->base);
    lua_pushboolean(L, 1);
    lua_pushstring(L, imap_sent_tag(S(u)));
    return 2;
}

/* s:_done_tag(): the tag of the command the last tagged reply completed; s:_in_flight():
 * how many commands wait for their tagged replies. */
static int l_done_tag(lua_State *L)
{
    limap *u = check_open(L);
    lua_pushstring(L, imap_done_tag(S(u)));
    return 1;
}

static int l_in_flight(lua_State *L)
{
    limap *u = check_open(L);
    lua_pushinteger(L, (lua_Integer)imap_in_flight(S(u)));
    return 1;
}

/* core.imap_new(opts, external) */
static int l_imap_new(lua_State *L)
{
    imap_opts o;
    limap *u;
    int max_time_ms, external, trace_on;
    luaL_checktype(L, 1, LUA_TTABLE);
    external = lua_toboolean(L, 2);
    memset(&o, 0, sizeof o);
    mvl_opt_session(L, 1, &o.cfg, 993, MV_TLS_IMPLICIT);
    o.max_size = (unsigned long long)mvl_opt_int(L, 1, "max_size", 0);
    o.enable = mvl_opt_bool(L, 1, "enable", 1);
    max_time_ms = mvl_opt_ms(L, 1, "max_time", MAX_TIME_MS);
    lua_getfield(L, 1, "trace");
    trace_on = lua_isfunction(L, -1);
    lua_pop(L, 1);
    u = mvl_newuserdata(L, sizeof *u);
    memset(u, 0, sizeof *u);
    mv_net_init(&u->base.net);
    u->base.proto = &imap_protocol;
    mvl_setmetatable(L, IMAP_MT);
    if (mvl_session_init(&u->base, &imap_protocol, external, o.cfg.host, o.cfg.port,
                         o.cfg.timeout_ms) != 0
        || (u->base.core = imap_new()) == NULL) {
        mvl_session_teardown(&u->base);
        return luaL_error(L, "out of memory");
    }
    u->assume_remote = mvl_opt_bool(L, 1, "_assume_remote", 0);
    u->base.pp = imap_pp(S(u));
    u->base.pp->timeout_ms = o.cfg.timeout_ms;
    u->base.pp->max_time_ms = max_time_ms;
    u->base.pp->trace_on = trace_on;
    if (imap_configure(S(u), &o) != MV_OK) {
        mv_error e = *imap_error(S(u));
        mvl_session_teardown(&u->base);
        return mvl_push_error(L, &e);
    }
    return 1;
}

static int l_begin_open(lua_State *L)
{
    limap *u = check_open(L);
    return push_ok_or_error(L, u, imap_begin_open(S(u)));
}

/* s:_command({args}, stream): each argument is a string whose first byte says how it
 * goes: "a" atom (checked), "s" string (quoted or literal), "A" astring, "m" mailbox
 * name (UTF-8), "l" literal, "(" and ")" alone. */
static int l_command(lua_State *L)
{
    limap *u = check_open(L);
    imap_cmd c;
    size_t i, n;
    luaL_checktype(L, 2, LUA_TTABLE);
    imap_cmd_for(S(u), &c);
    n = (size_t)mvl_rawlen(L, 2);
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *a;
        lua_rawgeti(L, 2, (int)i);
        a = lua_tolstring(L, -1, &len);
        if (a == NULL || len == 0) {
            imap_cmd_free(&c);
            return luaL_error(L, "bad IMAP command argument %d", (int)i);
        }
        switch (a[0]) {
        case 'a': imap_cmd_atom(&c, a + 1, len - 1); break;
        case 's': imap_cmd_string(&c, a + 1, len - 1); break;
        case 'A': imap_cmd_astring(&c, a + 1, len - 1); break;
        case 'm': imap_cmd_mailbox(&c, a + 1, len - 1); break;
        case 'l': imap_cmd_literal(&c, a + 1, len - 1); break;
        case 'L': {
            /* "L<size>": a literal whose bytes _feed supplies while it goes out */
            char *end;
            unsigned long long size = strtoull(a + 1, &end, 10);
            if (len < 2 || *end != '\0') {
                imap_cmd_free(&c);
                return luaL_error(L, "bad IMAP command argument %d", (int)i);
            }
            imap_cmd_literal_ext(&c, size);
            break;
        }
        case '(': imap_cmd_open(&c); break;
        case ')': imap_cmd_close(&c); break;
        default:
            imap_cmd_free(&c);
            return luaL_error(L, "bad IMAP command argument %d", (int)i);
        }
        lua_pop(L, 1);
    }
    if (c.failed) {
        mv_error e = c.err;
        imap_cmd_free(&c);
        return mvl_push_error(L, &e);
    }
    return push_sent(L, u, imap_begin_command(S(u), &c, lua_toboolean(L, 3)));
}

/* s:_feed(bytes): the next piece of a literal being sent (after "body"). */
static int l_feed(lua_State *L)
{
    limap *u = check_open(L);
    size_t n;
    const char *d = luaL_checklstring(L, 2, &n);
    return push_ok_or_error(L, u, imap_feed(S(u), d, n));
}

static int l_wait(lua_State *L)
{
    limap *u = check_open(L);
    lua_Number sec = luaL_checknumber(L, 2);
    int ms = sec <= 0 ? 0 : sec > 86400 ? 86400000 : (int)(sec * 1000);
    return push_ok_or_error(L, u, imap_begin_wait(S(u), ms));
}

static int l_done(lua_State *L)
{
    limap *u = check_open(L);
    return push_ok_or_error(L, u, imap_begin_done(S(u)));
}

static int l_idling(lua_State *L)
{
    limap *u = check_open(L);
    lua_pushboolean(L, imap_is_idling(S(u)));
    return 1;
}

/* ------------------------------------------------------------------ responses */

static void push_str(lua_State *L, imap_str s)
{
    if (s.s == NULL) lua_pushnil(L);
    else lua_pushlstring(L, s.s, s.len);
}

static void set_str(lua_State *L, const char *k, imap_str s)
{
    if (s.s == NULL) return;
    lua_pushlstring(L, s.s, s.len);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static void push_strs(lua_State *L, const imap_strs *v)
{
    size_t i;
    lua_createtable(L, (int)(v->n < 1000 ? v->n : 1000), 0);
    for (i = 0; i < v->n; i++) {
        push_str(L, v->v[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

static void upper_name(lua_State *L, imap_str s)
{
    char b[32];
    size_t i, n = s.len < sizeof b ? s.len : sizeof b;
    for (i = 0; i < n; i++) {
        char c = s.s[i];
        b[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    lua_pushlstring(L, b, n);
}

static void push_addrs(lua_State *L, const imap_addrs *a)
{
    size_t i;
    int k = 0;
    lua_createtable(L, (int)a->n, 0);
    for (i = 0; i < a->n; i++) {
        const imap_addr *x = &a->v[i];
        if (x->host.s == NULL) continue;   /* group markers */
        lua_createtable(L, 0, 4);
        set_str(L, "name", x->name);
        set_str(L, "mailbox", x->mailbox);
        set_str(L, "host", x->host);
        if (x->mailbox.s != NULL) {
            lua_pushlstring(L, x->mailbox.s, x->mailbox.len);
            lua_pushliteral(L, "@");
            lua_pushlstring(L, x->host.s, x->host.len);
            lua_concat(L, 3);
            lua_setfield(L, -2, "address");
        }
        lua_rawseti(L, -2, ++k);
    }
}

static void push_envelope(lua_State *L, const imap_envelope *e)
{
    lua_createtable(L, 0, 10);
    set_str(L, "date", e->date);
    set_str(L, "subject", e->subject);
    set_str(L, "in_reply_to", e->in_reply_to);
    set_str(L, "message_id", e->message_id);
#define ADDRS(f) push_addrs(L, &e->f); lua_setfield(L, -2, #f)
    ADDRS(from); ADDRS(sender); ADDRS(reply_to); ADDRS(to); ADDRS(cc); ADDRS(bcc);
#undef ADDRS
}

static void push_params(lua_State *L, const imap_param *p, size_t n)
{
    size_t i;
    lua_createtable(L, 0, (int)n);
    for (i = 0; i < n; i++) {
        if (p[i].name.s == NULL || p[i].value.s == NULL) continue;
        lua_pushlstring(L, p[i].name.s, p[i].name.len);
        lua_pushlstring(L, p[i].value.s, p[i].value.len);
        lua_settable(L, -3);
    }
}

static void push_body(lua_State *L, const imap_body *b)
{
    size_t i;
    luaL_checkstack(L, 8, "body structure too deep");
    lua_createtable(L, 0, 12);
    set_str(L, "type", b->type);
    set_str(L, "subtype", b->subtype);
    set_str(L, "section", b->section);
    push_params(L, b->params, b->nparams);
    lua_setfield(L, -2, "params");
    set_str(L, "id", b->id);
    set_str(L, "description", b->description);
    set_str(L, "encoding", b->encoding);
    set_int(L, "size", b->size);
    if (b->lines) set_int(L, "lines", b->lines);
    set_str(L, "disposition", b->disposition);
    if (b->ndparams > 0) {
        push_params(L, b->dparams, b->ndparams);
        lua_setfield(L, -2, "disposition_params");
    }
    if (b->envelope != NULL) {
        push_envelope(L, b->envelope);
        lua_setfield(L, -2, "envelope");
    }
    if (b->nparts > 0) {
        lua_createtable(L, (int)b->nparts, 0);
        for (i = 0; i < b->nparts; i++) {
            push_body(L, &b->parts[i]);
            lua_rawseti(L, -2, (int)i + 1);
        }
        lua_setfield(L, -2, "parts");
    }
}

static int push_fetch(lua_State *L, const imap_resp *r, imap_arena *a, mv_error *e)
{
    imap_fetch f;
    size_t i;
    if (imap_parse_fetch(r, a, &f, e) != 0) return -1;
    if (f.has & IMAP_F_UID) set_int(L, "uid", f.uid);
    if (f.has & IMAP_F_FLAGS) {
        push_strs(L, &f.flags);
        lua_setfield(L, -2, "flags");
    }
    if (f.has & IMAP_F_SIZE) set_int(L, "size", f.size);
    if (f.has & IMAP_F_MODSEQ) set_int(L, "modseq", f.modseq);
    if (f.has & IMAP_F_INTERNALDATE) {
        int64_t t;
        set_str(L, "internal_date", f.internaldate);
        if (imap_parse_date_time(f.internaldate, &t) == 0) set_int(L, "internal_time",
                                                                   (uint64_t)t);
    }
    if (f.has & IMAP_F_ENVELOPE) {
        imap_envelope env;
        if (imap_parse_envelope(r, f.envelope, a, &env, e) != 0) return -1;
        push_envelope(L, &env);
        lua_setfield(L, -2, "envelope");
    }
    if (f.has & IMAP_F_BODYSTRUCTURE) {
        imap_body b;
        if (imap_parse_body(r, f.body, 64, a, &b, e) != 0) return -1;
        push_body(L, &b);
        lua_setfield(L, -2, "bodystructure");
    }
    if (f.nsections > 0) {
        lua_createtable(L, 0, (int)f.nsections);
        for (i = 0; i < f.nsections; i++) {
            const imap_section *sec = &f.sections[i];
            const imap_node *nd = &r->nodes[sec->node];
            push_str(L, sec->section);
            if (nd->type == IMAP_V_STREAMED) lua_pushboolean(L, 1);
            else push_str(L, imap_node_str(r, sec->node));
            lua_settable(L, -3);
        }
        lua_setfield(L, -2, "sections");
    }
    return 0;
}

/* One untagged response's fields into the table on top, by response name.  `utf8`: the
 * session enabled UTF8=ACCEPT (mailbox names are then UTF-8 as they are). */
typedef int (*push_fn)(lua_State *L, const imap_resp *r, int utf8, imap_arena *a,
                       mv_error *e);

static int push_fetch_data(lua_State *L, const imap_resp *r, int utf8, imap_arena *a,
                           mv_error *e)
{
    (void)utf8;
    return push_fetch(L, r, a, e);
}

static int push_search(lua_State *L, const imap_resp *r, int utf8, imap_arena *a, mv_error *e)
{
    imap_search sr;
    size_t i;
    (void)utf8;
    if (imap_parse_search(r, a, &sr, e) != 0) return -1;
    lua_createtable(L, (int)(sr.n < 1000000 ? sr.n : 0), 0);
    for (i = 0; i < sr.n; i++) {
        lua_pushinteger(L, (lua_Integer)sr.v[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "uids");
    if (sr.has_modseq) set_int(L, "modseq", sr.modseq);
    return 0;
}

static int push_esearch(lua_State *L, const imap_resp *r, int utf8, imap_arena *a,
                        mv_error *e)
{
    imap_esearch es;
    (void)utf8;
    if (imap_parse_esearch(r, a, &es, e) != 0) return -1;
    set_str(L, "tag", es.tag);
    if (es.has & IMAP_ES_ALL) {
        if (mvl_imap_push_set(L, &es.all) != 0) return mv_fail(e, MV_E_LIMIT, "ESEARCH set too large");
    } else {
        lua_newtable(L);
    }
    lua_setfield(L, -2, "uids");
    if (es.has & IMAP_ES_COUNT) set_int(L, "count", es.count);
    if (es.has & IMAP_ES_MIN) set_int(L, "min", es.min);
    if (es.has & IMAP_ES_MAX) set_int(L, "max", es.max);
    if (es.has & IMAP_ES_MODSEQ) set_int(L, "modseq", es.modseq);
    return 0;
}

static int push_list(lua_State *L, const imap_resp *r, int utf8, imap_arena *a, mv_error *e)
{
    imap_mailbox mb;
    if (imap_parse_list(r, utf8, a, &mb, e) != 0) return -1;
    set_str(L, "mailbox", mb.name);
    set_str(L, "raw", mb.raw);
    if (mb.delim >= 0) {
        char d = (char)mb.delim;
        lua_pushlstring(L, &d, 1);
        lua_setfield(L, -2, "delimiter");
    }
    push_strs(L, &mb.attrs);
    lua_setfield(L, -2, "flags");
    if (mb.special != NULL) {
        lua_pushstring(L, mb.special);
        lua_setfield(L, -2, "special");
    }
    return 0;
}

static int push_status(lua_State *L, const imap_resp *r, int utf8, imap_arena *a, mv_error *e)
{
    imap_status_data st;
    if (imap_parse_status(r, utf8, a, &st, e) != 0) return -1;
    set_str(L, "mailbox", st.name);
#define STA(bit, f) if (st.has & bit) set_int(L, #f, st.f)
    STA(IMAP_STA_MESSAGES, messages); STA(IMAP_STA_RECENT, recent);
    STA(IMAP_STA_UIDNEXT, uidnext); STA(IMAP_STA_UIDVALIDITY, uidvalidity);
    STA(IMAP_STA_UNSEEN, unseen); STA(IMAP_STA_DELETED, deleted);
    STA(IMAP_STA_SIZE, size); STA(IMAP_STA_HIGHESTMODSEQ, highestmodseq);
#undef STA
    return 0;
}

static int push_flags(lua_State *L, const imap_resp *r, int utf8, imap_arena *a, mv_error *e)
{
    imap_strs fl;
    (void)utf8;
    if (r->count < 1) return mv_fail(e, MV_E_PROTOCOL, "FLAGS without a list");
    if (imap_parse_strs(r, 0, a, &fl, e) != 0) return -1;
    push_strs(L, &fl);
    lua_setfield(L, -2, "flags");
    return 0;
}

/* "* ID ("name" "Dovecot" "version" NIL)": pairs of strings, or NIL (RFC 2971) */
static int push_id(lua_State *L, const imap_resp *r, int utf8, imap_arena *a, mv_error *e)
{
    size_t i;
    (void)utf8;
    (void)a;
    (void)e;
    lua_newtable(L);
    if (r->count > 0 && r->nodes[0].type == IMAP_V_LIST) {
        for (i = 1; i < r->count && i < r->nodes[0].end; i = imap_next(r, i)) {
            size_t v = imap_next(r, i);
            imap_str k = imap_node_str(r, i);
            if (v >= r->nodes[0].end) break;
            if (k.s != NULL && imap_node_str(r, v).s != NULL) {
                lua_pushlstring(L, k.s, k.len);
                push_str(L, imap_node_str(r, v));
                lua_settable(L, -3);
            }
            i = v;
        }
    }
    lua_setfield(L, -2, "fields");
    return 0;
}

/* "* VANISHED (EARLIER) 41,43:116" (RFC 7162 §3.2.10) */
static int push_vanished(lua_State *L, const imap_resp *r, int utf8, imap_arena *a,
                         mv_error *e)
{
    size_t i = 0;
    imap_set set;
    (void)utf8;
    if (r->count > 0 && r->nodes[0].type == IMAP_V_LIST) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "earlier");
        i = imap_next(r, 0);
    }
    if (i >= r->count || imap_parse_set(imap_node_str(r, i), 100000, a, &set, e) != 0
        || mvl_imap_push_set(L, &set) != 0)
        return e->kind != MV_E_NONE ? -1 : mv_fail(e, MV_E_PROTOCOL, "malformed VANISHED");
    lua_setfield(L, -2, "uids");
    return 0;
}

static const struct { const char *name; push_fn push; } data_pushers[] = {
    { "FETCH", push_fetch_data }, { "SEARCH", push_search }, { "ESEARCH", push_esearch },
    { "LIST", push_list }, { "LSUB", push_list }, { "STATUS", push_status },
    { "FLAGS", push_flags }, { "ID", push_id }, { "VANISHED", push_vanished },
};

/* Responses with no entry (EXISTS, EXPUNGE, CAPABILITY, ...) carry only the name and
 * number the caller has already set. */
static int push_data(lua_State *L, imap_session *s, const imap_resp *r, imap_arena *a,
                     mv_error *e)
{
    int utf8 = (imap_enabled(s) & IMAP_ENABLED_UTF8) != 0;
    size_t i;
    for (i = 0; i < sizeof data_pushers / sizeof data_pushers[0]; i++)
        if (imap_str_is(r->name, data_pushers[i].name))
            return data_pushers[i].push(L, r, utf8, a, e);
    return 0;
}

/* COPYUID's {[source uid] = destination uid} from its src and dst (RFC 4315 §3: the
 * sets pair up in order). */
static void push_copy_map(lua_State *L)
{
    size_t i, n;
    lua_getfield(L, -1, "src");
    lua_getfield(L, -2, "dst");
    n = (size_t)mvl_rawlen(L, -2);
    if ((size_t)mvl_rawlen(L, -1) < n) n = (size_t)mvl_rawlen(L, -1);
    lua_createtable(L, 0, (int)(n < 100000 ? n : 0));
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, -3, (int)i);
        lua_rawgeti(L, -3, (int)i);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -4, "map");
    lua_pop(L, 2);
}

static int push_code(lua_State *L, const imap_resp *r, imap_arena *a, mv_error *e)
{
    imap_code_data cd;
    if (r->code.s == NULL) return 0;
    upper_name(L, r->code);
    lua_setfield(L, -2, "code");
    if (imap_parse_code(r, a, &cd, e) != 0) return -1;
    switch (cd.kind) {
    case IMAP_CODE_UIDVALIDITY: set_int(L, "uidvalidity", cd.uidvalidity); break;
    case IMAP_CODE_UIDNEXT: case IMAP_CODE_UNSEEN: case IMAP_CODE_HIGHESTMODSEQ:
        set_int(L, "number", cd.number);
        break;
    case IMAP_CODE_PERMANENTFLAGS: case IMAP_CODE_BADCHARSET:
        push_strs(L, &cd.list);
        lua_setfield(L, -2, "list");
        break;
    case IMAP_CODE_COPYUID: case IMAP_CODE_APPENDUID:
        set_int(L, "uidvalidity", cd.uidvalidity);
        if (cd.kind == IMAP_CODE_COPYUID) {
            if (mvl_imap_push_set(L, &cd.src) != 0) return mv_fail(e, MV_E_LIMIT, "COPYUID too large");
            lua_setfield(L, -2, "src");
        }
        if (mvl_imap_push_set(L, &cd.dst) != 0) return mv_fail(e, MV_E_LIMIT, "COPYUID too large");
        lua_setfield(L, -2, "dst");
        if (cd.kind == IMAP_CODE_COPYUID) push_copy_map(L);
        break;
    default:
        if (r->code_text.s != NULL) set_str(L, "code_text", r->code_text);
        break;
    }
    return 0;
}

/* One response as a table: {name = "FETCH", number = 3, uid =, flags =, ...} for data,
 * {status = "OK", code = "UIDNEXT", number =, text =} for a status.  Server text is
 * sanitised. */
static int push_response(lua_State *L, imap_session *s, const imap_resp *r)
{
    static const char *const words[] = { "", "OK", "NO", "BAD", "PREAUTH", "BYE" };
    imap_arena a;
    mv_error e;
    int rc;
    mv_error_clear(&e);
    imap_arena_init(&a);
    lua_createtable(L, 0, 8);
    if (r->status == IMAP_DATA) {
        upper_name(L, r->name);
        lua_setfield(L, -2, "name");
        if (r->has_number) set_int(L, "number", r->number);
        rc = push_data(L, s, r, &a, &e);
    } else {
        char clean[MV_REPLY_TEXT_MAX];
        lua_pushstring(L, words[r->status]);
        lua_setfield(L, -2, "status");
        mv_sanitize(clean, sizeof clean, r->text.s ? r->text.s : "", r->text.s ? r->text.len : 0);
        lua_pushstring(L, clean);
        lua_setfield(L, -2, "text");
        rc = push_code(L, r, &a, &e);
    }
    imap_arena_free(&a);
    if (rc != 0) {
        lua_pop(L, 1);
        return mvl_push_error(L, &e);
    }
    return 1;
}

/* After "chunk": "response", table, owner | "literal", bytes, key.  owner is the tag
 * of the command in flight whose result the response belongs to, or nil when none
 * collects it (the core has queued it as an event); a response that cannot be read is
 * "response", nil, message, kind. */
static int l_take(lua_State *L)
{
    limap *u = check_open(L);
    int what = imap_take(S(u));
    if (what == IMAP_TAKE_RESPONSE) {
        int n;
        const char *owner = imap_owner(S(u));
        lua_pushliteral(L, "response");
        n = push_response(L, S(u), imap_response(S(u)));
        if (n != 1) return n + 1;
        if (owner == NULL) lua_pushnil(L);
        else lua_pushstring(L, owner);
        return 3;
    }
    if (what == IMAP_TAKE_LITERAL) {
        size_t len;
        imap_str key;
        const unsigned char *d = imap_chunk(S(u), &len, &key);
        lua_pushliteral(L, "literal");
        lua_pushlstring(L, (const char *)d, len);
        push_str(L, key);
        return 3;
    }
    return 0;
}

/* The tagged OK of the last command, as a table (its code: COPYUID, APPENDUID...). */
static int l_tagged(lua_State *L)
{
    limap *u = check_open(L);
    const imap_resp *r = imap_tagged(S(u));
    if (r == NULL) return 0;
    return push_response(L, S(u), r);
}

static int l_capabilities(lua_State *L)
{
    limap *u = check_open(L);
    size_t n, i = 0;
    const char *t = imap_capability_text(S(u), &n);
    lua_newtable(L);
    while (i < n) {
        size_t w = i, k;
        char key[128];
        while (w < n && t[w] != ' ') w++;
        if (w - i < sizeof key) {
            for (k = 0; k < w - i; k++) {
                char c = t[i + k];
                key[k] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
            }
            key[w - i] = '\0';
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, key);
        }
        i = w + 1;
    }
    return 1;
}

static int l_enabled(lua_State *L)
{
    limap *u = check_open(L);
    unsigned e = imap_enabled(S(u));
    lua_newtable(L);
    if (e & IMAP_ENABLED_UTF8) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "UTF8=ACCEPT");
    }
    if (e & IMAP_ENABLED_CONDSTORE) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "CONDSTORE");
    }
    if (e & IMAP_ENABLED_REV2) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "IMAP4REV2");
    }
    return 1;
}

static int l_auth_mechanism(lua_State *L)
{
    limap *u = check_open(L);
    const char *m = imap_auth_used(S(u));
    if (m == NULL) lua_pushnil(L); else lua_pushstring(L, m);
    return 1;
}

static int l_reply(lua_State *L)
{
    limap *u = check_open(L);
    mvl_push_reply(L, imap_last_reply(S(u)));
    return 1;
}

/* core.imap_uid_sets(uids, max_len): the UIDs as ranges, cut into strings of at most
 * max_len bytes (one per command). */
static int l_uid_sets(lua_State *L)
{
    size_t n, i;
    uint32_t *v;
    imap_arena a;
    imap_strs out;
    mv_error e;
    lua_Integer max_len = luaL_optinteger(L, 2, 8000);
    luaL_checktype(L, 1, LUA_TTABLE);
    n = (size_t)mvl_rawlen(L, 1);
    v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) return luaL_error(L, "out of memory");
    for (i = 0; i < n; i++) {
        lua_Number x;
        int isnum;
        lua_rawgeti(L, 1, (int)i + 1);
        isnum = lua_type(L, -1) == LUA_TNUMBER;
        x = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (!isnum || x < 1 || x > 4294967295.0 || x != (lua_Number)(uint32_t)x) {
            free(v);
            return luaL_error(L, "bad UID at index %d", (int)i + 1);
        }
        v[i] = (uint32_t)x;
    }
    imap_arena_init(&a);
    mv_error_clear(&e);
    if (imap_uid_sets(v, n, (size_t)max_len, &a, &out, &e) != 0) {
        free(v);
        imap_arena_free(&a);
        return mvl_push_error(L, &e);
    }
    free(v);
    push_strs(L, &out);
    imap_arena_free(&a);
    return 1;
}

/* s:_search(criteria): begins UID SEARCH for a criteria table (imap_search.h), with
 * RETURN (ALL) when the server offers ESEARCH.  Criteria the vocabulary refuses raise
 * an error; a cap (nesting, keys) gives nil, message, "limit". */
static int l_search(lua_State *L)
{
    limap *u = check_open(L);
    imap_search_q q;
    imap_cmd c;
    luaL_checktype(L, 2, LUA_TTABLE);
    imap_search_init(&q);
    imap_cmd_for(S(u), &c);
    if (mvl_imap_search_walk(L, 2, &q) != 0
        || imap_search_emit(&q, &c, (imap_caps(S(u)) & IMAP_CAP_ESEARCH)
                                    || (imap_enabled(S(u)) & IMAP_ENABLED_REV2)) != 0) {
        mv_error e = q.err;
        imap_search_free(&q);
        imap_cmd_free(&c);
        if (e.kind == MV_E_ARG) return luaL_error(L, "%s", e.msg);
        return mvl_push_error(L, &e);
    }
    imap_search_free(&q);
    return push_sent(L, u, imap_begin_command(S(u), &c, 0));
}

/* s:take_events(): the queued events, oldest first, taken. */
static int l_take_events(lua_State *L)
{
    limap *u = check_open(L);
    imap_events *q = imap_session_events(S(u));
    int k = 0;
    lua_createtable(L, (int)imap_events_count(q), 0);
    while (imap_events_count(q) > 0) {
        mvl_imap_push_event(L, imap_events_peek(q));
        lua_rawseti(L, -2, ++k);
        imap_events_pop(q);
    }
    return 1;
}

/* s:_next_event(): the oldest queued event, taken, or nil. */
static int l_next_event(lua_State *L)
{
    limap *u = check_open(L);
    imap_events *q = imap_session_events(S(u));
    if (imap_events_count(q) == 0) return 0;
    mvl_imap_push_event(L, imap_events_peek(q));
    imap_events_pop(q);
    return 1;
}

static int l_event_count(lua_State *L)
{
    limap *u = check_open(L);
    lua_pushinteger(L, (lua_Integer)imap_events_count(imap_session_events(S(u))));
    return 1;
}

/* s:dropped_events(): events dropped, oldest first, because the queue was full. */
static int l_dropped_events(lua_State *L)
{
    limap *u = check_open(L);
    lua_pushnumber(L, (lua_Number)imap_events_dropped(imap_session_events(S(u))));
    return 1;
}

/* s:_selected(name | nil, readonly): the folder the session is in now. */
static int l_selected(lua_State *L)
{
    limap *u = check_open(L);
    size_t n = 0;
    const char *name = luaL_optlstring(L, 2, NULL, &n);
    if (imap_events_select(imap_session_events(S(u)), name, n, lua_toboolean(L, 3)) != 0)
        return luaL_error(L, "out of memory");
    return 0;
}

/* s:folder(): the folder selected and whether it is read-only, or nil. */
static int l_folder(lua_State *L)
{
    limap *u = check_open(L);
    const imap_events *q = imap_session_events(S(u));
    if (q->folder == NULL) return 0;
    lua_pushstring(L, q->folder);
    lua_pushboolean(L, q->readonly);
    return 2;
}

static const luaL_Reg methods[] = {
    { "_begin_open", l_begin_open }, { "_command", l_command }, { "_wait", l_wait },
    { "_done", l_done }, { "_idling", l_idling }, { "_take", l_take },
    { "_feed", l_feed }, { "_search", l_search },
    { "_next_event", l_next_event }, { "_event_count", l_event_count },
    { "_selected", l_selected }, { "folder", l_folder },
    { "_done_tag", l_done_tag }, { "_in_flight", l_in_flight },
    { "take_events", l_take_events }, { "dropped_events", l_dropped_events },
    { "_tagged", l_tagged }, { "_reply", l_reply },
    { "capabilities", l_capabilities }, { "enabled", l_enabled },
    { "auth_mechanism", l_auth_mechanism },
    { NULL, NULL }
};

void mvl_open_imap(lua_State *L)
{
    mvl_session_metatable(L, IMAP_MT, "imap.session", methods);
    lua_getfield(L, -1, "__index");
    mvl_setfuncs(L, mvl_imap_ops);
    lua_pop(L, 1);
    lua_setfield(L, -2, "imap_mt");
    lua_pushcfunction(L, l_imap_new);
    lua_setfield(L, -2, "imap_new");
    lua_pushcfunction(L, l_uid_sets);
    lua_setfield(L, -2, "imap_uid_sets");
}
