"""Audio files as a microphone and as a speaker.

``WavFileSource`` plays any file libsndfile reads (WAV of any rate, channel
count and sample format; FLAC; OGG) into the program as 16 kHz mono s16le,
in real time like a microphone. ``WavFileSink`` records what the program
would play into a mono 16-bit WAV, in real time like a speaker, with
``WavWriter`` (also the ``--record`` file's), whose header is right on disk
after every write, a full disk included. Both check their file when they
are built, so the CLI can fail before it connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import struct
import stat
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Self

import soundfile as sf

from tfy_live import outfiles
from tfy_live.audio import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, UNLIMITED_FRAMES
from tfy_live.audio.pacing import MicClock, SpeakerClock
from tfy_live.audio.pcm import slices, to_mono_s16
from tfy_live.errors import ConfigError, InputFileError
from tfy_live.outfiles import Opener, OutFile, Policy, Target


def _q(path: Path) -> str:
    # repr() quotes the name and escapes control characters, so a path can
    # never break the one-line error message.
    return repr(str(path))


# Works on any machine, without a file: the microphone, or where there is none the sample tfy-live ships.
WITHOUT_A_FILE = "run `tfy-live talk --local`, which needs no file"


def _record_hint(path: Path) -> str:
    """What to pass instead of a file that holds no audio: a recording made with arecord where it is
    installed (ALSA's utilities are not everywhere), else any recording."""
    if shutil.which("arecord") is None:
        return f"pass a recording instead, or {WITHOUT_A_FILE}"
    name = shlex.quote(str(_recording_name(path)))
    return f"record one with `arecord -f S16_LE -r 16000 -c 1 {name}` and pass --input-file {name}"


def _recording_name(path: Path) -> Path:
    """Where the suggested recording may go: a new .wav name beside the file that does not exist, so
    following the hint never overwrites a file (README.md…, or the file itself)."""
    printable = str(path).isprintable()
    folder = path.parent if printable and path.parent.is_dir() else Path()
    stem = path.stem if printable and path.stem and not path.stem.startswith("-") else "input"
    for n in range(1, 1000):
        candidate = folder / (f"{stem}.wav" if n == 1 else f"{stem}-{n}.wav")
        if not os.path.lexists(candidate):
            return candidate
    return folder / f"{stem}-{os.getpid()}.wav"


class WavFileSource:
    """An audio file that behaves like a microphone (implements ``AudioSource``).

    The file is checked on construction (``InputFileError`` with a one-line
    fix if it is missing, unreadable, not audio, or empty, or not a regular
    file: a pipe or ``<(…)`` is refused, not waited on) and decoded, off
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
        # stat, not open: opening a FIFO no writer has opened blocks, and Ctrl-C cannot reach a blocked open().
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            kind = "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            raise InputFileError(
                f"input file {name} is {kind}, not a file: it is read twice (checked before connecting, then "
                "streamed); save it to a file first, e.g. `… > in.wav`, and pass --input-file in.wav"
            )
        with open(path, "rb") as f:
            empty = not f.read(1)
    except FileNotFoundError as exc:
        raise InputFileError(
            f"input file {name} does not exist; check the path, or {WITHOUT_A_FILE}"
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


class WavWriter:
    """A 16-bit PCM WAV on an ``OutFile`` whose header matches the audio on disk after every ``append``.

    Not ``wave.Wave_write``: it counts audio as written before the bytes reach the disk, and flushes its
    buffer again on close, so a full disk left a header claiming audio the file lacked, and a traceback.
    Here the audio goes first and whole (``OutFile.append`` cuts back a partial write), then the two lengths
    are patched; if the patch fails, the audio is cut back too. The first audio commits an
    ``--overwrite`` replacement.
    """

    def __init__(self, out: OutFile, *, channels: int, rate: int) -> None:
        self.out = out
        self.channels, self.rate = channels, rate
        self.data_bytes = 0
        # A FIFO cannot be patched: declare the largest length, as streaming WAV writers do.
        out.append(wav_header(channels, rate, 0 if out.seekable else _MAX_DATA))

    def append(self, pcm: bytes) -> None:
        """Whole frames of s16le; ``ConfigError`` (the file still valid) when the disk refuses them."""
        if not pcm:
            return
        self.out.append(pcm)
        size = self.data_bytes + len(pcm)
        try:
            self.out.patch(4, struct.pack("<I", min(36 + size, _MAX_DATA + 36)))
            self.out.patch(40, struct.pack("<I", min(size, _MAX_DATA)))
        except ConfigError:
            self.out.cut(_HEADER_BYTES + self.data_bytes)
            with contextlib.suppress(ConfigError):
                self.out.patch(4, struct.pack("<I", min(36 + self.data_bytes, _MAX_DATA + 36)))
            raise
        self.data_bytes = size
        self.out.commit()


_HEADER_BYTES = 44
_MAX_DATA = 0xFFFFFFFF - 36  # the RIFF length is 32 bits and counts 36 header bytes too


def wav_header(channels: int, rate: int, data_bytes: int) -> bytes:
    """The 44-byte header of a 16-bit PCM WAV holding ``data_bytes`` of audio."""
    data_bytes = min(data_bytes, _MAX_DATA)
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, channels, rate,
                       rate * channels * SAMPLE_WIDTH, channels * SAMPLE_WIDTH, 8 * SAMPLE_WIDTH, b"data", data_bytes)


class WavFileSink:
    """A mono 16-bit WAV file that behaves like a speaker (implements ``AudioSink``).

    The path is checked when the sink is built (an existing file is refused unless ``policy`` says
    overwrite; see ``outfiles``) and the file created, mode 0600, on ``__aenter__`` by ``opener``. The
    header is patched after every write, so the file stays valid if the program is interrupted, killed,
    or the disk fills. With ``realtime=True`` a write waits, as a speaker would, until the audio already
    written is no more than ``buffer_ms`` ahead of real time; an idle sink starts playing at once; a normal
    exit from the block waits for the buffered audio to "play out".
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sample_rate: int = OUTPUT_RATE,
        realtime: bool = True,
        buffer_ms: float = 40,
        policy: Policy = Policy(),
        opener: Opener = outfiles.create,
    ) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.realtime = realtime
        self.buffer_ms = buffer_ms
        self.target = Target(self.path, "--output-file", "output file")
        self._policy = policy
        self._opener = opener
        self._wav: WavWriter | None = None
        self._clock = SpeakerClock(sample_rate, buffer_ms / 1000)
        outfiles.check(self.target, policy)  # refuse before connecting

    async def __aenter__(self) -> Self:
        out = self._opener(self.target, self._policy)
        try:
            # The header now: even a sink that is never written leaves a valid WAV.
            self._wav = WavWriter(out, channels=1, rate=self.sample_rate)
        except BaseException:
            out.discard()
            raise
        self._clock = SpeakerClock(self.sample_rate, self.buffer_ms / 1000)
        return self

    async def __aexit__(self, *exc: object) -> None:
        clean = exc[0] is None
        try:
            if self.realtime and clean and self._wav is not None:
                # Like a speaker draining its buffer at the end of a reply.
                await asyncio.sleep(self._clock.queued_s(time.monotonic()))
        finally:
            self._close(clean=clean)

    def room(self) -> int | None:
        """Frames that fit now without a wait (all of them when not paced); None when not open."""
        if self._wav is None:
            return None
        if not self.realtime:
            return UNLIMITED_FRAMES  # an unpaced file takes everything at once
        return self._clock.room(time.monotonic())

    def write_now(self, pcm: bytes) -> None:
        """Write frames that fit (``room()`` said so)."""
        if self._wav is None:
            raise RuntimeError("WavFileSink.write_now() outside `async with sink:`")
        self._append(pcm)

    def queued_s(self) -> float:
        return self._clock.queued_s(time.monotonic()) if self.realtime else 0.0

    async def write(self, pcm: bytes) -> None:
        if self._wav is None:
            raise RuntimeError("WavFileSink.write() outside `async with sink:`")
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"s16le PCM must have an even number of bytes, got {len(pcm)}")
        frames = len(pcm) // SAMPLE_WIDTH
        delay = self._clock.wait_s(frames, time.monotonic()) if self.realtime else 0.0
        await asyncio.sleep(delay)  # also yields to the loop when unpaced
        self._append(pcm)

    def _append(self, pcm: bytes) -> None:  # even-length s16le: checked by write(), whole frames from the player
        assert self._wav is not None
        # A few hundred bytes to a local file: cheaper inline than a thread hop.
        self._wav.append(pcm)
        self._clock.commit(len(pcm) // SAMPLE_WIDTH, time.monotonic())

    def _close(self, *, clean: bool) -> None:
        wav, self._wav = self._wav, None
        if wav is None:
            return
        try:
            if clean:
                wav.out.commit()  # a run that ended well replaces the old file even with no audio
        finally:
            try:
                wav.out.close()
            except ConfigError:
                if clean:  # else the error already on its way is the one to show
                    raise
