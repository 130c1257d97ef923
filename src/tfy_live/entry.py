"""The console script's first module: what must hold before anything else is imported.

Two things cannot wait for ``cli``: a Ctrl-C during the tenth of a second that
importing Typer, rich and our modules takes (``cli`` catches it from then on),
and standard streams the caller closed (a shell's ``<&-``). Until both hold it
imports only what the interpreter already has. Then it pauses the garbage
collector for the start (``tfy_live.collector``, which imports only ``gc``).
"""

# Only what the interpreter imported before running us (os, sys): an import here could itself be interrupted,
# outside any handler. Hence no ``from __future__ import annotations`` either, which imports a module.
import os
import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as tfy_live.errors says (not imported: it is what may be interrupted)
# SIGTERM and SIGHUP by number and by the name cli prints ("stopped (SIGTERM)"); Windows has no SIGHUP.
_OTHER_STOPS = {15: "SIGTERM", **({1: "SIGHUP"} if os.name == "posix" else {})}


class _Stopped(BaseException):
    """SIGTERM or SIGHUP before cli.main takes them over: a BaseException, as KeyboardInterrupt is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# The stop signals that came before the event loop took them over. Python runs a handler between any two
# bytecodes, also inside a callback (a weakref's, during an import) whose exception it prints and ignores: the
# stop would be lost and the program go on. cli.main and eventloop.run act on what is noted here.
pending: list[int] = []


def _stop(signum: int, frame: object) -> None:
    pending.append(signum)
    raise _Stopped(signum)


def _interrupt(signum: int, frame: object) -> None:
    pending.append(signum)
    raise KeyboardInterrupt


def catch_other_stops() -> None:
    """SIGTERM and SIGHUP, until cli.main takes them over, end the program as Ctrl-C does: one line, 143 or 129
    (README "Exit codes"), not death by the default action while the modules load. ``_signal`` is built into
    the interpreter and already loaded: importing it runs no code. A signal the caller ignores (nohup) stays
    ignored."""
    import _signal  # type: ignore[import-not-found]  # typeshed knows only the signal module

    for signum in _OTHER_STOPS:
        if _signal.getsignal(signum) == _signal.SIG_DFL:
            _signal.signal(signum, _stop)
    if _signal.getsignal(2) is _signal.default_int_handler:  # SIGINT, unless ignored
        _signal.signal(2, _interrupt)


def main() -> None:
    try:
        catch_other_stops()
        open_standard_streams()
        from tfy_live import collector

        collector.pause()  # until the start is over: it loads most of what the process will ever hold
        from tfy_live.cli import main as cli_main

        cli_main()
    except (KeyboardInterrupt, _Stopped) as exc:
        # Only before cli.main takes the signals over can this come; it exits itself. A second signal while we say
        # so ends the process at once, with the same code.
        import _signal

        code = 128 + exc.signum if isinstance(exc, _Stopped) else EXIT_INTERRUPTED
        for signum in (2, *_OTHER_STOPS):  # SIGINT, SIGTERM, SIGHUP
            if _signal.getsignal(signum) != _signal.SIG_IGN:
                _signal.signal(signum, lambda *_: os._exit(code))
        stopped(f" ({_OTHER_STOPS[exc.signum]})" if isinstance(exc, _Stopped) else "")
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except (OSError, ValueError):
            pass
        os._exit(code)  # no command ran yet: the interpreter's teardown has nothing to finish


def stopped(said: str = "") -> None:
    """The line ``cli`` prints after a stop (``[dim]stopped[/dim]``, and which signal unless Ctrl-C), without
    rich, which may be half imported."""
    stream = sys.stderr
    if stream is None:
        return
    dim = stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    try:
        stream.write(f"\x1b[2mstopped{said}\x1b[0m\n" if dim else f"stopped{said}\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def open_standard_streams() -> None:
    """Give descriptors 0, 1 and 2 a file each, and Python a stream for each, when the caller closed them.

    A closed one would go to the next socket or file opened: uvloop then aborts the process when it closes a
    socket on descriptor 0-2 (``uv__close: Assertion 'fd > STDERR_FILENO'``), and our own output would go
    into the gateway's connection. /dev/null reads as empty and swallows what is written, as ``<&-`` meant.
    Python sets ``sys.stdin`` and the others to None for a closed descriptor; the code reading them expects
    a stream.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdin is None:
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # the descriptor is the process's, never closed
    if sys.stdout is None:
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    if sys.stderr is None:
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace",
                          closefd=False)


if __name__ == "__main__":  # pragma: no cover
    main()
