"""Tools on the openai kinds, end to end: `tfy-live chat` through the unmodified openai SDK over TLS to the local
gateway's realtime echo, with a real MCP server (tests/mcpservers.py over stdio); the gateway records what it got."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.mcpservers import stdio_config
from tests.timing import SECOND
from tfy_live.localgw import GatewayThread

DECLINED = "the user declined to run this tool; do not call it again unless the user asks"


@pytest.fixture
def gateway():
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=float("inf"))
    yield thread.start()
    thread.stop()


def run(gateway: Any, tmp_path: Path, kind: str, *args: str, input: str | None = None) -> Any:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"calc": stdio_config("calc")}}))
    env = clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL=gateway.base_url, SSL_CERT_FILE=str(gateway.ca_file))
    result = tfy_live("chat", "--provider", "rt-acct", "--provider-kind", kind, "--mcp-config", str(config), *args,
                      env=env, input=input, timeout=60 * SECOND)
    assert result.returncode == 0, result.stderr
    return result


def outputs(conn: Any) -> dict[str, Any]:
    """The function_call_output items the gateway received, by call id, their output read as JSON."""
    return {m["item"]["call_id"]: json.loads(m["item"]["output"]) for m in conn.received
            if m["type"] == "conversation.item.create" and m["item"]["type"] == "function_call_output"}


def calls(conn: Any) -> list[dict[str, Any]]:
    """The function_call items the gateway's responses carried."""
    return [m["item"] for m in conn.sent if m["type"] == "response.output_item.done"
            and m["item"]["type"] == "function_call"]


def test_two_calls_in_one_turn_one_run_one_declined_and_one_response_create(gateway, tmp_path):
    typed = 'call add {"a": 2, "b": 3}; call add {"a": 1, "b": 1}\ny\nn\n'
    result = run(gateway, tmp_path, "openai", "--approve-tools", "ask", "--transcript", str(tmp_path / "t.jsonl"),
                 input=typed)
    (conn,) = gateway.connections
    # Declared as the realtime API's function tools, from the server's own schemas.
    declared = {tool["name"]: tool for tool in conn.setup["tools"]}
    assert conn.setup["tool_choice"] == "auto" and set(declared) == {"add", "slow", "meet", "die"}
    assert declared["add"]["type"] == "function" and declared["add"]["parameters"]["required"] == ["a", "b"]
    # Both calls answered by id, the result as the server returned it and the refusal worded for the model;
    # then a single response.create (the model would answer twice otherwise).
    first, second = calls(conn)
    assert outputs(conn) == {first["call_id"]: {"output": {"result": 5.0}}, second["call_id"]: {"error": DECLINED}}
    kinds = [m["type"] if m["type"] != "conversation.item.create" else m["item"]["type"] for m in conn.received]
    assert kinds == ["session.update", "message", "response.create", "function_call_output", "function_call_output",
                     "response.create"]
    # The model heard both, and the user saw each call end to end, in the transcript and the summary too.
    done, declined = 'add returned {"output": {"result": 5.0}}', f'add returned {{"error": "{DECLINED}"}}'
    assert result.stdout.splitlines()[0] in (f"{done}; {declined}.", f"{declined}; {done}.")  # as they ended
    assert 'calc/add {"a": 2, "b": 3} — done in' in result.stderr
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    states: dict[str, list[str]] = {}
    for record in records:
        if record["event"] == "tool":
            states.setdefault(json.dumps(record["args"]), []).append(record["state"])
    assert states == {'{"a": 2, "b": 3}': ["asking", "running", "done"], '{"a": 1, "b": 1}': ["asking", "declined"]}
    assert "2 tool calls (1 done, 1 declined)" in records[-1]["text"]


def test_without_a_terminal_nothing_runs_and_the_model_is_told(gateway, tmp_path):
    result = run(gateway, tmp_path, "azure", "--json", 'call add {"a": 2, "b": 3}')
    (conn,) = gateway.connections
    (call,) = calls(conn)
    assert outputs(conn) == {call["call_id"]: {"error": DECLINED}}
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["state"], e["detail"]) for e in events if e["event"] == "tool"] == [
        ("declined", "not approved by --approve-tools")]
    assert next(e["text"] for e in events if e["event"] == "model") == f'add returned {{"error": "{DECLINED}"}}.'


def test_non_blocking_tools_are_refused_for_the_realtime_kinds_with_one_line():
    result = tfy_live("chat", "--local", "--provider-kind", "openai", "--tool-mode", "non-blocking", "hi",
                      timeout=30 * SECOND)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--tool-mode non-blocking applies to the gemini and vertex provider kinds only" in result.stderr
