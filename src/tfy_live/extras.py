"""The command that installs packages into the Python running tfy-live, for the advice an error prints.

tfy-live is on no package index, so ``pip install 'tfy-live[openai]'`` cannot work, and a bare ``pip install``
goes to whichever environment is active, which is seldom tfy-live's own (pipx's or uv's). So the packages
come from tfy-live's own metadata (the extras in pyproject.toml, with their versions), and the command from
where this interpreter lives: a pipx venv gets ``pipx inject``, a uv tool's ``uv pip install --python``,
anything else ``python -m pip install`` with this very python. ``requirements``, ``package`` and
``install_command`` are pure; ``install_extra`` and ``install_package`` read this process's metadata.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath, PureWindowsPath

DISTRIBUTION = "tfy-live"
_EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*(['"])([^'"]*)\1""")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# What cmd.exe or PowerShell would read as something other than part of a word: redirections (the ``<`` and ``>``
# of a version range), separators, variables, spaces.
_WINDOWS_SPECIAL = re.compile(r"[\s\"'<>|&^(),;=%!\[\]{}$`@#]")


def _normal(name: str) -> str:
    """A package or extra name as PEP 503/685 compare them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str) -> tuple[str, str]:
    """``'openai<4,>=3.57; extra == "openai"'`` as the requirement and its marker."""
    spec, _, marker = requirement.partition(";")
    return spec.strip(), marker.strip()


def requirements(requires: Iterable[str], extra: str) -> list[str]:
    """The packages an extra adds, with their versions (Requires-Dist lines marked ``extra == "<extra>"``)."""
    found = []
    for line in requires:
        spec, marker = _split(line)
        if any(_normal(m.group(2)) == _normal(extra) for m in _EXTRA_MARKER.finditer(marker)):
            found.append(spec)
    return found


def package(requires: Iterable[str], name: str) -> str | None:
    """The requirement (name and versions) of one of the base dependencies, or None if it is not one."""
    for line in requires:
        spec, marker = _split(line)
        match = _NAME.match(spec)
        if match and _normal(match.group()) == _normal(name) and not _EXTRA_MARKER.search(marker):
            return spec
    return None


def _windows_quote(word: str) -> str:
    """A word as cmd.exe and PowerShell both read it: in double quotes when it has anything they would not take
    literally. Neither knows a POSIX shell's single quotes. (PowerShell runs a quoted program path only after
    ``&``, which cmd does not know: an interpreter path with a space in it works in cmd only.)"""
    return f'"{word}"' if not word or _WINDOWS_SPECIAL.search(word) else word


def install_command(packages: Sequence[str], *, prefix: str, executable: str, has_pip: bool = True,
                    has_uv: bool = False, windows: bool = False) -> str:
    """A shell command that installs ``packages`` into the environment at ``prefix`` (``sys.prefix``).

    ``has_pip``: pip can be imported there. An environment made by ``uv venv`` (or by venv told not to add
    pip) has none, and ``python -m pip`` answers "No module named pip": then uv installs into it (``has_uv``:
    on PATH), else ensurepip puts pip in first. ``windows``: paths and quoting for Windows' shells, else a
    POSIX shell's.
    """
    where = PureWindowsPath(prefix) if windows else PurePosixPath(prefix)
    quote = _windows_quote if windows else shlex.quote
    wanted = " ".join(quote(p) for p in packages)
    python = quote(executable)
    if where.parent.name == "venvs" and where.parent.parent.name in ("pipx", ".pipx"):
        return f"pipx inject {quote(where.name)} {wanted}"
    if (where.parent.name == "tools" and where.parent.parent.name == "uv") or (not has_pip and has_uv):
        return f"uv pip install --python {python} {wanted}"
    if not has_pip:
        return f"{python} -m ensurepip && {python} -m pip install {wanted}"
    return f"{python} -m pip install {wanted}"


def _here() -> dict[str, bool]:
    """Whether this Python has pip, whether uv is on PATH, and whether this is Windows: for ``install_command``."""
    import importlib.util
    import shutil

    return {"has_pip": importlib.util.find_spec("pip") is not None, "has_uv": shutil.which("uv") is not None,
            "windows": os.name == "nt"}


def _requires() -> list[str]:
    from importlib import metadata

    try:
        return metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return []


def install_extra(extra: str) -> str:
    """The command that installs tfy-live's optional ``extra`` into the environment running it now."""
    # Without metadata (a source tree on PYTHONPATH) the clone itself is what carries the extra.
    packages = requirements(_requires(), extra) or [f".[{extra}]"]
    return install_command(packages, prefix=sys.prefix, executable=sys.executable, **_here())


def install_package(name: str) -> str:
    """The command that puts back one of tfy-live's own dependencies (``uvloop``) in the environment running it."""
    return install_command([package(_requires(), name) or name], prefix=sys.prefix, executable=sys.executable,
                           **_here())
