"""Audio files as a microphone and as a speaker.

``WavFileSource`` plays any file libsndfile reads (WAV of any rate, channel
count and sample format; FLAC; OGG) into the program as 16 kHz mono s16le,
in real time like a microphone. ``WavFileSink`` records what the program
would play into a mono 16-bit WAV, in real time like a speaker. Both check
their file when they are built, so the CLI can fail before it connects.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import time
import wave
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import BinaryIO, Self

import soundfile as sf

from tfy_live.audio import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, UNLIMITED_FRAMES
from tfy_live.audio.pacing import MicClock, SpeakerClock
from tfy_live.audio.pcm import slices, to_mono_s16
from tfy_live.errors import AudioError, InputFileError


def _q(path: Path) -> str:
    # repr() quotes the name and escapes control characters, so a path can
    # never break the one-line error message.
    return repr(str(path))


def _record_hint(path: Path) -> str:
    name = shlex.quote(path.name) if path.name.isprintable() else "input.wav"
    return f"record one with `arecord -f S16_LE -r 16000 -c 1 {name}`"


class WavFileSource:
    """An audio file that behaves like a microphone (implements ``AudioSource``).

    The file is checked on construction (``InputFileError`` with a one-line
    fix if it is missing, unreadable, not audio, or empty) and decoded, off
    the event loop, when ``stream()`` starts. With ``realtime=False`` chunks
    come as fast as the consumer takes them.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sample_rate: int = INPUT_RATE,
        realtime: bool = True,
    ) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.realtime = realtime
        self._frames, self._file_rate = _probe(self.path)
        self._pcm: bytes | None = None

    @property
    def duration_s(self) -> float:
        return self._frames / self._file_rate

    async def read_all(self) -> bytes:
        """The whole file as mono s16le at ``sample_rate`` (decoded once, off the loop)."""
        if self._pcm is None:
            self._pcm = await asyncio.to_thread(_decode, self.path, self.sample_rate)
        return self._pcm

    async def stream(self, chunk_frames: int) -> AsyncGenerator[bytes, None]:
        pcm = await self.read_all()
        clock = MicClock(self.sample_rate, time.monotonic())
        for chunk in slices(pcm, chunk_frames):
            frames = len(chunk) // SAMPLE_WIDTH
            # Even unpaced, yield to the loop between chunks so a fast
            # consumer cannot starve the other tasks.
            delay = clock.wait_s(frames, time.monotonic()) if self.realtime else 0.0
            await asyncio.sleep(delay)
            clock.tick(frames)
            yield chunk


def _probe(path: Path) -> tuple[int, int]:
    """Check that ``path`` is a readable, non-empty audio file: (frames, rate)."""
    name = _q(path)
    try:
        with open(path, "rb") as f:
            empty = not f.read(1)
    except FileNotFoundError as exc:
        raise InputFileError(
            f"input file {name} does not exist; check the path, or {_record_hint(path)}"
        ) from exc
    except IsADirectoryError as exc:
        raise InputFileError(
            f"input file {name} is a directory; pass a WAV/FLAC/OGG audio file"
        ) from exc
    except PermissionError as exc:
        raise InputFileError(
            f"cannot read input file {name}: permission denied; check its permissions"
        ) from exc
    except OSError as exc:
        raise InputFileError(
            f"cannot read input file {name}: {exc.strerror or exc}; check the path"
        ) from exc
    if empty:
        raise InputFileError(
            f"input file {name} is empty (0 bytes); {_record_hint(path)}"
        )
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, ValueError) as exc:
        raise InputFileError(
            f"cannot read input file {name}: not a WAV/FLAC/OGG audio file ({_record_hint(path)})"
        ) from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise InputFileError(f"input file {name} holds no audio; {_record_hint(path)}")
    return info.frames, info.samplerate


def _decode(path: Path, rate: int) -> bytes:
    try:
        samples, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(
            f"cannot decode input file {_q(path)}: the audio data is damaged ({_record_hint(path)})"
        ) from exc
    if not len(samples):
        raise InputFileError(
            f"input file {_q(path)} holds no audio; {_record_hint(path)}"
        )
    return to_mono_s16(samples, file_rate, rate)


class WavFileSink:
    """A mono 16-bit WAV file that behaves like a speaker (implements ``AudioSink``).

    The file is created (mode 0o600: it may hold private speech) on
    ``__aenter__``. The WAV header is rewritten after every write and the
    data flushed, so the file stays valid if the program is interrupted or
    killed. With ``realtime=True`` a write waits, as a speaker would, until
    the audio already written is no more than ``buffer_ms`` ahead of real
    time; an idle sink starts playing at once; a normal exit from the block
    waits for the buffered audio to "play out".
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sample_rate: int = OUTPUT_RATE,
        realtime: bool = True,
        buffer_ms: float = 40,
    ) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.realtime = realtime
        self.buffer_ms = buffer_ms
        self._file: BinaryIO | None = None
        self._wave: wave.Wave_write | None = None
        self._clock = SpeakerClock(sample_rate, buffer_ms / 1000)
        _check_writable(self.path)

    async def __aenter__(self) -> Self:
        try:
            fd = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise _write_error(self.path, exc) from exc
        try:
            os.fchmod(fd, 0o600)  # an existing file keeps its mode on O_CREAT
            self._file = os.fdopen(fd, "wb")
            self._wave = wave.open(self._file, "wb")  # noqa: SIM115 (closed in __aexit__)
            self._wave.setnchannels(1)
            self._wave.setsampwidth(SAMPLE_WIDTH)
            self._wave.setframerate(self.sample_rate)
            # The header now: even a sink that is never written leaves a valid WAV.
            self._wave.writeframes(b"")
            self._file.flush()
        except OSError as exc:
            self._close()
            raise _write_error(self.path, exc) from exc
        self._clock = SpeakerClock(self.sample_rate, self.buffer_ms / 1000)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.realtime and exc[0] is None and self._wave is not None:
                # Like a speaker draining its buffer at the end of a reply.
                await asyncio.sleep(self._clock.queued_s(time.monotonic()))
        finally:
            self._close()

    def room(self) -> int | None:
        """Frames that fit now without a wait (all of them when not paced); None when not open."""
        if self._wave is None:
            return None
        if not self.realtime:
            return UNLIMITED_FRAMES  # an unpaced file takes everything at once
        return self._clock.room(time.monotonic())

    def write_now(self, pcm: bytes) -> None:
        """Write frames that fit (``room()`` said so)."""
        if self._wave is None:
            raise RuntimeError("WavFileSink.write_now() outside `async with sink:`")
        self._append(pcm)

    def queued_s(self) -> float:
        return self._clock.queued_s(time.monotonic()) if self.realtime else 0.0

    async def write(self, pcm: bytes) -> None:
        if self._wave is None:
            raise RuntimeError("WavFileSink.write() outside `async with sink:`")
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"s16le PCM must have an even number of bytes, got {len(pcm)}")
        frames = len(pcm) // SAMPLE_WIDTH
        delay = self._clock.wait_s(frames, time.monotonic()) if self.realtime else 0.0
        await asyncio.sleep(delay)  # also yields to the loop when unpaced
        self._append(pcm)

    def _append(self, pcm: bytes) -> None:  # even-length s16le: checked by write(), whole frames from the player
        try:
            # A few hundred bytes to a local file: cheaper inline than a thread hop.
            self._wave.writeframes(pcm)  # type: ignore[union-attr]  # patches the header's lengths too
            self._file.flush()  # type: ignore[union-attr]
        except OSError as exc:
            raise _write_error(self.path, exc) from exc
        self._clock.commit(len(pcm) // SAMPLE_WIDTH, time.monotonic())

    def _close(self) -> None:
        wav, f = self._wave, self._file
        self._wave = self._file = None
        try:
            if wav is not None:
                wav.close()  # final header patch; does not close a file it did not open
        except OSError:
            pass
        finally:
            if f is not None:
                f.close()


def _check_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise AudioError(
            f"output file {_q(path)} is a directory; pass a file name ending in .wav"
        )
    if not parent.is_dir():
        raise AudioError(
            f"cannot create output file {_q(path)}: directory {_q(parent)} does not exist;"
            " create it or pass another --output-file"
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        raise AudioError(
            f"cannot create output file {_q(path)}: permission denied; pass another --output-file"
        )


def _write_error(path: Path, exc: OSError) -> AudioError:
    reason = exc.strerror or exc.__class__.__name__
    return AudioError(
        f"cannot write output file {_q(path)}: {reason}; pass another --output-file"
    )
