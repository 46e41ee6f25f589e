/* core.defaults: mv_defaults.h as a Lua table, for missive.config to hand to the Lua
 * modules (times in seconds, as every Lua option takes them). */
#include "bind.h"
#include "mv_defaults.h"

typedef struct number_default {
    const char *name;
    lua_Integer value;
} number_default;

static const number_default smtp_numbers[] = {
    {"port", MV_DEFAULT_SMTP_PORT}, {"implicit_port", MV_DEFAULT_SMTP_IMPLICIT_PORT},
    {"max_line_length", MV_DEFAULT_SMTP_MAX_LINE_LENGTH}, {NULL, 0}
};

static const number_default pop3_numbers[] = {
    {"port", MV_DEFAULT_POP3_PORT}, {"starttls_port", MV_DEFAULT_POP3_STARTTLS_PORT},
    {"max_size", MV_DEFAULT_POP3_MAX_SIZE}, {"max_messages", MV_DEFAULT_POP3_MAX_MESSAGES},
    {"max_listing_bytes", (lua_Integer)MV_DEFAULT_POP3_MAX_LISTING_BYTES},
    {"max_time", MV_DEFAULT_POP3_MAX_TIME_MS / 1000}, {"window", MV_DEFAULT_POP3_WINDOW},
    {NULL, 0}
};

static const number_default email_numbers[] = {
    {"max_depth", MV_DEFAULT_MIME_MAX_DEPTH}, {"max_parts", MV_DEFAULT_MIME_MAX_PARTS},
    {"max_headers", MV_DEFAULT_MIME_MAX_HEADERS},
    {"max_header_bytes", MV_DEFAULT_MIME_MAX_HEADER_BYTES},
    {"save_mode", MV_DEFAULT_SAVE_MODE}, {"dkim_min_key_bits", MV_DEFAULT_DKIM_MIN_BITS},
    {NULL, 0}
};

static const number_default spool_numbers[] = {
    {"backoff", MV_DEFAULT_SPOOL_BACKOFF}, {"max_backoff", MV_DEFAULT_SPOOL_MAX_BACKOFF},
    {"max_age", MV_DEFAULT_SPOOL_MAX_AGE}, {NULL, 0}
};

static const number_default limit_numbers[] = {
    {"max_line", MV_DEFAULT_MAX_LINE}, {"max_reply_lines", MV_DEFAULT_MAX_REPLY_LINES},
    {"max_reply_bytes", MV_DEFAULT_MAX_REPLY_BYTES}, {NULL, 0}
};

/* Pushes a table of the numbers d lists. */
static void push_numbers(lua_State *L, const number_default *d)
{
    lua_newtable(L);
    for (; d->name != NULL; d++) {
        lua_pushinteger(L, d->value);
        lua_setfield(L, -2, d->name);
    }
}

void mvl_open_defaults(lua_State *L)
{
    lua_newtable(L);
    lua_pushinteger(L, MV_DEFAULT_TIMEOUT_MS / 1000);
    lua_setfield(L, -2, "timeout");
    push_numbers(L, smtp_numbers);
    lua_pushliteral(L, MV_DEFAULT_SMTP_HELO);
    lua_setfield(L, -2, "helo");
    lua_pushboolean(L, MV_DEFAULT_SMTP_PIPELINING);
    lua_setfield(L, -2, "pipelining");
    lua_pushboolean(L, MV_DEFAULT_SMTP_CHUNKING);
    lua_setfield(L, -2, "chunking");
    lua_setfield(L, -2, "smtp");
    push_numbers(L, pop3_numbers);
    lua_setfield(L, -2, "pop3");
    push_numbers(L, email_numbers);
    lua_setfield(L, -2, "email");
    push_numbers(L, spool_numbers);
    lua_setfield(L, -2, "spool");
    push_numbers(L, limit_numbers);
    lua_setfield(L, -2, "limits");
    lua_setfield(L, -2, "defaults");
}
