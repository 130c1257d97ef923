"""A pre-imported ``python -m tfy_live`` that forks a fresh process per command.

Most of the suite's CPU went on importing google-genai and its pydantic models
once per command run (about 0.7 s of 0.8 s for a short chat), and the suite runs
hundreds. This server imports them once, single-threaded, then forks one child
per request; the child takes the caller's standard streams, working directory,
environment and arguments, and runs ``tfy_live`` as ``python -m tfy_live`` does.
It is still a process of its own: its exit code, its signals, its files.

Run as ``python tests/zygote.py SOCKET``; ``tests/cli_run.py`` is the client.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys

# Read by typer or rich at import time rather than at run time: a request that sets any of them differently
# from the server's own environment runs as a plain subprocess instead (cli_run.IMPORT_TIME_VARIABLES).
IMPORT_TIME_VARIABLES = ("TERMINAL_WIDTH", "FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS", "TYPER_FORCE_DISABLE_TERMINAL",
                         "TYPER_USE_RICH", "_TYPER_FORCE_DISABLE_TERMINAL", "PYTHONPATH", "PYTHONWARNINGS")


def preload() -> None:
    """What every talk, chat and doctor imports; livekit stays out (its native threads do not fork)."""
    import google.genai  # noqa: F401
    import google.genai.live  # noqa: F401
    import google.genai.types  # noqa: F401
    import numpy  # noqa: F401
    import soundfile  # noqa: F401
    import websockets  # noqa: F401

    import tfy_live.cli  # noqa: F401
    import tfy_live.conversation  # noqa: F401
    import tfy_live.doctor  # noqa: F401
    import tfy_live.gateway.client  # noqa: F401
    import tfy_live.gateway.live  # noqa: F401
    import tfy_live.localgw  # noqa: F401
    import tfy_live.talk  # noqa: F401


def run_child(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become ``python -m tfy_live ARGS``; never returns."""
    import atexit
    import io
    import runpy
    import threading
    import traceback

    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        conn.close()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # Python's own start-up streams: stdout buffered unless a terminal, stderr line-buffered, and both
        # written through with PYTHONUNBUFFERED, as the interpreter reads it at start-up.
        unbuffered = bool(request["env"].get("PYTHONUNBUFFERED"))
        stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8",
                                  line_buffering=os.isatty(1), write_through=unbuffered)
        stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True, write_through=unbuffered)
        sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__ = stdin, stdout, stderr
        sys.argv = ["tfy_live", *request["args"]]
        try:
            runpy.run_module("tfy_live", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                print(exc.code, file=sys.stderr)
        except BaseException:  # what the interpreter would print before exiting 1
            traceback.print_exc()
            code = 1
        # The interpreter's own shutdown, in its order: threads, atexit, the streams.
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - as the interpreter: a failed flush at exit is exit 120
                code = 120 if code == 0 else code
    finally:
        os._exit(code)


def serve(path: str) -> None:
    preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # one request, one message
    listener.bind(path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    waiting: dict[int, socket.socket] = {}
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.data == "accept":
                conn, _ = listener.accept()
                message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
                request = json.loads(message)
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    for other in waiting.values():
                        other.close()
                    run_child(conn, request, fds)
                for fd in fds:
                    os.close(fd)
                conn.send(f"pid {pid}".encode())
                waiting[pid] = conn
            else:
                os.read(wake_r, 4096)
                while waiting:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                    if pid == 0:
                        break
                    conn = waiting.pop(pid, None)
                    if conn is not None:
                        code = os.waitstatus_to_exitcode(status)
                        try:
                            conn.send(f"exit {code}".encode())
                        except OSError:
                            pass
                        conn.close()


if __name__ == "__main__":
    serve(sys.argv[1])
