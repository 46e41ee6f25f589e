"""Signs a message with Python's dkim package (dkimpy), a signer independent of
missive's, for the verifier's specs.

    python3 dkim_sign.py message.eml key.pem domain selector algorithm canon [length]

algorithm: rsa-sha256 or ed25519-sha256 (the PKCS#8 PEM's seed is what dkimpy takes);
canon: e.g. relaxed/simple; length: 1 to add l=.  Writes the signed message to stdout."""
import base64
import sys

import dkim


def main():
    path, key_path, domain, selector, alg, canon = sys.argv[1:7]
    length = len(sys.argv) > 7 and sys.argv[7] == "1"
    with open(path, "rb") as f:
        msg = f.read()
    with open(key_path, "rb") as f:
        key = f.read()
    if alg == "ed25519-sha256":
        der = base64.b64decode(b"".join(l for l in key.splitlines() if not l.startswith(b"-")))
        key = base64.b64encode(der[-32:])
    hc, bc = canon.split("/")
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key,
                    canonicalize=(hc.encode(), bc.encode()), signature_algorithm=alg.encode(),
                    include_headers=[b"from", b"to", b"subject", b"date"], length=length)
    sys.stdout.buffer.write(sig + msg)


if __name__ == "__main__":
    main()
