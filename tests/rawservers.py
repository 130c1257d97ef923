"""Servers that misbehave on purpose, on loopback, for the network cases of the hostile tests.

Each listens on 127.0.0.1, port 0, in a ``LoopThread`` of its own; all of them
present certificates from one throwaway CA (``ca_file``), so the client trusts
every one of them as it trusts a real gateway — a redirect to another of them
is a redirect to a trusted origin. Each records what reached it
(``Listener.requests``: the raw bytes of every connection), so a test can say
that an origin saw no connection at all, and how long each connection lasted
(``Listener.lasted``: for a silent server, how long the client waited).

    silent      accepts TCP, never speaks (no TLS handshake)
    tls_silent  completes TLS, reads the upgrade, never answers
    closing     accepts TCP and closes at once
    answering   completes TLS, reads the upgrade, answers with ``respond(request)`` (raw HTTP) and closes
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import trustme

from tfy_live.localgw.loopthread import LoopThread

Respond = Callable[[bytes], bytes]


def http(status: int, reason: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """A raw HTTP/1.1 response that closes the connection."""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Listener:
    behaviour: str
    respond: Respond | None = None
    port: int = 0
    requests: list[bytes] = field(default_factory=list)  # one entry per connection: what it sent
    lasted: list[float] = field(default_factory=list)  # one entry per connection: seconds until the client left
    server: asyncio.Server | None = None

    @property
    def origin(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"https://{self.origin}/api/llm"


class RawServers:
    """Start listeners with ``silent()``, ``tls_silent()``, ``closing()``, ``answering(respond)``; ``stop()`` at the end."""

    def __init__(self, folder: Path) -> None:
        ca = trustme.CA(organization_name="tfy-live hostile tests")
        self.ca_file = folder / "hostile-ca.pem"
        self.ca_file.write_bytes(ca.cert_pem.bytes())
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost", "::1").configure_cert(self._tls)
        self._loop = LoopThread("hostile-servers")
        self._loop.start()
        self.listeners: list[Listener] = []

    def silent(self) -> Listener:
        return self._start(Listener("silent"), tls=False)

    def tls_silent(self) -> Listener:
        return self._start(Listener("tls_silent"), tls=True)

    def closing(self) -> Listener:
        return self._start(Listener("closing"), tls=False)

    def answering(self, respond: Respond) -> Listener:
        return self._start(Listener("answering", respond), tls=True)

    def _start(self, listener: Listener, *, tls: bool) -> Listener:
        async def start() -> None:
            listener.server = await asyncio.start_server(
                lambda r, w: self._serve(listener, r, w), "127.0.0.1", 0, ssl=self._tls if tls else None)
            listener.port = listener.server.sockets[0].getsockname()[1]

        self._loop.run(start())
        self.listeners.append(listener)
        return listener

    @staticmethod
    async def _serve(listener: Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = len(listener.requests)
        listener.requests.append(b"")
        opened = time.monotonic()
        try:
            if listener.behaviour == "closing":
                writer.transport.abort()
                return
            while b"\r\n\r\n" not in listener.requests[index]:
                chunk = await reader.read(4096)
                if not chunk:
                    return
                listener.requests[index] += chunk
            if listener.behaviour == "answering" and listener.respond is not None:
                writer.write(listener.respond(listener.requests[index]))
                await writer.drain()
                writer.close()
                return
            await reader.read()  # silent: until the client gives up
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            listener.lasted.append(time.monotonic() - opened)
            writer.transport.abort()

    def stop(self) -> None:
        async def close() -> None:
            for listener in self.listeners:
                if listener.server is not None:
                    listener.server.close()

        self._loop.run(close())
        self._loop.stop()
