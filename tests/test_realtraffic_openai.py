"""The corpus of real OpenAI realtime traffic (tests/realtraffic/openai): every file is valid and read by
tfy-live's translator without an unknown type, and replayed through the real CLI and the real openai SDK over
TLS (``local-gateway --replay``), each shows the user what the recording says it must.

Files under ``openai/synthetic/`` are not recordings: built from the API reference and tfy-live's own hostile
cases (``"shape": "reference"``, a note starting "NOT a recording").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.test_realtraffic import Case, Seen, assert_seen  # one record of a replay, one check of it
from tfy_live.events import UnknownMessage
from tfy_live.gateway_openai.translate import BETA_NAMES, IGNORED, Reader
from tfy_live.localgw import GatewayThread
from tfy_live.localgw.replay import ANNOTATIONS, EVENTS, REALTIME_KINDS, SHAPES, Frame, load

HERE = Path(__file__).resolve().parent / "realtraffic"
RECORDED = sorted((HERE / "openai").glob("*.jsonl"))
SYNTHETIC = sorted((HERE / "openai" / "synthetic").glob("*.jsonl"))
HEADER_KEYS = ("source", "licence", "kind", "model", "note", "shape", "covers")


def lines_of(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return [(n, json.loads(line)) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if line.strip()]


def by_name(paths: list[Path]) -> list[Any]:
    return [pytest.param(path, id=path.relative_to(HERE).as_posix()) for path in paths]


# -- every file is valid ------------------------------------------------------------------------------------------
def test_the_corpus_is_there_and_the_readme_lists_every_file():
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    assert len(RECORDED) >= 15 and len(SYNTHETIC) >= 8
    for path in RECORDED + SYNTHETIC:
        assert f"`{path.relative_to(HERE / 'openai').as_posix()}`" in readme, path.name


@pytest.mark.parametrize("path", by_name(RECORDED + SYNTHETIC))
def test_header_and_events_are_the_documented_ones(path):
    (_, header), *events = lines_of(path)
    assert all(key in header for key in HEADER_KEYS), [key for key in HEADER_KEYS if key not in header]
    assert header["kind"] in REALTIME_KINDS and header["shape"] in SHAPES and isinstance(header["covers"], list)
    if path in SYNTHETIC:  # never a made-up frame presented as recorded
        assert header["shape"] == "reference" and header["note"].startswith("NOT a recording")
    else:
        assert header["shape"] != "reference" and "NOT a recording" not in header["note"]
    for number, event in events:
        kinds = [key for key in event if key in EVENTS and key != "prose"] or ["prose"]
        assert len(kinds) == 1 and set(event) <= {*EVENTS, *ANNOTATIONS}, f"line {number}: {event}"
        if "recv" in event:
            assert isinstance(event["recv"].get("type"), str), f"line {number}: a realtime event has a type"
    load(path)


def known_types() -> set[str]:
    """Every server event type the openai SDK declares (its GA union), and the beta names tfy-live reads."""
    from typing import get_args

    from openai.types.realtime import RealtimeServerEvent

    union = get_args(get_args(RealtimeServerEvent)[0]) or get_args(RealtimeServerEvent)
    types = {get_args(cls.model_fields["type"].annotation)[0] for cls in union}
    return types | set(BETA_NAMES) | {"conversation.item.created"}  # the beta name of conversation.item.added


@pytest.mark.parametrize("path", by_name(RECORDED + SYNTHETIC))
def test_every_frame_is_a_type_the_sdk_knows_and_tfy_live_reads_without_skipping(path):
    """Recorded types are the SDK's (GA) or the beta names; tfy-live's reader takes each one, none as unknown."""
    known, reader = known_types(), Reader()
    for session in load(path).sessions:
        for step in session.steps:
            if isinstance(step, Frame):
                kind = step.message["type"]
                assert kind in known, (step.line, kind)
                if kind != "error":  # error events are read by gateway_openai.errors, not the reader
                    out = reader.read(step.message)
                    assert not any(isinstance(e, UnknownMessage) for e in out), (step.line, kind, out)
    assert not {BETA_NAMES.get(name, name) for name in BETA_NAMES} - known - IGNORED - {
        "response.output_audio.delta", "response.output_audio_transcript.delta", "response.output_text.delta"}


# -- replayed through the real CLI, the real openai SDK, real TLS -------------------------------------------------
@dataclass(frozen=True)
class Run:
    """One replay of ``file`` (under tests/realtraffic/openai) to ``chat … hi``, or to ``talk`` speaking a
    1.3 s WAV with a 0.5 s tone (the recorded frames do not depend on what is said)."""

    file: str
    command: str = "chat"
    then: str | None = None
    reply_timeout: float = 1.0
    turns: int | None = 1  # talk's --turns; None: the run ends after the grace period that waits for another


_seen: dict[Run, Seen] = {}


def replayed(run: Run, folder: Path) -> Seen:
    """Run ``run`` once per test process (several cases read the same run: xdist_group keeps them together)."""
    if run in _seen:
        return _seen[run]
    thread = GatewayThread(api_key=CANARY_KEY, replay=HERE / "openai" / run.file, replay_speed=20,
                           replay_then=run.then, record=True)
    gw = thread.start()
    try:
        target = ["--provider", "acct", "--provider-kind", "openai", "--reply-timeout", f"{run.reply_timeout:g}"]
        if run.command == "chat":
            args = ["chat", *target, "hi"]
        else:
            wav = folder / "in.wav"
            pcm = np.zeros(int(1.3 * 16000))
            pcm[3200:11200] = 8000 * np.sin(2 * np.pi * 300 * np.arange(8000) / 16000)
            soundfile.write(wav, pcm.astype("<i2"), 16000, subtype="PCM_16")
            # --turns 1: the run ends with the first reply, not after the grace period that waits for another
            turns = ["--turns", str(run.turns)] if run.turns is not None else []
            args = ["talk", *target, *turns, "--input-file", str(wav), "--output-file", str(folder / "out.wav")]
        result = tfy_live(*args, "--ca-bundle", str(gw.ca_file),
                          env=clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL=gw.base_url), timeout=60)
        seen = Seen(result.returncode, result.stdout, result.stderr, list(gw.connections))
    finally:
        thread.stop()
    _seen[run] = seen
    return seen


NO_REPLY = r"the model did not reply within 1 s"
KEY_FIX = r"refused the key .*check TFY_API_KEY"
SKIPPED = r"skipped a frame|reported an error"
SYN = "synthetic/"
ANSWERED = r"(?m)^You said: hi$"  # the echo model's answer to the typed line, from the new session
AGAIN = r"your last message had no complete answer, so it was sent again"

# The four error events come after response.done: with --turns 1 the run ended at response.done, racing
# them, and on a loaded machine they were never shown (twice in the whole suite). Without it the run listens
# on through the grace period, and they arrive well inside it.
PROBE_8 = Run("ga_probe-8_text_turn_usage_and_nonfatal_errors.jsonl", "talk", turns=None)

CASES = [
    # GA: a text turn, its usage, the four non-fatal errors; rate_limits.updated after response.done
    Case("ga-text-turn-with-usage-and-latency", PROBE_8, 0,
         said=(r"model: Hi there, friend!", r"turn: turn 1 · latency \d+ ms · 127 tokens \(120 in, 7 out\)",
               r"summary: done: 1 turn"), unsaid=(r"skipped a frame",)),
    Case("ga-error-events-are-notices-and-the-session-goes-on", PROBE_8, 0,
         said=(r"notice: the provider reported an error and the session goes on: invalid_value: Invalid value: 'nope'",
               r"unknown_parameter: Unknown parameter: 'session.bogus_field'\.", r"invalid_event: Expected a text")),
    # GA: audio usage with cached audio tokens; the done events are bookkeeping
    Case("ga-audio-usage-is-counted", Run("ga_sipgateway_CsZy_audio_turn_end_usage.jsonl", "talk"), 3,
         error=NO_REPLY, said=(r"summary: done: 0 turns.*320 tokens",), unsaid=(SKIPPED,)),
    # GA: server VAD events, a transcript delta, then nothing more: a stalled reply ends the session
    Case("ga-a-reply-that-stops-midway-does-not-hang", Run("ga_sipgateway_Ct1O_speech_turn_start.jsonl", "talk"), 3,
         error=r"the model stopped in the middle of its reply: nothing came for 1 s", said=(r"model: Sure",),
         unsaid=(SKIPPED,)),
    # beta: response.text.delta and friends are read as the GA names
    Case("beta-text-events-are-shown", Run("beta_liusida_text_response_node_log.jsonl"), 0,
         said=(r'"word": "pending",', r"\}"), unsaid=(SKIPPED,)),
    # refusals at connect: error event, then close 3000/4000 in the same instant
    Case("bad-key-names-the-key", Run("ga_probe-10_bad_key_error_then_3000.jsonl"), 3,
         error=KEY_FIX + r".*'acct'"),
    Case("missing-auth-names-the-key-not-the-model", Run("ga_probe-10b_no_auth_error_then_3000.jsonl"), 3,
         error=r"refused the key \(invalid_request_error: Missing bearer or basic authentication in header\)"),
    Case("unknown-model-names-model", Run("ga_probe-11_unknown_model_error_then_4000.jsonl"), 3,
         error=r'Model "gpt-nope" is not supported in realtime mode… — .*check --model'),
    Case("beta-shape-refusal-names-the-account", Run("ga_probe-8b_beta_header_error_then_4000.jsonl"), 3,
         error=r"retired beta realtime protocol \(beta_api_shape_disabled\); check that provider account 'acct'"),
    Case("setup-refused-in-the-servers-words", Run("beta_livekit-1183_string_above_max_length_at_setup.jsonl"), 3,
         error=r"refused the session setup \(string_above_max_length: Invalid 'session\.tools\[3\]\.description'"),
    # the session's maximum duration: a new session (said so), never "the gateway is restarting"
    Case("1001-max-duration-starts-a-new-session", Run("ga_reachy-mini-134_1001_max_duration_60_minutes.jsonl",
                                                        then="echo"), 0,
         said=(r"maximum duration \(closed with code 1001: Your session hit the maximum duration of 60 minutes\.\)",
               r"this is a new session", ANSWERED), unsaid=(r"restart or deploy",), connections=(2, 2)),
    Case("session-expired-error-starts-a-new-session", Run("beta_twilio-10_session_expired_error.jsonl",
                                                            then="echo"), 0,
         said=(r"maximum duration \(session_expired: Your session hit the maximum duration of 15 minutes\.\)",
               r"this is a new session", ANSWERED), connections=(2, 2)),
    # races and refusals a client must take quietly
    Case("cancel-race-is-harmless", Run("ga_agents-js-189_response_cancel_not_active.jsonl"), 3, error=NO_REPLY,
         unsaid=(SKIPPED, r"Cancellation failed")),
    Case("active-response-refusal-asks-again", Run("ga_agents-python-1466_conversation_already_has_active_response.jsonl"),
         3, error=NO_REPLY, unsaid=(r"already has an active response",)),
    Case("truncate-past-the-end-is-quiet", Run("ga_luke-564_truncate_past_the_end_refused_then_applied.jsonl"), 3,
         error=NO_REPLY, unsaid=(r"Audio content of", SKIPPED)),
    Case("truncate-at-0-ms-refusal-is-quiet",
         Run("ga_livekit-6158_truncate_nothing_played_unsupported_content_type.jsonl"), 3, error=NO_REPLY,
         unsaid=(r"Only model output audio", SKIPPED)),
    # synthetic: responses that end badly, hostile text, closes mid-reply
    Case("failed-response-with-rate-limit-says-so", Run(SYN + "response_done_failed_rate_limit.jsonl", then="echo"), 0,
         said=(r"rate limiting this session \(rate_limit_exceeded: Rate limit reached for gpt-4o-mini-realtime",
               ANSWERED), connections=(2, 2)),
    Case("incomplete-response-says-why", Run(SYN + "response_done_incomplete_max_output_tokens.jsonl"), 0,
         said=(r"Once upon a time there", r"ended the reply early \(incomplete: max_output_tokens\)")),
    Case("control-characters-and-the-key-never-reach-the-terminal",
         Run(SYN + "error_with_control_characters_and_the_key.jsonl"), 0,
         said=(r"reported an error and the session goes on: invalid_value: bad \\x1b\[2J", r"Hello \\x1b\[31mred"),
         unsaid=("\x1b", "\x07", "\u202e", "dGZ5LWNhbmFyeS1LRVktMDEyMzQ1Njc4OWFiY2RlZg")),
    Case("fatal-error-with-the-key-is-one-masked-line", Run(SYN + "error_fatal_with_the_key.jsonl"), 3,
         error=KEY_FIX, unsaid=("\x1b",)),
    Case("close-1011-mid-reply-starts-a-new-session",
         Run(SYN + "close_1011_mid_response_then_new_session.jsonl", then="echo"), 0,
         said=(r"I was saying", r"1011: internal server error.*reconnecting", r"this is a new session", AGAIN, ANSWERED),
         connections=(2, 2)),
    Case("drop-mid-reply-starts-a-new-session", Run(SYN + "drop_mid_response_then_new_session.jsonl", then="echo"),
         0, said=(r"I was saying", r"1006.*reconnecting", r"this is a new session", AGAIN, ANSWERED),
         connections=(2, 2)),
    Case("close-4000-mid-reply-is-fatal-in-the-servers-words", Run(SYN + "close_4000_mid_response.jsonl"), 3,
         error=r"closed with code 4000: invalid_request_error\.invalid_model — .*--model", said=(r"I was saying",)),
    Case("close-1000-mid-reply-is-retried-within-bounds", Run(SYN + "close_1000_mid_response.jsonl"), 3,
         error=r"did not reply|code 1000",
         said=(r"I was saying", r"code 1000.*reconnecting", AGAIN), connections=(2, 6)),
    Case("server-error-before-close-is-the-errors-words",
         Run(SYN + "server_error_right_before_close.jsonl", then="echo"), 0,
         said=(r"the provider failed \(server_error: The server had an error while processing your request", ANSWERED),
         unsaid=(r"1011",), connections=(2, 2)),
]


def params() -> list[Any]:
    return [pytest.param(case, id=case.id, marks=[pytest.mark.xdist_group("oa:" + repr(case.run))])
            for case in CASES]


def test_every_file_is_replayed_by_some_case():
    assert {p.relative_to(HERE / "openai").as_posix() for p in RECORDED + SYNTHETIC} <= {c.run.file for c in CASES}


@pytest.mark.parametrize("case", params())
def test_replayed_through_the_cli_the_user_sees_what_the_recording_says(case, tmp_path):
    assert_seen(case, replayed(case.run, tmp_path))
