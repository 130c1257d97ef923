"""Tools the model may call: functions offered by MCP servers, run when the user approves.

    config    — the ``mcpServers`` file and ``--mcp URL``s as server settings; which URLs get the key
    catalog   — the servers' tools as one list of names the model can call (collisions prefixed)
    approval  — ``--approve-tools``: which calls run at once, which are asked about, which are declined
    runner    — the calls of a conversation: concurrency, timeouts, cancellation, one result per call
    servers   — the edge: the ``mcp`` SDK's stdio and streamable-HTTP clients (optional extra ``[mcp]``)

Everything but ``servers`` is pure and SDK-free; the session declares the tools
and answers the calls through the neutral ``events.ToolSpec``/``events.ToolResult``.
"""
