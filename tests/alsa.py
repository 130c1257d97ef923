"""File-backed ALSA devices, so PyAudio runs through real PortAudio and ALSA
without a sound card.

``alsa_env(tmp_path, in_pcm)`` writes a self-contained ALSA configuration
(it does not read ``/usr/share/alsa/alsa.conf`` or ``~/.asoundrc``) with:

- ``testmic``: capture plays back ``in_pcm`` (raw s16le bytes; mono 16 kHz if
  the program opens it that way) followed by silence;
- ``testspk``: playback writes the raw bytes it is given to ``out_raw``;
- ``default``: capture from ``testmic``, playback to ``testspk``.

and returns ``(env, out_raw)``: a copy of ``os.environ`` with
``ALSA_CONFIG_PATH`` pointing at that file. ALSA reads it once, when PortAudio
starts, and tfy-live keeps one PortAudio instance per process, so use the
environment for a subprocess::

    env, out_raw = alsa_env(tmp_path, speech_pcm)
    subprocess.run(["tfy-live", "talk", ...], env=env, timeout=30)
    reply = out_raw.read_bytes()  # 24 kHz mono s16le, as the program played it

The devices are not paced by ALSA (the null slave runs as fast as it is
driven); tfy-live paces them itself. Past the end of its input file ALSA
capture repeats stale data rather than silence, hence the padding.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PAD_S = 30.0  # silence after in_pcm; at 16 kHz mono s16le, 32 kB a second


def alsa_config(conf: Path, in_raw: Path, out_raw: Path) -> Path:
    """Write the self-contained configuration to ``conf`` and return it."""
    conf.write_text(
        textwrap.dedent(
            f"""\
            # Written by tests/alsa.py: file-backed test devices, no sound card.
            pcm.null {{ type null }}
            pcm.testmic {{
                type file
                slave.pcm {{ type null }}
                file "/dev/null"
                infile {_quote(in_raw)}
                format "raw"
            }}
            pcm.testspk {{
                type file
                slave.pcm {{ type null }}
                file {_quote(out_raw)}
                format "raw"
            }}
            pcm.!default {{
                type asym
                playback.pcm "testspk"
                capture.pcm "testmic"
            }}
            """
        )
    )
    return conf


def no_sound_card(directory: Path) -> Path:
    """An ALSA configuration with no device at all: a machine without a sound card, even on one with a card.

    PortAudio asserts on a configuration without a default PCM, so the default is a card that is not there.
    """
    conf = directory / "no-devices.conf"
    conf.write_text("pcm.!default { type hw card 99 }\n")
    return conf


def alsa_env(
    tmp_path: Path, in_pcm: bytes = b"", *, pad_s: float = PAD_S, in_rate: int = 16_000
) -> tuple[dict[str, str], Path]:
    """Devices reading ``in_pcm`` (then ``pad_s`` of silence) and writing ``out_raw``."""
    directory = tmp_path / "alsa"
    directory.mkdir(exist_ok=True)
    in_raw = directory / "in.raw"
    out_raw = directory / "out.raw"
    in_raw.write_bytes(bytes(in_pcm) + bytes(2 * int(in_rate * pad_s)))
    out_raw.write_bytes(b"")
    conf = alsa_config(directory / "asound.conf", in_raw, out_raw)
    env = dict(os.environ)
    env["ALSA_CONFIG_PATH"] = str(conf)
    env.pop("ALSA_CARD", None)
    env.pop("ALSA_PCM_CARD", None)
    env.pop("ALSA_PCM_DEVICE", None)
    return env, out_raw


def run_python(
    code: str, env: dict[str, str], *, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) in a fresh interpreter with ``env``."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _quote(path: Path) -> str:
    escaped = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
