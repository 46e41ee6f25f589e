"""Verifies a DKIM-Signature of a message (the first, or the one at index idx, 0 being
the topmost) with Python's dkim package (dkimpy, Debian python3-dkim; ed25519-sha256
needs python3-nacl), an implementation independent of missive's.  The key record comes
from the command line, never from DNS.

    python3 dkim_verify.py message.eml 'v=DKIM1; k=rsa; p=...' [idx]

Prints "ok", or "fail: <the verifier's reasons>" (exit status 1)."""
import logging
import sys

import dkim


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def main():
    with open(sys.argv[1], "rb") as f:
        msg = f.read()
    record = sys.argv[2].encode()
    log = logging.getLogger("dkim-spec")
    log.setLevel(logging.DEBUG)
    seen = Collect()
    log.addHandler(seen)

    def lookup(name, timeout=5):
        return record

    try:
        idx = int(sys.argv[3]) if len(sys.argv) > 3 else 0
        ok = dkim.DKIM(msg, logger=log).verify(idx=idx, dnsfunc=lookup)
    except dkim.DKIMException as e:
        ok = False
        seen.lines.append(str(e))
    if ok:
        print("ok")
        return 0
    print("fail: " + "; ".join(line for line in seen.lines if "did not verify" in line
                                or "mismatch" in line or "fail" in line.lower()
                                or "error" in line.lower()) or "fail")
    return 1


if __name__ == "__main__":
    sys.exit(main())
