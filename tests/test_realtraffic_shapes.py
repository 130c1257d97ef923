"""The real servers' shapes (tests/realtraffic), end to end: the real CLI, the real SDK, TLS, the local gateway.

The echo model sends what the corpus recorded (``EchoOptions``: native audio,
3.x frames, Vertex's empty turn, usage without a response count); closes come
from the gateway's faults with the corpus' own reasons. One or more tests per
point of the issue "Meet the real Live service".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.cli_run import CANARY_KEY, tfy_live
from tests.fakes import keys_in
from tests.test_integration import SHORT_HELLO, target_env
from tfy_live.localgw import EchoOptions, Fault, GatewayThread

CORPUS = Path(__file__).resolve().parent / "realtraffic"
RATE = 16000


def corpus_close(name: str) -> tuple[int, str]:
    """The (code, reason) of the first close recorded in a corpus file."""
    for line in (CORPUS / name).read_text().splitlines():
        close = json.loads(line).get("close")
        if close:
            return close["code"], close["reason"]
    raise AssertionError(f"no close in {name}")


def run(tmp_path: Path, *args: str, options: EchoOptions | None = None, faults=(), kind: str = "gemini",
        input_file: Path = SHORT_HELLO, timeout: float = 60):
    """``tfy-live talk`` with ``input_file`` against a local gateway; returns the result and the connections."""
    thread = GatewayThread(api_key=CANARY_KEY, options=options or EchoOptions(reply_speed=8.0), faults=list(faults))
    gw = thread.start()
    try:
        result = tfy_live("talk", "--provider", "acct", "--provider-kind", kind, "--input-file", str(input_file),
                          *args, env=target_env(gw), timeout=timeout)
        return result, list(gw.connections)
    finally:
        thread.stop()


def json_records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def speech_file(tmp_path: Path, trailing_s: float = 0.8) -> Path:
    """A second of a 300 Hz tone and ``trailing_s`` of silence: the input ends soon after the speech."""
    t = np.arange(RATE) / RATE
    pcm = np.concatenate([np.zeros(3200), 8000 * np.sin(2 * np.pi * 300 * t), np.zeros(int(trailing_s * RATE))])
    path = tmp_path / "speech.wav"
    soundfile.write(path, pcm.astype("<i2"), RATE, subtype="PCM_16")
    return path


# -- 5. frames of a type the SDK does not know ---------------------------------------------------------------

@pytest.mark.parametrize("kind", ["gemini", "vertex"])
def test_frames_newer_than_the_sdk_are_skipped_and_counted_and_the_reply_is_heard(tmp_path, kind):
    out = tmp_path / "reply.wav"
    result, (conn,) = run(tmp_path, "--json", "--output-file", str(out), kind=kind,
                          options=EchoOptions(reply_speed=8.0, newer_frames=True))
    assert result.returncode == 0, result.stderr
    assert {} in conn.sent and any("voiceActivity" in m for m in conn.sent)  # the 3.x frames went out
    records = json_records(result.stdout)
    (model,) = [r for r in records if r["event"] == "model"]
    assert model["transcript"].startswith("Echo of")
    notices = [r["text"] for r in records if r["event"] == "notice"]
    assert any("message type tfy-live does not know (liveTelemetry)" in n for n in notices), notices
    summary = records[-1]
    assert summary["unknown_frames"] == 1 and summary["malformed_frames"] == 0
    assert "1 frame of unknown type skipped" in summary["text"]
    assert soundfile.info(out).duration > 1.0


# -- 6. an empty turn is not the reply -------------------------------------------------------------------------

def test_vertex_s_empty_turn_after_a_tool_response_is_not_taken_for_the_answer(tmp_path):
    out = tmp_path / "reply.wav"
    options = EchoOptions(reply_speed=8.0, tool_call=True, empty_turn_after_tool=True, empty_turn_gap_s=3.0)
    result, (conn,) = run(tmp_path, "--output-file", str(out), kind="vertex", options=options,
                          input_file=speech_file(tmp_path))
    assert result.returncode == 0, result.stderr
    assert {"serverContent": {"outputTranscription": {"finished": True}}} in conn.sent  # the empty turn went out
    lines = [line.split(" ", 1)[1] for line in result.stdout.splitlines()]
    (model,) = [line for line in lines if line.startswith("model:")]
    assert re.fullmatch(r"model: Echo of 1\.\d\d s of speech\.", model)
    (turn,) = [line for line in lines if line.startswith("turn:")]  # the empty turn is no turn of the model's
    assert turn.startswith("turn: turn 1 ")
    assert soundfile.info(out).duration > 1.0  # the answer was heard


# -- 7. latency to the voice, not to the thought; thought tokens apart ------------------------------------------

def test_latency_runs_to_the_first_audio_not_to_the_thought_before_it(tmp_path):
    options = EchoOptions(reply_speed=8.0, native_audio=True, thought_lead_s=1.5)
    result, (conn,) = run(tmp_path, "--json", "--output-file", str(tmp_path / "o.wav"), options=options)
    assert result.returncode == 0, result.stderr
    thought_at = next(t for m, t in zip(conn.sent, conn.sent_at)
                      if any(p.get("thought") for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])))
    audio_at = next(t for m, t in zip(conn.sent, conn.sent_at)
                    if any("inlineData" in p for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])))
    assert audio_at - thought_at >= 1.4
    (turn,) = [r for r in json_records(result.stdout) if r["event"] == "turn"]
    # from the end of the speech: at least the thought's lead over the audio
    assert turn["latency_ms"] >= 1000 * (audio_at - thought_at), turn
    assert turn["thoughts_tokens"] > 0 and f"{turn['thoughts_tokens']} thinking" in turn["text"]
    summary = json_records(result.stdout)[-1]
    assert summary["thoughts_tokens"] == turn["thoughts_tokens"]


# -- 8. one reply, one record ---------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["json", "plain"])
def test_a_notice_during_a_streamed_reply_leaves_it_one_record(tmp_path, form):
    """Gemini streams the transcription in pieces with the audio; a notice lands between two pieces."""
    transcript = tmp_path / ("t.jsonl" if form == "json" else "t.md")
    options = EchoOptions(reply_speed=8.0, native_audio=True, thought_lead_s=0.1)
    flags = ["--json"] if form == "json" else []
    result, (conn,) = run(tmp_path, *flags, "--transcript", str(transcript), "--output-file", str(tmp_path / "o.wav"),
                          options=options, faults=[Fault("malformed", after_turns=0, during_reply=True)])
    assert result.returncode == 0, result.stderr
    pieces = [m["serverContent"]["outputTranscription"]["text"] for m in conn.sent
              if "outputTranscription" in m.get("serverContent", {})]
    said = "".join(pieces)
    assert len(pieces) > 3 and said.startswith("Echo of")
    if form == "json":
        records = json_records(result.stdout)
        assert [r["transcript"] for r in records if r["event"] == "model"] == [said]
        assert [r["event"] for r in records].count("notice") == 1
        saved = [json.loads(line) for line in transcript.read_text().splitlines()]
        assert [r["transcript"] for r in saved if r["event"] == "model"] == [said]
    else:
        shown = [line.split(" ", 1)[1] for line in result.stdout.splitlines()]
        assert [line for line in shown if line.startswith("model:")] == [f"model: {said}"]
        assert "skipped a frame from the gateway that is not JSON (1 so far)" in result.stdout
        text = transcript.read_text()
        assert text.count("**model**") == 1 and said in text


# -- 9. tokens as reported ------------------------------------------------------------------------------------

def test_a_response_count_the_server_left_out_is_printed_as_unknown(tmp_path):
    options = EchoOptions(reply_speed=8.0, usage_without_response=True)
    result, _ = run(tmp_path, "--output-file", str(tmp_path / "o.wav"), options=options)
    assert result.returncode == 0, result.stderr
    (turn,) = [line for line in result.stdout.splitlines() if " turn: turn 1" in line]
    assert "in, out unknown)" in turn and " 0 out" not in turn


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
def test_per_modality_token_details_reach_json_and_the_jsonl_transcript(tmp_path, kind):
    transcript = tmp_path / "t.jsonl"
    result, (conn,) = run(tmp_path, "--json", "--transcript", str(transcript), "--output-file",
                          str(tmp_path / "o.wav"), kind=kind)
    assert result.returncode == 0, result.stderr
    (usage,) = [m["usageMetadata"] for m in conn.sent if "usageMetadata" in m]
    # Vertex sends the reply's count as candidatesTokenCount: still the reply's count ("N out")
    sent_out = usage["candidatesTokenCount" if kind == "vertex" else "responseTokenCount"]
    for records in (json_records(result.stdout), [json.loads(line) for line in transcript.read_text().splitlines()]):
        (turn,) = [r for r in records if r["event"] == "turn"]
        assert turn["response_tokens"] == sent_out and f"{sent_out} out" in turn["text"]
        assert turn["prompt_tokens_details"] == {d["modality"]: d["tokenCount"] for d in usage["promptTokensDetails"]}
        assert turn["response_tokens_details"] == {"AUDIO": sent_out}
        assert turn["thoughts_tokens"] is None


# -- 10. close reasons cut at 123 bytes; advice per provider kind ---------------------------------------------

def test_a_reason_cut_at_123_bytes_ends_in_an_ellipsis_and_gemini_advice_names_the_api_version(tmp_path):
    code, reason = corpus_close("gemini_adk-3650_1008_model_not_found_cut_mid_word.jsonl")
    assert len(reason.encode()) == 123
    result, _ = run(tmp_path, "--output-file", str(tmp_path / "o.wav"),
                    faults=[Fault("close", after_turns=1, code=code, reason=reason)])
    assert result.returncode == 3
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "or is not supported for bid… — " in line and "--api-version" in line


def test_vertex_advice_does_not_suggest_an_api_version(tmp_path):
    # The corpus' Vertex reason with the reporter's redacted project id put back at a real length: 123 bytes.
    code, reason = corpus_close("vertex_adk-3314_1008_publisher_model_not_found.jsonl")
    reason = reason.replace("<PROJECT_NMAE>", "my-project-id-12345678")
    assert len(reason.encode()) == 123
    result, _ = run(tmp_path, "--output-file", str(tmp_path / "o.wav"), kind="vertex",
                    faults=[Fault("close", after_turns=1, code=code, reason=reason)])
    assert result.returncode == 3
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "gemini-live-2.5-flash-preview-na… — " in line
    assert "--api-version" not in line and "check --model" in line


# -- 11. newer models: model-specific setup fields ------------------------------------------------------------

REFUSED_ON_38 = {"enableAffectiveDialog", "enable_affective_dialog", "proactivity", "thinkingConfig",
                 "thinking_config"}


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
def test_a_default_setup_carries_nothing_a_3_8_model_refuses(tmp_path, kind):
    result, (conn,) = run(tmp_path, "--model", "gemini-3.8-live", "--output-file", str(tmp_path / "o.wav"), kind=kind)
    assert result.returncode == 0, result.stderr
    assert conn.model.endswith("models/gemini-3.8-live")
    assert not keys_in(conn.setup) & REFUSED_ON_38


def test_a_setup_refused_for_a_field_names_the_option_that_sent_it(tmp_path):
    code, reason = corpus_close("gemini_cookbook-775_1007_affective_dialog_unknown_name.jsonl")
    result, (conn,) = run(tmp_path, "--model", "gemini-3.8-live", "--affective-dialog",
                          "--output-file", str(tmp_path / "o.wav"),
                          faults=[Fault("close", after_turns=0, code=code, reason=reason)])
    assert result.returncode == 3
    assert keys_in(conn.setup) & {"enableAffectiveDialog", "enable_affective_dialog"}
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert 'Unknown name "enable_affective_dialog"' in line
    assert "refused the setup field that --affective-dialog sets: run without --affective-dialog" in line
