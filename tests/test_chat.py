"""``tfy-live chat``: text over the Live connection, through the real CLI, SDK and local gateway."""

from __future__ import annotations

import json
import stat
import wave

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.test_integration import target_env
from tests.timing import SECOND


def sent_texts(conn) -> list[str]:
    """Text sent as realtime input (the SDK spells the key realtime_input or realtimeInput)."""
    inputs = [m.get("realtimeInput", m.get("realtime_input", {})) for m in conn.received]
    return [i["text"] for i in inputs if "text" in i]


def test_piped_question_prints_the_answer_alone_and_exits(gateway):
    result = tfy_live("chat", "--provider", "acct", env=target_env(gateway), input="What is the capital of France?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: What is the capital of France?\n"
    (conn,) = gateway.connections
    assert sent_texts(conn) == ["What is the capital of France?"]
    assert conn.modalities == ["TEXT"]
    assert CANARY_KEY not in result.stdout + result.stderr


def test_each_line_gets_its_reply_before_the_next_is_sent_and_json_is_parseable(gateway, tmp_path):
    transcript = tmp_path / "chat.md"
    result = tfy_live("chat", "--provider", "acct", "--json", "--transcript", str(transcript),
                      env=target_env(gateway), input="first\n\nsecond")  # a blank line is skipped; no final newline
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("user") == 2 and kinds.count("model") == 2 and kinds[-1] == "summary"
    assert kinds.index("turn") < [i for i, k in enumerate(kinds) if k == "user"][1]
    turns = [e for e in events if e["event"] == "turn"]
    assert all(t["latency_ms"] is not None and t["total_tokens"] > 0 for t in turns)
    assert [e["transcript"] for e in events if e["event"] == "model"] == ["You said: first", "You said: second"]
    assert stat.S_IMODE(transcript.stat().st_mode) == 0o600
    text = transcript.read_text()
    assert "**you**" in text and "You said: second" in text


def test_messages_as_arguments_with_a_spoken_answer_to_a_file(gateway, tmp_path):
    out = tmp_path / "answer.wav"
    result = tfy_live("chat", "--provider", "acct", "--output-file", str(out), "hello", "again",
                      env=target_env(gateway))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["You said: hello", "You said: again"]  # the transcript of the speech
    (conn,) = gateway.connections
    assert conn.modalities == ["AUDIO"]
    with wave.open(str(out)) as wav:  # both spoken answers (0.3 s beeps), played to the end
        assert abs(wav.getnframes() / wav.getframerate() - 0.6) < 0.05


def test_chat_on_the_built_in_gateway_needs_no_settings():
    result = tfy_live("chat", "--local", "ping", env=clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: ping\n"


def test_empty_input_ends_at_once_and_a_missing_key_is_a_settings_error(gateway):
    result = tfy_live("chat", "--provider", "acct", env=target_env(gateway), input="", timeout=20 * SECOND)
    assert result.returncode == 0 and result.stdout == ""
    result = tfy_live("chat", "--provider", "acct", env=clean_env(TFY_BASE_URL=gateway.base_url), input="hi\n")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "TFY_API_KEY" in result.stderr
