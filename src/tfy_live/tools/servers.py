"""The edge to MCP servers: the official ``mcp`` SDK's stdio and streamable-HTTP clients.

``McpServers`` connects to every configured server at once, lists their tools
(each within ``list_timeout_s``: a server that fails or does not answer is one
warning, not a failed start), keeps each connection open in a task of its own
(the SDK's context managers must be left in the task that entered them), and
makes calls (``call``). Every SDK or transport error becomes ``ToolFailure``
here, as one line; SDK types never leave this module.

The API key travels only as ``Authorization: Bearer`` to the gateway's origin:
``origin_bearer`` decides per request, so a redirect (which the SDK follows only
within the origin anyway) cannot take it elsewhere. A stdio server's standard
error goes to a private temporary file; its last line explains a server that
would not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, Generator, Sequence

from tfy_live.errors import ConfigError
from tfy_live.tools.catalog import Tool, expose
from tfy_live.tools.config import HttpServer, ServerConfig, StdioServer, bearer_applies
from tfy_live.tools.runner import Outcome, ToolFailure

if TYPE_CHECKING:  # pragma: no cover
    import httpx2
    from mcp import ClientSession

LIST_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0


def available() -> bool:
    """Whether the ``mcp`` SDK (the ``[mcp]`` extra) is installed."""
    try:
        return importlib.util.find_spec("mcp") is not None
    except (ImportError, ValueError):  # a broken install, or one blocked on purpose (sys.modules["mcp"] = None)
        return False


def require() -> None:
    if not available():
        from tfy_live.extras import install_extra

        raise ConfigError("MCP tools need the optional 'mcp' extra, which is not installed: run "
                          f"`{install_extra('mcp')}` (or drop --mcp-config/--mcp)")


def one_line(exc: BaseException) -> str:
    """The innermost useful message of ``exc`` (anyio wraps errors in exception groups), on one line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    return text or exc.__class__.__name__


@dataclass
class ServerStatus:
    """One server after the start: its tools, or why it has none (``error``), and how long listing took."""

    config: ServerConfig
    tools: list[Tool] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    name: str = ""
    version: str = ""


def outcome_of(result: Any) -> Outcome:
    """An SDK ``CallToolResult`` as our ``Outcome``: text content joined, other content named, structured as is."""
    pieces: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            pieces.append(block.text)
        elif kind in ("image", "audio"):
            pieces.append(f"[{kind} {getattr(block, 'mime_type', '')}]")
        elif kind == "resource":
            resource = block.resource
            pieces.append(getattr(resource, "text", None) or f"[resource {resource.uri}]")
        elif kind == "resource_link":
            pieces.append(f"[resource {getattr(block, 'name', '')} {block.uri}]")
    structured = getattr(result, "structured_content", None)
    return Outcome("\n".join(pieces), structured if isinstance(structured, dict) else None,
                   bool(getattr(result, "is_error", False)))


def _tool(server: str, listed: Any) -> Tool:
    annotations = getattr(listed, "annotations", None)
    return Tool(server, listed.name, (listed.description or "").strip(), dict(listed.input_schema or {}),
                bool(getattr(annotations, "read_only_hint", False)))


class McpServers:
    """The configured MCP servers, connected, with their tools (``tools``, declared names set)."""

    def __init__(self, configs: Sequence[ServerConfig], *, base_url: str | None = None, api_key: str | None = None,
                 context: ssl.SSLContext | None = None, list_timeout_s: float = LIST_TIMEOUT_S) -> None:
        self.configs = list(configs)
        self.base_url = base_url
        self._api_key = api_key
        self.context = context
        self.list_timeout_s = list_timeout_s
        self.statuses: list[ServerStatus] = []
        self.tools: list[Tool] = []
        self._sessions: dict[str, ClientSession] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    @property
    def warnings(self) -> list[str]:
        return [f"MCP server {s.config.name!r} ({s.config.where}) is left out: {s.error}"
                for s in self.statuses if s.error is not None]

    async def __aenter__(self) -> "McpServers":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Connect to every server at once and list its tools; a failure is noted in its status."""
        require()
        started = time.monotonic()
        ready = [asyncio.get_running_loop().create_future() for _ in self.configs]
        self._tasks = [asyncio.create_task(self._serve(config, done), name=f"mcp {config.name}")
                       for config, done in zip(self.configs, ready)]
        if ready:
            await asyncio.wait(ready, timeout=self.list_timeout_s)
        for config, done, task in zip(self.configs, ready, self._tasks):
            status = ServerStatus(config, seconds=time.monotonic() - started)
            if not done.done():
                status.error = f"it did not answer within {self.list_timeout_s:g} s"
                task.cancel()
            elif done.exception() is not None:
                status.error = str(done.exception())
            else:
                status.tools, status.name, status.version = done.result()
                status.seconds = status.seconds if status.seconds else 0.0
            self.statuses.append(status)
        self.tools = expose(tool for status in self.statuses for tool in status.tools)

    async def aclose(self) -> None:
        self._stop.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def call(self, tool: Tool, args: dict[str, Any]) -> Outcome:
        """Call ``tool`` on its server; cancelling the caller cancels the request (the SDK tells the server)."""
        session = self._sessions.get(tool.server)
        if session is None:
            raise ToolFailure(f"the MCP server {tool.server!r} is not connected")
        try:
            result = await session.call_tool(tool.name, args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the SDK's and the transport's errors, translated once
            raise ToolFailure(f"the MCP server {tool.server!r} failed: {one_line(exc)}") from exc
        return outcome_of(result)

    # -- one server, in its own task ---------------------------------------------------------------
    async def _serve(self, config: ServerConfig, ready: asyncio.Future[tuple[list[Tool], str, str]]) -> None:
        from mcp import ClientSession

        errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") if isinstance(
            config, StdioServer) else None
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport(config, errlog))
                session = await stack.enter_async_context(ClientSession(read, write))
                init = await session.initialize()
                tools = await self._list(session, config.name)
                info = getattr(init, "server_info", None)
                self._sessions[config.name] = session
                ready.set_result((tools, str(getattr(info, "name", "") or ""), str(getattr(info, "version", "") or "")))
                await self._stop.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.set_exception(ToolFailure("cancelled"))
            raise
        except BaseException as exc:  # noqa: BLE001 - told to the one waiting, as one line
            if not ready.done():
                ready.set_exception(ToolFailure(self._why(config, exc, errlog)))
        finally:
            self._sessions.pop(config.name, None)
            if errlog is not None:
                errlog.close()

    @staticmethod
    async def _list(session: ClientSession, server: str) -> list[Tool]:
        tools: list[Tool] = []
        cursor: str | None = None
        for _ in range(100):  # a server whose pages never end cannot hang the start
            from mcp.types import PaginatedRequestParams

            page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
            tools += [_tool(server, listed) for listed in page.tools]
            cursor = getattr(page, "next_cursor", None)
            if not cursor:
                break
        return tools

    def _transport(self, config: ServerConfig, errlog: Any) -> contextlib.AbstractAsyncContextManager[Any]:
        if isinstance(config, StdioServer):
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            params = StdioServerParameters(command=config.command, args=list(config.args), env=config.env or None,
                                           cwd=config.cwd)
            return stdio_client(params, errlog=errlog)
        return self._http(config)

    @contextlib.asynccontextmanager
    async def _http(self, config: HttpServer) -> AsyncIterator[Any]:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        auth = origin_bearer(self._api_key, self.base_url) if self._api_key and self.base_url else None
        # The gateway's trust (--ca-bundle) for the gateway's origin; the system's for any other.
        own = self.context is not None and bearer_applies(config.url, self.base_url)
        client = httpx2.AsyncClient(headers=config.headers, auth=auth, timeout=httpx2.Timeout(30.0, read=300.0),
                                    verify=self.context if own and self.context is not None else True)
        async with client, streamable_http_client(config.url, http_client=client) as streams:
            yield streams

    @staticmethod
    def _why(config: ServerConfig, exc: BaseException, errlog: Any) -> str:
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        if isinstance(config, StdioServer):
            if isinstance(exc, FileNotFoundError):
                return f"cannot start {config.command!r}: no such program; fix its \"command\" in --mcp-config"
            if isinstance(exc, PermissionError):
                return f"cannot start {config.command!r}: not executable; fix its \"command\" in --mcp-config"
            said = _last_line(errlog)
            hint = ""
            if "No module named 'mcp'" in said:
                # "python3" on PATH is often not the environment tfy-live (and its mcp package) lives in.
                hint = (f"; its Python has no mcp package: set \"command\" to one that has it, e.g. "
                        f"{json.dumps(sys.executable)}")
            return f"{one_line(exc)}" + (f" (it said: {said})" if said else "") + hint
        return one_line(exc)


def _last_line(errlog: Any) -> str:
    """The last line a server wrote to its standard error, if any."""
    if errlog is None:
        return ""
    with contextlib.suppress(OSError, ValueError):
        errlog.flush()
        errlog.seek(0)
        lines = [line.strip() for line in errlog.read()[-4000:].splitlines() if line.strip()]
        return lines[-1][:200] if lines else ""
    return ""


def origin_bearer(api_key: str, base_url: str) -> httpx2.Auth:
    """``Authorization: Bearer <key>`` on each request to the gateway's origin, and on no other.

    Decided per request (an ``httpx2.Auth`` flow runs for every request, a followed redirect's too), so the
    key cannot follow a redirect to another origin, whatever the transport does about redirects.
    """
    import httpx2

    class OriginBearer(httpx2.Auth):
        def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
            if bearer_applies(str(request.url), base_url):
                request.headers["Authorization"] = f"Bearer {api_key}"
            yield request

    return OriginBearer()
