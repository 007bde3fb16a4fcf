"""A TCP relay that adds latency, for benchmarks (not part of the suite):
every chunk read from either side is written to the other DELAY_MS / 2
later (so a round trip through it costs DELAY_MS more), in order, with no
bandwidth limit; TCP_NODELAY on its sockets and quick ACKs, so the relay
itself adds no Nagle or delayed-ACK stalls. Listens on 127.0.0.1; prints its port on stdout.
    python3 delay_relay.py TARGET_PORT DELAY_MS [LISTEN_PORT]"""
import asyncio
import socket
import sys

target = int(sys.argv[1])
half = float(sys.argv[2]) / 2000.0
listen = int(sys.argv[3]) if len(sys.argv) > 3 else 0


async def pump(reader, writer):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                try:
                    writer.write_eof()
                except OSError:
                    pass
                return
            writer.write(data)
            await writer.drain()

    task = asyncio.create_task(deliver())
    sock = reader._transport.get_extra_info("socket")
    try:
        while True:
            data = await reader.read(65536)
            # Acknowledge at once, as nettool's client does: a sender that
            # writes a status line and then the body (nnrpd, with Nagle)
            # would otherwise wait for our delayed ACK (40 ms) each time,
            # which a real client on a real path does not pay.
            if sock is not None and hasattr(socket, "TCP_QUICKACK"):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                except OSError:
                    pass
            queue.put_nowait((loop.time() + half, data or None))
            if not data:
                break
        await task
    except (ConnectionError, OSError):
        task.cancel()
    finally:
        writer.close()


async def handle(creader, cwriter):
    try:
        sreader, swriter = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        cwriter.close()
        return
    for w in (cwriter, swriter):
        s = w.get_extra_info("socket")
        if s is not None:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.gather(pump(creader, swriter), pump(sreader, cwriter),
                         return_exceptions=True)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
