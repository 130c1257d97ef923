"""A network between tfy-live and the local gateway: a TCP proxy that delays each direction.

    proxy = DelayProxy("127.0.0.1", gateway_port, one_way_ms=50)   # a 100 ms round trip
    port = proxy.start(); ...; proxy.stop()

On loopback the server's ``interrupted`` comes back almost at once; behind a
real gateway it comes a network round trip later. The proxy forwards bytes
(TLS and all) unchanged, each chunk ``one_way_ms`` after it arrived, in order,
in both directions, on its own event loop in a daemon thread. It models
latency only: no loss, no jitter, no bandwidth limit.
"""

from __future__ import annotations

import asyncio
import contextlib

from tfy_live.localgw.loopthread import LoopThread


class DelayProxy:
    def __init__(self, host: str, port: int, *, one_way_ms: float) -> None:
        self.host, self.port = host, port
        self.delay = one_way_ms / 1000
        self._loop = LoopThread("net-delay")
        self._server: asyncio.Server | None = None

    def start(self) -> int:
        """Start listening on 127.0.0.1; returns the port to connect to."""
        self._loop.start()
        self._server = self._loop.run(asyncio.start_server(self._connection, "127.0.0.1", 0))
        return self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()

        self._loop.run(close())
        self._loop.stop()  # and the connections still open

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(self.host, self.port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy reader to writer, each chunk ``delay`` seconds late (a queue keeps them in order)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if wait := due - loop.time():
                    await asyncio.sleep(max(0.0, wait))
                if not data:
                    break
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + self.delay, data))
            queue.put_nowait((loop.time() + self.delay, b""))  # the peer closed: close after the delay
            await sender
        finally:
            sender.cancel()
            with contextlib.suppress(Exception):
                writer.close()
