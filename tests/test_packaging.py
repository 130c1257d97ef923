"""What a pip user gets: the wheel carries what the commands need, and the licence pyproject names."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import soundfile

from tests.timing import SECOND

ROOT = Path(__file__).resolve().parent.parent


def build_wheel(tmp_path: Path) -> Path:
    # Built from a copy: a build in the clone would leave build/ and *.egg-info behind, and race other workers.
    source = tmp_path / "src-copy"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path / "dist"
    dist.mkdir()
    # The backend in-process (no build isolation, so no index is asked): what pip's build runs.
    build = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
                            "print(build_meta.build_wheel(sys.argv[1]))", str(dist)],
                           cwd=source, capture_output=True, text=True, timeout=120 * SECOND)
    assert build.returncode == 0, build.stderr[-2000:]
    return dist / build.stdout.strip().splitlines()[-1]


def test_the_wheel_carries_the_sample_and_the_licence(tmp_path):
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        sample = archive.read("tfy_live/data/hello.flac")
        licence = next(name for name in names if name.endswith(".dist-info/licenses/LICENSE"))
        metadata = archive.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
        assert archive.read(licence) == (ROOT / "LICENSE").read_bytes()
    info = soundfile.info(io.BytesIO(sample))
    assert (info.samplerate, info.channels) == (16000, 1) and 2 < info.duration < 5 and len(sample) < 100_000
    assert "License-Expression: Apache-2.0" in metadata
    assert "tfy_live/cli.py" in names and not any("tests/" in name for name in names)


def test_the_licence_is_the_apache_2_0_text_pyproject_names():
    text = (ROOT / "LICENSE").read_text()
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text and "END OF TERMS AND CONDITIONS" in text


def test_installed_from_the_wheel_it_runs_from_any_directory_with_its_own_sample(tmp_path):
    """What pipx and `uv tool install` do from a clone: install the built wheel, run it elsewhere."""
    from tests.cli_run import clean_env

    wheel = build_wheel(tmp_path)
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                              "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=120 * SECOND)
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env(PYTHONPATH=str(site))  # the installed copy first: the clone's editable one is not used
    where = subprocess.run([sys.executable, "-c", "import tfy_live.talk as t; print(t.__file__); print(t.SAMPLE); "
                            "print(t.SAMPLE.is_file())"], cwd=elsewhere, env=env, capture_output=True, text=True,
                           timeout=60 * SECOND)
    module, sample, exists = where.stdout.split()
    assert Path(module).is_relative_to(site) and Path(sample).is_relative_to(site) and exists == "True", where.stderr
    chat = subprocess.run([sys.executable, "-m", "tfy_live", "chat", "--local", "hello"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=60 * SECOND)
    assert (chat.returncode, chat.stdout) == (0, "You said: hello\n"), chat.stderr
