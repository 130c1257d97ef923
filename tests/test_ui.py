"""The three output forms and the transcript file, fed the reporter calls directly."""

import io
import json
import re

from tfy_live.timeline import Summary, Timeline, Turn
from tfy_live.outfiles import Policy
from tfy_live.ui import JsonOutput, PlainOutput, TranscriptFile, level_meter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def play(output, clock: Clock) -> None:
    """A short conversation as the Conversation would report it."""
    output.attach(Timeline(started=clock.now), None)
    output.connected("gw.example.com · acct · gemini-live-2.5-flash · Zephyr")
    output.listening()
    clock.now += 1
    output.user_transcript("What time ", False)
    output.user_transcript("is it?", True)
    turn = Turn(index=1, started=clock.now, latency_ms=612.34)
    output.model_turn_started(turn)
    output.model_transcript("It is ")
    output.model_transcript("noon.\nGood day.")
    turn.total_tokens, turn.prompt_tokens, turn.response_tokens = 30, 20, 10
    output.turn_complete(turn)
    clock.now += 2
    second = Turn(index=2, started=clock.now)
    output.model_turn_started(second)
    output.model_transcript("Also")
    output.interrupted(480.0)
    second.interrupted = True
    output.turn_complete(second)
    output.notice("the gateway will close this connection in 50 s")
    output.finished(Summary(2, 1, 3.0, 612.34, 612.34, 20, 10, 30))
    output.close()


def test_plain_output_is_one_event_per_line_without_control_codes():
    out, clock = io.StringIO(), Clock()
    play(PlainOutput(out, clock=clock), clock)
    lines = out.getvalue().splitlines()
    assert all(re.fullmatch(r"\d+\.\d\d (status|notice|user|model|turn|interrupted|summary): \S.*", line)
               for line in lines), lines
    assert "\x1b" not in out.getvalue()
    assert "1.00 user: What time is it?" in lines
    assert "1.00 model: It is noon. Good day." in lines  # a newline in the text stays on the line
    assert "1.00 turn: turn 1 · latency 612 ms · 30 tokens (20 in, 10 out)" in lines
    assert "3.00 model: Also [interrupted]" in lines
    assert lines[-1] == "3.00 summary: done: 2 turns, 3.0 s, latency median 612 ms, p95 612 ms, 1 interrupted, 30 tokens"


def test_json_output_is_one_parseable_object_per_event():
    out, clock = io.StringIO(), Clock()
    play(JsonOutput(out, clock=clock), clock)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = [r["event"] for r in records]
    assert kinds.count("user") == 1 and kinds.count("model") == 2 and kinds.count("turn") == 2
    turn = next(r for r in records if r["event"] == "turn")
    assert turn["turn"] == 1 and turn["latency_ms"] == 612.3 and turn["total_tokens"] == 30
    interrupted = [r for r in records if r["event"] == "model"][1]
    assert interrupted["interrupted"] is True and interrupted["transcript"] == "Also"
    summary = records[-1]
    assert summary["event"] == "summary" and summary["turns"] == 2 and summary["latency_p95_ms"] == 612.34


def test_no_transcript_hides_both_sides_but_keeps_the_turn_lines():
    out, clock = io.StringIO(), Clock()
    play(PlainOutput(out, clock=clock, transcripts=False), clock)
    text = out.getvalue()
    assert "What time" not in text and "noon" not in text
    assert "turn: turn 1" in text


def test_markdown_transcript_is_written_as_it_happens_and_owner_only(tmp_path):
    path = tmp_path / "talk.md"
    clock = Clock()
    output = TranscriptFile(path, clock=clock)
    output.attach(Timeline(started=clock.now), None)
    output.user_transcript("Hello", True)
    assert "**you**" in path.read_text()  # on disk before the conversation ends
    assert path.stat().st_mode & 0o777 == 0o600
    play(output, clock)
    text = path.read_text()
    assert text.startswith("# tfy-live conversation")
    assert re.search(r"\*\*model\*\* \(\d\d:\d\d:\d\d\): It is noon.\nGood day.", text)
    assert "**model** (" in text and "Also *(interrupted)*" in text
    assert "turn 1 · latency 612 ms" in text


def test_jsonl_transcript_and_existing_files_are_made_private(tmp_path):
    path = tmp_path / "talk.jsonl"
    path.write_text("old")
    path.chmod(0o644)
    clock = Clock()
    play(TranscriptFile(path, clock=clock, policy=Policy(overwrite=True)), clock)
    assert path.stat().st_mode & 0o777 == 0o600
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert {"user", "model", "turn", "summary"} <= {r["event"] for r in records}
    assert all("time" in r for r in records)


def test_level_meter():
    assert level_meter(float("-inf")) == "·" * 10
    assert level_meter(0.0) == "█" * 10
    assert level_meter(-30.0) == "█" * 5 + "·" * 5
