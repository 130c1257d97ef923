"""Where the SDK connects and how: the gateway URLs, TLS trust, the client and the session's setup.

The Gemini kind hands the SDK an ``https://`` base URL and the SDK appends the
Gemini socket path; the Vertex kind hands it the ``wss://`` socket URL itself
(live-protocol.md). The API key travels as the gateway's Bearer token, to that
origin only: the upgrade follows no redirect (``opening.py``).
"""

from __future__ import annotations

import contextlib
import os
import ssl
from typing import TYPE_CHECKING, Any, Iterator

from tfy_live.config import Settings, env_name
from tfy_live.errors import ConfigError
from tfy_live.shaping import ModelOptions

if TYPE_CHECKING:  # pragma: no cover
    from google import genai
    from google.genai import types

    from tfy_live.gateway.opening import Opening

# Keepalive: a ping every 15 s keeps proxies and NATs from dropping a quiet socket; a pong may take up to
# 60 s, since websockets' default of 20 s closed busy sessions with 1011 "keepalive timeout".
PING_INTERVAL_S = 15.0
PING_TIMEOUT_S = 60.0
CLOSE_TIMEOUT_S = 0.2  # Ctrl-C must finish within half a second, close handshake included
MAX_FRAME_BYTES = 16 * 2**20


def client_base_url(settings: Settings) -> str:
    """The base URL handed to the SDK: ``https://`` for Gemini, ``wss://`` for Vertex."""
    url = f"{settings.base_url}/live/{settings.provider}"
    return "wss://" + url.removeprefix("https://") if settings.provider_kind == "vertex" else url


def socket_url(settings: Settings) -> str:
    """The WebSocket URL the SDK will open (shown to the user; carries no secret), for any provider kind."""
    if settings.provider_kind in ("openai", "azure"):
        from tfy_live.gateway_openai.client import socket_url as realtime_url

        return realtime_url(settings)  # the openai SDK's rule, stated there
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
        raise ConfigError(f"SSL_CERT_FILE/SSL_CERT_DIR do not point at PEM certificates ({cafile or capath}); "
                          "fix or unset them") from exc
    if not cafile and not capath and context.cert_store_stats()["x509_ca"] == 0:
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    return context


@contextlib.contextmanager
def without_environment(*prefixes: str) -> Iterator[None]:
    """Hide the variables starting with ``prefixes`` while an SDK reads its environment.

    An SDK fills any argument we leave out from them (API key, base URL, Vertex switch, project,
    organisation headers…), which would send the user's conversation, or headers naming another
    account, somewhere other than the gateway they asked for.
    """
    hidden = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(prefixes)}
    try:
        yield
    finally:
        os.environ.update(hidden)


def websocket_args(context: ssl.SSLContext, opening: Opening) -> dict[str, Any]:
    """What the SDK hands websockets' ``connect`` for each connection (``async_client_args``)."""
    return {
        "ssl": context,
        "max_size": MAX_FRAME_BYTES,
        "close_timeout": CLOSE_TIMEOUT_S,
        "ping_interval": PING_INTERVAL_S,
        "ping_timeout": PING_TIMEOUT_S,
        # No permessage-deflate: base64 audio shrinks by a quarter at most, for more CPU than
        # the rest of the send path.
        "compression": None,
        # --setup-timeout (live.connect) bounds the whole opening: TCP, TLS, upgrade and setup. websockets'
        # own limit (10 s) would cut a longer one short and leave the message naming the wrong number.
        "open_timeout": None,
        # No redirects, and the opening's stage for the timeout message (opening.py).
        "create_connection": opening.connection_class(),
    }


def build_client(settings: Settings, context: ssl.SSLContext | None = None,
                 opening: Opening | None = None) -> genai.Client:
    """A google-genai client aimed at the gateway, for the Gemini or the Vertex kind."""
    from google import genai

    from tfy_live.gateway.opening import Opening

    context = context or ssl_context(settings)
    http_options: types.HttpOptionsDict = {
        "base_url": client_base_url(settings),
        "api_version": settings.api_version,
        "headers": {"Authorization": f"Bearer {settings.api_key}"},
        # The SDK also builds HTTP clients, which tfy-live never uses; given our context they do not
        # load the CA certificates a second time.
        "client_args": {"verify": context},
        "async_client_args": websocket_args(context, opening or Opening()),
    }
    with without_environment("GOOGLE_", "GEMINI_"):
        if settings.provider_kind == "vertex":
            return genai.Client(vertexai=True, http_options=http_options)
        return genai.Client(vertexai=False, api_key=settings.api_key, http_options=http_options)


def build_tools(options: ModelOptions) -> list[Any]:
    """The setup's tools: Google Search, code execution, and the functions declared (``ToolSpec``)."""
    from google.genai import types

    tools: list[Any] = []
    if options.google_search:
        tools.append(types.Tool(google_search=types.GoogleSearch()))
    if options.code_execution:
        tools.append(types.Tool(code_execution=types.ToolCodeExecution()))
    if options.tools:
        tools.append(types.Tool(function_declarations=[
            types.FunctionDeclaration(
                name=spec.name, description=spec.description or None, parameters_json_schema=spec.parameters,
                behavior=types.Behavior.NON_BLOCKING if spec.non_blocking else None,
            ) for spec in options.tools
        ]))
    return tools


def build_config(settings: Settings, options: ModelOptions = ModelOptions(), *, transcripts: bool = True,
                 handle: str | None = None) -> types.LiveConnectConfig:
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
                types.StartSensitivity(f"START_SENSITIVITY_{options.vad_start.upper()}") if options.vad_start else None
            ),
            end_of_speech_sensitivity=(
                types.EndSensitivity(f"END_SENSITIVITY_{options.vad_end.upper()}") if options.vad_end else None
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
        tools=build_tools(options) or None,
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
