"""Small scripted, recording stand-ins for the conversation's seams."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Sequence

from google.genai import types

from tfy_live import events as ev
from tfy_live.audio import AudioSink, AudioSource
from tfy_live.conversation import Reporter
from tfy_live.gateway.translate import translate
from tfy_live.player import Player
from tfy_live.session import Session
from tfy_live.timeline import Timeline, Turn
from tfy_live.tools.runner import Activity
from tests.timing import SECOND


def msg(**fields: Any) -> types.LiveServerMessage:
    """A server message exactly as the SDK would parse it from JSON (camelCase fields)."""
    return types.LiveServerMessage.model_validate(fields)


def audio_msg(pcm: bytes, rate: int = 24000) -> types.LiveServerMessage:
    return msg(serverContent={"modelTurn": {"parts": [{"inlineData": {"mimeType": f"audio/pcm;rate={rate}", "data": pcm}}]}})


class WaitUntil:
    """A script step: hold the server until ``condition()`` is true."""

    def __init__(self, condition: Callable[[], bool], timeout: float = 5.0 * SECOND) -> None:
        self.condition = condition
        self.timeout = timeout

    async def wait(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.condition():
            if time.monotonic() > deadline:
                raise AssertionError("WaitUntil timed out")
            await asyncio.sleep(0.002)


class FakeSession:
    """Plays ``messages`` and records what is sent; a ``session.Session``.

    A script step is a server message (``msg``: translated into events once, as
    ``gateway.LiveSession`` does), an event of ours, a ``WaitUntil``, or an
    exception to raise. Like the real session, each ``receive()`` iteration ends
    after ``TurnComplete``; once the script is spent, ``receive()`` waits forever
    (a quiet connection).
    """

    def __init__(self, messages: Sequence[Any] = ()) -> None:
        self.script = list(messages)
        self.sent: list[tuple[str, Any]] = []
        self.interrupts: list[ev.Heard | None] = []  # apart from sent: most tests look at sent alone
        self.received = 0

    async def send_audio(self, pcm: bytes, rate: int = 16000) -> None:
        self.sent.append(("audio", pcm))

    async def end_audio(self) -> None:
        self.sent.append(("audio_end", None))

    async def send_text(self, text: str) -> None:
        self.sent.append(("text", text))

    async def activity_start(self) -> None:
        self.sent.append(("activity_start", None))

    async def activity_end(self) -> None:
        self.sent.append(("activity_end", None))

    async def send_tool_results(self, results: Sequence[ev.ToolResult]) -> None:
        self.sent.append(("tool_response", [(r.id, r.name, r.response) for r in results]))

    async def interrupt(self, heard: ev.Heard | None) -> None:
        self.interrupts.append(heard)

    def sent_kinds(self) -> list[str]:
        return [kind for kind, _ in self.sent]

    async def receive(self) -> AsyncIterator[ev.Event]:
        while self.script:
            step = self.script.pop(0)
            if isinstance(step, WaitUntil):
                await step.wait()
                continue
            if isinstance(step, BaseException):
                raise step
            self.received += 1
            events = translate(step) if isinstance(step, types.LiveServerMessage) else [step]
            for event in events:
                yield event
            if any(isinstance(event, ev.TurnComplete) for event in events):
                return
        await asyncio.Event().wait()


class FakeSource:
    """A microphone that says ``chunks``, ``interval`` seconds apart, then (if finite) stops."""

    def __init__(self, chunks: Sequence[bytes], *, interval: float = 0.0, finite: bool = True,
                 sample_rate: int = 16000) -> None:
        self.chunks = list(chunks)
        self.interval = interval
        self.finite = finite
        self.sample_rate = sample_rate
        self.closed = False
        self.asked_frames: int | None = None

    async def stream(self, chunk_frames: int) -> AsyncIterator[bytes]:
        self.asked_frames = chunk_frames
        try:
            for chunk in self.chunks:
                await asyncio.sleep(self.interval)
                yield chunk
            if not self.finite:
                await asyncio.Event().wait()
        finally:
            self.closed = True


class FakeSink:
    """A speaker that takes ``write_delay`` seconds per slice (0: instantly) and records what it got."""

    def __init__(self, *, sample_rate: int = 24000, write_delay: float | None = None) -> None:
        self.sample_rate = sample_rate
        self.write_delay = write_delay
        self.writes: list[bytes] = []
        self.opened = self.closed = False

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)

    async def __aenter__(self) -> "FakeSink":
        self.opened = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True

    async def write(self, pcm: bytes) -> None:
        if self.write_delay is None:
            delay = len(pcm) / (2 * self.sample_rate)  # real time
        else:
            delay = self.write_delay
        await asyncio.sleep(delay)
        self.writes.append(pcm)


class RecordingReporter:
    """A ``conversation.Reporter`` that records every call as (method, args)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def attach(self, timeline: Timeline, player: Player) -> None:
        self._record("attach", timeline, player)

    def listening(self) -> None:
        self._record("listening")

    def input_finished(self) -> None:
        self._record("input_finished")

    def user_transcript(self, text: str, finished: bool) -> None:
        self._record("user_transcript", text, finished)

    def user_typed(self, text: str) -> None:
        self._record("user_typed", text)

    def push_to_talk(self, speaking: bool) -> None:
        self._record("push_to_talk", speaking)

    def ready(self) -> None:
        self._record("ready")

    def model_turn_started(self, turn: Turn) -> None:
        self._record("model_turn_started", turn)

    def model_text(self, text: str) -> None:
        self._record("model_text", text)

    def model_transcript(self, text: str) -> None:
        self._record("model_transcript", text)

    def interrupted(self, dropped_ms: float) -> None:
        self._record("interrupted", dropped_ms)

    def turn_complete(self, turn: Turn | None) -> None:
        self._record("turn_complete", turn)

    def notice(self, text: str) -> None:
        self._record("notice", text)

    def connection(self, event: ev.ConnectionEvent) -> None:
        self._record("connection", event)

    def tool(self, activity: Activity) -> None:
        self._record("tool", activity.state, activity.name, activity.detail)

    def sources(self, sources: ev.Sources) -> None:
        self._record("sources", sources)

    def code(self, event: ev.CodeRun | ev.CodeResult) -> None:
        self._record("code", event)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def args_of(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.calls if n == name]


class Lines:
    """Typed lines, handed over one at a time by the test (``type``), then end of input (``end``)."""

    def __init__(self, *lines: str) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        for line in lines:
            self.queue.put_nowait(line)

    def type(self, line: str) -> None:
        self.queue.put_nowait(line)

    def end(self) -> None:
        self.queue.put_nowait(None)

    def __aiter__(self) -> "Lines":
        return self

    async def __anext__(self) -> str:
        line = await self.queue.get()
        if line is None:
            raise StopAsyncIteration
        return line


# The fakes stand in for these protocols; the type checker holds them to it.
_session: Session = FakeSession()
_reporter: Reporter = RecordingReporter()
_source: AudioSource = FakeSource([])
_sink: AudioSink = FakeSink()


async def whole_reply(session: Session, timeout: float = 10 * SECOND) -> list[ev.Event]:
    """The events up to the end of the model's turn, answering any tool call (so the model does not wait)."""
    events: list[ev.Event] = []
    async with asyncio.timeout(timeout):
        while not any(isinstance(e, ev.TurnComplete) for e in events):
            async for event in session.receive():
                events.append(event)
                if isinstance(event, ev.ToolCall):
                    await session.send_tool_results(
                        [ev.ToolResult(c.id, c.name, {"error": "no tools here"}) for c in event.calls])
    return events


def keys_in(value: object) -> set[str]:
    """Every key of a JSON value, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()
