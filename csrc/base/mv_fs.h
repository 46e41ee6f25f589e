/* The few file-system and process calls the spool needs that plain Lua lacks:
 * durable writes (fsync of a file and of its directory), directory listing, and
 * process identity and liveness for telling a live claim from a crashed one. */
#ifndef MV_FS_H
#define MV_FS_H

#include <stddef.h>
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* All return 0 on success, else -1 with errno set. */

/* Creates `path` exclusively (O_EXCL: a name is never reused by accident), writes `len`
 * bytes, fsyncs and closes it.  A failed write removes the partial file. */
int mv_fs_write_new(const char *path, const void *data, size_t len);
/* fsync of a file's data and metadata. */
int mv_fs_fsync(const char *path);
/* fsync of a directory, which makes the names created or renamed in it durable. */
int mv_fs_fsync_dir(const char *dir);
/* The same with the file kept open and locked (see mv_fs_lock): returns its fd. */
int mv_fs_write_locked(const char *path, const void *data, size_t len);
/* Gives `from` the name `to` unless `to` exists already (EEXIST): link, then unlink. */
int mv_fs_link_new(const char *from, const char *to);

/* Opens `path` (not a symbolic link) and takes an exclusive lock without waiting: the fd,
 * or -1 with errno EWOULDBLOCK when another open of the file holds the lock, in this
 * process or any other, in any PID namespace on this kernel.  The lock lasts until
 * mv_fs_unlock or the death of the holder; it follows the file through renames. */
int mv_fs_lock(const char *path);
/* 1 when `path` names the file open at fd, 0 when it names another file or nothing. */
int mv_fs_same(int fd, const char *path);
void mv_fs_unlock(int fd);

typedef struct mv_fs_info {
    long uid;
    int mode;     /* permission bits */
    int is_dir;
    double mtime; /* seconds since the epoch */
} mv_fs_info;
/* stat(2), following symbolic links. */
int mv_fs_stat(const char *path, mv_fs_info *out);
long mv_fs_geteuid(void);
/* A counter shared by every Lua state of the process: never the same value twice. */
unsigned long mv_fs_serial(void);

/* mkdir that succeeds when the directory exists already. */
int mv_fs_mkdir(const char *path, int mode);

/* Calls fn for each entry of dir except "." and ".."; stops when fn returns non-zero. */
typedef int (*mv_fs_entry_fn)(const char *name, void *ud);
int mv_fs_list(const char *dir, mv_fs_entry_fn fn, void *ud);

long mv_fs_getpid(void);
/* 1 when a process with this id exists (kill(pid, 0) succeeds or says EPERM), else 0. */
int mv_fs_pid_alive(long pid);
/* Wall-clock seconds since the epoch, with microseconds. */
double mv_fs_time(void);

MV_HIDDEN_END

#endif
