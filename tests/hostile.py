"""What every bad input and fault owes the user, checked in one place.

``run_hostile`` runs the real ``tfy-live`` in a subprocess (``cli_run.tfy_live``)
inside a folder of the test's, and checks, whatever the case:

- the exit code is the documented one;
- standard error carries exactly one ``error:`` line, matching the case's
  pattern, and no traceback anywhere;
- the canary key appears nowhere the program printed or wrote, in any of the
  forms it could leak in (literal, base64 of several framings, URL-encoded);
- no file that existed before the run changed: bytes, mode, or where a
  symlink points.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import stat
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from tests.cli_run import CANARY_KEY, tfy_live


def leaked_forms(secret: str) -> list[bytes]:
    """The encodings in which ``secret`` could leak: as is, base64 (three alignments, both alphabets), URL-encoded."""
    raw = secret.encode()
    forms = {raw, urllib.parse.quote(secret, safe="").encode(), urllib.parse.quote_plus(secret).encode()}
    for shift in range(3):
        # The secret at any offset in a longer text: keep the characters that only its bits decide.
        encoded = base64.b64encode(b"\0" * shift + raw + b"\0" * 2)
        core = encoded[-(-8 * shift // 6): 8 * (shift + len(raw)) // 6]
        forms |= {core, core.replace(b"+", b"-").replace(b"/", b"_")}
    return sorted(f for f in forms if len(f) >= 8)


@dataclass(frozen=True)
class FileState:
    kind: str  # "file", "dir", "link", "other"
    mode: int
    content: bytes | str  # a file's bytes, a link's target


def snapshot(root: Path) -> dict[str, FileState]:
    """Every path under ``root`` (links not followed) and what it holds."""
    state: dict[str, FileState] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                state[str(path)] = FileState("link", st.st_mode, os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                state[str(path)] = FileState("file", st.st_mode, path.read_bytes())
            elif stat.S_ISDIR(st.st_mode):
                state[str(path)] = FileState("dir", st.st_mode, b"")
            else:
                state[str(path)] = FileState("other", st.st_mode, b"")
    return state


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def run_hostile(args: list[str], *, code: int, message: str, env: dict[str, str], cwd: Path,
                watch: list[Path] = (), input: str | None = None, timeout: float = 60,
                secret: str = CANARY_KEY, stdout: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``tfy-live ARGS`` and check what every bad input owes the user (see the module docstring).

    ``message`` is a regular expression the one error line must match (``re.search``);
    ``watch`` are more folders whose files must not change (``cwd`` always is). ``stdout``: None
    captures it; "closed" is a pipe whose reader has gone; else a path opened for the program to write
    to (``/dev/full``).
    """
    roots = [cwd, *watch]
    before = {root: snapshot(root) for root in roots}
    with contextlib.ExitStack() as stack:
        fd = None
        if stdout == "closed":
            reader, fd = os.pipe()
            os.close(reader)
            stack.callback(os.close, fd)
        elif stdout is not None:
            fd = stack.enter_context(open(stdout, "wb")).fileno()
        result = tfy_live(*args, env=env, cwd=cwd, input=input, timeout=timeout, stdout=fd)
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown, shown
    assert result.returncode == code, (result.returncode, shown)
    lines = error_lines(result.stderr)
    if code != 0:
        assert len(lines) == 1, result.stderr
        assert re.search(message, lines[0]), (message, lines[0])
    forms = leaked_forms(secret)
    for form in forms:
        assert form not in shown.encode(), (form, shown)
    for root in roots:
        after = snapshot(root)
        for path, state in before[root].items():
            assert after.get(path) == state, f"{path} changed or vanished"
        for path, state in after.items():
            if state.kind == "file":
                for form in forms:
                    assert form not in state.content, f"{path} holds the key ({form!r})"
    return result
