"""``--record FILE.wav``: the conversation as heard, user left, model right.

Two streams arrive in real time: microphone chunks (16 kHz, as captured) and
model slices (at the speaker's rate, as each is handed to the speaker). A
reply that is interrupted is recorded only as far as it was played, because
the player drops the rest before it reaches us.

``StereoTape`` (pure) decides where each piece goes on a shared time axis:
a stream that keeps up is laid end to end (the device clocks are steadier
than the arrival times), and a stream that was silent for longer than
``gap_s`` (the model between replies, a stalled microphone) resumes at the
time it arrived. What can no longer change is handed out in order and
``Recorder`` appends it to the WAV file, whose header is patched on every
write, so the file is valid at every moment — after a crash too.
"""

from __future__ import annotations

import os
import time
import wave
from pathlib import Path
from typing import BinaryIO, Callable, Self

import numpy as np

from tfy_live.audio import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH
from tfy_live.audio.pcm import Resampler
from tfy_live.errors import AudioError

LEFT, RIGHT = 0, 1  # user, model


class StereoTape:
    """Places two mono streams on one time axis and hands out the settled part.

    Positions are in frames at ``rate`` from time zero. ``put(channel, samples,
    now)``: ``samples`` (int16) ended at ``now`` seconds. Anything more than
    ``settle_s`` behind the present and behind both channels' write positions
    is settled: ``settled()`` returns it (frames x 2) and forgets it.
    """

    def __init__(self, rate: int, *, gap_s: float = 0.1, settle_s: float = 1.0) -> None:
        self.rate = rate
        self.gap = round(gap_s * rate)
        self.settle = round(settle_s * rate)
        self.cursors = [0, 0]  # next frame to write, per channel
        self._base = 0  # frame index of self._pending[0]
        self._pending = np.zeros((0, 2), dtype=np.int16)
        self._now = 0  # the latest time seen, in frames

    def put(self, channel: int, samples: np.ndarray, now_s: float) -> None:
        now = round(now_s * self.rate)
        self._now = max(self._now, now)
        start_by_clock = now - len(samples)
        cursor = self.cursors[channel]
        start = start_by_clock if start_by_clock - cursor > self.gap else cursor
        start = max(start, self._base)  # never before what was already handed out
        end = start + len(samples)
        self._grow(end)
        self._pending[start - self._base : end - self._base, channel] = samples
        self.cursors[channel] = max(cursor, end)

    def settled(self) -> np.ndarray:
        # A later put starts at its channel's cursor or at most gap + settle
        # frames before the present: nothing before that can change.
        horizon = max(0, self._now - self.gap - self.settle)
        limit = min(max(cursor, horizon) for cursor in self.cursors)
        return self._take(limit)

    def rest(self) -> np.ndarray:
        """Everything still pending, up to the furthest write (at the end)."""
        return self._take(max(self.cursors))

    def _take(self, limit: int) -> np.ndarray:
        count = max(0, limit - self._base)
        self._grow(limit)
        out = self._pending[:count]
        self._pending = self._pending[count:].copy()
        self._base += count
        return out

    def _grow(self, end: int) -> None:
        missing = end - self._base - len(self._pending)
        if missing > 0:
            self._pending = np.concatenate([self._pending, np.zeros((missing, 2), dtype=np.int16)])


class Recorder:
    """A 16-bit stereo WAV at ``rate`` (the speaker's): microphone left, model right.

    Created readable by the owner only (it holds private speech). ``mic()``
    takes s16le at ``mic_rate``, ``played()`` s16le at ``rate``; both expect
    to be called as the audio happens. Use as a context manager.
    """

    def __init__(self, path: str | os.PathLike[str], *, mic_rate: int = INPUT_RATE, rate: int = OUTPUT_RATE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.rate = rate
        self._clock = clock
        self._start: float | None = None
        self._tape = StereoTape(rate)
        self._resampler = Resampler(mic_rate, rate)
        self._file: BinaryIO | None = None
        self._wave: wave.Wave_write | None = None
        self.frames_written = 0
        _check_path(self.path)

    def __enter__(self) -> Self:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            os.fchmod(fd, 0o600)  # an existing file keeps its mode on O_CREAT
            self._file = os.fdopen(fd, "wb")
            self._wave = wave.open(self._file, "wb")  # noqa: SIM115 (closed in close())
            self._wave.setnchannels(2)
            self._wave.setsampwidth(SAMPLE_WIDTH)
            self._wave.setframerate(self.rate)
            self._wave.writeframes(b"")  # a valid (empty) WAV from the start
            self._file.flush()
        except OSError as exc:
            self.close()
            raise _error(self.path, exc) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mic(self, pcm: bytes) -> None:
        now = self._now()
        self._put(LEFT, self._resampler.process(pcm), now)

    def played(self, pcm: bytes) -> None:
        self._put(RIGHT, pcm, self._now())

    def close(self) -> None:
        wav, f = self._wave, self._file
        try:
            if wav is not None:
                tail = self._resampler.flush()
                if tail:
                    self._tape.put(LEFT, np.frombuffer(tail, dtype="<i2"), self._now())
                self._write(self._tape.rest())
        finally:
            self._wave = self._file = None
            try:
                if wav is not None:
                    wav.close()  # the final header patch
            except OSError:
                pass
            finally:
                if f is not None:
                    f.close()

    def _now(self) -> float:
        now = self._clock()
        if self._start is None:
            self._start = now
        return now - self._start

    def _put(self, channel: int, pcm: bytes, now: float) -> None:
        if self._wave is None:
            return
        if pcm:
            self._tape.put(channel, np.frombuffer(pcm, dtype="<i2"), now)
        self._write(self._tape.settled())

    def _write(self, frames: np.ndarray) -> None:
        if not len(frames) or self._wave is None or self._file is None:
            return
        try:
            self._wave.writeframes(frames.astype("<i2", copy=False).tobytes())  # patches the header too
            self._file.flush()
        except OSError as exc:
            raise _error(self.path, exc) from exc
        self.frames_written += len(frames)


def _check_path(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise AudioError(f"--record {str(path)!r} is a directory; pass a file name ending in .wav")
    if not parent.is_dir():
        raise AudioError(f"cannot create recording {str(path)!r}: directory {str(parent)!r} does not exist;"
                         " create it or pass another --record")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise AudioError(f"cannot create recording {str(path)!r}: permission denied; pass another --record")


def _error(path: Path, exc: OSError) -> AudioError:
    return AudioError(f"cannot write recording {str(path)!r}: {exc.strerror or exc}; pass another --record")
