/* core.defaults: mv_defaults.h as a Lua table, for missive.config to hand to the Lua
 * modules (times in seconds, as every Lua option takes them). */
#include "bind.h"
#include "mv_defaults.h"

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

static void push_smtp(lua_State *L)
{
    lua_createtable(L, 0, 6);
    set_int(L, "port", MV_DEFAULT_SMTP_PORT);
    set_int(L, "implicit_port", MV_DEFAULT_SMTP_IMPLICIT_PORT);
    lua_pushliteral(L, MV_DEFAULT_SMTP_HELO);
    lua_setfield(L, -2, "helo");
    set_int(L, "max_line_length", MV_DEFAULT_SMTP_MAX_LINE_LENGTH);
    set_bool(L, "pipelining", MV_DEFAULT_SMTP_PIPELINING);
    set_bool(L, "chunking", MV_DEFAULT_SMTP_CHUNKING);
}

static void push_pop3(lua_State *L)
{
    lua_createtable(L, 0, 7);
    set_int(L, "port", MV_DEFAULT_POP3_PORT);
    set_int(L, "starttls_port", MV_DEFAULT_POP3_STARTTLS_PORT);
    set_int(L, "max_size", MV_DEFAULT_POP3_MAX_SIZE);
    set_int(L, "max_messages", MV_DEFAULT_POP3_MAX_MESSAGES);
    set_int(L, "max_listing_bytes", (lua_Integer)MV_DEFAULT_POP3_MAX_LISTING_BYTES);
    set_int(L, "max_time", MV_DEFAULT_POP3_MAX_TIME_MS / 1000);
    set_int(L, "window", MV_DEFAULT_POP3_WINDOW);
}

static void push_email(lua_State *L)
{
    lua_createtable(L, 0, 5);
    set_int(L, "max_depth", MV_DEFAULT_MIME_MAX_DEPTH);
    set_int(L, "max_parts", MV_DEFAULT_MIME_MAX_PARTS);
    set_int(L, "max_headers", MV_DEFAULT_MIME_MAX_HEADERS);
    set_int(L, "max_header_bytes", MV_DEFAULT_MIME_MAX_HEADER_BYTES);
    set_int(L, "save_mode", MV_DEFAULT_SAVE_MODE);
}

static void push_spool(lua_State *L)
{
    lua_createtable(L, 0, 3);
    set_int(L, "backoff", MV_DEFAULT_SPOOL_BACKOFF);
    set_int(L, "max_backoff", MV_DEFAULT_SPOOL_MAX_BACKOFF);
    set_int(L, "max_age", MV_DEFAULT_SPOOL_MAX_AGE);
}

static void push_limits(lua_State *L)
{
    lua_createtable(L, 0, 3);
    set_int(L, "max_line", MV_DEFAULT_MAX_LINE);
    set_int(L, "max_reply_lines", MV_DEFAULT_MAX_REPLY_LINES);
    set_int(L, "max_reply_bytes", MV_DEFAULT_MAX_REPLY_BYTES);
}

void mvl_open_defaults(lua_State *L)
{
    lua_createtable(L, 0, 6);
    set_int(L, "timeout", MV_DEFAULT_TIMEOUT_MS / 1000);
    push_smtp(L);
    lua_setfield(L, -2, "smtp");
    push_pop3(L);
    lua_setfield(L, -2, "pop3");
    push_email(L);
    lua_setfield(L, -2, "email");
    push_spool(L);
    lua_setfield(L, -2, "spool");
    push_limits(L);
    lua_setfield(L, -2, "limits");
    lua_setfield(L, -2, "defaults");
}
