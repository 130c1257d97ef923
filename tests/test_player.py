import asyncio

from tfy_live.player import Player
from tests.fakes import FakeSink
from tests.timing import SECOND

SLICE = 960  # 20 ms at 24 kHz


async def test_audio_goes_out_in_slices_of_at_most_20_ms_in_order():
    sink = FakeSink(write_delay=0)
    player = Player(sink)
    data = bytes(range(256)) * 30  # 7680 bytes, 160 ms
    player.put(data[:1001])  # an odd byte count is carried to the next chunk
    player.put(data[1001:])
    task = asyncio.create_task(player.run())
    await asyncio.wait_for(player.wait_idle(), 1 * SECOND)
    task.cancel()
    assert sink.data == data
    assert all(len(w) <= SLICE and len(w) % 2 == 0 for w in sink.writes)


async def test_interrupt_reports_what_was_dropped_and_goes_idle():
    sink = FakeSink(write_delay=0.01)
    player = Player(sink)
    player.put(b"\x00\x01" * 24000)  # one second
    assert round(player.queued_ms) == 1000
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0.025)
    dropped = player.interrupt()
    await asyncio.wait_for(player.wait_idle(), 1 * SECOND)
    task.cancel()
    assert 900 < dropped < 1000
    assert player.queued_ms == 0
    assert len(sink.writes) <= 4


async def test_audio_at_another_rate_is_resampled_to_the_sink_rate_without_clicks():
    import numpy as np

    sink = FakeSink(write_delay=0)
    player = Player(sink)
    t = np.arange(16000) / 16000
    sine = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    for start in range(0, len(sine), 640):  # 20 ms messages at 16 kHz
        player.put(sine[start:start + 640], 16000)
    task = asyncio.create_task(player.run())
    await asyncio.wait_for(player.wait_idle(), 2 * SECOND)
    task.cancel()
    out = np.frombuffer(sink.data, "<i2").astype(float)
    assert 24000 - 600 < len(out) <= 24000  # one second at 24 kHz, less the filter delay (~21 ms)
    steady = out[500:-500]
    # a clean 440 Hz sine: no sample-to-sample jump larger than the sine's own slope allows
    assert np.abs(np.diff(steady)).max() < 8000 * 2 * np.pi * 440 / 24000 * 1.2


class TankSink:
    """A speaker buffer of ``buffer_s`` that can be filled without waiting (a ``player.BufferedSink``).

    Time is ``clock()``: real time, or a test's own. ``room_unknown``: it cannot tell how much fits.
    """

    def __init__(self, *, buffer_s: float = 0.040, rate: int = 24000, clock=None, fail=None) -> None:
        import time

        from tfy_live.audio.pacing import SpeakerClock

        self.sample_rate = rate
        self.clock = clock or time.monotonic
        self.speaker = SpeakerClock(rate, buffer_s)
        self.fail = fail
        self.room_unknown = False
        self.direct: list[tuple[float, bytes]] = []  # (when, what) per write_now
        self.slow: list[bytes] = []  # what came through write()

    @property
    def data(self) -> bytes:
        return b"".join(pcm for _, pcm in self.direct) + b"".join(self.slow)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    def room(self):
        if self.room_unknown:
            return None
        ahead = self.speaker.buffer_s - self.speaker.queued_s(self.clock())
        return max(0, int(round(ahead * self.sample_rate)))

    def write_now(self, pcm: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        assert len(pcm) // 2 <= self.room(), "wrote more than fits"
        self.direct.append((self.clock(), pcm))
        self.speaker.commit(len(pcm) // 2, self.clock())

    def queued_s(self) -> float:
        return self.speaker.queued_s(self.clock())

    async def write(self, pcm: bytes) -> None:
        await asyncio.sleep(0)
        self.slow.append(pcm)


async def test_a_sink_with_a_buffer_is_filled_at_once_and_topped_up_on_each_pump():
    now = [100.0]
    sink = TankSink(clock=lambda: now[0])
    player = Player(sink)
    data = bytes(range(256)) * 30  # 160 ms
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0)
    player.put(data)  # arrives: as much as fits goes to the device at once, no wait for a task
    assert len(sink.data) == 960 * 2  # 40 ms
    now[0] += 0.020  # 20 ms played
    player.pump()  # the loop woke for something else (a microphone frame): top up
    assert len(sink.data) == 960 * 3
    player.pump()  # nothing played since: nothing fits
    assert len(sink.data) == 960 * 3
    for _ in range(3):
        assert not player.idle
        now[0] += 0.040
        player.pump()
    assert sink.data == data and player.idle
    assert not sink.slow
    task.cancel()


async def test_with_nothing_else_waking_the_loop_a_timer_keeps_the_buffer_fed():
    sink = TankSink()
    player = Player(sink)
    data = bytes(range(256)) * 30  # 160 ms
    player.put(data)
    task = asyncio.create_task(player.run())
    await asyncio.wait_for(player.wait_idle(), 2 * SECOND)
    task.cancel()
    assert sink.data == data
    # Paced by the buffer: written over several wake-ups, never more than 40 ms ahead of the first write.
    times = [t for t, _ in sink.direct]
    assert len({round(t, 3) for t in times}) >= 4
    assert times[-1] - times[0] >= 0.160 - 0.040 - 0.010 - 0.005


async def test_interrupt_stops_feeding_a_buffered_sink_at_once():
    sink = TankSink()
    player = Player(sink)
    player.put(b"\x00\x01" * 24000)  # one second
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0.05)
    dropped = player.interrupt()
    written = len(sink.data)
    await asyncio.sleep(0.1)
    task.cancel()
    assert 850 < dropped < 1000
    assert len(sink.data) == written  # nothing after the interrupt: the timer went with the queue
    assert player.idle and player.queued_ms == 0


async def test_a_buffered_sink_error_ends_the_playback_task_with_that_error():
    from tfy_live.errors import AudioError

    sink = TankSink(fail=AudioError("the speaker went away; check the output device"))
    player = Player(sink)
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0)
    player.put(bytes(960))  # must not raise here, in the receive loop's call
    try:
        await asyncio.wait_for(task, 1 * SECOND)
    except AudioError as exc:
        assert "speaker went away" in str(exc)
    else:
        raise AssertionError("run() should have raised the sink's error")


async def test_a_sink_that_cannot_tell_its_room_is_written_slice_by_slice():
    sink = TankSink()
    sink.room_unknown = True
    player = Player(sink)
    data = bytes(range(256)) * 30
    player.put(data)
    task = asyncio.create_task(player.run())
    await asyncio.wait_for(player.wait_idle(), 2 * SECOND)
    task.cancel()
    assert sink.data == data and not sink.direct
    assert all(len(w) <= SLICE for w in sink.slow)
