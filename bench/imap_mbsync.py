"""bench/imap_mbsync.py sync HOST PORT TLS CAFILE USER RUNS KEY WORKDIR - mbsync (isync)
pulling the user's INBOX from Dovecot into an empty maildir under WORKDIR: seconds for the
whole mbsync process (connect, login, SELECT, list, fetch, write each message to a file).
Every run starts from a fresh maildir and sync state.  TLS is none or implicit (mbsync's
SSLType None / IMAPS, the chain verified against CAFILE, the name "localhost").  FSync no:
how fast the disk flushes is no part of an IMAP client (with mbsync's default, FSync yes,
the same run took 2.4x as long on the machine of the README's figures).

bench/imap_mbsync.py mem HOST PORT USER WORKDIR - mbsync's peak RSS growth (kB) pulling
a mailbox that holds one big message: its peak RSS (getrusage of the child) minus its
peak RSS pulling the empty mailbox of user "imapempty" (the process's own baseline)."""
import os, shutil, statistics, subprocess, sys, time

MBSYNC = shutil.which("mbsync") or "/usr/bin/mbsync"


def machine_cpu():
    """CPU seconds the machine has been busy (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / 100


def config(work, host, port, tls, cafile, user):
    """A fresh maildir and an mbsyncrc for it; returns the rc path."""
    local = os.path.join(work, "mbsync-" + user)
    shutil.rmtree(local, ignore_errors=True)
    os.makedirs(local)
    rc = os.path.join(work, "mbsyncrc-" + user)
    # 127.0.0.1 is the only address contacted; over TLS the certificate names localhost,
    # so the host is given by name and /etc/hosts maps it to loopback.
    ssl = "SSLType IMAPS\nCertificateFile %s\n" % cafile if tls == "implicit" \
        else "SSLType None\n"
    with open(rc, "w") as f:
        f.write("""FSync no

IMAPAccount bench
Host %s
Port %d
User %s
Pass secret
AuthMechs LOGIN
%s
IMAPStore far
Account bench

MaildirStore near
Path %s/
Inbox %s/INBOX

Channel bench
Far :far:
Near :near:
Patterns INBOX
Sync Pull
Create Near
SyncState *
""" % ("localhost" if tls == "implicit" else host, port, user, ssl, local, local))
    return rc


def run(rc):
    """Runs mbsync once; returns its (wall seconds, CPU seconds, peak RSS kB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([MBSYNC, "-q", "-c", rc, "-a"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    t = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 0:
        sys.stderr.write("mbsync failed (%d): %s\n" % (p.returncode, err))
        sys.exit(1)
    return t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def count(work, user):
    d = os.path.join(work, "mbsync-" + user, "INBOX")
    return sum(len(os.listdir(os.path.join(d, s))) for s in ("cur", "new")
               if os.path.isdir(os.path.join(d, s)))


def main():
    mode = sys.argv[1]
    if mode == "mem":
        host, port, user, work = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
        base = run(config(work, host, port, "none", None, "imapempty"))[2]
        peak = run(config(work, host, port, "none", None, user))[2]
        assert count(work, user) > 0
        shutil.rmtree(os.path.join(work, "mbsync-" + user), ignore_errors=True)
        print("mem.imap.mbsync\t%d" % (peak - base), flush=True)
        return
    host, port, tls, cafile, user = sys.argv[2], int(sys.argv[3]), sys.argv[4], \
        sys.argv[5], sys.argv[6]
    runs, key, work = int(sys.argv[7]), sys.argv[8], sys.argv[9]
    ts, cpu, machine = [], [], []
    n = 0
    for _ in range(runs):
        rc = config(work, host, port, tls, cafile, user)
        m0 = machine_cpu()
        t, c, _ = run(rc)
        machine.append(machine_cpu() - m0)
        ts.append(t); cpu.append(c)
        n = count(work, user)
        assert n > 0
    shutil.rmtree(os.path.join(work, "mbsync-" + user), ignore_errors=True)
    print("%s\t%.6g" % (key, statistics.median(ts)), flush=True)
    # CPU seconds per run: mbsync's own, and the whole machine's (client + server + kernel)
    print("%s.cpu\t%.6g" % (key, statistics.median(cpu)), flush=True)
    print("%s.machine\t%.6g" % (key, statistics.median(machine)), flush=True)
    print("%s.count\t%d" % (key, n), flush=True)


main()
