"""Run the real ``tfy-live`` command in a subprocess with a controlled environment."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
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
    Each run is a process of its own, forked from a server that has the modules imported
    (tests/zygote.py); TFY_LIVE_TEST_ZYGOTE=0 runs ``python -m tfy_live`` instead.
    """
    env = env if env is not None else clean_env()
    if _zygote_usable(env):
        return _forked(list(args), env, cwd, timeout, input, stdout)
    result = subprocess.run(
        [sys.executable, "-m", "tfy_live", *args],
        env=env,
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


# -- the pre-imported server ------------------------------------------------------------------------------------

_ZYGOTE: dict[str, object] = {}
_ZYGOTE_LOCK = threading.Lock()
# One server for the whole run: started by the controlling pytest process (conftest.py), which the
# xdist workers learn from their environment, read here before the autouse fixture removes TFY_*.
SHARED_SOCKET_VARIABLE = "TFY_LIVE_TEST_ZYGOTE_SOCKET"
_SHARED_SOCKET = os.environ.get(SHARED_SOCKET_VARIABLE)


def _zygote_usable(env: dict[str, str]) -> bool:
    if os.environ.get("TFY_LIVE_TEST_ZYGOTE", "1") == "0" or not hasattr(socket, "send_fds"):
        return False
    from tests.zygote import IMPORT_TIME_VARIABLES

    started_with = clean_env()  # the server's environment, as far as import-time variables go
    return all(env.get(name) == started_with.get(name) for name in IMPORT_TIME_VARIABLES)


def start_zygote() -> str:
    """Start a server of this process's own (once); the path of its socket."""
    with _ZYGOTE_LOCK:
        proc = _ZYGOTE.get("proc")
        if isinstance(proc, subprocess.Popen) and proc.poll() is None:
            return str(_ZYGOTE["path"])
        folder = tempfile.mkdtemp(prefix="tfy-zygote-")
        path = os.path.join(folder, "s")
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("zygote.py")), path], env=clean_env(),
                                cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n", "tests/zygote.py did not start"
        _ZYGOTE.update(proc=proc, path=path)
        atexit.register(stop_zygote)
        return path


def stop_zygote() -> None:
    proc, path = _ZYGOTE.pop("proc", None), _ZYGOTE.pop("path", None)
    if isinstance(proc, subprocess.Popen):
        proc.kill()
        proc.wait()
    if isinstance(path, str):
        with contextlib.suppress(OSError):
            os.unlink(path)
            os.rmdir(os.path.dirname(path))


def _zygote_socket() -> str:
    if _SHARED_SOCKET and os.path.exists(_SHARED_SOCKET):
        return _SHARED_SOCKET
    return start_zygote()


def _forked(args: list[str], env: dict[str, str], cwd: Path | None, timeout: float, input: str | None,
            stdout: int | None) -> subprocess.CompletedProcess[str]:
    """As subprocess.run(..., text=True) would return it, from a child of the zygote."""
    in_r, in_w = os.pipe() if input is not None else (os.open(os.devnull, os.O_RDONLY), -1)
    out_r, out_w = os.pipe() if stdout is None else (-1, os.dup(stdout))
    err_r, err_w = os.pipe()
    control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        control.connect(_zygote_socket())
        request = {"args": args, "env": env, "cwd": str(cwd if cwd is not None else Path.cwd())}
        socket.send_fds(control, [json.dumps(request).encode()], [in_r, out_w, err_w])
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}

    def drain(fd: int) -> None:
        while data := os.read(fd, 65536):
            chunks[fd].append(data)

    readers = [threading.Thread(target=drain, args=(fd,), daemon=True) for fd in (out_r, err_r) if fd != -1]
    for reader in readers:
        reader.start()
    if input is not None:
        try:
            os.write(in_w, input.encode())
        except BrokenPipeError:
            pass
        os.close(in_w)
    control.settimeout(timeout)
    pid = int(control.recv(64).decode().split()[1])
    try:
        code = int(control.recv(64).decode().split()[1])
    except (TimeoutError, socket.timeout):
        os.kill(pid, 9)
        control.settimeout(None)
        control.recv(64)
        code = None
    finally:
        for reader in readers:
            reader.join()
        for fd in (out_r, err_r):
            if fd != -1:
                os.close(fd)
        control.close()

    def text(fd: int) -> str:
        data = b"".join(chunks.get(fd, [])).decode(errors="replace")
        return data.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as subprocess.run(text=True)

    if code is None:
        raise subprocess.TimeoutExpired(["tfy-live", *args], timeout, text(out_r), text(err_r))

    return subprocess.CompletedProcess(["tfy-live", *args], code, text(out_r) if out_r != -1 else "", text(err_r))
