"""bench/pop3_peers.py MODE HOST PORT TLS CAFILE RUNS KEY - seconds for connect + login +
list + retrieve all.  MODE raw: LIST, then every RETR written at once (pipelined), the
replies read to their final dots: the server's own limit.  MODE poplib: Python poplib."""
import poplib, socket, ssl, statistics, sys, time

mode, host, port, tls, cafile, runs, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7]
ctx = ssl.create_default_context(cafile=cafile) if tls == "implicit" else None


def raw_once():
    s = socket.create_connection((host, port))
    if ctx:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    f = s.makefile("rb", buffering=1 << 20)
    f.readline()
    s.sendall(b"USER bob\r\nPASS secret\r\nLIST\r\n")
    f.readline(); f.readline(); f.readline()
    nums = []
    for l in iter(f.readline, b".\r\n"):
        nums.append(int(l.split()[0]))
    s.sendall(b"".join(b"RETR %d\r\n" % n for n in nums) + b"QUIT\r\n")
    for _ in nums:
        f.readline()
        for l in iter(f.readline, b".\r\n"):
            pass
    f.readline()
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
ts = []
for _ in range(runs):
    t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
print("%s\t%.6g" % (key, statistics.median(ts)), flush=True)
