import asyncio

from tfy_live.player import Player
from tests.fakes import FakeSink

SLICE = 960  # 20 ms at 24 kHz


async def test_audio_goes_out_in_slices_of_at_most_20_ms_in_order():
    sink = FakeSink(write_delay=0)
    player = Player(sink)
    data = bytes(range(256)) * 30  # 7680 bytes, 160 ms
    player.put(data[:1001])  # an odd byte count is carried to the next chunk
    player.put(data[1001:])
    task = asyncio.create_task(player.run())
    await asyncio.wait_for(player.wait_idle(), 1)
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
    await asyncio.wait_for(player.wait_idle(), 1)
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
    await asyncio.wait_for(player.wait_idle(), 2)
    task.cancel()
    out = np.frombuffer(sink.data, "<i2").astype(float)
    assert 24000 - 600 < len(out) <= 24000  # one second at 24 kHz, less the filter delay (~21 ms)
    steady = out[500:-500]
    # a clean 440 Hz sine: no sample-to-sample jump larger than the sine's own slope allows
    assert np.abs(np.diff(steady)).max() < 8000 * 2 * np.pi * 440 / 24000 * 1.2
