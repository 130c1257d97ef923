"""Hostile servers, names and inputs through the real CLI, each held to what ``tests.hostile`` checks.

The servers (``tests.rawservers``) listen on loopback and present certificates
from one CA the client trusts, so a redirect to another of them is a redirect
to an origin the client would otherwise talk to: the test of a redirect is that
the other origin saw no connection at all.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.hostile import error_lines, leaked_forms, run_hostile
from tests.rawservers import Listener, RawServers, http
from tests.test_integration import HELLO, SHORT_HELLO

REDIRECTS_REFUSED = r"redirect \(HTTP 30\d\) %s; tfy-live does not follow redirects"


def bearer(request: bytes) -> str:
    """The key a client sent, as a hostile server would read it."""
    match = re.search(rb"(?im)^authorization: bearer (\S+)\r$", request)
    return match.group(1).decode() if match else ""


def redirect(status: int, location: Callable[[Listener], str], target: Callable[[RawServers], Listener] | None = None):
    """A server answering the upgrade with ``status`` to ``location(second)``, ``second`` being another listener."""
    def start(servers: RawServers) -> Listener:
        second = target(servers) if target else None
        return servers.answering(lambda _: http(status, "Redirect", {"Location": location(second)} if location else {}))

    return start


def json_error(status: int, message: Callable[[bytes], str]):
    return lambda servers: servers.answering(
        lambda request: http(status, "Error", {"Content-Type": "application/json"},
                             json.dumps({"error": {"code": status, "message": message(request)}}).encode()))


def recorder(servers: RawServers) -> Listener:
    return servers.answering(lambda _: http(404, "Not Found"))


@dataclass
class Case:
    id: str
    args: list[str]
    code: int
    message: str
    server: Callable[[RawServers], Listener] | None = None  # the gateway TFY_BASE_URL points at
    env: dict[str, str] = field(default_factory=dict)
    lay_out: Callable[[Path], None] | None = None  # files in the working folder, before the run
    connections: int | None = None  # how many connections the gateway may see (None: any)
    waited_s: float | None = None  # how long the client should hold its one connection to the gateway
    max_s: float = 30.0  # how long the run may take, start-up included
    marks: tuple[pytest.MarkDecorator, ...] = ()


TALK = ["talk", "--provider", "acct", "--input-file", str(SHORT_HELLO), "--output-file", "out.wav"]
CHAT = ["chat", "--provider", "acct", "hello"]
LOCAL = ["talk", "--local", "--input-file", str(SHORT_HELLO), "--output-file", "out.wav"]
ROOT = os.geteuid() == 0


def fifo(folder: Path) -> None:
    os.mkfifo(folder / "in.wav")


def unreadable(folder: Path) -> None:
    (folder / "locked.wav").write_bytes(HELLO.read_bytes())
    (folder / "locked.wav").chmod(0)


CASES = [
    # The key reaches the configured origin only: every redirect at the upgrade is refused, at once.
    Case("redirect to another origin (gemini, talk)", TALK, 3, REDIRECTS_REFUSED % r"to wss://127\.0\.0\.1:\d+/steal",
         redirect(302, lambda second: f"wss://{second.origin}/steal", recorder), connections=1),
    Case("redirect to another origin (vertex, chat)", ["chat", "--provider", "acct", "--provider-kind", "vertex", "hi"],
         3, REDIRECTS_REFUSED % r"to wss://127\.0\.0\.1:\d+/steal",
         redirect(307, lambda second: f"wss://{second.origin}/steal", recorder), connections=1),
    Case("redirect to the same host by another name", CHAT, 3, REDIRECTS_REFUSED % r"to wss://localhost:\d+/x",
         redirect(308, lambda second: f"wss://localhost:{second.port}/x", recorder), connections=1),
    Case("redirect within the same origin", CHAT, 3, REDIRECTS_REFUSED % r"to wss://127\.0\.0\.1:\d+/api/llm/other",
         redirect(301, lambda _: "/api/llm/other"), connections=1),
    Case("redirect to plain http", TALK, 3, REDIRECTS_REFUSED % r"to http://127\.0\.0\.1:\d+/down",
         redirect(302, lambda second: f"http://{second.origin}/down", lambda s: s.silent()), connections=1),
    Case("redirect loop", CHAT, 3, REDIRECTS_REFUSED % r"to wss://127\.0\.0\.1:\d+/api/llm/live/acct/ws/\S+",
         lambda s: s.answering(lambda request: http(302, "Found", {"Location": request.split(b" ")[1].decode()})),
         connections=1),
    Case("redirect without a Location", CHAT, 3, r"redirect \(HTTP 303\) without a Location",
         redirect(303, None), connections=1),
    Case("redirect carrying credentials and a query", CHAT, 3,
         REDIRECTS_REFUSED % r"to wss://127\.0\.0\.1:\d+/x(?!\S*(secretpw|token=))",
         redirect(302, lambda second: f"wss://user:secretpw@{second.origin}/x?token=abc#frag", recorder),
         connections=1),
    # Servers that never answer: --setup-timeout is the only limit, and the message says which step waited.
    Case("silent TCP", [*TALK, "--setup-timeout", "1.5"], 3,
         r"no TLS connection to 127\.0\.0\.1:\d+ within 1\.5 s .*--setup-timeout", lambda s: s.silent(), max_s=9,
         connections=1, waited_s=1.5),
    Case("TLS then silent", [*CHAT[:-1], "--setup-timeout", "1.5", "hi"], 3,
         r"took the TLS connection but did not answer the WebSocket upgrade within 1\.5 s", lambda s: s.tls_silent(),
         max_s=9, connections=1, waited_s=1.5),
    Case("closes at once", CHAT, 3, r"127\.0\.0\.1:\d+", lambda s: s.closing()),
    Case("TLS then closes", CHAT, 3, r"did not answer as a WebSocket server",
         lambda s: s.answering(lambda _: b"")),
    Case("an HTTP server, not a WebSocket one", TALK, 3, r"refused the WebSocket upgrade \(HTTP 200: <html>",
         lambda s: s.answering(lambda _: http(200, "OK", {"Content-Type": "text/html"}, b"<html>hello</html>"))),
    Case("101 without the WebSocket headers", CHAT, 3, r"did not answer as a WebSocket server",
         lambda s: s.answering(lambda _: http(101, "Switching Protocols", {"Upgrade": "websocket"}))),
    Case("HTTP 500 echoing the key", TALK, 3, r"the gateway failed \(HTTP 500",
         json_error(500, lambda request: f"upstream refused the key {bearer(request)}")),
    Case("HTTP 502 with the key in base64", CHAT, 3, r"the gateway failed \(HTTP 502",
         json_error(502, lambda request: f"token {base64.b64encode(bearer(request).encode()).decode()} was refused")),
    # Model names the SDK would refuse only once connecting, reported as the server's fault.
    Case("model with ..", [*LOCAL, "--model", "gemini..x"], 2, r"model name 'gemini\.\.x' is not valid"),
    Case("model with ?", [*LOCAL, "--model", "a?b"], 2, r"model name 'a\?b' is not valid"),
    Case("model with &", ["chat", "--local", "--model", "x&y", "hi"], 2, r"model name 'x&y' is not valid"),
    Case("empty --model", [*LOCAL, "--model", ""], 2, r"--model is empty"),
    # Input files that would hang or lie.
    Case("FIFO as input", ["talk", "--local", "--input-file", "in.wav", "--output-file", "out.wav"], 5,
         r"'in\.wav' is a pipe, not a file.*> in\.wav", lay_out=fifo, max_s=10),
    Case("directory as input", ["talk", "--local", "--input-file", ".", "--output-file", "out.wav"], 5,
         r"is a directory"),
    Case("unreadable input", ["talk", "--local", "--input-file", "locked.wav", "--output-file", "out.wav"], 5,
         r"cannot read input file 'locked\.wav': permission denied", lay_out=unreadable,
         marks=(pytest.mark.skipif(ROOT, reason="root reads any file"),)),
    Case("local-gateway on a bad host", ["local-gateway", "--host", "nothere.invalid", "--port", "0"], 2,
         r"cannot listen on --host 'nothere\.invalid': the name does not resolve"),
]


@pytest.fixture
def servers(tmp_path):
    started = RawServers(tmp_path)
    yield started
    started.stop()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_a_hostile_server_or_input_gets_one_line_its_code_and_nothing_else(tmp_path, servers, case):
    (tmp_path / "keep.txt").write_bytes(b"the user's own file\n")
    env = clean_env(TFY_API_KEY=CANARY_KEY, **case.env)
    gateway = None
    if case.server is not None:
        gateway = case.server(servers)
        env.update(TFY_BASE_URL=gateway.base_url, SSL_CERT_FILE=str(servers.ca_file))
    if case.lay_out is not None:
        case.lay_out(tmp_path)
    started = time.monotonic()
    run_hostile(case.args, code=case.code, message=case.message, env=env, cwd=tmp_path, timeout=case.max_s + 10)
    assert time.monotonic() - started < case.max_s
    if gateway is not None and case.connections is not None:
        assert len(gateway.requests) == case.connections, gateway.requests
        others = [listener for listener in servers.listeners if listener is not gateway]
        assert all(listener.requests == [] for listener in others), [o.requests for o in others]
    if gateway is not None and case.waited_s is not None:
        # Measured by the server, from the TCP accept to the client's leaving: start-up and teardown excluded.
        deadline = time.monotonic() + 5
        while not gateway.lasted and time.monotonic() < deadline:
            time.sleep(0.01)
        (lasted,) = gateway.lasted
        assert case.waited_s - 0.1 <= lasted < case.waited_s + 0.75, lasted


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
def test_doctor_refuses_a_redirect_and_the_other_origin_sees_nothing(tmp_path, servers, kind):
    second = recorder(servers)
    first = redirect(302, lambda s: f"wss://{s.origin}/steal", lambda _: second)(servers)
    env = clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL=first.base_url, SSL_CERT_FILE=str(servers.ca_file))
    result = tfy_live("doctor", "--provider", "acct", "--provider-kind", kind, "--no-audio", env=env, cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert re.search(r"✗ fail\s+API key accepted\s+fix: .*redirect \(HTTP 302\) to wss://127\.0\.0\.1:\d+/steal",
                     result.stdout), result.stdout
    assert second.requests == [] and len(first.requests) == 2  # the TLS check, then the refused upgrade
    assert all(form not in (result.stdout + result.stderr).encode() for form in leaked_forms(CANARY_KEY))


def test_doctor_gives_up_at_the_setup_timeout_not_at_a_fixed_ten_seconds(tmp_path, servers):
    """Its TLS check had a limit of its own, 10 s, and reported it as the setup timeout."""
    silent = servers.silent()
    env = clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL=silent.base_url, SSL_CERT_FILE=str(servers.ca_file))
    started = time.monotonic()
    result = tfy_live("doctor", "--provider", "acct", "--no-audio", "--setup-timeout", "1.5", env=env, cwd=tmp_path,
                      timeout=30)
    took = time.monotonic() - started
    assert result.returncode == 3, result.stdout + result.stderr
    assert re.search(r"✗ fail\s+TLS verifies\s+fix: no TLS connection to 127\.0\.0\.1:\d+ within 1\.5 s", result.stdout)
    assert 1.5 <= took < 9, took
    assert 1.4 <= silent.lasted[0] < 2.25, silent.lasted


def test_local_gateway_on_a_port_in_use_is_one_line_and_leaves_no_folder(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run_hostile(["local-gateway", "--port", str(port)], code=2, env=clean_env(TMPDIR=str(temp)), cwd=work,
                    message=rf"port {port} on 127\.0\.0\.1 is already in use; pass another --port, or --port 0")
    assert list(temp.iterdir()) == []


def test_no_audio_devices_is_exit_4_naming_the_file_options(tmp_path):
    count = subprocess.run([sys.executable, "-c", "from tfy_live.audio.portaudio import list_devices as d; "
                            "print(len(d()))"], env=clean_env(), capture_output=True, text=True, timeout=30)
    if count.stdout.strip() != "0":
        pytest.skip("this machine has audio devices")
    run_hostile(["devices"], code=4, env=clean_env(), cwd=tmp_path,
                message=r"no audio devices found; use `tfy-live talk --input-file FILE --output-file FILE\.wav`")


def test_a_deleted_working_directory_is_one_line_and_exit_2(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    # The shell enters the folder, removes it, then becomes tfy-live: its working directory no longer exists.
    script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    result = subprocess.run(["sh", "-c", script, "sh", str(gone), sys.executable, "-m", "tfy_live", "talk", "--local"],
                            env=clean_env(TFY_API_KEY=CANARY_KEY), capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = error_lines(result.stderr)
    assert "the current directory no longer exists" in line and "cd to a directory" in line
