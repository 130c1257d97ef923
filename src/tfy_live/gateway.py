"""The connection to the gateway: the only module that imports google-genai.

``connect(settings)`` opens a Live session through the TrueFoundry AI Gateway
and yields a ``LiveSession``, a thin wrapper whose methods speak tfy-live's
terms (bytes of PCM, text, our events' tool calls). Every exception the SDK or
websockets can raise, at connect time or later, is translated here into a
``GatewayError`` whose message names the fix (``translate_error``).

The SDK is imported lazily, inside functions, so that ``tfy-live --help`` does
not pay for it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import ssl
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Sequence
from urllib.parse import urlsplit

from tfy_live.audio import INPUT_RATE
from tfy_live.config import Settings, env_name
from tfy_live.errors import ConfigError, GatewayError, TfyLiveError
from tfy_live.shaping import ModelOptions

if TYPE_CHECKING:  # pragma: no cover
    from tfy_live.events import FunctionCall

# Keepalive: a ping every 15 s keeps proxies and NATs from dropping a quiet socket; a pong may
# take up to 60 s (websockets' default of 20 s closed busy sessions with 1011 "keepalive timeout").
PING_INTERVAL_S = 15.0
PING_TIMEOUT_S = 60.0
RETRYABLE_CLOSES = {1000, 1001, 1006, 1009, 1011, 1012, 1013, 1014}  # a new connection may well work
CLOSE_TIMEOUT_S = 0.2  # Ctrl-C must finish within half a second, close handshake included
MAX_FRAME_BYTES = 16 * 2**20
# The microphone's frame, as the SDK's send_realtime_input(audio=Blob(...)) writes it for both the Gemini
# and the Vertex kinds (URL-safe base64; live-protocol.md). test_sdk_protocol pins it to the SDK's bytes.
AUDIO_FRAME = '{"realtime_input": {"audio": {"data": "%s", "mime_type": "audio/pcm;rate=%d"}}}'

CLOSE_MEANINGS = {
    1000: "the gateway ended the session",
    1001: "the gateway is going away (restart or deploy); try again",
    1006: "the connection dropped without a close frame (network, proxy, or a key the provider refused)",
    1007: "the provider rejected the request as invalid (bad setup option, unsupported region, or context exhausted)",
    1008: "the provider refused by policy — usually the model is not found for this API version or is not a "
    "Live model; check --model and --api-version",
    1009: "the server sent a frame over 16 MiB, more than tfy-live accepts",
    1011: "the provider hit an internal error (overloaded, quota, or deadline after goAway); try again",
}


def client_base_url(settings: Settings) -> str:
    """The base URL handed to the SDK: ``https://`` for Gemini, ``wss://`` for Vertex."""
    url = f"{settings.base_url}/live/{settings.provider}"
    return "wss://" + url.removeprefix("https://") if settings.provider_kind == "vertex" else url


def socket_url(settings: Settings) -> str:
    """The WebSocket URL the SDK will open (shown to the user; carries no secret)."""
    base = "wss://" + client_base_url(settings).split("://", 1)[1]
    if settings.provider_kind == "vertex":
        return base
    return f"{base}/ws/google.ai.generativelanguage.{settings.api_version}.GenerativeService.BidiGenerateContent"


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """Trust ``--ca-bundle`` if given, else SSL_CERT_FILE/SSL_CERT_DIR, else the system store (certifi if empty)."""
    if settings.ca_bundle is not None:
        try:
            return ssl.create_default_context(cafile=str(settings.ca_bundle))
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"CA bundle {str(settings.ca_bundle)!r} is not a PEM certificate file; "
                f"fix --ca-bundle or {env_name('ca_bundle')}"
            ) from exc
    cafile, capath = os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None
    try:
        context = ssl.create_default_context(cafile=cafile, capath=capath)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"SSL_CERT_FILE/SSL_CERT_DIR do not point at PEM certificates ({cafile or capath}); fix or unset them") from exc
    if not cafile and not capath and context.cert_store_stats()["x509_ca"] == 0:
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    return context


@contextlib.contextmanager
def _without_google_environment() -> Iterator[None]:
    """Hide GOOGLE_* / GEMINI_* variables while the SDK reads its environment.

    The SDK fills any argument we leave out from these (API key, Vertex switch,
    project, location, API version, base URLs), which would send the user's
    conversation somewhere other than the gateway they asked for.
    """
    hidden = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(("GOOGLE_", "GEMINI_"))}
    try:
        yield
    finally:
        os.environ.update(hidden)


def build_client(settings: Settings, context: ssl.SSLContext | None = None) -> Any:
    """A google-genai client aimed at the gateway, for the Gemini or the Vertex kind."""
    from google import genai

    context = context or ssl_context(settings)
    http_options = {
        "base_url": client_base_url(settings),
        "api_version": settings.api_version,
        "headers": {"Authorization": f"Bearer {settings.api_key}"},
        # The SDK also builds HTTP clients, which tfy-live never uses; without a context of ours it loads
        # the CA certificates again for them (about 20 ms at every connection).
        "client_args": {"verify": context},
        "async_client_args": {
            "ssl": context,
            "max_size": MAX_FRAME_BYTES,
            "close_timeout": CLOSE_TIMEOUT_S,
            "ping_interval": PING_INTERVAL_S,
            "ping_timeout": PING_TIMEOUT_S,
            # No permessage-deflate: base64 audio shrinks by a quarter at most, and compressing 50
            # frames a second up and 25 down costs more CPU than the rest of the send path.
            "compression": None,
        },
    }
    with _without_google_environment():
        if settings.provider_kind == "vertex":
            return genai.Client(vertexai=True, http_options=http_options)
        return genai.Client(vertexai=False, api_key=settings.api_key, http_options=http_options)


def build_config(settings: Settings, options: ModelOptions = ModelOptions(), *, transcripts: bool = True,
                 handle: str | None = None) -> Any:
    """The SDK's LiveConnectConfig for these settings and model options.

    Session resumption is always asked for (``handle`` resumes an earlier
    session); context window compression (a sliding window) unless turned off.
    """
    from google.genai import types

    speech = types.SpeechConfig(
        voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=settings.voice)),
        language_code=options.language,
    )
    detection = None
    if options.push_to_talk:
        detection = types.AutomaticActivityDetection(disabled=True)
    elif any(v is not None for v in (options.vad_start, options.vad_end, options.vad_silence_ms, options.vad_prefix_ms)):
        detection = types.AutomaticActivityDetection(
            start_of_speech_sensitivity=(
                getattr(types.StartSensitivity, f"START_SENSITIVITY_{options.vad_start.upper()}") if options.vad_start else None
            ),
            end_of_speech_sensitivity=(
                getattr(types.EndSensitivity, f"END_SENSITIVITY_{options.vad_end.upper()}") if options.vad_end else None
            ),
            silence_duration_ms=options.vad_silence_ms,
            prefix_padding_ms=options.vad_prefix_ms,
        )
    audio_out = options.modality == "audio"
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO if audio_out else types.Modality.TEXT],
        speech_config=speech if audio_out else None,
        system_instruction=options.system,
        temperature=options.temperature,
        realtime_input_config=types.RealtimeInputConfig(automatic_activity_detection=detection) if detection else None,
        enable_affective_dialog=options.affective_dialog or None,
        proactivity=types.ProactivityConfig(proactive_audio=True) if options.proactive_audio else None,
        thinking_config=(
            types.ThinkingConfig(thinking_budget=options.thinking_budget) if options.thinking_budget is not None else None
        ),
        tools=[types.Tool(google_search=types.GoogleSearch())] if options.google_search else None,
        input_audio_transcription=types.AudioTranscriptionConfig() if transcripts else None,
        output_audio_transcription=types.AudioTranscriptionConfig() if transcripts and audio_out else None,
        session_resumption=types.SessionResumptionConfig(handle=handle),
        context_window_compression=(
            types.ContextWindowCompressionConfig(
                trigger_tokens=options.compression_trigger_tokens,
                sliding_window=types.SlidingWindow(target_tokens=options.compression_target_tokens),
            ) if options.compression else None
        ),
    )


class LiveSession:
    """One open Live connection, in tfy-live's terms. Errors come out as GatewayError."""

    def __init__(self, session: Any, settings: Settings) -> None:
        from google.genai import types

        self._session = session
        self._settings = settings
        self._types = types
        self.session_id: str | None = getattr(session, "session_id", None)
        self.malformed = 0  # frames skipped
        self._raw = True  # read frames off the SDK's socket (see receive)

    async def send_audio(self, pcm: bytes, rate: int = INPUT_RATE) -> None:
        # Fifty times a second: the SDK's send_realtime_input validates and converts every chunk
        # through pydantic (a third of the send's CPU), to write a frame that never changes shape.
        # The frame is written to the SDK's own socket instead, if the SDK still has one where we look.
        ws = getattr(self._session, "_ws", None)
        with self._translated():
            if ws is not None and callable(getattr(ws, "send", None)):
                await ws.send(AUDIO_FRAME % (base64.urlsafe_b64encode(pcm).decode("ascii"), rate))
            else:
                await self._session.send_realtime_input(
                    audio=self._types.Blob(data=pcm, mime_type=f"audio/pcm;rate={rate}")
                )

    async def end_audio(self) -> None:
        """Tell the server the microphone stopped (flushes its voice detection)."""
        with self._translated():
            await self._session.send_realtime_input(audio_stream_end=True)

    async def send_text(self, text: str) -> None:
        with self._translated():
            await self._session.send_realtime_input(text=text)

    async def activity_start(self) -> None:
        """The user started speaking (push-to-talk: the server's voice detection is off)."""
        with self._translated():
            await self._session.send_realtime_input(activity_start=self._types.ActivityStart())

    async def activity_end(self) -> None:
        with self._translated():
            await self._session.send_realtime_input(activity_end=self._types.ActivityEnd())

    async def answer_tool_calls(self, calls: Sequence[FunctionCall], error: str) -> None:
        """Answer every call with an error, so the model does not wait for a tool we do not have."""
        responses = [
            self._types.FunctionResponse(id=call.id, name=call.name, response={"error": error}) for call in calls
        ]
        with self._translated():
            await self._session.send_tool_response(function_responses=responses)

    async def receive(self) -> AsyncIterator[Any]:
        """The server's messages until the end of the current turn (as the SDK's ``receive``).

        Frames of model audio and nothing else are read straight off the SDK's socket and
        come out as ``events.Translated`` (``events.audio_frame``: the SDK's pydantic parse
        of them was most of the receive path's CPU); every other frame is parsed by the SDK
        itself, and a failing socket is left to the SDK to read and report. Without that
        socket where we look (another SDK version), the SDK's own ``receive`` is used.

        A frame that is not a Live message (not JSON, or JSON the SDK cannot read)
        comes out as ``events.MalformedFrame`` and reading goes on: one bad frame
        does not end a conversation.
        """
        from tfy_live.events import audio_frame

        ws = getattr(self._session, "_ws", None)
        if self._raw and ws is not None and callable(getattr(ws, "recv", None)):
            while True:
                try:
                    raw = await ws.recv(decode=False)
                except asyncio.CancelledError:
                    raise
                except TypeError:  # a socket without decode=: the SDK knows how to read it
                    self._raw = False
                    break
                except Exception:  # noqa: BLE001 - closed or failing: the SDK reads it again, and says how
                    break
                if (audio := audio_frame(raw)) is not None:
                    yield audio
                    continue
                message = await self._parse(raw)
                yield message
                content = getattr(message, "server_content", None)
                if content is not None and content.turn_complete:
                    return
        async for message in self._sdk_receive():
            yield message

    async def _parse(self, raw: bytes | str) -> Any:
        """One raw frame through the SDK's own parser (a socket that replays it); MalformedFrame if it cannot."""
        from google.genai.live import AsyncSession

        messages = AsyncSession(self._session._api_client, _Replay([raw])).receive()
        try:
            with self._translated():
                return await messages.__anext__()
        except GatewayError as exc:
            return self._malformed(exc)
        finally:
            await messages.aclose()

    def _malformed(self, exc: GatewayError) -> Any:
        from tfy_live.events import MalformedFrame

        cause = exc.__cause__
        if not isinstance(cause, ValueError):  # pydantic's ValidationError is a ValueError too
            raise exc
        self.malformed += 1
        return MalformedFrame("not JSON" if "parse" in str(cause).lower() else "not a Live message")

    async def _sdk_receive(self) -> AsyncIterator[Any]:
        while True:
            try:
                with self._translated():
                    async for message in self._session.receive():
                        yield message
                return
            except GatewayError as exc:
                yield self._malformed(exc)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (TfyLiveError, asyncio.CancelledError):
            raise
        except Exception as exc:  # noqa: BLE001 - every foreign error is translated here, once
            raise translate_error(exc, self._settings) from exc


# One of each server frame a conversation meets. The SDK builds its parsers on first use: the first
# transcription it reads costs about 17 ms, the first audio 8 ms, paid when the first reply begins
# (delaying its first sound) unless paid here, once, when the first connection opens.
_WARM_UP_FRAMES = [
    {"serverContent": {"outputTranscription": {"text": "."}}},
    {"serverContent": {"inputTranscription": {"text": ".", "finished": True}}},
    {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAA="}}]}}},
    {"serverContent": {"modelTurn": {"parts": [{"text": "."}]}}},
    {"serverContent": {"interrupted": True}},
    {"serverContent": {"generationComplete": True}},
    {"sessionResumptionUpdate": {"newHandle": ".", "resumable": True}},
    {"goAway": {"timeLeft": "1s"}},
    {"toolCall": {"functionCalls": [{"id": ".", "name": ".", "args": {}}]}},
    {"serverContent": {"turnComplete": True}, "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 2}},
]
_warmed_up = False


class _Replay:
    """A websocket that hands the SDK canned frames."""

    def __init__(self, frames: list[dict[str, Any] | bytes | str]) -> None:
        import json

        self._frames = [frame if isinstance(frame, (bytes, str)) else json.dumps(frame).encode() for frame in frames]

    async def recv(self, decode: bool | None = None) -> bytes:
        return self._frames.pop(0)


async def warm_up(api_client: Any) -> None:
    """Read the canned frames through the SDK's own receive and our translation, once per process.

    The SDK's models build their validators on first use: about 30 ms that would otherwise delay the
    first reply's first audio. Run at the connection's first wait for the network instead, it only
    delayed the rest of the handshake (measured with a 100 ms round trip): it runs once connected."""
    global _warmed_up
    if _warmed_up:
        return
    _warmed_up = True
    from google.genai.live import AsyncSession

    from tfy_live.events import translate

    with contextlib.suppress(Exception):  # only a head start: a failure here costs nothing but time later
        async for message in AsyncSession(api_client, _Replay(_WARM_UP_FRAMES)).receive():
            for _ in translate(message):
                pass


@contextlib.asynccontextmanager
async def connect(settings: Settings, *, context: ssl.SSLContext | None = None, options: ModelOptions = ModelOptions(),
                  transcripts: bool = True, handle: str | None = None) -> AsyncIterator[LiveSession]:
    """Open a Live session through the gateway (resuming ``handle`` if given); close it on exit."""
    client = build_client(settings, context)
    config = build_config(settings, options, transcripts=transcripts, handle=handle)
    manager = client.aio.live.connect(model=settings.model, config=config)
    try:
        async with asyncio.timeout(settings.setup_timeout_s):
            session = await manager.__aenter__()
    except (TfyLiveError, asyncio.CancelledError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate_error(exc, settings) from exc
    await warm_up(client._api_client)
    try:
        yield LiveSession(session, settings)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await manager.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        with contextlib.suppress(Exception):
            await manager.__aexit__(None, None, None)


def _one_line(text: Any, limit: int = 200) -> str:
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _body_message(body: Any) -> str:
    """The human part of an error body the gateway sent (JSON ``message``/``error`` or the text)."""
    import json

    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body or "")
    try:
        data = json.loads(text)
    except ValueError:
        return _one_line(text)
    for key in ("message", "error", "detail"):
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, dict):
            value = value.get("message") or value
        if value:
            return _one_line(value)
    return _one_line(text)


def translate_error(exc: BaseException, settings: Settings) -> TfyLiveError:
    """The GatewayError (message naming the fix) for any exception met talking to the gateway."""
    from websockets import exceptions as ws

    if isinstance(exc, ws.InvalidStatus):
        error = _upgrade_error(exc.response.status_code, exc.response.body, settings)
        error.http_status = exc.response.status_code
        return error
    return _other_error(exc, settings)


def _upgrade_error(status: int, body: Any, settings: Settings) -> GatewayError:
    """The upgrade was refused with an HTTP status: say what it means, in the gateway's own words too."""
    url = socket_url(settings)
    detail = _body_message(body)
    said = f": {detail}" if detail else ""
    if status == 401:
        return GatewayError(f"the gateway rejected the API key (HTTP 401{said}); check {env_name('api_key')}")
    if status == 403:
        return GatewayError(
            f"the API key may not use provider account {settings.provider!r} or model {settings.model!r} "
            f"(HTTP 403{said}); ask for access in TrueFoundry or use another key"
        )
    if status == 404:
        return GatewayError(
            f"the gateway has no Live endpoint at {url} (HTTP 404{said}); check {env_name('base_url')} "
            f"(…/api/llm), --provider and --provider-kind"
        )
    if status == 429:
        return GatewayError(f"the gateway is rate limiting this key (HTTP 429{said}); wait a moment and retry",
                            retryable=True)
    if status >= 500:
        return GatewayError(f"the gateway failed (HTTP {status}{said}); retry, or check the gateway's status",
                            retryable=True)
    return GatewayError(f"the gateway refused the WebSocket upgrade (HTTP {status}{said}); check {env_name('base_url')}")


def _other_error(exc: BaseException, settings: Settings) -> TfyLiveError:
    from google.genai import errors as genai_errors
    from websockets import exceptions as ws

    host = settings.host
    url = socket_url(settings)
    if isinstance(exc, (ws.InvalidProxy, ws.ProxyError)):
        return GatewayError(f"the proxy in HTTPS_PROXY/ALL_PROXY failed to reach {host} ({_one_line(exc)}); fix the "
                            f"proxy setting, or add the host to NO_PROXY")
    if isinstance(exc, ws.InvalidURI):
        return GatewayError(f"{url} is not a valid WebSocket URL; check {env_name('base_url')} and --provider")
    if isinstance(exc, (ws.InvalidHandshake, ws.InvalidMessage)):
        return GatewayError(
            f"{host} did not answer as a WebSocket server ({_one_line(exc)}); check {env_name('base_url')} "
            "points at the AI Gateway (…/api/llm)",
            # No HTTP answer at all is also what a gateway that is shutting down gives.
            retryable=isinstance(exc, ws.InvalidMessage),
        )
    if isinstance(exc, genai_errors.APIError):
        code = exc.code
        reason = _one_line(exc.details if isinstance(exc.details, str) else exc.message or "")
        closed = exc.__context__
        if isinstance(closed, ws.ConnectionClosed) and closed.rcvd is None and closed.sent is not None:
            # We closed it (the SDK reports 1006): say why, e.g. 1009 for a frame over our limit.
            code, reason = closed.sent.code, _one_line(closed.sent.reason)
        if isinstance(code, int) and 400 <= code < 600:  # an error sent as a message, not a close
            said = f": {reason}" if reason and reason != "None" else ""
            if code == 429:
                return GatewayError(f"the provider is rate limiting this session (429{said}); wait a moment and retry",
                                    retryable=True)
            if code >= 500:
                return GatewayError(f"the provider failed ({code}{said}); retry, or check the provider's status",
                                    retryable=True)
            return GatewayError(f"the provider refused the request ({code}{said}); check --model and the options given")
        meaning = CLOSE_MEANINGS.get(code, "the session ended")
        said = f": {reason}" if reason and reason != "None" else ""
        return GatewayError(f"connection closed with code {code}{said} — {meaning}", retryable=code in RETRYABLE_CLOSES)
    if isinstance(exc, ws.ConnectionClosed):
        frame = exc.rcvd or exc.sent  # received from the server, else the one we sent
        code = frame.code if frame else 1006
        said = f": {_one_line(frame.reason)}" if frame and frame.reason else ""
        return GatewayError(f"connection closed with code {code}{said} — {CLOSE_MEANINGS.get(code, 'the session ended')}",
                            retryable=code in RETRYABLE_CLOSES)
    if isinstance(exc, ws.PayloadTooBig):
        return GatewayError(f"{host} sent a frame over {MAX_FRAME_BYTES // 2**20} MiB, more than tfy-live accepts; "
                            "retry, and report it if it happens again", retryable=True)
    if isinstance(exc, ws.WebSocketException):  # protocol errors, invalid state, concurrency
        return GatewayError(f"the WebSocket connection to {host} failed ({exc.__class__.__name__}: {_one_line(exc)}); "
                            f"check {env_name('base_url')} points at the AI Gateway and retry", retryable=True)
    if isinstance(exc, genai_errors.UnknownApiResponseError):
        return GatewayError(f"{host} sent a response the SDK could not read ({_one_line(exc)}); check "
                            f"{env_name('base_url')} points at the AI Gateway")
    if isinstance(exc, socket.gaierror):
        return GatewayError(f"cannot resolve host {urlsplit(settings.base_url).hostname!r}; check {env_name('base_url')} and your DNS/network")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return GatewayError(
            f"TLS verification of {host} failed ({_one_line(getattr(exc, 'verify_message', None) or exc)}); if the gateway uses a "
            f"private CA, pass --ca-bundle /path/to/ca.pem (or set {env_name('ca_bundle')} or SSL_CERT_FILE)"
        )
    if isinstance(exc, ssl.SSLError):
        return GatewayError(f"TLS handshake with {host} failed ({_one_line(exc)}); check {env_name('base_url')} uses https and the right port")
    if isinstance(exc, ConnectionRefusedError):
        return GatewayError(f"connection to {host} refused; check {env_name('base_url')} (host and port) and that the gateway is up",
                            retryable=True)
    if isinstance(exc, TimeoutError):
        return GatewayError(f"no setupComplete from {host} within {settings.setup_timeout_s:g} s; check the network, "
                            f"{env_name('base_url')} and --model, or allow longer with --setup-timeout", retryable=True)
    if isinstance(exc, OSError):
        return GatewayError(f"cannot reach {host} ({_one_line(exc.strerror or exc)}); check {env_name('base_url')} and your network",
                            retryable=True)
    if isinstance(exc, ValueError):
        kind = "that is not JSON" if "parse" in str(exc).lower() else "that is not a Live message"
        return GatewayError(f"{host} sent a frame {kind}; check {env_name('base_url')} points at the AI Gateway")
    if isinstance(exc, TypeError):  # the SDK fails this way on an {"error": …} message
        return GatewayError(f"{host} sent an error the SDK could not read; check the gateway's logs, "
                            f"{env_name('base_url')} and --model", retryable=False)
    return GatewayError(f"unexpected {exc.__class__.__name__} talking to {host}: {_one_line(exc)}")
