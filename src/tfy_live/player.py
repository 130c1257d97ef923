"""The playback queue between the receive loop and the speaker.

Model audio arrives faster than real time, so seconds of it can wait here. It
waits in slices of at most ``slice_ms`` (20 ms): the playback task hands the
sink one slice at a time, so ``interrupt()`` — which drops every slice not yet
handed over — is heard within one slice plus the device's own small buffer, not
at the end of the turn. (pipecat sends audio to the speaker in small chunks
for the same reason.)

A sink that can say how much its buffer takes without waiting (``room()``,
``write_now()``, ``queued_s()``: the PortAudio speaker, WAV files, the null
sink) is fed directly instead, whenever the event loop is awake anyway: when
model audio arrives (``put``) and when the capture task has sent a microphone
frame (``pump``), fifty times a second. The buffer is topped up then, so
playback needs no wake-ups of its own; a timer tops it up only if nothing
else woke the loop before the buffer ran down to ``LOW_S``: a wake-up of the
process is not free, least of all on a VM (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Callable, Protocol

from tfy_live.audio import SAMPLE_WIDTH, AudioSink, frames_for
from tfy_live.events import Heard

LOW_S = 0.010  # the fallback timer tops the buffer up when this much audio is left in it


class BufferedSink(Protocol):
    """A sink whose buffer can be filled without waiting, as much as it has room for."""

    def room(self) -> int | None:
        """Frames that fit now without waiting; None if it cannot tell (then ``write`` is used)."""
        ...

    def write_now(self, pcm: bytes) -> None:
        """Hand over frames that fit (``room()`` said so)."""
        ...

    def queued_s(self) -> float:
        """Audio handed over and not yet played, in seconds."""
        ...


class Player:
    def __init__(self, sink: AudioSink, *, slice_ms: float = 20.0,
                 on_played: Callable[[bytes], None] | None = None) -> None:
        self.sink = sink
        self.on_played = on_played  # told of each slice as it is handed to the speaker
        self.slice_bytes = max(1, frames_for(sink.sample_rate, slice_ms)) * SAMPLE_WIDTH
        self._resampler: Any = None  # a streaming resampler, only if the server's rate differs
        self._slices: collections.deque[bytes] = collections.deque()
        self._items: collections.deque[str | None] = collections.deque()  # each slice's reply part (Audio.item)
        self._playing: str | None = None  # the reply part of the newest slice handed to the sink
        self._playing_bytes = 0  # ... and how much of it has been handed
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tail = b""  # an odd byte left over from a chunk, kept for the next one
        self._writing = False
        self._holding = False  # after a local barge-in: the rest of this model turn is not played
        self.played_bytes = 0
        self.dropped_bytes = 0
        # Fed directly (see the module's docstring) while run() is running, if the sink can be.
        self._direct = callable(getattr(sink, "room", None)) and callable(getattr(sink, "write_now", None))
        self._running: asyncio.Future[None] | None = None  # run()'s, while it feeds directly
        self._timer: asyncio.TimerHandle | None = None

    @property
    def queued_ms(self) -> float:
        return 1000 * self._queued_bytes / (SAMPLE_WIDTH * self.sink.sample_rate)

    @property
    def idle(self) -> bool:
        return self._idle.is_set()

    def put(self, pcm: bytes, rate: int | None = None, item: str | None = None) -> None:
        """Queue model audio (s16le mono at ``rate``, the sink's rate if omitted; ``item``: its reply part)."""
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
            self._items.append(item)
            self._queued_bytes += len(piece)
        if self._slices:
            self._idle.clear()
            self._wakeup.set()
            self.pump()

    def interrupt(self, *, hold: bool = False) -> float:
        """Drop all pending audio at once; return how many milliseconds were dropped.

        ``hold``: also drop what arrives after, until ``release()`` — a local barge-in
        stops the model before the server knows, and the rest of its reply is on the way.
        """
        self._holding = self._holding or hold
        dropped = self._queued_bytes
        self._slices.clear()
        self._items.clear()
        self._playing = None  # what was heard of it has been read (``heard``): none of the rest will play
        self._queued_bytes = 0
        self._tail = b""
        self.dropped_bytes += dropped
        self._cancel_timer()
        if not self._writing:
            self._idle.set()
        return 1000 * dropped / (SAMPLE_WIDTH * self.sink.sample_rate)

    def release(self) -> None:
        """Play what arrives again (the server ended the turn that was cut short)."""
        self._holding = False

    @property
    def holding(self) -> bool:
        return self._holding

    def heard(self) -> Heard | None:
        """How much of the reply part now playing the speaker has played, by the player's own count: what was
        handed to the sink less what the sink says it still holds (``queued_s``). None when no named part
        (``put``'s ``item``) is playing, or it has been played to its end. Read it before ``interrupt``."""
        item = self._playing
        if item is None:
            return None
        queued_s = getattr(self.sink, "queued_s", None)
        backlog_s = queued_s() if callable(queued_s) else 0.0
        if backlog_s <= 0 and item not in self._items:
            return None
        handed_ms = 1000 * self._playing_bytes / (SAMPLE_WIDTH * self.sink.sample_rate)
        return Heard(item, max(0, round(handed_ms - 1000 * backlog_s)))

    def _handing(self, piece: bytes, item: str | None) -> None:
        """A slice of ``item`` goes to the sink now."""
        if item != self._playing:
            self._playing, self._playing_bytes = item, 0
        self._playing_bytes += len(piece)
        if self.on_played is not None:
            self.on_played(piece)

    async def wait_idle(self) -> None:
        """Return once everything queued has been handed to the sink."""
        await self._idle.wait()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pump(self) -> None:
        """Top the sink's buffer up now (the loop is awake anyway); a no-op unless fed directly.

        Never raises: a sink's error ends ``run()``, the playback task, as an error of ``write`` does.
        """
        running = self._running
        if running is None or running.done():
            return
        self._cancel_timer()
        try:
            room = self.sink.room()  # type: ignore[attr-defined]
            if room is None:  # the sink cannot tell: run() goes back to writing slice by slice
                running.set_result(None)
                return
            while self._slices and room > 0:
                piece = self._slices[0]
                frames = len(piece) // SAMPLE_WIDTH
                item = self._items[0]
                if frames > room:  # the part that fits now; the rest stays first in line
                    piece, self._slices[0] = piece[: room * SAMPLE_WIDTH], piece[room * SAMPLE_WIDTH:]
                    frames = room
                else:
                    self._slices.popleft()
                    self._items.popleft()
                self._queued_bytes -= len(piece)
                self._handing(piece, item)
                self.sink.write_now(piece)  # type: ignore[attr-defined]
                self.played_bytes += len(piece)
                room -= frames
            if self._slices:
                wait = max(0.0, self.sink.queued_s() - LOW_S)  # type: ignore[attr-defined]
                self._timer = asyncio.get_running_loop().call_later(wait, self.pump)
            else:
                self._idle.set()
        except Exception as exc:  # noqa: BLE001 - handed to run(), raised there
            running.set_exception(exc)

    async def run(self) -> None:
        """The playback task: feed the sink, forever (directly if it can be, else slice by slice)."""
        if self._direct:
            self._running = asyncio.get_running_loop().create_future()
            self.pump()
            try:
                await self._running  # raises the sink's error; returns if it stops saying how much fits
            finally:
                self._running = None
                self._cancel_timer()
            self._direct = False
        while True:
            if not self._slices:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            piece = self._slices.popleft()
            item = self._items.popleft()
            self._queued_bytes -= len(piece)
            self._writing = True
            self._handing(piece, item)
            try:
                await self.sink.write(piece)
            finally:
                self._writing = False
            self.played_bytes += len(piece)
