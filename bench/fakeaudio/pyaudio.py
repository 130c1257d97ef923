"""A stand-in for PyAudio with real-time simulated devices, for the benchmarks.

Put this directory first on PYTHONPATH and ``import pyaudio`` gets it: the
same simulated microphone and speaker for tfy-live and the seed sample, paced
by the clock as a sound card would be (ALSA's file devices are not paced).

- Microphone: plays ``FAKEAUDIO_MIC`` (raw s16le mono at the rate it is
  opened with), then silence; ``read(n)`` returns when those frames would
  have been captured.
- Speaker: ``write`` blocks while more than ``FAKEAUDIO_BUFFER_MS`` (40) is
  queued, as a device buffer does. Each write is logged to
  ``FAKEAUDIO_SPK_LOG`` as ``<monotonic start of playback> <frames> <peak>``
  so a harness can tell what was heard when (CLOCK_MONOTONIC is shared by
  every process on the machine).
"""

from __future__ import annotations

import array
import os
import time

paInt16 = 8
paContinue = 0


class _Stream:
    def __init__(self, rate: int, channels: int, is_input: bool) -> None:
        self.rate, self.channels, self.is_input = rate, channels, is_input
        self.opened = time.monotonic()
        self.frames_done = 0
        self.active = True
        if is_input:
            path = os.environ.get("FAKEAUDIO_MIC")
            self.mic = open(path, "rb").read() if path else b""
            if log := os.environ.get("FAKEAUDIO_MIC_LOG"):  # when capture began, for latency
                with open(log, "a") as f:
                    f.write(f"{self.opened:.6f} {rate}\n")
        else:
            self.buffer_s = float(os.environ.get("FAKEAUDIO_BUFFER_MS", "40")) / 1000
            self.play_end = time.monotonic()
            path = os.environ.get("FAKEAUDIO_SPK_LOG")
            self.log = open(path, "a", buffering=1) if path else None

    # -- microphone ------------------------------------------------------------
    def read(self, frames: int, exception_on_overflow: bool = True) -> bytes:
        due = self.opened + (self.frames_done + frames) / self.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        start = 2 * self.frames_done
        data = self.mic[start:start + 2 * frames]
        self.frames_done += frames
        return data + bytes(2 * frames - len(data))

    def get_read_available(self) -> int:
        return max(0, int((time.monotonic() - self.opened) * self.rate) - self.frames_done)

    # -- speaker ---------------------------------------------------------------
    def write(self, data: bytes, num_frames: int | None = None, exception_on_underflow: bool = False) -> None:
        now = time.monotonic()
        wait = self.play_end - now - self.buffer_s
        if wait > 0:
            time.sleep(wait)
            now = time.monotonic()
        start = max(now, self.play_end)
        frames = len(data) // 2
        self.play_end = start + frames / self.rate
        if self.log is not None:
            samples = array.array("h", data[: 2 * frames])
            peak = max((abs(x) for x in samples), default=0)
            self.log.write(f"{start:.6f} {frames} {peak}\n")

    def get_write_available(self) -> int:
        return max(0, int((self.buffer_s - max(0.0, self.play_end - time.monotonic())) * self.rate))

    # -- both ------------------------------------------------------------------
    def is_active(self) -> bool:
        return self.active

    def start_stream(self) -> None:
        self.active = True

    def stop_stream(self) -> None:
        if not self.is_input:  # let the buffer play out, as PortAudio's stop does
            time.sleep(max(0.0, self.play_end - time.monotonic()))
        self.active = False

    def close(self) -> None:
        self.active = False
        if not self.is_input and self.log is not None:
            self.log.close()
            self.log = None


_DEVICES = [
    {"index": 0, "name": "fake microphone", "hostApi": 0, "maxInputChannels": 1, "maxOutputChannels": 0,
     "defaultSampleRate": 16000.0},
    {"index": 1, "name": "fake speaker", "hostApi": 0, "maxInputChannels": 0, "maxOutputChannels": 2,
     "defaultSampleRate": 24000.0},
]


class PyAudio:
    def get_device_count(self) -> int:
        return len(_DEVICES)

    def get_device_info_by_index(self, index: int) -> dict:
        return dict(_DEVICES[index])

    def get_host_api_info_by_index(self, index: int) -> dict:
        return {"index": 0, "name": "fake real-time", "defaultInputDevice": 0, "defaultOutputDevice": 1}

    def get_default_input_device_info(self) -> dict:
        return dict(_DEVICES[0])

    def get_default_output_device_info(self) -> dict:
        return dict(_DEVICES[1])

    def is_format_supported(self, rate, input_device=None, input_channels=None, input_format=None,
                            output_device=None, output_channels=None, output_format=None) -> bool:
        return True

    def open(self, rate, channels, format, input=False, output=False, input_device_index=None,
             output_device_index=None, frames_per_buffer=1024, start=True, stream_callback=None, **_):
        if stream_callback is not None:
            raise ValueError("callback streams are not simulated")
        return _Stream(rate, channels, bool(input))

    def get_sample_size(self, format) -> int:
        return 2

    def terminate(self) -> None:
        pass
