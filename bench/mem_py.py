"""bench/mem_py.py send HOST PORT FILE | retrieve HOST PORT N OUTFILE - the Python peer
of mem_missive.lua, peak RSS growth in kB.  send: EmailMessage with the file attached,
smtplib send_message (what a Python program does; smtplib needs the whole message).
retrieve: poplib RETR streamed line by line into a file (poplib's retr() would hold it)."""
import poplib, smtplib, sys
from memstat import rss, reset_peak
from email.message import EmailMessage


what, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if what == "send":
    c = smtplib.SMTP(host, port)
    c.ehlo("bench")
    before = rss()[0]; reset_peak()
    m = EmailMessage()
    m["From"] = "a@example.org"; m["To"] = "b@example.org"; m["Subject"] = "big"
    m.set_content("See attached.")
    with open(sys.argv[4], "rb") as f:
        m.add_attachment(f.read(), maintype="application", subtype="octet-stream",
                         filename="att.bin")
    c.send_message(m)
    peak = rss()[1]
    c.quit()
else:
    c = poplib.POP3(host, port)
    c.user("alice"); c.pass_("secret")
    before = rss()[0]; reset_peak()
    with open(sys.argv[5], "wb") as out:
        c._putcmd("RETR %s" % sys.argv[4])
        c._getresp()
        while True:
            line, _ = c._getline()
            if line == b".":
                break
            if line.startswith(b".."):
                line = line[1:]
            out.write(line + b"\r\n")
    peak = rss()[1]
    c.quit()
print("mem.%s.python\t%d" % (what, peak - before), flush=True)
