"""The tools core with plain objects: config, names, approval, the runner, and the conversation's use of it."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeSession, FakeSink, Lines, RecordingReporter, WaitUntil, msg
from tfy_live import events as ev
from tfy_live.conversation import Conversation
from tfy_live.endrule import EndRule
from tfy_live.errors import ConfigError
from tfy_live.tools.approval import Approval, parse_answer, parse_approval
from tfy_live.tools.catalog import Tool, expose, function_name, parameters, specs
from tfy_live.tools.config import HttpServer, StdioServer, bearer_applies, parse_config, servers
from tfy_live.tools.runner import Activity, Outcome, ToolFailure, ToolRunner, response_of


# -- config ----------------------------------------------------------------------------------------
def test_the_mcp_servers_format_reads_stdio_and_http_servers():
    configs = parse_config(json.dumps({"mcpServers": {
        "clock": {"command": "python3", "args": ["clock.py"], "env": {"TZ": "UTC"}},
        "search": {"url": "https://tfy.example.com/api/llm/mcp-server/s1/server", "headers": {"X-Team": "a"}},
        "off": {"command": "x", "disabled": True},
    }}), "f")
    assert configs == [StdioServer("clock", "python3", ("clock.py",)),
                       HttpServer("search", "https://tfy.example.com/api/llm/mcp-server/s1/server")]
    assert configs[0].env == {"TZ": "UTC"} and configs[1].headers == {"X-Team": "a"}  # type: ignore[union-attr]


@pytest.mark.parametrize("document, says", [
    ("{not json", "is not JSON"),
    ('{"servers": 3}', 'no "mcpServers" object'),
    ('{"mcpServers": {"a": {}}}', 'neither "command"'),
    ('{"mcpServers": {"a": {"command": "x", "url": "http://h"}}}', "keep one"),
    ('{"mcpServers": {"a": {"command": "x", "args": "y"}}}', '"args" must be a list'),
    ('{"mcpServers": {"a": {"url": "ftp://h/x"}}}', "not an http:// or https:// URL"),
    ('{"mcpServers": {"a": {"url": "http://h/sse", "type": "sse"}}}', "SSE transport"),
    ('{"mcpServers": {"a": {"command": "x", "env": {"A": 1}}}}', '"env" must be an object of strings'),
])
def test_a_bad_config_is_one_line_naming_the_fix(document, says):
    with pytest.raises(ConfigError) as raised:
        parse_config(document, "--mcp-config 'm.json'")
    assert says in str(raised.value) and "\n" not in str(raised.value)
    assert str(raised.value).startswith("--mcp-config 'm.json'")


def test_mcp_urls_are_added_after_the_file_under_free_names(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"mcpServers": {"mcp": {"command": "x"}}}')
    configs = servers(path, ["http://127.0.0.1:1/mcp", "http://127.0.0.1:2/mcp"])
    assert [c.name for c in configs] == ["mcp", "mcp2", "mcp3"]
    with pytest.raises(ConfigError, match="cannot read --mcp-config"):
        servers(tmp_path / "missing.json")


@pytest.mark.parametrize("url, key", [
    ("https://gw.example.com/api/llm/mcp-server/1/server", True),
    ("https://GW.example.com:443/other", True),  # the default port, any path, any case of the host
    ("http://gw.example.com/mcp", False),  # another scheme
    ("https://gw.example.com:8443/mcp", False),  # another port
    ("https://gw.example.com.evil.test/mcp", False),
    ("https://evil.test/?u=https://gw.example.com", False),
    ("https://user@gw.example.com.evil.test/mcp", False),
])
def test_the_key_goes_to_the_gateway_origin_only(url, key):
    assert bearer_applies(url, "https://gw.example.com/api/llm") is key
    assert bearer_applies(url, None) is False


# -- names -----------------------------------------------------------------------------------------
def test_names_two_servers_share_are_prefixed_with_the_server():
    tools = expose([Tool("clock", "now"), Tool("web", "search"), Tool("files", "search"), Tool("a b", "x/y")])
    assert [t.exposed for t in tools] == ["now", "web_search", "files_search", "x_y"]
    assert function_name("9lives") == "_9lives" and len(function_name("x" * 100)) == 64
    # Names made alike stay apart.
    assert [t.exposed for t in expose([Tool("s", "a/b"), Tool("s", "a_b")])] == ["a_b", "a_b_2"]


def test_a_declaration_is_always_an_object_schema():
    assert parameters({}) == {"type": "object", "properties": {}}
    schema = {"$schema": "x", "type": "object", "properties": {"a": {"type": "number"}}}
    assert parameters(schema) == {"type": "object", "properties": {"a": {"type": "number"}}}
    spec, = specs(expose([Tool("s", "add", "Add.", schema)]), non_blocking=True)
    assert (spec.name, spec.description, spec.non_blocking) == ("add", "Add.", True)


# -- approval --------------------------------------------------------------------------------------
ADD = Tool("calc", "add", read_only=True, exposed="add")
RM = Tool("files", "rm", exposed="rm")


def test_approval_defaults_to_ask_on_a_terminal_and_none_without_one():
    assert parse_approval(None, interactive=True).decide(RM) == "ask"
    assert parse_approval(None, interactive=False).decide(RM) == "decline"
    assert parse_approval("ask", interactive=False).decide(RM) == "ask"  # asked for: answered on stdin
    assert parse_approval("all", interactive=False).decide(RM) == "run"
    assert parse_approval("none", interactive=True).decide(ADD) == "decline"


def test_read_only_and_names_preapprove_and_leave_the_rest_to_the_terminal():
    policy = parse_approval("read-only", interactive=True)
    assert (policy.decide(ADD), policy.decide(RM)) == ("run", "ask")
    policy = parse_approval("rm", interactive=False)
    assert (policy.decide(ADD), policy.decide(RM)) == ("decline", "run")
    assert parse_approval("files", interactive=False).decide(RM) == "run"  # a server's name: all its tools
    assert parse_approval("read-only,nope", interactive=False).unknown_names([ADD, RM]) == ["nope"]
    with pytest.raises(ConfigError, match="stands alone"):
        parse_approval("all,rm", interactive=True)
    with pytest.raises(ConfigError, match="is empty"):
        parse_approval(" , ", interactive=True)
    assert [parse_answer(a) for a in ("y", " YES ", "n", "a", "always", "maybe")] == ["y", "y", "n", "a", "a", None]


# -- the runner ------------------------------------------------------------------------------------
class Harness:
    """A runner over scripted tools: ``outcomes`` by tool name (an Outcome, an exception, or an Event to wait)."""

    def __init__(self, approval: Approval, answers: list[str] | None = None, **kwargs: Any) -> None:
        self.sent: list[ev.ToolResult] = []
        self.reports: list[tuple[str, str]] = []
        self.calls: list[str] = []
        self.asked: list[str] = []
        self.answers = list(answers or [])
        self.gates: dict[str, asyncio.Event] = {}
        self.outcomes: dict[str, Any] = {"add": Outcome("3", {"result": 3}), "rm": Outcome("gone")}
        self.runner = ToolRunner([ADD, RM], self.invoke, approval, send=self.send, ask=self.ask, report=self.report,
                                 **kwargs)

    async def invoke(self, tool: Tool, args: dict[str, Any]) -> Outcome:
        self.calls.append(tool.exposed)
        if tool.exposed in self.gates:
            await self.gates[tool.exposed].wait()
        outcome = self.outcomes[tool.exposed]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    async def send(self, results: Any) -> None:
        self.sent += results

    async def ask(self, activity: Activity) -> Any:
        self.asked.append(activity.name)
        return self.answers.pop(0)

    def report(self, activity: Activity) -> None:
        self.reports.append((activity.name, activity.state))

    async def settle(self) -> None:
        while self.runner.pending:
            await asyncio.sleep(0)


async def test_each_call_gets_one_result_with_its_id_as_it_finishes():
    h = Harness(parse_approval("all", interactive=False))
    h.gates["rm"] = asyncio.Event()
    h.runner.start([ev.FunctionCall("c1", "rm"), ev.FunctionCall("c2", "add", {"a": 1})])
    await asyncio.sleep(0.01)
    assert [r.id for r in h.sent] == ["c2"]  # add finished while rm still runs: both run at once
    h.gates["rm"].set()
    await h.settle()
    assert [(r.id, r.name, r.response) for r in h.sent] == [
        ("c2", "add", {"output": {"result": 3}}), ("c1", "rm", {"output": "gone"})]
    assert h.runner.counts == {"done": 2}
    assert ("rm", "running") in h.reports and ("rm", "done") in h.reports


async def test_failures_are_error_results_the_model_can_explain():
    h = Harness(parse_approval("all", interactive=False), timeout_s=0.01)
    h.outcomes["add"] = ToolFailure("the MCP server 'calc' failed: Connection closed")
    h.gates["rm"] = asyncio.Event()  # never set: runs into the timeout
    h.runner.start([ev.FunctionCall("c1", "add"), ev.FunctionCall("c2", "rm"), ev.FunctionCall("c3", "nope")])
    await h.settle()
    errors = {r.id: r.response["error"] for r in h.sent}
    assert errors["c1"] == "the MCP server 'calc' failed: Connection closed"
    assert errors["c2"] == "the tool did not answer within 0.01 s"
    assert errors["c3"].startswith("there is no tool named 'nope'; the tools are: add, rm")
    assert response_of(Outcome("bad input", is_error=True)) == {"error": "bad input"}
    assert h.runner.counts == {"failed": 3}


async def test_a_cancelled_call_gets_no_result():
    h = Harness(parse_approval("all", interactive=False))
    h.gates["rm"] = asyncio.Event()
    h.runner.start([ev.FunctionCall("c1", "rm")])
    await asyncio.sleep(0)
    assert h.runner.cancel(["c1", "unknown"]) == ["c1"]
    await h.settle()
    assert h.sent == [] and h.runner.counts == {"cancelled": 1}
    assert h.reports[-1] == ("rm", "cancelled")


async def test_approval_yes_no_and_always():
    h = Harness(parse_approval("ask", interactive=True), answers=["y", "n", "a"])
    for n, name in enumerate(("rm", "rm", "add", "add"), 1):
        h.runner.start([ev.FunctionCall(f"c{n}", name)])
        await h.settle()
    assert h.asked == ["rm", "rm", "add"]  # "a": the second add ran without asking
    assert h.calls == ["rm", "add", "add"]
    assert h.sent[1].response == {"error": "the user declined to run this tool; do not call it again unless the "
                                           "user asks"}
    assert h.runner.counts == {"done": 3, "declined": 1}


async def test_without_a_terminal_nothing_runs_unless_approved_and_results_are_scheduled_when_non_blocking():
    h = Harness(parse_approval(None, interactive=False), scheduling="when_idle")
    h.runner.start([ev.FunctionCall("c1", "rm")])
    await h.settle()
    assert h.calls == [] and h.asked == [] and "declined" in h.sent[0].response["error"]
    assert h.sent[0].scheduling == "when_idle"


@pytest.mark.parametrize("mode, given, sent", [
    ("blocking", "when-idle", None), ("non-blocking", "when-idle", "when_idle"),
    ("non-blocking", "interrupt", "interrupt"), ("non-blocking", "silent", "silent")])
async def test_a_result_carries_the_scheduling_the_user_chose(mode, given, sent):
    from tfy_live.talk import ToolChoice, check_tools

    choice = ToolChoice(mode=mode, scheduling=given)
    check_tools(choice)  # accepted
    h = Harness(parse_approval("all", interactive=False), scheduling=choice.result_scheduling)
    h.runner.start([ev.FunctionCall("c1", "add", {"a": 1})])
    await h.settle()
    assert h.sent[0].scheduling == sent


@pytest.mark.parametrize("mode, given, message", [
    ("blocking", "silent", "--tool-scheduling silent applies to non-blocking calls: add --tool-mode non-blocking"),
    ("non-blocking", "later", "--tool-scheduling must be when-idle, interrupt or silent (got 'later')")])
def test_a_scheduling_that_cannot_apply_is_refused(mode, given, message):
    from tfy_live.errors import ConfigError
    from tfy_live.talk import ToolChoice, check_tools

    with pytest.raises(ConfigError, match=re.escape(message)):
        check_tools(ToolChoice(mode=mode, scheduling=given))


# -- in the conversation -----------------------------------------------------------------------------
def turn(text: str) -> Any:
    return msg(serverContent={"modelTurn": {"parts": [{"text": text}]}, "turnComplete": True})


async def test_a_typed_line_answers_the_question_in_a_text_chat():
    """The keyboard task waits for the reply; the call that asks takes the next line from there."""
    session: FakeSession = FakeSession()
    session.script = [WaitUntil(lambda: "text" in session.sent_kinds()),
                      msg(toolCall={"functionCalls": [{"id": "c1", "name": "rm", "args": {"path": "x"}}]}),
                      WaitUntil(lambda: "tool_response" in session.sent_kinds()), turn("removed")]
    h = Harness(parse_approval("ask", interactive=True))
    reporter = RecordingReporter()
    lines = Lines("remove x", "maybe", "y")
    lines.end()
    conversation = Conversation(session, None, FakeSink(write_delay=0), reporter, lines=lines,
                                rule=EndRule(grace_s=0.0, reply_timeout_s=5), tools=h.runner)
    summary = await conversation.run()
    assert session.sent == [("text", "remove x"), ("tool_response", [("c1", "rm", {"output": "gone"})])]
    assert [args[:2] for args in reporter.args_of("tool")] == [("asking", "rm"), ("running", "rm"), ("done", "rm")]
    assert any("type y" in args[0] for args in reporter.args_of("notice"))  # "maybe" is no answer
    assert summary.tools == {"done": 1}


async def test_the_end_of_input_declines_and_a_cancellation_names_no_running_call():
    session: FakeSession = FakeSession()
    session.script = [WaitUntil(lambda: "text" in session.sent_kinds()),
                      msg(toolCall={"functionCalls": [{"id": "c1", "name": "rm", "args": {}}]}),
                      WaitUntil(lambda: "tool_response" in session.sent_kinds()), ev.ToolCallCancelled(("c9",)),
                      turn("ok")]
    h = Harness(parse_approval("ask", interactive=True))
    lines = Lines("go")
    lines.end()
    conversation = Conversation(session, None, FakeSink(write_delay=0), RecordingReporter(), lines=lines,
                                rule=EndRule(grace_s=0.0, reply_timeout_s=5), tools=h.runner)
    summary = await conversation.run()
    assert session.sent[1][1][0][2]["error"].startswith("the user declined")
    assert summary.tools == {"declined": 1}


async def test_sources_and_code_reach_the_reporter():
    session = FakeSession([WaitUntil(lambda: "text" in session.sent_kinds()), msg(serverContent={
        "modelTurn": {"parts": [{"executableCode": {"code": "print(2+2)", "language": "PYTHON"}},
                                {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "4\n"}},
                                {"text": "Four."}]},
        "groundingMetadata": {"groundingChunks": [{"web": {"uri": "https://a.example/x", "title": "A"}},
                                                  {"web": {"uri": "https://a.example/x", "title": "A"}}]},
        "turnComplete": True})])
    reporter = RecordingReporter()
    lines = Lines("2+2?")
    lines.end()
    conversation = Conversation(session, None, FakeSink(write_delay=0), reporter, lines=lines,
                                rule=EndRule(grace_s=0.0, reply_timeout_s=5))
    await conversation.run()
    assert reporter.args_of("code") == [(ev.CodeRun("print(2+2)", "PYTHON"),), (ev.CodeResult("4\n", "OUTCOME_OK"),)]
    assert reporter.args_of("sources") == [(ev.Sources((ev.Source("A", "https://a.example/x"),)),)]


# -- what the user sees ------------------------------------------------------------------------------
def test_the_live_view_keeps_the_question_in_view_and_prints_each_state(tmp_path):
    import io

    from rich.console import Console

    from tfy_live.timeline import Timeline
    from tfy_live.ui import LiveOutput, TranscriptFile

    console = Console(file=io.StringIO(), force_terminal=True, color_system=None, width=200, height=24)
    output = LiveOutput(console, secrets=["sk-secret-0123456789"])
    transcript = TranscriptFile(tmp_path / "t.md", secrets=["sk-secret-0123456789"])
    activity = Activity("c1", "rm", {"path": "x\x1b[2J", "token": "sk-secret-0123456789"}, "files", "rm", "asking")
    try:
        output.attach(Timeline(started=0.0), None)
        for form in (output, transcript):
            form.tool(activity)
        output.partial()  # a frame of the live view, with the question in it
        activity.state, activity.ms, activity.detail, activity.response = "done", 12.0, "gone", {"output": "gone"}
        for form in (output, transcript):
            form.tool(activity)
            form.sources(ev.Sources((ev.Source("A\x07 page", "https://a.example/x"), ev.Source("Bad", "javascript:x"))))
            form.turn_complete(None)
    finally:
        output.close()
        transcript.close()
    # The live view's own sequences (cursor hidden and shown, a line up, a line erased) are not the server's.
    printed = re.sub(r"\x1b\[(?:\?25[lh]|1A|2K)", "", console.file.getvalue())
    assert "approve › files/rm" in printed  # the question, once: in view, not also scrolled up
    assert "allow it? type y (yes), n (no) or a (always for this tool), then Enter" in printed
    assert not any(line.startswith("tool ›") and "allow it?" in line for line in printed.splitlines())
    assert "tool › files/rm" in printed and "done in 12 ms: gone" in printed
    assert "sources: A\\x07 page <https://a.example/x>; Bad <(not a web address)>" in printed
    written = (tmp_path / "t.md").read_text()
    for text in (printed, written):
        assert "\x1b" not in text and "sk-secret-0123456789" not in text and "***" in text
    assert written.count("tool files/rm") == 1 and '"output": "gone"' in written  # one entry per call


async def test_the_microphone_is_held_back_while_a_call_runs_with_mute_during_tools():
    from tests.fakes import FakeSource

    h = Harness(parse_approval("all", interactive=False))
    h.gates["rm"] = asyncio.Event()
    loud = b"\x40\x1f" * 320
    session = FakeSession([msg(toolCall={"functionCalls": [{"id": "c1", "name": "rm", "args": {}}]}),
                           WaitUntil(lambda: h.runner.pending == 1)])
    source = FakeSource([loud] * 20, interval=0.005, finite=False)
    conversation = Conversation(session, source, FakeSink(write_delay=0), RecordingReporter(), tools=h.runner,
                                mute_during_tools=True)
    task = asyncio.create_task(conversation.run())
    await asyncio.sleep(0.2)
    assert h.runner.pending == 1 and session.sent_kinds().count("audio") <= 1  # what was in flight as it began
    h.gates["rm"].set()
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert "tool_response" in session.sent_kinds()


def test_the_gateway_declares_tools_and_answers_with_scheduling():
    from google.genai import types

    from tfy_live.config import Settings
    from tfy_live.gateway.client import build_config
    from tfy_live.gateway.live import function_response
    from tfy_live.shaping import ModelOptions

    spec = ev.ToolSpec("add", "Add.", {"type": "object", "properties": {"a": {"type": "number"}}}, non_blocking=True)
    config = build_config(Settings(api_key="k", base_url="https://h/api/llm", provider="p"),
                          ModelOptions(tools=(spec,), code_execution=True, google_search=True))
    wire = config.model_dump(mode="json", by_alias=True, exclude_none=True)["tools"]
    assert wire == [{"googleSearch": {}}, {"codeExecution": {}}, {"functionDeclarations": [
        {"name": "add", "description": "Add.", "behavior": "NON_BLOCKING",
         "parametersJsonSchema": {"type": "object", "properties": {"a": {"type": "number"}}}}]}]
    response = function_response(types, ev.ToolResult("c1", "add", {"output": 3}, "when_idle"))
    assert (response.id, response.name, response.response) == ("c1", "add", {"output": 3})
    assert response.scheduling == types.FunctionResponseScheduling.WHEN_IDLE
    assert function_response(types, ev.ToolResult("c2", "add", {"error": "x"})).scheduling is None


def test_without_the_mcp_extra_the_error_is_one_line_with_the_install_command():
    import shlex
    import subprocess
    from importlib import metadata
    import sys

    from tests.cli_run import clean_env

    code = ("import sys; sys.modules['mcp'] = None; sys.argv = ['tfy-live', 'chat', '--local', '--mcp', "
            "'http://127.0.0.1:9/mcp', 'hi']; from tfy_live.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=clean_env())
    assert result.returncode == 2
    # Into the Python that runs tfy-live (the suite's venv), with the extra's versions from tfy-live's metadata.
    (spec,) = [r.split(";")[0].strip() for r in metadata.requires("tfy-live") or [] if 'extra == "mcp"' in r]
    assert result.stderr == ("error: MCP tools need the optional 'mcp' extra, which is not installed: run "
                             f"`{shlex.quote(sys.executable)} -m pip install {shlex.quote(spec)}` "
                             "(or drop --mcp-config/--mcp)\n")


def test_a_stdio_server_whose_python_lacks_mcp_is_told_which_python_has_it(tmp_path):
    # examples/mcp.json says "python3": on PATH that is often not the environment the mcp package is in.
    import sys

    from tfy_live.tools.servers import McpServers

    errlog = (tmp_path / "err").open("w+", encoding="utf-8")
    errlog.write("Traceback (most recent call last):\nModuleNotFoundError: No module named 'mcp'\n")
    why = McpServers._why(StdioServer("clock", "python3", ("clock.py",)), ConnectionError("Connection closed"),
                          errlog)
    assert why.endswith(f"its Python has no mcp package: set \"command\" to one that has it, e.g. "
                        f"{json.dumps(sys.executable)}")
    errlog.close()


def test_a_config_nested_thousands_deep_or_with_a_byte_order_mark(tmp_path):
    from tfy_live.tools.config import load_config

    with pytest.raises(ConfigError, match=r"nests too deeply to be an mcpServers file"):
        parse_config("[" * 100_000, "--mcp-config 'deep.json'")  # json's RecursionError, not a traceback
    marked = tmp_path / "mcp.json"
    marked.write_bytes(b'\xef\xbb\xbf{"mcpServers": {"c": {"command": "clock"}}}')  # as Notepad saves it
    assert [c.name for c in load_config(marked)] == ["c"]


def test_a_malformed_approve_tools_is_refused_before_any_server_starts():
    from tfy_live.talk import ToolChoice, check_tools

    with pytest.raises(ConfigError, match=r"--approve-tools is empty"):
        check_tools(ToolChoice(urls=("http://127.0.0.1:9/mcp",), approve=",,"))
    with pytest.raises(ConfigError, match=r"--approve-tools all stands alone"):
        check_tools(ToolChoice(urls=("http://127.0.0.1:9/mcp",), approve="all,none"))


def test_a_stdio_server_starts_in_the_config_file_s_folder_or_its_cwd_from_there(tmp_path, monkeypatch):
    from tfy_live.tools.config import load_config

    folder = tmp_path / "project"
    (folder / "tools").mkdir(parents=True)
    config = folder / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {
        "plain": {"command": "python3", "args": ["server.py"]},
        "sub": {"command": "python3", "args": ["s.py"], "cwd": "tools"},
        "absolute": {"command": "python3", "cwd": str(tmp_path)},
        "web": {"url": "http://127.0.0.1:9/mcp"}}}))
    monkeypatch.chdir(tmp_path)  # elsewhere: the file is found by a relative path
    plain, sub, absolute, web = load_config(Path("project/mcp.json"))
    assert plain.cwd == str(folder) and sub.cwd == str(folder / "tools") and absolute.cwd == str(tmp_path)
    assert not hasattr(web, "cwd")


def test_the_shipped_example_s_server_is_found_from_any_directory(tmp_path, monkeypatch):
    """examples/mcp.json, as README's Tools section gives it, from a directory that is not the clone."""
    import shutil
    import subprocess
    import sys

    examples = Path(__file__).resolve().parent.parent / "examples"
    config = json.loads((examples / "mcp.json").read_text())
    config["mcpServers"]["clock"]["command"] = sys.executable  # python3 may not be this environment's
    (tmp_path / "mcp.json").write_text(json.dumps(config))
    shutil.copy(examples / "mcp_clock.py", tmp_path / "mcp_clock.py")
    monkeypatch.chdir(tmp_path.parent)
    result = subprocess.run([sys.executable, "-m", "tfy_live", "tools", "--json", "--mcp-config",
                             str(tmp_path / "mcp.json")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert {tool["name"] for tool in json.loads(result.stdout.splitlines()[0])["tools"]} >= {"now", "add", "wait"}


# -- tfy-live tools: what it says when there is nothing to list --------------------------------------------------
def test_tools_with_a_file_that_declares_no_servers_says_so_and_shows_the_shape(tmp_path):
    from tfy_live.tools.view import run_tools

    path = tmp_path / "e2.json"
    path.write_text('{"mcpServers": {"off": {"command": "x", "disabled": true}}}')
    with pytest.raises(ConfigError) as caught:
        asyncio.run(run_tools(servers(path), {}, config_file=path))
    said = str(caught.value)
    assert said.startswith(f"--mcp-config {str(path)!r} declares no servers") and "give --mcp-config" not in said
    shape = said[said.index("e.g. ") + 5:said.index(" (see README")]
    assert parse_config(shape, "the example") == [StdioServer("clock", "python3", ("mcp_clock.py",))]


def test_servers_that_did_not_answer_are_one_line_with_each_reason_and_the_fix():
    from tfy_live.tools.servers import ServerStatus
    from tfy_live.tools.view import not_answered

    again = "tfy-live tools --mcp http://127.0.0.1:9/mcp"
    web = ServerStatus(HttpServer("mcp", "http://127.0.0.1:9/mcp"), error="All connection attempts failed")
    ok = ServerStatus(StdioServer("calc", "python3"))
    assert not_answered([ok], again) is None
    assert not_answered([ok, web], again) == (
        "MCP server 'mcp' (http://127.0.0.1:9/mcp) did not list its tools: All connection attempts failed; "
        f"check that an MCP server runs at that URL, then run `{again}` again")
    gone = ServerStatus(StdioServer("x", "/nonexistent/mcp"),
                        error="cannot start '/nonexistent/mcp': no such program; fix its \"command\" in --mcp-config")
    assert not_answered([gone], again) == (  # its reason names the fix: not said twice
        "MCP server 'x' (/nonexistent/mcp) did not list its tools: cannot start '/nonexistent/mcp': no such program; "
        f"fix its \"command\" in --mcp-config; then run `{again}` again")
    both = not_answered([gone, web], again)
    assert both is not None and both.startswith("2 MCP servers did not list their tools: 'x' (/nonexistent/mcp): ")
    # 'x' names its own fix: the closing one is for 'mcp' alone, not "their" (both) again.
    assert both.endswith("· 'mcp' (http://127.0.0.1:9/mcp): All connection attempts failed; fix the command or "
                         f"URL of 'mcp' in --mcp-config (or --mcp), then run `{again}` again"), both
    web2 = ServerStatus(HttpServer("web2", "http://127.0.0.1:10/mcp"), error="All connection attempts failed")
    assert "; fix their command or URL in --mcp-config (or --mcp)" in (not_answered([web, web2], again) or "")


def test_tools_prints_no_empty_table_when_no_server_answers(capsys):
    from tfy_live.errors import GatewayError
    from tfy_live.tools.view import run_tools

    with pytest.raises(GatewayError) as caught:  # a closed loopback port: refused at once
        asyncio.run(run_tools([HttpServer("mcp", "http://127.0.0.1:9/mcp")], {}, again="tfy-live tools --mcp URL"))
    assert capsys.readouterr() == ("", "")  # no table, and no warning before the error line
    assert str(caught.value).startswith("MCP server 'mcp' (http://127.0.0.1:9/mcp) did not list its tools")
    assert caught.value.exit_code == 3
