"""Pure conversions on s16le mono PCM: channels, sample rates, slicing (levels: ``level.py``).

Nothing here touches a device, a file or the clock. ``bytes`` in and out are
always 16-bit signed little-endian mono; numpy arrays appear only at the edge
where decoded files come in (``to_mono_s16``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import soxr

from tfy_live.audio import SAMPLE_WIDTH, frames_for
from tfy_live.audio.level import check_whole_frames

_S16 = np.dtype("<i2")
_QUALITY = "HQ"  # soxr's default: transparent for speech, cheap enough for 20 ms chunks


def to_mono_s16(
    samples: np.ndarray, rate: int | None = None, to_rate: int | None = None
) -> bytes:
    """Downmix ``samples`` to mono, resample ``rate`` -> ``to_rate``, return s16le.

    ``samples`` is ``(frames,)`` or ``(frames, channels)``, of a float dtype
    (full scale is ±1.0, values beyond are clipped) or an integer dtype (full
    scale is the dtype's range; unsigned types are centred on their midpoint).
    Channels are averaged. Resampling, when both rates are given and differ,
    is done in floating point before the single rounding to 16 bits.
    """
    x = _as_float(np.asarray(samples))
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] != 1 else x[:, 0]
    elif x.ndim != 1:
        raise ValueError(
            f"expected (frames,) or (frames, channels) samples, got {x.shape}"
        )
    if rate is not None and to_rate is not None and rate != to_rate and x.size:
        x = soxr.resample(x, rate, to_rate, quality=_QUALITY)
    return _float_to_s16(x).tobytes()


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole s16le mono buffer in one go (use ``Resampler`` for streams)."""
    if from_rate == to_rate or not pcm:
        return bytes(pcm)
    x = _s16(pcm)
    return bytes(soxr.resample(x, from_rate, to_rate, quality=_QUALITY).astype(_S16).tobytes())


class Resampler:
    """Streaming s16le mono resampler: feed chunks one at a time.

    The filter state is carried across calls so chunk boundaries do not
    click, as they would if each chunk were resampled on its own. The filter
    delays its output slightly: early calls return a little less than
    ``len(pcm) * to_rate / from_rate``; ``flush()`` (or ``last=True``)
    returns the tail. With equal rates the bytes pass through untouched.
    """

    def __init__(self, from_rate: int, to_rate: int, *, quality: str = _QUALITY) -> None:
        """``quality``: soxr's; "QQ" (cubic) holds back 0.1 ms where "HQ" holds back about 22 ms (BENCHMARKS.md)."""
        self.from_rate = from_rate
        self.to_rate = to_rate
        self.quality = quality
        self._stream = self._new_stream()

    def _new_stream(self) -> soxr.ResampleStream | None:
        if self.from_rate == self.to_rate:
            return None
        return soxr.ResampleStream(
            self.from_rate, self.to_rate, 1, dtype="int16", quality=self.quality
        )

    def process(self, pcm: bytes, *, last: bool = False) -> bytes:
        if self._stream is None:
            return bytes(pcm)
        out = self._stream.resample_chunk(_s16(pcm), last=last)
        return bytes(out.astype(_S16, copy=False).tobytes())

    def flush(self) -> bytes:
        """Return the filter's tail; the resampler then starts afresh."""
        if self._stream is None:
            return b""
        tail = self.process(b"", last=True)
        self._stream = self._new_stream()  # clear() keeps some state (dither)
        return tail


def slices(pcm: bytes, frames: int) -> Iterator[bytes]:
    """Cut ``pcm`` into slices of ``frames`` frames; the last one may be shorter."""
    if frames <= 0:
        raise ValueError("frames must be positive")
    check_whole_frames(pcm)
    step = frames * SAMPLE_WIDTH
    view = memoryview(pcm)
    for start in range(0, len(pcm), step):
        yield bytes(view[start : start + step])


def silence(rate: int, ms: float) -> bytes:
    """``ms`` milliseconds of digital silence at ``rate``."""
    return bytes(frames_for(rate, ms) * SAMPLE_WIDTH)


def duration_s(pcm: bytes, rate: int) -> float:
    """How long ``pcm`` plays at ``rate``."""
    return len(pcm) / SAMPLE_WIDTH / rate


def _s16(pcm: bytes) -> np.ndarray:
    check_whole_frames(pcm)
    return np.frombuffer(pcm, dtype=_S16)


def _as_float(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return x.astype(np.float32, copy=False)
    if x.dtype.kind == "i":
        return (x / -float(np.iinfo(x.dtype).min)).astype(np.float32)
    if x.dtype.kind == "u":
        mid = (float(np.iinfo(x.dtype).max) + 1) / 2
        return ((x - mid) / mid).astype(np.float32)
    raise ValueError(f"unsupported sample dtype {x.dtype}")


def _float_to_s16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(_S16)
