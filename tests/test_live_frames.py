"""``LiveSession.receive`` over the SDK's own parser: what a frame it cannot read does to the session."""

from __future__ import annotations

import asyncio
import json

import pytest

from tfy_live import events as ev
from tfy_live.config import resolve
from tfy_live.errors import GatewayError
from tfy_live.gateway import LiveSession
from tfy_live.gateway.client import build_client

KEY = "frames-test-key"


class Socket:
    """The SDK's websocket, replaying ``frames`` (then waiting, like a quiet connection)."""

    def __init__(self, frames: list) -> None:
        self.frames = [f if isinstance(f, bytes) else json.dumps(f).encode() for f in frames]

    async def recv(self, decode: bool | None = None) -> bytes:
        if not self.frames:
            await asyncio.Event().wait()
        return self.frames.pop(0)

    async def send(self, message: str) -> None:
        pass


class SdkSession:
    """The parts of google-genai's AsyncSession that LiveSession reaches: its socket and its API client."""

    def __init__(self, kind: str, frames: list) -> None:
        self.settings = resolve({"provider": "acct", "provider_kind": kind},
                                {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})
        self._api_client = build_client(self.settings)._api_client
        self._ws = Socket(frames)


async def turn_of(kind: str, frames: list) -> tuple[list, LiveSession]:
    sdk_session = SdkSession(kind, frames)
    live = LiveSession(sdk_session, sdk_session.settings)
    async with asyncio.timeout(5):
        return [event async for event in live.receive()], live


AUDIO = {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": "AAECAw=="}}]}}}


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
async def test_a_message_type_the_sdk_does_not_know_is_skipped_and_counted_not_fatal(kind):
    # google-genai 3.6.1 fails on a frame whose only key it does not know; newer servers add such types.
    events, live = await turn_of(kind, [
        {}, {"voiceActivity": {"type": "ACTIVITY_START"}}, {"serverContent": {}},
        {"liveTelemetry": {"note": "newer than the SDK"}},
        b"this is not JSON {",
        AUDIO,
        {"serverContent": {"turnComplete": True}},
    ])
    assert events == [ev.UnknownMessage(("liveTelemetry",)), ev.MalformedFrame("not JSON"),
                      ev.Audio(b"\x00\x01\x02\x03"), ev.TurnComplete()]
    assert (live.unknown, live.malformed) == (1, 1)


async def test_an_error_report_the_sdk_cannot_read_still_ends_the_session():
    with pytest.raises(GatewayError, match="sent an error the SDK could not read"):
        await turn_of("gemini", [{"error": {"code": 500, "message": "backend down"}}])


async def test_through_the_sdk_s_own_receive_an_unknown_type_is_skipped_too():
    """Without the socket (an SDK that moved it), the SDK hides the frame: skipped as a type it does not know."""
    from google.genai.live import AsyncSession

    sdk_session = SdkSession("gemini", [])
    session = AsyncSession(sdk_session._api_client, Socket([{"liveTelemetry": {}}, AUDIO,
                                                             {"serverContent": {"turnComplete": True}}]))
    live = LiveSession(session, sdk_session.settings, raw_frames=False)
    async with asyncio.timeout(5):
        events = [event async for event in live.receive()]
    assert events == [ev.UnknownMessage(), ev.Audio(b"\x00\x01\x02\x03"), ev.TurnComplete()]
    assert live.unknown == 1


def corpus_frames() -> list[tuple[str, str, list]]:
    """(file, kind, the recorded server frames as on the wire) for each corpus file that has any."""
    import re
    from pathlib import Path

    def camel(value):  # sdk-snake files hold the SDK's dump: back to the wire's camelCase keys
        if isinstance(value, dict):
            return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
        return [camel(v) for v in value] if isinstance(value, list) else value

    found = []
    for path in sorted((Path(__file__).parent / "realtraffic").glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        frames = [camel(line["recv"]) for line in lines[1:] if "recv" in line]
        if frames:
            found.append((path.name, lines[0]["kind"], frames))
    return found


@pytest.mark.parametrize("name, kind, frames", corpus_frames(), ids=[c[0] for c in corpus_frames()])
async def test_every_recorded_server_frame_is_read_without_a_skip(name, kind, frames):
    end = {"goAway": {"timeLeft": "4242s"}}  # not in the corpus: marks the end of the replay
    sdk_session = SdkSession(kind, frames + [end])
    live = LiveSession(sdk_session, sdk_session.settings)
    events: list = []

    async def replay() -> None:
        while True:  # receive() ends after each turnComplete
            async for event in live.receive():
                events.append(event)
                if event == ev.GoAway(4242.0):
                    return

    async with asyncio.timeout(5):
        await replay()
    assert (live.malformed, live.unknown) == (0, 0), events
    assert not any(isinstance(e, (ev.MalformedFrame, ev.UnknownMessage)) for e in events)
