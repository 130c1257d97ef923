"""The event loop tfy-live runs on: uvloop where it is installed, else asyncio's own.

A conversation wakes the loop about 75 times a second (microphone frames out,
model audio in; the speaker is fed on those wake-ups); uvloop's loop and its
TLS transport are compiled, which saves CPU on each (BENCHMARKS.md).
``TFY_LIVE_EVENT_LOOP`` chooses: ``auto`` (the default), ``uvloop`` (an error
if it is not installed) or ``asyncio``.

``run`` also owns the stop signals. Ctrl-C, SIGTERM and SIGHUP all take one
path: the first cancels the program's task, which cleans up as it unwinds (the
summary, files, the built-in gateway), and ``run`` then raises ``Interrupted``
(exit 128 + the signal's number: 130, 143, 129). A second signal while that
runs ends the process at once with the same code, the terminal restored.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Mapping, TypeVar

from tfy_live import collector
from tfy_live.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import asyncio  # imported when a loop runs: the CLI imports this module for --help too

VARIABLE = "TFY_LIVE_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")
# Windows has no SIGHUP.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def take(signum: int, handler: Callable[[int, FrameType | None], Any]) -> Any:
    """Handle ``signum`` unless the caller ignores it (``nohup``, or SIGINT for a job a script started in the
    background): a signal ignored on purpose stays ignored. Returns the handler it had."""
    previous = signal.getsignal(signum)
    if previous != signal.SIG_IGN:
        signal.signal(signum, handler)
    return previous
T = TypeVar("T")


class Interrupted(BaseException):
    """Stopped by a signal, after cleaning up. A BaseException, as KeyboardInterrupt is: no ``except Exception``
    on the way out may take it for an error and carry on."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


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
            from tfy_live.extras import install_package

            raise ConfigError(f"{VARIABLE}=uvloop but uvloop is not installed: run `{install_package('uvloop')}`, "
                              f"or set {VARIABLE}=auto") from None
        return None
    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T], environ: Mapping[str, str], *,
        hard_exit: Callable[[int], Any] = os._exit) -> T:
    """Run ``coro`` on the chosen loop; a stop signal cancels it and raises ``Interrupted`` once it has unwound.

    ``hard_exit(code)`` ends the process on a second signal (tests pass a stand-in). After a stop the
    handlers stay installed, so that holds until the process ends.
    """
    import asyncio

    try:
        factory = loop_factory(environ)
    except ConfigError:
        coro.close()  # never awaited: no "was never awaited" warning
        raise
    stop = _Stop(hard_exit)
    # The handlers stay in place while the runner closes (it waits for threads): a second signal still works.
    with stop, asyncio.Runner(loop_factory=factory) as runner:
        stop.loop = runner.get_loop()
        stop.loop.call_later(collector.GRACE_S, collector.grace_over)
        try:
            result = runner.run(stop.watch(coro))
        except BaseException:
            if stop.signum is None:
                raise
            raise Interrupted(stop.signum) from None
        if stop.signum is not None:  # the task finished before the cancellation reached it
            raise Interrupted(stop.signum)
        return result


class _Stop:
    """The stop signals' handlers for one ``run`` (main thread only: Python delivers signals there).

    Python-level handlers, not ``loop.add_signal_handler``: they run even while
    the loop is stuck in a blocking call, which is when a second Ctrl-C is needed.
    """

    def __init__(self, hard_exit: Callable[[int], Any]) -> None:
        self.signum: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._hard_exit = hard_exit
        self._task: asyncio.Task[Any] | None = None
        self._previous: dict[int, Any] = {}
        self._terminal: list[Any] | None = None

    def __enter__(self) -> "_Stop":
        if threading.current_thread() is not threading.main_thread():
            return self
        self._terminal = _terminal_state()
        for signum in STOP_SIGNALS:
            self._previous[signum] = take(signum, self._on_signal)
        from tfy_live import entry

        if entry.pending:  # a stop whose exception Python swallowed (entry.pending): acted on now
            self.signum = entry.pending[0]
            entry.pending.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.signum is not None:
            return  # stopping: a further signal still ends the process at once, up to its very end
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    async def watch(self, coro: Coroutine[Any, Any, T]) -> T:
        import asyncio

        self._task = asyncio.current_task()
        if self.signum is not None:  # a signal came before the loop started
            coro.close()
            raise asyncio.CancelledError
        return await coro

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            _now(128 + self.signum, self._terminal, self._hard_exit)
            return
        self.signum = signum
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            if self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(lambda: None)  # wake a loop waiting in select()


def exit_on_signal(code: int | None = None) -> None:
    """From now on a stop signal ends the process at once with ``code`` (None: 128 + that signal's number):
    after a stop has been cleaned up (``run`` raised ``Interrupted``), or once a command is over, what is left
    is printing and the interpreter's exit, which a Ctrl-C should cut short, not turn into death by signal."""
    if threading.current_thread() is not threading.main_thread():
        return
    terminal = _terminal_state()
    for signum in STOP_SIGNALS:
        take(signum, lambda received, _: _now(128 + received if code is None else code, terminal, os._exit))


def _now(code: int, terminal: list[Any] | None, hard_exit: Callable[[int], Any]) -> None:
    """A second signal: the clean-up is taking too long for the user. Files are valid at every moment (WAV
    headers are rewritten after each write), so only the terminal needs its settings back."""
    _restore_terminal(terminal)
    try:
        os.write(2, b"stopped\n")
    except OSError:  # SIGHUP: the terminal may be gone
        pass
    hard_exit(code)


def _terminal_state() -> list[Any] | None:
    """Standard input's terminal settings (the live view turns echo off), to put back on a hard exit."""
    try:
        import termios

        return termios.tcgetattr(sys.stdin.fileno()) if sys.stdin is not None and sys.stdin.isatty() else None
    except (ImportError, OSError, ValueError):
        return None


def _restore_terminal(state: list[Any] | None) -> None:
    try:
        if state is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, state)
        if sys.stdout is not None and sys.stdout.isatty():
            os.write(sys.stdout.fileno(), b"\x1b[?25h")  # the live view hides the cursor
    except (ImportError, OSError, ValueError):
        pass
