"""bench/dkim_py.py DIR RUNS: Python's dkim package (dkimpy) signing the messages
bench/dkim_missive.lua wrote, with its key: signatures per second, as that script
measures them."""
import statistics
import sys
import time

import dkim


def main():
    d, runs = sys.argv[1], int(sys.argv[2])
    with open(d + "/key.pem", "rb") as f:
        key = f.read()
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


if __name__ == "__main__":
    main()
