"""Audio files as microphone and speaker: formats, pacing, errors."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tfy_live.audio import AudioSink, AudioSource
from tfy_live.audio.level import rms_dbfs
from tfy_live.audio.pcm import silence
from tfy_live.audio.wavfile import WavFileSink, WavFileSource
from tfy_live.errors import ConfigError, InputFileError
from tfy_live.outfiles import Policy


def sine(
    rate: int, seconds: float, freq: float = 440.0, amp: float = 0.5
) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def peak_hz(pcm: bytes, rate: int) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


async def collect(source: WavFileSource, chunk_frames: int) -> list[bytes]:
    return [chunk async for chunk in source.stream(chunk_frames)]


# --- WavFileSource: formats ---------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "channels", "subtype", "fmt"),
    [
        (44100, 2, "FLOAT", "WAV"),
        (8000, 1, "PCM_16", "WAV"),
        (48000, 1, "PCM_24", "WAV"),
        (22050, 6, "PCM_32", "WAV"),
        (16000, 1, "PCM_U8", "WAV"),
        (32000, 2, "PCM_16", "FLAC"),
        (48000, 2, "VORBIS", "OGG"),
    ],
)
async def test_any_file_becomes_16k_mono_s16(tmp_path, rate, channels, subtype, fmt):
    path = tmp_path / f"in.{fmt.lower()}"
    data = np.repeat(sine(rate, 0.5)[:, None], channels, axis=1)
    sf.write(path, data, rate, subtype=subtype, format=fmt)

    source: AudioSource = WavFileSource(path, realtime=False)
    assert source.sample_rate == 16000
    assert source.duration_s == pytest.approx(0.5, abs=0.01)
    pcm = b"".join(await collect(source, 320))

    assert abs(len(pcm) // 2 - 8000) <= 2
    assert peak_hz(pcm, 16000) == pytest.approx(440, abs=3)
    assert rms_dbfs(pcm) == pytest.approx(-9.03, abs=0.3)  # a 0.5 sine, every channel


async def test_16k_mono_int16_is_passed_through_exactly(tmp_path):
    samples = np.random.default_rng(7).integers(-32768, 32767, 4000, dtype=np.int16)
    path = tmp_path / "exact.wav"
    sf.write(path, samples, 16000, subtype="PCM_16")
    pcm = await WavFileSource(path, realtime=False).read_all()
    assert pcm == samples.astype("<i2").tobytes()


async def test_stereo_is_downmixed_by_averaging(tmp_path):
    path = tmp_path / "left-only.wav"
    left = np.full(1600, 0.5)
    sf.write(path, np.stack([left, np.zeros(1600)], axis=1), 16000, subtype="FLOAT")
    pcm = await WavFileSource(path, realtime=False).read_all()
    assert set(np.frombuffer(pcm, dtype="<i2").tolist()) == {8192}


async def test_chunks_are_whole_with_a_short_last_one(tmp_path):
    path = tmp_path / "odd.wav"
    sf.write(path, np.zeros(1000, dtype=np.int16), 16000, subtype="PCM_16")
    chunks = await collect(WavFileSource(path, realtime=False), 320)
    assert [len(c) for c in chunks] == [640, 640, 640, 80]


# --- WavFileSource: pacing ----------------------------------------------------


async def test_source_is_paced_in_real_time(tmp_path):
    path = tmp_path / "half-second.wav"
    sf.write(path, sine(16000, 0.5), 16000, subtype="PCM_16")
    source = WavFileSource(path)
    await source.read_all()  # decode outside the timed part

    began = time.monotonic()
    arrivals = []
    async for _chunk in source.stream(320):
        arrivals.append(time.monotonic() - began)

    assert len(arrivals) == 25
    # Lower bounds only: a loaded machine may be late, never early.
    assert arrivals[-1] >= 0.45
    assert arrivals[9] >= 0.18  # the 10th 20 ms chunk is recorded at 200 ms


async def test_breaking_out_of_the_stream_stops_it(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16000 * 10, dtype=np.int16), 16000, subtype="PCM_16")
    source = WavFileSource(path)
    async with contextlib.aclosing(source.stream(320)) as chunks:
        async for _chunk in chunks:
            break
    # And it can be streamed again.
    async with contextlib.aclosing(source.stream(320)) as chunks:
        assert len(await anext(chunks)) == 640


# --- WavFileSource: errors ----------------------------------------------------


def one_line_error(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


@pytest.fixture
def arecord(tmp_path, monkeypatch):
    """``with_arecord(True/False)``: a PATH where ALSA's arecord is installed (a stand-in that is never run), or not."""
    folder = tmp_path / "bin"
    folder.mkdir()

    def with_arecord(installed: bool) -> None:
        if installed:
            (folder / "arecord").write_text("#!/bin/sh\nexit 1\n")
            (folder / "arecord").chmod(0o755)
        monkeypatch.setenv("PATH", str(folder))

    return with_arecord


@pytest.mark.parametrize("installed", [True, False])
def test_missing_file_says_check_the_path_and_names_a_command_that_needs_no_file(tmp_path, arecord, installed):
    arecord(installed)  # a typo is not fixed by recording a file, with arecord or without
    with pytest.raises(InputFileError) as excinfo:
        WavFileSource(tmp_path / "nope.wav")
    message = one_line_error(excinfo)
    assert "nope.wav" in message and "does not exist; check the path" in message
    assert "`tfy-live talk --local`" in message and "arecord" not in message


def _garbage_file_message(tmp_path: Path, arecord, installed: bool) -> str:
    """The error for a text file passed as --input-file, with arecord installed or not."""
    arecord(installed)
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes, not audio\n" * 20)
    with pytest.raises(InputFileError) as excinfo:
        WavFileSource(path)
    return one_line_error(excinfo)


def test_garbage_file_without_arecord_names_no_arecord(tmp_path, arecord):
    message = _garbage_file_message(tmp_path, arecord, installed=False)
    assert "notes.wav" in message
    assert "not a WAV/FLAC/OGG audio file" in message
    assert "arecord" not in message and "pass a recording instead, or run `tfy-live talk --local`" in message


def test_garbage_file_with_arecord_suggests_recording_one(tmp_path, arecord):
    message = _garbage_file_message(tmp_path, arecord, installed=True)
    assert "not a WAV/FLAC/OGG audio file" in message and "arecord -f S16_LE -r 16000" in message


def _suggested_recording(message: str) -> str:
    import re
    import shlex

    command = re.search(r"`(arecord [^`]*)`", message)
    assert command is not None, message
    return shlex.split(command.group(1))[-1]


@pytest.mark.parametrize("name", ["README.md", "notes.wav", "-x.txt"])
def test_the_recording_hint_never_names_a_file_that_exists(tmp_path, arecord, name):
    # Following the hint must not overwrite what the user passed (a README given by mistake) or anything else.
    arecord(True)
    path = tmp_path / name
    path.write_text("these are my notes, not audio\n" * 20)
    (tmp_path / (path.stem + ".wav")).write_text("taken")  # the obvious new name is taken too, for notes.wav
    with pytest.raises(InputFileError) as excinfo:
        WavFileSource(path)
    message = one_line_error(excinfo)
    suggested = _suggested_recording(message)
    assert not os.path.lexists(suggested) and suggested.endswith(".wav") and not os.path.basename(suggested).startswith("-")
    assert f"--input-file {suggested}" in message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(InputFileError) as excinfo:
        WavFileSource(path)
    assert "empty" in one_line_error(excinfo)


def test_wav_without_frames(tmp_path):
    path = tmp_path / "header-only.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    with pytest.raises(InputFileError) as excinfo:
        WavFileSource(path)
    assert "holds no audio" in one_line_error(excinfo)


def test_directory(tmp_path):
    with pytest.raises(InputFileError) as excinfo:
        WavFileSource(tmp_path)
    assert "is a directory" in one_line_error(excinfo)


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    # Opening a FIFO that no writer opens blocks, past Ctrl-C; a pipe read once cannot be read again.
    os.mkfifo(tmp_path / "in.wav")
    with pytest.raises(InputFileError) as excinfo:
        WavFileSource(tmp_path / "in.wav")
    message = one_line_error(excinfo)
    assert "is a pipe, not a file" in message and "> in.wav" in message


def test_a_device_is_refused_too():
    with pytest.raises(InputFileError, match="'/dev/null' is a device, not a file"):
        WavFileSource("/dev/null")


def test_control_characters_in_the_name_stay_on_one_line(tmp_path):
    with pytest.raises(InputFileError) as excinfo:
        WavFileSource(tmp_path / "evil\nname.wav")
    assert "evil\\nname.wav" in one_line_error(excinfo)


# --- WavFileSink --------------------------------------------------------------


def read_wav(path) -> tuple[int, int, int, bytes]:
    with wave.open(str(path), "rb") as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.readframes(10**9)


async def test_sink_writes_a_valid_mono_16_bit_wav(tmp_path):
    path = tmp_path / "reply.wav"
    data = np.random.default_rng(3).integers(-32768, 32767, 2400, dtype=np.int16)
    pcm = data.astype("<i2").tobytes()
    sink: AudioSink = WavFileSink(path, realtime=False)
    async with sink:
        for i in range(0, len(pcm), 960):
            await sink.write(pcm[i : i + 960])
    assert read_wav(path) == (1, 2, 24000, pcm)
    assert sf.info(path).frames == 2400


async def test_sink_file_is_valid_while_still_being_written(tmp_path):
    # What a Ctrl-C or a kill leaves behind: the header is kept up to date.
    path = tmp_path / "partial.wav"
    async with WavFileSink(path, sample_rate=16000, realtime=False) as sink:
        assert read_wav(path) == (1, 2, 16000, b"")
        await sink.write(b"\x01\x00" * 320)
        await sink.write(b"\x02\x00" * 320)
        assert read_wav(path) == (1, 2, 16000, b"\x01\x00" * 320 + b"\x02\x00" * 320)


async def test_sink_file_is_private(tmp_path):
    fresh = tmp_path / "fresh.wav"
    existing = tmp_path / "existing.wav"
    existing.write_bytes(b"old")
    existing.chmod(0o644)
    for path, policy in ((fresh, Policy()), (existing, Policy(overwrite=True))):
        async with WavFileSink(path, realtime=False, policy=policy) as sink:
            await sink.write(silence(24000, 20))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


async def test_sink_is_paced_like_a_speaker(tmp_path):
    sink = WavFileSink(tmp_path / "paced.wav", sample_rate=24000, buffer_ms=40)
    slice_ = silence(24000, 20)
    async with sink:
        began = time.monotonic()
        for _ in range(25):  # 0.5 s of audio
            await sink.write(slice_)
        written = time.monotonic() - began
    played = time.monotonic() - began
    # Lower bounds only. The last 40 ms may still be "in the device buffer"
    # when write returns; leaving the block lets them play out.
    assert written >= 0.5 - 0.040 - 0.005
    assert played >= 0.5 - 0.005


async def test_idle_sink_restarts_its_clock(tmp_path):
    sink = WavFileSink(tmp_path / "idle.wav", sample_rate=24000, buffer_ms=40)
    slice_ = silence(24000, 20)
    async with sink:
        await sink.write(slice_)
        await asyncio.sleep(0.3)  # the speaker runs dry
        began = time.monotonic()
        for _ in range(10):  # 0.2 s of audio
            await sink.write(slice_)
        elapsed = time.monotonic() - began
    # Paced from the restart, not credited with the idle time.
    assert elapsed >= 0.2 - 0.040 - 0.005


def test_sink_in_a_missing_directory(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        WavFileSink(tmp_path / "no-such-dir" / "out.wav")
    message = one_line_error(excinfo)
    assert "no-such-dir" in message
    assert "--output-file" in message


def test_sink_on_a_directory(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        WavFileSink(tmp_path)
    assert "is a directory" in one_line_error(excinfo)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_sink_in_a_read_only_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ConfigError) as excinfo:
        WavFileSink(locked / "out.wav")
    assert "permission denied" in one_line_error(excinfo)


async def test_write_outside_the_block_is_a_bug(tmp_path):
    sink = WavFileSink(tmp_path / "x.wav", realtime=False)
    with pytest.raises(RuntimeError):
        await sink.write(silence(24000, 20))
