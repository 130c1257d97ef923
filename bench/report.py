"""BENCHMARKS.md: each benchmark owns one ``## `` section, replaced by its newest run."""

from __future__ import annotations

import os
import platform
import signal
from pathlib import Path


def machine() -> str:
    """The machine a run was made on, as every table says it."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def replace_section(path: Path, section: str) -> None:
    """Put ``section`` (its first line is its ``## `` heading) in place of the old one, or at the end."""
    heading = section.splitlines()[0]
    old = path.read_text() if path.exists() else ""
    if heading in old:
        head, _, rest = old.partition(heading)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        text = head + section + tail
    else:
        text = old.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def let_ctrl_c_reach_children() -> None:
    """Launched programs get SIGINT's default action, even when this run was started in the background.

    A shell starts a background job (``make bench &``, ``nohup``) with SIGINT ignored, and an ignored
    signal stays ignored across ``exec``: every program the benchmark launched would ignore the Ctrl-C
    that ends its trial, be killed 10 s later and write none of its logs. A handler set here is reset
    to the default in each child.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
