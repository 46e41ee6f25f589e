"""bench/mime_py.py SIZE RUNS - Python base64/binascii and quopri codecs, MB/s of raw
input; same inputs as bench/mime_codecs.lua (random bytes; prose for QP)."""
import base64, binascii, random, statistics, sys, time
size, runs = int(sys.argv[1]), int(sys.argv[2])
random.seed(7)
binary = random.randbytes(size)
words = [b"the ", b"quick ", b"brown ", b"fox ", b"jumps ", b"over ", b"lazy ", b"dog, ",
         b"and ", b"then ", b"some ", b"more ", b"words. ", b"text ", b"with ", b"a ",
         b"line ", b"of ", b"prose ", b"in ", b"it ", b"is ", b"fine ", b"here, ", b"\n",
         b"\n", b"caf\xe9 ", b"x = y "]
parts, n = [], 0
while n < size:
    w = random.choice(words); parts.append(w); n += len(w)
text = b"".join(parts)[:size]


def rate(f, x, scale=1.0):
    f(x)
    rs = []
    for _ in range(runs):
        t0 = time.perf_counter(); k = 0
        while True:
            f(x); k += 1
            if time.perf_counter() - t0 > 0.15:
                break
        rs.append(len(x) * k / (time.perf_counter() - t0) / 1e6 * scale)
    return statistics.median(rs)


b64 = base64.b64encode(binary)
mimeb64 = base64.encodebytes(binary)       # 76-column lines, as in mail
qp = binascii.b2a_qp(text)
for k, v in [("python.b64_encode", rate(base64.b64encode, binary)),
             ("python.b64_encode_wrapped", rate(base64.encodebytes, binary)),
             ("python.b64_decode", rate(base64.b64decode, b64, 3 / 4)),
             ("python.b64_decode_wrapped", rate(base64.decodebytes, mimeb64, len(binary) / len(mimeb64))),
             ("python.qp_encode", rate(binascii.b2a_qp, text)),
             ("python.qp_decode", rate(binascii.a2b_qp, qp, len(text) / len(qp)))]:
    print("%s\t%.6g" % (k, v), flush=True)
