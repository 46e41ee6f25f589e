/* The "missive.email" userdata: fields and methods over the C message model. */
#include "bind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_codec.h"
#include "mime_header.h"
#include "mime_msg.h"

#define EMAIL_MT "missive.email"
#define SOURCE_MT "missive.email.source"
#define ATT_MT "missive.email.attachment"

typedef struct lemail {
    mv_mime_msg m;
} lemail;

typedef struct lsource {
    mv_mime_source *s;
} lsource;

static lemail *check_email(lua_State *L, int idx)
{
    return (lemail *)luaL_checkudata(L, idx, EMAIL_MT);
}

static lemail *push_email(lua_State *L)
{
    lemail *e = (lemail *)mvl_newuserdata(L, sizeof *e);
    mv_mime_init(&e->m);
    mvl_setmetatable(L, EMAIL_MT);
    return e;
}

static int push_fail(lua_State *L, const char *kind, const char *msg)
{
    mvl_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, kind);
    return 3;
}

static int oom(lua_State *L)
{
    return luaL_error(L, "out of memory");
}

/* ---- codecs ------------------------------------------------------------------------- */

static int l_b64_encode(lua_State *L)
{
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    int wrap = lua_toboolean(L, 2);
    luaL_Buffer b;
    size_t len = mv_b64_encoded_len(n, wrap);
    char *out = malloc(len ? len : 1);
    if (out == NULL) return oom(L);
    len = mv_b64_encode(s, n, out, wrap);
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, out, len);
    free(out);
    luaL_pushresult(&b);
    return 1;
}

static int l_b64_decode(lua_State *L)
{
    size_t n, len;
    const char *s = luaL_checklstring(L, 1, &n);
    int d = 0;
    unsigned char *out = malloc(n / 4 * 3 + 4);
    if (out == NULL) return oom(L);
    len = mv_b64_decode(s, n, out, &d);
    lua_pushlstring(L, (const char *)out, len);
    free(out);
    lua_pushinteger(L, d);
    return 2;
}

static int l_qp_encode(lua_State *L)
{
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    mv_buf b;
    mv_buf_init(&b);
    if (mv_qp_encode(s, n, !lua_toboolean(L, 2), &b) != 0) { mv_buf_free(&b); return oom(L); }
    lua_pushlstring(L, b.data ? (const char *)b.data : "", b.len);
    mv_buf_free(&b);
    return 1;
}

static int l_qp_decode(lua_State *L)
{
    size_t n, len;
    const char *s = luaL_checklstring(L, 1, &n);
    int d = 0;
    unsigned char *out = malloc(n + 1);
    if (out == NULL) return oom(L);
    len = mv_qp_decode(s, n, out, &d);
    lua_pushlstring(L, (const char *)out, len);
    free(out);
    lua_pushinteger(L, d);
    return 2;
}

static int l_date(lua_State *L)
{
    char d[64];
    if (lua_isnoneornil(L, 1)) mv_mime_date_now(d, sizeof d);
    else mv_mime_date(d, sizeof d, (long long)luaL_checknumber(L, 1));
    lua_pushstring(L, d);
    return 1;
}

static int l_message_id(lua_State *L)
{
    char id[160];
    const char *dom = luaL_optstring(L, 1, NULL);
    if (dom != NULL && (strlen(dom) > 100 || strpbrk(dom, "<>@ \t\r\n\"") != NULL)) dom = NULL;
    if (mv_mime_new_message_id(id, sizeof id, dom) != 0)
        return push_fail(L, "io", "no randomness available");
    lua_pushstring(L, id);
    return 1;
}

/* ---- setting fields ------------------------------------------------------------------ */

static const char *const addr_fields[][2] = {
    {"from", "From"}, {"to", "To"}, {"cc", "Cc"}, {"bcc", "Bcc"}, {"reply_to", "Reply-To"},
    {"sender", "Sender"}, {NULL, NULL}
};

static const char *addr_header_of(const char *field)
{
    size_t i;
    for (i = 0; addr_fields[i][0] != NULL; i++)
        if (strcmp(addr_fields[i][0], field) == 0) return addr_fields[i][1];
    if (mv_mime_is_addr_header(field)) return field;
    return NULL;
}

/* Parses one caller value strictly and appends the display forms to out. */
static int add_addrs(lua_State *L, int idx, mv_buf *out, char *err, size_t errsize)
{
    mv_addr_list l = {NULL, 0, 0};
    size_t n, k;
    const char *s;
    mv_addr one;
    if (lua_istable(L, idx)) {
        /* {name = , address = } */
        lua_getfield(L, idx, "address");
        lua_getfield(L, idx, "name");
        s = lua_tostring(L, -2);
        if (s == NULL) { lua_pop(L, 2); snprintf(err, errsize, "address table without address");
                         return -1; }
        one.addr = (char *)(size_t)s;
        one.name = (char *)(size_t)lua_tostring(L, -1);
        if (!mv_hdr_value_ok(s, strlen(s)) ||
            (one.name && !mv_hdr_value_ok(one.name, strlen(one.name)))) {
            lua_pop(L, 2);
            snprintf(err, errsize, "CR, LF or NUL in an address");
            return -1;
        }
        if (out->len > 0 && mv_buf_append(out, ", ", 2) != 0) return -1;
        k = out->len;
        if (mv_addr_format(out, &one) != 0) return -1;
        lua_pop(L, 2);
        /* Check that the result reads back as exactly this one address. */
        if (mv_addr_parse((const char *)out->data + k, out->len - k, 0, &l, NULL, err,
                          errsize) != 0 || l.n != 1) {
            if (err[0] == '\0') snprintf(err, errsize, "invalid address");
            mv_addr_list_free(&l);
            return -1;
        }
        mv_addr_list_free(&l);
        return 0;
    }
    s = lua_tolstring(L, idx, &n);
    if (s == NULL) { snprintf(err, errsize, "address must be a string or a table"); return -1; }
    if (!mv_hdr_value_ok(s, n)) { snprintf(err, errsize, "CR, LF or NUL in an address");
                                  return -1; }
    if (mv_addr_parse(s, n, 0, &l, NULL, err, errsize) != 0) { mv_addr_list_free(&l);
                                                              return -1; }
    if (l.n == 0) { snprintf(err, errsize, "no address in '%.80s'", s); return -1; }
    for (k = 0; k < l.n; k++) {
        if ((out->len > 0 && mv_buf_append(out, ", ", 2) != 0) ||
            mv_addr_format(out, &l.v[k]) != 0) { mv_addr_list_free(&l); return -1; }
    }
    mv_addr_list_free(&l);
    return 0;
}

static int set_addresses(lua_State *L, lemail *e, const char *hname, int idx)
{
    mv_buf b;
    char err[200] = "";
    int rc = 0;
    if (lua_isnil(L, idx)) { mv_mime_set_header(&e->m, hname, NULL); return 0; }
    mv_buf_init(&b);
    if (lua_istable(L, idx) && mvl_rawlen(L, idx) > 0) {
        size_t i, n = mvl_rawlen(L, idx);
        for (i = 1; i <= n && rc == 0; i++) {
            lua_rawgeti(L, idx, (int)i);
            rc = add_addrs(L, lua_gettop(L), &b, err, sizeof err);
            lua_pop(L, 1);
        }
    } else {
        rc = add_addrs(L, idx, &b, err, sizeof err);
    }
    if (rc == 0 && (mv_buf_append(&b, "", 1) != 0 ||
                    mv_mime_set_header(&e->m, hname, (const char *)b.data) != 0)) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    mv_buf_free(&b);
    if (rc != 0) {
        lua_pushfstring(L, "%s: %s", hname, err[0] ? err : "invalid address");
        return -1;
    }
    return 0;
}

static int checked_string(lua_State *L, int idx, const char *what, const char **s, size_t *n)
{
    *s = lua_tolstring(L, idx, n);
    if (*s == NULL) { lua_pushfstring(L, "%s must be a string", what); return -1; }
    if (!mv_hdr_value_ok(*s, *n)) {
        lua_pushfstring(L, "%s contains CR, LF or NUL", what);
        return -1;
    }
    return 0;
}

static int set_header_value(lua_State *L, lemail *e, const char *name, int idx, int add)
{
    const char *v;
    size_t n;
    const char *ah;
    if (!mv_hdr_name_ok(name, strlen(name))) {
        lua_pushfstring(L, "invalid header name '%s'", name);
        return -1;
    }
    if (strncasecmp(name, "content-", 8) == 0 || strcasecmp(name, "mime-version") == 0) {
        lua_pushfstring(L, "header %s is managed by the library", name);
        return -1;
    }
    ah = mv_mime_is_addr_header(name) ? name : NULL;
    if (ah != NULL && !add) return set_addresses(L, e, name, idx);
    if (lua_isnil(L, idx) && !add) { mv_mime_set_header(&e->m, name, NULL); return 0; }
    if (checked_string(L, idx, name, &v, &n) != 0) return -1;
    if ((add ? mv_mime_add_header(&e->m, name, v) : mv_mime_set_header(&e->m, name, v)) != 0) {
        lua_pushliteral(L, "out of memory");
        return -1;
    }
    return 0;
}

static int add_attachment(lua_State *L, lemail *e, int idx)
{
    const char *path, *name, *type, *cid;
    const char *data;
    size_t dlen = 0;
    int inl;
    mv_error err;
    if (!lua_istable(L, idx)) { lua_pushliteral(L, "an attachment must be a table"); return -1; }
    lua_getfield(L, idx, "path");
    lua_getfield(L, idx, "data");
    lua_getfield(L, idx, "name");
    lua_getfield(L, idx, "type");
    lua_getfield(L, idx, "cid");
    lua_getfield(L, idx, "inline");
    path = lua_tostring(L, -6);
    data = lua_tolstring(L, -5, &dlen);
    name = lua_tostring(L, -4);
    type = lua_tostring(L, -3);
    cid = lua_tostring(L, -2);
    inl = lua_toboolean(L, -1);
    if ((path == NULL) == (data == NULL)) {
        lua_pop(L, 6);
        lua_pushliteral(L, "an attachment needs either path or data");
        return -1;
    }
    if (path != NULL && strlen(path) != (size_t)mvl_rawlen(L, -6)) {
        lua_pop(L, 6);
        lua_pushliteral(L, "NUL in an attachment path");
        return -1;
    }
    mv_error_clear(&err);
    if (mv_mime_add_att(&e->m, path, data, dlen, name, type, cid, inl, &err) != MV_OK) {
        lua_pop(L, 6);
        lua_pushstring(L, err.msg);
        return -1;
    }
    lua_pop(L, 6);
    return 0;
}

/* Sets one field; on failure leaves a message on the stack and returns -1. */
static int set_field(lua_State *L, lemail *e, const char *k, int v)
{
    const char *s, *ah = addr_header_of(k);
    size_t n;
    if (ah != NULL) return set_addresses(L, e, ah, v);
    if (strcmp(k, "subject") == 0) {
        if (lua_isnil(L, v)) { mv_mime_set_header(&e->m, "Subject", NULL); return 0; }
        if (checked_string(L, v, "subject", &s, &n) != 0) return -1;
        return mv_mime_set_header(&e->m, "Subject", s) == 0 ? 0 : (lua_pushliteral(L, "oom"), -1);
    }
    if (strcmp(k, "text") == 0 || strcmp(k, "html") == 0) {
        int html = k[0] == 'h';
        if (lua_isnil(L, v)) return mv_mime_set_body(&e->m, html, NULL, 0);
        s = lua_tolstring(L, v, &n);
        if (s == NULL) { lua_pushfstring(L, "%s must be a string", k); return -1; }
        return mv_mime_set_body(&e->m, html, s, n) == 0 ? 0 : (lua_pushliteral(L, "oom"), -1);
    }
    if (strcmp(k, "date") == 0) {
        char d[64];
        if (lua_type(L, v) == LUA_TNUMBER) {
            mv_mime_date(d, sizeof d, (long long)lua_tonumber(L, v));
            s = d;
        } else if (lua_isnil(L, v)) {
            s = NULL;
        } else if (checked_string(L, v, "date", &s, &n) != 0) {
            return -1;
        }
        return mv_mime_set_header(&e->m, "Date", s) == 0 ? 0 : (lua_pushliteral(L, "oom"), -1);
    }
    if (strcmp(k, "message_id") == 0) {
        char id[1000];
        if (lua_isnil(L, v)) { mv_mime_set_header(&e->m, "Message-ID", NULL); return 0; }
        if (checked_string(L, v, "message_id", &s, &n) != 0) return -1;
        if (n == 0 || n > 900 || strpbrk(s, " \t") != NULL) {
            lua_pushliteral(L, "invalid message_id");
            return -1;
        }
        snprintf(id, sizeof id, s[0] == '<' ? "%s" : "<%s>", s);
        return mv_mime_set_header(&e->m, "Message-ID", id) == 0 ? 0
               : (lua_pushliteral(L, "oom"), -1);
    }
    if (strcmp(k, "priority") == 0) {
        static const char *const pv[] = { NULL, "1 (Highest)", "2 (High)", "3 (Normal)",
                                           "4 (Low)", "5 (Lowest)" };
        int p = 0;
        if (lua_isnil(L, v)) { mv_mime_set_header(&e->m, "X-Priority", NULL); return 0; }
        if (lua_type(L, v) == LUA_TNUMBER) p = (int)lua_tointeger(L, v);
        else if ((s = lua_tostring(L, v)) != NULL)
            p = strcmp(s, "high") == 0 ? 1 : strcmp(s, "normal") == 0 ? 3
                : strcmp(s, "low") == 0 ? 5 : 0;
        if (p < 1 || p > 5) {
            lua_pushliteral(L, "priority must be 1..5, \"high\", \"normal\" or \"low\"");
            return -1;
        }
        return mv_mime_set_header(&e->m, "X-Priority", pv[p]) == 0 ? 0
               : (lua_pushliteral(L, "oom"), -1);
    }
    if (strcmp(k, "headers") == 0) {
        if (!lua_istable(L, v)) { lua_pushliteral(L, "headers must be a table"); return -1; }
        lua_pushnil(L);
        while (lua_next(L, v) != 0) {
            int top = lua_gettop(L);
            if (lua_type(L, -2) == LUA_TSTRING) {
                if (set_header_value(L, e, lua_tostring(L, -2), top, 0) != 0) return -1;
            } else if (lua_istable(L, -1)) {   /* { {name, value}, ... } keeps order */
                lua_rawgeti(L, top, 1);
                lua_rawgeti(L, top, 2);
                if (lua_tostring(L, -2) == NULL) { lua_pushliteral(L, "bad header entry");
                                                   return -1; }
                if (set_header_value(L, e, lua_tostring(L, -2), top + 2, 1) != 0) return -1;
                lua_pop(L, 2);
            }
            lua_pop(L, 1);
        }
        return 0;
    }
    if (strcmp(k, "attachments") == 0) {
        size_t i, cnt;
        mv_mime_clear_atts(&e->m);
        e->m.dirty = 1;
        if (lua_isnil(L, v)) return 0;
        if (!lua_istable(L, v)) { lua_pushliteral(L, "attachments must be a table"); return -1; }
        cnt = mvl_rawlen(L, v);
        for (i = 1; i <= cnt; i++) {
            lua_rawgeti(L, v, (int)i);
            if (add_attachment(L, e, lua_gettop(L)) != 0) return -1;
            lua_pop(L, 1);
        }
        return 0;
    }
    if (strcmp(k, "allow_8bit") == 0) {
        e->m.allow_8bit = lua_toboolean(L, v);
        e->m.dirty = 1;
        e->m.gen++;
        return 0;
    }
    lua_pushfstring(L, "unknown email field '%s'", k);
    return -1;
}

/* ---- reading fields ------------------------------------------------------------------ */

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

static void push_att(lua_State *L, int eidx, size_t i, const mv_mime_att *a)
{
    lua_createtable(L, 0, 10);
    lua_pushstring(L, a->name);
    lua_setfield(L, -2, "name");
    if (a->raw_name != NULL) { lua_pushstring(L, a->raw_name); lua_setfield(L, -2, "raw_name"); }
    lua_pushstring(L, a->type);
    lua_setfield(L, -2, "type");
    if (a->path != NULL) {
        lua_pushstring(L, a->path);
        lua_setfield(L, -2, "path");
    } else {
        lua_pushinteger(L, (lua_Integer)a->len);
        lua_setfield(L, -2, "size");
    }
    lua_pushboolean(L, a->is_inline);
    lua_setfield(L, -2, "inline");
    if (a->cid != NULL) { lua_pushstring(L, a->cid); lua_setfield(L, -2, "cid"); }
    lua_pushvalue(L, eidx);
    lua_setfield(L, -2, "_email");
    lua_pushinteger(L, (lua_Integer)i + 1);
    lua_setfield(L, -2, "_index");
    mvl_setmetatable(L, ATT_MT);
}

static int get_field(lua_State *L, lemail *e, const char *k)
{
    mv_mime_msg *m = &e->m;
    const char *ah = addr_header_of(k);
    size_t i;
    if (ah != NULL) {
        if (strcmp(k, "from") == 0 || strcmp(k, "sender") == 0) {
            const char *v = mv_mime_get_header(m, ah, 0);
            if (v == NULL) { lua_pushnil(L); return 1; }
            lua_pushstring(L, v);
            return 1;
        }
        push_display_list(L, mv_mime_get_header(m, ah, 0));
        return 1;
    }
    if (strcmp(k, "subject") == 0) { lua_pushstring(L, mv_mime_get_header(m, "Subject", 0));
                                     return 1; }
    if (strcmp(k, "date") == 0) { lua_pushstring(L, mv_mime_get_header(m, "Date", 0)); return 1; }
    if (strcmp(k, "message_id") == 0) {
        lua_pushstring(L, mv_mime_get_header(m, "Message-ID", 0));
        return 1;
    }
    if (strcmp(k, "priority") == 0) {
        const char *v = mv_mime_get_header(m, "X-Priority", 0);
        if (v == NULL || v[0] < '1' || v[0] > '5') lua_pushnil(L);
        else lua_pushinteger(L, v[0] - '0');
        return 1;
    }
    if (strcmp(k, "text") == 0) {
        if (m->text == NULL) lua_pushnil(L); else lua_pushlstring(L, m->text, m->text_len);
        return 1;
    }
    if (strcmp(k, "html") == 0) {
        if (m->html == NULL) lua_pushnil(L); else lua_pushlstring(L, m->html, m->html_len);
        return 1;
    }
    if (strcmp(k, "attachments") == 0) {
        lua_createtable(L, (int)m->natt, 0);
        for (i = 0; i < m->natt; i++) {
            push_att(L, 1, i, &m->att[i]);
            lua_rawseti(L, -2, (int)i + 1);
        }
        return 1;
    }
    if (strcmp(k, "raw") == 0) {
        if (m->raw == NULL) lua_pushnil(L);
        else lua_pushlstring(L, (const char *)m->raw, m->raw_len);
        return 1;
    }
    if (strcmp(k, "defects") == 0) {
        lua_createtable(L, (int)m->ndefects, 0);
        for (i = 0; i < m->ndefects; i++) {
            lua_pushstring(L, m->defects[i]);
            lua_rawseti(L, -2, (int)i + 1);
        }
        return 1;
    }
    if (strcmp(k, "allow_8bit") == 0) { lua_pushboolean(L, m->allow_8bit); return 1; }
    lua_pushnil(L);
    return 1;
}

/* Where a message came from (POP3: number, uid, size; WinDev's out flag) is not part of the message: it
 * lives in the userdata's Lua value, a table made on first use. */
static int is_mailbox_field(const char *k)
{
    return strcmp(k, "number") == 0 || strcmp(k, "uid") == 0 || strcmp(k, "size") == 0
        || strcmp(k, "out") == 0;
}

/* The marker tells our table from the environment table Lua 5.1 gives every userdata. */
#define EXTRAS_MARK "missive.email.extras"

static void push_extras(lua_State *L, int create)
{
    mvl_getuservalue(L, 1);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, EXTRAS_MARK);
        if (lua_toboolean(L, -1)) { lua_pop(L, 1); return; }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (!create) { lua_pushnil(L); return; }
    lua_newtable(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, EXTRAS_MARK);
    lua_pushvalue(L, -1);
    mvl_setuservalue(L, 1);
}

static int l_index(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *k = luaL_checkstring(L, 2);
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);
    if (is_mailbox_field(k)) {
        push_extras(L, 0);
        if (!lua_istable(L, -1)) { lua_pushnil(L); return 1; }
        lua_getfield(L, -1, k);
        return 1;
    }
    return get_field(L, e, k);
}

static int l_newindex(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (is_mailbox_field(k)) {
        push_extras(L, 1);
        lua_pushvalue(L, 3);
        lua_setfield(L, -2, k);
        return 0;
    }
    if (set_field(L, e, k, 3) != 0) return lua_error(L);
    return 0;
}

static int l_set(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *k = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    if (set_field(L, e, k, 3) != 0) {
        mvl_pushfail(L);
        lua_insert(L, -2);
        lua_pushliteral(L, "argument");
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_set_header(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    if (set_header_value(L, e, name, 3, 0) != 0) {
        mvl_pushfail(L);
        lua_insert(L, -2);
        lua_pushliteral(L, "argument");
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_add_header(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *name = luaL_checkstring(L, 2);
    luaL_checkstring(L, 3);
    lua_settop(L, 3);
    if (set_header_value(L, e, name, 3, 1) != 0) {
        mvl_pushfail(L);
        lua_insert(L, -2);
        lua_pushliteral(L, "argument");
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_header(lua_State *L)
{
    lemail *e = check_email(L, 1);
    lua_pushstring(L, mv_mime_get_header(&e->m, luaL_checkstring(L, 2), 0));
    return 1;
}

static int l_headers(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *name = luaL_optstring(L, 2, NULL);
    size_t i;
    int k = 0;
    lua_newtable(L);
    for (i = 0; i < e->m.nh; i++) {
        if (name != NULL) {
            if (strcasecmp(e->m.h[i].name, name) != 0) continue;
            lua_pushstring(L, e->m.h[i].value);
        } else {
            lua_createtable(L, 0, 2);
            lua_pushstring(L, e->m.h[i].name);
            lua_setfield(L, -2, "name");
            lua_pushstring(L, e->m.h[i].value);
            lua_setfield(L, -2, "value");
        }
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

static int l_addresses(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *f = luaL_checkstring(L, 2), *ah = addr_header_of(f), *v;
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

static void push_addr_only(lua_State *L, const char *v, int *k, int dedupe_tbl)
{
    mv_addr_list l = {NULL, 0, 0};
    size_t i;
    if (v == NULL) return;
    parse_list(v, &l);
    for (i = 0; i < l.n; i++) {
        lua_pushstring(L, l.v[i].addr);
        lua_rawget(L, dedupe_tbl);
        if (!lua_isnil(L, -1)) { lua_pop(L, 1); continue; }
        lua_pop(L, 1);
        lua_pushstring(L, l.v[i].addr);
        lua_pushboolean(L, 1);
        lua_rawset(L, dedupe_tbl);
        lua_pushstring(L, l.v[i].addr);
        lua_rawseti(L, -2, ++*k);
    }
    mv_addr_list_free(&l);
}

static int l_envelope(lua_State *L)
{
    lemail *e = check_email(L, 1);
    mv_addr_list l = {NULL, 0, 0};
    const char *from = mv_mime_get_header(&e->m, "Sender", 0);
    int k = 0, seen;
    if (from == NULL) from = mv_mime_get_header(&e->m, "From", 0);
    if (from != NULL) parse_list(from, &l);
    if (l.n > 0) lua_pushstring(L, l.v[0].addr); else lua_pushnil(L);
    mv_addr_list_free(&l);
    lua_newtable(L);
    seen = lua_gettop(L);
    lua_newtable(L);
    push_addr_only(L, mv_mime_get_header(&e->m, "To", 0), &k, seen);
    push_addr_only(L, mv_mime_get_header(&e->m, "Cc", 0), &k, seen);
    push_addr_only(L, mv_mime_get_header(&e->m, "Bcc", 0), &k, seen);
    lua_remove(L, seen);
    return 2;
}

/* ---- serialising ----------------------------------------------------------------------- */

static int l_tostring_method(lua_State *L)
{
    lemail *e = check_email(L, 1);
    mv_buf b;
    mv_error err;
    mv_buf_init(&b);
    mv_error_clear(&err);
    if (mv_mime_serialize(&e->m, &b, &err) != MV_OK) {
        mv_buf_free(&b);
        return mvl_push_error(L, &err);
    }
    lua_pushlstring(L, b.data ? (const char *)b.data : "", b.len);
    mv_buf_free(&b);
    return 1;
}

static int l_tostring_meta(lua_State *L)
{
    int n = l_tostring_method(L);
    if (n > 1) return luaL_error(L, "%s", lua_tostring(L, -2));
    return 1;
}

static int l_source_gc(lua_State *L)
{
    lsource *s = (lsource *)luaL_checkudata(L, 1, SOURCE_MT);
    mv_mime_source_free(s->s);
    s->s = NULL;
    return 0;
}

/* upvalues: the email (kept alive while the source runs), the source userdata. */
static int source_step(lua_State *L)
{
    lsource *s = (lsource *)lua_touserdata(L, lua_upvalueindex(2));
    unsigned char buf[65536];
    size_t n;
    mv_error err;
    if (s->s == NULL) { lua_pushnil(L); return 1; }
    mv_error_clear(&err);
    if (mv_mime_source_read(s->s, buf, sizeof buf, &n, &err) != MV_OK) {
        mv_mime_source_free(s->s);
        s->s = NULL;
        return mvl_push_error(L, &err);
    }
    if (n == 0) {
        mv_mime_source_free(s->s);
        s->s = NULL;
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, (const char *)buf, n);
    return 1;
}

static int l_source(lua_State *L)
{
    lemail *e = check_email(L, 1);
    lsource *s;
    mv_error err;
    lua_settop(L, 1);
    s = (lsource *)mvl_newuserdata(L, sizeof *s);
    s->s = NULL;
    mvl_setmetatable(L, SOURCE_MT);
    mv_error_clear(&err);
    s->s = mv_mime_source_new(&e->m, &err);
    if (s->s == NULL) return mvl_push_error(L, &err);
    lua_pushcclosure(L, source_step, 2);
    return 1;
}

static int l_save(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *path = luaL_checkstring(L, 2);
    mv_mime_source *s;
    mv_error err;
    FILE *f;
    unsigned char buf[65536];
    int ok = 0;
    mv_error_clear(&err);
    s = mv_mime_source_new(&e->m, &err);
    if (s == NULL) return mvl_push_error(L, &err);
    f = fopen(path, "wb");
    if (f == NULL) {
        mv_mime_source_free(s);
        lua_pushnil(L);
        lua_pushfstring(L, "cannot open %s for writing", path);
        lua_pushliteral(L, "io");
        return 3;
    }
    for (;;) {
        size_t n;
        if (mv_mime_source_read(s, buf, sizeof buf, &n, &err) != MV_OK) break;
        if (n == 0) { ok = 1; break; }
        if (fwrite(buf, 1, n, f) != n) { mv_fail(&err, MV_E_IO, "write error on %.180s", path);
                                         break; }
    }
    mv_mime_source_free(s);
    if (fclose(f) != 0 && ok) { ok = 0; mv_fail(&err, MV_E_IO, "write error on %.180s", path); }
    if (!ok) return mvl_push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_attach(lua_State *L)
{
    lemail *e = check_email(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (add_attachment(L, e, 2) != 0) {
        mvl_pushfail(L);
        lua_insert(L, -2);
        lua_pushliteral(L, "argument");
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Every leaf part of the parsed form (a built message is serialised and re-read). */
static int l_parts_list(lua_State *L)
{
    lemail *e = check_email(L, 1);
    mv_mime_msg tmp, *m = &e->m;
    mv_error err;
    mv_buf b;
    size_t i;
    int k = 0;
    mv_mime_init(&tmp);
    mv_error_clear(&err);
    if (m->raw == NULL || m->dirty) {
        mv_buf_init(&b);
        if (mv_mime_serialize(m, &b, &err) != MV_OK ||
            mv_mime_parse(&tmp, b.data, b.len, NULL, &err) != MV_OK) {
            mv_buf_free(&b);
            mv_mime_free(&tmp);
            return mvl_push_error(L, &err);
        }
        mv_buf_free(&b);
        m = &tmp;
    }
    lua_newtable(L);
    mv_buf_init(&b);
    for (i = 0; i < m->nparts; i++) {
        const mv_mime_part *pt = &m->parts[i];
        size_t pos = pt->hdr_off, nl, vl;
        const char *name, *val;
        int h = 0;
        if (strncmp(pt->type, "multipart/", 10) == 0 && pt->nchildren > 0) continue;
        if (strcmp(pt->type, "message/rfc822") == 0 && pt->nchildren > 0) continue;
        lua_createtable(L, 0, 8);
        lua_pushstring(L, pt->type);
        lua_setfield(L, -2, "type");
        if (pt->charset) { lua_pushstring(L, pt->charset); lua_setfield(L, -2, "charset"); }
        if (pt->filename) { lua_pushstring(L, pt->filename); lua_setfield(L, -2, "filename"); }
        if (pt->disposition) { lua_pushstring(L, pt->disposition);
                               lua_setfield(L, -2, "disposition"); }
        if (pt->cid) { lua_pushstring(L, pt->cid); lua_setfield(L, -2, "cid"); }
        lua_pushinteger(L, pt->depth);
        lua_setfield(L, -2, "depth");
        lua_newtable(L);
        while (mv_mime_next_header(m->raw, pt->hdr_end, &pos, &name, &nl, &val, &vl)) {
            char *u = mv_hdr_unfold(val, vl);
            int d = 0;
            if (u == NULL) break;
            mv_buf_reset(&b);
            mv_hdr_decode_text(u, strlen(u), &b, &d);
            free(u);
            lua_createtable(L, 0, 2);
            lua_pushlstring(L, name, nl);
            lua_setfield(L, -2, "name");
            lua_pushlstring(L, b.data ? (const char *)b.data : "", b.len);
            lua_setfield(L, -2, "value");
            lua_rawseti(L, -2, ++h);
        }
        lua_setfield(L, -2, "headers");
        mv_buf_reset(&b);
        mv_mime_part_content(m, i, &b);
        lua_pushlstring(L, b.data ? (const char *)b.data : "", b.len);
        lua_setfield(L, -2, "content");
        lua_rawseti(L, -2, ++k);
    }
    mv_buf_free(&b);
    mv_mime_free(&tmp);
    return 1;
}

static int l_gc(lua_State *L)
{
    lemail *e = (lemail *)luaL_checkudata(L, 1, EMAIL_MT);
    mv_mime_free(&e->m);
    return 0;
}

/* ---- attachments -------------------------------------------------------------------- */

static const mv_mime_att *att_of(lua_State *L, int idx, const mv_mime_msg **mp)
{
    lemail *e;
    lua_Integer i;
    lua_getfield(L, idx, "_email");
    e = (lemail *)mvl_testudata(L, -1, EMAIL_MT);
    lua_getfield(L, idx, "_index");
    i = lua_tointeger(L, -1);
    lua_pop(L, 2);
    if (e == NULL || i < 1 || (size_t)i > e->m.natt) return NULL;
    *mp = &e->m;
    return &e->m.att[i - 1];
}

static int att_content(lua_State *L, const mv_mime_att *a)
{
    FILE *f;
    luaL_Buffer b;
    char buf[8192];
    size_t n;
    if (a->path == NULL) {
        lua_pushlstring(L, (const char *)a->data, a->len);
        return 1;
    }
    f = fopen(a->path, "rb");
    if (f == NULL) return push_fail(L, "io", "cannot open the attachment's file");
    luaL_buffinit(L, &b);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) luaL_addlstring(&b, buf, n);
    fclose(f);
    luaL_pushresult(&b);
    return 1;
}

static int l_att_save(lua_State *L)
{
    const mv_mime_msg *m;
    const mv_mime_att *a;
    const char *path = luaL_checkstring(L, 2);
    FILE *f;
    size_t len;
    const char *data;
    luaL_checktype(L, 1, LUA_TTABLE);
    a = att_of(L, 1, &m);
    if (a == NULL) return push_fail(L, "argument", "the attachment no longer exists");
    lua_settop(L, 2);
    if (att_content(L, a) != 1) return 3;
    data = lua_tolstring(L, -1, &len);
    f = fopen(path, "wb");
    if (f == NULL) return push_fail(L, "io", "cannot open the file for writing");
    if (fwrite(data, 1, len, f) != len) { fclose(f); return push_fail(L, "io", "write error"); }
    if (fclose(f) != 0) return push_fail(L, "io", "write error");
    lua_pushboolean(L, 1);
    return 1;
}

static int l_att_index(lua_State *L)
{
    const char *k = luaL_checkstring(L, 2);
    const mv_mime_msg *m;
    const mv_mime_att *a;
    if (strcmp(k, "save") == 0) { lua_pushcfunction(L, l_att_save); return 1; }
    if (strcmp(k, "content") != 0) { lua_pushnil(L); return 1; }
    a = att_of(L, 1, &m);
    if (a == NULL) { lua_pushnil(L); return 1; }
    return att_content(L, a) == 1 ? 1 : 0;
}

/* ---- constructors --------------------------------------------------------------------- */

static int l_email_new(lua_State *L)
{
    push_email(L);
    return 1;
}

static int opt_size(lua_State *L, int idx, const char *k, size_t def)
{
    lua_Integer v;
    lua_getfield(L, idx, k);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return (int)def; }
    v = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    if (v < 1) luaL_error(L, "option %s must be positive", k);
    return (int)(v > 0x3fffffff ? 0x3fffffff : v);
}

static int l_email_parse(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    mv_mime_limits lim;
    mv_error err;
    lemail *e;
    mv_mime_limits_default(&lim);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lim.max_depth = (size_t)opt_size(L, 2, "max_depth", lim.max_depth);
        lim.max_parts = (size_t)opt_size(L, 2, "max_parts", lim.max_parts);
        lim.max_headers = (size_t)opt_size(L, 2, "max_headers", lim.max_headers);
        lim.max_header_bytes = (size_t)opt_size(L, 2, "max_header_bytes", lim.max_header_bytes);
    }
    e = push_email(L);
    mv_error_clear(&err);
    if (mv_mime_parse(&e->m, s, n, &lim, &err) != MV_OK) {
        mv_mime_free(&e->m);
        return mvl_push_error(L, &err);
    }
    return 1;
}

static const luaL_Reg email_methods[] = {
    {"tostring", l_tostring_method}, {"source", l_source}, {"save", l_save},
    {"header", l_header}, {"headers", l_headers}, {"set_header", l_set_header},
    {"add_header", l_add_header}, {"addresses", l_addresses}, {"envelope", l_envelope},
    {"attach", l_attach}, {"set", l_set}, {"parts_list", l_parts_list}, {NULL, NULL}
};

static const luaL_Reg core_funcs[] = {
    {"email_new", l_email_new}, {"email_parse", l_email_parse},
    {"email_date", l_date}, {"email_message_id", l_message_id},
    {"b64_encode", l_b64_encode}, {"b64_decode", l_b64_decode},
    {"qp_encode", l_qp_encode}, {"qp_decode", l_qp_decode}, {NULL, NULL}
};

void mvl_open_email(lua_State *L)
{
    luaL_newmetatable(L, SOURCE_MT);
    lua_pushcfunction(L, l_source_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    luaL_newmetatable(L, ATT_MT);
    lua_pushcfunction(L, l_att_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    luaL_newmetatable(L, EMAIL_MT);
    lua_newtable(L);
    mvl_setfuncs(L, email_methods);
    /* core.email_methods lets the Lua sugar add methods written in Lua. */
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "email_methods");
    lua_pushcclosure(L, l_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, l_tostring_meta);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, EMAIL_MT);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);

    mvl_setfuncs(L, core_funcs);
}
