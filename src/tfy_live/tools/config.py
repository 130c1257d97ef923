"""Which MCP servers to use: the ``mcpServers`` JSON file (``--mcp-config``) and ``--mcp URL``s.

The file is the format other MCP clients read::

    {"mcpServers": {"clock": {"command": "python3", "args": ["clock.py"], "env": {"TZ": "UTC"}},
                    "search": {"url": "https://host/mcp", "headers": {"X-Team": "a"}}}}

A server with ``command`` is started and spoken to over its standard input and
output; one with ``url`` over streamable HTTP. Values are taken as written
(``${VAR}`` is not expanded). ``"disabled": true`` leaves a server out.

The API key rule (``bearer_applies``): a URL on the gateway's origin — same
scheme, host and port as the base URL — gets ``Authorization: Bearer <key>``;
no other origin ever does. ``servers`` applies it to every request, redirects
included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tfy_live.errors import ConfigError

FIX = "see README 'Tools' for the format"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class StdioServer:
    """A server started as ``command args…`` and spoken to over its standard input and output."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    cwd: str | None = None

    @property
    def where(self) -> str:
        return " ".join((self.command, *self.args))


@dataclass(frozen=True)
class HttpServer:
    """A streamable-HTTP server at ``url``; ``headers`` are sent with every request."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def where(self) -> str:
        return self.url


ServerConfig = StdioServer | HttpServer


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: what "same origin" compares."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def bearer_applies(url: str, base_url: str | None) -> bool:
    """Whether a request to ``url`` may carry the gateway's API key: only on the gateway's own origin."""
    if not base_url:
        return False
    mine = origin(base_url)
    return bool(mine[1]) and origin(url) == mine


def _strings(value: Any, what: str, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{where}: \"{what}\" must be an object of strings; {FIX}")
    return dict(value)


def _check_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
        raise ConfigError(f"{where}: {url!r} is not an http:// or https:// URL; give the server's streamable-HTTP "
                          f"endpoint, e.g. https://host/mcp")
    return url


def _server(name: str, entry: Any, source: str) -> ServerConfig | None:
    where = f"{source}: server {name!r}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be an object with \"command\" or \"url\"; {FIX}")
    if entry.get("disabled") is True:
        return None
    kind = str(entry.get("type") or entry.get("transport") or "").lower().replace("_", "-")
    if kind == "sse":
        raise ConfigError(f"{where} uses the SSE transport, which tfy-live does not speak; give its streamable-HTTP "
                          "URL (often the same host, path /mcp)")
    if "command" in entry and "url" in entry:
        raise ConfigError(f"{where} has both \"command\" and \"url\"; keep one")
    if "command" in entry:
        command, args = entry["command"], entry.get("args", [])
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(f"{where}: \"command\" must be a program name or path; {FIX}")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"{where}: \"args\" must be a list of strings; {FIX}")
        cwd = entry.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ConfigError(f"{where}: \"cwd\" must be a folder path; {FIX}")
        return StdioServer(name, command, tuple(args), _strings(entry.get("env"), "env", where), cwd)
    if "url" in entry:
        return HttpServer(name, _check_url(entry["url"], where), _strings(entry.get("headers"), "headers", where))
    raise ConfigError(f"{where} has neither \"command\" (a program to start) nor \"url\" (an HTTP server); {FIX}")


def parse_config(text: str, source: str) -> list[ServerConfig]:
    """The servers of an ``mcpServers`` document; a ConfigError naming ``source`` and the fix otherwise."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        line = f" (line {exc.lineno})" if hasattr(exc, "lineno") else ""
        raise ConfigError(f"{source} is not JSON{line}; fix it ({FIX})") from None
    except RecursionError:  # arrays or objects nested thousands deep: no configuration looks like that
        raise ConfigError(f"{source} nests too deeply to be an mcpServers file; fix it ({FIX})") from None
    servers = document.get("mcpServers", document.get("servers")) if isinstance(document, dict) else None
    if not isinstance(servers, dict):
        raise ConfigError(f"{source} has no \"mcpServers\" object; write {{\"mcpServers\": {{\"NAME\": {{…}}}}}} "
                          f"({FIX})")
    configs = []
    for name, entry in servers.items():
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{source}: a server has an empty name; name each server")
        if (config := _server(name, entry, source)) is not None:
            configs.append(config)
    return configs


def load_config(path: Path) -> list[ServerConfig]:
    """The servers of the ``--mcp-config`` file."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # the byte order mark some Windows editors write is not JSON
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ConfigError(f"cannot read --mcp-config {str(path)!r}: {reason}; give a readable mcpServers JSON "
                          "file (TFY_LIVE_MCP_CONFIG)") from exc
    # A stdio server starts in the file's folder (or in its "cwd", read from there), as a project's .mcp.json
    # does in other MCP clients: "args": ["server.py"] beside the file works from any working directory.
    folder = path.resolve().parent
    return [replace(c, cwd=str(folder / c.cwd if c.cwd else folder)) if isinstance(c, StdioServer) else c
            for c in parse_config(text, f"--mcp-config {str(path)!r}")]


def servers(config_file: Path | None, urls: list[str] | None = None) -> list[ServerConfig]:
    """The file's servers, then one per ``--mcp URL`` (named ``mcp``, ``mcp2``… past the file's names)."""
    configs = load_config(config_file) if config_file is not None else []
    taken = {c.name for c in configs}
    for url in urls or []:
        index, name = 1, "mcp"
        while name in taken:
            index += 1
            name = f"mcp{index}"
        taken.add(name)
        configs.append(HttpServer(name, _check_url(url, f"--mcp {url!r}")))
    return configs

