/* Private to the email binding (lemail.c, lemail_get.c, lemail_set.c, lemail_write.c,
 * lemail_codec.c): the userdata and what one file calls in another. */
#ifndef MVL_LEMAIL_INT_H
#define MVL_LEMAIL_INT_H

#include "bind.h"

#include "mime_msg.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

#define EMAIL_MT "missive.email"

#define EMAIL_ATT_MT "missive.email.attachment"

typedef struct lemail {
    mv_mime_msg m;
    int unparsed;   /* email_unparsed: only raw; nothing of its own to write */
} lemail;

/* lemail.c: the userdata and what it holds besides the message, in its Lua value (the
 * "extras" table, made on first use): the string a parsed message borrows (no copy of a
 * 50 MB input: the string is anchored there for as long as the email lives), why a
 * message could not be parsed, and where it came from. */
#define EMAIL_RAW_KEY "missive.email.raw"
#define EMAIL_PARSE_ERROR_KEY "missive.email.parse_error"
lemail *mvl_check_email(lua_State *L, int idx);
/* Pushes the extras table of the email at index ud (absolute); nil when it has none and
 * !create. */
void mvl_email_push_extras(lua_State *L, int ud, int create);
/* Pushes extras[key] of the email at index ud, or nil. */
void mvl_email_push_extra(lua_State *L, int ud, const char *key);

/* lemail_get.c: pushes field k of e and returns 1, or returns 0 (pushing nothing) when k
 * is not an email field. */
int mvl_email_get_field(lua_State *L, lemail *e, const char *k);
/* lreport.c: m.report, the delivery status or feedback report the message is, or nil. */
int mvl_email_get_report(lua_State *L, lemail *e, const char *k);
/* lemail.c: core.email_parse(raw[, limits]). */
int mvl_email_parse(lua_State *L);
/* header, headers, addresses, envelope, parts_list. */
extern const luaL_Reg mvl_email_get_methods[];

/* lemail_write.c: tostring, source, save; __tostring; the metatables of a running
 * source and of an attachment table. */
extern const luaL_Reg mvl_email_write_methods[];
/* ldkim.c: sign_dkim; the verifier's core functions. */
extern const luaL_Reg mvl_email_dkim_methods[];
extern const luaL_Reg mvl_dkim_core_funcs[];
int mvl_email_tostring_meta(lua_State *L);
void mvl_email_open_write(lua_State *L);

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
/* set, set_header, add_header, attach. */
extern const luaL_Reg mvl_email_set_methods[];

/* lemail_codec.c: base64, quoted-printable, dates and Message-IDs for missive.core. */
extern const luaL_Reg mvl_email_codec_funcs[];

MV_HIDDEN_END

#endif
