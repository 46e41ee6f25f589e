"""bench/dkim_py.py DIR RUNS: Python's dkim package (dkimpy) signing the messages
bench/dkim_missive.lua wrote, with its key, and verifying the ones it signed (the key
record handed over: no DNS): signatures per second, as that script measures them."""
import statistics
import sys
import time

import dkim


def main():
    d, runs = sys.argv[1], int(sys.argv[2])
    with open(d + "/key.pem", "rb") as f:
        key = f.read()
    with open(d + "/record.txt", "rb") as f:
        record = f.read()
    for name, n in (("10k", 200), ("1m", 20)):
        with open("%s/msg%s.eml" % (d, name), "rb") as f:
            raw = f.read()
        rates = []
        for _ in range(runs):
            t0 = time.perf_counter()
            for _ in range(n):
                sig = dkim.sign(raw, b"bench", b"example.org", key,
                                canonicalize=(b"relaxed", b"relaxed"))
                assert sig.startswith(b"DKIM-Signature")
            rates.append(n / (time.perf_counter() - t0))
        print("dkim.sign%s.python\t%.6g" % (name, statistics.median(rates)), flush=True)
        with open("%s/msg%s.signed.eml" % (d, name), "rb") as f:
            signed = f.read()
        rates = []
        for _ in range(runs):
            t0 = time.perf_counter()
            for _ in range(n):
                assert dkim.verify(signed, dnsfunc=lambda _name, timeout=5: record)
            rates.append(n / (time.perf_counter() - t0))
        print("dkim.verify%s.python\t%.6g" % (name, statistics.median(rates)), flush=True)


if __name__ == "__main__":
    main()
