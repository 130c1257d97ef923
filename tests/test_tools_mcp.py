"""Real MCP servers (tests/mcpservers.py, written with the mcp SDK) through the edge, the runner and the CLI."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.mcpservers import HttpServer, stdio_config
from tests.timing import SECOND
from tfy_live import events as ev
from tfy_live.tools.approval import parse_approval
from tfy_live.tools.config import HttpServer as HttpConfig
from tfy_live.tools.config import StdioServer
from tfy_live.tools.runner import ToolRunner
from tfy_live.tools.servers import McpServers


def stdio(name: str = "test", env: dict[str, str] | None = None) -> StdioServer:
    entry = stdio_config(name)
    return StdioServer(name, entry["command"], tuple(entry["args"]), env or {})


def runner_for(servers: McpServers, sent: list[ev.ToolResult], **kwargs: Any) -> ToolRunner:
    async def send(results: Any) -> None:
        sent.extend(results)

    return ToolRunner(servers.tools, servers.call, parse_approval("all", interactive=False), send=send, **kwargs)


async def settle(runner: ToolRunner) -> None:
    async with asyncio.timeout(20 * SECOND):
        while runner.pending:
            await asyncio.sleep(0.01)


async def test_stdio_calls_run_at_once_time_out_and_are_cancelled_on_the_server(tmp_path):
    marks = tmp_path / "marks"
    sent: list[ev.ToolResult] = []
    # The server notes each call it saw cancelled (the config's "env" reaches it).
    async with McpServers([stdio(env={"MCP_MARKS": str(marks)})]) as servers:
        assert [t.exposed for t in servers.tools] == ["add", "slow", "meet", "die"]
        assert servers.tools[0].read_only and not servers.tools[1].read_only
        runner = runner_for(servers, sent, timeout_s=1.0 * SECOND)
        # Two calls that can only return when both are inside the server at once.
        runner.start([ev.FunctionCall("m1", "meet", {"n": 2, "tag": "a"}),
                      ev.FunctionCall("m2", "meet", {"n": 2, "tag": "b"}),
                      ev.FunctionCall("s1", "slow", {"seconds": 60, "tag": "timeout"}),
                      ev.FunctionCall("s2", "slow", {"seconds": 60, "tag": "cancel"})])
        await asyncio.sleep(0.2)
        assert runner.cancel(["s2"]) == ["s2"]
        await settle(runner)
        by_id = {r.id: r.response for r in sent}
        assert by_id["m1"] == {"output": {"result": "met a"}} and by_id["m2"] == {"output": {"result": "met b"}}
        assert by_id["s1"] == {"error": f"the tool did not answer within {1.0 * SECOND:g} s"}
        assert "s2" not in by_id  # cancelled: no response
        sent.clear()
        runner.start([ev.FunctionCall("a1", "add", {"a": 2, "b": 3})])  # the server is still fine
        await settle(runner)
        assert sent[0].response == {"output": {"result": 5.0}}
        for _ in range(100):
            if marks.exists() and len(marks.read_text().splitlines()) == 2:
                break
            await asyncio.sleep(0.02)
    assert sorted(marks.read_text().splitlines()) == ["cancelled cancel", "cancelled timeout"]


async def test_a_server_that_dies_mid_call_is_an_error_result_not_a_hang():
    sent: list[ev.ToolResult] = []
    async with McpServers([stdio()]) as servers:
        runner = runner_for(servers, sent, timeout_s=30 * SECOND)
        runner.start([ev.FunctionCall("d1", "die")])
        await settle(runner)
        assert sent[0].response["error"].startswith("the MCP server 'test' failed")
        sent.clear()
        runner.start([ev.FunctionCall("a1", "add", {"a": 1, "b": 1})])
        await settle(runner)
        assert sent[0].response["error"].startswith("the MCP server 'test'")  # gone: every later call says so


async def test_a_dead_server_is_a_warning_and_names_collide_into_prefixes(tmp_path):
    configs = [stdio("one"), stdio("two"), StdioServer("gone", str(tmp_path / "no-such-program")),
               HttpConfig("closed", "http://127.0.0.1:9/mcp")]
    async with McpServers(configs, list_timeout_s=20 * SECOND) as servers:
        names = [t.exposed for t in servers.tools]
        assert names == ["one_add", "one_slow", "one_meet", "one_die", "two_add", "two_slow", "two_meet", "two_die"]
        assert len(servers.warnings) == 2
        assert "cannot start" in servers.warnings[0] and "no such program" in servers.warnings[0]
        assert servers.warnings[1].startswith("MCP server 'closed' (http://127.0.0.1:9/mcp) is left out")


@pytest.fixture(scope="module")
def tls() -> tuple[trustme.LeafCert, ssl.SSLContext]:
    ca = trustme.CA()
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return ca.issue_cert("127.0.0.1"), context


async def test_the_key_goes_to_a_same_origin_mcp_url_and_not_to_another_origin(tls):
    certificate, context = tls
    with HttpServer(certificate=certificate).running() as same, HttpServer().running() as other, \
            HttpServer(certificate=certificate, redirect_to=other.url).running() as redirecting:
        # The gateway's origin is the same scheme, host and port as the same-origin server's.
        base_url = f"https://127.0.0.1:{same.port}/api/llm"
        configs = [HttpConfig("same", same.url), HttpConfig("other", other.url)]
        async with McpServers(configs, base_url=base_url, api_key=CANARY_KEY, context=context) as servers:
            add = next(t for t in servers.tools if t.exposed == "same_add")
            assert (await servers.call(add, {"a": 1, "b": 2})).structured == {"result": 3.0}
        assert same.authorizations and set(same.authorizations) == {f"Bearer {CANARY_KEY}"}
        assert other.authorizations and set(other.authorizations) == {None}
        # A redirect from the gateway's origin to another: the other origin never sees the key.
        redirected = f"https://127.0.0.1:{redirecting.port}/api/llm"
        async with McpServers([HttpConfig("r", redirecting.url)], base_url=redirected, api_key=CANARY_KEY,
                              context=context) as servers:
            assert servers.tools == [] and len(servers.warnings) == 1
        assert set(redirecting.authorizations) == {f"Bearer {CANARY_KEY}"}
        assert set(other.authorizations) == {None}


# -- through the product: `tfy-live chat --local` ----------------------------------------------------
def config_file(tmp_path: Path, **servers: Any) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def test_chat_asks_y_n_always_and_the_result_reaches_the_model(tmp_path):
    path = config_file(tmp_path, calc=stdio_config("calc"))
    typed = "\n".join([
        'call add {"a": 2, "b": 3}', "y",
        'call add {"a": 1, "b": 1}', "n",
        'call add {"a": 4, "b": 4}', "a",
        'call add {"a": 5, "b": 5}',  # always: no question
    ]) + "\n"
    result = tfy_live("chat", "--local", "--mcp-config", str(path), "--approve-tools", "ask", "--transcript",
                      str(tmp_path / "t.jsonl"), input=typed, timeout=60 * SECOND)
    assert result.returncode == 0, result.stderr
    answers = result.stdout.splitlines()
    assert answers[0] == 'add returned {"output": {"result": 5.0}}.'
    assert answers[1].startswith('add returned {"error": "the user declined to run this tool')
    assert answers[2:] == ['add returned {"output": {"result": 8.0}}.', 'add returned {"output": {"result": 10.0}}.']
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    tools = [r for r in records if r["event"] == "tool"]
    assert [t["state"] for t in tools] == ["asking", "running", "done", "asking", "declined", "asking", "running",
                                           "done", "running", "done"]
    assert tools[2]["args"] == {"a": 2, "b": 3} and tools[2]["response"] == {"output": {"result": 5.0}}
    assert "4 tool calls (3 done, 1 declined)" in records[-1]["text"]


def test_without_a_terminal_nothing_runs_and_a_dead_server_does_not_stop_the_start(tmp_path):
    path = config_file(tmp_path, calc=stdio_config("calc"), gone={"command": str(tmp_path / "missing")})
    result = tfy_live("chat", "--local", "--mcp-config", str(path), "--json", 'call add {"a": 2, "b": 3}',
                      timeout=60 * SECOND)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    notices = [e["text"] for e in events if e["event"] == "notice"]
    assert len(notices) == 1 and notices[0].startswith("MCP server 'gone'")
    assert [e["state"] for e in events if e["event"] == "tool"] == ["declined"]
    model = next(e["text"] for e in events if e["event"] == "model")
    assert "the user declined to run this tool" in model


def test_a_bad_config_is_exit_2_with_one_line(tmp_path):
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"x": {"args": []}}}')
    result = tfy_live("chat", "--local", "--mcp-config", str(path), "hi", timeout=30 * SECOND,
                      env=clean_env(TFY_LIVE_APPROVE_TOOLS="all"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and 'neither "command"' in result.stderr


def test_tools_lists_every_server_and_exits_3_when_one_does_not_answer(tmp_path):
    path = config_file(tmp_path, calc=stdio_config("calc"), gone={"url": "http://127.0.0.1:9/mcp"})
    result = tfy_live("tools", "--mcp-config", str(path), "--json", timeout=30 * SECOND)
    assert result.returncode == 3
    calc, gone = (json.loads(line) for line in result.stdout.splitlines())
    assert [t["name"] for t in calc["tools"]] == ["add", "slow", "meet", "die"] and calc["tools"][0]["read_only"]
    assert calc["tools"][0]["parameters"]["required"] == ["a", "b"]
    assert gone["tools"] == [] and gone["error"]
    assert result.stderr.splitlines() == [  # one line, and --json's output stays JSON lines
        "error: MCP server 'gone' (http://127.0.0.1:9/mcp) did not list its tools: All connection attempts failed; "
        f"check that an MCP server runs at that URL, then run `tfy-live tools --mcp-config {path}` again"]


async def test_doctor_checks_each_server():
    from tfy_live.doctor import Doctor, run_checks

    doctor = Doctor({}, {}, audio=False, need_target=False,
                    mcp_servers=[stdio("calc"), HttpConfig("gone", "http://127.0.0.1:9/mcp")])
    checks = [c for c in doctor.checks() if c.name == "settings" or c.name.startswith("MCP")]
    results = await run_checks(checks)
    assert [(r.name, r.outcome) for r in results[1:]] == [("MCP server 'calc' lists its tools", "pass"),
                                                           ("MCP server 'gone' lists its tools", "fail")]
    assert results[1].detail == "4 tools: add, slow, meet, die" and results[2].exit_code == 3
