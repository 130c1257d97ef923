"""The set-up scripts' logic, with a fake apt-get on PATH and a fake virtualenv: no package is installed.

scripts/lib.sh is sourced as setup.sh sources it; ``as_root`` is replaced by a plain call so
that the fake apt-get, not sudo's, is the one run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.timing import SECOND

ROOT = Path(__file__).resolve().parent.parent
FAKE_APT = """#!/bin/bash
# A fake apt-get: refuses with apt's lock message while $BUSY holds a count above 0, else succeeds.
echo "$*" >> "$LOG"
left=$(cat "$BUSY" 2>/dev/null || echo 0)
if [ "$left" -gt 0 ]; then
    echo $((left - 1)) > "$BUSY"
    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4321 (unattended-upgr)" >&2
    exit 100
fi
if [ -n "${MISSING:-}" ]; then echo "E: Unable to locate package $MISSING" >&2; exit 100; fi
exit 0
"""


@pytest.fixture
def fake_apt(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(FAKE_APT)
    (bin_dir / "apt-get").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(tmp_path / "apt.log"),
            "BUSY": str(tmp_path / "busy"), "TFY_LIVE_APT_POLL": "0.01",
            "TFY_LIVE_APT_LOCKS": str(tmp_path / "lock-frontend")}


def lib(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f'set -euo pipefail; source "{ROOT}/scripts/lib.sh"; as_root() {{ "$@"; }}; '
                           + script], env=env, capture_output=True, text=True, timeout=30 * SECOND)


def test_apt_waits_for_the_lock_another_apt_run_holds_saying_so_once(tmp_path, fake_apt):
    (tmp_path / "busy").write_text("2")  # refused twice, then the lock is free
    (tmp_path / "lock-frontend").write_text("")
    # Another "apt run": a process holding the lock file open, as apt and dpkg do.
    with open(tmp_path / "lock-frontend") as lock:
        holder = subprocess.Popen(["sleep", "30"], stdin=lock)
    try:
        result = lib("apt_get update -qq", {**fake_apt, "TFY_LIVE_APT_WAIT": "30"})
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 0, result.stderr
    said = result.stderr.splitlines()
    assert len(said) == 1 and said[0].startswith("[setup] waiting for another apt run to finish"), said
    assert f"{holder.pid} (sleep)" in said[0] and "up to 30 s" in said[0]
    assert "\x1b" not in result.stderr  # not a terminal: no escape codes
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert len(calls) == 3 and all(c.startswith("-o DPkg::Lock::Timeout=") and c.endswith(" update -qq") for c in calls)


def test_the_wait_is_bounded_and_the_last_line_names_the_fix(tmp_path, fake_apt):
    (tmp_path / "busy").write_text("1000")
    result = lib("apt_get update -qq", {**fake_apt, "TFY_LIVE_APT_WAIT": "0"})
    assert result.returncode == 100
    last = result.stderr.splitlines()[-1]
    assert "still holds the package lock after 0 s" in last and "TFY_LIVE_APT_WAIT=SECONDS" in last
    assert "Could not get lock" not in result.stderr  # our line, not apt's raw one


def test_an_apt_error_other_than_the_lock_is_shown_as_apt_said_it_at_once(tmp_path, fake_apt):
    result = lib("apt_get install -y nosuchpackage", {**fake_apt, "MISSING": "nosuchpackage", "TFY_LIVE_APT_WAIT": "30"})
    assert result.returncode == 100 and result.stderr.strip() == "E: Unable to locate package nosuchpackage"
    assert len((tmp_path / "apt.log").read_text().splitlines()) == 1


def fake_venv(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A project folder with this pyproject.toml, and a virtualenv whose python logs what it is asked."""
    project, venv = tmp_path / "project", tmp_path / "venv"
    project.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "pip.log"
    (venv / "bin" / "python").write_text(f'#!/bin/bash\necho "$*" >> "{log}"\n')
    (venv / "bin" / "python").chmod(0o755)
    return project, venv, log


def installs(log: Path) -> list[str]:
    return [line.split(" -e ")[1] for line in log.read_text().splitlines() if " -e " in line] if log.exists() else []


def test_demo_and_test_share_one_environment_and_a_second_run_installs_nothing(tmp_path):
    project, venv, log = fake_venv(tmp_path)

    def setup(extras: str) -> subprocess.CompletedProcess[str]:
        return lib(f'install_package "{project}" "{venv}" "{extras}"', dict(os.environ))

    first = setup("")  # demo.sh
    assert first.returncode == 0 and "installing tfy-live and its Python packages" in first.stderr
    assert installs(log) == [str(project)]
    assert setup("").stderr == ""  # demo.sh again: nothing
    assert setup("test").returncode == 0 and installs(log)[-1] == f"{project}[test]"  # test.sh: the extra
    for extras in ("", "test", ""):  # then either, in any order: nothing
        assert setup(extras).stderr == ""
    assert len(installs(log)) == 2
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n# changed\n")
    setup("")  # a changed pyproject.toml: installed again, with the extra it had
    assert installs(log)[-1] == f"{project}[test]" and len(installs(log)) == 3


@pytest.mark.skipif(os.geteuid() != 0, reason="setup.sh runs apt-get through sudo when not root, past the fake")
def test_setup_twice_the_second_run_is_a_no_op(tmp_path, fake_apt):
    project, venv, log = fake_venv(tmp_path)
    env = {**fake_apt, "TFY_LIVE_VENV": str(venv), "TFY_LIVE_APT_WAIT": "0"}
    run = ["bash", "-c", f'source "{ROOT}/scripts/setup.sh" test && echo "PATH=$PATH"']
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60 * SECOND)
    assert first.returncode == 0, first.stderr
    assert f"PATH={venv}/bin:" in first.stdout and "\x1b" not in first.stderr
    second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60 * SECOND)
    assert second.returncode == 0 and "installing" not in second.stderr, second.stderr
    assert len(installs(log)) == 1  # ROOT's pyproject.toml hash, once
