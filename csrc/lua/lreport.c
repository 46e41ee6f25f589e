/* m.report: the delivery status notification (RFC 3464, RFC 6533) or feedback report
 * (RFC 5965) a parsed message is, as a table; nil for any other message.
 *   {type = "delivery-status", envid =, reporting_mta =, arrival_date =, ...,
 *    recipients = {{address =, original =, action =, status =, diagnostic =,
 *                   remote_mta =, ...}, ...},
 *    message = the returned message or headers (an email), headers_only =, truncated =}
 *   {type = "feedback-report", feedback_type =, user_agent =, version =,
 *    original_mail_from =, original_rcpt_to = {...}, source_ip =, arrival_date =, ...}
 * Each field is named after its header in lower case, "-" made "_"; a typed field
 * ("rfc822; a@b") gives its value and <name>_type.  A few names are shorter (below). */
#include "lemail_int.h"

#include <string.h>

#include "mime_codec.h"
#include "mime_part.h"
#include "mime_report.h"
#include "mime_view.h"

static const struct { const char *field, *key; } SHORT[] = {
    { "original-envelope-id", "envid" }, { "final-recipient", "address" },
    { "original-recipient", "original" }, { "diagnostic-code", "diagnostic" },
};

/* RFC 5965 §3.2: fields that may appear more than once: always arrays. */
static int is_multi(const char *field)
{
    return strcmp(field, "original-rcpt-to") == 0 || strcmp(field, "reported-domain") == 0
        || strcmp(field, "reported-uri") == 0 || strcmp(field, "authentication-results") == 0;
}

/* Server-written text goes to Lua as valid UTF-8 without control bytes (CHECKLIST 60). */
static void push_clean(lua_State *L, const char *s, mv_buf *b)
{
    mv_buf_reset(b);
    if (mv_utf8_sanitize((const unsigned char *)s, strlen(s), 1, b) < 0)
        luaL_error(L, "out of memory");
    lua_pushlstring(L, b->data ? (const char *)b->data : "", b->len);
}

static void push_key(lua_State *L, const char *name, const char *suffix)
{
    char key[96];
    size_t i;
    const char *k = name;
    for (i = 0; i < sizeof SHORT / sizeof SHORT[0]; i++)
        if (strcmp(name, SHORT[i].field) == 0) k = SHORT[i].key;
    for (i = 0; k[i] != '\0' && i < sizeof key - 8; i++) key[i] = k[i] == '-' ? '_' : k[i];
    key[i] = '\0';
    lua_pushfstring(L, "%s%s", key, suffix);
}

/* The fields of one group into the table on top; the first of a repeated field wins. */
static void set_group(lua_State *L, const mv_report_group *g, mv_buf *b)
{
    size_t j;
    for (j = 0; j < g->n; j++) {
        const mv_report_field *f = &g->f[j];
        push_key(L, f->name, "");
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (is_multi(f->name)) {
            if (lua_isnil(L, -1)) { lua_pop(L, 1); lua_newtable(L); }
            push_clean(L, f->value, b);
            lua_rawseti(L, -2, (int)mvl_rawlen(L, -2) + 1);
            lua_rawset(L, -3);
            continue;
        }
        if (!lua_isnil(L, -1)) { lua_pop(L, 2); continue; }
        lua_pop(L, 1);
        push_clean(L, f->value, b);
        lua_rawset(L, -3);
        if (f->type != NULL) {
            push_key(L, f->name, "_type");
            push_clean(L, f->type, b);
            lua_rawset(L, -3);
        }
    }
}

/* The returned message or headers as an email (core.email_parse of its bytes). */
static void push_returned(lua_State *L, const mv_mime_msg *m, long part, mv_buf *b)
{
    mv_buf_reset(b);
    if (mv_mime_part_content(m, (size_t)part, b) < 0) luaL_error(L, "out of memory");
    lua_pushcfunction(L, mvl_email_parse);
    lua_pushlstring(L, b->data ? (const char *)b->data : "", b->len);
    lua_call(L, 1, 1);
}

static void push_report(lua_State *L, const mv_mime_msg *m, const mv_report *r, mv_buf *b)
{
    size_t i;
    lua_createtable(L, 0, 8);
    lua_pushstring(L, r->kind == MV_REPORT_DSN ? "delivery-status" : "feedback-report");
    lua_setfield(L, -2, "type");
    if (r->ng > 0) set_group(L, &r->g[0], b);
    if (r->kind == MV_REPORT_DSN) {
        lua_createtable(L, (int)(r->ng > 0 ? r->ng - 1 : 0), 0);
        for (i = 1; i < r->ng; i++) {
            lua_newtable(L);
            set_group(L, &r->g[i], b);
            lua_rawseti(L, -2, (int)i);
        }
        lua_setfield(L, -2, "recipients");
    }
    lua_pushboolean(L, r->truncated);
    lua_setfield(L, -2, "truncated");
    if (r->returned >= 0) {
        lua_pushboolean(L, r->headers_only);
        lua_setfield(L, -2, "headers_only");
        push_returned(L, m, r->returned, b);
        lua_setfield(L, -2, "message");
    }
}

int mvl_email_get_report(lua_State *L, lemail *e, const char *k)
{
    mv_mime_view v;
    mv_report r;
    mv_error err;
    mv_buf b;
    int found;
    (void)k;
    mv_error_clear(&err);
    /* A message built here has no report structure (the builder makes none): no need
     * to write it out to find that. */
    if (e->unparsed || e->m.raw == NULL || mv_mime_view_open(&v, &e->m, &err) != MV_OK) {
        lua_pushnil(L);
        return 1;
    }
    found = mv_report_of(v.m, &r);
    if (found <= 0) {
        mv_mime_view_close(&v);
        if (found < 0) return luaL_error(L, "out of memory");
        lua_pushnil(L);
        return 1;
    }
    /* A userdata would be needed to free these if a Lua error unwound: the only errors
     * here are out of memory, where a leak of the report is the lesser harm. */
    mv_buf_init(&b);
    push_report(L, v.m, &r, &b);
    mv_buf_free(&b);
    mv_report_free(&r);
    mv_mime_view_close(&v);
    return 1;
}
