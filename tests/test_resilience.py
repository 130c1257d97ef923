"""Fault injection through the real CLI and SDK: the conversation survives what it can survive."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from tests.cli_run import CANARY_KEY, tfy_live
from tests.test_integration import target_env
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


@pytest.mark.parametrize("fault, seen", [
    (Fault("close", after_turns=1, code=1011, reason="internal error"), "connection closed with code 1011"),
    (Fault("drop", after_turns=1), "connection closed with code 1006"),
    (Fault("go_away", after_turns=1, time_left_s=1.5), "will close this connection in 2 s"),
])
def test_the_second_turn_goes_to_a_resumed_connection_and_nothing_is_lost(tmp_path, fault, seen):
    wav_in, sent_bytes = two_utterances(tmp_path)
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=8.0, faults=[fault])
    gw = thread.start()
    try:
        out = tmp_path / "reply.wav"
        transcript = tmp_path / "t.jsonl"
        result = tfy_live("talk", "--provider", "acct", "--input-file", str(wav_in), "--output-file", str(out),
                          "--transcript", str(transcript), env=target_env(gw), timeout=60)
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
    assert echoed > 2.0 and len(heard) / rate == pytest.approx(echoed, abs=0.05)
    text = transcript.read_text()
    assert text.count('"event": "turn"') == 2 and ('"event": "reconnecting"' in text or '"state": "switching"' in text)
    assert CANARY_KEY not in result.stdout + result.stderr + text


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

            deadline = time.monotonic() + 30
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
                          str(tmp_path / "o.wav"), env=env, timeout=90)
        watcher.join(5)
    finally:
        if not stopped:
            thread.stop()
    assert result.returncode == 3, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "could not reconnect in 6 attempts" in lines[0] and "refused" in lines[0]
    assert result.stdout.count("reconnecting (attempt") == 6
    assert "Traceback" not in result.stderr
