"""``tfy-live doctor``: check a set-up, in order, and say what to fix.

Each check is an async function returning a detail line, or raising a
``TfyLiveError`` whose message is the fix. A check that needs an earlier one
to have passed is skipped, not run into the same wall again. The runner is
plain (``run_checks``); the checks themselves do the I/O, through the same
functions ``talk`` uses, so what passes here is what ``talk`` will meet.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal, Mapping

from tfy_live.config import Settings, resolve
from tfy_live.errors import AudioError, GatewayError, NoDeviceError, TfyLiveError
from tfy_live.tools.config import ServerConfig

Outcome = Literal["pass", "fail", "skip"]


@dataclass
class Result:
    name: str
    outcome: Outcome
    detail: str = ""
    seconds: float = 0.0
    exit_code: int = 0


class Skipped(Exception):
    """Raised by a check that does not apply to this machine: shown as skipped, with why; not a failure."""


@dataclass
class Check:
    name: str
    run: Callable[[], Awaitable[str]]
    needs: tuple[str, ...] = ()  # checks that must have passed first


@dataclass
class Doctor:
    """The checks for one set-up; ``context`` (the local gateway's) replaces the system's trust."""

    flags: Mapping[str, Any]
    environ: Mapping[str, str]
    input_device: str | None = None
    output_device: str | None = None
    audio: bool = True
    context: ssl.SSLContext | None = None
    need_target: bool = True
    mcp_servers: list[ServerConfig] = field(default_factory=list)  # each is connected and its tools listed
    settings: Settings | None = field(default=None, init=False)
    _setup_error: GatewayError | None = field(default=None, init=False)
    _setup_seconds: float = field(default=0.0, init=False)

    def checks(self) -> list[Check]:
        checks = [
            Check("settings", self.check_settings),
            Check("gateway host resolves", self.check_dns, ("settings",)),
            Check("TLS verifies", self.check_tls, ("gateway host resolves",)),
            Check("API key accepted", self.check_key, ("TLS verifies",)),
            Check("provider and model answer a session setup", self.check_setup, ("API key accepted",)),
        ]
        checks += [Check(f"MCP server {config.name!r} lists its tools", self._mcp_check(config), ("settings",))
                   for config in self.mcp_servers]
        if self.audio:
            checks += [
                Check("microphone opens at 16 kHz", self.check_input),
                Check("speaker opens at 24 kHz", self.check_output),
            ]
        return checks

    # -- the checks ------------------------------------------------------------------
    async def check_settings(self) -> str:
        self.settings = resolve(self.flags, self.environ, need_target=self.need_target)
        s = self.settings
        from tfy_live.gateway.client import socket_url

        trust = f" · CA bundle {s.ca_bundle}" if s.ca_bundle else ""
        socket = f" · socket {socket_url(s)}" if s.base_url else ""  # no target: only the MCP servers are checked
        return (f"{s.base_url} · provider {s.provider} ({s.provider_kind}) · model {s.model} · key set (not shown)"
                f"{trust}{socket}")

    async def check_dns(self) -> str:
        host, port = self._host_port()
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise GatewayError(f"cannot resolve {host!r} ({exc.strerror}); check TFY_BASE_URL and your DNS/network") from exc
        addresses = sorted({str(info[4][0]) for info in infos})
        return f"{host} → {', '.join(addresses[:3])}"

    async def check_tls(self) -> str:
        from tfy_live import gateway
        from tfy_live.gateway.errors import opening_timed_out

        assert self.settings is not None
        host, port = self._host_port()
        context = self.context or gateway.ssl_context(self.settings)
        timer = asyncio.timeout(self.settings.setup_timeout_s)  # the limit talk gives the same steps
        try:
            async with timer:
                _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host)
        except Exception as exc:  # noqa: BLE001 - translated below
            if timer.expired():
                raise opening_timed_out("connect", self.settings) from exc
            raise gateway.translate_error(exc, self.settings) from exc
        tls = writer.get_extra_info("ssl_object")
        version, issuer = tls.version(), _issuer(tls.getpeercert())
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 2)
        except (OSError, TimeoutError, ssl.SSLError):
            pass
        return f"{version}, certificate issued by {issuer}"

    async def check_key(self) -> str:
        """One session setup answers both this check and the next; auth failures land here."""
        from tfy_live.talk import connector

        assert self.settings is not None
        started = time.perf_counter()
        try:
            async with connector(self.settings)(self.settings, context=self.context):
                pass
        except GatewayError as exc:
            # A redirect fails here too: the key was not sent on, so whether it is accepted is unknown.
            if exc.http_status in (401, 403) or 300 <= (exc.http_status or 0) < 400:
                raise
            self._setup_error = exc
        self._setup_seconds = time.perf_counter() - started
        return "the gateway accepted the Bearer key" if self._setup_error is None or \
            self._setup_error.http_status is None else f"not refused (HTTP {self._setup_error.http_status} is about the path)"

    async def check_setup(self) -> str:
        if self._setup_error is not None:
            raise self._setup_error
        assert self.settings is not None
        answer = "session.updated" if self.settings.provider_kind in ("openai", "azure") else "setupComplete"
        return f"{self.settings.model} answered {answer} in {1000 * self._setup_seconds:.0f} ms"

    async def check_input(self) -> str:
        from tfy_live.audio import INPUT_RATE
        from tfy_live.audio.devices import PyAudioSource

        try:
            source = PyAudioSource(self.input_device, sample_rate=INPUT_RATE)
        except NoDeviceError as exc:
            raise _no_device("microphone", "input", self.input_device) from exc
        chunks = source.stream(320)
        try:
            async with asyncio.timeout(5):
                chunk = await chunks.__anext__()
        except TimeoutError as exc:
            raise AudioError(f"microphone {source.device.name!r} opened but gave no audio in 5 s; "
                             "pick another with --input-device (see `tfy-live devices`)") from exc
        finally:
            await chunks.aclose()
        return f"{source.device.name} (read {len(chunk) // 2} frames)"

    async def check_output(self) -> str:
        from tfy_live.audio import OUTPUT_RATE
        from tfy_live.audio.devices import PyAudioSink

        try:
            sink = PyAudioSink(self.output_device, sample_rate=OUTPUT_RATE)
        except NoDeviceError as exc:
            raise _no_device("speaker", "output", self.output_device) from exc
        async with sink:
            await sink.write(bytes(2 * OUTPUT_RATE // 50))  # 20 ms of silence
        return f"{sink.device.name}"

    def _mcp_check(self, config: ServerConfig) -> Callable[[], Awaitable[str]]:
        async def check() -> str:
            from tfy_live.tools.servers import McpServers

            assert self.settings is not None
            async with McpServers([config], base_url=self.settings.base_url or None,
                                  api_key=self.settings.api_key or None, context=self.context) as servers:
                status = servers.statuses[0]
            if status.error is not None:
                raise GatewayError(f"MCP server {config.name!r} ({config.where}): {status.error}; fix it in "
                                   "--mcp-config (or --mcp)")
            names = ", ".join(tool.name for tool in status.tools[:8]) + (", …" if len(status.tools) > 8 else "")
            return f"{len(status.tools)} tool{'s' if len(status.tools) != 1 else ''}: {names or 'none'}"

        return check

    def _host_port(self) -> tuple[str, int]:
        from urllib.parse import urlsplit

        assert self.settings is not None
        parts = urlsplit(self.settings.base_url)
        return parts.hostname or "", parts.port or 443


def _no_device(what: str, kind: str, asked: str | None) -> Exception:
    """No device of the kind at all: a headless machine is skipped (talk takes files there), not failed;
    a device asked for by name is a failure. Either way the line names what doctor itself accepts."""
    if asked is None:
        instead = "talk --input-file FILE speaks a file" if kind == "input" else \
            "talk --output-file FILE.wav writes the reply to a file"
        return Skipped(f"no {what} on this machine ({instead} instead); --no-audio leaves this check out")
    return AudioError(f"no audio {kind} device found, so --{kind}-device {asked!r} cannot be checked; check that "
                      "the sound system (ALSA/PulseAudio) sees a card, or pass --no-audio to skip the audio checks")


def _issuer(cert: dict[str, Any] | None) -> str:
    for rdn in (cert or {}).get("issuer", ()):
        for key, value in rdn:
            if key in ("organizationName", "commonName"):
                return str(value)
    return "an unnamed CA"


async def run_checks(checks: list[Check], on_result: Callable[[Result], None] = lambda r: None) -> list[Result]:
    """Run the checks in order; a check whose needs did not pass is skipped."""
    results: list[Result] = []
    passed: set[str] = set()
    for check in checks:
        missing = [need for need in check.needs if need not in passed]
        if missing:
            result = Result(check.name, "skip", f"needs: {missing[0]}")
        else:
            started = time.perf_counter()
            try:
                detail = await check.run()
            except Skipped as exc:
                result = Result(check.name, "skip", str(exc), time.perf_counter() - started)
            except TfyLiveError as exc:
                result = Result(check.name, "fail", str(exc), time.perf_counter() - started, exc.exit_code)
            else:
                result = Result(check.name, "pass", detail, time.perf_counter() - started)
                passed.add(check.name)
        results.append(result)
        on_result(result)
    return results


def exit_code(results: list[Result]) -> int:
    """0 when every check passed; else the exit code of the first failure (2 settings, 3 gateway, 4 audio)."""
    for result in results:
        if result.outcome == "fail":
            return result.exit_code or 1
    return 0
