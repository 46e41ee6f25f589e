#!/usr/bin/env python3
"""A slow SMTP server on 127.0.0.1 for the non-blocking measurement: every reply waits
DELAY seconds, many connections at once (asyncio).  Prints its port and pid, then serves
until killed or until it has been idle for IDLE seconds.

    python3 slow_smtp.py DELAY [IDLE]
"""
import asyncio
import os
import sys

DELAY = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
IDLE = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
last_activity = 0.0


async def reply(writer, line):
    await asyncio.sleep(DELAY)
    writer.write(line.encode() + b"\r\n")
    await writer.drain()


async def session(reader, writer):
    global last_activity
    loop = asyncio.get_running_loop()
    try:
        await reply(writer, "220 slow ESMTP")
        while True:
            line = await reader.readline()
            last_activity = loop.time()
            if not line:
                break
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                await reply(writer, "250 slow")
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                await reply(writer, "250 ok")
            elif verb == b"DATA":
                await reply(writer, "354 go")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = await reader.readline()
                    if not chunk:
                        return
                    data += chunk
                await reply(writer, "250 queued")
            elif verb == b"QUIT":
                await reply(writer, "221 bye")
                break
            else:
                await reply(writer, "500 what")
    finally:
        writer.close()


async def main():
    global last_activity
    server = await asyncio.start_server(session, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], os.getpid(), flush=True)
    loop = asyncio.get_running_loop()
    last_activity = loop.time()
    async with server:
        while loop.time() - last_activity < IDLE:
            await asyncio.sleep(0.5)


asyncio.run(main())
