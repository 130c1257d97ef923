"""The stereo recording: where each stream lands in time, and the file on disk."""

from __future__ import annotations

import stat
import wave

import numpy as np
import pytest
import soundfile

from tfy_live.errors import ConfigError
from tfy_live.outfiles import Policy
from tfy_live.recorder import LEFT, RIGHT, Recorder, StereoTape

RATE = 1000  # 1 frame = 1 ms keeps the arithmetic readable


def ones(n: int, value: int = 1) -> np.ndarray:
    return np.full(n, value, dtype=np.int16)


def test_a_stream_that_keeps_up_is_laid_end_to_end_despite_jittery_arrival():
    tape = StereoTape(RATE, gap_s=0.1, settle_s=0.0)
    for i, arrival in enumerate([0.020, 0.045, 0.058, 0.081]):  # 20 ms chunks, late and early
        tape.put(LEFT, ones(20, i + 1), arrival)
    out = tape.rest()
    assert list(out[:, LEFT]) == [1] * 20 + [2] * 20 + [3] * 20 + [4] * 20


def test_a_stream_silent_for_longer_than_the_gap_resumes_at_its_arrival_time():
    tape = StereoTape(RATE, gap_s=0.1, settle_s=0.0)
    tape.put(LEFT, ones(2000), 2.0)  # the microphone, 2 s
    tape.put(RIGHT, ones(20, 7), 0.520)  # a slice handed to the speaker at 0.5 s
    tape.put(RIGHT, ones(20, 8), 0.540)
    tape.put(RIGHT, ones(20, 9), 1.500)  # the next reply, after a pause
    right = tape.rest()[:, RIGHT]
    assert (right[:500] == 0).all()
    assert (right[500:520] == 7).all() and (right[520:540] == 8).all()
    assert (right[540:1480] == 0).all()
    assert (right[1480:1500] == 9).all()


def test_only_what_can_no_longer_change_is_settled():
    tape = StereoTape(RATE, gap_s=0.1, settle_s=1.0)
    tape.put(LEFT, ones(500), 0.5)
    assert len(tape.settled()) == 0  # the model channel may still write at 0 ms
    tape.put(LEFT, ones(2500), 3.0)
    settled = tape.settled()
    # the idle right channel can no longer land before 3.0 - 0.1 - 1.0 s
    assert len(settled) == 1900
    tape.put(RIGHT, ones(20, 5), 3.0)  # lands at its arrival, after the settled part
    rest = tape.rest()
    assert len(settled) + len(rest) == 3000
    assert (rest[-20:, RIGHT] == 5).all()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_recorder_writes_a_stereo_wav_user_left_model_right(tmp_path):
    clock = FakeClock()
    path = tmp_path / "talk.wav"
    with Recorder(path, mic_rate=16000, rate=24000, clock=clock) as rec:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        t = np.arange(320) / 16000
        for i in range(150):  # 3 s of a 440 Hz tone from the microphone
            clock.now += 0.02
            pcm = (8000 * np.sin(2 * np.pi * 440 * (t + i * 0.02))).astype("<i2").tobytes()
            rec.mic(pcm)
            if 50 <= i < 100:  # the model speaks from 1 s to 2 s, 20 ms slices
                rec.played(np.full(480, 3000, dtype="<i2").tobytes())
        # The file is a valid WAV while it is still being written.
        with wave.open(str(path)) as partial:
            assert partial.getnchannels() == 2 and partial.getframerate() == 24000
            assert partial.getnframes() > 24000
    audio, rate = soundfile.read(path, dtype="int16")
    assert rate == 24000 and audio.shape[1] == 2
    assert abs(len(audio) / rate - 3.0) < 0.05
    left, right = audio[:, 0].astype(float), audio[:, 1]
    spectrum = np.abs(np.fft.rfft(left))
    assert abs(np.fft.rfftfreq(len(left), 1 / rate)[spectrum.argmax()] - 440) < 2
    speaking = np.flatnonzero(right)
    assert abs(speaking[0] / rate - 1.0) < 0.03 and abs((speaking[-1] + 1) / rate - 2.0) < 0.03
    assert len(speaking) == 50 * 480  # every slice, once, end to end


def test_an_existing_file_is_refused_and_with_overwrite_replaced_and_made_private(tmp_path):
    path = tmp_path / "old.wav"
    path.write_bytes(b"x" * 100)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="already exists; pass --overwrite to replace it"):
        Recorder(path)
    assert path.read_bytes() == b"x" * 100
    with Recorder(path, policy=Policy(overwrite=True)):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with wave.open(str(path)) as empty:
        assert empty.getnframes() == 0 and empty.getnchannels() == 2


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing" / "r.wav", "does not exist; create it with `mkdir -p .*` or pass another --record"),
    (lambda p: p, "is a directory; pass a file name as --record"),
])
def test_a_path_that_cannot_be_written_is_refused_with_the_fix(tmp_path, make, message):
    with pytest.raises(ConfigError, match=message):
        Recorder(make(tmp_path))
