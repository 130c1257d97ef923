"""``tfy-live tools``: each MCP server's tools as the model will see them, as a table or JSON lines."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Mapping, Sequence

from tfy_live.config import env_name, normalise_base_url
from tfy_live.errors import ConfigError, GatewayError
from tfy_live.masking import protected
from tfy_live.sanitize import clean, clean_data
from tfy_live.tools.config import ServerConfig, StdioServer
from tfy_live.tools.servers import McpServers, ServerStatus

NO_SERVERS = ("no MCP servers to list: give --mcp-config FILE (an mcpServers JSON file) or --mcp URL, or set "
              "TFY_LIVE_MCP_CONFIG")
SHAPE = '{"mcpServers": {"clock": {"command": "python3", "args": ["mcp_clock.py"]}}}'


def nothing_declared(config_file: Path) -> str:
    """What ``tools`` says about a file whose ``mcpServers`` is empty (or all disabled): it was given, it lists none."""
    return (f"--mcp-config {str(config_file)!r} declares no servers (or only disabled ones); list at least one "
            f"under \"mcpServers\", e.g. {SHAPE} (see README 'Tools')")


def not_answered(statuses: Sequence[ServerStatus], again: str) -> str | None:
    """One line for the servers that did not list their tools, with why and the fix; None when all did."""
    failed = [s for s in statuses if s.error is not None]
    if not failed:
        return None
    if len(failed) == 1:
        head = f"MCP server {failed[0].config.name!r} ({failed[0].config.where}) did not list its tools: {failed[0].error}"
    else:
        head = f"{len(failed)} MCP servers did not list their tools: " + " · ".join(
            f"{s.config.name!r} ({s.config.where}): {s.error}" for s in failed)
    # A reason that names its own fix is not given a second one: the fix goes to the others only.
    rest = [s for s in failed if "; fix " not in (s.error or "")]
    if not rest:
        return f"{head}; then run `{again}` again"
    if len(failed) == 1 and isinstance(rest[0].config, StdioServer):
        fix = 'fix its "command" in --mcp-config (it must start an MCP server on standard input and output)'
    elif len(failed) == 1:
        fix = "check that an MCP server runs at that URL"
    elif len(rest) == len(failed):
        fix = "fix their command or URL in --mcp-config (or --mcp)"
    else:
        names = ", ".join(repr(s.config.name) for s in rest)
        fix = f"fix the command or URL of {names} in --mcp-config (or --mcp)"
    return f"{head}; {fix}, then run `{again}` again"


def tools_command(config_file: Path | None, urls: Sequence[str] = ()) -> str:
    """The ``tfy-live tools`` command line that lists these servers (a suggestion that works as printed)."""
    words = ["tfy-live", "tools"]
    if config_file is not None:
        words += ["--mcp-config", shlex.quote(str(config_file))]
    for url in urls:
        words += ["--mcp", shlex.quote(url)]
    return " ".join(words)


def gateway_target(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The base URL and key from the environment (or .env), for the key rule; either may be absent."""
    base_url = environ.get(env_name("base_url"), "").strip()
    key = environ.get(env_name("api_key"), "").strip()
    return (normalise_base_url(base_url) if base_url else None), key or None


async def run_tools(configs: list[ServerConfig], environ: Mapping[str, str], *, json_output: bool = False,
                    again: str = "tfy-live tools", config_file: Path | None = None) -> int:
    """List every server's tools; exit 0, or 3 when a server did not answer (all of them said in one line).

    The table shows the servers that answered; with none, there is no table, only the error line.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if not configs:
        raise ConfigError(nothing_declared(config_file) if config_file is not None else NO_SERVERS)
    base_url, key = gateway_target(environ)
    secrets = {key or "", *protected()}
    async with McpServers(configs, base_url=base_url, api_key=key) as servers:
        statuses, tools = servers.statuses, servers.tools
    exposed = {(t.server, t.name): t.exposed for t in tools}
    if json_output:
        for status in statuses:
            record = {"server": status.config.name, "where": status.config.where, "error": status.error,
                      "tools": [{"name": exposed[(t.server, t.name)], "server_name": t.name,
                                 "description": t.description, "read_only": t.read_only,
                                 "parameters": t.schema} for t in status.tools]}
            sys.stdout.write(json.dumps(clean_data(record, secrets), ensure_ascii=False) + "\n")
    elif any(status.error is None for status in statuses):
        table = Table(title=f"{len(tools)} tool{'s' if len(tools) != 1 else ''} from "
                            f"{sum(s.error is None for s in statuses)} of {len(statuses)} MCP servers",
                      title_justify="left")
        for column in ("server", "tool", "read-only", "description"):
            table.add_column(column)
        for status in statuses:
            for tool in status.tools:
                table.add_row(escape(clean(status.config.name, secrets)),
                              escape(clean(exposed[(tool.server, tool.name)], secrets)),
                              "yes" if tool.read_only else "", escape(clean(tool.description, secrets)))
        Console(highlight=False).print(table)
    # The servers' failures are the error line, not warnings before it: servers.warnings says "left out",
    # which is for a conversation that goes on without them.
    failure = not_answered(statuses, again)
    if failure is not None:
        raise GatewayError(clean(failure, secrets))
    return 0
