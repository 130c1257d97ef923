"""Tool round-trip overhead through the product: toolCall sent by the gateway → toolResponse back at it,
minus the time the tool took (as tfy-live measured the MCP call).

The local gateway (echo model, recording every frame with its time) runs in this process;
``tfy-live chat --json --approve-tools all`` runs as a subprocess with examples/mcp_clock.py
as its MCP server (stdio), and each typed ``call add {…}`` is one call. The overhead is what
tfy-live adds around the MCP call: the SDK parsing the toolCall, the runner, the JSON
events, the response built and written — plus the loopback transit both ways, so an upper
bound. Target: p95 ≤ 5 ms.

    .venv/bin/python bench/tools.py [--calls 300] [--rounds 3] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from report import machine, replace_section  # noqa: E402

from tfy_live.localgw import GatewayThread  # noqa: E402
from tfy_live.localgw.echo import EchoOptions, get  # noqa: E402
from tfy_live.timeline import percentile  # noqa: E402

TARGET_P95_MS = 5.0


def run(calls: int) -> dict[str, float]:
    key = "bench-key-0123456789"
    thread = GatewayThread(api_key=key, options=EchoOptions(reply_speed=float("inf")))
    gateway = thread.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "mcp.json"
            config.write_text(json.dumps({"mcpServers": {"clock": {
                "command": sys.executable, "args": [str(ROOT / "examples" / "mcp_clock.py")]}}}))
            env = {**os.environ, "TFY_API_KEY": key, "TFY_BASE_URL": gateway.base_url, "TFY_LIVE_PROVIDER": "local",
                   "SSL_CERT_FILE": gateway.ca_file, "NO_PROXY": "127.0.0.1,localhost"}
            typed = "".join(f'call add {{"a": {n}, "b": 1}}\n' for n in range(calls))
            started = time.monotonic()
            result = subprocess.run([sys.executable, "-m", "tfy_live", "chat", "--json", "--approve-tools", "all",
                                     "--mcp-config", str(config)], input=typed, capture_output=True, text=True,
                                    env=env, cwd=folder, timeout=60 + calls)
            wall = time.monotonic() - started
        if result.returncode != 0:
            raise SystemExit(f"tfy-live chat failed ({result.returncode}): {result.stderr.strip()}")
    finally:
        thread.stop()
    tool_ms = {e["id"]: e["ms"] for e in map(json.loads, result.stdout.splitlines())
               if e["event"] == "tool" and e["state"] == "done"}
    record = gateway.connections[-1]
    asked = {c["id"]: t for m, t in zip(record.sent, record.sent_at)
             for c in (get(get(m, "toolCall"), "functionCalls") or [])}
    answered = {r["id"]: t for m, t in zip(record.received, record.received_at)
                for r in (get(get(m, "toolResponse", "tool_response"), "functionResponses", "function_responses") or [])}
    overheads = [1000 * (answered[i] - asked[i]) - tool_ms[i] for i in asked if i in answered and i in tool_ms]
    if len(overheads) != calls:
        raise SystemExit(f"only {len(overheads)} of {calls} calls came back")
    return {"calls": calls, "median": percentile(overheads, 50) or 0.0, "p95": percentile(overheads, 95) or 0.0,
            "max": max(overheads), "tool_median": percentile(list(tool_ms.values()), 50) or 0.0, "wall": wall,
            "load": os.getloadavg()[0]}


def row(r: dict[str, float]) -> str:
    verdict = "met" if r["p95"] <= TARGET_P95_MS else "**missed**"
    return (f"| {r['calls']:.0f} | {r['load']:.1f} | {r['median']:.2f} ms | {r['p95']:.2f} ms ({verdict}) "
            f"| {r['max']:.2f} ms | {r['tool_median']:.2f} ms |")


def section(rounds: list[dict[str, float]]) -> str:
    return "\n".join([
        "## Tool round trip overhead (bench/tools.py, `make bench-tools`)",
        "",
        f"Run {time.strftime('%Y-%m-%d')} on {machine()}. `tfy-live chat --json --approve-tools all` against the "
        "local gateway, examples/mcp_clock.py as a stdio MCP server; each typed `call add {…}` is one toolCall. "
        "Overhead: the gateway's toolCall sent → its toolResponse received, minus the MCP call as tfy-live timed "
        "it (so loopback transit both ways is counted against tfy-live).",
        "",
        "The machine is shared: the load average (1 minute, at the round's end) says how busy it was.",
        "",
        "| calls | load average | overhead median | p95 (target ≤ 5 ms) | max | the MCP call itself, median |",
        "|---|---|---|---|---|---|",
        *(row(r) for r in rounds),
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    text = section([run(args.calls) for _ in range(args.rounds)])
    print(text)
    if args.markdown:
        replace_section(args.markdown, text)


if __name__ == "__main__":
    main()
