"""The echo canceller's reference: what the speaker played, on its clock, silence and underruns included."""

from __future__ import annotations

import numpy as np

from tfy_live.audio.reference import PlayedReference

CHUNK = 320  # 20 ms of microphone at 16 kHz: 480 samples of reference at 24 kHz


def tone(n: int, value: int) -> bytes:
    return np.full(n, value, "<i2").tobytes()


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, "<i2")


def test_the_reference_is_silence_until_the_speaker_plays_then_what_it_played():
    ref = PlayedReference(24000, 16000)
    assert samples(ref.take(CHUNK, 0.02)).tolist() == [0] * 480  # the chunk captured 0.00-0.02
    ref.played(tone(960, 7), 0.03)  # 40 ms handed over at 0.03: plays at once, 0.03-0.07
    x = np.concatenate([samples(ref.take(CHUNK, t)) for t in (0.04, 0.06, 0.08)])  # 0.02-0.08
    assert len(x) == 3 * 480
    assert (x[:240] == 0).all() and (x[240:1200] == 7).all() and (x[1200:] == 0).all()


def test_an_underrun_is_in_the_reference_as_the_silence_the_speaker_played():
    ref = PlayedReference(24000, 16000)
    ref.take(CHUNK, 0.02)
    ref.played(tone(960, 1), 0.02)  # 0.02-0.06
    ref.played(tone(960, 2), 0.03)  # queued behind it: 0.06-0.10
    got = [samples(ref.take(CHUNK, 0.02 + 0.02 * k)) for k in range(1, 6)]  # up to 0.12
    ref.played(tone(960, 3), 0.45)  # the next slice came 350 ms after the speaker ran dry
    got += [samples(ref.take(CHUNK, 0.12 + 0.02 * k)) for k in range(1, 21)]  # up to 0.52
    x = np.concatenate(got)  # from 0.02
    ms = lambda t: round((t - 0.02) * 24000)  # noqa: E731
    assert (x[:ms(0.06)] == 1).all() and (x[ms(0.06):ms(0.10)] == 2).all()
    assert (x[ms(0.10):ms(0.45)] == 0).all()
    assert (x[ms(0.45):ms(0.49)] == 3).all() and (x[ms(0.49):] == 0).all()


def test_while_it_plays_the_reference_keeps_pace_with_the_microphone_not_with_arrivals():
    ref = PlayedReference(24000, 16000)
    ref.take(CHUNK, 0.02)
    for k in range(30):
        ref.played(np.arange(480, dtype="<i2").tobytes(), 0.02 + 0.02 * k)
    # The loop stalls for 100 ms and then gets five chunks at once: each still gets its own 20 ms.
    pieces = [ref.take(CHUNK, 0.04)] + [ref.take(CHUNK, 0.14) for _ in range(5)]
    assert [len(p) for p in pieces] == [960] * 6
    assert all(samples(p).tolist() == list(range(480)) for p in pieces)  # slice boundaries stay put


def test_an_odd_chunk_size_gets_the_exact_share_of_the_reference_over_time():
    ref = PlayedReference(24000, 16000)
    ref.played(tone(24000, 5), 0.0)
    total = sum(len(ref.take(333, 0.0208 * (k + 1))) for k in range(48))
    assert total == 2 * round(48 * 333 * 1.5)


def test_while_the_speaker_is_silent_the_microphone_is_put_back_on_the_clock():
    ref = PlayedReference(24000, 16000)
    for k in range(1, 6):
        ref.take(CHUNK, 0.02 * k)
    # 60 ms of microphone audio is lost (a dropped chunk, a stall): the next arrivals are 60 ms later than
    # the frames counted say. Silent meanwhile, so the reference follows the clock again.
    for k in range(6, 60):
        ref.take(CHUNK, 0.06 + 0.02 * k)
    ref.played(tone(480, 9), 1.25)  # plays 1.25-1.27
    x = np.concatenate([samples(ref.take(CHUNK, 0.06 + 0.02 * k)) for k in range(60, 64)])  # 1.24-1.32
    assert (x[:240] == 0).all() and (x[240:720] == 9).all() and (x[720:] == 0).all()


def test_a_late_arrival_while_silent_does_not_move_the_reference_later():
    ref = PlayedReference(24000, 16000)
    for k in range(1, 50):
        ref.take(CHUNK, 0.02 * k)
    ref.take(CHUNK, 1.00 + 0.03)  # arrives 30 ms late; captured 0.98-1.00
    ref.played(tone(480, 4), 1.03)  # plays 1.03-1.05
    x = np.concatenate([samples(ref.take(CHUNK, 1.0 + 0.02 * k)) for k in range(1, 4)])  # 1.00-1.06
    assert (x[:720] == 0).all() and (x[720:1200] == 4).all() and (x[1200:] == 0).all()
