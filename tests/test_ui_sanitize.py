"""Every output form shows and writes only clean text: a model that repeats the key or sends escape sequences.

The outputs are fed the reporter calls directly, with the key given as their secret
(in a run it is the one registered with ``masking.protect``).
"""

from __future__ import annotations

import base64
import io
import json

from rich.console import Console

from tests.cli_run import CANARY_KEY
from tests.hostile import leaked_forms
from tfy_live.timeline import Summary, Timeline, Turn
from tfy_live.ui import ChatOutput, JsonOutput, LiveOutput, Output, PlainOutput, TranscriptFile

KEY = CANARY_KEY
PIECE = "canary-KEY"  # a fragment of the key: drawn half at a time, it would still be on the screen
HOSTILE = ["The key is ", KEY[:20], KEY[20:], ", in base64 ", base64.b64encode(b"x" + KEY.encode()).decode(),
           ". \x1b[2J\x1b]52;c;ZXZpbA==\x07 \x9b31m red [bold]not markup[/bold]\r\n"]


def converse(output: Output) -> None:
    """One reply that streams the key (split across messages), its base64, and escape sequences."""
    output.attach(Timeline(started=0.0), None)
    output.connected(f"gw.example.com · acct \x1b[31m · {KEY}")
    output.model_turn_started(Turn(index=1, started=0.0))
    for piece in HOSTILE:
        output.model_text(piece)
        output.partial()
    output.turn_complete(Turn(index=1, started=0.0))
    output.notice(f"the gateway said: \x1b]0;owned\x07 {KEY}")
    output.finished(Summary(1, 0, 1.0, None, None, 0, 0, 0))
    output.close()


def assert_clean(raw: bytes, *, terminal: bool = False) -> None:
    for form in leaked_forms(KEY):
        assert form not in raw, form
    assert PIECE.encode() not in raw
    assert b"\x1b]" not in raw and b"\x1b[2J" not in raw and b"\xc2\x9b" not in raw and b"\x07" not in raw
    if not terminal:  # a terminal console styles text with escape sequences of its own
        assert b"\x1b" not in raw


def test_plain_and_json_output_show_the_escapes_and_mask_the_key():
    for kind in (PlainOutput, JsonOutput):
        out = io.StringIO()
        converse(kind(out, secrets=[KEY]))
        raw = out.getvalue()
        assert_clean(raw.encode())
        assert r"\x1b[2J\x1b]52;c;ZXZpbA==\x07" in raw.replace("\\\\", "\\")
    records = [json.loads(line) for line in raw.splitlines()]
    model = next(r for r in records if r["event"] == "model")
    assert model["transcript"].startswith("The key is ***, in base64 ")
    assert "\\x9b31m red [bold]not markup[/bold]" in model["transcript"]


def test_the_transcript_files_hold_no_key_and_no_escape(tmp_path):
    for name in ("t.md", "t.jsonl"):
        path = tmp_path / name
        converse(TranscriptFile(path, secrets=[KEY]))
        assert_clean(path.read_bytes())
    assert "**model** (" in (tmp_path / "t.md").read_text()


def test_chat_output_piped_and_at_a_terminal():
    for interactive in (False, True):
        out, err = io.StringIO(), io.StringIO()
        converse(ChatOutput(Console(file=out, highlight=False, soft_wrap=True),
                            Console(file=err, highlight=False, soft_wrap=True), interactive=interactive, secrets=[KEY]))
        assert_clean((out.getvalue() + err.getvalue()).encode())
        assert "[bold]not markup[/bold]" in out.getvalue()  # shown as written, not taken for markup


def test_the_live_view_never_draws_the_key_not_even_half_of_it_while_it_streams_in(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")  # rich draws no live view on a dumb terminal
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=300, highlight=False)
    converse(LiveOutput(console, secrets=[KEY]))
    assert_clean(screen.getvalue().encode(), terminal=True)
    assert "The key is ***" in screen.getvalue()
