"""One Live connection through the gateway, as a ``session.Session``: PCM and text out, our events in."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from typing import Any, AsyncIterator, Sequence

from tfy_live import collector
from tfy_live.audio import INPUT_RATE
from tfy_live.config import Settings
from tfy_live.errors import GatewayError, TfyLiveError
from tfy_live.events import Event, Heard, MalformedFrame, ServerEvent, ToolResult, TurnComplete, UnknownMessage
from tfy_live.gateway import sdk
from tfy_live.gateway.client import build_client, build_config
from tfy_live.gateway.errors import opening_timed_out, translate_error, translated
from tfy_live.gateway.translate import audio_frame, translate, unreadable
from tfy_live.shaping import ModelOptions


class LiveSession:
    """One open Live connection, in tfy-live's terms. Errors come out as GatewayError.

    ``raw_frames``: audio is written to and read from the SDK's socket directly
    (``sdk``), when the SDK has it where we look; off, every frame goes through
    the SDK's own calls.
    """

    def __init__(self, session: Any, settings: Settings, *, raw_frames: bool = True) -> None:
        from google.genai import types

        self._session = session
        self._settings = settings
        self._types = types
        self.session_id: str | None = getattr(session, "session_id", None)
        self.raw_frames = raw_frames
        self.malformed = 0  # frames skipped: not JSON, or not a Live message
        self.unknown = 0  # frames skipped: a message type this SDK does not know
        # The top-level keys the SDK reads, in both spellings (the wire's camelCase, the SDK's snake_case).
        fields = types.LiveServerMessage.model_fields
        self._known = frozenset(fields) | {getattr(f, "alias", None) or _camel(name) for name, f in fields.items()}
        self.fast_audio_frames = 0  # model audio frames read without the SDK's parse

    async def send_audio(self, pcm: bytes, rate: int = INPUT_RATE) -> None:
        # Fifty times a second: the SDK's send_realtime_input validates and converts every chunk through
        # pydantic, to write a frame that never changes shape.
        ws = sdk.raw_socket(self._session) if self.raw_frames else None
        with self._translated():
            if ws is not None:
                await ws.send(sdk.AUDIO_FRAME % (base64.urlsafe_b64encode(pcm).decode("ascii"), rate))
            else:
                await self._session.send_realtime_input(
                    audio=self._types.Blob(data=pcm, mime_type=f"audio/pcm;rate={rate}")
                )

    async def end_audio(self) -> None:
        with self._translated():
            await self._session.send_realtime_input(audio_stream_end=True)

    async def send_text(self, text: str) -> None:
        with self._translated():
            await self._session.send_realtime_input(text=text)

    async def activity_start(self) -> None:
        with self._translated():
            await self._session.send_realtime_input(activity_start=self._types.ActivityStart())

    async def activity_end(self) -> None:
        with self._translated():
            await self._session.send_realtime_input(activity_end=self._types.ActivityEnd())

    async def send_tool_results(self, results: Sequence[ToolResult]) -> None:
        responses = [function_response(self._types, result) for result in results]
        with self._translated():
            await self._session.send_tool_response(function_responses=responses)

    async def interrupt(self, heard: Heard | None) -> None:
        # The Live API stops the reply itself when it hears the user (or a text turn), and its context holds
        # only what it generated: there is nothing to truncate or cancel.
        return None

    async def receive(self) -> AsyncIterator[Event]:
        """The events of the current turn, each translated once; ends after ``TurnComplete``.

        Frames of model audio and nothing else are read off the SDK's socket and
        decoded here (``translate.audio_frame``); every other frame is parsed by the
        SDK itself, and a failing socket is left to the SDK to read and report.
        A frame that is not a Live message (not JSON, or JSON the SDK's types
        refuse) comes out as ``MalformedFrame``, one of a message type the SDK does
        not know (newer servers add them) as ``UnknownMessage``; reading goes on.
        Only an error report (``{"error": …}``) the SDK cannot read ends the session.
        """
        ws = sdk.raw_socket(self._session) if self.raw_frames else None
        if ws is not None:
            while True:
                try:
                    raw = await ws.recv(decode=False)
                except asyncio.CancelledError:
                    raise
                except TypeError:  # a socket without decode=: the SDK knows how to read it
                    self.raw_frames = False
                    break
                except Exception:  # noqa: BLE001 - closed or failing: the SDK reads it again, and says how
                    break
                if (audio := audio_frame(raw)) is not None:
                    self.fast_audio_frames += 1
                    for chunk in audio:
                        yield chunk
                    continue
                events = await self._parse(raw)
                for event in events:
                    yield event
                if any(isinstance(event, TurnComplete) for event in events):
                    return
        async for event in self._sdk_receive():
            yield event

    async def _parse(self, raw: bytes | str) -> list[ServerEvent]:
        try:
            with self._translated():
                message = await sdk.parse_frame(self._session, raw)
        except GatewayError as exc:
            return [self._skipped(exc, raw)]
        return translate(message)

    def _skipped(self, exc: GatewayError, raw: bytes | str | None = None) -> MalformedFrame | UnknownMessage:
        """The event for a frame the SDK failed to parse, or ``exc`` raised again if the frame must end the session.

        The SDK fails with a ValueError on a frame that is not JSON or that its types
        refuse (pydantic's ValidationError is one), and with a TypeError on one it has
        no type for — an unknown message type, or an error report; ``raw`` tells which.
        Without the raw frame (the SDK's own receive) a TypeError counts as unknown.
        """
        cause = exc.__cause__
        event: MalformedFrame | UnknownMessage | None
        if raw is not None and isinstance(cause, (ValueError, TypeError)):
            event = unreadable(raw, self._known)
        elif isinstance(cause, ValueError):
            event = MalformedFrame("not JSON" if "parse" in str(cause).lower() else "not a Live message")
        elif isinstance(cause, TypeError):
            event = UnknownMessage()
        else:
            event = None
        if event is None:
            raise exc
        if isinstance(event, UnknownMessage):
            self.unknown += 1
        else:
            self.malformed += 1
        return event

    async def _sdk_receive(self) -> AsyncIterator[ServerEvent]:
        while True:
            try:
                with self._translated():
                    async for message in self._session.receive():
                        for event in translate(message):
                            yield event
                return
            except GatewayError as exc:
                yield self._skipped(exc)

    def _translated(self) -> contextlib.AbstractContextManager[None]:
        return translated(translate_error, self._settings)


SCHEDULING = {"when_idle": "WHEN_IDLE", "interrupt": "INTERRUPT", "silent": "SILENT"}


def function_response(types: Any, result: ToolResult) -> Any:
    """Our ``ToolResult`` as the SDK's ``FunctionResponse`` (with its scheduling for a non-blocking call)."""
    scheduling = types.FunctionResponseScheduling(SCHEDULING[result.scheduling]) if result.scheduling else None
    return types.FunctionResponse(id=result.id, name=result.name, response=result.response, scheduling=scheduling)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@contextlib.asynccontextmanager
async def connect(settings: Settings, *, context: ssl.SSLContext | None = None, options: ModelOptions = ModelOptions(),
                  transcripts: bool = True, handle: str | None = None) -> AsyncIterator[LiveSession]:
    """Open a Live session through the gateway (resuming ``handle`` if given); close it on exit.

    ``settings.setup_timeout_s`` bounds the whole opening (TCP, TLS, upgrade, setup): it is the only limit.
    """
    from tfy_live.gateway.opening import Opening

    opening = Opening()
    with translated(translate_error, settings):  # an SDK that refuses the client or the setup: one line too
        client = build_client(settings, context, opening)
        config = build_config(settings, options, transcripts=transcripts, handle=handle)
        manager = client.aio.live.connect(model=settings.model, config=config)
    collector.resume()  # the SDK has loaded: the start is over
    timer = asyncio.timeout(settings.setup_timeout_s)
    try:
        async with timer:
            session = await manager.__aenter__()
    except (TfyLiveError, asyncio.CancelledError):
        raise
    except Exception as exc:  # noqa: BLE001
        if timer.expired():
            raise opening_timed_out(opening.stage, settings) from exc
        raise translate_error(exc, settings) from exc
    await sdk.warm_up(client)
    try:
        yield LiveSession(session, settings)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await manager.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        with contextlib.suppress(Exception):
            await manager.__aexit__(None, None, None)
