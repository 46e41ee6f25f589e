"""bench/tls_server.py PORT CERT KEY - a tiny implicit-TLS SMTP responder (asyncio) that
holds any number of idle sessions: 220 greeting, EHLO, NOOP, QUIT.  For the per-session
memory figure (1000 idle TLS sessions).  CERT "-": plain TCP."""
import asyncio, ssl, sys

port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = None
if cert != "-":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)


async def handle(r, w):
    try:
        w.write(b"220 bench ESMTP\r\n")
        while True:
            line = await r.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                w.write(b"250-bench\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"QUIT":
                w.write(b"221 bye\r\n"); await w.drain(); break
            else:
                w.write(b"250 ok\r\n")
    except Exception:
        pass
    w.close()


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx, backlog=2048)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
