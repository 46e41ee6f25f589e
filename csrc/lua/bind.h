/* What each binding file registers into the missive.core table (on top of the stack). */
#ifndef MVL_BIND_H
#define MVL_BIND_H

#include "compat.h"
#include "mv_error.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

void mvl_open_smtp(lua_State *L);
void mvl_open_pop3(lua_State *L);
void mvl_open_imap(lua_State *L);
void mvl_open_email(lua_State *L);
void mvl_open_async(lua_State *L);
void mvl_open_fs(lua_State *L);

/* Pushes nil, message, kind[, reply table] and returns the count (for `return`). */
int mvl_push_error(lua_State *L, const mv_error *e);
/* Pushes {code =, enhanced =, text =}. */
void mvl_push_reply(lua_State *L, const mv_reply *r);



/* Option table readers for the session constructors: a wrong type raises (misuse). */
const char *mvl_opt_string(lua_State *L, int t, const char *name);
int mvl_opt_bool(lua_State *L, int t, const char *name, int dflt);
lua_Integer mvl_opt_int(lua_State *L, int t, const char *name, lua_Integer dflt);
/* verify = true | false | "name" -> MV_VERIFY_*. */
int mvl_opt_verify(lua_State *L, int t);
/* cafile, capath, client_cert, client_key, verify, tls_min, tls_max: what SMTP and
 * POP3 sessions share. */
struct mv_tls_opts;
void mvl_opt_tls(lua_State *L, int t, struct mv_tls_opts *o);
/* Seconds (number) to milliseconds; dflt when absent. */
int mvl_opt_ms(lua_State *L, int t, const char *name, int dflt);
/* The options every session has (host, server_name, port, tls, credentials, auth,
 * insecure_auth, the TLS options, timeout) into c; port and tls default to the
 * protocol's.  A 'trace' that is not a function raises too. */
struct mv_cfg;
void mvl_opt_session(lua_State *L, int t, struct mv_cfg *c, int port, int tls);

MV_HIDDEN_END

#endif
