#!/usr/bin/env python3
"""tls_peer.py - a one-connection implicit-TLS SMTP or POP3 peer that reports what the
client did at the TLS layer, for the specs that OpenSSL (through Python's ssl) must judge:

    python3 tls_peer.py --cert C --key K [--bind 127.0.0.1] [--min 1.2] [--max 1.3]
                        [--pop3]

Prints, one line each, flushed: "port N" once listening; "handshake TLSv1.3" or
"handshake failed: <reason>"; and after the client's QUIT, "close_notify" when the client
ended TLS with a close_notify alert, "eof" when it just closed the socket (RFC 8446 6.1
violated), "reset" or "timeout".  The SMTP side: 220 greeting, 250 to everything, 221 to
QUIT; POP3: +OK to everything, CAPA lists USER.  Exits after one connection or --timeout
seconds.
"""
import argparse
import socket
import ssl
import sys

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


SMTP = {"greeting": b"220 tls_peer ESMTP\r\n", "ok": b"250 ok\r\n", "bye": b"221 bye\r\n"}
POP3 = {"greeting": b"+OK tls_peer\r\n", "ok": b"+OK\r\n", "bye": b"+OK bye\r\n",
        "CAPA": b"+OK\r\nUSER\r\n.\r\n"}


def serve(conn, timeout, proto):
    conn.settimeout(timeout)
    conn.sendall(proto["greeting"])
    buf = b""
    while True:
        while b"\r\n" not in buf:
            data = conn.recv(4096)
            if not data:
                say("closed before QUIT")
                return
            buf += data
        line, buf = buf.split(b"\r\n", 1)
        verb = line.split(b" ")[0].upper().decode("ascii", "replace")
        if verb == "QUIT":
            conn.sendall(proto["bye"])
            break
        conn.sendall(proto.get(verb, proto["ok"]))
    try:
        while conn.recv(4096):
            pass
        say("close_notify")        # recv returned b"": the alert arrived
    except ssl.SSLEOFError:
        say("eof")                 # TCP FIN without close_notify
    except (ConnectionResetError, BrokenPipeError):
        say("reset")
    except socket.timeout:
        say("timeout")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--min", default="1.2", choices=VERSIONS)
    ap.add_argument("--max", default="1.3", choices=VERSIONS)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--pop3", action="store_true")
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = VERSIONS[a.min]
    ctx.maximum_version = VERSIONS[a.max]
    ctx.load_cert_chain(a.cert, a.key)
    family = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as ls:
        ls.bind((a.bind, 0))
        ls.listen(1)
        ls.settimeout(a.timeout)
        say("port %d" % ls.getsockname()[1])
        try:
            raw, _ = ls.accept()
        except socket.timeout:
            say("no connection")
            return
        raw.settimeout(a.timeout)
        try:
            conn = ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
        except (ssl.SSLError, OSError) as e:
            say("handshake failed: %s" % (getattr(e, "reason", None) or e))
            raw.close()
            return
        say("handshake " + conn.version())
        try:
            serve(conn, a.timeout, POP3 if a.pop3 else SMTP)
        finally:
            conn.close()


if __name__ == "__main__":
    main()
