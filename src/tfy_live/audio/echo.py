"""Acoustic echo cancellation: take the model's voice out of the microphone.

On laptop speakers the microphone hears the model; without this the server's
voice detection takes the model's own voice for the user's and the model
interrupts itself. ``EchoCanceller`` wraps WebRTC's audio processing module
(AEC3, as the ``livekit`` package ships it: ``rtc.AudioProcessingModule``),
which estimates the echo path and its delay by itself:

- ``far(pcm)``: what was handed to the speaker, at the speaker's rate (the
  reference: exactly what is played, as it is played);
- ``near(pcm)``: microphone audio, returned cleaned, same rate, same length
  once the stream is under way (the module works in 10 ms frames; a remainder
  waits for the next call).

The module wants its far-end stream without gaps, as a sound card plays
silence when nothing is written: when the capture side gets ahead of what was
played, silence is fed as far-end first. Both calls come from one thread (the
event loop); the module is not shared.

``livekit`` is an optional extra (30 MB): ``available()`` tells whether it is
installed and ``EchoCanceller`` raises ``ConfigError`` naming the install
command when it is not.
"""

from __future__ import annotations

from typing import Any

from tfy_live.audio import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, installed
from tfy_live.errors import ConfigError

FRAME_MS = 10  # the module's frame length


def available() -> bool:
    """Whether the echo canceller's library is installed (without importing it)."""
    return installed("livekit.rtc")


def _new_module(*, noise_suppression: bool, high_pass: bool) -> Any:
    try:
        from livekit import rtc
    except ImportError as exc:
        from tfy_live.extras import install_extra

        raise ConfigError(
            f"echo cancellation needs the optional 'aec' extra ({exc.name or 'livekit'} is not installed): "
            f"run `{install_extra('aec')}`, or use --aec off (with headphones) or --half-duplex"
        ) from None
    return rtc.AudioProcessingModule(
        echo_cancellation=True, noise_suppression=noise_suppression, high_pass_filter=high_pass,
    )


def _frame_maker() -> Any:
    from livekit import rtc

    def frame(pcm: bytes | bytearray, rate: int) -> Any:
        return rtc.AudioFrame(pcm, rate, 1, len(pcm) // SAMPLE_WIDTH)

    return frame


class EchoCanceller:
    def __init__(
        self,
        *,
        near_rate: int = INPUT_RATE,
        far_rate: int = OUTPUT_RATE,
        noise_suppression: bool = False,
        high_pass: bool = False,
        module: Any = None,
        frame: Any = None,
    ) -> None:
        """``module``/``frame`` stand in for the livekit objects in tests."""
        self.near_rate = near_rate
        self.far_rate = far_rate
        self.noise_suppression = noise_suppression
        self.high_pass = high_pass
        self._apm = module if module is not None else _new_module(
            noise_suppression=noise_suppression, high_pass=high_pass)
        self._frame = frame or _frame_maker()  # livekit is looked up once, not 200 times a second
        self._near_bytes = near_rate * FRAME_MS // 1000 * SAMPLE_WIDTH
        self._far_bytes = far_rate * FRAME_MS // 1000 * SAMPLE_WIDTH
        self._near_rest = b""
        self._far_rest = b""
        self._silence = bytes(self._far_bytes)
        self.far_frames = 0  # far-end frames given to the module (played audio and silence)
        self.near_frames = 0
        self.delay_ms = 0  # a hint: the module estimates the echo's delay itself

    def far(self, pcm: bytes) -> None:
        """Give the module what the speaker is about to play (s16le mono at ``far_rate``)."""
        data = self._far_rest + pcm
        size = self._far_bytes
        whole = len(data) - len(data) % size
        for start in range(0, whole, size):
            self._apm.process_reverse_stream(self._frame(data[start:start + size], self.far_rate))
        self.far_frames += whole // size
        self._far_rest = data[whole:]

    def near(self, pcm: bytes) -> bytes:
        """Return microphone audio (s16le mono at ``near_rate``) with the echo taken out."""
        data = self._near_rest + pcm
        size = self._near_bytes
        whole = len(data) - len(data) % size
        out = bytearray()
        for start in range(0, whole, size):
            while self.far_frames <= self.near_frames:  # nothing playing: the speaker plays silence
                self._apm.process_reverse_stream(self._frame(self._silence, self.far_rate))
                self.far_frames += 1
            frame = self._frame(bytearray(data[start:start + size]), self.near_rate)
            self._apm.set_stream_delay_ms(int(self.delay_ms))
            self._apm.process_stream(frame)  # in place
            out += frame.data  # a view of the processed samples
            self.near_frames += 1
        self._near_rest = data[whole:]
        return bytes(out)
