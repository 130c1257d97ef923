"""The live view as a person sees it: ``tfy-live talk --local`` in a real terminal (tmux)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.test_integration import device_env, hello_16k
from tests.timing import SECOND

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/test.sh installs it)")


class Terminal:
    """A tmux server of our own (its own socket and environment) running one command."""

    def __init__(self, command: list[str], env: dict[str, str], width: int = 150, height: int = 30) -> None:
        # A socket of its own: a server told to exit by the last test on this worker may still
        # be going, and a new session on its socket fails ("server exited unexpectedly").
        self.socket = Path(tempfile.gettempdir()) / f"tfy-live-test-{uuid.uuid4().hex[:12]}.sock"
        self.env = {**env, "TERM": "xterm-256color"}
        self.env.pop("TMUX", None)
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), *command)
        self.tmux("set-option", "-t", "t", "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", str(self.socket), *args], env=self.env, capture_output=True,
                              text=True, timeout=10 * SECOND, check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, pattern: str, timeout: float = 30 * SECOND) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} never appeared on the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], env=self.env, capture_output=True,
                       timeout=10 * SECOND)
        self.socket.unlink(missing_ok=True)  # tmux leaves it behind


def test_status_line_transcript_and_latency_appear_and_update(tmp_path):
    env, _ = device_env(tmp_path, hello_16k())
    # A shell runs the program and prints its exit status (tmux itself can be slow to reap
    # it). Its INT trap keeps it alive past the Ctrl-C that the program, not sh, must handle;
    # a trap (unlike an ignored signal) is reset to the default in the child.
    # After it, stty shows whether the terminal got its echo and line editing back, then a
    # marker: the pane's blank rows cannot tell "stty printed nothing" from "not yet".
    command = (f"trap true INT; {sys.executable} -m tfy_live talk --local; echo exit status $?; "
               "stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e icanon | tr '\\n' ' '; echo '(stty done)'")
    terminal = Terminal(["sh", "-c", command], env)
    try:
        # Connected first (the target alone, for the moment before the conversation starts), then
        # the state and the microphone's meter join it.
        terminal.wait_for(r"● 127\.0\.0\.1:\d+ · local · gemini-live-2\.5-flash · Zephyr")
        terminal.wait_for(r"(?m)^● 127\.0\.0\.1:\d+ · local · gemini-live-2\.5-flash · Zephyr +│ +"
                          r"(listening|user speaking|model thinking|model speaking) +│ +mic [█·]{10} +(-?\d+|-∞) dB +│ +\d\d:\d\d")
        # the user's speech is seen as such, then the model's turn with its latency
        terminal.wait_for(r"user speaking")
        screen = terminal.wait_for(r"turn 1 · latency \d+ ms")
        assert re.search(r"you › \(\d\.\d\d s of speech\)", screen)
        assert re.search(r"model › Echo of \d\.\d\d s of speech\.", screen)
        # the status line stays at the bottom and keeps time
        def bottom_status(screen: str) -> str:
            return [line for line in screen.splitlines() if line.strip()][-1]

        before = bottom_status(terminal.screen())
        time.sleep(1.3)
        after = bottom_status(terminal.screen())
        assert before.startswith("●") and after.startswith("●")
        assert before[-5:] != after[-5:], (before, after)  # elapsed time moved on
        assert "listening" in after
        # a typed line is drawn as it is typed (no terminal echo scribbling), then sent as text and answered
        terminal.tmux("send-keys", "-t", "t", "hello thx", "BSpace", "e")
        screen = terminal.wait_for(r"type › hello the")
        assert [line for line in screen.splitlines() if line.strip()][-1].startswith("●"), screen
        terminal.tmux("send-keys", "-t", "t", "re", "Enter")
        screen = terminal.wait_for(r"turn 2 · latency \d+ ms")
        assert re.search(r"you › hello there", screen), screen
        assert re.search(r"model › You said: hello there", screen), screen
        terminal.tmux("send-keys", "-t", "t", "C-c")
        final = terminal.wait_for(r"exit status \d+")
        assert "Traceback" not in final
        assert re.search(r"done: 2 turns, \d+\.\d s, latency median \d+ ms, p95 \d+ ms, \d+ tokens", final)
        assert "exit status 130" in final
        assert "icanon echo" in terminal.wait_for(r"\(stty done\)")
    finally:
        terminal.close()


def test_interactive_chat_prompts_answers_and_ends_on_ctrl_d(tmp_path):
    command = f"{sys.executable} -m tfy_live chat --local; echo exit status $?"
    terminal = Terminal(["sh", "-c", command], device_env(tmp_path, b"")[0])
    try:
        terminal.wait_for(r"(?m)^you ›")
        terminal.tmux("send-keys", "-t", "t", "what is 2 + 2?", "Enter")
        # The answer, then its turn line: two messages, so two renders; wait for the second.
        terminal.wait_for(r"(?s)model › You said: what is 2 \+ 2\?.*turn 1 · latency \d+ ms · \d+ tokens")
        terminal.wait_for(r"(?s)model ›.*\nyou ›")  # the next prompt
        terminal.tmux("send-keys", "-t", "t", "C-d")
        final = terminal.wait_for(r"exit status \d+")
        assert "exit status 0" in final and "Traceback" not in final
        assert re.search(r"done: 1 turn", final)
    finally:
        terminal.close()


def test_push_to_talk_enter_starts_and_ends_the_turn(tmp_path):
    # The microphone hears a steady tone for 20 s: with the server's voice detection on, the
    # user's turn would not end before the tone does. With push-to-talk, Enter marks it.
    t = np.arange(20 * 16000) / 16000
    tone = (8000 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes()
    command = f"{sys.executable} -m tfy_live talk --local --push-to-talk; echo exit status $?"
    terminal = Terminal(["sh", "-c", command], device_env(tmp_path, tone)[0])
    try:
        terminal.wait_for(r"press Enter to start speaking")
        time.sleep(1.0)
        assert "you ›" not in terminal.screen()  # nothing was sent before the first Enter
        terminal.tmux("send-keys", "-t", "t", "Enter")
        terminal.wait_for(r"push-to-talk: speaking — press Enter when done")
        time.sleep(1.5)
        terminal.tmux("send-keys", "-t", "t", "Enter")
        screen = terminal.wait_for(r"turn 1 · latency \d+ ms", timeout=15 * SECOND)
        seconds = float(re.search(r"you › \((\d\.\d\d) s of speech\)", screen).group(1))
        assert 1.0 <= seconds <= 3.0, screen
        assert "model › Echo of" in screen
    finally:
        terminal.close()


def test_a_tool_call_asks_in_the_live_view_and_runs_when_the_user_says_yes(tmp_path):
    """Issue 20's default on a terminal: the live view shows the call and waits for y / n / a."""
    import json

    clock = Path(__file__).resolve().parent.parent / "examples" / "mcp_clock.py"
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"clock": {"command": sys.executable, "args": [str(clock)]}}}))
    command = f"{sys.executable} -m tfy_live chat --local --mcp-config {config}; echo exit status $?"
    terminal = Terminal(["sh", "-c", command], device_env(tmp_path, b"")[0])
    try:
        terminal.wait_for(r"(?m)^you ›")
        terminal.tmux("send-keys", "-t", "t", 'call add {"a": 2, "b": 3}', "Enter")
        terminal.wait_for(r"add \{.*\} — allow it\? type y \(yes\), n \(no\) or a \(always for this tool\)")
        terminal.tmux("send-keys", "-t", "t", "y", "Enter")
        screen = terminal.wait_for(r"(?s)add \{.*\} — done in \d+ ms.*5")
        terminal.wait_for(r"(?s)model ›.*5.*\nyou ›")  # the model spoke the result; the next prompt
        terminal.tmux("send-keys", "-t", "t", 'call add {"a": 1, "b": 1}', "Enter")
        terminal.wait_for(r"(?s)done in \d+ ms.*add \{.*\} — allow it\?")
        terminal.tmux("send-keys", "-t", "t", "n", "Enter")
        terminal.wait_for(r"add \{.*\} — declined")
        terminal.wait_for(r"(?s)declined.*\nyou ›")
        terminal.tmux("send-keys", "-t", "t", "C-d")
        final = terminal.wait_for(r"exit status \d+")
        assert "exit status 0" in final and "Traceback" not in final, final
        assert re.search(r"2 tool calls \(1 done, 1 declined\)", final), final
    finally:
        terminal.close()
