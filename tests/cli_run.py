"""Run the real ``tfy-live`` command in a subprocess with a controlled environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CANARY_KEY = "tfy-canary-KEY-0123456789abcdef"


def clean_env(**extra: str) -> dict[str, str]:
    """The parent's environment minus anything that configures tfy-live or Google's SDK."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TFY_", "GOOGLE_", "GEMINI_", "SSL_CERT"))}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", COLUMNS="200", TERM="dumb")
    env.update(extra)
    return env


def tfy_live(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
             timeout: float = 60, input: str | None = None, stdout: int | None = None,
             ) -> subprocess.CompletedProcess[str]:
    """``stdout``: a descriptor for the program's standard output instead of capturing it (then ``.stdout`` is "")."""
    result = subprocess.run(
        [sys.executable, "-m", "tfy_live", *args],
        env=env if env is not None else clean_env(),
        cwd=cwd,
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
