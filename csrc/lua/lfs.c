/* core.* file-system helpers for the spool (missive.spool): what plain Lua's io and os
 * lack to write a file durably and to tell a live process from a dead one. */
#include "bind.h"
#include "mv_fs.h"

#include <errno.h>
#include <string.h>

static int push_errno(lua_State *L, const char *what, const char *path)
{
    int err = errno;
    mvl_pushfail(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(err));
    lua_pushstring(L, err == ENOENT ? "closed" : "io");
    return 3;
}

/* core.fsync(path) -> true | nil, message, "io" */
static int l_fsync(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (mv_fs_fsync(path) != 0) return push_errno(L, "cannot fsync", path);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.fsync_dir(dir): makes names created or renamed in dir durable. */
static int l_fsync_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (mv_fs_fsync_dir(path) != 0) return push_errno(L, "cannot fsync directory", path);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.write_new(path, data): O_EXCL create, write, fsync, close. */
static int l_write_new(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t n;
    const char *data = luaL_checklstring(L, 2, &n);
    if (mv_fs_write_new(path, data, n) != 0) return push_errno(L, "cannot write", path);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_mkdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int mode = (int)luaL_optinteger(L, 2, 0700);
    if (mv_fs_mkdir(path, mode) != 0) return push_errno(L, "cannot create directory", path);
    lua_pushboolean(L, 1);
    return 1;
}

static int add_name(const char *name, void *ud)
{
    lua_State *L = ud;
    lua_pushstring(L, name);
    lua_rawseti(L, -2, (int)mvl_rawlen(L, -2) + 1);
    return 0;
}

/* core.listdir(dir) -> {name, ...} (unsorted, without "." and "..") */
static int l_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_newtable(L);
    if (mv_fs_list(path, add_name, L) != 0) return push_errno(L, "cannot list", path);
    return 1;
}

static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)mv_fs_getpid());
    return 1;
}

static int l_pid_alive(lua_State *L)
{
    lua_pushboolean(L, mv_fs_pid_alive((long)luaL_checkinteger(L, 1)));
    return 1;
}

/* core.time(): wall-clock seconds with microseconds (os.time has whole seconds). */
static int l_time(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)mv_fs_time());
    return 1;
}

static const luaL_Reg funcs[] = {
    { "fsync", l_fsync }, { "fsync_dir", l_fsync_dir }, { "write_new", l_write_new },
    { "mkdir", l_mkdir }, { "listdir", l_listdir }, { "getpid", l_getpid },
    { "pid_alive", l_pid_alive }, { "time", l_time },
    { NULL, NULL }
};

void mvl_open_fs(lua_State *L)
{
    mvl_setfuncs(L, funcs);
}
