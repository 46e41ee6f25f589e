/* The "missive.email" userdata: fields and methods over the C message model.  Setting a
 * field (where every caller value is checked) is in lemail_set.c; the codecs missive.core
 * exposes beside it are in lemail_codec.c. */
#include "lemail_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mime_build.h"
#include "mime_codec.h"
#include "mime_header.h"
#include "mime_parse.h"
#include "mime_part.h"

#define SOURCE_MT "missive.email.source"
#define ATT_MT "missive.email.attachment"

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
    e->unparsed = 0;
    mvl_setmetatable(L, EMAIL_MT);
    return e;
}

/* An unparsed email (email_unparsed) would write as an empty message, so tostring,
 * source and save refuse it: the received bytes are m.raw. */
static int fail_unparsed(lua_State *L)
{
    return mvl_email_fail(L, "argument", "this message could not be parsed (see its "
                          "parse_error): its bytes as received are m.raw");
}

int mvl_email_fail(lua_State *L, const char *kind, const char *msg)
{
    mvl_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, kind);
    return 3;
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
    mvl_setmetatable(L, ATT_MT);
}

/* Where a message came from (POP3: number, uid, size; IMAP: uid, size, flags,
 * internal_date, folder; WinDev's out flag) and why it
 * could not be parsed (parse_error) are not part of the message: they live in the
 * userdata's Lua value, a table made on first use. */
static int is_mailbox_field(const char *k)
{
    return strcmp(k, "number") == 0 || strcmp(k, "uid") == 0 || strcmp(k, "size") == 0
        || strcmp(k, "out") == 0 || strcmp(k, "parse_error") == 0
        || strcmp(k, "flags") == 0 || strcmp(k, "internal_date") == 0
        || strcmp(k, "folder") == 0;
}

/* The marker tells our table from the environment table Lua 5.1 gives every userdata. */
#define EXTRAS_MARK "missive.email.extras"

/* The extras table of the email at index ud (absolute); nil when absent and !create. */
static void push_extras_at(lua_State *L, int ud, int create)
{
    mvl_getuservalue(L, ud);
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
    mvl_setuservalue(L, ud);
}

static void push_extras(lua_State *L, int create)
{
    push_extras_at(L, 1, create);
}

/* A parsed message borrows the bytes of the Lua string it came from (no copy of a 50 MB
 * input): the string is anchored in the extras table for as long as the email lives. */
#define RAW_KEY "missive.email.raw"

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
    push_extras(L, 0);
    if (lua_istable(L, -1)) lua_getfield(L, -1, RAW_KEY);
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

static int get_field(lua_State *L, lemail *e, const char *k)
{
    static const struct {
        const char *name;
        int (*get)(lua_State *L, lemail *e, const char *k);
    } fields[] = {
        {"subject", get_header_field}, {"date", get_header_field},
        {"message_id", get_header_field}, {"priority", get_priority}, {"text", get_body},
        {"html", get_body}, {"attachments", get_attachments}, {"raw", get_raw},
        {"defects", get_defects}, {"allow_8bit", get_allow_8bit},
    };
    const char *ah = mvl_email_addr_header(k);
    size_t i;
    if (ah != NULL) return get_address(L, &e->m, k, ah);
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(k, fields[i].name) == 0) return fields[i].get(L, e, k);
    lua_pushnil(L);
    return 1;
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
    if (mvl_email_set_field(L, e, k, 3) != 0) return lua_error(L);
    return 0;
}

/* A setter's answer: true, or nil, the message the setter left on the stack,
 * "argument". */
static int set_result(lua_State *L, int failed)
{
    if (failed) {
        mvl_pushfail(L);
        lua_insert(L, -2);
        lua_pushliteral(L, "argument");
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_set(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *k = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    return set_result(L, mvl_email_set_field(L, e, k, 3));
}

static int l_set_header(lua_State *L)
{
    lemail *e = check_email(L, 1);
    size_t nl;
    const char *name = luaL_checklstring(L, 2, &nl);
    lua_settop(L, 3);
    return set_result(L, mvl_email_set_header(L, e, name, nl, 3, 0));
}

static int l_add_header(lua_State *L)
{
    lemail *e = check_email(L, 1);
    size_t nl;
    const char *name = luaL_checklstring(L, 2, &nl);
    luaL_checkstring(L, 3);
    lua_settop(L, 3);
    return set_result(L, mvl_email_set_header(L, e, name, nl, 3, 1));
}

static int l_header(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *name = luaL_checkstring(L, 2);
    size_t i;
    for (i = 0; i < e->m.nh; i++)
        if (strcasecmp(e->m.h[i].name, name) == 0) { push_header_text(L, &e->m, i); return 1; }
    lua_pushnil(L);
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
    lemail *e = check_email(L, 1);
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
    if (e->unparsed) return fail_unparsed(L);
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
    int n;
    if (check_email(L, 1)->unparsed) {
        lua_pushliteral(L, "missive.email (unparsed: see parse_error and raw)");
        return 1;
    }
    n = l_tostring_method(L);
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
    if (e->unparsed) return fail_unparsed(L);
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

/* The mode of a file save() creates: opts.mode, else 0600 (mail is private data).  Read
 * before anything is opened: a bad option raises. */
static int save_mode(lua_State *L, int opts)
{
    int mode = 0600;
    if (lua_isnoneornil(L, opts)) return mode;
    luaL_checktype(L, opts, LUA_TTABLE);
    lua_getfield(L, opts, "mode");
    if (!lua_isnil(L, -1)) {
        lua_Number v = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 0 && v <= 07777) || v != (int)v)
            luaL_argerror(L, opts, "mode must be an integer from 0 to 0x0fff (07777 octal)");
        mode = (int)v;
    }
    lua_pop(L, 1);
    return mode;
}

/* Opens path for writing (truncated); a new file gets `mode` less the umask, as open(2)
 * does, and an existing one keeps its own.  NULL with errno set on failure. */
static FILE *open_for_save(const char *path, int mode)
{
    FILE *f;
    int fd;
    do fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return NULL;
    if ((f = fdopen(fd, "wb")) == NULL) close(fd);
    return f;
}

static int l_save(lua_State *L)
{
    lemail *e = check_email(L, 1);
    const char *path = luaL_checkstring(L, 2);
    int mode = save_mode(L, 3);
    mv_mime_source *s;
    mv_error err;
    FILE *f;
    unsigned char buf[65536];
    int ok = 0;
    if (e->unparsed) return fail_unparsed(L);
    mv_error_clear(&err);
    s = mv_mime_source_new(&e->m, &err);
    if (s == NULL) return mvl_push_error(L, &err);
    f = open_for_save(path, mode);
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
    return set_result(L, mvl_email_add_attachment(L, e, 2) != 0);
}

/* A part's header fields, in order, as {name=, value=} with the value decoded. */
static void push_part_headers(lua_State *L, const mv_mime_msg *m, const mv_mime_part *pt,
                              mv_buf *b)
{
    size_t pos = pt->hdr_off, nl, vl;
    const char *name, *val;
    int h = 0;
    lua_newtable(L);
    while (mv_mime_next_header(m->raw, pt->hdr_end, &pos, &name, &nl, &val, &vl)) {
        int d = 0;
        mv_buf_reset(b);
        if (mv_hdr_unfold_decode(val, vl, b, &d) != 0) break;
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, name, nl);
        lua_setfield(L, -2, "name");
        lua_pushlstring(L, b->data ? (const char *)b->data : "", b->len);
        lua_setfield(L, -2, "value");
        lua_rawseti(L, -2, ++h);
    }
}

/* One leaf part as a table: its type information, headers and decoded content. */
static void push_part(lua_State *L, const mv_mime_msg *m, size_t i, mv_buf *b)
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
    push_part_headers(L, m, pt, b);
    lua_setfield(L, -2, "headers");
    mv_buf_reset(b);
    mv_mime_part_content(m, i, b);
    lua_pushlstring(L, b->data ? (const char *)b->data : "", b->len);
    lua_setfield(L, -2, "content");
}

/* Every leaf part of the parsed form (a built message is serialised and re-read). */
static int l_parts_list(lua_State *L)
{
    lemail *e = check_email(L, 1);
    mv_mime_msg tmp, *m = &e->m;
    mv_error err;
    mv_buf b, wire;
    size_t i;
    int k = 0;
    mv_mime_init(&tmp);
    mv_error_clear(&err);
    mv_buf_init(&wire);
    if (m->raw == NULL || m->dirty) {
        /* tmp reads the serialised bytes in place: wire lives until tmp is freed */
        if (mv_mime_serialize(m, &wire, &err) != MV_OK ||
            mv_mime_parse_borrowed(&tmp, wire.data, wire.len, NULL, &err) != MV_OK) {
            mv_mime_free(&tmp);
            mv_buf_free(&wire);
            return mvl_push_error(L, &err);
        }
        m = &tmp;
    }
    lua_newtable(L);
    mv_buf_init(&b);
    for (i = 0; i < m->nparts; i++) {
        const mv_mime_part *pt = &m->parts[i];
        if (strncmp(pt->type, "multipart/", 10) == 0 && pt->nchildren > 0) continue;
        if (strcmp(pt->type, "message/rfc822") == 0 && pt->nchildren > 0) continue;
        push_part(L, m, i, &b);
        lua_rawseti(L, -2, ++k);
    }
    mv_buf_free(&b);
    mv_mime_free(&tmp);
    mv_buf_free(&wire);
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

static int add_to_luabuf(void *ctx, const unsigned char *p, size_t n)
{
    luaL_addlstring((luaL_Buffer *)ctx, (const char *)p, n);
    return 0;
}

/* Pushes the content: a parsed attachment is decoded now, from the message's raw bytes. */
static int att_content(lua_State *L, const mv_mime_msg *m, const mv_mime_att *a)
{
    FILE *f;
    luaL_Buffer b;
    char buf[8192];
    size_t n;
    if (a->data != NULL) {
        lua_pushlstring(L, (const char *)a->data, a->len);
        return 1;
    }
    if (a->path == NULL) {
        luaL_buffinit(L, &b);
        if (mv_mime_att_each(m, a, add_to_luabuf, &b) != 0) return luaL_error(L, "out of memory");
        luaL_pushresult(&b);
        return 1;
    }
    f = fopen(a->path, "rb");
    if (f == NULL) return mvl_email_fail(L, "io", "cannot open the attachment's file");
    luaL_buffinit(L, &b);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) luaL_addlstring(&b, buf, n);
    fclose(f);
    luaL_pushresult(&b);
    return 1;
}

static int write_piece(void *ctx, const unsigned char *p, size_t n)
{
    return fwrite(p, 1, n, (FILE *)ctx) == n ? 0 : -1;
}

/* Streams the content to a file in pieces: a large attachment is never held whole. */
static int l_att_save(lua_State *L)
{
    const mv_mime_msg *m;
    const mv_mime_att *a;
    const char *path = luaL_checkstring(L, 2);
    int mode = save_mode(L, 3);
    FILE *f, *in = NULL;
    unsigned char buf[8192];
    size_t n;
    int r = 0;
    luaL_checktype(L, 1, LUA_TTABLE);
    a = att_of(L, 1, &m);
    if (a == NULL) return mvl_email_fail(L, "argument", "the attachment no longer exists");
    if (a->path != NULL && (in = fopen(a->path, "rb")) == NULL)
        return mvl_email_fail(L, "io", "cannot open the attachment's file");
    f = open_for_save(path, mode);
    if (f == NULL) {
        if (in != NULL) fclose(in);
        return mvl_email_fail(L, "io", "cannot open the file for writing");
    }
    if (in != NULL) {
        while (r == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
            if (write_piece(f, buf, n) != 0) r = -2;
        fclose(in);
    } else {
        r = mv_mime_att_each(m, a, write_piece, f);
    }
    if (r == -1) {   /* out of memory while decoding, not a write error */
        fclose(f);
        return luaL_error(L, "out of memory");
    }
    if (r != 0) { fclose(f); return mvl_email_fail(L, "io", "write error"); }
    if (fclose(f) != 0) return mvl_email_fail(L, "io", "write error");
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
    return att_content(L, m, a) == 1 ? 1 : 0;
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
    push_extras_at(L, lua_gettop(L), 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, RAW_KEY);
    lua_pop(L, 1);
    mv_error_clear(&err);
    if (mv_mime_parse_borrowed(&e->m, s, n, &lim, &err) != MV_OK) {
        mv_mime_free(&e->m);
        return mvl_push_error(L, &err);
    }
    return 1;
}

/* email_unparsed(raw[, parse_error]): a message kept as received, nothing parsed (a
 * mailbox hands out every message as an email, also one the parser refused). */
static int l_email_unparsed(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TSTRING);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TSTRING);
    push_email(L)->unparsed = 1;
    push_extras_at(L, lua_gettop(L), 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, RAW_KEY);
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "parse_error");
    lua_pop(L, 1);
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
    {"email_unparsed", l_email_unparsed}, {NULL, NULL}
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
    mvl_setfuncs(L, mvl_email_codec_funcs);
}
