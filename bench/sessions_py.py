"""bench/sessions_py.py PORT CAFILE N KEY - RSS growth (kB per session) of N idle
smtplib.SMTP_SSL sessions (one shared SSLContext, as a Python program would have)."""
import smtplib, ssl, sys

port, cafile, n, key = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False


def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])


first = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx); first.ehlo("bench")
before = rss()
t = []
for _ in range(n):
    c = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx); c.ehlo("bench"); t.append(c)
print("%s\t%.6g" % (key, (rss() - before) / n), flush=True)
for c in t:
    c.quit()
first.quit()
