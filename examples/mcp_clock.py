"""A tiny MCP server for trying tools with tfy-live: a clock and a calculator, over stdio.

    tfy-live talk --local --mcp-config examples/mcp.json
    (then type:  call add {"a": 2, "b": 3}   or   call now {}   or   call wait {"seconds": 5} then cancel)

Written with the official MCP Python SDK (pip install '.[mcp]' in the tfy-live clone).
"""

from __future__ import annotations

import asyncio
import datetime
import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("clock", instructions="Tells the time and adds numbers.", log_level="WARNING")
READ_ONLY = ToolAnnotations(readOnlyHint=True)


@server.tool(annotations=READ_ONLY)
def now(utc_offset_hours: float = 0.0) -> str:
    """The current date and time, at a UTC offset in hours (0: UTC)."""
    zone = datetime.timezone(datetime.timedelta(hours=utc_offset_hours))
    return datetime.datetime.now(zone).isoformat(timespec="seconds")


@server.tool(annotations=READ_ONLY)
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
async def wait(seconds: float) -> str:
    """Wait this many seconds, then say so (a slow tool, to try timeouts and cancellation)."""
    await asyncio.sleep(seconds)
    return f"waited {seconds:g} s"


if __name__ == "__main__":
    if "--http" in sys.argv:  # streamable HTTP on 127.0.0.1:8765/mcp instead of stdio
        server.run("streamable-http", host="127.0.0.1", port=8765)
    else:
        server.run()
