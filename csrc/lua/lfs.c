/* core.* file-system helpers for the spool (missive.spool): what plain Lua's io and os
 * lack to write a file durably and to tell a live process from a dead one. */
#include "bind.h"
#include "mv_fs.h"

#include <errno.h>

#define LOCK_MT "missive.fs.lock"

/* An exclusive lock on one file: held while the userdata holds its descriptor. */
typedef struct lfs_lock {
    int fd;   /* -1 once released */
} lfs_lock;

/* core.fsync(path) -> true | nil, message, "io" */
static int l_fsync(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    return mvl_fileresult(L, mv_fs_fsync(path) == 0, "cannot fsync", path);
}

/* core.fsync_dir(dir): makes names created or renamed in dir durable. */
static int l_fsync_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    return mvl_fileresult(L, mv_fs_fsync_dir(path) == 0, "cannot fsync directory", path);
}

/* core.write_new(path, data): O_EXCL create, write, fsync, close. */
static int l_write_new(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t n;
    const char *data = luaL_checklstring(L, 2, &n);
    return mvl_fileresult(L, mv_fs_write_new(path, data, n) == 0, "cannot write", path);
}

static int l_mkdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int mode = (int)luaL_optinteger(L, 2, 0700);
    return mvl_fileresult(L, mv_fs_mkdir(path, mode) == 0, "cannot create directory", path);
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
    if (mv_fs_list(path, add_name, L) != 0) return mvl_fileresult(L, 0, "cannot list", path);
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

static lfs_lock *new_lock(lua_State *L)
{
    lfs_lock *k = mvl_newuserdata(L, sizeof *k);
    k->fd = -1;
    mvl_setmetatable(L, LOCK_MT);
    return k;
}

/* core.lock(path) -> lock | false (another open file description holds it)
 *                 | nil, message, kind */
static int l_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lfs_lock *k = new_lock(L);
    k->fd = mv_fs_lock(path);
    if (k->fd >= 0) return 1;
    if (errno == EWOULDBLOCK || errno == EAGAIN) {
        lua_pushboolean(L, 0);
        return 1;
    }
    return mvl_fileresult(L, 0, "cannot lock", path);
}

/* core.write_locked(path, data) -> lock | nil, message, kind: write_new, kept locked. */
static int l_write_locked(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t n;
    const char *data = luaL_checklstring(L, 2, &n);
    lfs_lock *k = new_lock(L);
    k->fd = mv_fs_write_locked(path, data, n);
    if (k->fd < 0) return mvl_fileresult(L, 0, "cannot write", path);
    return 1;
}

/* lock:holds(path) -> true when path names the locked file (not released). */
static int m_holds(lua_State *L)
{
    lfs_lock *k = luaL_checkudata(L, 1, LOCK_MT);
    const char *path = luaL_checkstring(L, 2);
    lua_pushboolean(L, k->fd >= 0 && mv_fs_same(k->fd, path) == 1);
    return 1;
}

/* lock:release() -> true; a second call does nothing.  __gc releases too. */
static int m_release(lua_State *L)
{
    lfs_lock *k = luaL_checkudata(L, 1, LOCK_MT);
    int fd = k->fd;
    k->fd = -1;
    mv_fs_unlock(fd);
    lua_pushboolean(L, 1);
    return 1;
}

static int m_tostring(lua_State *L)
{
    lfs_lock *k = luaL_checkudata(L, 1, LOCK_MT);
    lua_pushstring(L, k->fd >= 0 ? "fs.lock" : "fs.lock (released)");
    return 1;
}

/* core.stat(path) -> {uid =, mode = (permission bits), dir = boolean, mtime =}
 *                 | nil, message, kind */
static int l_stat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    mv_fs_info st;
    if (mv_fs_stat(path, &st) != 0) return mvl_fileresult(L, 0, "cannot stat", path);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)st.uid);
    lua_setfield(L, -2, "uid");
    lua_pushinteger(L, (lua_Integer)st.mode);
    lua_setfield(L, -2, "mode");
    lua_pushboolean(L, st.is_dir);
    lua_setfield(L, -2, "dir");
    lua_pushnumber(L, (lua_Number)st.mtime);
    lua_setfield(L, -2, "mtime");
    return 1;
}

static int l_geteuid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)mv_fs_geteuid());
    return 1;
}

/* core.serial(): 1, 2, 3... shared by every Lua state of the process. */
static int l_serial(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)mv_fs_serial());
    return 1;
}

/* core.link_new(from, to) -> true | nil, message, kind ("exists" when `to` does). */
static int l_link_new(lua_State *L)
{
    const char *from = luaL_checkstring(L, 1), *to = luaL_checkstring(L, 2);
    int ok = mv_fs_link_new(from, to) == 0;
    if (!ok && errno == EEXIST) return mvl_failf(L, "exists", "%s exists", to);
    return mvl_fileresult(L, ok, "cannot link", to);
}

static const luaL_Reg lock_methods[] = {
    { "holds", m_holds }, { "release", m_release }, { NULL, NULL }
};

static const luaL_Reg funcs[] = {
    { "fsync", l_fsync }, { "fsync_dir", l_fsync_dir }, { "write_new", l_write_new },
    { "mkdir", l_mkdir }, { "listdir", l_listdir }, { "getpid", l_getpid },
    { "pid_alive", l_pid_alive }, { "time", l_time },
    { "lock", l_lock }, { "write_locked", l_write_locked }, { "stat", l_stat },
    { "geteuid", l_geteuid }, { "serial", l_serial }, { "link_new", l_link_new },
    { NULL, NULL }
};

void mvl_open_fs(lua_State *L)
{
    mvl_new_type(L, LOCK_MT, "fs.lock", lock_methods, m_release, m_tostring);
    lua_pop(L, 1);
    mvl_setfuncs(L, funcs);
}
