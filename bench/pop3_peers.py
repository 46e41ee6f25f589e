"""bench/pop3_peers.py MODE HOST PORT TLS CAFILE RUNS KEY - seconds for connect + login +
list + retrieve all.  MODE raw: LIST, then RETRs pipelined 64 ahead (more than missive's 16),
replies read to their final dots: the server's own limit.  MODE poplib: Python poplib."""
import faulthandler, poplib, socket, ssl, statistics, sys, time

# A stuck run prints its stack and exits (the bench records n/a) instead of hanging.
faulthandler.dump_traceback_later(240, exit=True)

mode, host, port, tls, cafile, runs, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7]
ctx = ssl.create_default_context(cafile=cafile) if tls == "implicit" else None


def raw_once():
    s = socket.create_connection((host, port))
    if ctx:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    f = s.makefile("rb", buffering=1 << 20)

    def line():
        l = f.readline()
        if not l:
            raise EOFError("the server closed the connection")
        return l
    line()
    s.sendall(b"USER bob\r\nPASS secret\r\nLIST\r\n")
    line(); line(); line()
    nums = []
    for l in iter(line, b".\r\n"):
        nums.append(int(l.split()[0]))
    # Pipelined with a window of 64 RETRs in flight, topped up as replies end: the
    # pipeline never drains, and no single write has to hold every command.
    cmds = [b"RETR %d\r\n" % n for n in nums] + [b"QUIT\r\n"]
    sent = min(64, len(cmds))
    s.sendall(b"".join(cmds[:sent]))
    for _ in nums:
        line()
        for l in iter(line, b".\r\n"):
            pass
        if sent < len(cmds):
            s.sendall(cmds[sent])
            sent += 1
    line()
    s.close()


def poplib_once():
    if ctx:
        ctx.check_hostname = False   # the chain is still verified; the name is "localhost"
    c = poplib.POP3_SSL(host, port, context=ctx) if ctx else poplib.POP3(host, port)
    c.user("bob"); c.pass_("secret")
    _, listing, _ = c.list()
    for l in listing:
        c.retr(int(l.split()[0]))
    c.quit()


fn = raw_once if mode == "raw" else poplib_once
def machine_cpu():
    """CPU seconds the machine has been busy (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / 100


ts, cpu, machine = [], [], []
for _ in range(runs):
    for attempt in range(3):
        t0, c0, m0 = time.perf_counter(), time.process_time(), machine_cpu()
        try:
            fn()
            break
        except (EOFError, OSError) as e:
            # seen rarely over TLS from the raw client: Dovecot ends the connection
            # mid-transfer; the run is measured again rather than lost
            print("%s: run failed (%s), measured again" % (key, e), file=sys.stderr)
    else:
        sys.exit(1)
    ts.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
    machine.append(machine_cpu() - m0)
print("%s\t%.6g" % (key, statistics.median(ts)), flush=True)
# CPU seconds per run: this client, and the whole machine (client + server + kernel)
print("%s.cpu\t%.6g" % (key, statistics.median(cpu)), flush=True)
print("%s.machine\t%.6g" % (key, statistics.median(machine)), flush=True)
