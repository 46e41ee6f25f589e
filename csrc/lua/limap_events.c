/* The session's event queue (imap_events.h) as Lua tables. */
#include "limap.h"
#include "mv_str.h"

#include <string.h>

/* UIDs one set may expand to in a result table (COPYUID, ESEARCH ALL, VANISHED). */
#define MAX_EXPAND 10000000UL

int mvl_imap_push_set(lua_State *L, const imap_set *set)
{
    size_t i, k = 0, total = 0;
    for (i = 0; i < set->n; i++) {
        if (set->v[i].hi == UINT32_MAX) return -1;
        total += (size_t)(set->v[i].hi - set->v[i].lo) + 1;
        if (total > MAX_EXPAND) return -1;
    }
    lua_createtable(L, (int)total, 0);
    for (i = 0; i < set->n; i++) {
        uint64_t x;
        for (x = set->v[i].lo; x <= set->v[i].hi; x++) {
            lua_pushinteger(L, (lua_Integer)x);
            lua_rawseti(L, -2, (int)++k);
        }
    }
    return 0;
}

static void set_num(lua_State *L, const char *k, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static void push_flags(lua_State *L, const imap_event *ev)
{
    const char *p = (const char *)ev->data.data;
    size_t i;
    lua_createtable(L, (int)ev->nflags, 0);
    for (i = 0; i < ev->nflags; i++) {
        size_t n = strlen(p);
        lua_pushlstring(L, p, n);
        lua_rawseti(L, -2, (int)i + 1);
        p += n + 1;
    }
    lua_setfield(L, -2, "flags");
}

static void push_vanished(lua_State *L, const imap_event *ev)
{
    imap_arena a;
    imap_set set;
    mv_error e;
    imap_str s;
    s.s = (const char *)ev->data.data;
    s.len = ev->data.len;
    imap_arena_init(&a);
    mv_error_clear(&e);
    if (s.s == NULL || imap_parse_set(s, 100000, &a, &set, &e) != 0
        || mvl_imap_push_set(L, &set) != 0)
        lua_newtable(L);
    imap_arena_free(&a);
    lua_setfield(L, -2, "uids");
    if (ev->earlier) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "earlier");
    }
}

void mvl_imap_push_event(lua_State *L, const imap_event *ev)
{
    static const char *const kinds[] = { "none", "exists", "expunge", "recent", "flags",
                                         "vanished", "alert" };
    lua_createtable(L, 0, 6);
    lua_pushstring(L, kinds[ev->kind]);
    lua_setfield(L, -2, "kind");
    switch (ev->kind) {
    case IMAP_EV_EXISTS: case IMAP_EV_RECENT: set_num(L, "count", ev->number); break;
    case IMAP_EV_EXPUNGE: set_num(L, "seq", ev->number); break;
    case IMAP_EV_FLAGS:
        set_num(L, "seq", ev->number);
        if (ev->uid) set_num(L, "uid", ev->uid);
        if (ev->modseq) set_num(L, "modseq", ev->modseq);
        if (ev->has_flags) push_flags(L, ev);
        break;
    case IMAP_EV_VANISHED: push_vanished(L, ev); break;
    case IMAP_EV_ALERT: {
        char clean[MV_REPLY_TEXT_MAX];
        mv_sanitize(clean, sizeof clean, (const char *)ev->data.data, ev->data.len);
        lua_pushstring(L, clean);
        lua_setfield(L, -2, "text");
        break;
    }
    default: break;
    }
    if (ev->folder != NULL) {
        lua_pushstring(L, ev->folder);
        lua_setfield(L, -2, "folder");
    }
}
