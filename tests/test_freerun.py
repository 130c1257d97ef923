"""Pacing an input device that does not pace itself, and telling it from one that does (pure:
fake streams on a fake clock)."""

from __future__ import annotations

import math

import pytest

from tfy_live.audio.freerun import PROBE_S, SELF_PACED_AFTER, InputStream, PacedInput, probe_input

PROBE_READS = round(PROBE_S / 0.020)  # the probe's reads of 20 ms chunks
from tfy_live.audio.pacing import MicClock

RATE = 1000  # 1 frame = 1 ms
FRAMES = 20  # 20 ms chunks
START = 100.0


class FakeTime:
    """A monotonic clock that moves only when someone waits (or a fake device blocks)."""

    def __init__(self) -> None:
        self.t = START
        self.waits: list[float] = []
        self.oversleep = 0.0  # added to every wait, as a busy scheduler would
        self.stopped = False  # waits return at once and say so, like Event.wait after stop()

    def now(self) -> float:
        return self.t

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        if self.stopped:
            return True
        self.t += seconds + self.oversleep
        return False


class FreeRunningStream:
    """Like an ALSA file device: every read returns at once. Chunk i holds the byte i."""

    def __init__(self, time: FakeTime, slow_reads: frozenset[int] = frozenset()) -> None:
        self.time = time
        self.slow_reads = slow_reads  # reads (counted from 1) during which the thread is descheduled
        self.calls: list[tuple[int, bool]] = []

    def read(self, num_frames: int, exception_on_overflow: bool = True) -> bytes:
        self.calls.append((num_frames, exception_on_overflow))
        if len(self.calls) in self.slow_reads:
            self.time.t += 0.010
        return bytes([len(self.calls) % 256]) * (2 * num_frames)


class BlockingStream:
    """Like a microphone: a read returns when its frames have been recorded, in fragments of
    ``fragment`` frames, from when the stream was opened."""

    def __init__(self, time: FakeTime, fragment: int = FRAMES) -> None:
        self.time = time
        self.fragment = fragment
        self.opened = time.t
        self.frames = 0
        self.calls: list[tuple[int, bool]] = []

    def read(self, num_frames: int, exception_on_overflow: bool = True) -> bytes:
        self.calls.append((num_frames, exception_on_overflow))
        self.frames += num_frames
        recorded = self.opened + math.ceil(self.frames / self.fragment) * self.fragment / RATE
        self.time.t = max(self.time.t, recorded)
        return bytes([len(self.calls) % 256]) * (2 * num_frames)


def paced(stream: InputStream, time: FakeTime) -> PacedInput:
    return PacedInput(stream, MicClock(RATE, time.now()), now=time.now, wait=time.wait)


class Delivered:
    """The reader's side of the probe: when each chunk arrived; refuses chunks once ``stop_after`` came."""

    def __init__(self, time: FakeTime, stop_after: int | None = None) -> None:
        self.time = time
        self.stop_after = stop_after
        self.chunks: list[bytes] = []
        self.times: list[float] = []

    def __call__(self, data: bytes) -> bool:
        self.chunks.append(data)
        self.times.append(self.time.now())
        return self.stop_after is None or len(self.chunks) < self.stop_after


def probe(stream: InputStream, time: FakeTime, deliver: Delivered) -> InputStream | None:
    return probe_input(stream, RATE, FRAMES, deliver, now=time.now, wait=time.wait, exception_on_overflow=False)


# --- PacedInput -----------------------------------------------------------------


def test_paced_input_returns_each_chunk_when_it_would_have_been_recorded() -> None:
    time = FakeTime()
    stream = FreeRunningStream(time)
    mic = paced(stream, time)
    times, chunks = [], []
    for _ in range(5):
        chunks.append(mic.read(FRAMES, exception_on_overflow=False))
        times.append(time.now())
    assert times == pytest.approx([START + 0.020 * k for k in range(1, 6)])
    assert chunks == [bytes([k]) * 40 for k in range(1, 6)]  # in order, untouched
    assert stream.calls == [(FRAMES, False)] * 5


def test_paced_input_deadlines_count_from_the_start_so_oversleeping_does_not_add_up() -> None:
    time = FakeTime()
    time.oversleep = 0.003
    mic = paced(FreeRunningStream(time), time)
    times = []
    for _ in range(50):
        mic.read(FRAMES)
        times.append(time.now())
    # Each chunk is late by one oversleep, never by the sum of them.
    assert times == pytest.approx([START + 0.020 * k + 0.003 for k in range(1, 51)])


def test_paced_input_hands_overdue_chunks_over_at_once() -> None:
    time = FakeTime()
    mic = paced(FreeRunningStream(time), time)
    mic.read(FRAMES)
    time.t += 0.110  # the consumer was busy for 110 ms
    waits_before = len(time.waits)
    for _ in range(5):
        mic.read(FRAMES)
    assert len(time.waits) == waits_before  # five chunks were due: none waited
    mic.read(FRAMES)
    assert time.now() == pytest.approx(START + 0.140)  # back on the clock from the start


def test_a_wait_cut_short_returns_the_chunk_at_once() -> None:
    time = FakeTime()
    mic = paced(FreeRunningStream(time), time)
    time.stopped = True  # stop() was called: the wait returns at once
    assert mic.read(FRAMES) == bytes([1]) * 40
    assert time.now() == START
    assert time.waits == [pytest.approx(0.020)]


# --- probe_input: which stream the microphone thread reads -----------------------


def test_a_device_that_blocks_is_read_directly_and_never_held_back() -> None:
    time = FakeTime()
    stream = BlockingStream(time)
    deliver = Delivered(time)
    chosen = probe(stream, time, deliver)
    assert chosen is stream
    assert time.waits == []  # no chunk waited on our clock
    assert len(deliver.chunks) == SELF_PACED_AFTER
    assert deliver.times == pytest.approx([START + 0.020 * k for k in range(1, SELF_PACED_AFTER + 1)])
    assert stream.calls == [(FRAMES, False)] * SELF_PACED_AFTER


def test_a_device_that_delivers_in_larger_fragments_still_counts_as_pacing_itself() -> None:
    # 60 ms fragments: one read in three blocks, the other two find audio waiting.
    time = FakeTime()
    stream = BlockingStream(time, fragment=3 * FRAMES)
    deliver = Delivered(time)
    assert probe(stream, time, deliver) is stream
    assert len(deliver.chunks) < PROBE_READS
    # The chunks that found audio waiting were held to the clock, never later than recorded + one chunk.
    for k, at in enumerate(deliver.times, start=1):
        assert START + 0.020 * k - 1e-9 <= at <= START + 0.020 * k + 0.040 + 1e-9


def test_a_free_running_device_is_paced_from_the_start_of_the_stream() -> None:
    time = FakeTime()
    stream = FreeRunningStream(time)
    deliver = Delivered(time)
    chosen = probe(stream, time, deliver)
    assert isinstance(chosen, PacedInput) and chosen.stream is stream
    assert deliver.chunks == [bytes([k]) * 40 for k in range(1, PROBE_READS + 1)]
    assert deliver.times == pytest.approx([START + 0.020 * k for k in range(1, PROBE_READS + 1)])
    # The adapter goes on with the probe's clock: the next chunk is due one chunk later.
    assert chosen.read(FRAMES, exception_on_overflow=False) == bytes([PROBE_READS + 1]) * 40
    assert time.now() == pytest.approx(START + 0.020 * (PROBE_READS + 1))
    assert stream.calls == [(FRAMES, False)] * (PROBE_READS + 1)


def test_a_few_slow_reads_do_not_make_a_free_running_device_count_as_pacing_itself() -> None:
    time = FakeTime()
    deliver = Delivered(time)
    slow = frozenset(range(1, SELF_PACED_AFTER))  # one short of the verdict
    chosen = probe(FreeRunningStream(time, slow_reads=slow), time, deliver)
    assert isinstance(chosen, PacedInput)
    assert len(deliver.chunks) == PROBE_READS


def test_the_probe_ends_when_the_reader_refuses_a_chunk() -> None:
    time = FakeTime()
    stream = FreeRunningStream(time)
    deliver = Delivered(time, stop_after=2)
    assert probe(stream, time, deliver) is None
    assert len(stream.calls) == 2  # no read after the refusal

    time = FakeTime()
    stream_b = BlockingStream(time)
    deliver = Delivered(time, stop_after=SELF_PACED_AFTER)  # refuses the very chunk that decides
    assert probe(stream_b, time, deliver) is None
    assert len(stream_b.calls) == SELF_PACED_AFTER
