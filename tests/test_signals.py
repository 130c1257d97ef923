"""Ctrl-C, SIGTERM and SIGHUP take one path: clean up, print the summary, exit 128 + the signal's number.

The loop's part (``eventloop.run``) with plain coroutines in this process; the
program's part through the real CLI in a subprocess, mid-conversation with the
built-in gateway and file-backed ALSA devices (``tests/alsa.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import pytest

from tests.cli_run import clean_env
from tests.test_integration import device_env, hello_16k
from tfy_live import eventloop

STOPS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


@pytest.fixture(autouse=True)
def own_handlers():
    """After a stop, ``run`` leaves its handlers in place (a further signal ends the process at once): put pytest's back."""
    saved = {s: signal.getsignal(s) for s in STOPS}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_cancels_the_program_which_cleans_up_then_run_raises_interrupted(signum):
    cleaned = []

    async def program() -> int:
        try:
            os.kill(os.getpid(), signum)
            await asyncio.sleep(10)
            return 0
        finally:
            await asyncio.sleep(0)  # the clean-up may await
            cleaned.append(True)

    started = time.monotonic()
    with pytest.raises(eventloop.Interrupted) as stopped:
        eventloop.run(program(), {}, hard_exit=lambda code: pytest.fail(f"hard exit {code}"))
    assert stopped.value.exit_code == 128 + signum and stopped.value.signum == signum
    assert cleaned == [True] and time.monotonic() - started < 2


def test_a_second_signal_during_a_slow_clean_up_exits_at_once_with_the_first_code():
    exits: list[int] = []

    async def program() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(10)
        finally:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
            deadline = time.monotonic() + 5
            while not exits and time.monotonic() < deadline:  # a clean-up stuck in blocking code
                time.sleep(0.01)

    with pytest.raises(eventloop.Interrupted):
        eventloop.run(program(), {}, hard_exit=exits.append)
    assert exits == [143]  # the hard exit came from inside the stuck clean-up, with SIGTERM's code


def test_without_a_signal_the_previous_handlers_are_put_back():
    async def program() -> str:
        return "done"

    before = {s: signal.getsignal(s) for s in STOPS}
    assert eventloop.run(program(), {}) == "done"
    assert {s: signal.getsignal(s) for s in STOPS} == before


def start_talk(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, Path]:
    """``talk --local`` from the file-backed microphone to ``out.wav``; returns once the reply is being written."""
    env, _ = device_env(tmp_path, hello_16k())
    temp = tmp_path / "tmp"
    temp.mkdir()
    env["TMPDIR"] = str(temp)  # where the built-in gateway would put its CA file
    out = tmp_path / "out.wav"
    process = subprocess.Popen(
        [sys.executable, "-m", "tfy_live", "talk", "--local", "--aec", "off", "--output-file", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 44 + 2 * 24000 // 2):
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    assert out.stat().st_size > 44, "the reply never began"
    return process, out, temp


@pytest.mark.parametrize("signum", STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_mid_reply_prints_the_summary_keeps_the_wav_and_removes_the_gateway_folder(tmp_path, signum):
    process, out, temp = start_talk(tmp_path)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 128 + signum, (process.returncode, stderr)
    assert "Traceback" not in stderr and "error:" not in stderr, stderr
    assert "summary: " in stdout, stdout
    assert stderr.strip().splitlines()[-1].startswith("stopped"), stderr
    with wave.open(str(out)) as reply:  # a valid WAV holding the reply so far
        assert (reply.getframerate(), reply.getnchannels()) == (24000, 1) and reply.getnframes() > 0
        assert len(reply.readframes(reply.getnframes())) == 2 * reply.getnframes()
    assert list(temp.iterdir()) == []


def test_a_second_ctrl_c_while_exiting_still_exits_130_not_by_the_signal(tmp_path):
    process, _, _ = start_talk(tmp_path)
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)  # the first one's clean-up is done; the interpreter is on its way out
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130, (process.returncode, stderr)
    assert "Traceback" not in stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name)
def test_the_standalone_gateway_stops_on_sigterm_and_sighup_and_removes_its_ca_folder(tmp_path, signum):
    temp = tmp_path / "tmp"
    temp.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "tfy_live", "local-gateway", "--port", "0"], env=clean_env(TMPDIR=str(temp)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, cwd=tmp_path)
    try:
        assert "listening on" in server.stdout.readline()
        ca_line = server.stdout.readline()
        assert str(temp) in ca_line and len(list(temp.iterdir())) == 1  # the CA file's folder, while it runs
    finally:
        server.send_signal(signum)
        _, stderr = server.communicate(timeout=15)
    assert server.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr and f"stopped ({signal.Signals(signum).name})" in stderr
    assert list(temp.iterdir()) == []


def _python_tfy_live(code: str, tmp_path: Path, **popen: object) -> subprocess.Popen[str]:
    """tfy-live started through its entry module, after ``code`` (run first, in the same interpreter)."""
    script = f"{code}\nfrom tfy_live.entry import main\nmain()\n"
    return subprocess.Popen([sys.executable, "-c", script], env=clean_env(), cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)  # type: ignore[call-overload]


def test_without_sighup_as_on_windows_commands_still_run(tmp_path):
    """Windows' signal module has no SIGHUP: naming it at start-up crashed every command there."""
    process = _python_tfy_live("import signal, sys\ndel signal.SIGHUP\n"
                               "sys.argv = ['tfy-live', 'chat', '--local', 'hello']", tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "hello" in out.lower() and "Traceback" not in err


def test_a_stop_signal_the_caller_ignores_stays_ignored(tmp_path):
    """nohup ignores SIGHUP, a script's background job SIGINT: tfy-live took them back once started."""
    process = _python_tfy_live("import signal, sys\nsys.argv = ['tfy-live', 'chat', '--local']", tmp_path,
                               stdin=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    try:
        assert process.stdout is not None
        for _ in range(3):  # while the modules load, and once the chat waits for a line
            process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
        assert process.poll() is None, process.communicate()[1]
        out, err = process.communicate("hello\n", timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "hello" in out.lower()


def test_ctrl_c_after_the_command_finished_still_exits_130(tmp_path):
    """After a normal finish the atexit functions run (PortAudio's release can take a while): a Ctrl-C there
    was "Exception ignored in atexit callback … Interrupted" and exit 0."""
    process = _python_tfy_live("import atexit, sys, time\natexit.register(time.sleep, 3)\n"
                               "sys.argv = ['tfy-live', 'chat', '--local', 'hello']", tmp_path)
    try:
        assert process.stdout is not None
        assert "hello" in process.stdout.readline().lower()  # the answer: the command is ending
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Exception ignored" not in err and "Traceback" not in err and err.splitlines()[-1:] == ["stopped"]
