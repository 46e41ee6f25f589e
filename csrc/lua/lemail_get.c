/* Reading a "missive.email": its fields (what __index gives for a field name) and the
 * methods that read the message (header, headers, addresses, envelope, parts_list). */
#include "lemail_int.h"

#include <string.h>
#include <strings.h>

#include "mime_codec.h"
#include "mime_header.h"
#include "mime_part.h"
#include "mime_view.h"

static int parse_list(const char *v, mv_addr_list *l)
{
    return mv_addr_parse(v, strlen(v), 1, l, NULL, NULL, 0);
}

static void push_display_list(lua_State *L, const char *v)
{
    mv_addr_list l = {NULL, 0, 0};
    mv_buf b;
    size_t i;
    lua_newtable(L);
    if (v == NULL) return;
    parse_list(v, &l);
    mv_buf_init(&b);
    for (i = 0; i < l.n; i++) {
        mv_buf_reset(&b);
        if (mv_addr_format(&b, &l.v[i]) != 0) break;
        lua_pushlstring(L, (const char *)b.data, b.len);
        lua_rawseti(L, -2, (int)i + 1);
    }
    mv_buf_free(&b);
    mv_addr_list_free(&l);
}

/* Values read from a message (a part's type, disposition, cid, charset, file name) go to
 * Lua as valid UTF-8 without control bytes: C0 but TAB, and DEL (an ESC sequence would
 * reach a terminal or a log), and invalid sequences become U+FFFD (CHECKLIST 60). */
static void push_clean(lua_State *L, const char *s)
{
    mv_buf b;
    size_t n = strlen(s);
    mv_buf_init(&b);
    if (mv_utf8_sanitize((const unsigned char *)s, n, 1, &b) < 0) {
        mv_buf_free(&b);
        luaL_error(L, "out of memory");
        return;
    }
    lua_pushlstring(L, b.data ? (const char *)b.data : "", b.len);
    mv_buf_free(&b);
}

static void set_clean(lua_State *L, const char *k, const char *v)
{
    if (v == NULL) return;
    push_clean(L, v);
    lua_setfield(L, -2, k);
}

static void push_att(lua_State *L, int eidx, size_t i, const mv_mime_att *a)
{
    lua_createtable(L, 0, 10);
    lua_pushstring(L, a->name);
    lua_setfield(L, -2, "name");
    if (a->raw_name != NULL) { lua_pushstring(L, a->raw_name); lua_setfield(L, -2, "raw_name"); }
    set_clean(L, "type", a->type);
    if (a->path != NULL) {
        lua_pushstring(L, a->path);
        lua_setfield(L, -2, "path");
    } else {
        lua_pushinteger(L, (lua_Integer)a->len);
        lua_setfield(L, -2, "size");
    }
    lua_pushboolean(L, a->is_inline);
    lua_setfield(L, -2, "inline");
    set_clean(L, "cid", a->cid);
    lua_pushvalue(L, eidx);
    lua_setfield(L, -2, "_email");
    lua_pushinteger(L, (lua_Integer)i + 1);
    lua_setfield(L, -2, "_index");
    mvl_setmetatable(L, EMAIL_ATT_MT);
}

/* Pushes what m:header shows of field i (mv_mime_header_text). */
static void push_header_text(lua_State *L, const mv_mime_msg *m, size_t i)
{
    mv_buf b;
    mv_buf_init(&b);
    if (mv_mime_header_text(m, i, &b) != 0) {
        mv_buf_free(&b);
        luaL_error(L, "out of memory");
    }
    lua_pushlstring(L, b.data != NULL ? (const char *)b.data : "", b.len);
    mv_buf_free(&b);
}

/* An address field: from and sender as one mailbox, the others as a list. */
static int get_address(lua_State *L, const mv_mime_msg *m, const char *k, const char *ah)
{
    size_t i;
    if (strcmp(k, "from") != 0 && strcmp(k, "sender") != 0) {
        push_display_list(L, mv_mime_get_header(m, ah, 0));
        return 1;
    }
    for (i = 0; i < m->nh; i++) {
        if (strcasecmp(m->h[i].name, ah) != 0) continue;
        /* No mailbox could be read: the text as written rather than "". */
        if (m->h[i].value[0] == '\0') push_header_text(L, m, i);
        else lua_pushstring(L, m->h[i].value);
        return 1;
    }
    lua_pushnil(L);
    return 1;
}

/* subject, date, message_id: the header's value. */
static int get_header_field(lua_State *L, lemail *e, const char *k)
{
    const char *name = k[0] == 's' ? "Subject" : k[0] == 'd' ? "Date" : "Message-ID";
    lua_pushstring(L, mv_mime_get_header(&e->m, name, 0));
    return 1;
}

static int get_priority(lua_State *L, lemail *e, const char *k)
{
    const char *v = mv_mime_get_header(&e->m, "X-Priority", 0);
    (void)k;
    if (v == NULL || v[0] < '1' || v[0] > '5') lua_pushnil(L);
    else lua_pushinteger(L, v[0] - '0');
    return 1;
}

/* text or html. */
static int get_body(lua_State *L, lemail *e, const char *k)
{
    const char *b = k[0] == 'h' ? e->m.html : e->m.text;
    if (b == NULL) lua_pushnil(L);
    else lua_pushlstring(L, b, k[0] == 'h' ? e->m.html_len : e->m.text_len);
    return 1;
}

/* A Lua array of n items, item i pushed by push(L, e, i). */
static int push_array(lua_State *L, lemail *e, size_t n,
                      void (*push)(lua_State *L, lemail *e, size_t i))
{
    size_t i;
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        push(L, e, i);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static void push_att_at(lua_State *L, lemail *e, size_t i)
{
    push_att(L, 1, i, &e->m.att[i]);
}

static int get_attachments(lua_State *L, lemail *e, const char *k)
{
    (void)k;
    return push_array(L, e, e->m.natt, push_att_at);
}

/* The very string parsed (nil for a built message). */
static int get_raw(lua_State *L, lemail *e, const char *k)
{
    (void)e;
    (void)k;
    mvl_email_push_extra(L, 1, EMAIL_RAW_KEY);
    return 1;
}

/* The parser's message for a message kept unparsed (email_unparsed), else nil. */
static int get_parse_error(lua_State *L, lemail *e, const char *k)
{
    (void)e;
    (void)k;
    mvl_email_push_extra(L, 1, EMAIL_PARSE_ERROR_KEY);
    return 1;
}

static void push_defect(lua_State *L, lemail *e, size_t i)
{
    lua_pushstring(L, e->m.defects[i]);
}

static int get_defects(lua_State *L, lemail *e, const char *k)
{
    (void)k;
    return push_array(L, e, e->m.ndefects, push_defect);
}

static int get_allow_8bit(lua_State *L, lemail *e, const char *k)
{
    (void)k;
    lua_pushboolean(L, e->m.allow_8bit);
    return 1;
}

int mvl_email_get_field(lua_State *L, lemail *e, const char *k)
{
    static const struct {
        const char *name;
        int (*get)(lua_State *L, lemail *e, const char *k);
    } fields[] = {
        {"subject", get_header_field}, {"date", get_header_field},
        {"message_id", get_header_field}, {"priority", get_priority}, {"text", get_body},
        {"html", get_body}, {"attachments", get_attachments}, {"raw", get_raw},
        {"defects", get_defects}, {"allow_8bit", get_allow_8bit},
        {"parse_error", get_parse_error}, {"report", mvl_email_get_report},
    };
    const char *ah = mvl_email_addr_header(k);
    size_t i;
    if (ah != NULL) return get_address(L, &e->m, k, ah);
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(k, fields[i].name) == 0) return fields[i].get(L, e, k);
    return 0;
}


static int l_header(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    const char *name = luaL_checkstring(L, 2);
    size_t i;
    for (i = 0; i < e->m.nh; i++)
        if (strcasecmp(e->m.h[i].name, name) == 0) { push_header_text(L, &e->m, i); return 1; }
    lua_pushnil(L);
    return 1;
}

static int l_headers(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    const char *name = luaL_optstring(L, 2, NULL);
    size_t i;
    int k = 0;
    lua_newtable(L);
    for (i = 0; i < e->m.nh; i++) {
        if (name != NULL) {
            if (strcasecmp(e->m.h[i].name, name) != 0) continue;
            push_header_text(L, &e->m, i);
        } else {
            lua_createtable(L, 0, 2);
            lua_pushstring(L, e->m.h[i].name);
            lua_setfield(L, -2, "name");
            push_header_text(L, &e->m, i);
            lua_setfield(L, -2, "value");
        }
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

static int l_addresses(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    const char *f = luaL_checkstring(L, 2), *ah = mvl_email_addr_header(f), *v;
    mv_addr_list l = {NULL, 0, 0};
    size_t i;
    if (ah == NULL) return luaL_argerror(L, 2, "not an address field");
    lua_newtable(L);
    v = mv_mime_get_header(&e->m, ah, 0);
    if (v == NULL) return 1;
    parse_list(v, &l);
    for (i = 0; i < l.n; i++) {
        lua_createtable(L, 0, 2);
        if (l.v[i].name != NULL) { lua_pushstring(L, l.v[i].name); lua_setfield(L, -2, "name"); }
        lua_pushstring(L, l.v[i].addr);
        lua_setfield(L, -2, "address");
        lua_rawseti(L, -2, (int)i + 1);
    }
    mv_addr_list_free(&l);
    return 1;
}

static int l_envelope(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    mv_mime_envelope env;
    size_t i;
    if (mv_mime_envelope_of(&e->m, &env) != 0) return luaL_error(L, "out of memory");
    if (env.from != NULL) lua_pushstring(L, env.from); else lua_pushnil(L);
    lua_createtable(L, (int)env.nrcpts, 0);
    for (i = 0; i < env.nrcpts; i++) {
        lua_pushstring(L, env.rcpts[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    mv_mime_envelope_free(&env);
    return 2;
}

/* Appends {name =, value =} to the table on top of the stack (mv_mime_header_fn). */
static int push_header_pair(void *ctx, const char *name, size_t nl, const char *value,
                            size_t vl)
{
    lua_State *L = ctx;
    lua_createtable(L, 0, 2);
    lua_pushlstring(L, name, nl);
    lua_setfield(L, -2, "name");
    lua_pushlstring(L, value, vl);
    lua_setfield(L, -2, "value");
    lua_rawseti(L, -2, (int)mvl_rawlen(L, -2) + 1);
    return 0;
}

/* Pushes one leaf part as a table: its type information, headers and decoded content.
 * 0, or -1 when out of memory (the caller frees, then raises). */
static int push_part(lua_State *L, const mv_mime_msg *m, size_t i, mv_buf *b)
{
    const mv_mime_part *pt = &m->parts[i];
    lua_createtable(L, 0, 8);
    set_clean(L, "type", pt->type);
    set_clean(L, "charset", pt->charset);
    set_clean(L, "filename", pt->filename);
    set_clean(L, "disposition", pt->disposition);
    set_clean(L, "cid", pt->cid);
    lua_pushinteger(L, pt->depth);
    lua_setfield(L, -2, "depth");
    lua_newtable(L);
    if (mv_mime_part_headers_each(m, i, b, push_header_pair, L) != 0) return -1;
    lua_setfield(L, -2, "headers");
    mv_buf_reset(b);
    if (mv_mime_part_content(m, i, b) < 0) return -1;
    lua_pushlstring(L, b->data ? (const char *)b->data : "", b->len);
    lua_setfield(L, -2, "content");
    return 0;
}

/* Every leaf part of the parsed form (mv_mime_view). */
static int l_parts_list(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    mv_mime_view v;
    mv_error err;
    mv_buf b;
    size_t i;
    int k = 0, failed = 0;
    mv_error_clear(&err);
    if (mv_mime_view_open(&v, &e->m, &err) != MV_OK) return mvl_push_error(L, &err);
    lua_newtable(L);
    mv_buf_init(&b);
    for (i = 0; i < v.m->nparts && failed == 0; i++) {
        if (!mv_mime_part_is_leaf(v.m, i)) continue;
        if ((failed = push_part(L, v.m, i, &b)) == 0) lua_rawseti(L, -2, ++k);
    }
    mv_buf_free(&b);
    mv_mime_view_close(&v);
    if (failed) return luaL_error(L, "out of memory");
    return 1;
}

const luaL_Reg mvl_email_get_methods[] = {
    {"header", l_header}, {"headers", l_headers}, {"addresses", l_addresses},
    {"envelope", l_envelope}, {"parts_list", l_parts_list}, {NULL, NULL}
};
