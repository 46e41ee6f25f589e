/* Writing a "missive.email" out: as a string, as a source of chunks, to a file; and an
 * attachment's content, whole or streamed to a file. */
#include "lemail_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mime_build.h"
#include "mime_part.h"

#define SOURCE_MT "missive.email.source"

typedef struct lsource {
    mv_mime_source *s;
} lsource;

/* An unparsed email (email_unparsed) would write as an empty message, so tostring,
 * source and save refuse it: the received bytes are m.raw. */
static int fail_unparsed(lua_State *L)
{
    return mvl_fail(L, "argument", "this message could not be parsed (see its "
                    "parse_error): its bytes as received are m.raw");
}

static int l_tostring_method(lua_State *L)
{
    lemail *e = mvl_check_email(L, 1);
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

int mvl_email_tostring_meta(lua_State *L)
{
    int n;
    if (mvl_check_email(L, 1)->unparsed) {
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
    lemail *e = mvl_check_email(L, 1);
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

/* The mode of a file save() creates: opts.mode, else MV_DEFAULT_SAVE_MODE (0600).  Read
 * before anything is opened: a bad option raises. */
static int save_mode(lua_State *L, int opts)
{
    int mode = MV_DEFAULT_SAVE_MODE;
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
    lemail *e = mvl_check_email(L, 1);
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
        return mvl_failf(L, "io", "cannot open %s for writing", path);
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
    return mvl_result(L, ok, &err);
}

/* ---- attachments: the tables push_att makes (lemail_get.c) name their email and index */

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
    if (f == NULL) return mvl_fail(L, "io", "cannot open the attachment's file");
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
    if (a == NULL) return mvl_fail(L, "argument", "the attachment no longer exists");
    if (a->path != NULL && (in = fopen(a->path, "rb")) == NULL)
        return mvl_fail(L, "io", "cannot open the attachment's file");
    f = open_for_save(path, mode);
    if (f == NULL) {
        if (in != NULL) fclose(in);
        return mvl_fail(L, "io", "cannot open the file for writing");
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
    if (r != 0) { fclose(f); return mvl_fail(L, "io", "write error"); }
    if (fclose(f) != 0) return mvl_fail(L, "io", "write error");
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

const luaL_Reg mvl_email_write_methods[] = {
    {"tostring", l_tostring_method}, {"source", l_source}, {"save", l_save}, {NULL, NULL}
};

void mvl_email_open_write(lua_State *L)
{
    luaL_newmetatable(L, SOURCE_MT);
    lua_pushcfunction(L, l_source_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    luaL_newmetatable(L, EMAIL_ATT_MT);
    lua_pushcfunction(L, l_att_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
