/* What every session userdata shares: the engine, how bytes move (a native socket the
 * core owns, or an external Lua socket driven by lua/missive/driver.lua), and the
 * low-level methods both drivers use.  A session userdata starts with this struct. */
#ifndef MVL_SESSION_H
#define MVL_SESSION_H

#include "bind.h"
#include "mv_net.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

typedef struct mvl_session mvl_session;

/* What a protocol binding plugs in. */
typedef struct mvl_protocol {
    const char *name;                      /* "smtp.session" */
    mv_step_fn step;                       /* called with core */
    void (*free_core)(void *core);
    int (*is_dead)(const void *core);
    void (*mark_dead)(void *core);
    void (*set_loopback)(mvl_session *u, int loopback);
    int (*is_tls)(const void *core);
} mvl_protocol;

struct mvl_session {
    void *core;          /* smtp_session * or pop3_session *; NULL once closed */
    mv_pp *pp;
    mv_net net;          /* native socket (fd -1 when none) */
    int external;        /* bytes move through a Lua socket object */
    const mvl_protocol *proto;
    char *host;          /* where the native driver connects */
    int port, timeout_ms;
};

/* Fills in a new session (closed: no core yet); host is copied.  -1 when out of memory. */
int mvl_session_init(mvl_session *u, const mvl_protocol *proto, int external,
                     const char *host, int port, int timeout_ms);

/* Frees without network I/O (what __gc does). */
void mvl_session_teardown(mvl_session *u);
/* Pushes nil, message, kind[, reply]; a dead connection's socket is closed first. */
int mvl_session_error(lua_State *L, mvl_session *u);
/* For a call that returns MV_OK or MV_ERROR: pushes true, or the error values. */
int mvl_session_result(lua_State *L, mvl_session *u, int r);
/* Pushes the result of a step or a native run: "done", "body", "chunk", "token",
 * "read", "write", or the error values.  Returns the number of values pushed. */
int mvl_session_status(lua_State *L, mvl_session *u, int r);

/* Methods shared by both session types (argument 1 is the session, already checked). */
int mvl_m_run(lua_State *L, mvl_session *u);       /* native: run to done/data/error */
int mvl_m_step(lua_State *L, mvl_session *u);      /* external: one step */
int mvl_m_output(lua_State *L, mvl_session *u);    /* take pending network bytes */
int mvl_m_input(lua_State *L, mvl_session *u);     /* give received network bytes */
int mvl_m_eof(lua_State *L, mvl_session *u);       /* the peer closed */
int mvl_m_io_error(lua_State *L, mvl_session *u);  /* the socket failed: word, message */
int mvl_m_token_reason(lua_State *L, mvl_session *u); /* "connect" | "rejected" | nil */
int mvl_m_set_token(lua_State *L, mvl_session *u);    /* the caller's OAuth token */
int mvl_m_token_failed(lua_State *L, mvl_session *u); /* no token: fail the open */
int mvl_m_want(lua_State *L, mvl_session *u);      /* bytes TLS needs, 0 when unknown */
int mvl_m_time_left(lua_State *L, mvl_session *u); /* seconds to the deadline, or nil */
int mvl_m_trace(lua_State *L, mvl_session *u);     /* {dir, line, dir, line...} or nil */
int mvl_m_connect(lua_State *L, mvl_session *u);   /* native connect, with deadline */
int mvl_m_set_loopback(lua_State *L, mvl_session *u);
int mvl_m_dead(lua_State *L, mvl_session *u);      /* may be closed */
int mvl_m_abort(lua_State *L, mvl_session *u);     /* give up the connection silently */
/* close_notify if TLS is sound (external: returned as a string), then free */
int mvl_m_release(lua_State *L, mvl_session *u);
int mvl_m_gc(lua_State *L, mvl_session *u);        /* free, no I/O; may be closed */
int mvl_m_closed(lua_State *L, mvl_session *u);
int mvl_m_tostring(lua_State *L, mvl_session *u);
int mvl_m_tls_info(lua_State *L, mvl_session *u);  /* {version =, cipher =} or nil */

/* Creates the metatable mt_name (left on the stack) with __index holding `methods`
 * plus every generic method above, and __gc, __tostring and __name. */
void mvl_session_metatable(lua_State *L, const char *mt_name, const char *type_name,
                           const luaL_Reg *methods);

MV_HIDDEN_END

#endif
