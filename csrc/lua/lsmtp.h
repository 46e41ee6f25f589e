/* What other bindings take from the smtp.session binding. */
#ifndef MVL_SMTP_H
#define MVL_SMTP_H

#include "bind.h"
#include "smtp.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* The SMTP options of table t. */
void mvl_smtp_read_opts(lua_State *L, int t, smtp_opts *o);

MV_HIDDEN_END

#endif
