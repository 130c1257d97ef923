"""The console script's first module: what must hold before anything else is imported.

Two things cannot wait for ``cli``: a Ctrl-C during the tenth of a second that
importing Typer, rich and our modules takes (``cli`` catches it from then on),
and standard streams the caller closed (a shell's ``<&-``). It imports only
the standard library, so both hold from the first moment.
"""

# Only what the interpreter imported before running us (os, sys): an import here could itself be interrupted,
# outside any handler. Hence no ``from __future__ import annotations`` either, which imports a module.
import os
import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as tfy_live.errors says (not imported: it is what may be interrupted)


def main() -> None:
    try:
        open_standard_streams()
        from tfy_live.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        # Only before cli.main takes SIGINT over can this come; it exits itself. A second Ctrl-C while we say
        # so ends the process at once, with the same code.
        import signal

        signal.signal(signal.SIGINT, lambda *_: os._exit(EXIT_INTERRUPTED))
        stopped()
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except (OSError, ValueError):
            pass
        os._exit(EXIT_INTERRUPTED)  # no command ran yet: the interpreter's teardown has nothing to finish


def stopped() -> None:
    """The line ``cli`` prints after a stop (``[dim]stopped[/dim]``), without rich, which may be half imported."""
    stream = sys.stderr
    if stream is None:
        return
    dim = stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    try:
        stream.write("\x1b[2mstopped\x1b[0m\n" if dim else "stopped\n")
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
