"""The level of s16le mono PCM, without numpy: the microphone's level is read fifty times a second,
and importing numpy (with soxr) for it cost every ``talk`` about 55 ms of start-up."""

from __future__ import annotations

import math
import warnings

from tfy_live.audio import SAMPLE_WIDTH

with warnings.catch_warnings():  # deprecated in the standard library; audioop-lts carries it on from 3.13
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def rms_dbfs(pcm: bytes) -> float:
    """RMS level in dBFS (a full-scale square wave is 0 dB); ``-inf`` for silence or b""."""
    # audioop, not numpy: fifty lone calls a second with cold caches, where numpy's dispatch costs
    # several times the work (BENCHMARKS.md). Its whole-sample RMS is exact enough at the speech threshold.
    check_whole_frames(pcm)
    rms = audioop.rms(pcm, SAMPLE_WIDTH)
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


def check_whole_frames(pcm: bytes) -> None:
    if len(pcm) % SAMPLE_WIDTH:
        raise ValueError(f"s16le PCM must have an even number of bytes, got {len(pcm)}")
