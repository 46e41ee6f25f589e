/* F_OFD_SETLK and flock are outside POSIX.1-2008. */
#define _GNU_SOURCE
#include "mv_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

static int fsync_open(const char *path, int flags)
{
    int fd, r, saved;
    do fd = open(path, flags | O_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) return -1;
    r = fsync(fd);
    saved = errno;
    close(fd);
    errno = saved;
    return r;
}

int mv_fs_fsync(const char *path)
{
    return fsync_open(path, O_RDONLY);
}

int mv_fs_fsync_dir(const char *dir)
{
#ifdef O_DIRECTORY
    return fsync_open(dir, O_RDONLY | O_DIRECTORY);
#else
    return fsync_open(dir, O_RDONLY);
#endif
}

/* Takes an exclusive lock on fd's open file description, without waiting.  OFD locks
 * (Linux 3.15) and flock both belong to the open file description, so two descriptions
 * conflict even inside one process, and the kernel drops the lock when the last
 * descriptor closes, however the holder ends.  Every process on one kernel takes the
 * same branch, so the two kinds never have to meet. */
static int lock_fd(int fd)
{
#ifdef F_OFD_SETLK
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
    if (errno == EACCES || errno == EAGAIN) {
        errno = EWOULDBLOCK;
        return -1;
    }
    if (errno != EINVAL) return -1;
#endif
    return flock(fd, LOCK_EX | LOCK_NB);
}

/* Writes, fsyncs and either closes (keep == 0; returns 0) or returns the fd locked. */
static int write_file(const char *path, const void *data, size_t len, int keep)
{
    const char *p = data;
    int fd, saved;
    do fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return -1;
    errno = 0;
    if (keep && lock_fd(fd) != 0) goto fail;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto fail;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0) goto fail;
    if (keep) return fd;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    return 0;
fail:
    saved = errno ? errno : EIO;
    if (fd >= 0) close(fd);
    unlink(path);
    errno = saved;
    return -1;
}

int mv_fs_write_new(const char *path, const void *data, size_t len)
{
    return write_file(path, data, len, 0);
}

int mv_fs_write_locked(const char *path, const void *data, size_t len)
{
    return write_file(path, data, len, 1);
}

int mv_fs_lock(const char *path)
{
    int fd, saved;
    do fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW); while (fd < 0 && errno == EINTR);
    if (fd < 0) return -1;
    if (lock_fd(fd) == 0) return fd;
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int mv_fs_same(int fd, const char *path)
{
    struct stat a, b;
    if (fstat(fd, &a) != 0) return -1;
    if (lstat(path, &b) != 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

void mv_fs_unlock(int fd)
{
    if (fd >= 0) close(fd);
}

int mv_fs_stat(const char *path, mv_fs_info *out)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    out->uid = (long)st.st_uid;
    out->mode = (int)(st.st_mode & 07777);
    out->is_dir = S_ISDIR(st.st_mode) ? 1 : 0;
    out->mtime = (double)st.st_mtime;
    return 0;
}

long mv_fs_geteuid(void)
{
    return (long)geteuid();
}

static pthread_mutex_t serial_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long serial;

unsigned long mv_fs_serial(void)
{
    unsigned long n;
    pthread_mutex_lock(&serial_lock);
    n = ++serial;
    pthread_mutex_unlock(&serial_lock);
    return n;
}

int mv_fs_link_new(const char *from, const char *to)
{
    if (link(from, to) != 0) return -1;
    unlink(from);
    return 0;
}

int mv_fs_mkdir(const char *path, int mode)
{
    struct stat st;
    if (mkdir(path, (mode_t)mode) == 0) return 0;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    if (errno == EEXIST) errno = ENOTDIR;
    return -1;
}

int mv_fs_list(const char *dir, mv_fs_entry_fn fn, void *ud)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    if (d == NULL) return -1;
    for (;;) {
        errno = 0;
        ent = readdir(d);
        if (ent == NULL) break;
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
        if (fn(ent->d_name, ud) != 0) break;
    }
    if (ent == NULL && errno != 0) {
        int saved = errno;
        closedir(d);
        errno = saved;
        return -1;
    }
    closedir(d);
    return 0;
}

long mv_fs_getpid(void)
{
    return (long)getpid();
}

/* A zombie has exited: whatever it was doing is over.  Where a container's init does
 * not reap orphans they linger, so kill(pid, 0) alone would call them alive. */
static int is_zombie(long pid)
{
    char path[64], buf[512];
    const char *p;
    ssize_t n;
    int fd;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    p = strrchr(buf, ')');   /* the command name may itself hold ") " */
    return p != NULL && p[1] == ' ' && p[2] == 'Z';
}

int mv_fs_pid_alive(long pid)
{
    if (pid <= 0) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) return 0;
    return !is_zombie(pid);
}

double mv_fs_time(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}
