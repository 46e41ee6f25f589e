"""bench/imap_peers.py MODE HOST PORT TLS CAFILE USER RUNS KEY - Python imaplib against
Dovecot: seconds for connect + login + SELECT INBOX + list + fetch every message, each
message parsed by the email module (as missive parses each into an email object).
TLS is none or implicit; the certificate chain is verified against CAFILE.

MODE single: one `UID FETCH 1:* BODY.PEEK[]` (the listing is that FETCH's answer).
MODE each:   `UID SEARCH ALL`, then one `UID FETCH uid BODY.PEEK[]` per message.
MODE single-raw: as single, the messages left unparsed (what the transport alone costs).
MODE index:  one untimed pass (`UID FETCH 1:* (UID RFC822.SIZE)`) that lets Dovecot
             build its index and cache of a freshly written maildir; prints nothing.

bench/imap_peers.py mem HOST PORT USER OUTFILE - peak RSS growth (kB) fetching message
UID 1 into OUTFILE, two ways: imaplib's FETCH (imaplib reads a literal whole, it cannot
stream one), and partial fetches of 1 MB (`BODY.PEEK[]<offset.length>`), what a Python
program has to do to bound its memory."""
import email, email.policy, faulthandler, imaplib, ssl, statistics, sys, time
from memstat import rss, reset_peak

# A stuck run prints its stack and exits (the bench records n/a) instead of hanging.
faulthandler.dump_traceback_later(300, exit=True)
# 5 MB messages are single lines of the FETCH response; imaplib's default cap is 1 MB
# per line (it only guards the lines, the literals are read by count).
imaplib._MAXLINE = 1 << 30


def machine_cpu():
    """CPU seconds the machine has been busy (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / 100


def connect(host, port, tls, cafile, user):
    if tls == "implicit":
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False   # the chain is still verified; the name is "localhost"
        c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
    else:
        c = imaplib.IMAP4(host, port)
    c.login(user, "secret")
    typ, _ = c.select("INBOX", readonly=True)
    assert typ == "OK"
    return c


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def literals(data):
    """The message literals of a FETCH answer (imaplib gives (prefix, literal) tuples)."""
    return [d[1] for d in data if isinstance(d, tuple)]


def single(c):
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
    assert typ == "OK"
    n = 0
    for raw in literals(data):
        parse(raw)
        n += 1
    return n


def single_raw(c):
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
    assert typ == "OK"
    return len(literals(data))


def each(c):
    typ, data = c.uid("SEARCH", None, "ALL")
    assert typ == "OK"
    n = 0
    for uid in data[0].split():
        typ, d = c.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
        assert typ == "OK"
        for raw in literals(d):
            parse(raw)
            n += 1
    return n


def index(c):
    c.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
    return 1


def mem(host, port, user, outfile):
    for how in ("imaplib", "imaplib-partial"):
        c = connect(host, port, "none", None, user)
        before = rss()[0]; reset_peak()
        with open(outfile, "wb") as out:
            if how == "imaplib":
                typ, data = c.uid("FETCH", "1", "(BODY.PEEK[])")
                assert typ == "OK"
                out.write(literals(data)[0])
                del data
            else:
                off, chunk = 0, 1 << 20
                while True:
                    typ, data = c.uid("FETCH", "1", "(BODY.PEEK[]<%d.%d>)" % (off, chunk))
                    assert typ == "OK"
                    lit = literals(data)
                    if not lit or not lit[0]:
                        break
                    out.write(lit[0])
                    off += len(lit[0])
                    if len(lit[0]) < chunk:
                        break
        peak = rss()[1]
        c.logout()
        print("mem.imap.%s\t%d" % (how, peak - before), flush=True)


def main():
    mode = sys.argv[1]
    if mode == "mem":
        mem(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    host, port, tls, cafile, user = sys.argv[2], int(sys.argv[3]), sys.argv[4], \
        sys.argv[5], sys.argv[6]
    runs, key = int(sys.argv[7]), sys.argv[8]
    fn = {"single": single, "single-raw": single_raw, "each": each, "index": index}[mode]
    ts, cpu, machine = [], [], []
    for _ in range(runs):
        t0, c0, m0 = time.perf_counter(), time.process_time(), machine_cpu()
        c = connect(host, port, tls, cafile, user)
        n = fn(c)
        c.logout()
        ts.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        machine.append(machine_cpu() - m0)
        assert n > 0
    if mode == "index":
        return
    print("%s\t%.6g" % (key, statistics.median(ts)), flush=True)
    # CPU seconds per run: this client, and the whole machine (client + server + kernel)
    print("%s.cpu\t%.6g" % (key, statistics.median(cpu)), flush=True)
    print("%s.machine\t%.6g" % (key, statistics.median(machine)), flush=True)
    print("%s.count\t%d" % (key, n), flush=True)


main()
