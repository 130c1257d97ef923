"""Speech and echoes for the echo-cancellation and voice-detection tests.

Speech comes from espeak-ng (installed by scripts/setup.sh with the test extra);
an echo is speech through a synthetic room: a direct path and a decaying tail
of reflections, delayed as a speaker-to-microphone path and a sound card are.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile
import soxr


@functools.lru_cache(maxsize=None)
def speech(text: str, rate: int = 16_000, voice: str = "en-us", pitch: int = 50) -> np.ndarray:
    """``text`` spoken by espeak-ng, float32 mono at ``rate``."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", "160", "-w", str(wav), text],
                       check=True, capture_output=True)
        x, source_rate = soundfile.read(wav, dtype="float32")
    return soxr.resample(x, source_rate, rate).astype(np.float32)


MODEL_SAYS = ("The quick brown fox jumps over the lazy dog. Realtime voice models answer quickly, and a "
              "good client stops talking the moment you start. Echo cancellation removes the model's own "
              "voice from the microphone, so you can talk on laptop speakers.")
USER_SAYS = "Hello there, sorry to interrupt, could you please stop and tell me the time?"


def room(ms: float, rate: int = 16_000, seed: int = 0) -> np.ndarray:
    """A room's impulse response ``ms`` long: the direct path, then decaying reflections."""
    rng = np.random.default_rng(seed)
    n = max(1, int(rate * ms / 1000))
    h = rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 5))
    h[0] = 1.0
    return (h / np.abs(h).sum() * 1.5).astype(np.float32)


def echo_of(far: np.ndarray, *, delay_ms: float, room_ms: float, gain: float, rate: int = 16_000,
            seed: int = 0) -> np.ndarray:
    """What the microphone hears of ``far`` (at ``rate``) played into the room."""
    wet = np.convolve(far, room(room_ms, rate, seed) * gain)[: len(far)]
    d = int(rate * delay_ms / 1000)
    return np.concatenate([np.zeros(d, np.float32), wet])[: len(far)].astype(np.float32)


def s16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def power_db(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    return 10 * np.log10(np.mean(x * x) + 1e-9)
