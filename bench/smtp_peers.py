"""bench/smtp_peers.py MODE HOST PORT COUNT SIZE RUNS KEY [CAFILE] - messages/s, one
session; with CAFILE, implicit TLS.  MODE raw: replay pre-built pipelined bytes (every
envelope, body and dot in one stream, written and read by one non-blocking loop): the
sink's own limit.  MODE smtplib: Python's smtplib, one connection, one sendmail call per
message."""
import selectors, smtplib, socket, ssl, statistics, sys, time

mode, host, port, count, size, runs, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
cafile = sys.argv[8] if len(sys.argv) > 8 else None
ctx = None
if cafile:
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False       # the chain is still verified; the name is "localhost"
hdr = b"From: <a@example.org>\r\nTo: <b@example.org>\r\nSubject: bench\r\n\r\n"
line = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;abcdefghijk\r\n"
body = hdr + line * ((size - len(hdr)) // len(line))


def raw_once():
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"EHLO bench\r\n")
    while True:                      # smtp-sink ends EHLO with a bare "250 " line
        l = f.readline()
        if l[3:4] == b" ":
            break
    txn = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n" + body + b".\r\n"
    stream = memoryview(txn * count + b"QUIT\r\n")
    t0 = time.perf_counter()
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    pos, tail = 0, b""
    while True:
        for _ in sel.select():
            pass
        while pos < len(stream):
            try:
                pos += s.send(stream[pos:pos + 262144])
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                break
        if pos >= len(stream):
            sel.modify(s, selectors.EVENT_READ)
        try:
            d = s.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            continue
        if not d:
            break
        tail = (tail + d)[-64:]
        if b"221" in tail:
            break
    t = time.perf_counter() - t0
    s.close()
    return count / t


def smtplib_once():
    c = smtplib.SMTP_SSL(host, port, context=ctx) if ctx else smtplib.SMTP(host, port)
    c.ehlo("bench")
    t0 = time.perf_counter()
    for _ in range(count):
        c.sendmail("a@example.org", ["b@example.org"], body)
    t = time.perf_counter() - t0
    c.quit()
    return count / t


fn = raw_once if mode == "raw" else smtplib_once
print("%s\t%.6g" % (key, statistics.median(fn() for _ in range(runs))), flush=True)
