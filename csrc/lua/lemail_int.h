/* Private to the email binding (lemail.c, lemail_set.c, lemail_codec.c): the userdata
 * and what one file calls in another. */
#ifndef MVL_LEMAIL_INT_H
#define MVL_LEMAIL_INT_H

#include "bind.h"

#include "mime_msg.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

#define EMAIL_MT "missive.email"

typedef struct lemail {
    mv_mime_msg m;
    int unparsed;   /* email_unparsed: only raw; nothing of its own to write */
} lemail;

/* lemail_set.c: every value a caller hands in is checked there (CR, LF, NUL, ambiguous
 * addresses).  Each returns 0, or -1 with a message left on the stack. */
/* The header an address field ("to", "reply_to" or an address header name) names, or
 * NULL. */
const char *mvl_email_addr_header(const char *field);
int mvl_email_set_field(lua_State *L, lemail *e, const char *k, int v);
/* 1 when k is a field an email can be given (mvl_email_set_field knows it). */
int mvl_email_is_field(const char *k);
/* name is nlen bytes (Lua's length: an embedded NUL is refused); add != 0 appends. */
int mvl_email_set_header(lua_State *L, lemail *e, const char *name, size_t nlen, int idx,
                         int add);
int mvl_email_add_attachment(lua_State *L, lemail *e, int idx);

/* lemail_codec.c: base64, quoted-printable, dates and Message-IDs for missive.core. */
extern const luaL_Reg mvl_email_codec_funcs[];

MV_HIDDEN_END

#endif
