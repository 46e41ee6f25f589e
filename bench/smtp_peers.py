"""bench/smtp_peers.py MODE HOST PORT COUNT SIZE RUNS KEY - messages/s, one session.
MODE raw: replay pre-built pipelined bytes (every envelope, body and dot in one stream,
replies drained by a thread): the sink's own limit.  MODE smtplib: Python's smtplib,
one connection, one sendmail call per message."""
import smtplib, socket, statistics, sys, threading, time

mode, host, port, count, size, runs, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
hdr = b"From: <a@example.org>\r\nTo: <b@example.org>\r\nSubject: bench\r\n\r\n"
line = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;abcdefghijk\r\n"
body = hdr + line * ((size - len(hdr)) // len(line))


def raw_once():
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"EHLO bench\r\n")
    while True:                      # smtp-sink ends EHLO with a bare "250 " line
        l = f.readline()
        if l[3:4] == b" ":
            break
    txn = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n" + body + b".\r\n"
    stream = txn * count + b"QUIT\r\n"
    t0 = time.perf_counter()
    threading.Thread(target=s.sendall, args=(stream,), daemon=True).start()
    done = 0
    while True:
        l = f.readline()
        if not l or l.startswith(b"221"):
            break
        if l.startswith(b"250") and b"Queued" in l or l.startswith(b"250 2.0.0 Ok: queued"):
            done += 1
    t = time.perf_counter() - t0
    s.close()
    return count / t


def smtplib_once():
    c = smtplib.SMTP(host, port)
    c.ehlo("bench")
    t0 = time.perf_counter()
    for _ in range(count):
        c.sendmail("a@example.org", ["b@example.org"], body)
    t = time.perf_counter() - t0
    c.quit()
    return count / t


fn = raw_once if mode == "raw" else smtplib_once
print("%s\t%.6g" % (key, statistics.median(fn() for _ in range(runs))), flush=True)
