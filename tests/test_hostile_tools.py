"""Tools and provider kinds as a demanding user meets them, each row held to ``tests.hostile``.

Bad ``--mcp-config`` files and tool options, options of the other provider family, and MCP
servers that send the key and escape sequences (``tests/hostile_mcp.py``). The mcpServers files
live outside the folder the program runs in (they hold the canary key, for the server to echo);
beyond what ``run_hostile`` checks, no ESC byte reaches standard output, standard error or any
file the run wrote.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from tests import hostile_mcp
from tests.cli_run import CANARY_KEY, clean_env
from tests.hostile import run_hostile

KEY = CANARY_KEY


def config(folder: Path, name: str, servers: dict[str, Any] | None = None, *, text: str | None = None) -> str:
    path = folder / name
    path.write_text(text if text is not None else json.dumps({"mcpServers": servers or {}}), encoding="utf-8")
    return str(path)


def hostile(folder: Path, mode: str = "text") -> str:
    return config(folder, f"hostile-{mode}.json", {"hostile": hostile_mcp.stdio_entry(KEY, mode)})


def one_stderr_line(result: Any, cwd: Path) -> None:
    assert len(result.stderr.splitlines()) == 1, result.stderr  # refused before any server started


def said_hi(result: Any, cwd: Path) -> None:
    assert "You said: hi" in result.stdout


def escapes_shown_as_text(result: Any, cwd: Path) -> None:
    assert r"\x1b[2J\x1b]52;c;ZXZpbA==\x07" in result.stdout + result.stderr


def json_strings_have_no_controls(result: Any, cwd: Path) -> None:
    def strings(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [s for k, v in value.items() for s in (k, *strings(v))]
        if isinstance(value, list):
            return [s for item in value for s in strings(item)]
        return [value] if isinstance(value, str) else []

    records = [json.loads(line) for line in result.stdout.splitlines()]
    records += [json.loads(line) for path in cwd.glob("*.jsonl") for line in path.read_text().splitlines()]
    found = [s for record in records for s in strings(record)]
    assert found and not [s for s in found if "\x1b" in s or "\x07" in s]  # what `jq -r` would print
    assert any("***" in s for s in found)


def tool_result_masked(result: Any, cwd: Path) -> None:
    json_strings_have_no_controls(result, cwd)
    done = [json.loads(line) for line in result.stdout.splitlines() if '"event": "tool"' in line][-1]
    assert done["state"] == "done" and "***" in done["response"]["output"]  # the key as an object's key


def error_in_transcript(result: Any, cwd: Path) -> None:
    text = (cwd / "t.md").read_text()
    assert "failed" in text and "boom ***" in text


@dataclass
class Row:
    id: str
    args: Callable[[Path, str], list[str]]  # (folder of the mcpServers files, an HTTP MCP URL) -> arguments
    code: int
    message: str = ""
    check: Callable[[Any, Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


ROWS = [
    Row("--mcp-config nested thousands deep",
        lambda d, u: ["chat", "--local", "--mcp-config", config(d, "deep.json", text="[" * 100_000), "hi"], 2,
        r"nests too deeply to be an mcpServers file"),
    Row("--mcp-config with a byte order mark",
        lambda d, u: ["chat", "--local", "--mcp-config", config(d, "bom.json", text='\ufeff{"mcpServers": {}}'),
                      "hi"], 0, check=said_hi),
    Row("tools: a command that does not exist",
        lambda d, u: ["tools", "--mcp-config", config(d, "none.json", {"x": {"command": "/nonexistent/mcp"}})], 3,
        r"MCP server 'x' \(/nonexistent/mcp\) did not list its tools: cannot start '/nonexistent/mcp': no such "
        r"program; fix .* `tfy-live tools --mcp-config \S+none\.json` again", check=one_stderr_line),
    Row("tools: a server that exits at once",
        lambda d, u: ["tools", "--mcp-config", config(d, "exits.json", {"x": {"command": "true"}})], 3,
        r"MCP server 'x' \(true\) did not list its tools: .*; fix its \"command\" in --mcp-config",
        check=one_stderr_line),
    Row("--approve-tools empty, refused before a server starts",
        lambda d, u: ["chat", "--local", "--mcp-config", config(d, "none.json", {"x": {"command": "/nonexistent/mcp"}}),
                      "--approve-tools", ",,", "hi"], 2,
        r"--approve-tools is empty", check=one_stderr_line),
    Row("--tool-timeout 0",
        lambda d, u: ["chat", "--local", "--mcp-config", hostile(d), "--tool-timeout", "0", "hi"], 2,
        r"--tool-timeout"),
    Row("--code-execution with the openai kind",
        lambda d, u: ["chat", "--local", "--provider-kind", "openai", "--code-execution", "hi"], 2,
        r"--code-execution applies to the gemini and vertex provider kinds only \(this is openai\)"),
    Row("--eagerness with the vertex kind names the kind, not --turn-detection",
        lambda d, u: ["talk", "--local", "--provider-kind", "vertex", "--eagerness", "low"], 2,
        r"--eagerness applies to the openai and azure provider kinds only \(this is vertex\)"),
    Row("tools: a server's names, descriptions and standard error carry the key and escapes",
        lambda d, u: ["tools", "--mcp-config", hostile(d)], 0, check=escapes_shown_as_text),
    Row("tools --json: the same, no escape left for a JSON reader to decode",
        lambda d, u: ["tools", "--json", "--mcp-config", hostile(d)], 0, check=json_strings_have_no_controls),
    Row("tools: an HTTP server sends escapes in an SSE event and a message that is not JSON",
        lambda d, u: ["tools", "--mcp", u], 3, r"MCP server 'mcp' \(\S+\) did not list its tools"),
    Row("chat --json and .jsonl: a tool result carries the key as a value, a name and in base64",
        lambda d, u: ["chat", "--local", "--json", "--approve-tools", "all", "--transcript", "t.jsonl",
                      "--mcp-config", hostile(d, "structured"), "call leak {}"], 0, check=tool_result_masked),
    Row("chat: a tool's error carries the key and escapes, transcript .md",
        lambda d, u: ["chat", "--local", "--approve-tools", "all", "--transcript", "t.md",
                      "--mcp-config", hostile(d, "error"), "call leak {}"], 0, check=error_in_transcript),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_tools_and_kinds_get_one_line_and_show_nothing_they_should_not(tmp_path: Path, row: Row):
    folder, cwd = tmp_path / "configs", tmp_path / "work"
    folder.mkdir()
    cwd.mkdir()
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(hostile_mcp.sse_server()) if "--mcp" in row.args(folder, "URL") else ""
        result = run_hostile(row.args(folder, url), code=row.code, message=row.message, timeout=30,
                             env=clean_env(TFY_API_KEY=KEY, **row.env), cwd=cwd)
    for path in [p for p in cwd.rglob("*") if p.is_file()]:
        assert b"\x1b" not in path.read_bytes(), path
    assert "\x1b" not in result.stdout + result.stderr
    if row.check is not None:
        row.check(result, cwd)
