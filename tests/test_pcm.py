"""Pure PCM conversions, levels and the real-time clocks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tfy_live.audio.level import rms_dbfs
from tfy_live.audio.pacing import MicClock, SpeakerClock
from tfy_live.audio.pcm import (
    Resampler,
    duration_s,
    resample,
    silence,
    slices,
    to_mono_s16,
)


def sine(
    rate: int, seconds: float, freq: float = 440.0, amp: float = 0.5
) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def s16(x: np.ndarray) -> bytes:
    return np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes()


def as_array(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")


def peak_hz(pcm: bytes, rate: int) -> float:
    x = as_array(pcm).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


# --- to_mono_s16 ------------------------------------------------------------


def test_int16_mono_passes_through_exactly():
    x = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.int16)
    assert to_mono_s16(x) == x.astype("<i2").tobytes()


def test_float_is_scaled_and_clipped():
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0], dtype=np.float64)
    assert as_array(to_mono_s16(x)).tolist() == [
        0,
        16384,
        -16384,
        32767,
        -32768,
        32767,
        -32768,
    ]


def test_channels_are_averaged():
    left = np.full(4, 0.5, dtype=np.float32)
    right = np.zeros(4, dtype=np.float32)
    assert as_array(to_mono_s16(np.stack([left, right], axis=1))).tolist() == [8192] * 4


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        (np.int32, 2**30, 16384),
        (np.uint8, 192, 16384),
        (np.int8, -64, -16384),
    ],
)
def test_integer_dtypes_use_their_full_scale(dtype, value, expected):
    assert as_array(to_mono_s16(np.array([value], dtype=dtype))).tolist() == [expected]


def test_to_mono_s16_resamples_when_given_rates():
    pcm = to_mono_s16(np.stack([sine(44100, 1.0)] * 2, axis=1), 44100, 16000)
    assert abs(len(pcm) // 2 - 16000) <= 1
    assert peak_hz(pcm, 16000) == pytest.approx(440, abs=2)


def test_to_mono_s16_rejects_other_shapes():
    with pytest.raises(ValueError):
        to_mono_s16(np.zeros((2, 2, 2), dtype=np.float32))


# --- resampling -------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "dst"), [(24000, 16000), (16000, 24000), (8000, 16000)]
)
def test_resample_keeps_length_and_pitch(src, dst):
    out = resample(s16(sine(src, 1.0)), src, dst)
    assert abs(len(out) // 2 - dst) <= 1
    assert peak_hz(out, dst) == pytest.approx(440, abs=2)


def test_resample_same_rate_is_identity():
    pcm = s16(sine(16000, 0.1))
    assert resample(pcm, 16000, 16000) == pcm
    assert Resampler(16000, 16000).process(pcm) == pcm


def test_streaming_resampler_matches_one_shot_without_clicks():
    pcm = s16(sine(24000, 1.0))
    r = Resampler(24000, 16000)
    parts = [r.process(chunk) for chunk in slices(pcm, 480)]
    streamed = b"".join(parts) + r.flush()
    whole = resample(pcm, 24000, 16000)
    assert abs(len(streamed) - len(whole)) <= 4
    a, b = as_array(streamed).astype(int), as_array(whole).astype(int)
    n = min(len(a), len(b))
    # Same signal, and no discontinuity at the 20 ms chunk boundaries: the
    # largest sample-to-sample step is that of the clean sine.
    assert np.max(np.abs(a[200 : n - 200] - b[200 : n - 200])) < 64
    assert (
        np.max(np.abs(np.diff(a[200:-200])))
        <= np.max(np.abs(np.diff(b[200:-200]))) + 64
    )


def test_streaming_resampler_restarts_after_flush():
    r = Resampler(16000, 24000)
    first = r.process(s16(sine(16000, 0.2))) + r.flush()
    second = r.process(s16(sine(16000, 0.2))) + r.flush()
    assert first == second


# --- levels, slices, silence -------------------------------------------------


def test_rms_dbfs():
    assert rms_dbfs(b"") == -math.inf
    assert rms_dbfs(silence(16000, 20)) == -math.inf
    assert rms_dbfs(s16(np.full(100, 0.5))) == pytest.approx(-6.02, abs=0.01)
    assert rms_dbfs(s16(sine(16000, 1.0, amp=1.0))) == pytest.approx(-3.01, abs=0.05)
    with pytest.raises(ValueError):
        rms_dbfs(b"\x00\x01\x02")  # not whole s16 frames


def test_rms_dbfs_matches_the_exact_level_of_speech_like_chunks():
    # audioop's RMS is a whole sample value: within 0.05 dB of the exact level down to -45 dBFS
    # (the speech threshold), within 0.3 dB at -60.
    rng = np.random.default_rng(3)
    for level_db, within in ((-10, 0.05), (-30, 0.05), (-45, 0.05), (-60, 0.3)):
        noise = rng.standard_normal(320) * 10 ** (level_db / 20)
        x = np.frombuffer(s16(noise), "<i2").astype(np.float64)
        exact = 10 * math.log10(np.mean(x * x) / 32768**2)
        assert rms_dbfs(s16(noise)) == pytest.approx(exact, abs=within)


def test_slices_cut_whole_frames_with_a_short_tail():
    pcm = bytes(range(10))  # 5 frames
    assert list(slices(pcm, 2)) == [
        bytes([0, 1, 2, 3]),
        bytes([4, 5, 6, 7]),
        bytes([8, 9]),
    ]
    assert list(slices(b"", 2)) == []


def test_slices_reject_half_frames_and_bad_sizes():
    with pytest.raises(ValueError):
        list(slices(b"\x00\x00\x00", 1))
    with pytest.raises(ValueError):
        list(slices(b"\x00\x00", 0))


def test_silence_and_duration():
    assert silence(16000, 20) == bytes(640)
    assert silence(24000, 10) == bytes(480)
    assert duration_s(silence(24000, 500), 24000) == 0.5


# --- clocks -----------------------------------------------------------------


def test_speaker_clock_lets_the_buffer_fill_then_holds_writes_back():
    clock = SpeakerClock(1000, buffer_s=0.040)  # 1 frame = 1 ms
    assert clock.wait_s(20, now=10.0) == 0.0
    clock.commit(20, now=10.0)
    assert clock.wait_s(20, now=10.0) == 0.0  # 40 ms queued: exactly full
    clock.commit(20, now=10.0)
    assert clock.wait_s(20, now=10.0) == pytest.approx(0.020)
    assert clock.wait_s(20, now=10.005) == pytest.approx(0.015)
    clock.commit(20, now=10.020)
    assert clock.queued_s(now=10.020) == pytest.approx(0.040)


def test_speaker_clock_says_how_many_frames_fit_now():
    clock = SpeakerClock(1000, buffer_s=0.040)
    assert clock.room(now=10.0) == 40  # idle: the whole buffer
    clock.commit(30, now=10.0)
    assert clock.room(now=10.0) == 10
    assert clock.room(now=10.0205) == 30  # 20.5 ms played: whole frames only
    clock.commit(100, now=10.5)
    assert clock.room(now=10.5) == 0  # over-full (a write that did not wait): nothing, not less


def test_speaker_clock_restarts_when_idle():
    clock = SpeakerClock(1000, buffer_s=0.040)
    clock.commit(100, now=0.0)  # plays until 0.1
    assert clock.queued_s(now=5.0) == 0.0
    # Idle since 0.1: the next 40 ms go straight in, and the one after waits
    # as if the speaker had started at 5.0, not at 0.0.
    assert clock.wait_s(40, now=5.0) == 0.0
    clock.commit(40, now=5.0)
    assert clock.wait_s(20, now=5.0) == pytest.approx(0.020)


def test_mic_clock_deadlines_do_not_drift():
    clock = MicClock(1000, start=100.0)
    assert clock.wait_s(20, now=100.0) == pytest.approx(0.020)
    clock.tick(20)
    # Overslept by 15 ms: the next deadline is still start + 40 ms.
    assert clock.wait_s(20, now=100.035) == pytest.approx(0.005)
    clock.tick(20)
    # Far behind: overdue chunks are due at once.
    assert clock.wait_s(20, now=101.0) == 0.0


def test_a_conversation_does_not_import_numpy_for_the_microphone_level():
    # numpy and soxr cost every start-up ~55 ms; the conversation needs only the level (audioop).
    import subprocess
    import sys

    code = "import sys, tfy_live.conversation, tfy_live.talk; print(sorted({'numpy', 'soxr'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"
