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


def two_utterances(tmp_path):
    """A 300 Hz second, a pause, a 500 Hz second, a pause: two turns."""
    t = np.arange(RATE) / RATE
    quiet = np.zeros(int(1.6 * RATE))
    speech = np.concatenate([quiet[:3200], 8000 * np.sin(2 * np.pi * 300 * t), quiet,
                             8000 * np.sin(2 * np.pi * 500 * t), quiet]).astype("<i2")
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
    first, second = connections
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
    if whole_first_reply:
        assert echoed > 2.0 and len(heard) / rate == pytest.approx(echoed, abs=0.05)
    else:  # the first reply was cut where the connection broke; the second was heard whole
        assert echoed > 2.0 and 1.0 < len(heard) / rate < echoed - 0.3
    text = transcript.read_text()
    assert text.count('"event": "turn"') == 2 and ('"event": "reconnecting"' in text or '"state": "switching"' in text)
    assert CANARY_KEY not in result.stdout + result.stderr + text
    # the recording holds the whole conversation: both utterances on the left, both replies on the right
    both, _ = soundfile.read(record, dtype="int16")
    assert len(both) / 24000 > 5.0 and np.abs(both[:, 1]).max() > 1000


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
    # the default (six, after 0, 0.5, 1, 2, 4 and 8 s) is test_link's, with an injected sleep
    attempts = [line for line in result.stdout.splitlines() if "reconnecting (attempt" in line]
    assert "attempt 2 of 2" in attempts[-1] and 2 <= len(attempts) <= 3
    assert "Traceback" not in result.stderr


def run_with(tmp_path, faults, *extra, input_file=None):
    wav_in = input_file or two_utterances(tmp_path)[0]
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=8.0, faults=faults)
    gw = thread.start()
    try:
        transcript, record = tmp_path / "t.md", tmp_path / "r.wav"
        result = tfy_live("talk", "--provider", "acct", "--input-file", str(wav_in), "--output-file",
                          str(tmp_path / "o.wav"), "--transcript", str(transcript), "--record", str(record),
                          *extra, env=target_env(gw))
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
    assert rate == 24000 and len(both) / rate > 1.5


@pytest.mark.parametrize("status, message, expected", [
    (403, "key may not use this model", "(HTTP 403: key may not use this model); ask for access"),
    (429, "quota exceeded", "(HTTP 429: quota exceeded) — the provider account's quota is used up"),
    (503, "upstream unavailable", "the gateway failed (HTTP 503: upstream unavailable)"),
])
def test_a_refused_upgrade_is_one_line_with_the_gateway_s_status_and_message(tmp_path, status, message, expected):
    result, connections, _, _ = run_with(tmp_path, [Fault("reject", code=status, reason=message)])
    assert result.returncode == 3
    assert expected in one_error_line(result)
    assert len(connections) == 1  # the first connection is not retried: the user should hear at once


def test_no_setup_answer_within_the_timeout_is_one_line_naming_the_option(tmp_path):
    result, _, _, _ = run_with(tmp_path, [Fault("slow_setup", delay_s=5)], "--setup-timeout", "0.5")
    assert result.returncode == 3
    assert "no setupComplete from 127.0.0.1" in one_error_line(result) and "--setup-timeout" in result.stderr
