"""Where the openai SDK connects for the openai and azure kinds, and how: the one URL rule, the client, the setup.

The rule (``websocket_base_url``): the gateway's Live base path for the provider
account, ``wss://<gateway>/live/<account>``, handed to ``AsyncOpenAI`` as its
``websocket_base_url``; the SDK appends ``/realtime`` and ``?model=<model>``
(``socket_url``) and sends the TrueFoundry key as ``Authorization: Bearer``.
The gateway's Live API page names that base path for all four provider kinds
and the openai SDK for OpenAI and Azure; a public TrueFoundry sample passes it
as ``websocket_base_url`` for OpenAI. For Azure the same client is used: the
gateway holds the Azure deployment's credentials, so no ``api-key`` header or
``api-version`` goes out (derived, not read: no Azure sample was found).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tfy_live.config import Settings
from tfy_live.gateway.client import without_environment
from tfy_live.shaping import ModelOptions

if TYPE_CHECKING:  # pragma: no cover
    from openai import AsyncOpenAI

    from tfy_live.gateway.opening import Opening

INPUT_RATE = 24_000  # audio/pcm, the one PCM rate the realtime API takes and sends
TRANSCRIPTION_MODEL = "whisper-1"  # offered by OpenAI and by Azure OpenAI alike


def websocket_base_url(settings: Settings) -> str:
    """The base URL the SDK is given: the gateway's Live path for the account, as ``wss://``."""
    return "wss://" + f"{settings.base_url}/live/{settings.provider}".split("://", 1)[1]


def socket_url(settings: Settings) -> str:
    """The WebSocket URL the SDK opens (shown to the user; carries no secret)."""
    return f"{websocket_base_url(settings)}/realtime?model={quote(settings.model, safe='')}"


def websocket_options(context: ssl.SSLContext, opening: Opening) -> dict[str, Any]:
    """What the SDK hands websockets' ``connect`` (the Gemini kinds' options: no redirects, keepalive, limits)."""
    from tfy_live.gateway.client import websocket_args

    return websocket_args(context, opening)


def build_client(settings: Settings) -> AsyncOpenAI:
    """An ``AsyncOpenAI`` aimed at the gateway's Live path for the account (for the openai and azure kinds)."""
    from openai import AsyncOpenAI

    with without_environment("OPENAI_", "AZURE_OPENAI_"):
        return AsyncOpenAI(
            api_key=settings.api_key,
            # Never used for HTTP (tfy-live makes no REST calls), but given so that OPENAI_BASE_URL cannot be.
            base_url="https://" + websocket_base_url(settings).split("://", 1)[1],
            websocket_base_url=websocket_base_url(settings),
            organization=None,
            project=None,
            max_retries=0,
        )


def session_config(settings: Settings, options: ModelOptions = ModelOptions(), *,
                   transcripts: bool = True) -> dict[str, Any]:
    """The ``session.update`` body (GA realtime): instructions, voice, PCM at 24 kHz, turn detection, transcription,
    and the functions the model may call."""
    audio_out = options.modality == "audio"
    detection: dict[str, Any] | None
    if options.push_to_talk:
        detection = None  # the client commits the buffer and asks for the response
    elif options.turn_detection == "semantic":
        detection = {"type": "semantic_vad", "create_response": True, "interrupt_response": True}
        if options.eagerness is not None:
            detection["eagerness"] = options.eagerness
    else:
        detection = {"type": "server_vad", "create_response": True, "interrupt_response": True}
        for key, value in (("threshold", options.vad_threshold), ("silence_duration_ms", options.vad_silence_ms),
                           ("prefix_padding_ms", options.vad_prefix_ms)):
            if value is not None:
                detection[key] = value
    audio_input: dict[str, Any] = {"format": {"type": "audio/pcm", "rate": INPUT_RATE}, "turn_detection": detection}
    if transcripts:
        transcription: dict[str, Any] = {"model": TRANSCRIPTION_MODEL}
        if options.language:
            transcription["language"] = options.language.split("-")[0].lower()  # ISO-639-1
        audio_input["transcription"] = transcription
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio" if audio_out else "text"],
        "audio": {"input": audio_input, "output": {"format": {"type": "audio/pcm", "rate": INPUT_RATE},
                                                   "voice": settings.voice}},
    }
    if options.system:
        session["instructions"] = options.system
    if options.tools:
        session["tools"] = function_tools(options)
        session["tool_choice"] = "auto"
    return session


def function_tools(options: ModelOptions) -> list[dict[str, Any]]:
    """The functions declared (``ToolSpec``, as the Gemini kinds declare them) as the realtime session's tools.

    The realtime API has no non-blocking functions (``--tool-mode non-blocking`` is refused for these kinds).
    """
    return [{"type": "function", "name": spec.name, "description": spec.description, "parameters": spec.parameters}
            for spec in options.tools]
