"""Input devices that do not pace themselves.

A microphone's ``read()`` blocks until the audio has been recorded. An ALSA
file-backed test device (a ``file`` plugin with a ``null`` slave) returns
every read at once; ``PacedInput`` holds its chunks back so it behaves like a
microphone, and ``probe_input`` tells the two kinds apart at the start of a
stream. Time comes in as ``now`` and ``wait``, so both run on plain objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from tfy_live.audio.pacing import MicClock

# How long the probe may take: long enough for a device with large fragments (a read that blocks
# once every 200 ms) to show that it paces itself, whatever the chunk size.
PROBE_S = 2.0
SELF_PACED_AFTER = 3  # reads that must block before a device counts as pacing itself


class InputStream(Protocol):
    """What the microphone thread uses of a PyAudio input stream."""

    def read(self, num_frames: int, exception_on_overflow: bool = True) -> bytes: ...


class PacedInput:
    """An input stream whose ``read()`` returns each chunk when a microphone would have recorded it.

    Deadlines come from ``clock`` (counted from the start of the stream, so
    oversleeping never accumulates). ``wait(seconds)`` may return early, as
    ``threading.Event.wait`` does, so a stop request need not sit out a chunk:
    the chunk is then returned at once.
    """

    def __init__(
        self,
        stream: InputStream,
        clock: MicClock,
        *,
        now: Callable[[], float],
        wait: Callable[[float], object],
    ) -> None:
        self.stream = stream
        self.clock = clock
        self._now = now
        self._wait = wait

    def read(self, num_frames: int, exception_on_overflow: bool = True) -> bytes:
        data = self.stream.read(num_frames, exception_on_overflow=exception_on_overflow)
        self.hold(num_frames)
        return data

    def hold(self, frames: int) -> None:
        """Wait until a chunk of ``frames`` more frames is due, and count it."""
        delay = self.clock.wait_s(frames, self._now())
        self.clock.tick(frames)
        if delay > 0:
            self._wait(delay)


def probe_input(
    stream: InputStream,
    sample_rate: int,
    frames: int,
    deliver: Callable[[bytes], bool],
    *,
    now: Callable[[], float],
    wait: Callable[[float], object],
    exception_on_overflow: bool = True,
    probe_reads: int | None = None,
) -> InputStream | None:
    """Read the first chunks of ``stream``, paced, into ``deliver``, and choose how to read the rest.

    Returns ``stream`` itself as soon as ``SELF_PACED_AFTER`` reads have
    blocked for more than a quarter of a chunk (the device paces itself; the
    chunk that shows it is not held back), else, after ``probe_reads`` reads
    (``PROBE_S`` of audio by default), a ``PacedInput`` that goes on with the probe's clock. Returns None once
    ``deliver`` refuses a chunk (the reader was stopped).
    """
    paced = PacedInput(stream, MicClock(sample_rate, now()), now=now, wait=wait)
    blocking_s = frames / sample_rate / 4
    blocked = 0
    reads = probe_reads or max(SELF_PACED_AFTER, math.ceil(PROBE_S * sample_rate / frames))
    for _ in range(reads):
        began = now()
        data = stream.read(frames, exception_on_overflow=exception_on_overflow)
        if now() - began > blocking_s:
            blocked += 1
        if blocked >= SELF_PACED_AFTER:
            return stream if deliver(data) else None
        paced.hold(frames)
        if not deliver(data):
            return None
    return paced
