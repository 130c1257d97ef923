"""Small scripted, recording stand-ins for the conversation's seams."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Sequence

from google.genai import types


def msg(**fields: Any) -> types.LiveServerMessage:
    """A server message exactly as the SDK would parse it from JSON (camelCase fields)."""
    return types.LiveServerMessage.model_validate(fields)


def audio_msg(pcm: bytes, rate: int = 24000) -> types.LiveServerMessage:
    return msg(serverContent={"modelTurn": {"parts": [{"inlineData": {"mimeType": f"audio/pcm;rate={rate}", "data": pcm}}]}})


class WaitUntil:
    """A script step: hold the server until ``condition()`` is true."""

    def __init__(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        self.condition = condition
        self.timeout = timeout

    async def wait(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.condition():
            if time.monotonic() > deadline:
                raise AssertionError("WaitUntil timed out")
            await asyncio.sleep(0.002)


class FakeSession:
    """Plays ``messages`` (LiveServerMessage, WaitUntil or an Exception to raise) and records what is sent.

    Like the SDK, each ``receive()`` iteration ends after a turn-complete
    message; once the script is spent, ``receive()`` waits forever (a quiet
    connection).
    """

    def __init__(self, messages: Sequence[Any] = ()) -> None:
        self.script = list(messages)
        self.sent: list[tuple[str, Any]] = []
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

    async def answer_tool_calls(self, calls: Sequence[Any], error: str) -> None:
        self.sent.append(("tool_response", [(c.id, c.name, error) for c in calls]))

    def sent_kinds(self) -> list[str]:
        return [kind for kind, _ in self.sent]

    async def receive(self) -> AsyncIterator[Any]:
        while self.script:
            step = self.script.pop(0)
            if isinstance(step, WaitUntil):
                await step.wait()
                continue
            if isinstance(step, BaseException):
                raise step
            self.received += 1
            yield step
            content = step.server_content
            if content is not None and content.turn_complete:
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
    """Records every reporter call as (method, args)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record

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
