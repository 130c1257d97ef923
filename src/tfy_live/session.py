"""The seam between the conversation and a realtime protocol: ``Session``.

A session sends the user's side (microphone audio, typed text, push-to-talk
marks, answers to tool calls) and receives the model's side as tfy-live's own
events (``events.Event``). Nothing here names a provider: the Gemini and Vertex
kinds plug in behind it as ``gateway.LiveSession``, the OpenAI and Azure kinds as
``gateway_openai.RealtimeSession``, ``link.Link`` keeps one alive
across connections, and the tests plug in scripted fakes.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import AsyncIterator, Callable, Protocol, Sequence

from tfy_live.audio import INPUT_RATE
from tfy_live.events import Event, Heard, ToolResult


class Session(Protocol):
    """One realtime session, in tfy-live's terms."""

    async def send_audio(self, pcm: bytes, rate: int = INPUT_RATE) -> None:
        """Microphone audio: 16-bit mono PCM at ``rate``."""

    async def end_audio(self) -> None:
        """The microphone stopped (the server's voice detection may flush)."""

    async def send_text(self, text: str) -> None:
        """A typed line, as the user's turn."""

    async def activity_start(self) -> None:
        """Push-to-talk: the user started speaking (the server's voice detection is off)."""

    async def activity_end(self) -> None:
        """Push-to-talk: the user finished speaking."""

    async def send_tool_results(self, results: Sequence[ToolResult]) -> None:
        """Answer function calls, one ``ToolResult`` per call id (the model waits for a blocking call's)."""

    async def interrupt(self, heard: Heard | None) -> None:
        """The user cut the model's reply short (spoke over it, typed, or began a push-to-talk turn), and playback
        stopped: ``heard`` is how much of the reply part being played was played (None: nothing was playing).

        A protocol whose server keeps the whole reply in its memory of the conversation (OpenAI's) truncates it
        to what was heard, and cancels a response still being generated; one whose server stops by itself and
        remembers no more than it sent (Gemini's) does nothing.
        """

    def receive(self) -> AsyncIterator[Event]:
        """The events of the current turn; the iteration ends after ``TurnComplete`` (ask again for the next)."""
        ...


# Opens one connection, resuming the server's session from a handle if given.
Opener = Callable[[str | None], AbstractAsyncContextManager[Session]]
