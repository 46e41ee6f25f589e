/* What every session userdata shares: the engine, how bytes move (a native socket the
 * core owns, or an external Lua socket driven by lua/missive/driver.lua), and the
 * low-level methods both drivers use.  A session userdata starts with this struct. */
#ifndef MVL_DRIVER_H
#define MVL_DRIVER_H

#include "bind.h"
#include "mv_net.h"

typedef struct mvl_session {
    void *core;          /* smtp_session * or pop3_session *; NULL once closed */
    mv_pp *pp;
    int fd;              /* native socket, or -1 */
    int external;        /* bytes move through a Lua socket object */
    mv_step_fn step;     /* the protocol's step function, called with core */
    void (*free_core)(void *core);
    int (*is_dead)(const void *core);
} mvl_session;

/* Frees without network I/O (what __gc does). */
void mvl_session_teardown(mvl_session *u);
/* Pushes nil, message, kind[, reply]; a dead connection's socket is closed first. */
int mvl_session_error(lua_State *L, mvl_session *u);
/* Pushes the result of a step or a native run: "done", "data", "read", "write", or the
 * error values.  Returns the number of values pushed. */
int mvl_session_status(lua_State *L, mvl_session *u, int r);

/* Methods shared by both session types (argument 1 is the session, already checked). */
int mvl_m_run(lua_State *L, mvl_session *u);       /* native: run to done/data/error */
int mvl_m_step(lua_State *L, mvl_session *u);      /* external: one step */
int mvl_m_output(lua_State *L, mvl_session *u);    /* take pending network bytes */
int mvl_m_input(lua_State *L, mvl_session *u);     /* give received network bytes */
int mvl_m_eof(lua_State *L, mvl_session *u);       /* the peer closed */
int mvl_m_io_error(lua_State *L, mvl_session *u);  /* the socket failed: word, message */
int mvl_m_want(lua_State *L, mvl_session *u);      /* bytes TLS needs, 0 when unknown */
int mvl_m_time_left(lua_State *L, mvl_session *u); /* seconds to the deadline, or nil */
int mvl_m_trace(lua_State *L, mvl_session *u);     /* {dir, line, dir, line...} or nil */

#endif
