/* What other bindings take from the smtp.session binding. */
#ifndef MVL_SMTP_H
#define MVL_SMTP_H

#include "bind.h"
#include "smtp.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* The SMTP options of table t. */
void mvl_smtp_read_opts(lua_State *L, int t, smtp_opts *o);
/* The DSN requests of a send, from the table at idx (nil: none) for n recipients
 * (ldsn.c): 0 with *out = d (or NULL when idx is nil), or -1 with e set.  What d points
 * to lives on the Lua stack and in the table. */
int mvl_smtp_read_dsn(lua_State *L, int idx, size_t n, smtp_dsn *d, const smtp_dsn **out,
                      mv_error *e);
/* core.smtp_check_dsn(dsn, nrcpt): true, or nil, message, "argument". */
int mvl_smtp_check_dsn(lua_State *L);

MV_HIDDEN_END

#endif
