"""Background noise for the echo benchmarks: what a laptop's microphone hears besides the speaker and the user.

Stationary noise (a fan: brown; a café: pink) at a level, keyboard clicks every
150-300 ms, and one 150 ms burst (a cough or a knock). Float32 at 16 kHz, full scale 1.
"""

from __future__ import annotations

import numpy as np

RATE = 16_000


def coloured(seconds: float, slope: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Noise whose power falls as 1/f**slope: 1 is pink, 2 is brown. Unit RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / rate)
    shape = np.where(f < 20, 0.0, 1 / np.maximum(f, 20) ** (slope / 2))  # no sub-audio rumble
    x = np.fft.irfft(spectrum * shape, n)
    return (x / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def clicks(seconds: float, peak_dbfs: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Typing: a 3-8 ms broadband click (a decaying noise burst) every 150-300 ms."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * rate), np.float32)
    t = int(rate * rng.uniform(0, 0.2))
    amp = 10 ** (peak_dbfs / 20)
    while t < len(x):
        n = int(rate * rng.uniform(0.003, 0.008))
        burst = rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 4)) * amp * rng.uniform(0.5, 1.0)
        x[t:t + n] += burst[: len(x) - t].astype(np.float32)
        t += int(rate * rng.uniform(0.15, 0.3))
    return x


def burst(seconds: float, at_s: float, dbfs: float, seed: int, rate: int = RATE) -> np.ndarray:
    """One 150 ms burst of pink noise at ``dbfs`` (RMS) with 10 ms ramps: a cough, a knock on the door."""
    x = np.zeros(int(seconds * rate), np.float32)
    n = int(0.15 * rate)
    b = coloured(0.15, 1.0, seed, rate)[:n] * 10 ** (dbfs / 20)
    ramp = np.minimum(1, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * rate))
    a = int(at_s * rate)
    x[a:a + n] = (b * ramp)[: len(x) - a]
    return x


def background(kind: str, seconds: float, dbfs: float, seed: int = 0, *, burst_at_s: float = 4.0) -> np.ndarray:
    """``kind``: pink, brown (stationary at ``dbfs`` RMS), typing (clicks peaking near ``dbfs``), cough."""
    if kind in ("pink", "brown"):
        return coloured(seconds, 1.0 if kind == "pink" else 2.0, seed) * np.float32(10 ** (dbfs / 20))
    if kind == "typing":
        return clicks(seconds, dbfs, seed)
    if kind == "cough":
        return burst(seconds, burst_at_s, dbfs, seed)
    raise ValueError(kind)
