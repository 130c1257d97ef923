"""Sound-card devices as a source and a sink, through PortAudio (``portaudio.py``).

Threads. PortAudio's blocking calls are made off the event loop: a source
reads on one dedicated thread per ``stream()``; a sink writes on one
dedicated executor thread per ``async with``, which also opens and closes its
stream, so a close can never run under a write that is still in progress.

Listing and choosing devices, and PortAudio's errors, are re-exported from
``portaudio.py`` so callers need one import.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self

from tfy_live.audio import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, frames_for
from tfy_live.audio.freerun import InputStream, probe_input
from tfy_live.audio.pacing import SpeakerClock
from tfy_live.audio.portaudio import (
    PA_DEVICE_UNAVAILABLE,
    PA_INSUFFICIENT_MEMORY,
    PA_INVALID_CHANNEL_COUNT,
    PA_INVALID_DEVICE,
    PA_INVALID_SAMPLE_RATE,
    PA_SAMPLE_FORMAT_NOT_SUPPORTED,
    PA_UNANTICIPATED_HOST_ERROR,
    DeviceInfo,
    check_format,
    close_stream,
    open_stream,
    find_device,
    list_devices,
    portaudio_error,
    release_audio,
    select_device,
)
from tfy_live.errors import AudioError

__all__ = [  # the streams, and what callers need with them from portaudio.py
    "PA_DEVICE_UNAVAILABLE", "PA_INSUFFICIENT_MEMORY", "PA_INVALID_CHANNEL_COUNT", "PA_INVALID_DEVICE",
    "PA_INVALID_SAMPLE_RATE", "PA_SAMPLE_FORMAT_NOT_SUPPORTED", "PA_UNANTICIPATED_HOST_ERROR", "DeviceInfo",
    "PyAudioSink", "PyAudioSource", "find_device", "list_devices", "portaudio_error", "release_audio",
    "select_device",
]

class PyAudioSource:
    """A PortAudio input device as an ``AudioSource``.

    The device is chosen (and its format checked) on construction, so a bad
    ``--input-device`` fails before connecting; it is open only while
    ``stream()`` iterates. Chunks wait in a queue of at most ``queue_ms``;
    when the consumer falls behind the oldest are dropped and counted in
    ``dropped_chunks``.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        sample_rate: int = INPUT_RATE,
        queue_ms: int = 1000,
    ) -> None:
        self.device = find_device(device, "input")
        self.sample_rate = sample_rate
        self.queue_ms = queue_ms
        self.dropped_chunks = 0
        check_format(self.device, "input", sample_rate)

    async def stream(self, chunk_frames: int) -> AsyncGenerator[bytes, None]:
        if chunk_frames <= 0:
            raise ValueError("chunk_frames must be positive")
        chunk_ms = 1000 * chunk_frames / self.sample_rate
        reader = _Reader(
            self, chunk_frames, max(2, math.ceil(self.queue_ms / chunk_ms))
        )
        reader.start()
        try:
            while True:
                item = await reader.queue.get()
                if isinstance(item, bytes):
                    yield item
                elif isinstance(item, BaseException):
                    raise item
                else:
                    return  # the reader stopped
        finally:
            # Runs on break (via aclose), on cancellation and on errors. The
            # reader notices within one read (at most one chunk on a real
            # device) and closes the stream itself; wait a little for that so
            # the device is free when we return, but never hang on a stuck driver.
            reader.stop()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await asyncio.shield(reader.closed)
            if reader.closed.done():
                reader.join()  # its last statement has run: returns at once


_END = object()


class _Reader:
    """The thread that owns one input stream: open, read, close."""

    def __init__(self, source: PyAudioSource, chunk_frames: int, maxsize: int) -> None:
        self.source = source
        self.chunk_frames = chunk_frames
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize)
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self._stop = threading.Event()
        # Daemon: a driver that never returns from a read must not keep the
        # process alive after the program is done.
        self._thread = threading.Thread(target=self._run, name="tfy-mic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        self._thread.join(timeout=0.1)

    def _run(self) -> None:
        src = self.source
        try:
            stream = open_stream(
                src.device, "input", src.sample_rate, self.chunk_frames
            )
        except AudioError as exc:
            self._post(exc)
            self._finish()
            return
        try:
            self._read_loop(stream)
        except OSError as exc:
            self._post(portaudio_error(exc, "input", src.device.name, src.sample_rate))
        except Exception as exc:  # noqa: BLE001 (handed to the consumer, not lost)
            self._post(exc)
        else:
            self._post(_END)
        finally:
            close_stream(stream, drain=False)
            self._finish()

    def _read_loop(self, stream: InputStream) -> None:
        frames = self.chunk_frames
        # PortAudio cannot tell a file-backed ALSA test device (every read returns at once) from a
        # microphone, so the first reads decide, once, whether to pace the stream here. A microphone
        # paces itself, and a second clock would drift behind it until its buffer overflows.
        chosen = probe_input(
            stream, self.source.sample_rate, frames, self._deliver,
            now=time.monotonic, wait=self._stop.wait, exception_on_overflow=False,
        )
        if chosen is None:
            return  # stopped during the probe
        while True:
            data = chosen.read(frames, exception_on_overflow=False)
            if not self._deliver(data):
                return

    def _deliver(self, data: bytes) -> bool:
        """Hand a chunk to the consumer; False once stop() was called or nobody is listening."""
        return not self._stop.is_set() and self._post(data)

    def _post(self, item: object) -> bool:
        try:
            self.loop.call_soon_threadsafe(self._put, item)
        except RuntimeError:
            return False  # the loop is closed: nobody is listening any more
        return True

    def _put(self, item: object) -> None:  # on the loop
        if self.queue.full():
            self.queue.get_nowait()  # drop the oldest: live audio beats stale audio
            self.source.dropped_chunks += 1
        self.queue.put_nowait(item)

    def _finish(self) -> None:
        def done() -> None:
            if not self.closed.done():
                self.closed.set_result(None)

        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(done)


class PyAudioSink:
    """A PortAudio output device as an ``AudioSink``.

    The device is chosen (and its format checked) on construction and open
    inside ``async with``. Writes go through one dedicated thread, in order,
    and are paced like ``WavFileSink``: never more than ``buffer_ms`` ahead of
    real time (a real device also blocks on its own buffer; a file-backed
    test device would otherwise swallow audio instantly).
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        sample_rate: int = OUTPUT_RATE,
        buffer_ms: float = 40,
        period_ms: float = 10,
    ) -> None:
        self.device = find_device(device, "output")
        self.sample_rate = sample_rate
        self.buffer_ms = buffer_ms
        self.period_ms = period_ms
        self._stream: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._clock = SpeakerClock(sample_rate, buffer_ms / 1000)
        check_format(self.device, "output", sample_rate)

    async def __aenter__(self) -> Self:
        executor = ThreadPoolExecutor(1, thread_name_prefix="tfy-speaker")
        frames_per_buffer = frames_for(self.sample_rate, self.period_ms)
        opening = executor.submit(
            open_stream, self.device, "output", self.sample_rate, frames_per_buffer
        )
        try:
            self._stream = await asyncio.shield(asyncio.wrap_future(opening))
        except BaseException:
            # Cancelled while the thread opens the device (or the open
            # failed): the thread runs jobs in order, so this closes the
            # stream right after it opens, if it does.
            def close_if_opened() -> None:
                if opening.exception() is None:
                    close_stream(opening.result(), drain=False)

            executor.submit(close_if_opened)
            executor.shutdown(wait=False)
            raise
        self._executor = executor
        self._clock = SpeakerClock(self.sample_rate, self.buffer_ms / 1000)
        return self

    async def __aexit__(self, *exc: object) -> None:
        stream, executor = self._stream, self._executor
        self._stream = self._executor = None
        if stream is None or executor is None:
            return
        # Drain on a normal exit so the end of the reply is heard; on an
        # error or a cancellation drop what is queued. The close is queued
        # behind any write still running on the thread, and shielded: if we
        # are cancelled again while waiting, it still happens.
        closing = executor.submit(close_stream, stream, drain=exc[0] is None)
        executor.shutdown(wait=False)
        await asyncio.shield(asyncio.wrap_future(closing))

    def room(self) -> int | None:
        """Frames that fit now without a wait: in the device's buffer, and within ``buffer_ms`` of real time.

        None if the device cannot tell (or is not open): then ``write`` hands slices to the speaker thread.
        """
        available = self._device_room()
        if available is None:
            return None
        return min(available, self._clock.room(time.monotonic()))

    def write_now(self, pcm: bytes) -> None:
        """Write frames that fit (``room()`` said so): PortAudio copies them and returns at once."""
        if self._stream is None:
            raise RuntimeError("PyAudioSink.write_now() outside `async with sink:`")
        self._clock.commit(len(pcm) // SAMPLE_WIDTH, time.monotonic())
        try:
            self._stream.write(pcm)
        except OSError as exc:
            raise portaudio_error(exc, "output", self.device.name, self.sample_rate) from exc

    def queued_s(self) -> float:
        """Audio written and not yet played, by the clock that paces writes."""
        return self._clock.queued_s(time.monotonic())

    def _device_room(self) -> int | None:
        """Frames the device's own buffer takes now (a write of them would not block); None if it cannot tell."""
        if self._stream is None:
            return None
        try:
            return max(0, int(self._stream.get_write_available()))
        except (OSError, AttributeError, TypeError, ValueError):  # a host API that cannot tell
            return None

    async def write(self, pcm: bytes) -> None:
        if self._stream is None or self._executor is None:
            raise RuntimeError("PyAudioSink.write() outside `async with sink:`")
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(
                f"s16le PCM must have an even number of bytes, got {len(pcm)}"
            )
        frames = len(pcm) // SAMPLE_WIDTH
        await asyncio.sleep(self._clock.wait_s(frames, time.monotonic()))
        self._clock.commit(frames, time.monotonic())
        try:
            if (self._device_room() or 0) >= frames:
                # The device has room: PortAudio copies the slice into its
                # buffer and returns at once. Written here, not handed to the
                # speaker thread to be woken and to wake us back: those two
                # hand-offs, fifty times a second, cost more than the write.
                self._stream.write(pcm)
            else:
                # If we are cancelled here the slice still plays: a thread
                # cannot be interrupted, and the slice is short.
                await asyncio.get_running_loop().run_in_executor(self._executor, self._stream.write, pcm)
        except OSError as exc:
            raise portaudio_error(
                exc, "output", self.device.name, self.sample_rate
            ) from exc
