"""bench/fill_maildir.py MAILDIR COUNT SIZE [START] - writes COUNT messages of SIZE bytes
(LF line endings, as Dovecot stores them) into MAILDIR/new."""
import os, sys
d, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = int(sys.argv[4]) if len(sys.argv) > 4 else 0
os.makedirs(d + "/new", exist_ok=True); os.makedirs(d + "/cur", exist_ok=True)
os.makedirs(d + "/tmp", exist_ok=True)
line = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;abcdefghijk\n"
for i in range(start, start + count):
    hdr = b"From: <a@example.org>\nTo: <bob@localhost>\nSubject: m%d\n\n" % i
    body = line * ((size - len(hdr)) // len(line))
    with open("%s/new/%d.bench%06d.vm" % (d, 1700000000 + i, i), "wb") as f:
        f.write(hdr + body)
