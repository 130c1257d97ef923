"""Fault injection through the real CLI and SDK: the conversation survives what it can survive."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from tests.cli_run import CANARY_KEY, tfy_live
from tests.test_integration import target_env
from tests.timing import SECOND
from tfy_live.localgw import Fault, GatewayThread

RATE = 16000
TONE_S = 0.6  # each utterance; the pause after it is long enough for the echo model's end of speech (0.5 s)
PAUSE_S = 1.0
# The file ends this soon after the last utterance, before the echo model's end of speech: the end of the
# audio stream ends the utterance, and the conversation ends with its reply, not after a grace period.
END_S = 0.3
INPUT_S = 0.2 + 2 * TONE_S + PAUSE_S + END_S


def two_utterances(tmp_path):
    """A 300 Hz utterance, a pause, a 500 Hz utterance, a pause: two turns."""
    t = np.arange(int(TONE_S * RATE)) / RATE
    speech = np.concatenate([np.zeros(int(0.2 * RATE)), 8000 * np.sin(2 * np.pi * 300 * t), np.zeros(int(PAUSE_S * RATE)),
                             8000 * np.sin(2 * np.pi * 500 * t), np.zeros(int(END_S * RATE))]).astype("<i2")
    path = tmp_path / "two.wav"
    soundfile.write(path, speech, RATE, subtype="PCM_16")
    return path, len(speech) * 2


def main_hz(pcm: bytes, rate: int) -> float:
    x = np.frombuffer(pcm, "<i2").astype(float)
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.abs(np.fft.rfft(x)).argmax()])


@pytest.mark.parametrize("fault, seen, whole_first_reply", [
    (Fault("close", after_turns=1, code=1011, reason="internal error"), "connection closed with code 1011", True),
    (Fault("close", after_turns=0, during_reply=True, code=1011), "connection closed with code 1011", False),
    (Fault("drop", after_turns=1), "connection closed with code 1006", True),
    (Fault("go_away", after_turns=1, time_left_s=1.5), "will close this connection in 2 s", True),
    (Fault("go_away", after_turns=0, during_reply=True, time_left_s=1.5), "will close this connection in 2 s", True),
    (Fault("oversized", after_turns=1), "connection closed with code 1009: frame ", True),
], ids=["1011-between-turns", "1011-mid-reply", "tcp-drop", "goaway-between-turns", "goaway-mid-reply", "oversized"])
def test_the_second_turn_goes_to_a_resumed_connection_and_nothing_is_lost(tmp_path, fault, seen, whole_first_reply):
    wav_in, sent_bytes = two_utterances(tmp_path)
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=8.0, faults=[fault])
    gw = thread.start()
    try:
        out = tmp_path / "reply.wav"
        transcript = tmp_path / "t.jsonl"
        record = tmp_path / "both.wav"
        result = tfy_live("talk", "--provider", "acct", "--input-file", str(wav_in), "--output-file", str(out),
                          "--transcript", str(transcript), "--record", str(record), env=target_env(gw))
        connections = list(gw.connections)
    finally:
        thread.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert seen in result.stdout
    assert "reconnected and resumed" in result.stdout or "switched to a new connection" in result.stdout
    # After a goAway mid-reply the next connection is opened at once, and again from the handle that includes
    # the reply: the one opened from the older handle is dropped unused.
    first, *unused, second = connections
    assert len(unused) <= (1 if fault.action == "go_away" and fault.during_reply else 0)
    assert all(not c.audio_in for c in unused)
    # the new connection resumed the session with the newest handle the first one gave
    handles = [m["sessionResumptionUpdate"]["newHandle"] for m in first.sent if "sessionResumptionUpdate" in m]
    assert second.handle == handles[-1]
    # each side of the fault heard one utterance: 300 Hz, then 500 Hz
    assert main_hz(bytes(first.audio_in), RATE) == pytest.approx(300, abs=10)
    assert main_hz(bytes(second.audio_in), RATE) == pytest.approx(500, abs=10)
    # capture went on throughout: what was not sent before the fault was held and sent after
    lost = sent_bytes - len(first.audio_in) - len(second.audio_in)
    assert 0 <= lost <= 0.3 * RATE * 2, lost  # at most what fell in the socket as it broke
    # both replies were heard, and the transcript kept both turns
    heard, rate = soundfile.read(out, dtype="int16")
    echoed = sum(float(m["serverContent"]["inputTranscription"]["text"].split()[0].strip("("))
                 for c in connections for m in c.sent if "inputTranscription" in m.get("serverContent", {}))
    assert echoed > 2 * TONE_S
    if whole_first_reply:
        assert len(heard) / rate == pytest.approx(echoed, abs=0.05)
    else:  # the first reply was cut where the connection broke; the second was heard whole
        assert TONE_S < len(heard) / rate < echoed - 0.3
    text = transcript.read_text()
    assert text.count('"event": "turn"') == 2 and ('"event": "reconnecting"' in text or '"state": "switching"' in text)
    assert CANARY_KEY not in result.stdout + result.stderr + text
    # the recording holds the whole conversation: both utterances on the left, both replies on the right
    both, _ = soundfile.read(record, dtype="int16")
    assert len(both) / 24000 > INPUT_S - 0.4 and np.abs(both[:, 1]).max() > 1000


def test_a_gateway_that_stays_down_ends_with_the_fix_after_bounded_attempts(tmp_path):
    wav_in, _ = two_utterances(tmp_path)
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=8.0, faults=[Fault("close", after_turns=1, code=1011)])
    gw = thread.start()
    ca = tmp_path / "ca.pem"  # the gateway deletes its own copy when it stops
    ca.write_bytes(open(gw.ca_file, "rb").read())
    env = {**target_env(gw), "SSL_CERT_FILE": str(ca)}
    stopped = False

    try:
        import threading

        def stop_when_faulted():
            nonlocal stopped
            import time

            deadline = time.monotonic() + 30 * SECOND
            while time.monotonic() < deadline and not gw.connections or not any(
                    "turnComplete" in m.get("serverContent", {}) for m in gw.connections[0].sent):
                time.sleep(0.01)
                if time.monotonic() > deadline:
                    return
            thread.stop()  # the gateway is gone for good
            stopped = True

        watcher = threading.Thread(target=stop_when_faulted, daemon=True)
        watcher.start()
        result = tfy_live("talk", "--provider", "acct", "--input-file", str(wav_in), "--output-file",
                          str(tmp_path / "o.wav"), "--reconnect-attempts", "2", env=env, timeout=90 * SECOND)
        watcher.join(5 * SECOND)
    finally:
        if not stopped:
            thread.stop()
    assert result.returncode == 3, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "could not reconnect in 2 attempts" in lines[0] and "refused" in lines[0]
    # two attempts in a row after the gateway went (one more if a reconnect won the race with its stop);
    # the default (five, after 0, 0.5, 1, 2 and 4 s) is test_link's, with an injected sleep
    attempts = [line for line in result.stdout.splitlines() if "reconnecting (attempt" in line]
    assert "attempt 2 of 2" in attempts[-1] and 2 <= len(attempts) <= 3
    assert "Traceback" not in result.stderr


def run_with(tmp_path, faults, *extra, input_file=None, reply_speed=8.0, timeout=60):
    wav_in = input_file or two_utterances(tmp_path)[0]
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=reply_speed, faults=faults)
    gw = thread.start()
    try:
        transcript, record = tmp_path / "t.md", tmp_path / "r.wav"
        result = tfy_live("talk", "--provider", "acct", "--input-file", str(wav_in), "--output-file",
                          str(tmp_path / "o.wav"), "--transcript", str(transcript), "--record", str(record),
                          *extra, env=target_env(gw), timeout=timeout)
        return result, list(gw.connections), transcript, record
    finally:
        thread.stop()


def one_error_line(result) -> str:
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert CANARY_KEY not in result.stdout + result.stderr
    return lines[0]


def test_a_malformed_frame_is_skipped_and_counted_not_fatal(tmp_path):
    result, connections, transcript, _ = run_with(tmp_path, [Fault("malformed", after_turns=0, during_reply=True)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(connections) == 1
    assert "skipped a frame from the gateway that is not JSON (1 so far)" in result.stdout
    assert "2 turns" in result.stdout and "1 malformed frame skipped" in result.stdout
    assert transcript.read_text().count("**model**") == 2


def test_1008_after_setup_ends_with_the_server_s_reason_and_keeps_what_was_said(tmp_path):
    fault = Fault("close", after_turns=1, code=1008, reason="models/gemini-x is not found for API version v1beta")
    result, connections, transcript, record = run_with(tmp_path, [fault])
    assert result.returncode == 3
    line = one_error_line(result)
    assert "code 1008: models/gemini-x is not found for API version v1beta" in line and "check --model" in line
    assert len(connections) == 1  # a refusal is not retried
    # what happened before the close was kept: the first turn in the transcript, a valid recording
    assert transcript.read_text().count("**model**") == 1 and "done: 1 turn" in transcript.read_text()
    both, rate = soundfile.read(record, dtype="int16")
    assert rate == 24000 and len(both) / rate > 0.2 + TONE_S + 0.5


@pytest.mark.parametrize("status, message, expected, attempts", [
    (403, "key may not use this model", "(HTTP 403: key may not use this model); ask for access", 1),
    (429, "quota exceeded", "(HTTP 429: quota exceeded) — the provider account's quota is used up", 1),
    (503, "upstream unavailable", "the gateway failed (HTTP 503: upstream unavailable)", 4),
])
def test_a_refused_upgrade_is_one_line_with_the_gateway_s_status_and_message(tmp_path, status, message, expected,
                                                                             attempts):
    result, connections, _, _ = run_with(tmp_path, [Fault("reject", code=status, reason=message, each=True)])
    assert result.returncode == 3
    assert expected in one_error_line(result)
    assert len(connections) == attempts  # only a brief outage is tried again, and at most three times


def test_no_setup_answer_within_the_timeout_is_one_line_naming_the_option(tmp_path):
    result, _, _, _ = run_with(tmp_path, [Fault("slow_setup", delay_s=5)], "--setup-timeout", "0.5")
    assert result.returncode == 3
    assert "no setupComplete from 127.0.0.1" in one_error_line(result) and "--setup-timeout" in result.stderr


# -- what the real Live service does (tests/realtraffic) --------------------------------------------
# gemini_interpretab_quota_close_new_session.jsonl: setupComplete, then this 1011 about 0.8 s later, on every session.
QUOTA = ("You exceeded your current quota, please check your plan and billing details. For more information on this "
         "error, head to: h")
STALE = "BidiGenerateContent session not found"  # gemini_yeyu2-5_1008_session_not_found.jsonl
UNAVAILABLE = "The service is currently unavailable."  # gemini_adk-streaming-guide-11_…jsonl
DEADLINE = "Deadline expired before operation could complete."  # same file
INTERNAL = "Internal error encountered."  # gemini_forum-167186_1011_internal_error.jsonl
MODEL = ("models/gemini-live-2.5-flash-preview is not found for API version v1beta, or is not supported for "
         "bidiGenerateContent. Call")  # gemini_livekit-4414_1008_model_not_found_v1beta.jsonl
PUBLISHER = ("Publisher Model `projects/<PROJECT_NMAE>/locations/global/publishers/google/models/"
             "gemini-live-2.5-flash-preview-na")  # vertex_adk-3314_1008_publisher_model_not_found.jsonl


def test_quota_spent_after_setup_ends_at_once_with_what_to_do(tmp_path):
    result, connections, _, _ = run_with(tmp_path, [Fault("close", after_s=0.8, code=1011, reason=QUOTA, each=True)],
                                         timeout=40)
    assert result.returncode == 3, result.stdout + result.stderr
    line = one_error_line(result)
    assert "code 1011: You exceeded your current quota" in line and "quota is used up" in line
    assert "wait for the quota window" in line and "plan and billing" in line and "another provider account" in line
    assert len(connections) == 1  # every new connection would get the same


def test_a_server_that_closes_every_new_connection_is_not_reconnected_for_ever(tmp_path):
    """Each connection is set up and closed before it completes a turn: a failed attempt, though it connected."""
    # 0.1 s after setup, at real-time speed: before any reply can end (the held speech is answered at once).
    # One long utterance: whatever part of it a connection holds, its echo lasts longer than that 0.1 s.
    t = np.arange(int(2.5 * RATE)) / RATE
    speech = np.concatenate([np.zeros(int(0.2 * RATE)), 8000 * np.sin(2 * np.pi * 300 * t), np.zeros(int(END_S * RATE))])
    soundfile.write(tmp_path / "long.wav", speech.astype("<i2"), RATE, subtype="PCM_16")
    faults = [Fault("close", after_s=0.1, code=1011, reason=INTERNAL, each=True)]
    result, connections, _, _ = run_with(tmp_path, faults, input_file=tmp_path / "long.wav", reply_speed=1.0,
                                         timeout=45)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "could not reconnect in 5 attempts" in one_error_line(result)
    attempts = [line for line in result.stdout.splitlines() if "reconnecting (attempt" in line]
    assert [line.split("(attempt ")[1] for line in attempts] == [f"{n} of 5)" for n in range(1, 6)]
    assert len(connections) == 6


def long_then_short(tmp_path):
    """2.8 s at 300 Hz, 3.3 s of quiet, a 500 Hz utterance, quiet: a long reply (longer than the goAway's 2 s),
    during which the goAway comes, and which ends before the second utterance begins."""
    t = np.arange(int(2.8 * RATE)) / RATE
    short = np.arange(int(TONE_S * RATE)) / RATE
    speech = np.concatenate([np.zeros(int(0.2 * RATE)), 8000 * np.sin(2 * np.pi * 300 * t), np.zeros(int(3.3 * RATE)),
                             8000 * np.sin(2 * np.pi * 500 * short), np.zeros(int(END_S * RATE))]).astype("<i2")
    path = tmp_path / "long.wav"
    soundfile.write(path, speech, RATE, subtype="PCM_16")
    return path


@pytest.mark.parametrize("code, reason", [(1008, ""), (1011, DEADLINE)], ids=["1008-no-reason", "1011-deadline"])
def test_go_away_mid_reply_opens_the_next_connection_at_once_and_moves_before_the_deadline(tmp_path, code, reason):
    """gemini_interpretab_goaway_then_1008.jsonl: goAway "50s" mid-stream, then 1008 and no reason at the deadline."""
    fault = Fault("go_away", after_turns=0, during_reply=True, time_left_s=2.0, deadline_code=code,
                  deadline_reason=reason)
    result, connections, transcript, _ = run_with(tmp_path, [fault], input_file=long_then_short(tmp_path),
                                                  reply_speed=1.0)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "check --model" not in result.stdout + result.stderr
    assert "switched to a new connection" in result.stdout and "reconnecting" not in result.stdout
    first, second = connections
    went_away = next(at for m, at in zip(first.sent, first.sent_at) if "goAway" in m)
    assert second.sent_at[0] - went_away < 1.0  # set up at once, mid-reply (setupComplete is its first message)
    assert first.received_at[-1] < went_away + 2.0 - 0.3  # the client had moved before the deadline
    handles = [m["sessionResumptionUpdate"]["newHandle"] for m in first.sent if "sessionResumptionUpdate" in m]
    assert second.handle == handles[-1]
    assert main_hz(bytes(second.audio_in), RATE) == pytest.approx(500, abs=10)  # the second utterance, answered
    assert transcript.read_text().count("**model**") == 2


def test_a_stale_handle_on_resume_starts_a_fresh_session_and_says_so(tmp_path):
    faults = [Fault("close", after_turns=1, code=1011, reason=INTERNAL),
              Fault("close_at_setup", connection=1, code=1008, reason=STALE)]
    result, connections, _, _ = run_with(tmp_path, faults)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"code 1008: {STALE}" in result.stdout and "starting a fresh session" in result.stdout
    first, refused, fresh = connections
    assert refused.handle is not None and fresh.handle is None  # the handle was dropped, not retried
    assert main_hz(bytes(fresh.audio_in), RATE) == pytest.approx(500, abs=10)


def test_a_1008_after_working_turns_is_reconnected_with_the_handle(tmp_path):
    result, connections, _, _ = run_with(tmp_path, [Fault("close", after_turns=1, code=1008, reason="")])
    assert result.returncode == 0, result.stdout + result.stderr
    first, second = connections
    assert second.handle is not None and "reconnected and resumed" in result.stdout


def test_a_1008_again_after_the_reconnect_is_reported_in_the_server_s_words(tmp_path):
    faults = [Fault("close", after_turns=1, code=1008, reason=""),
              Fault("close_at_setup", connection=1, each=True, code=1008, reason="Operation is not permitted now")]
    result, connections, _, _ = run_with(tmp_path, faults)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "code 1008: Operation is not permitted now" in one_error_line(result)
    assert len(connections) == 2  # once


@pytest.mark.parametrize("fault", [
    Fault("close_at_setup", code=1011, reason=UNAVAILABLE),
    Fault("reject", code=502, reason="bad gateway"),
    Fault("reject", code=503, reason="upstream unavailable"),
    Fault("reject", code=504, reason="upstream timed out"),
], ids=["1011-unavailable", "http-502", "http-503", "http-504"])
def test_a_brief_outage_at_the_first_connection_is_tried_again_and_said(tmp_path, fault):
    result, connections, transcript, _ = run_with(tmp_path, [fault])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "trying again (attempt 2 of 4)" in result.stdout
    assert len(connections) == 2 and transcript.read_text().count("**model**") == 2


@pytest.mark.parametrize("fault, kind, said, not_said", [
    (Fault("reject", code=401, reason="bad key", each=True), "gemini", "rejected the API key", None),
    (Fault("reject", code=404, reason="no route", each=True), "gemini", "HTTP 404", None),
    (Fault("close_at_setup", code=1007, reason="Request contains an invalid argument.", each=True), "gemini",
     "code 1007: Request contains an invalid argument.", None),
    (Fault("close_at_setup", code=1008, reason=MODEL, each=True), "gemini", "check --model ('gemini-", None),
    (Fault("close_at_setup", code=1008, reason=PUBLISHER, each=True), "vertex", "check --model ('gemini-",
     "--api-version"),
    (Fault("close_at_setup", code=1011, reason=QUOTA, each=True), "gemini", "quota is used up", None),
], ids=["401", "404", "1007", "1008-model", "1008-publisher-model", "quota"])
def test_what_waiting_cannot_cure_is_said_at_once_without_retrying(tmp_path, fault, kind, said, not_said):
    result, connections, _, _ = run_with(tmp_path, [fault], "--provider-kind", kind)
    assert result.returncode == 3, result.stdout + result.stderr
    line = one_error_line(result)
    assert said in line and (not_said is None or not_said not in line), line
    if "--model" in said and kind == "gemini":
        assert "--api-version" in line
    assert len(connections) == 1 and "trying again" not in result.stdout
