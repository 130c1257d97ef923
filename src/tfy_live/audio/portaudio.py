"""PortAudio through PyAudio: the shared instance, listing and choosing devices,
opening and closing streams, and PortAudio's errors as one-line fixes.

One ``pyaudio.PyAudio`` instance serves the whole process; it is created on
first use (``import pyaudio`` happens there too, so ``--help`` stays fast)
and terminated by ``release_audio()``, registered with ``atexit``. PortAudio
errors become ``AudioError`` with a one-line fix (``portaudio_error``).
Opening and closing streams, and the shared instance itself, are guarded by
one lock, because PortAudio is not thread-safe for those calls. The streams
themselves, as a source and a sink, are ``devices.py``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tfy_live.errors import AudioError, NoDeviceError

Kind = Literal["input", "output"]

_lock = threading.RLock()  # the shared instance, device queries, stream open/close
_pa: Any = None
_atexit_registered = False
_open_streams = 0
_alsa_lib: Any = None
_alsa_handler: Any = None  # keeps the ctypes callback alive while ALSA holds it


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float
    is_default_input: bool
    is_default_output: bool

    def channels(self, kind: Kind) -> int:
        return self.max_input_channels if kind == "input" else self.max_output_channels


# --- the shared PortAudio instance -------------------------------------------


def _pyaudio() -> Any:
    global _pa, _atexit_registered
    with _lock:
        if _pa is None:
            try:
                import pyaudio
            except ImportError as exc:  # the wheel is there, libportaudio is not
                raise NoDeviceError(
                    f"PyAudio cannot load PortAudio ({_one_line(str(exc))});"
                    " install it (`apt install libportaudio2`) or use"
                    " --input-file/--output-file"
                ) from exc
            _silence_alsa()
            # JACK prints "jack server is not running …" from C while PortAudio
            # probes it, and only then; ALSA's own messages go to the handler.
            try:
                with _quiet_stderr():
                    _pa = pyaudio.PyAudio()
            except OSError as exc:
                _, text = _code_and_text(exc)
                raise NoDeviceError(
                    f"cannot start the audio system (PortAudio: {text});"
                    " use --input-file/--output-file instead"
                ) from exc
            if not _atexit_registered:
                atexit.register(release_audio)
                _atexit_registered = True
        return _pa


def release_audio() -> None:
    """Terminate PortAudio (idempotent); the next use starts it afresh.

    Skipped while a stream is still open (a reader thread may be inside a
    read at interpreter exit): terminating under it could crash, and the
    operating system releases the device when the process ends anyway.
    """
    global _pa, _alsa_handler
    with _lock:
        if _pa is None or _open_streams:
            return
        with _quiet_stderr():
            _pa.terminate()
        _pa = None
        if _alsa_lib is not None:
            _alsa_lib.snd_lib_error_set_handler(None)
            _alsa_handler = None


def _silence_alsa() -> None:
    """Route ALSA's diagnostics ("Unknown PCM cards.pcm.front" …) to a no-op."""
    global _alsa_lib, _alsa_handler
    if _alsa_handler is not None or not sys.platform.startswith("linux"):
        return
    try:
        lib = ctypes.CDLL("libasound.so.2")
    except OSError:
        return  # no ALSA: PortAudio is not using it either
    # snd_lib_error_handler_t is variadic; the fixed arguments are all we
    # declare, which the Linux calling conventions allow.
    handler_type = ctypes.CFUNCTYPE(
        None,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
    )
    _alsa_handler = handler_type(lambda *args: None)
    lib.snd_lib_error_set_handler(_alsa_handler)
    _alsa_lib = lib


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (C code writes there).

    Process-wide, so kept to the brief PortAudio start-up and shutdown.
    """
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# --- listing and choosing devices --------------------------------------------


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio sees, in index order."""
    pa = _pyaudio()
    with _lock:
        default_in = _default_index(pa.get_default_input_device_info)
        default_out = _default_index(pa.get_default_output_device_info)
        devices = []
        for i in range(pa.get_device_count()):
            info = pa.get_device_info_by_index(i)
            api = pa.get_host_api_info_by_index(info["hostApi"])["name"]
            devices.append(
                DeviceInfo(
                    index=int(info["index"]),
                    name=str(info["name"]),
                    host_api=str(api),
                    max_input_channels=int(info["maxInputChannels"]),
                    max_output_channels=int(info["maxOutputChannels"]),
                    default_sample_rate=float(info["defaultSampleRate"]),
                    is_default_input=i == default_in,
                    is_default_output=i == default_out,
                )
            )
    return devices


def has_devices() -> bool:
    """Whether this machine has both an input and an output device; False when PortAudio cannot start.

    PortAudio is released again: a process that only asks (``local-gateway``) keeps no audio system open.
    """
    try:
        found = list_devices()
    except AudioError:
        return False
    finally:
        release_audio()
    return any(d.max_input_channels > 0 for d in found) and any(d.max_output_channels > 0 for d in found)


def _default_index(query: Any) -> int:
    try:
        return int(query()["index"])
    except (OSError, ValueError):
        return -1  # PortAudio has no default device of this kind


def find_device(spec: str | int | None, kind: Kind) -> DeviceInfo:
    """The device ``spec`` names, checked to have ``kind`` channels.

    ``None`` is the default device; an int or a string of digits an index;
    anything else a case-insensitive name: an exact match wins, else a
    unique substring. Raises ``AudioError`` naming the fix.
    """
    return select_device(list_devices(), spec, kind)


def select_device(
    devices: Sequence[DeviceInfo], spec: str | int | None, kind: Kind
) -> DeviceInfo:
    """``find_device`` on a given list of devices (pure)."""
    flag = f"--{kind}-device"
    usable = [d for d in devices if d.channels(kind) > 0]
    if not usable:
        fallback = (
            "--input-file FILE.wav" if kind == "input" else "--output-file FILE.wav"
        )
        raise NoDeviceError(
            f"no audio {kind} device found; pass {fallback} to use a file instead"
        )

    if spec is None or (isinstance(spec, str) and not spec.strip()):
        for d in usable:
            if d.is_default_input if kind == "input" else d.is_default_output:
                return d
        return usable[0]

    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        found = [d for d in devices if d.index == index]
        if not found:
            raise AudioError(
                f"no audio device has index {index}; run `tfy-live devices` to list them"
            )
        return _usable(found[0], kind, flag)

    wanted = spec.strip().casefold()
    for pool in (usable, devices):
        exact = [d for d in pool if d.name.casefold() == wanted]
        if len(exact) == 1:
            return _usable(exact[0], kind, flag)
        if len(exact) > 1:
            raise _ambiguous(spec, exact, flag)
    for pool in (usable, devices):
        partial = [d for d in pool if wanted in d.name.casefold()]
        if len(partial) == 1:
            return _usable(partial[0], kind, flag)
        if len(partial) > 1:
            raise _ambiguous(spec, partial, flag)
    raise AudioError(
        f"no audio {kind} device matches {spec!r}; run `tfy-live devices` to list them"
    )


def _usable(device: DeviceInfo, kind: Kind, flag: str) -> DeviceInfo:
    if device.channels(kind) <= 0:
        raise AudioError(
            f"device {device.index} {device.name!r} has no {kind} channels;"
            f" choose an {kind} device with {flag} (see `tfy-live devices`)"
        )
    return device


def _ambiguous(spec: str, matches: Sequence[DeviceInfo], flag: str) -> AudioError:
    names = ", ".join(f"{d.index}: {d.name!r}" for d in matches)
    return AudioError(
        f"device name {spec!r} is ambiguous ({names}); pass {flag} with a longer name or an index"
    )


# --- PortAudio errors ---------------------------------------------------------

# PortAudio's PaErrorCode values (portaudio.h); pyaudio exports the same names.
PA_UNANTICIPATED_HOST_ERROR = -9999
PA_INVALID_CHANNEL_COUNT = -9998
PA_INVALID_SAMPLE_RATE = -9997
PA_INVALID_DEVICE = -9996
PA_SAMPLE_FORMAT_NOT_SUPPORTED = -9994
PA_BAD_IO_DEVICE_COMBINATION = -9993
PA_INSUFFICIENT_MEMORY = -9992
PA_TIMED_OUT = -9987
PA_DEVICE_UNAVAILABLE = -9985


def portaudio_error(
    exc: BaseException, kind: Kind, device: str, rate: int
) -> AudioError:
    """Translate a PortAudio failure (``OSError(code, text)`` from streams,
    ``ValueError(text, code)`` from format checks) into one line naming the fix."""
    code, text = _code_and_text(exc)
    flag = f"--{kind}-device"
    what = f"{kind} device {device!r}"
    verb = "record" if kind == "input" else "play"
    if code == PA_INVALID_SAMPLE_RATE:
        return AudioError(
            f"{what} does not support {rate} Hz; pick another with {flag} (see `tfy-live devices`)"
        )
    if code == PA_DEVICE_UNAVAILABLE:
        return AudioError(
            f"{what} is busy (another program is using it); close it or choose another with {flag}"
        )
    if code in (PA_INVALID_DEVICE, PA_BAD_IO_DEVICE_COMBINATION):
        return AudioError(
            f"{what} is not available; run `tfy-live devices` and choose one with {flag}"
        )
    if code == PA_INVALID_CHANNEL_COUNT:
        return AudioError(
            f"{what} cannot {verb} mono audio; choose another with {flag} (see `tfy-live devices`)"
        )
    if code == PA_SAMPLE_FORMAT_NOT_SUPPORTED:
        return AudioError(
            f"{what} does not support 16-bit samples; choose another with {flag}"
            " (see `tfy-live devices`)"
        )
    if code == PA_INSUFFICIENT_MEMORY:
        return AudioError(
            f"not enough memory to open {what}; close other programs and retry"
        )
    detail = f"{text}, PortAudio error {code}" if code is not None else text
    return AudioError(
        f"{what} failed ({detail}); check that it is connected, or choose another with {flag}"
    )


def _code_and_text(exc: BaseException) -> tuple[int | None, str]:
    code = next(
        (a for a in exc.args if isinstance(a, int) and not isinstance(a, bool)), None
    )
    text = next((a for a in exc.args if isinstance(a, str)), "") or type(exc).__name__
    return code, _one_line(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())  # whatever the library said, on one line


# --- streams ------------------------------------------------------------------


def check_format(device: DeviceInfo, kind: Kind, rate: int) -> None:
    """Fail before connecting if the device refuses mono 16-bit audio at ``rate``."""
    import pyaudio

    pa = _pyaudio()
    args: dict[str, Any] = (
        {
            "input_device": device.index,
            "input_channels": 1,
            "input_format": pyaudio.paInt16,
        }
        if kind == "input"
        else {
            "output_device": device.index,
            "output_channels": 1,
            "output_format": pyaudio.paInt16,
        }
    )
    with _lock:
        try:
            pa.is_format_supported(rate, **args)
        except (OSError, ValueError) as exc:
            raise portaudio_error(exc, kind, device.name, rate) from exc


def open_stream(
    device: DeviceInfo, kind: Kind, rate: int, frames_per_buffer: int
) -> Any:
    global _open_streams
    import pyaudio

    pa = _pyaudio()
    with _lock:
        try:
            stream = pa.open(
                format=pyaudio.paInt16,
                channels=1,
                rate=rate,
                frames_per_buffer=frames_per_buffer,
                **(
                    {"input": True, "input_device_index": device.index}
                    if kind == "input"
                    else {"output": True, "output_device_index": device.index}
                ),
            )
        except (OSError, ValueError) as exc:
            raise portaudio_error(exc, kind, device.name, rate) from exc
        _open_streams += 1
    return stream


def close_stream(stream: Any, *, drain: bool) -> None:
    """Stop (letting queued output play out if ``drain``) and close; never raises."""
    global _open_streams
    if drain:
        # Outside the lock: it waits for the device buffer to play out.
        with contextlib.suppress(OSError):
            stream.stop_stream()
    with _lock:
        with contextlib.suppress(OSError):
            stream.close()  # an active stream is aborted: pending output is dropped
        _open_streams -= 1


