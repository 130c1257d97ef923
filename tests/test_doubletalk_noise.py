"""The double-talk detector with a laptop's background: a fan, a café, typing. None of it is the user."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from bench.noise import background
from tests.speech import MODEL_SAYS, USER_SAYS, echo_of, speech
from tests.test_doubletalk import power, run
from tfy_live.echoguard import SUSTAINED_NEAR, SUSTAINED_OF


LOUD, QUIET = 12.6, 1.26  # the echo's loudest 100 ms at -10 and -30 dBFS


def session(seconds: float = 4.5, *, echo_gain: float = LOUD) -> tuple[np.ndarray, np.ndarray]:
    """The model's reply (24 kHz) starting 1 s in, as a session's first reply is, and its echo (16 kHz, 150 ms
    away through a 60 ms room): the second before it is all the detector hears of the background alone."""
    reply = speech(MODEL_SAYS, 24000)[: int(24000 * (seconds - 1))]
    far = np.concatenate([np.zeros(24000, np.float32), reply])
    echo = echo_of(soxr.resample(far, 24000, 16000).astype(np.float32), delay_ms=150, room_ms=60, gain=echo_gain)
    return far, echo


@pytest.mark.parametrize("kind, dbfs, echo_gain", [("pink", -35, LOUD), ("brown", -35, QUIET), ("pink", -40, QUIET),
                                                   ("brown", -50, LOUD)])
def test_a_steady_background_behind_the_models_echo_is_not_the_user(kind, dbfs, echo_gain):
    # Before: a floor that took 6 s to find the noise, a click learnt as the room (the bound went by a delay
    # 150-300 ms off) and one band over the bound in the reply's pauses: frames over the echo every few 100 ms.
    far, echo = session(echo_gain=echo_gain)
    noise = background(kind, len(echo) / 16000, dbfs, seed=2)[: len(echo)]
    frames = run(echo + noise, far)
    near = np.array([f.near for f in frames], float)
    assert any(f.ready for f in frames)
    # A stray frame (one in 300 or so, as a noise's peak meets the echo's) is left to the guard, which wants the
    # voice detector too or 4 frames of 10; before, such noise was over the echo in runs through every pause.
    assert near.sum() <= 3 and np.convolve(near, np.ones(SUSTAINED_OF), "valid").max() < SUSTAINED_NEAR


@pytest.mark.parametrize("echo_gain", [LOUD, QUIET])
def test_typing_over_the_models_echo_is_a_frame_or_two_at_a_time(echo_gain):
    # A key's click is more than the echo for the two windows it falls in; it must never look sustained (the
    # guard's 4 of 10 frames), nor teach the room: learnt, one click moved the bound to a delay 300 ms off and the
    # echo itself stood over it for 300 ms.
    far, echo = session(echo_gain=echo_gain)
    clicks = background("typing", len(echo) / 16000, -20, seed=2)[: len(echo)]
    near = np.array([f.near for f in run(echo + clicks, far)], float)
    assert np.convolve(near, np.ones(SUSTAINED_OF), "valid").max() < SUSTAINED_NEAR


def test_the_user_is_heard_over_a_cafe_and_the_echo():
    far, echo = session()
    noise = background("pink", len(echo) / 16000, -35, seed=2)[: len(echo)]
    voice = speech(USER_SAYS, 16000, voice="en-gb", pitch=70)[:16000]
    voice = voice * 10 ** ((power(echo[16000:]) - power(voice[voice != 0])) / 20)  # as loud as the echo
    user = np.zeros_like(echo)
    user[48000:48000 + len(voice)] = voice[: len(user) - 48000]
    onset = int(np.flatnonzero(np.abs(user) > 0.01 * np.abs(user).max())[0]) // 160
    frames = run(echo + noise + user, far)
    near = [i for i, f in enumerate(frames) if f.near]
    assert near and onset <= min(near) < onset + 15  # within 150 ms
    assert sum(f.near for f in frames[onset:onset + 100]) >= 30  # and through their words, not a frame or two
