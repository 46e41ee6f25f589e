/* What each binding file registers into the missive.core table (on top of the stack). */
#ifndef MVL_BIND_H
#define MVL_BIND_H

#include "compat.h"
#include "mv_defaults.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

void mvl_open_smtp(lua_State *L);
void mvl_open_pop3(lua_State *L);
void mvl_open_imap(lua_State *L);
void mvl_open_email(lua_State *L);
void mvl_open_async(lua_State *L);
void mvl_open_fs(lua_State *L);
void mvl_open_defaults(lua_State *L);

/* The results of a function that can fail at run time, as lauxlib's luaL_fileresult:
 * every binding returns a failure through these (nil, message, kind[, reply]), so the
 * shape is the same everywhere.  Each pushes its values and returns their count, for
 * `return mvl_...(L, ...)`. */
/* nil, e's message, e's kind word[, the reply table when the server said it]. */
int mvl_push_error(lua_State *L, const mv_error *e);
/* true when ok, else mvl_push_error(L, e). */
int mvl_result(lua_State *L, int ok, const mv_error *e);
/* nil, msg, kind. */
int mvl_fail(lua_State *L, const char *kind, const char *msg);
/* nil, a message formatted as lua_pushfstring does, kind. */
int mvl_failf(lua_State *L, const char *kind, const char *fmt, ...);
/* nil, the message already on top of the stack, kind. */
int mvl_fail_top(lua_State *L, const char *kind);
/* true when ok, else nil, "what path: <strerror(errno)>", and the kind: "closed" when
 * the file is not there (ENOENT), else "io". */
int mvl_fileresult(lua_State *L, int ok, const char *what, const char *path);
/* Creates the metatable mt_name of a userdata type and leaves it on the stack:
 * __index holds `methods`, with __gc, __tostring and __name (type_name). */
void mvl_new_type(lua_State *L, const char *mt_name, const char *type_name,
                  const luaL_Reg *methods, lua_CFunction gc, lua_CFunction tostring);
/* Pushes {code =, enhanced =, text =}. */
void mvl_push_reply(lua_State *L, const mv_reply *r);

/* Option table readers for the session constructors: a wrong type raises (misuse). */
const char *mvl_opt_string(lua_State *L, int t, const char *name);
int mvl_opt_bool(lua_State *L, int t, const char *name, int dflt);
lua_Integer mvl_opt_int(lua_State *L, int t, const char *name, lua_Integer dflt);
/* Seconds (number) to milliseconds; dflt when absent. */
int mvl_opt_ms(lua_State *L, int t, const char *name, int dflt);
/* The options every session has (host, server_name, port, tls, credentials, auth,
 * insecure_auth, the TLS options, timeout) into c: the one reader of the TLS options
 * (cafile, capath, client_cert, client_key, verify, tls_min, tls_max) for every
 * protocol and the async sender; port and tls default to the
 * protocol's.  A 'trace' that is not a function raises too. */
struct mv_cfg;
void mvl_opt_session(lua_State *L, int t, struct mv_cfg *c, int port, int tls);

MV_HIDDEN_END

#endif
