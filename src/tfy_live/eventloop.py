"""The event loop tfy-live runs on: uvloop where it is installed, else asyncio's own.

A conversation wakes the loop about 75 times a second (microphone frames out,
model audio in; the speaker is fed on those wake-ups); uvloop's loop and its
TLS transport are compiled, which saves CPU on each (BENCHMARKS.md).
``TFY_LIVE_EVENT_LOOP`` chooses: ``auto`` (the default), ``uvloop`` (an error
if it is not installed) or ``asyncio``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Coroutine, Mapping, TypeVar

from tfy_live.errors import ConfigError

VARIABLE = "TFY_LIVE_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")
T = TypeVar("T")


def loop_factory(environ: Mapping[str, str]) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for ``asyncio.Runner``; None for asyncio's default loop."""
    choice = (environ.get(VARIABLE) or "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ConfigError(f"{VARIABLE} must be one of {', '.join(CHOICES)} (got {choice!r})")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(f"{VARIABLE}=uvloop but uvloop is not installed: run pip install uvloop, "
                              f"or set {VARIABLE}=auto") from None
        return None
    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T], environ: Mapping[str, str]) -> T:
    """``asyncio.run(coro)`` on the chosen loop (same Ctrl-C handling: the Runner's)."""
    try:
        factory = loop_factory(environ)
    except ConfigError:
        coro.close()  # never awaited: no "was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
