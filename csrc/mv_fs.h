/* The few file-system and process calls the spool needs that plain Lua lacks:
 * durable writes (fsync of a file and of its directory), directory listing, and
 * process identity and liveness for telling a live claim from a crashed one. */
#ifndef MV_FS_H
#define MV_FS_H

#include <stddef.h>

/* All return 0 on success, else -1 with errno set. */

/* Creates `path` exclusively (O_EXCL: a name is never reused by accident), writes `len`
 * bytes, fsyncs and closes it.  A failed write removes the partial file. */
int mv_fs_write_new(const char *path, const void *data, size_t len);
/* fsync of a file's data and metadata. */
int mv_fs_fsync(const char *path);
/* fsync of a directory, which makes the names created or renamed in it durable. */
int mv_fs_fsync_dir(const char *dir);
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

#endif
