"""Every place tfy-live reaches past google-genai's public surface, each with a public fallback.

The SDK's Live session validates every frame through pydantic, in both
directions; at fifty microphone frames and twenty-five audio frames a second
that was most of a conversation's CPU (BENCHMARKS.md). So:

- ``AsyncSession._ws``: microphone audio is written to, and model audio read
  from, the SDK's own socket. Fallback: ``send_realtime_input`` and the SDK's
  ``receive``.
- ``AsyncSession._api_client``: a frame read off that socket that is not plain
  audio goes through the SDK's own parser (``google.genai.live.AsyncSession``
  over a socket that replays it). Fallback: ``LiveServerMessage`` validated
  from the JSON, which is what that parser ends in.
- ``Client._api_client``: the SDK's parsers are warmed up once per process
  when the first connection opens, so the first reply does not pay for them.
  Fallback: no warm-up.

``PRIVATE`` names each; ``moved`` lists the ones a given SDK no longer has where
we look, which a test turns into a loud failure naming the attribute.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, AsyncGenerator, AsyncIterator, Protocol, Sequence, cast

PRIVATE = {
    "AsyncSession._ws": "audio is written to and read from the SDK's socket directly",
    "AsyncSession._api_client": "frames read off that socket are parsed by the SDK's own parser",
    "Client._api_client": "the SDK's parsers are warmed up before the first reply",
}

# The microphone's frame, as the SDK's send_realtime_input(audio=Blob(...)) writes it for both the Gemini
# and the Vertex kinds (URL-safe base64; live-protocol.md). test_sdk_protocol pins it to the SDK's bytes.
AUDIO_FRAME = '{"realtime_input": {"audio": {"data": "%s", "mime_type": "audio/pcm;rate=%d"}}}'


class RawSocket(Protocol):
    """The part of the SDK's websocket that tfy-live uses directly."""

    async def send(self, message: str) -> None: ...
    async def recv(self, decode: bool | None = None) -> bytes | str: ...


def raw_socket(session: Any) -> RawSocket | None:
    """The SDK session's websocket, if it is where we look and can send and receive."""
    ws = getattr(session, "_ws", None)
    if ws is not None and callable(getattr(ws, "send", None)) and callable(getattr(ws, "recv", None)):
        return ws  # type: ignore[no-any-return]
    return None


def api_client(owner: Any) -> Any | None:
    """The SDK's internal API client of a ``Client`` or an ``AsyncSession``, if it is where we look."""
    return getattr(owner, "_api_client", None)


def moved(client: Any, session: Any) -> list[str]:
    """The names in ``PRIVATE`` that this SDK's ``client`` and ``session`` do not have where we look."""
    missing = []
    if raw_socket(session) is None:
        missing.append("AsyncSession._ws")
    if api_client(session) is None:
        missing.append("AsyncSession._api_client")
    if api_client(client) is None:
        missing.append("Client._api_client")
    return missing


class Replay:
    """A websocket that hands the SDK canned frames, one per ``recv``."""

    def __init__(self, frames: Sequence[dict[str, Any] | bytes | str]) -> None:
        self._frames = [frame if isinstance(frame, (bytes, str)) else json.dumps(frame).encode() for frame in frames]

    async def recv(self, decode: bool | None = None) -> bytes | str:
        return self._frames.pop(0)


async def parse_frames(api: Any, frames: Sequence[dict[str, Any] | bytes | str]) -> AsyncIterator[Any]:
    """``frames`` through the SDK's own parser, as ``LiveServerMessage`` objects (errors as the SDK raises them)."""
    from google.genai.live import AsyncSession

    messages = cast(AsyncGenerator[Any, None], AsyncSession(api, Replay(frames)).receive())  # type: ignore[arg-type]
    try:
        for _ in frames:
            yield await messages.__anext__()
    finally:
        await messages.aclose()


async def parse_frame(session: Any, raw: bytes | str) -> Any:
    """One raw frame as the SDK would parse it for ``session``; ValueError if it is not a Live message."""
    api = api_client(session)
    if api is None:
        from google.genai import types

        return types.LiveServerMessage.model_validate(json.loads(raw))
    async for message in parse_frames(api, [raw]):
        return message
    raise ValueError("no message")  # pragma: no cover - parse_frames yields one per frame or raises


# One of each server frame a conversation meets. The SDK builds its parsers on first use, which the first
# reply would otherwise pay for when it begins (its first transcription and first audio most).
WARM_UP_FRAMES: list[dict[str, Any]] = [
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


class _WarmUp:
    """Once per process: the SDK's validators, once built, serve every later client."""

    done = False

    async def __call__(self, client: Any) -> None:
        api = api_client(client)
        if self.done or api is None:
            return
        self.done = True
        from tfy_live.gateway.translate import translate

        with contextlib.suppress(Exception):  # only a head start: a failure costs nothing but time later
            async for message in parse_frames(api, WARM_UP_FRAMES):
                translate(message)


warm_up = _WarmUp()
