/* Setting the fields of a "missive.email": every value a caller hands in is checked here
 * before it reaches the message model.  A control byte (C0 but TAB, and DEL) in a header,
 * an address or an attachment's strings is refused (Lua's length is used, so an embedded
 * NUL is seen, not cut at), and an address list must parse strictly (CHECKLIST 42, 43,
 * 54, 65). */
#include "lemail_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_header.h"

static const char *const addr_fields[][2] = {
    {"from", "From"}, {"to", "To"}, {"cc", "Cc"}, {"bcc", "Bcc"}, {"reply_to", "Reply-To"},
    {"sender", "Sender"}, {NULL, NULL}
};

const char *mvl_email_addr_header(const char *field)
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
    size_t n, k, nn = 0;
    const char *s;
    mv_addr one;
    if (lua_istable(L, idx)) {
        /* {name = , address = } */
        lua_getfield(L, idx, "address");
        lua_getfield(L, idx, "name");
        s = lua_tolstring(L, -2, &n);
        if (s == NULL) { lua_pop(L, 2); snprintf(err, errsize, "address table without address");
                         return -1; }
        one.addr = (char *)(size_t)s;
        one.name = (char *)(size_t)lua_tolstring(L, -1, &nn);
        /* The lengths Lua gives, not strlen: an embedded NUL is refused, not cut at. */
        if (!mv_hdr_value_ok(s, n) || (one.name && !mv_hdr_value_ok(one.name, nn))) {
            lua_pop(L, 2);
            snprintf(err, errsize, "control character in an address");
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
    if (!mv_hdr_value_ok(s, n)) { snprintf(err, errsize, "control character in an address");
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
        lua_pushfstring(L, "%s contains a control character (CR, LF, NUL...)", what);
        return -1;
    }
    return 0;
}

int mvl_email_set_header(lua_State *L, lemail *e, const char *name, size_t nlen, int idx,
                         int add)
{
    const char *v;
    size_t n;
    const char *ah;
    if (!mv_hdr_name_ok(name, nlen)) {   /* Lua's length: a NUL in the name is refused */
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

/* Pushes an attachment's bytes: `content` (the name parsed attachments read back) or
 * `data` (accepted as well); -1 with a message instead when both are given. */
static int push_att_content(lua_State *L, int idx)
{
    lua_getfield(L, idx, "content");
    lua_getfield(L, idx, "data");
    if (!lua_isnil(L, -2) && !lua_isnil(L, -1)) {
        lua_pop(L, 2);
        lua_pushliteral(L, "an attachment takes content or data (the same field), not both");
        return -1;
    }
    if (lua_isnil(L, -2)) lua_remove(L, -2);
    else lua_pop(L, 1);
    return 0;
}

int mvl_email_add_attachment(lua_State *L, lemail *e, int idx)
{
    const char *path, *name, *type, *cid;
    const char *data;
    size_t dlen = 0, i;
    int inl;
    mv_error err;
    if (!lua_istable(L, idx)) { lua_pushliteral(L, "an attachment must be a table"); return -1; }
    lua_getfield(L, idx, "path");
    if (push_att_content(L, idx) != 0) {
        lua_remove(L, -2);
        return -1;
    }
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
        lua_pushliteral(L, "an attachment needs either path or content");
        return -1;
    }
    /* Strings read with strlen from here on: one with an embedded NUL is refused. */
    for (i = 0; i < 5; i++) {
        static const char *const what[] = { "path", NULL, "name", "type", "cid" };
        size_t len;
        const char *v = what[i] == NULL ? NULL : lua_tolstring(L, (int)i - 6, &len);
        if (v != NULL && strlen(v) != len) {
            lua_pop(L, 6);
            lua_pushfstring(L, "NUL in an attachment %s", what[i]);
            return -1;
        }
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
/* A header set from a field: 0, or -1 with "oom" on the stack. */
static int set_done(lua_State *L, int r)
{
    if (r == 0) return 0;
    lua_pushliteral(L, "oom");
    return -1;
}

static int set_subject(lua_State *L, lemail *e, const char *k, int v)
{
    const char *s;
    size_t n;
    (void)k;
    if (lua_isnil(L, v)) { mv_mime_set_header(&e->m, "Subject", NULL); return 0; }
    if (checked_string(L, v, "subject", &s, &n) != 0) return -1;
    return set_done(L, mv_mime_set_header(&e->m, "Subject", s));
}

/* "text" or "html". */
static int set_body(lua_State *L, lemail *e, const char *k, int v)
{
    int html = k[0] == 'h';
    const char *s;
    size_t n;
    if (lua_isnil(L, v)) return mv_mime_set_body(&e->m, html, NULL, 0);
    s = lua_tolstring(L, v, &n);
    if (s == NULL) { lua_pushfstring(L, "%s must be a string", k); return -1; }
    return set_done(L, mv_mime_set_body(&e->m, html, s, n));
}

/* A Date field as written, or from a time in seconds. */
static int set_date(lua_State *L, lemail *e, const char *k, int v)
{
    char d[64];
    const char *s;
    size_t n;
    (void)k;
    if (lua_type(L, v) == LUA_TNUMBER) {
        mv_mime_date(d, sizeof d, (long long)lua_tonumber(L, v));
        s = d;
    } else if (lua_isnil(L, v)) {
        s = NULL;
    } else if (checked_string(L, v, "date", &s, &n) != 0) {
        return -1;
    }
    return set_done(L, mv_mime_set_header(&e->m, "Date", s));
}

/* A Message-ID, its angle brackets added when missing. */
static int set_message_id(lua_State *L, lemail *e, const char *k, int v)
{
    char id[1000];
    const char *s;
    size_t n;
    (void)k;
    if (lua_isnil(L, v)) { mv_mime_set_header(&e->m, "Message-ID", NULL); return 0; }
    if (checked_string(L, v, "message_id", &s, &n) != 0) return -1;
    if (n == 0 || n > 900 || strpbrk(s, " \t") != NULL) {
        lua_pushliteral(L, "invalid message_id");
        return -1;
    }
    snprintf(id, sizeof id, s[0] == '<' ? "%s" : "<%s>", s);
    return set_done(L, mv_mime_set_header(&e->m, "Message-ID", id));
}

/* The level 1..5 a priority string names, 0 for none: a word ("high" 1, "normal" 3,
 * "low" 5, in any case), or what m.priority and X-Priority read ("2", "1 (Highest)"). */
static int priority_level(const char *s)
{
    if (s[0] >= '1' && s[0] <= '5' && (s[1] == '\0' || s[1] == ' ')) return s[0] - '0';
    return strcasecmp(s, "high") == 0 ? 1 : strcasecmp(s, "normal") == 0 ? 3
         : strcasecmp(s, "low") == 0 ? 5 : 0;
}

/* X-Priority from 1..5 or a word; m.priority reads the level back as a number. */
static int set_priority(lua_State *L, lemail *e, const char *k, int v)
{
    static const char *const pv[] = { NULL, "1 (Highest)", "2 (High)", "3 (Normal)",
                                       "4 (Low)", "5 (Lowest)" };
    int p = 0;
    (void)k;
    if (lua_isnil(L, v)) { mv_mime_set_header(&e->m, "X-Priority", NULL); return 0; }
    if (lua_type(L, v) == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, v);
        p = (n >= 1 && n <= 5 && n == (int)n) ? (int)n : 0;
    } else if (lua_type(L, v) == LUA_TSTRING) {
        p = priority_level(lua_tostring(L, v));
    }
    if (p < 1 || p > 5) {
        lua_pushliteral(L, "priority must be 1..5, \"high\", \"normal\" or \"low\"");
        return -1;
    }
    return set_done(L, mv_mime_set_header(&e->m, "X-Priority", pv[p]));
}

/* {name = value, ...}, or { {name, value}, ... } which keeps order. */
static int set_headers(lua_State *L, lemail *e, const char *k, int v)
{
    (void)k;
    if (!lua_istable(L, v)) { lua_pushliteral(L, "headers must be a table"); return -1; }
    lua_pushnil(L);
    while (lua_next(L, v) != 0) {
        int top = lua_gettop(L);
        const char *hn;
        size_t hl;
        if (lua_type(L, -2) == LUA_TSTRING) {
            hn = lua_tolstring(L, -2, &hl);
            if (mvl_email_set_header(L, e, hn, hl, top, 0) != 0) return -1;
        } else if (lua_istable(L, -1)) {
            lua_rawgeti(L, top, 1);
            lua_rawgeti(L, top, 2);
            if ((hn = lua_tolstring(L, -2, &hl)) == NULL) {
                lua_pushliteral(L, "bad header entry");
                return -1;
            }
            if (mvl_email_set_header(L, e, hn, hl, top + 2, 1) != 0) return -1;
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
    }
    return 0;
}

static int set_attachments(lua_State *L, lemail *e, const char *k, int v)
{
    size_t i, cnt;
    (void)k;
    mv_mime_clear_atts(&e->m);
    if (lua_isnil(L, v)) return 0;
    if (!lua_istable(L, v)) { lua_pushliteral(L, "attachments must be a table"); return -1; }
    cnt = mvl_rawlen(L, v);
    for (i = 1; i <= cnt; i++) {
        lua_rawgeti(L, v, (int)i);
        if (mvl_email_add_attachment(L, e, lua_gettop(L)) != 0) return -1;
        lua_pop(L, 1);
    }
    return 0;
}

/* How a body built from the model may be encoded: a parsed message's original bytes
 * stay as they are. */
static int set_allow_8bit(lua_State *L, lemail *e, const char *k, int v)
{
    (void)k;
    e->m.allow_8bit = lua_toboolean(L, v);
    e->m.gen++;
    return 0;
}

static const struct {
    const char *name;
    int (*set)(lua_State *L, lemail *e, const char *k, int v);
} fields[] = {
    {"subject", set_subject}, {"text", set_body}, {"html", set_body},
    {"date", set_date}, {"message_id", set_message_id}, {"priority", set_priority},
    {"headers", set_headers}, {"attachments", set_attachments},
    {"allow_8bit", set_allow_8bit},
};

/* The index of the settable field k in fields[], or -1. */
static int field_index(const char *k)
{
    size_t i;
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(k, fields[i].name) == 0) return (int)i;
    return -1;
}

int mvl_email_is_field(const char *k)
{
    return mvl_email_addr_header(k) != NULL || field_index(k) >= 0;
}

int mvl_email_set_field(lua_State *L, lemail *e, const char *k, int v)
{
    const char *ah = mvl_email_addr_header(k);
    int i;
    if (ah != NULL) return set_addresses(L, e, ah, v);
    if ((i = field_index(k)) >= 0) return fields[i].set(L, e, k, v);
    lua_pushfstring(L, "unknown email field '%s'", k);
    return -1;
}

/* ---- the methods that set ---------------------------------------------------------- */

/* A setter's answer: true, or nil, the message the setter left on the stack,
 * "argument". */
static int set_result(lua_State *L, int failed)
{
    if (failed) return mvl_fail_top(L, "argument");
    lua_pushboolean(L, 1);
    return 1;
}

static int l_set(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    const char *k = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    return set_result(L, mvl_email_set_field(L, e, k, 3));
}

static int l_set_header(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    size_t nl;
    const char *name = luaL_checklstring(L, 2, &nl);
    lua_settop(L, 3);
    return set_result(L, mvl_email_set_header(L, e, name, nl, 3, 0));
}

static int l_add_header(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    size_t nl;
    const char *name = luaL_checklstring(L, 2, &nl);
    luaL_checkstring(L, 3);
    lua_settop(L, 3);
    return set_result(L, mvl_email_set_header(L, e, name, nl, 3, 1));
}

static int l_attach(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    return set_result(L, mvl_email_add_attachment(L, e, 2) != 0);
}

const luaL_Reg mvl_email_set_methods[] = {
    {"set", l_set}, {"set_header", l_set_header}, {"add_header", l_add_header},
    {"attach", l_attach}, {NULL, NULL}
};
