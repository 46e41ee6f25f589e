/* The spool's claim locks (mv_fs): they belong to the open file description, so two
 * opens in one process (two Lua states) conflict, they follow the file through renames,
 * and the kernel drops them when the holder dies. */
#include "ctest.h"
#include "mv_fs.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void test_two_opens_conflict(void)
{
    char p[128];
    int a, b;
    path_of(p, sizeof p, "claim");
    CHECK(mv_fs_write_new(p, "x", 1) == 0);
    a = mv_fs_lock(p);
    CHECK(a >= 0);
    errno = 0;
    b = mv_fs_lock(p);   /* a second state of this process: its own description */
    CHECK(b < 0 && errno == EWOULDBLOCK);
    mv_fs_unlock(a);
    b = mv_fs_lock(p);
    CHECK(b >= 0);
    mv_fs_unlock(b);
    unlink(p);
}

static void test_lock_follows_rename(void)
{
    char p[128], q[128];
    int a;
    path_of(p, sizeof p, "queued");
    path_of(q, sizeof q, "sending");
    a = mv_fs_write_locked(p, "data", 4);
    CHECK(a >= 0);
    CHECK(mv_fs_same(a, p) == 1);
    CHECK(rename(p, q) == 0);
    CHECK(mv_fs_same(a, p) == 0);
    CHECK(mv_fs_same(a, q) == 1);
    CHECK(mv_fs_lock(q) < 0);
    mv_fs_unlock(a);
    a = mv_fs_lock(q);
    CHECK(a >= 0);
    mv_fs_unlock(a);
    unlink(q);
}

static void test_death_releases(void)
{
    char p[128], c;
    int fds[2], st = 0;
    pid_t pid;
    path_of(p, sizeof p, "held");
    CHECK(mv_fs_write_new(p, "x", 1) == 0);
    CHECK(pipe(fds) == 0);
    pid = fork();
    if (pid == 0) {
        int fd = mv_fs_lock(p);
        c = fd >= 0 ? 'L' : 'E';
        if (write(fds[1], &c, 1) != 1) _exit(1);
        for (;;) pause();
    }
    CHECK(pid > 0);
    CHECK(read(fds[0], &c, 1) == 1 && c == 'L');
    CHECK(mv_fs_lock(p) < 0);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    {
        int fd = mv_fs_lock(p);
        CHECK(fd >= 0);
        mv_fs_unlock(fd);
    }
    close(fds[0]);
    close(fds[1]);
    unlink(p);
}

static void test_link_new_never_replaces(void)
{
    char a[128], b[128];
    path_of(a, sizeof a, "a");
    path_of(b, sizeof b, "b");
    CHECK(mv_fs_write_new(a, "new", 3) == 0);
    CHECK(mv_fs_write_new(b, "old", 3) == 0);
    errno = 0;
    CHECK(mv_fs_link_new(a, b) < 0 && errno == EEXIST);
    CHECK(access(a, F_OK) == 0);
    unlink(b);
    CHECK(mv_fs_link_new(a, b) == 0);
    CHECK(access(a, F_OK) != 0 && access(b, F_OK) == 0);
    unlink(b);
}

static void test_stat_and_serial(void)
{
    mv_fs_info st;
    unsigned long s1 = mv_fs_serial(), s2 = mv_fs_serial();
    CHECK(s2 == s1 + 1);
    CHECK(mv_fs_stat(dir, &st) == 0);
    CHECK(st.is_dir && st.uid == mv_fs_geteuid() && st.mode == 0700);
}

int main(void)
{
    static const ctest_case cases[] = {
        {"CHECKLIST 69 two opens in one process conflict", test_two_opens_conflict},
        {"CHECKLIST 69 a lock follows its file through a rename", test_lock_follows_rename},
        {"CHECKLIST 69 the holder's death releases its lock", test_death_releases},
        {"link_new never replaces a file", test_link_new_never_replaces},
        {"stat and the process-wide serial", test_stat_and_serial},
        {NULL, NULL}
    };
    int rc;
    snprintf(dir, sizeof dir, "/tmp/missive-fs-XXXXXX");
    if (mkdtemp(dir) == NULL) return 2;
    rc = ctest_run("fs", cases);
    rmdir(dir);
    return rc;
}
