"""The local gateway: a TLS WebSocket server on the AI Gateway's Live paths.

    Gemini kind: <prefix>/live/<account>/ws/google.ai.generativelanguage.<ver>.GenerativeService.BidiGenerateContent
    Vertex kind: <prefix>/live/<account>
    OpenAI and Azure kinds: <prefix>/live/<account>/realtime?model=<model> (OpenAI's realtime protocol)

Behind it the echo model (``echo.py``), or a recorded session replayed
(``replay.py``: ``replay=`` a file or a parsed script). Every connection is
recorded (``ConnectionRecord``) so tests can check what a client really sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tfy_live.localgw import replay as rp
from tfy_live.localgw.echo import EchoModel, EchoOptions, audio_chunks, declared_functions, decode_b64, get
from tfy_live.localgw.loopthread import LoopThread
from tfy_live.localgw.tls import LocalCertificates

log = logging.getLogger("tfy_live.localgw")

_GEMINI = re.compile(
    r"^(?P<prefix>.*)/live/(?P<account>[^/]+)/ws/google\.ai\.generativelanguage\."
    r"(?P<version>v\d+\w*)\.GenerativeService\.BidiGenerateContent(?:Constrained)?$"
)
_VERTEX = re.compile(r"^(?P<prefix>.*)/live/(?P<account>[^/]+)$")
_REALTIME = re.compile(r"^(?P<prefix>.*)/live/(?P<account>[^/]+)/realtime$")
MAX_FRAME = 16 * 2**20


@dataclass
class ConnectionRecord:
    path: str
    headers: dict[str, str]
    kind: str | None = None
    account: str | None = None
    api_version: str | None = None
    status: int = 101
    setup: dict[str, Any] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    audio_in: bytearray = field(default_factory=bytearray)
    audio_out: bytearray = field(default_factory=bytearray)
    sent: list[dict[str, Any]] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)  # time.monotonic() of each message in sent
    received_at: list[float] = field(default_factory=list)  # ... and in received
    query: dict[str, str] = field(default_factory=dict)  # the upgrade's query (the realtime kinds' ?model=)

    @property
    def model(self) -> str | None:
        return self.setup.get("model") or self.query.get("model")

    @property
    def config(self) -> dict[str, Any]:
        return get(self.setup, "generationConfig", "generation_config") or {}

    @property
    def handle(self) -> str | None:
        """The resumption handle the client came back with (None: a new session)."""
        resumption = get(self.setup, "sessionResumption", "session_resumption") or {}
        handle = get(resumption, "handle")
        return None if handle is None else str(handle)

    @property
    def modalities(self) -> list[str]:
        return [str(m).upper() for m in get(self.config, "responseModalities", "response_modalities") or ["AUDIO"]]

    @property
    def manual_activity(self) -> bool:
        realtime = get(self.setup, "realtimeInputConfig", "realtime_input_config") or {}
        detection = get(realtime, "automaticActivityDetection", "automatic_activity_detection") or {}
        return bool(get(detection, "disabled"))

    @property
    def voice(self) -> str | None:
        config = get(self.setup, "generationConfig", "generation_config") or {}
        speech = get(config, "speechConfig", "speech_config") or {}
        voice = get(speech, "voiceConfig", "voice_config") or {}
        prebuilt = get(voice, "prebuiltVoiceConfig", "prebuilt_voice_config") or {}
        name = get(prebuilt, "voiceName", "voice_name")
        return None if name is None else str(name)


def _reject(status: int, message: str) -> Response:
    return _response(status, json.dumps({"error": {"code": status, "message": message}}).encode(), "application/json")


def _response(status: int, body: bytes, content_type: str) -> Response:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:  # a status no standard names (a replay file may hold one)
        phrase = "Unknown"
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return Response(status, phrase, headers, body)


@dataclass
class Fault:
    """Something going wrong on purpose, for the tests: on connection ``connection`` (0: the
    first), once the echo model has finished ``after_turns`` turns:

    - ``close``: close with ``code`` and ``reason`` (1011 internal error, 1008 policy…); with
      ``after_s``, that long after setupComplete whatever the turns (the real quota close: ~0.8 s);
    - ``close_at_setup``: read the setup and close with ``code`` and ``reason`` instead of
      answering it (how the real servers refuse a model, a stale handle, or are unavailable);
    - ``drop``: drop the TCP connection without a close frame (the client sees 1006);
    - ``go_away``: send goAway with ``time_left_s``, then close with ``deadline_code`` and
      ``deadline_reason`` when it has run out (the real server: 1008 and no reason, or 1011);
    - ``malformed``: send a text frame that is not JSON, and carry on;
    - ``oversized``: send a frame of ``size`` bytes (the client accepts 16 MiB);
    - ``reject``: refuse the upgrade with HTTP ``code`` and ``reason`` as the JSON body's message;
    - ``slow_setup``: wait ``delay_s`` before answering the setup.

    With ``during_reply`` the fault waits, after ``after_turns`` turns, until the
    next reply has begun to be sent. With ``each``, it happens on connection
    ``connection`` and on every one after it.
    """

    action: str = "close"
    after_turns: int = 1
    connection: int = 0
    code: int = 1011
    reason: str = "internal error"
    time_left_s: float = 2.0
    during_reply: bool = False
    size: int = 17 * 2**20
    delay_s: float = 5.0
    each: bool = False
    after_s: float | None = None
    deadline_code: int = 1011
    deadline_reason: str = "deadline expired after goAway"

    def applies(self, index: int) -> bool:
        return index == self.connection or (self.each and index > self.connection)


class LocalGateway:
    """A Live gateway on this machine, for ``talk --local``, ``local-gateway`` and tests."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, prefix: str = "/api/llm",
                 api_key: str | None = None, reply_speed: float = 1.0, options: EchoOptions | None = None,
                 faults: Sequence[Fault] = (), record: bool = False, replay: rp.Script | Path | None = None,
                 replay_speed: float = 1.0, replay_then: str | None = None,
                 model: Callable[..., EchoModel] = EchoModel) -> None:
        """``replay``: play a recorded session to each client instead of the echo model (``replay.py``),
        its pauses ``replay_speed`` times faster; ``replay_then`` overrides the file's ``then``.
        ``model``: makes each connection's model, called as ``EchoModel`` is (a benchmark's own model)."""
        self.model = model
        self.faults = list(faults)
        script = rp.load(replay) if isinstance(replay, Path) else replay
        self.replay = script.with_then(replay_then) if script is not None else None
        self.replay_speed = replay_speed
        self._replayed = 0  # connections that reached a session (the Nth plays the Nth of the file)
        # Keep every message and all audio of each connection (for tests to inspect). Off for
        # `talk --local` and the standalone gateway: a long session would grow without bound.
        self.record = record
        self.host = host
        self.port = port
        self.prefix = prefix.rstrip("/")
        self.api_key = api_key
        self.options = options or EchoOptions()
        self.options.reply_speed = reply_speed if options is None else self.options.reply_speed
        self.connections: list[ConnectionRecord] = []
        self._certs: LocalCertificates | None = None
        self._server: Server | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}{self.prefix}"

    @property
    def ca_file(self) -> str:
        assert self._certs is not None, "start() first"
        return str(self._certs.ca_file)

    def client_ssl_context(self) -> Any:
        assert self._certs is not None, "start() first"
        return self._certs.client_context()

    async def start(self) -> None:
        """Listen; OSError (the port is taken, the host is not this machine's) or socket.gaierror if not."""
        self._certs = LocalCertificates()
        quiet = logging.getLogger("tfy_live.localgw.websockets")
        quiet.setLevel(logging.CRITICAL)
        try:
            self._server = await serve(
                self._session, self.host, self.port, ssl=self._certs.server_context(),
                process_request=self._check_request, max_size=MAX_FRAME, logger=quiet,
                ping_interval=None,
            )
        except BaseException:
            self._certs.cleanup()  # __aexit__ does not run when __aenter__ fails
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("local gateway on %s", self.base_url)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        if self._certs is not None:
            self._certs.cleanup()

    async def __aenter__(self) -> "LocalGateway":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the upgrade -----------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        from urllib.parse import parse_qsl

        record = ConnectionRecord(path=path, headers={k.lower(): v for k, v in request.headers.raw_items()},
                                  query=dict(parse_qsl(query)))
        self.connections.append(record)
        connection.tfy_record = record  # type: ignore[attr-defined]
        if (match := _GEMINI.match(path)) and match["prefix"] == self.prefix:
            record.kind, record.account, record.api_version = "gemini", match["account"], match["version"]
        elif (match := _REALTIME.match(path)) and match["prefix"] == self.prefix:
            record.kind, record.account = "openai", match["account"]
        elif (match := _VERTEX.match(path)) and match["prefix"] == self.prefix:
            record.kind, record.account = "vertex", match["account"]
        else:
            record.status = 404
            return _reject(404, f"no Live endpoint at {path}; use {self.prefix}/live/<providerAccountName>")
        auth = request.headers.get("Authorization", "")
        key = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        if not key or (self.api_key is not None and key != self.api_key):
            record.status = 401
            return _reject(401, "invalid or missing API key (Authorization: Bearer <TrueFoundry API key>)")
        index = len(self.connections) - 1
        for fault in self.faults:
            if fault.action == "reject" and fault.applies(index):
                record.status = fault.code
                return _reject(fault.code, fault.reason)
        if self.replay is not None:
            session = connection.tfy_replay = self.replay.session(self._replayed)  # type: ignore[attr-defined]
            self._replayed += 1
            if session is not None and session.refuse is not None:
                record.status = session.refuse.status
                return _response(session.refuse.status, session.refuse.body, session.refuse.content_type)
        return None

    # -- the session -----------------------------------------------------------
    async def _session(self, ws: ServerConnection) -> None:
        record: ConnectionRecord = ws.tfy_record  # type: ignore[attr-defined]
        if record.kind == "openai":
            if (replayed := getattr(ws, "tfy_replay", None)) is not None:
                await self._replay_realtime(ws, record, replayed)
            else:
                await self._realtime(ws, record)
            return
        loop = asyncio.get_running_loop()
        try:
            first = json.loads(await ws.recv())
            record.setup = get(first, "setup") or {}
            if (session := getattr(ws, "tfy_replay", None)) is not None:
                await self._replay(ws, record, session)
                return
            index = self.connections.index(record)
            faults = [f for f in self.faults if f.applies(index) and f.action not in ("reject",)]
            for fault in [f for f in faults if f.action == "slow_setup"]:
                faults.remove(fault)
                await asyncio.sleep(fault.delay_s)
            for fault in [f for f in faults if f.action == "close_at_setup"]:
                await ws.close(fault.code, fault.reason)
                return
            await self._send(ws, record, {"setupComplete": {}})
            set_up = loop.time()
            model = self.model(
                self.options, vertex=record.kind == "vertex",
                resumption=get(record.setup, "sessionResumption", "session_resumption") is not None,
                text=record.modalities == ["TEXT"], manual_activity=record.manual_activity,
                functions=declared_functions(record.setup),
            )
            await self._send_all(ws, record, model.start(loop.time()))
            close_at: float | None = None  # after a goAway
            go_away: Fault | None = None
            while True:
                due = [f for f in faults if (set_up + f.after_s <= loop.time() if f.after_s is not None else
                                             model.turns >= f.after_turns and (not f.during_reply or model.replying))]
                for fault in due:
                    faults.remove(fault)
                    if fault.action == "close":
                        await ws.close(fault.code, fault.reason)
                        return
                    if fault.action == "drop":
                        ws.transport.abort()
                        return
                    if fault.action == "malformed":
                        await ws.send("this is not JSON {")
                        continue
                    if fault.action == "oversized":
                        await ws.send(json.dumps({"serverContent": {"outputTranscription": {"text": "x" * fault.size}}}))
                        continue
                    await self._send(ws, record, {"goAway": {"timeLeft": f"{fault.time_left_s:g}s"}})
                    close_at, go_away = loop.time() + fault.time_left_s, fault
                if close_at is not None and go_away is not None and loop.time() >= close_at:
                    await ws.close(go_away.deadline_code, go_away.deadline_reason)
                    return
                deadline = model.next_deadline()
                timed = [set_up + f.after_s for f in faults if f.after_s is not None]
                for due_at in ([close_at] if close_at is not None else []) + timed:
                    deadline = due_at if deadline is None else min(deadline, due_at)
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout)  # recv() is safe to cancel
                except TimeoutError:
                    out = model.tick(loop.time())
                else:
                    message = json.loads(raw)
                    if self.record:
                        record.received.append(message)
                        record.received_at.append(time.monotonic())
                        self._record_audio(record, message)
                    out = model.feed(message, loop.time())
                await self._send_all(ws, record, out)
        except (ValueError, TypeError) as exc:
            log.info("malformed client frame: %s", exc)
            await ws.close(1007, "malformed frame")
        except Exception as exc:  # noqa: BLE001 - a closed socket ends the session quietly
            from websockets.exceptions import ConnectionClosed

            if not isinstance(exc, ConnectionClosed):
                raise

    async def _realtime(self, ws: ServerConnection, record: ConnectionRecord) -> None:
        """One OpenAI realtime session with the echo model (``realtime.RealtimeEcho``).

        Faults: ``close``/``drop``/``malformed``/``oversized`` after ``after_turns`` turns, as for Gemini; ``error``:
        an ``error`` event whose
        code is ``reason`` (at once when ``after_turns`` is 0, before the session is set up), then a close with
        ``code``.
        """
        from websockets.exceptions import ConnectionClosed

        from tfy_live.localgw.realtime import RealtimeEcho

        loop = asyncio.get_running_loop()
        index = self.connections.index(record)
        faults = [f for f in self.faults if f.applies(index) and f.action in ("close", "drop", "error", "malformed",
                                                                                "oversized")]
        echo = RealtimeEcho(self.options, model=record.query.get("model") or "gpt-realtime")
        try:
            await self._send_all(ws, record, echo.start(loop.time()))
            while True:
                for fault in [f for f in faults if echo.model.turns >= f.after_turns
                              and (not f.during_reply or echo.model.replying)]:
                    if fault.action == "malformed":
                        faults.remove(fault)
                        await ws.send("this is not JSON {")
                        continue
                    if fault.action == "oversized":
                        faults.remove(fault)
                        await ws.send(json.dumps({"type": "response.output_audio_transcript.delta",
                                                  "delta": "x" * fault.size}))
                        continue
                    if fault.action == "drop":
                        ws.transport.abort()
                        return
                    if fault.action == "error":
                        await self._send(ws, record, {"type": "error", "error": {
                            "type": "invalid_request_error", "code": fault.reason, "message": f"{fault.reason} (local)"}})
                    await ws.close(fault.code, "" if fault.action == "error" else fault.reason)
                    return
                deadline = echo.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout)
                except TimeoutError:
                    out = echo.tick(loop.time())
                else:
                    message = json.loads(raw)
                    if not isinstance(message, dict):
                        raise ValueError("not a realtime event")
                    if self.record:
                        record.received.append(message)
                        record.received_at.append(time.monotonic())
                        if message.get("type") == "input_audio_buffer.append":
                            record.audio_in += decode_b64(str(message.get("audio") or ""))
                    if message.get("type") == "session.update":
                        record.setup = message.get("session") or {}
                    out = echo.feed(message, loop.time())
                await self._send_all(ws, record, out)
        except (ValueError, TypeError) as exc:
            log.info("malformed client frame: %s", exc)
            await ws.close(1007, "malformed frame")
        except ConnectionClosed:
            pass

    async def _replay_realtime(self, ws: ServerConnection, record: ConnectionRecord, session: rp.Session) -> None:
        """A replay on OpenAI's protocol: the client's first event (its ``session.update``) is the setup."""
        from websockets.exceptions import ConnectionClosed

        try:
            first = json.loads(await ws.recv())
        except ConnectionClosed:
            return
        except ValueError:
            first = {}
        record.setup = (first.get("session") if isinstance(first, dict) else None) or {}
        await self._replay(ws, record, session)

    async def _replay(self, ws: ServerConnection, record: ConnectionRecord, session: rp.Session) -> None:
        """Play one session of the replay script (the setup has been read), listening to the client meanwhile."""
        turns = rp.ClientTurns(self.options)
        heard = waited = 0  # turns the client has finished; turns the script has waited for
        changed = asyncio.Event()

        async def listen() -> None:
            nonlocal heard
            from websockets.exceptions import ConnectionClosed

            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    try:
                        message = json.loads(raw)
                    except ValueError:
                        continue  # the script goes on: a replay does not judge the client
                    if self.record:
                        record.received.append(message)
                        record.received_at.append(time.monotonic())
                        self._record_audio(record, message)
                    if isinstance(message, dict):
                        heard += turns.feed(message)
                    changed.set()

        # The listener reads while the script waits or sleeps: the client's sends never back up, and
        # a client that leaves ends the script at once.
        listener = asyncio.create_task(listen(), name="replay-listener")
        try:
            for step in session.steps:
                if isinstance(step, rp.Pause):
                    await asyncio.wait([listener], timeout=step.seconds / self.replay_speed)
                elif isinstance(step, rp.AwaitClient):
                    while heard <= waited and not listener.done():
                        changed.clear()
                        waiter = asyncio.ensure_future(changed.wait())
                        try:
                            await asyncio.wait([listener, waiter], return_when=asyncio.FIRST_COMPLETED)
                        finally:
                            waiter.cancel()
                    waited += 1
                else:
                    await self._send(ws, record, step.message)
                if listener.done():
                    return
            if session.close is None:
                await listener  # no close recorded: open until the client leaves
            elif session.close.drop:
                ws.transport.abort()
            else:
                await ws.close(session.close.code, session.close.reason)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    @staticmethod
    def _record_audio(record: ConnectionRecord, message: dict[str, Any]) -> None:
        if message.get("type") == "input_audio_buffer.append":
            record.audio_in += decode_b64(str(message.get("audio") or ""))
            return
        realtime = get(message, "realtimeInput", "realtime_input")
        if isinstance(realtime, dict):
            for pcm in audio_chunks(realtime):
                record.audio_in += pcm

    async def _send_all(self, ws: ServerConnection, record: ConnectionRecord, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            await self._send(ws, record, message)

    async def _send(self, ws: ServerConnection, record: ConnectionRecord, message: dict[str, Any]) -> None:
        if self.record:
            record.sent.append(message)
            record.sent_at.append(time.monotonic())
            if message.get("type") == "response.output_audio.delta":
                record.audio_out += decode_b64(message["delta"])
            turn = get(get(message, "serverContent"), "modelTurn")
            for part in (turn or {}).get("parts", []):
                if "inlineData" in part:
                    record.audio_out += decode_b64(part["inlineData"]["data"])
        await ws.send(json.dumps(message))


class GatewayThread:
    """A LocalGateway on its own event loop in a daemon thread (for tests and busy processes)."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = {"record": True, **kwargs}
        self.gateway: LocalGateway | None = None
        self._loop = LoopThread("local-gateway")

    def start(self) -> LocalGateway:
        self._loop.start()
        self.gateway = LocalGateway(**self.kwargs)
        self._loop.run(self.gateway.start())
        return self.gateway

    def stop(self) -> None:
        if self.gateway is not None:
            self._loop.run(self.gateway.stop())
        self._loop.stop()


async def serve_forever(on_ready: Callable[[LocalGateway], None] | None = None, **kwargs: Any) -> None:
    """Run a LocalGateway until cancelled (the standalone ``tfy-live local-gateway``)."""
    async with LocalGateway(**kwargs) as gateway:
        if on_ready is not None:
            on_ready(gateway)
        await asyncio.Event().wait()
