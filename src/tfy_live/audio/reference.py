"""The echo canceller's reference: what the speaker played, on the speaker's clock, silence included.

A sound card plays continuously: what was written, after what was written
before it, and silence whenever nothing is queued (between replies, and in an
underrun when a reply stalls). ``PlayedReference`` keeps that timeline from the
slices handed to the speaker (``played``), and gives the canceller, for each
microphone chunk, exactly as much of it as the chunk lasts (``take``), so the
reference and the microphone advance sample for sample and the echo's delay
between them never moves. (Feeding the reference as audio is handed over,
with silence made up only when the microphone gets ahead, shifted it by the
speaker's buffer at every underrun and every new reply: the canceller had to
find the delay again, and the echo leaked meanwhile.)

Where a chunk of the microphone sits on the clock is estimated from when the
chunks arrive: the earliest arrival of the last second, against the
frames captured, is the least delayed one. While the speaker is silent the
reference is silence whatever the timing, so the microphone is re-anchored to
the clock then: a dropped microphone chunk or a drift between the two clocks
is mended before the next reply plays.

Pure: the caller passes ``now`` (seconds on the clock the speaker's writes are
timed by).
"""

from __future__ import annotations

import collections

from tfy_live.audio import SAMPLE_WIDTH


class PlayedReference:
    def __init__(self, far_rate: int, near_rate: int) -> None:
        self.far_rate = far_rate
        self.near_rate = near_rate
        self._origin: float | None = None  # the clock's time of sample 0 of the timeline
        self._segments: collections.deque[tuple[int, bytes]] = collections.deque()  # (first sample, pcm)
        self._end = 0  # the sample after the last one written: the speaker is silent from here on
        self._cursor = 0  # the next sample to hand to the canceller
        self._near = 0  # microphone frames taken since the last anchoring
        self._far = 0  # reference samples handed out since then
        self._captured = 0  # microphone frames ever taken
        self._zeros: collections.deque[float] = collections.deque(maxlen=50)  # the microphone's frame 0 on the clock
        self.anchors = 0

    def _index(self, t: float) -> int:
        if self._origin is None:
            self._origin = t
        return round((t - self._origin) * self.far_rate)

    def played(self, pcm: bytes, now: float) -> None:
        """A slice was handed to the speaker at ``now``: it plays after what is queued, or at once if it ran dry."""
        if not pcm:
            return
        start = max(self._end, self._index(now), self._cursor)
        self._segments.append((start, pcm))
        self._end = start + len(pcm) // SAMPLE_WIDTH

    @property
    def silent(self) -> bool:
        """Nothing written is still to be handed to the canceller: the reference from here on is silence."""
        return self._end <= self._cursor

    def take(self, near_frames: int, now: float) -> bytes:
        """The reference for a microphone chunk of ``near_frames`` that arrived at ``now``: s16le at ``far_rate``."""
        began = self._captured / self.near_rate
        self._captured += near_frames
        self._zeros.append(now - self._captured / self.near_rate)  # as if it arrived the moment it was captured
        if self.silent:
            # Nothing to misalign: put the chunk where it began on the clock, by the least delayed arrival.
            self._cursor = self._index(min(self._zeros) + began)
            self._segments.clear()
            self._end = self._cursor
            self._near = self._far = 0
            self.anchors += 1
        self._near += near_frames
        count = round(self._near * self.far_rate / self.near_rate) - self._far
        self._far += count
        start, stop = self._cursor, self._cursor + count
        out = bytearray(count * SAMPLE_WIDTH)
        while self._segments:
            first, pcm = self._segments[0]
            last = first + len(pcm) // SAMPLE_WIDTH
            lo, hi = max(first, start), min(last, stop)
            if lo < hi:
                out[(lo - start) * SAMPLE_WIDTH:(hi - start) * SAMPLE_WIDTH] = pcm[(lo - first) * SAMPLE_WIDTH:
                                                                                 (hi - first) * SAMPLE_WIDTH]
            if last <= stop:
                self._segments.popleft()
            else:
                break
        self._cursor = stop
        return bytes(out)
