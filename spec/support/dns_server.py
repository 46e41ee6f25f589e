"""A scripted DNS server on 127.0.0.1 for the DNS specs: never a real resolver.

    python3 dns_server.py zone.txt [port]

zone.txt holds lines "name TXT-string" (a record; a name may have several).  Names
starting with a behaviour word act on the query instead:
  nx.*        NXDOMAIN            servfail.*  SERVFAIL           nodata.*  no answer
  tc.*        over UDP: an empty answer with TC set; over TCP: the records
  drop.*      no answer at all (the client times out)
  badid.*     an answer with another id first, then the right one
  garbage.*   an answer whose record runs past the end of the datagram
  loop.*      an answer whose name is a compression pointer to itself
Prints the port (the same for UDP and TCP; the one given, else a free one), then serves
until killed."""
import socket
import struct
import sys
import threading


def records(zone, name):
    return [v for n, v in zone if n == name]


def txt_rdata(value):
    value = value.encode()
    chunks = [value[i:i + 255] for i in range(0, len(value), 255)] or [b""]
    return b"".join(bytes([len(c)]) + c for c in chunks)


def answer(zone, query, tcp):
    qid, _flags, qd = struct.unpack(">HHH", query[:6])
    i, labels = 12, []
    while query[i]:
        labels.append(query[i + 1:i + 1 + query[i]].decode())
        i += 1 + query[i]
    question = query[12:i + 5]
    name = ".".join(labels).lower()
    word = labels[0] if labels else ""
    flags, rrs = 0x8180, []
    if word == "nx":
        flags |= 3
    elif word == "servfail":
        flags |= 2
    elif word == "drop":
        return None
    elif word == "tc" and not tcp:
        flags |= 0x200
    elif word == "garbage":
        rrs = [b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, 200) + b"\x05abc"]
    elif word == "loop":
        off = 12 + len(question)        # the answer's name points at itself
        rrs = [struct.pack(">H", 0xc000 | off) + struct.pack(">HHIH", 16, 1, 60, 2) + b"\x01x"]
    elif word != "nodata":
        for v in records(zone, name):
            rd = txt_rdata(v)
            rrs.append(b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(rd)) + rd)
    head = struct.pack(">HHHHHH", qid, flags, 1, len(rrs), 0, 0)
    msg = head + question + b"".join(rrs)
    if word == "badid":
        return [struct.pack(">H", (qid + 1) % 65536) + msg[2:], msg]
    return [msg]


def serve_udp(sock, zone):
    while True:
        q, peer = sock.recvfrom(4096)
        for m in answer(zone, q, False) or []:
            sock.sendto(m, peer)


def serve_tcp(sock, zone):
    while True:
        c, _ = sock.accept()
        try:
            n = struct.unpack(">H", c.recv(2))[0]
            q = b""
            while len(q) < n:
                q += c.recv(n - len(q))
            for m in answer(zone, q, True) or []:
                c.sendall(struct.pack(">H", len(m)) + m)
        finally:
            c.close()


def main():
    zone = []
    with open(sys.argv[1]) as f:
        for line in f:
            if line.strip():
                n, v = line.rstrip("\n").split(" ", 1)
                zone.append((n.lower(), v))
    want = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    while True:     # a free UDP port whose TCP twin is free too
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", want))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", port))
            break
        except OSError:
            udp.close()
            tcp.close()
    tcp.listen(5)
    threading.Thread(target=serve_tcp, args=(tcp, zone), daemon=True).start()
    print(port, flush=True)
    serve_udp(udp, zone)


if __name__ == "__main__":
    main()
