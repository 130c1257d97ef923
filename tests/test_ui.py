"""The three output forms and the transcript file, fed the reporter calls directly."""

import io
import json
import math
import re

import pytest

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


def reply_with_a_notice_in_it(output, clock: Clock) -> None:
    """One reply, streamed in pieces, with a notice and a status line arriving while it streams."""
    output.attach(Timeline(started=clock.now), None)
    output.user_transcript("What time is it?", True)
    turn = Turn(index=1, started=clock.now, latency_ms=500.0)
    output.model_turn_started(turn)
    output.model_transcript("It is ")
    output.notice("skipped a frame from the gateway that is not JSON (1 so far)")
    output.model_transcript("noon, ")
    output.status("input file sent (end of audio stream)")
    output.model_transcript("give or take.")
    output.turn_complete(turn)
    output.close()


def test_a_notice_during_a_reply_does_not_split_it_in_json_and_jsonl(tmp_path):
    out, clock = io.StringIO(), Clock()
    reply_with_a_notice_in_it(JsonOutput(out, clock=clock), clock)
    path = tmp_path / "t.jsonl"
    reply_with_a_notice_in_it(TranscriptFile(path, clock=clock), clock)
    for text in (out.getvalue(), path.read_text()):
        records = [json.loads(line) for line in text.splitlines()]
        (model,) = [r for r in records if r["event"] == "model"]
        assert model["transcript"] == "It is noon, give or take."
        assert [r["event"] for r in records].count("notice") == 1


def test_a_notice_during_a_reply_does_not_split_it_on_screen_or_in_markdown(tmp_path):
    out, clock = io.StringIO(), Clock()
    reply_with_a_notice_in_it(PlainOutput(out, clock=clock), clock)
    shown = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]  # without the seconds
    assert [line for line in shown if line.startswith("model:")] == ["model: It is noon, give or take."]
    # the notice is shown when it happens, before the reply it interrupted is finished
    assert [line.split(":")[0] for line in shown] == ["user", "notice", "status", "model", "turn"]
    path = tmp_path / "t.md"
    reply_with_a_notice_in_it(TranscriptFile(path, clock=clock), clock)
    text = path.read_text()
    assert text.count("**model**") == 1 and "It is noon, give or take." in text


def test_the_live_view_prints_a_notice_above_the_reply_in_progress():
    from rich.console import Console

    from tfy_live.ui import LiveOutput

    console = Console(file=io.StringIO(), force_terminal=False, width=120)
    clock = Clock()
    output = LiveOutput(console, clock=clock)
    try:
        output.attach(Timeline(started=clock.now), None)
        output.model_turn_started(Turn(index=1, started=clock.now))
        output.model_transcript("It is ")
        output.notice("skipped a frame")
        output.model_transcript("noon.")
        output.turn_complete(None)
    finally:
        output.close()
    printed = console.file.getvalue()
    assert printed.count("model ›") == 1 and "model › It is noon." in printed
    assert printed.index("skipped a frame") < printed.index("model › It is noon.")


def test_a_response_count_the_server_left_out_is_shown_as_unknown_and_details_go_to_json():
    out, clock = io.StringIO(), Clock()
    output = JsonOutput(out, clock=clock)
    output.attach(Timeline(started=clock.now), None)
    turn = Turn(index=1, started=clock.now)
    turn.add_usage(300, None, 312, prompt_details={"AUDIO": 290, "TEXT": 10})
    output.turn_complete(turn)
    second = Turn(index=2, started=clock.now)
    second.add_usage(69, 176, 265, 20, {"AUDIO": 58, "TEXT": 11}, {"TEXT": 26, "AUDIO": 150})
    output.turn_complete(second)
    first, other = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["text"] == "turn 1 · 312 tokens (300 in, out unknown)" and "0 out" not in first["text"]
    assert first["response_tokens"] is None and first["prompt_tokens_details"] == {"AUDIO": 290, "TEXT": 10}
    assert other["text"] == "turn 2 · 265 tokens (69 in, 176 out, 20 thinking)"
    assert other["thoughts_tokens"] == 20 and other["response_tokens_details"] == {"TEXT": 26, "AUDIO": 150}
    assert "user_ended" not in other and "started" not in other


def test_the_link_s_news_of_a_retried_opening_and_a_fresh_session_is_one_line_each():
    from tfy_live.events import FreshSession, Retrying

    buffer, clock = io.StringIO(), Clock()
    output = JsonOutput(buffer, clock=clock)
    output.connection(Retrying("connection closed with code 1011: The service is currently unavailable.", 2, 4))
    output.connection(FreshSession("connection closed with code 1008: BidiGenerateContent session not found", 2, 5))
    retrying, fresh = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert retrying["state"] == "retrying" and retrying["text"].endswith("— trying again (attempt 2 of 4)")
    assert fresh["state"] == "reconnecting" and fresh["fresh_session"] is True
    assert "starting a fresh session: the model will not remember" in fresh["text"]


TARGET = "tfy.example.com · gemini-acct · gemini-live-2.5-flash · Zephyr"


@pytest.mark.parametrize("width", [200, 110, 100, 80, 60, 40, 30, 20, 12])
def test_the_status_line_fits_the_terminal_and_keeps_the_state_longest(width):
    from tfy_live.ui import status_line

    line = status_line(TARGET, "model speaking", -24.0, 3 * 60 + 7, width)
    text = line.plain
    assert line.cell_len <= width and "\n" not in text
    full = status_line(TARGET, "model speaking", -24.0, 3 * 60 + 7, 1000).plain
    if width >= len(full):
        assert text == full  # nothing given up when it fits
    if width >= 40:
        assert "model speaking" in text and "-24 dB" in text
    if width >= 60:
        assert "03:07" in text
    if width >= 100:
        assert "tfy.example.com" in text and "█" in text
    if width < 40:
        assert text.startswith("●  │  model speaking"[:width])


def test_the_status_line_gives_up_fields_least_important_first():
    from tfy_live.ui import status_line

    def fields(width: int) -> tuple[bool, bool, bool, bool]:
        text = status_line(TARGET, "listening", -30.0, 14, width).plain
        return "tfy.example" in text, "█" in text, "00:14" in text, "-30 dB" in text

    seen = [fields(width) for width in range(200, 10, -1)]
    # Each field, once gone as the terminal narrows, stays gone; the mic's bar goes before the (cut)
    # target, the target before the clock, the clock before the mic's level.
    for i in range(4):
        kept = [s[i] for s in seen]
        assert kept == sorted(kept, reverse=True)
    target, bar, clock, level = (sum(s[i] for s in seen) for i in range(4))
    assert 0 < bar < target < clock < level
    assert status_line("", None, -math.inf, 3, 80).plain == "● connecting…  │  00:03"


def test_the_live_view_s_status_line_fits_its_console():
    from rich.console import Console

    from tfy_live.ui import LiveOutput

    console = Console(file=io.StringIO(), force_terminal=True, width=70, color_system=None)
    clock = Clock()
    output = LiveOutput(console, clock=clock)
    try:
        output.attach(Timeline(started=clock.now), None)
        output.connected(TARGET)
        clock.now += 75
        output.partial()  # a refresh
    finally:
        output.close()
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue()).replace("\r", "\n").splitlines()
    status = [line for line in drawn if "01:15" in line]
    assert status and all(line.startswith("●") and len(line) <= 70 for line in status), drawn


def _drawn(console) -> list[str]:
    """The last frame the live view drew (rich redraws it whole at each refresh)."""
    frames = re.split(r"\r\x1b\[2K(?:\x1b\[1A\x1b\[2K)*", console.file.getvalue())
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", frames[-1]).replace("\r", "").splitlines()


@pytest.mark.parametrize("height", [24, 12, 6, 3, 2, 1])
def test_a_long_reply_in_progress_leaves_the_question_and_the_status_line_in_view(height):
    """rich cuts a live view taller than the terminal at the bottom: a long answer in progress hid the
    status line and a tool call waiting for y / n / a (and showed the answer's first words, not its last)."""
    from rich.console import Console

    from tfy_live.tools.runner import Activity
    from tfy_live.ui import LiveOutput

    console = Console(file=io.StringIO(), force_terminal=True, width=60, height=height, color_system=None)
    clock = Clock()
    output = LiveOutput(console, clock=clock)
    try:
        output.attach(Timeline(started=clock.now), None)
        output.connected(TARGET)
        output.model_text(" ".join(f"word{i}" for i in range(400)))
        output.tool(Activity(id="1", name="get_weather", args={"city": "Paris", "days": list(range(30))},
                             state="asking"))
        output.typing("y")
        output.partial()
        drawn = _drawn(console)
    finally:
        output.close()
    assert len(drawn) <= height, drawn
    assert drawn[-1].startswith("●"), drawn
    if height == 1:
        return  # the status line alone
    assert any(line.startswith("approve › get_weather") for line in drawn), drawn
    if height >= 3:
        assert "then Enter" in "".join(drawn)
    if height >= 12:
        assert "word399" in "\n".join(drawn) and "model › … " in drawn[0], drawn  # the latest words, cut at a word
    if height >= 6:
        assert "type › y" in "\n".join(drawn)


def test_tail_keeps_the_end_of_the_text_in_the_rows_given():
    from rich.console import Console

    from tfy_live.ui import rows, tail

    console = Console(file=io.StringIO(), width=40, color_system=None)
    body = " ".join(f"w{i}" for i in range(100))
    shown = tail(("model › ", ""), body, console=console, width=40, room=3)
    assert shown is not None and rows(shown, console, 40) <= 3 and shown.plain.endswith("w99")
    assert shown.plain.startswith("model › … w")
    assert tail(("model › ", ""), "short", console=console, width=40, room=1).plain == "model › short"
    assert tail(("model › ", ""), body, console=console, width=40, room=0) is None


def test_a_question_too_long_for_a_small_terminal_keeps_its_label_and_the_answers():
    from rich.console import Console

    from tfy_live.tools.runner import Activity
    from tfy_live.ui import LiveOutput

    console = Console(file=io.StringIO(), force_terminal=True, width=40, height=4, color_system=None)
    output = LiveOutput(console, clock=Clock())
    try:
        output.tool(Activity(id="1", name="x", server="weather", tool="get_forecast",
                             args={"city": "Paris", "days": list(range(30))}, state="asking"))
        output.partial()
        drawn = _drawn(console)
    finally:
        output.close()
    assert len(drawn) <= 4 and drawn[-1].startswith("●"), drawn
    assert "".join(drawn[:-1]).replace(" ", "") == "approve›weather/get_forecast?y/n/a,thenEnter", drawn


def test_chat_at_a_terminal_starts_what_follows_the_prompt_on_a_line_of_its_own():
    """Ctrl-D ends the input with no newline: the summary was printed on the prompt's line
    ("you › done: 1 turn…"); news while a line is awaited is followed by the prompt again."""
    from rich.console import Console

    from tfy_live.ui import ChatOutput

    screen = io.StringIO()  # standard output and standard error on one terminal
    console = Console(file=screen, highlight=False, soft_wrap=True, color_system=None)
    chat = ChatOutput(console, console, interactive=True, clock=Clock())
    chat.ready()
    chat.user_typed("hi")
    chat.model_text("Hello.")
    chat.turn_complete(None)
    chat.ready()
    chat.notice("reconnecting soon")
    chat.finished(Summary(2, 1, 3.0, 612.34, 612.34, 20, 10, 30))
    lines = screen.getvalue().splitlines()
    # (The terminal itself echoes "hi" and the Enter after the first prompt; a StringIO does not.)
    assert lines[1] == "you › model › Hello.", lines
    assert lines[2:-1] == ["you › ", "reconnecting soon", "you › "], lines
    assert lines[-1].startswith("done: 2 turns"), lines


def test_a_call_waiting_for_an_answer_is_drawn_once_and_scrolls_up_when_decided():
    """The question was drawn twice: as a scrolled `tool ›` line and as the `approve ›` line kept in view."""
    from dataclasses import replace

    from rich.console import Console

    from tfy_live.tools.runner import Activity
    from tfy_live.ui import LiveOutput

    console = Console(file=io.StringIO(), force_terminal=True, width=120, height=24, color_system=None)
    output = LiveOutput(console, clock=Clock())
    call = Activity(id="1", name="add", server="clock", tool="add", args={"a": 2, "b": 3}, state="asking")
    try:
        output.tool(call)
        output.partial()
        drawn, everything = _drawn(console), console.file.getvalue()
        assert any(line.startswith("approve › clock/add") for line in drawn), drawn
        assert "tool ›" not in everything and "allow it?" not in "".join(drawn[1:]), everything
        output.tool(replace(call, state="running"))
        output.partial()
        drawn = _drawn(console)
    finally:
        output.close()
    assert not any("approve ›" in line for line in drawn), drawn
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())
    assert plain.count('tool › clock/add {"a": 2, "b": 3} — running') == 1 and "tool › clock/add {\"a\": 2, \"b\": 3} — allow" \
        not in plain
