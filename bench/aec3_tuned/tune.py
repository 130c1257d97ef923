"""AEC3 with its suppressor's settings changed, on bench/aec.py's rooms: ERLE and double talk.

An experiment for issue 6's double-talk target, not part of tfy-live. tfy-live's canceller is
AEC3 as the ``livekit`` wheel builds it, with the default settings, which turns the user down by
3-4.5 dB when they talk over loud echo. No wheel on PyPI exposes AEC3's settings, so this runs
WebRTC's audio processing module 2.1 built from source (``build.sh``) through a small C shim
(``aec3shim.cc``), with the defaults and with the near-end state's masking thresholds raised (the
settings AEC3 uses once it has decided the user dominates: higher is more transparent).

    bench/aec3_tuned/build.sh                    # once: /tmp/aec3_tuned/libaec3shim.so
    .venv/bin/python bench/aec3_tuned/tune.py [LIBRARY]
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.aec import double_talk_rows, erle_rows  # noqa: E402
from tfy_live.audio import INPUT_RATE, OUTPUT_RATE  # noqa: E402
from tfy_live.audio.echo import EchoCanceller  # noqa: E402

# aec3shim.cc takes these, in this order (EchoCanceller3Config::suppressor); NaN keeps the default.
SETTINGS = [
    "nearend_tuning.mask_lf.enr_transparent", "nearend_tuning.mask_lf.enr_suppress",  # 1.09, 1.1
    "nearend_tuning.mask_hf.enr_transparent", "nearend_tuning.mask_hf.enr_suppress",  # 0.1, 0.3
    "dominant_nearend_detection.enr_threshold", "dominant_nearend_detection.snr_threshold",  # 0.25, 30
    "normal_tuning.mask_lf.enr_transparent", "normal_tuning.mask_lf.enr_suppress",  # 0.3, 0.4
    "normal_tuning.mask_hf.enr_transparent", "normal_tuning.mask_hf.enr_suppress",  # 0.07, 0.1
]
PRESETS: dict[str, dict[str, float]] = {
    "AEC3 2.1, defaults": {},
    "near-end masks x2-7": {"nearend_tuning.mask_lf.enr_transparent": 3, "nearend_tuning.mask_lf.enr_suppress": 4,
                            "nearend_tuning.mask_hf.enr_transparent": 1, "nearend_tuning.mask_hf.enr_suppress": 2},
    "near-end masks x4-20": {"nearend_tuning.mask_lf.enr_transparent": 6, "nearend_tuning.mask_lf.enr_suppress": 8,
                             "nearend_tuning.mask_hf.enr_transparent": 2, "nearend_tuning.mask_hf.enr_suppress": 4},
}


class ShimModule:
    """The shim in the place of livekit's module, so that tfy-live's own EchoCanceller cuts the 10 ms frames."""

    def __init__(self, lib: ctypes.CDLL, settings: dict[str, float], near_rate: int = INPUT_RATE,
                 far_rate: int = OUTPUT_RATE):
        values = [settings.get(name, float("nan")) for name in SETTINGS]
        self._lib = lib
        self._handle = lib.shim_new(near_rate, far_rate, (ctypes.c_float * len(values))(*values), len(values))

    def __del__(self) -> None:
        self._lib.shim_free(self._handle)

    def process_reverse_stream(self, frame: "Frame") -> None:
        self._lib.shim_far(self._handle, frame.samples)

    def process_stream(self, frame: "Frame") -> None:
        self._lib.shim_near(self._handle, frame.samples)  # in place, with a delay hint of 0 as tfy-live gives

    def set_stream_delay_ms(self, ms: int) -> None:
        pass  # the shim hints 0 ms itself: AEC3 estimates the delay


class Frame:
    """A 10 ms frame as the shim takes it (in place), in the place of livekit's AudioFrame."""

    def __init__(self, pcm: bytes | bytearray, rate: int) -> None:
        self.data = bytearray(pcm)
        self.samples = (ctypes.c_char * len(self.data)).from_buffer(self.data)


def tuned(lib: ctypes.CDLL, settings: dict[str, float]) -> EchoCanceller:
    return EchoCanceller(module=ShimModule(lib, settings), frame=Frame)


def load(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    lib.shim_new.restype = ctypes.c_void_p
    lib.shim_new.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_int]
    lib.shim_far.argtypes = lib.shim_near.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char)]
    lib.shim_free.argtypes = [ctypes.c_void_p]
    return lib


def main() -> None:
    lib = load(sys.argv[1] if len(sys.argv) > 1 else "/tmp/aec3_tuned/libaec3shim.so")
    for name, settings in PRESETS.items():
        print(f"## {name}: {settings or 'as built'}\n\n| room | ERLE |\n|---|---|")
        print("\n".join(erle_rows(lambda ns: tuned(lib, settings), columns=(False,))))
        print("\n| room, echo | user's voice, out against alone | target |\n|---|---|---|")
        print("\n".join(double_talk_rows(lambda ns: tuned(lib, settings))) + "\n", flush=True)


if __name__ == "__main__":
    main()
