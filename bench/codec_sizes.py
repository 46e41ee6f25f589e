"""bench/codec_sizes.py RUNS SIZE_MIB... - Python's base64 and quoted-printable codecs,
one call per fresh input of each size (the peer of bench/codec_sizes.lua, same inputs:
random bytes for base64, prose with some Latin-1 for QP).  Prints "name.<MiB><TAB>MB/s"
(MB = 10^6 bytes of raw input), the median of RUNS single calls."""
import base64, binascii, os, statistics, sys, time

runs = int(sys.argv[1])
sizes = [int(s) for s in sys.argv[2:]]
WORDS = [b"the ", b"quick ", b"brown ", b"fox ", b"jumps ", b"over ", b"lazy ", b"dog, ",
         b"and ", b"then ", b"some ", b"more ", b"words. ", b"text ", b"with ", b"a ",
         b"line ", b"of ", b"prose ", b"in ", b"it ", b"is ", b"fine ", b"here, ", b"\n",
         b"\n", b"caf\xe9 ", b"x = y "]


def prose(n):
    import random
    random.seed(7)
    block = bytearray()
    while len(block) < 1 << 20:
        block += random.choice(WORDS)
    return (bytes(block[:1 << 20]) * (n // (1 << 20) + 1))[:n]


def one(f, make, scale):
    rs = []
    for _ in range(runs):
        x = make()      # fresh input (and a fresh output) every call
        t0 = time.perf_counter()
        y = f(x)
        rs.append(len(x) * scale(x, y) / (time.perf_counter() - t0) / 1e6)
        del x, y
    return statistics.median(rs)


raw = lambda x, y: 1.0
dec = lambda x, y: len(y) / len(x)
for mib in sizes:
    n = mib << 20
    text = prose(n)
    for name, f, make, scale in [
            ("b64_encode", base64.b64encode, lambda: os.urandom(n), raw),
            ("b64_decode", base64.b64decode,
             lambda: base64.b64encode(os.urandom(n)), dec),
            ("qp_encode", binascii.b2a_qp, lambda: bytes(text), raw),
            ("qp_decode", binascii.a2b_qp, lambda: binascii.b2a_qp(text), dec)]:
        print("python.%s.%d\t%.6g" % (name, mib, one(f, make, scale)), flush=True)
