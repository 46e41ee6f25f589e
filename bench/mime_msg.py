"""bench/mime_msg.py DIR RUNS - Python email: build + serialise a message with the 50 MB
attachment, and parse DIR/big.eml (written by mime_msg.lua) with the attachment decoded."""
import email, email.policy, statistics, sys, time
from email.message import EmailMessage
d, runs = sys.argv[1], int(sys.argv[2])
att = open(d + "/att.bin", "rb").read()
tb, tp = [], []
for _ in range(runs):
    t0 = time.perf_counter()
    m = EmailMessage()
    m["From"] = "a@example.org"; m["To"] = "b@example.org"; m["Subject"] = "big"
    m.set_content("See attached.")
    m.add_attachment(open(d + "/att.bin", "rb").read(), maintype="application",
                     subtype="octet-stream", filename="att.bin")
    m.as_bytes()
    tb.append(time.perf_counter() - t0)
raw = open(d + "/big.eml", "rb").read()
for _ in range(runs):
    t0 = time.perf_counter()
    m = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [p.get_content() for p in m.iter_attachments()]
    assert len(parts[0]) == len(att)
    tp.append(time.perf_counter() - t0)
print("mime.build50.python\t%.6g" % statistics.median(tb))
print("mime.parse50.python\t%.6g" % statistics.median(tp), flush=True)
