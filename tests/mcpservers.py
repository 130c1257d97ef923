"""Real MCP servers for the tests, written with the mcp SDK: over stdio (run this file) or streamable HTTP.

Tools: ``add`` (read-only), ``slow`` (sleeps; notes a cancellation in ``$MCP_MARKS``), ``meet`` (returns only
once ``n`` calls are inside it at once: concurrency without a clock), ``die`` (the process exits mid-call).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations


def make_server(name: str = "test") -> MCPServer:
    server = MCPServer(name, log_level="WARNING")
    inside = {"n": 0}
    changed = asyncio.Condition()

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def add(a: float, b: float) -> float:
        """Add two numbers."""
        return a + b

    @server.tool()
    async def slow(seconds: float, tag: str = "slow") -> str:
        """Sleep, then say so."""
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            if marks := os.environ.get("MCP_MARKS"):
                Path(marks).open("a").write(f"cancelled {tag}\n")
            raise
        return f"slept {tag}"

    @server.tool()
    async def meet(n: int, tag: str) -> str:
        """Return once n calls are inside this tool at the same time."""
        async with changed:
            inside["n"] += 1
            changed.notify_all()
            await changed.wait_for(lambda: inside["n"] >= n)
        return f"met {tag}"

    @server.tool()
    def die() -> str:
        """Exit the server's process in the middle of the call."""
        sys.stdout.flush()
        os._exit(3)

    return server


def stdio_config(name: str = "test", **extra: Any) -> dict[str, Any]:
    """This file as a stdio server entry of an mcpServers document."""
    return {"command": sys.executable, "args": [str(Path(__file__).resolve()), name], **extra}


class HttpServer:
    """A streamable-HTTP MCP server on 127.0.0.1 (``tls``: a certificate for 127.0.0.1 from ``ca``), in a thread.

    ``authorizations`` records the Authorization header of every request (None where there was none).
    """

    def __init__(self, *, certificate: Any = None, redirect_to: str | None = None) -> None:
        self.certificate = certificate
        self.redirect_to = redirect_to
        self.authorizations: list[str | None] = []
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.certificate else 'http'}://127.0.0.1:{self.port}/mcp"

    def _app(self) -> Any:
        app = make_server("http").streamable_http_app()
        recorded = self.authorizations
        redirect_to = self.redirect_to

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = dict(scope["headers"])
                auth = headers.get(b"authorization")
                recorded.append(auth.decode() if auth is not None else None)
                if redirect_to is not None:
                    await send({"type": "http.response.start", "status": 307,
                                "headers": [(b"location", redirect_to.encode()), (b"content-length", b"0")]})
                    await send({"type": "http.response.body", "body": b""})
                    return
            await app(scope, receive, send)

        return recording

    @contextlib.contextmanager
    def running(self) -> Iterator["HttpServer"]:
        import socket

        import uvicorn

        with contextlib.ExitStack() as stack:
            ssl: dict[str, Any] = {}
            if self.certificate is not None:
                files = stack.enter_context(self.certificate.private_key_and_cert_chain_pem.tempfile())
                ssl = {"ssl_certfile": files, "ssl_keyfile": files}
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
            config = uvicorn.Config(self._app(), log_level="error", lifespan="on", **ssl)
            self._server = uvicorn.Server(config)
            self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
            self._thread.start()
            for _ in range(500):
                if self._server.started:
                    break
                threading.Event().wait(0.01)
            try:
                yield self
            finally:
                self._server.should_exit = True
                self._thread.join(5)
                sock.close()


if __name__ == "__main__":
    make_server(sys.argv[1] if len(sys.argv) > 1 else "test").run()
