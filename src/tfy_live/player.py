"""The playback queue between the receive loop and the speaker.

Model audio arrives faster than real time, so seconds of it can wait here. It
waits in slices of at most ``slice_ms`` (20 ms): the playback task hands the
sink one slice at a time, so ``interrupt()`` — which drops every slice not yet
handed over — is heard within one slice plus the device's own small buffer, not
at the end of the turn. (pipecat sends audio to the speaker in small chunks
for the same reason.)
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Callable

from tfy_live.audio import SAMPLE_WIDTH, AudioSink, frames_for


class Player:
    def __init__(self, sink: AudioSink, *, slice_ms: float = 20.0,
                 on_played: Callable[[bytes], None] | None = None) -> None:
        self.sink = sink
        self.on_played = on_played  # told of each slice as it is handed to the speaker
        self.slice_bytes = max(1, frames_for(sink.sample_rate, slice_ms)) * SAMPLE_WIDTH
        self._resampler: Any = None  # a streaming resampler, only if the server's rate differs
        self._slices: collections.deque[bytes] = collections.deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tail = b""  # an odd byte left over from a chunk, kept for the next one
        self._writing = False
        self._holding = False  # after a local barge-in: the rest of this model turn is not played
        self.played_bytes = 0
        self.dropped_bytes = 0

    @property
    def queued_ms(self) -> float:
        return 1000 * self._queued_bytes / (SAMPLE_WIDTH * self.sink.sample_rate)

    @property
    def idle(self) -> bool:
        return self._idle.is_set()

    def put(self, pcm: bytes, rate: int | None = None) -> None:
        """Queue model audio (s16le mono at ``rate``, the sink's rate if omitted)."""
        if self._holding:
            self.dropped_bytes += len(pcm) - len(pcm) % SAMPLE_WIDTH
            return
        if rate is not None and rate != self.sink.sample_rate:
            if self._resampler is None or self._resampler.from_rate != rate:
                from tfy_live.audio.pcm import Resampler

                self._resampler = Resampler(rate, self.sink.sample_rate)
            pcm = self._resampler.process(pcm)
        pcm = self._tail + pcm
        usable = len(pcm) - len(pcm) % SAMPLE_WIDTH
        self._tail = pcm[usable:]
        for start in range(0, usable, self.slice_bytes):
            piece = pcm[start : min(start + self.slice_bytes, usable)]
            self._slices.append(piece)
            self._queued_bytes += len(piece)
        if self._slices:
            self._idle.clear()
            self._wakeup.set()

    def interrupt(self, *, hold: bool = False) -> float:
        """Drop all pending audio at once; return how many milliseconds were dropped.

        ``hold``: also drop what arrives after, until ``release()`` — a local barge-in
        stops the model before the server knows, and the rest of its reply is on the way.
        """
        self._holding = self._holding or hold
        dropped = self._queued_bytes
        self._slices.clear()
        self._queued_bytes = 0
        self._tail = b""
        self.dropped_bytes += dropped
        if not self._writing:
            self._idle.set()
        return 1000 * dropped / (SAMPLE_WIDTH * self.sink.sample_rate)

    def release(self) -> None:
        """Play what arrives again (the server ended the turn that was cut short)."""
        self._holding = False

    @property
    def holding(self) -> bool:
        return self._holding

    async def wait_idle(self) -> None:
        """Return once everything queued has been handed to the sink."""
        await self._idle.wait()

    async def run(self) -> None:
        """The playback task: feed the sink slice by slice, forever."""
        while True:
            if not self._slices:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            piece = self._slices.popleft()
            self._queued_bytes -= len(piece)
            self._writing = True
            if self.on_played is not None:
                self.on_played(piece)
            try:
                await self.sink.write(piece)
            finally:
                self._writing = False
            self.played_bytes += len(piece)
