"""The double-talk detector: more than the echo the reference predicts, on the raw microphone."""

from __future__ import annotations

import numpy as np

import soxr

from tests.speech import MODEL_SAYS, USER_SAYS, echo_of, speech
from tfy_live.audio.doubletalk import DoubleTalk

RNG = np.random.default_rng(3)


def babble(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Speech-like: noise in bursts of 80-300 ms with pauses, its spectrum sloping down."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    x = np.cumsum(rng.standard_normal(n)) * 0.02
    x -= np.convolve(x, np.ones(64) / 64, "same")  # drop the drift, keep the slope
    gate = np.zeros(n)
    t = 0
    while t < n:
        on = int(rate * rng.uniform(0.08, 0.3))
        gate[t:t + on] = rng.uniform(0.3, 1.0)
        t += on + int(rate * rng.uniform(0.03, 0.15))
    return (x * gate / np.abs(x).max() * 0.5).astype(np.float32)


def s16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def run(mic16: np.ndarray, far24: np.ndarray) -> list:
    dt, frames = DoubleTalk(16000, 24000), []
    m, f = s16(mic16), s16(far24)
    for i in range(len(m) // 640):
        frames += dt.feed(m[i * 640:(i + 1) * 640], f[i * 960:(i + 1) * 960])
    return frames


def room_echo(far24: np.ndarray, delay_ms: int, gain: float) -> np.ndarray:
    """The far end at 16 kHz, delayed, through a short decaying room."""
    far16 = far24[::3].repeat(2)[: len(far24) * 2 // 3]  # crude, but the same sound at 16 kHz
    h = RNG.standard_normal(480) * np.exp(-np.arange(480) / 96)
    h[0] = 3
    wet = np.convolve(far16, h / np.abs(h).sum() * gain)[: len(far16)]
    d = 16 * delay_ms
    return np.concatenate([np.zeros(d, np.float32), wet[:-d]]).astype(np.float32)


def test_the_models_echo_alone_is_never_taken_for_the_user_not_even_before_it_has_learnt_the_room():
    far = babble(8, 24000, seed=1)
    frames = run(room_echo(far, 150, 2.0), far)
    assert not any(f.near for f in frames)
    assert not frames[10].ready  # a few hundred ms of the model playing before any bound is trusted
    assert any(f.ready for f in frames[100:])


def test_the_user_over_the_echo_is_heard():
    far = babble(8, 24000, seed=1)
    echo = room_echo(far, 150, 1.0)
    user = np.zeros_like(echo)
    voice = babble(2, 16000, seed=9) * 0.7
    user[5 * 16000:5 * 16000 + len(voice)] = voice
    frames = run(echo + user, far)
    near = [i for i, f in enumerate(frames) if f.near]
    assert near and min(near) >= 500 and min(near) < 520  # within 200 ms of the user's first sound
    assert not any(f.near for f in frames[:500])


def test_silence_on_both_sides_is_nobody():
    frames = run(np.zeros(16000, np.float32), np.zeros(24000, np.float32))
    assert len(frames) == 100 and not any(f.near or f.ready for f in frames)


def test_the_chunks_may_be_any_size_the_frames_are_10_ms():
    dt = DoubleTalk(16000, 24000)
    assert len(dt.feed(bytes(2 * 250), bytes(2 * 375))) == 1  # 90 and 135 samples wait for the next
    assert len(dt.feed(bytes(2 * 70), bytes(2 * 105))) == 1  # 320 and 480 samples in all: two frames
    assert dt.frames == 2


def run_over(mic16: np.ndarray, far24: np.ndarray) -> tuple[list, np.ndarray]:
    """The verdicts, and the part of the microphone over the echo (aligned with the microphone)."""
    dt, frames, over = DoubleTalk(16000, 24000), [], bytearray()
    m, f = s16(mic16), s16(far24)
    for i in range(len(m) // 640):
        frames += dt.feed(m[i * 640:(i + 1) * 640], f[i * 960:(i + 1) * 960])
        over += dt.take_over_echo()
    x = np.frombuffer(bytes(over), "<i2").astype(np.float64)[160:]  # the part over the echo is 10 ms behind
    return frames, x


def power(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-9)


def model_and_user(user_at_s: float, user_db: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Six seconds of the model's speech (24 kHz), its echo (16 kHz, 150 ms, a 60 ms room), the user's speech
    starting ``user_at_s`` in, ``user_db`` against the echo's mean power, and the frame of the user's onset."""
    far = speech(MODEL_SAYS, 24000)[: 24000 * 6]
    echo = echo_of(soxr.resample(far, 24000, 16000).astype(np.float32), delay_ms=150, room_ms=60, gain=0.3)
    voice = speech(USER_SAYS, 16000, voice="en-gb", pitch=70)[: 16000 * 2]
    voice = voice * 10 ** ((power(echo[16000:]) + user_db - power(voice[voice != 0])) / 20)
    user = np.zeros_like(echo)
    a = int(user_at_s * 16000)
    user[a:a + len(voice)] = voice[: len(user) - a]
    onset = int(np.flatnonzero(np.abs(user) > 0.01 * np.abs(user).max())[0]) // 160
    return far, echo, user, onset


def test_the_part_over_the_echo_is_silence_while_the_model_alone_is_heard_and_the_user_when_they_talk():
    far, echo, user, onset = model_and_user(3.0, 0.0)
    _, over = run_over(echo + user, far)
    assert np.all(over[: 3 * 16000] == 0)
    talking = slice(onset * 160, onset * 160 + 16000)
    assert power(over[talking]) - power(user[talking] * 32767) > -3  # most of the user comes through


def test_the_user_10_db_under_the_echo_is_heard_where_they_stand_out():
    far, echo, user, onset = model_and_user(3.0, -10.0)
    frames = run(echo + user, far)
    near = [i for i, f in enumerate(frames) if f.near]
    assert near and onset <= min(near) < onset + 15  # within 150 ms


def test_the_users_voice_is_not_learnt_as_the_room():
    # The user starts a second into the reply, as loud as the echo: heard through their speech, not only until
    # the bound has grown over them (learning from their first syllables once delayed this by a second).
    far, echo, user, onset = model_and_user(1.0, 0.0)
    frames = run(echo + user, far)
    louder = [i for i in range(onset, onset + 150) if np.mean(user[i * 160:(i + 1) * 160] ** 2) > 4 * np.mean(echo[i * 160:(i + 1) * 160] ** 2)]
    assert min(i for i, f in enumerate(frames) if f.near) < onset + 15
    assert sum(frames[i].near for i in louder) > 0.5 * len(louder)
