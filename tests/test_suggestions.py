"""Every suggestion the program prints is a command that works: its options exist where it names them.

The parser is the judge: each suggested command line is parsed by the CLI's own Click
commands (what ``tfy-live`` itself would accept), and each option an error line or a
check names is looked up among the options of the command that printed it.
"""

from __future__ import annotations

import ast
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

import tfy_live
from tests.alsa import no_sound_card
from tests.cli_run import clean_env, tfy_live as run_tfy_live
from tfy_live.cli import app

SOURCES = sorted(Path(tfy_live.__file__).parent.rglob("*.py"))
GROUP = typer.main.get_command(app)
COMMANDS = GROUP.commands  # type: ignore[attr-defined]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9](?![\w*-])")  # not --vad-* (a family of options)
# Flags of other programs that messages may quote: keep this list short and explained.
FOREIGN_FLAGS: set[str] = {"--python"}  # `uv pip install --python …` (extras.py): an extra for a uv tool's Python


def options_of(command: str) -> set[str]:
    params = COMMANDS[command].params
    return {opt for p in params for opt in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}


ALL_OPTIONS = set().union(*(options_of(name) for name in COMMANDS)) | {"--version"}


def literals() -> list[tuple[str, str]]:
    """Every string the source holds (f-strings with their fields as ``{}``), with where it is."""
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            else:
                continue
            found.append((f"{path.name}:{node.lineno}", text))
    return found


def suggested_commands(text: str) -> list[str]:
    """`tfy-live …` in backquotes, up to a placeholder for the rest (…) or a pipe."""
    commands = []
    for quoted in re.findall(r"`(tfy-live[^`]*)`", text):
        line = re.split(r"\s(?:…|\\?\|)", quoted)[0]
        commands.append(line.replace("{}", "x"))
    return commands


def parses(line: str) -> None:
    """Parse ``line`` as tfy-live would, down to the command's own options (a UsageError if one is unknown)."""
    args = shlex.split(line)[1:]
    command, name = (COMMANDS[args[0]], args.pop(0)) if args and args[0] in COMMANDS else (GROUP, "tfy-live")
    try:
        command.make_context(name, args, resilient_parsing=False).close()
    except typer.Exit as done:  # --help and --version print and exit
        assert done.exit_code == 0, line


def test_every_option_a_message_names_exists():
    unknown = [(where, flag) for where, text in literals() for flag in FLAG.findall(text)
               if flag not in ALL_OPTIONS | FOREIGN_FLAGS]
    assert not unknown


def test_every_command_line_the_source_suggests_parses():
    lines = {(where, line) for where, text in literals() for line in suggested_commands(text)}
    assert len(lines) >= 10  # the finder finds them
    for where, line in sorted(lines):
        try:
            parses(line)
        except Exception as exc:  # noqa: BLE001 - reported with where the line is
            pytest.fail(f"{where}: `{line}` does not parse: {exc}")


def test_the_parse_check_fails_on_an_option_a_command_does_not_take():
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")  # Typer's click

    parses("tfy-live doctor --no-audio")
    with pytest.raises(usage_error):
        parses("tfy-live doctor --input-file in.wav")  # what doctor once suggested on a headless machine


def test_doctor_on_a_machine_without_a_sound_card_passes_and_names_only_its_own_options(tmp_path):
    env = clean_env(ALSA_CONFIG_PATH=str(no_sound_card(tmp_path)))
    result = run_tfy_live("doctor", "--local", env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert out.count("skipped") >= 2 and "--no-audio" in out and "all checks passed, 2 skipped" in out
    flags = set(FLAG.findall(out))
    assert flags and flags <= options_of("doctor") | options_of("talk"), flags
    # Skipped lines name talk's file options as talk's; doctor's own suggestion is --no-audio.
    for line in out.splitlines():
        for flag in FLAG.findall(line):
            assert flag in options_of("doctor") or f"talk {flag}" in line, line

    named = run_tfy_live("doctor", "--local", "--input-device", "usb", env=env)
    assert named.returncode == 4, named.stdout + named.stderr
    failing = [line for line in named.stdout.splitlines() if "fail" in line]
    assert failing and all(set(FLAG.findall(line)) <= options_of("doctor") for line in failing), failing
    assert "--no-audio" in failing[0]


def test_tools_names_the_command_line_that_lists_the_same_servers():
    # "run `tfy-live tools` again" without the servers would only say there are none to list.
    from tfy_live.tools.view import tools_command

    line = tools_command(Path("my servers.json"), ["https://h.example/mcp?a=1&b=2"])
    parses(line)
    assert shlex.split(line) == ["tfy-live", "tools", "--mcp-config", "my servers.json",
                                 "--mcp", "https://h.example/mcp?a=1&b=2"]


def test_a_tool_name_no_server_offers_points_at_a_listing_that_works(tmp_path):
    config = tmp_path / "none.json"
    config.write_text('{"mcpServers": {}}')
    result = run_tfy_live("chat", "--local", "--mcp-config", str(config), "--mcp", "http://127.0.0.1:9/mcp",
                          "--approve-tools", "nosuch", "hi", env=clean_env())
    assert result.returncode == 0, result.stderr
    notice = next(line for line in result.stderr.splitlines() if "which no server offers" in line)
    (line,) = suggested_commands(notice)
    parses(line)
    assert shlex.split(line)[2:] == ["--mcp-config", str(config), "--mcp", "http://127.0.0.1:9/mcp"]


def test_the_local_gateways_try_line_runs_as_printed_on_a_machine_without_a_sound_card(tmp_path):
    # `talk` would stop at once with exit 4 here: the line must be one that works without devices.
    env = clean_env(ALSA_CONFIG_PATH=str(no_sound_card(tmp_path)))
    server = subprocess.Popen([sys.executable, "-m", "tfy_live", "local-gateway", "--port", "0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        printed = []
        for line in server.stdout:
            if "Ctrl-C to stop" in line:
                break
            printed.append(line)
        text = "".join(printed)
        words = shlex.split(text[text.index("Try:") + 4:].replace("\\\n", " "))
        assignments = dict(word.split("=", 1) for word in words[:3])
        assert sorted(assignments) == ["SSL_CERT_FILE", "TFY_API_KEY", "TFY_BASE_URL"], text
        command = words[3:]
        parses(shlex.join(command))
        result = run_tfy_live(*command[1:], env={**env, **assignments})
        assert result.returncode == 0, result.stdout + result.stderr
        assert "hello" in result.stdout.lower() and not result.stderr.strip(), result.stdout + result.stderr
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    assert server.returncode == 130 and "Traceback" not in server.stderr.read()


@pytest.mark.parametrize("kind", ["gemini", "vertex", "openai"])
@pytest.mark.parametrize("devices", [True, False])
def test_the_try_line_talks_where_there_are_devices_and_chats_where_there_are_none(kind, devices):
    from tfy_live.talk import try_command

    line = try_command("https://127.0.0.1:8443/api/llm", "/tmp/a folder/ca.pem", kind=kind, devices=devices)
    words = shlex.split(line.replace("\\\n", " "))
    assert words[2] == "SSL_CERT_FILE=/tmp/a folder/ca.pem"
    parses(shlex.join(words[3:]))
    assert words[4] == ("talk" if devices else "chat")
    assert ("--provider-kind" in words) == (kind != "gemini")


def test_no_input_and_no_output_device_is_one_line_naming_both_file_options(tmp_path):
    env = clean_env(ALSA_CONFIG_PATH=str(no_sound_card(tmp_path)), TFY_API_KEY="x",
                    TFY_BASE_URL="https://127.0.0.1:9/api/llm")  # refused before any connection
    result = run_tfy_live("talk", "--provider", "acct", env=env)
    assert result.returncode == 4, result.stderr
    (line,) = result.stderr.splitlines()
    assert "no audio input or output device found" in line
    assert {"--input-file", "--output-file"} <= set(FLAG.findall(line)) <= options_of("talk"), line
    output = tmp_path / "reply.wav"
    only_output = run_tfy_live("talk", "--provider", "acct", "--output-file", str(output), env=env)
    assert only_output.returncode == 4 and "no audio input device found" in only_output.stderr, only_output.stderr
    assert not output.exists()
