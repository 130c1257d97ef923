"""Run the real ``tfy-live`` command in a subprocess with a controlled environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.timing import SECOND

CANARY_KEY = "tfy-canary-KEY-0123456789abcdef"

# What configures tfy-live or Google's SDK from the environment. The parent's values are the
# developer's, not the test's: clean_env leaves them out, and the autouse fixture in
# conftest.py takes them out of this process's environment too.
MACHINE_SETTINGS = ("TFY_", "GOOGLE_", "GEMINI_", "SSL_CERT")


def clean_env(**extra: str) -> dict[str, str]:
    """The parent's environment minus anything that configures tfy-live or Google's SDK.

    Read when called, so the subprocess gets the test's own HOME and XDG_* directories
    (set by the autouse fixture in conftest.py), never the developer's.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(MACHINE_SETTINGS)}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", COLUMNS="200", TERM="dumb")
    env.update(extra)
    return env


def tfy_live(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
             timeout: float = 60 * SECOND, input: str | None = None, stdout: int | None = None,
             ) -> subprocess.CompletedProcess[str]:
    """``tfy-live ARGS``; by default in the test's own empty working directory (so no ``./.env``).

    ``stdout``: a descriptor for the program's standard output instead of capturing it (then ``.stdout`` is "").
    """
    result = subprocess.run(
        [sys.executable, "-m", "tfy_live", *args],
        env=env if env is not None else clean_env(),
        cwd=cwd,  # None: this process's, which the autouse fixture made an empty directory of the test's own
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL if input is None else None,
        input=input,
    )
    if result.stdout is None:
        result.stdout = ""
    return result
