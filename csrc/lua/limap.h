/* Private to the imap.session binding: limap.c (the userdata, commands, responses),
 * limap_search.c (walking a criteria table into the C compiler, imap_search.h) and
 * limap_events.c (the session's event queue as Lua tables), limap_ops.c (what to send
 * for an operation: imap_ops.h). */
#ifndef LIMAP_H
#define LIMAP_H

#include "bind.h"
#include "imap.h"
#include "imap_search.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* The session at index 1, open (else a Lua error). */
imap_session *mvl_imap_check(lua_State *L);
/* The methods of limap_ops.c (what to send for an operation). */
extern const luaL_Reg mvl_imap_ops[];
/* The UIDs of a set, as an array on the stack: 0, or -1 (nothing pushed) for a range
 * to "*" or a set too large to expand. */
int mvl_imap_push_set(lua_State *L, const imap_set *set);
/* Walks the criteria table at idx into q: 0, or -1 with q->err set. */
int mvl_imap_search_walk(lua_State *L, int idx, imap_search_q *q);
/* The oldest event as a table ({kind = "exists", count =, folder =}...). */
void mvl_imap_push_event(lua_State *L, const imap_event *ev);

MV_HIDDEN_END

#endif
