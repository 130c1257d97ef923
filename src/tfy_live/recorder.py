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
``Recorder`` appends it to the WAV file (``WavWriter``), whose header is
patched on every write, so the file is valid at every moment — after a
crash or a full disk too.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Callable, Self

import numpy as np

from tfy_live import outfiles
from tfy_live.audio import INPUT_RATE, OUTPUT_RATE
from tfy_live.audio.pcm import Resampler
from tfy_live.audio.wavfile import WavWriter
from tfy_live.errors import ConfigError
from tfy_live.outfiles import Opener, Policy, Target

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

    Created readable by the owner only (it holds private speech), by ``opener`` as ``outfiles`` says:
    an existing file is refused unless ``policy`` says overwrite. ``mic()`` takes s16le at ``mic_rate``,
    ``played()`` s16le at ``rate``; both expect to be called as the audio happens. After a write fails
    (a full disk) nothing more is written and the file stays a valid WAV of what was. Use as a context
    manager.
    """

    def __init__(self, path: str | os.PathLike[str], *, mic_rate: int = INPUT_RATE, rate: int = OUTPUT_RATE,
                 clock: Callable[[], float] = time.monotonic, policy: Policy = Policy(),
                 opener: Opener = outfiles.create) -> None:
        self.path = Path(path)
        self.rate = rate
        self.target = Target(self.path, "--record", "recording")
        self._clock = clock
        self._start: float | None = None
        self._tape = StereoTape(rate)
        self._resampler = Resampler(mic_rate, rate)
        self._policy = policy
        self._opener = opener
        self._wav: WavWriter | None = None
        self.frames_written = 0
        outfiles.check(self.target, policy)  # refuse before connecting

    def __enter__(self) -> Self:
        out = self._opener(self.target, self._policy)
        try:
            self._wav = WavWriter(out, channels=2, rate=self.rate)  # a valid (empty) WAV from the start
        except BaseException:
            out.discard()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(clean=exc[0] is None)

    def mic(self, pcm: bytes) -> None:
        now = self._now()
        self._put(LEFT, self._resampler.process(pcm), now)

    def played(self, pcm: bytes) -> None:
        self._put(RIGHT, pcm, self._now())

    def close(self, *, clean: bool = True) -> None:
        """Write what is still pending and close. ``clean``: no other error is on its way, so a failure
        here is the one to raise (and a replacement with no audio still takes the old file's place)."""
        wav = self._wav
        if wav is None:
            return
        try:
            tail = self._resampler.flush()
            if tail:
                self._tape.put(LEFT, np.frombuffer(tail, dtype="<i2"), self._now())
            self._write(self._tape.rest())
            if clean:
                wav.out.commit()
        except ConfigError:
            if clean:
                raise
        finally:
            self._wav = None
            try:
                wav.out.close()
            except ConfigError:
                if clean:
                    raise

    def _now(self) -> float:
        now = self._clock()
        if self._start is None:
            self._start = now
        return now - self._start

    def _put(self, channel: int, pcm: bytes, now: float) -> None:
        if self._wav is None:
            return
        if pcm:
            self._tape.put(channel, np.frombuffer(pcm, dtype="<i2"), now)
        self._write(self._tape.settled())

    def _write(self, frames: np.ndarray) -> None:
        wav = self._wav
        if not len(frames) or wav is None:
            return
        try:
            wav.append(frames.astype("<i2", copy=False).tobytes())
        except ConfigError:
            # The file holds what was written before, valid; writing on would only fail again.
            self._wav = None
            with contextlib.suppress(ConfigError):
                wav.out.close()
            raise
        self.frames_written += len(frames)
