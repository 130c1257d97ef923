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
- Room (``FAKEAUDIO_ROOM=<delay ms>,<reverb ms>,<gain>``, for the echo
  benchmarks): the microphone also hears the speaker, as laptop speakers are
  heard — what plays at time t reaches the microphone ``delay`` later, through
  a room response (a direct path and ``reverb`` ms of decaying reflections).
  The speaker's stream is resampled to the microphone's rate as one continuous
  signal (silence while nothing is written), so the echo path is linear.
- Barge-in (``FAKEAUDIO_BARGE_IN=<raw s16le file>,<seconds>``): that speech is
  added to the microphone ``seconds`` after the speaker first plays sound, so
  the user talks over the model's first reply whenever it comes.
  ``FAKEAUDIO_EVENTS`` names a file that gets ``<monotonic> first-sound`` and
  ``<monotonic> barge-in`` lines.
- Components (``FAKEAUDIO_MIC_DUMP=<path>``): what the microphone captured,
  apart: ``<path>.echo`` the room's part (the speaker, as heard) and
  ``<path>.near`` the rest (``FAKEAUDIO_MIC`` and the barge-in speech), both
  float32 in s16 units, sample for sample with what ``read`` returned; so a
  harness can tell exactly how much echo and how much of the user went in.
"""

from __future__ import annotations

import array
import os
import threading
import time

MIC_RATE = 16_000


class _Room:
    """The air between the speaker and the microphone: a linear echo path, in real time."""

    def __init__(self, spec: str) -> None:
        import numpy as np

        delay_ms, reverb_ms, gain = (float(v) for v in spec.split(","))
        rng = np.random.default_rng(7)
        n = max(1, int(MIC_RATE * reverb_ms / 1000))
        h = rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 5))
        h[0] = 1.0
        self.h = (h / np.abs(h).sum() * 1.5 * gain).astype(np.float32)
        self.delay = int(MIC_RATE * delay_ms / 1000)
        self.epoch = time.monotonic()
        self.air = np.zeros(MIC_RATE * 60, np.float32)  # grows as needed
        self.lock = threading.Lock()
        self.resampler = None
        self.played_until: float | None = None  # end of the speaker's signal fed so far
        self.next_index: int | None = None  # where the resampler's next output sample lands

    def play(self, start: float, data: bytes, rate: int) -> None:
        import numpy as np
        import soxr

        x = np.frombuffer(data, "<i2").astype(np.float32) / 32768
        with self.lock:
            if self.resampler is None:
                self.resampler = soxr.ResampleStream(rate, MIC_RATE, 1, dtype="float32")
                self.next_index = round((start - self.epoch) * MIC_RATE)
                self.played_until = start
            gap = max(0, round((start - self.played_until) * rate))
            if gap:  # the speaker played silence meanwhile
                x = np.concatenate([np.zeros(gap, np.float32), x])
            self.played_until = start + len(data) / 2 / rate
            y = self.resampler.resample_chunk(x)
            if not len(y):
                return  # the resampler's filter is still filling
            wet = np.convolve(y, self.h)
            at = self.next_index + self.delay
            self.next_index += len(y)
            end = at + len(wet)
            if end > len(self.air):
                self.air = np.concatenate([self.air, np.zeros(max(end - len(self.air), MIC_RATE * 60), np.float32)])
            self.air[at:end] += wet

    def hear(self, t0: float, frames: int):
        import numpy as np

        i = round((t0 - self.epoch) * MIC_RATE)
        with self.lock:
            out = np.zeros(frames, np.float32)
            if i < len(self.air):
                part = self.air[max(i, 0):i + frames]
                out[max(0, -i):max(0, -i) + len(part)] = part
        return out


_ROOM = _Room(os.environ["FAKEAUDIO_ROOM"]) if os.environ.get("FAKEAUDIO_ROOM") else None
_DUMP = os.environ.get("FAKEAUDIO_MIC_DUMP")
_dumps: list = []


def _dump(echo, near) -> None:
    if not _dumps:
        import atexit

        _dumps.extend([open(_DUMP + ".echo", "wb"), open(_DUMP + ".near", "wb")])
        atexit.register(lambda: [f.close() for f in _dumps])
    _dumps[0].write(echo.astype("<f4").tobytes())
    _dumps[1].write(near.astype("<f4").tobytes())
_first_sound: list[float] = []  # when the speaker first played sound


def _event(kind: str, at: float) -> None:
    if path := os.environ.get("FAKEAUDIO_EVENTS"):
        with open(path, "a") as f:
            f.write(f"{at:.6f} {kind}\n")

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
            self.barge_in, self.barge_in_s, self.barge_in_logged = b"", 0.0, False
            if spec := os.environ.get("FAKEAUDIO_BARGE_IN"):
                path, seconds = spec.rsplit(",", 1)
                self.barge_in, self.barge_in_s = open(path, "rb").read(), float(seconds)
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
        data += bytes(2 * frames - len(data))
        t0 = self.opened + self.frames_done / self.rate
        self.frames_done += frames
        if _ROOM is None and not self.barge_in and not _DUMP:
            return data
        import numpy as np

        x = np.frombuffer(data, "<i2").astype(np.float32)
        echo = _ROOM.hear(t0, frames) * 32768 if _ROOM is not None else np.zeros(frames, np.float32)
        near = x.copy()
        if self.barge_in and _first_sound:
            at = _first_sound[0] + self.barge_in_s
            offset = round((t0 - at) * self.rate)
            if offset + frames > 0 and offset < len(self.barge_in) // 2:
                if not self.barge_in_logged:
                    self.barge_in_logged = True
                    _event("barge-in", at)
                speech = np.frombuffer(self.barge_in, "<i2")
                lo = max(offset, 0)
                part = speech[lo:offset + frames].astype(np.float32)
                near[lo - offset:lo - offset + len(part)] += part
        if _DUMP:
            _dump(echo, near)
        return np.clip(near + echo, -32768, 32767).astype("<i2").tobytes()

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
        if self.log is not None or not _first_sound:
            samples = array.array("h", data[: 2 * frames])
            peak = max((abs(x) for x in samples), default=0)
            if self.log is not None:
                self.log.write(f"{start:.6f} {frames} {peak}\n")
            if peak > 100 and not _first_sound:
                _first_sound.append(start)
                _event("first-sound", start)
        if _ROOM is not None:
            _ROOM.play(start, data[: 2 * frames], self.rate)

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
