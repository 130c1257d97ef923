"""The edges of a run that are no command's: start-up, closed streams, Ctrl-C at any moment, option values
click lets through. Each error is one line and a documented exit code (README "Exit codes")."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import typer

from tests.cli_run import clean_env, tfy_live
from tests.timing import SECOND
from tfy_live.cli import CLOSED_PIPE, app

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello.wav"


# -- float options: nan and ±inf are usage errors ----------------------------------------------------------------

def _float_options() -> list[tuple[str, typer.core.TyperCommand, typer.core.TyperOption]]:
    group = typer.main.get_command(app)
    return [(name, command, param) for name, command in group.commands.items()  # type: ignore[attr-defined]
            for param in command.params if any(c.__name__ == "FloatParamType" for c in type(param.type).__mro__)]


def test_the_walk_finds_the_float_options():
    found = {(name, param.name) for name, _, param in _float_options()}
    assert {("chat", "reply_timeout"), ("talk", "tool_timeout"), ("local-gateway", "reply_speed"),
            ("doctor", "setup_timeout"), ("talk", "temperature")} <= found


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_every_float_option_refuses_what_is_not_a_finite_number_by_flag_and_by_variable(value, monkeypatch):
    """Every command's float options, so that an option added later cannot miss the check."""
    for name, command, param in _float_options():
        low = getattr(param.type, "min", None)
        command.make_context(name, [param.opts[0], str(low if low is not None else 0.5)])  # a good value passes
        sources = [[param.opts[0], value]]
        if param.envvar:
            monkeypatch.setenv(param.envvar, value)
            sources.append([])
        for args in sources:
            with pytest.raises(typer.BadParameter) as refused:
                command.make_context(name, args)
            message = refused.value.format_message()
            assert param.opts[0] in message and value.lower() in message.lower(), (name, message)
            if "is not in the range" not in message:  # click's own range check (-inf against a minimum)
                assert "is not a finite number; use " in message, (name, message)
                assert "a finite number" not in message.split("; use ")[1], f"{name} {param.opts[0]}: say its range"
        if param.envvar:
            monkeypatch.delenv(param.envvar)


@pytest.mark.parametrize("args, env, names", [
    (["chat", "--provider", "acct", "--reply-timeout", "nan", "hi"], {}, "'--reply-timeout'"),
    (["chat", "--provider", "acct", "hi"], {"TFY_LIVE_TOOL_TIMEOUT": "nan"}, "TFY_LIVE_TOOL_TIMEOUT"),
    (["local-gateway", "--port", "0", "--reply-speed", "nan"], {}, "'--reply-speed'"),
])
def test_a_nan_option_is_one_line_and_exit_2(args, env, names):
    # Before: a traceback from the event loop (exit 1), or a gateway that started and answered nonsense.
    result = tfy_live(*args, env=clean_env(**env), timeout=20 * SECOND)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert names in lines[0] and "nan is not a finite number; use " in lines[0] and "or more" in lines[0]


# -- no arguments -----------------------------------------------------------------------------------------------

def test_no_arguments_print_the_help_and_no_empty_error():
    result = tfy_live()
    assert result.returncode == 2
    assert "talk" in result.stdout and "--help" in result.stdout
    assert result.stderr.strip() == ""


# -- standard output closed by its reader ------------------------------------------------------------------------

def _run_into_closing_pipe(args: list[str], *, after_first_line: bool) -> subprocess.CompletedProcess[str]:
    """``tfy-live ARGS | head -1`` when the reader reads one line first (through a pipe too small to hold the
    rest), else ``| true`` that is gone before anything is written."""
    read_end, write_end = os.pipe()
    reader = None
    if after_first_line:
        fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ: the least a pipe holds, a page

        def head() -> None:
            while os.read(read_end, 1) not in (b"\n", b""):
                pass
            os.close(read_end)

        reader = threading.Thread(target=head, daemon=True)
        reader.start()
    else:
        os.close(read_end)
    try:
        return tfy_live(*args, stdout=write_end, timeout=30 * SECOND)
    finally:
        os.close(write_end)
        if reader is not None:
            reader.join()


@pytest.mark.parametrize("args, after_first_line", [
    (["--help"], False),
    (["talk", "--help"], True),
    (["doctor", "--local", "--no-audio"], False),
    (["local-gateway", "--port", "0"], False),
])
def test_a_closed_standard_output_is_one_line_and_141(args, after_first_line):
    # Before: rich's and click's own answer, exit 1 and not a word (README: 1 is an internal error).
    result = _run_into_closing_pipe(args, after_first_line=after_first_line)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 141, result.stderr
    assert lines == [f"error: {CLOSED_PIPE}"], result.stderr


# -- Ctrl-C from the first moment -------------------------------------------------------------------------------

def _python_handles_sigint(pid: int) -> None:
    """Wait until the interpreter has its SIGINT handler (/proc: "SigCgt"), set before it runs any of our code:
    a signal before that kills it by the default action, which no code of ours can change."""
    deadline = time.monotonic() + 10 * SECOND
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
        if int(caught, 16) & (1 << (signal.SIGINT - 1)):
            return
        time.sleep(0.001)
    raise AssertionError("the interpreter never took SIGINT over")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("args, delay", [
    (["local-gateway", "--port", "0"], 0.02), (["local-gateway", "--port", "0"], 0.05),
    (["local-gateway", "--port", "0"], 0.1), (["local-gateway", "--port", "0"], 0.2),
    (["chat", "--local"], 0.05), (["chat", "--local"], 0.15),
])
def test_ctrl_c_at_any_moment_is_one_line_and_130(args, delay, tmp_path):
    """Whatever the process is doing then (importing Typer, a command's lazy imports, starting the gateway,
    waiting for a line), the outcome is the same. Before: a KeyboardInterrupt traceback while importing."""
    # A plain process, not the test zygote's fork: the modules must still be importing. chat waits on its
    # standard input, which stays open; the gateway serves until stopped.
    process = subprocess.Popen([sys.executable, "-m", "tfy_live", *args], env=clean_env(), cwd=tmp_path,
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _python_handles_sigint(process.pid)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30 * SECOND)
    finally:
        process.kill()
        process.wait()
    lines = [line for line in stderr.splitlines() if line.strip()]
    ours = [(path, where) for path, where in re.findall(r'File "([^"]+)", line \d+, in (\S+)', stderr)
            if "tfy_live" in path]
    if "Traceback" in stderr and all(where == "<module>" and path.endswith(("__main__.py", "entry.py"))
                                     for path, where in ours):
        # It landed before any code of ours could catch it (site, runpy, the line importing tfy_live.entry: on a
        # loaded machine that outlasts the shortest delay): a limit, stated in README. Python ends the program
        # by the signal, or with 1 when it was importing runpy itself.
        assert process.returncode in (-signal.SIGINT, 1), stderr
        return
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and lines[-1:] == ["stopped"], stderr


# The signal is sent from inside the import of tfy_live.cli, the window before cli.main takes the signals over.
_SIGNAL_WHILE_IMPORTING = """
import builtins, os, signal, sys
import tfy_live.entry
real_import = builtins.__import__
def importing(name, *args, **kwargs):
    if name == "tfy_live.cli":
        os.kill(os.getpid(), signal.{name})
    return real_import(name, *args, **kwargs)
builtins.__import__ = importing
sys.argv = ["tfy-live", "--version"]
tfy_live.entry.main()
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_while_the_modules_load_are_one_line_and_their_code(name):
    """README "Exit codes": 143 or 129 and the line `stopped`, at any moment from the start. Before: death by
    the signal's default action while cli was imported, without a word."""
    result = subprocess.run([sys.executable, "-c", _SIGNAL_WHILE_IMPORTING.format(name=name)], env=clean_env(),
                            capture_output=True, text=True, timeout=30 * SECOND)
    signum = getattr(signal, name)
    assert result.returncode == 128 + signum, (result.returncode, result.stderr)
    assert result.stderr.splitlines() == [f"stopped ({name})"], result.stderr


def test_a_signal_the_caller_ignores_stays_ignored_while_the_modules_load():
    """nohup: SIGHUP ignored by the caller is not made to stop the program by entry."""
    result = subprocess.run([sys.executable, "-c", _SIGNAL_WHILE_IMPORTING.format(name="SIGHUP")], env=clean_env(),
                            capture_output=True, text=True, timeout=30 * SECOND,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    assert result.returncode == 0 and "stopped" not in result.stderr, (result.returncode, result.stderr)


def test_the_console_script_starts_in_the_module_that_catches_ctrl_c():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["tfy-live"] == "tfy_live.entry:main"
    assert (ROOT / "src" / "tfy_live" / "__main__.py").read_text().startswith("from tfy_live.entry import main\n")


def test_the_entry_module_imports_nothing_the_interpreter_has_not():
    code = "import sys; before = set(sys.modules); import tfy_live.entry; print(sorted(set(sys.modules) - before))"
    out = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['tfy_live', 'tfy_live.entry']"


# -- closed standard streams -------------------------------------------------------------------------------------

def _with_closed(fd: int, args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``tfy-live ARGS <&-`` (fd 0), ``>&-`` (1) or ``2>&-`` (2), the others captured."""
    return subprocess.run(
        [sys.executable, "-m", "tfy_live", *args], env=clean_env(**env), cwd=tmp_path, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SECOND,
        preexec_fn=lambda: os.close(fd))  # after the redirections: the descriptor is closed when tfy-live starts


@pytest.mark.parametrize("fd", [0, 1, 2])
def test_chat_with_a_closed_standard_stream_answers_and_exits_0(fd, tmp_path):
    # Before: uvloop gave a socket descriptor 0-2 and aborted closing it (exit 134).
    result = _with_closed(fd, ["chat", "--local", "hello"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Assertion" not in result.stderr
    if fd != 1:
        assert "You said: hello" in result.stdout


@pytest.mark.parametrize("fd, args", [
    (0, ["chat", "--local"]),  # lines from standard input: none
    (1, ["talk", "--local", "--input-file", str(HELLO), "--output-file", "o.wav"]),
])
def test_a_closed_standard_stream_on_the_asyncio_loop(fd, args, tmp_path):
    # Before: Python's sys.stdin or sys.stdout was None, and talk's terminal checks failed on it (exit 1).
    result = _with_closed(fd, args, tmp_path, TFY_LIVE_EVENT_LOOP="asyncio")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_a_ctrl_c_whose_exception_python_swallows_still_stops_the_program(tmp_path):
    """Python runs a handler between any two bytecodes, also inside a callback whose exception it prints and
    ignores (a weakref's, run by an import): the Ctrl-C was lost and local-gateway served on. Here the signal
    is sent from inside such a callback, before the command starts."""
    code = (
        "import os, signal, sys, weakref\n"
        "from tfy_live import entry\n"
        "entry.catch_other_stops()\n"
        "class Dropped: pass\n"
        "dropped = Dropped()\n"
        "ref = weakref.ref(dropped, lambda _: os.kill(os.getpid(), signal.SIGINT))\n"
        "del dropped\n"
        "sys.argv = ['tfy-live', 'local-gateway', '--port', '0']\n"
        "entry.main()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], env=clean_env(), cwd=tmp_path, text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, stderr = process.communicate(timeout=30 * SECOND)
    finally:
        process.kill()
    assert "Exception ignored" in stderr  # the swallowing happened...
    assert process.returncode == 130 and stderr.splitlines()[-1:] == ["stopped"], stderr  # ...and it stopped anyway
