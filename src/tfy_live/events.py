"""What happens in a realtime session, as tfy-live's own small events.

Provider-neutral: a session (``session.Session``) turns whatever its protocol
sends into these plain dataclasses, once, at its edge (for Gemini and Vertex:
``gateway.translate``), and the conversation, the link and the UI know nothing
else. Two families travel in the same stream:

- the model's side of the conversation (``ServerEvent``): audio, text,
  transcripts, interruptions, the end of a turn, token usage, tool calls, the
  pages a grounded answer cites, code the model ran, the
  server's notice that it will close the connection, resumption handles, and
  the frames that were skipped (``MalformedFrame``, ``UnknownMessage``);
- the connection's own news (``ConnectionEvent``), produced by ``link.Link``:
  the next connection is being opened, a reconnect attempt (also: the first
  connection tried again, a fresh session in place of a lost one), the resume.

The other direction has two neutral types too: ``ToolSpec`` (a function
declared to the model) and ``ToolResult`` (the answer to one call), which each
session turns into its protocol's shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tfy_live.audio import OUTPUT_RATE


@dataclass(frozen=True)
class MalformedFrame:
    """A frame from the server that the session could not read: skipped, counted, not fatal."""

    reason: str


@dataclass(frozen=True)
class UnknownMessage:
    """A well-formed frame of a message type the session does not know: skipped, counted, not fatal.

    Servers add message types before the SDK learns them (``voiceActivity`` came
    that way); ``types`` are its top-level keys, empty when the SDK hid the frame.
    """

    types: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetupComplete:
    session_id: str | None = None


@dataclass(frozen=True)
class Audio:
    """Model audio. ``item``: the server's name for the part of the reply it belongs to, for a protocol that
    wants to hear how much of that part was played when the user cut it short (``Heard``); None for Gemini."""

    pcm: bytes
    rate: int = OUTPUT_RATE
    item: str | None = None


@dataclass(frozen=True)
class Heard:
    """How much of a reply part (``Audio.item``) the speaker played before the user cut it short: ``ms``."""

    item: str
    ms: int


@dataclass(frozen=True)
class Notice:
    """Something the session wants the user to know that changes nothing: an error the server reported and
    carried on after, or that a new session does not remember the conversation."""

    text: str


@dataclass(frozen=True)
class Text:
    text: str
    thought: bool = False


@dataclass(frozen=True)
class InputTranscript:
    text: str
    finished: bool = False


@dataclass(frozen=True)
class OutputTranscript:
    text: str
    finished: bool = False


@dataclass(frozen=True)
class Interrupted:
    pass


@dataclass(frozen=True)
class GenerationComplete:
    pass


@dataclass(frozen=True)
class TurnComplete:
    reason: str | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts, as reported: None where the server left a count out (3.x models omit the response's).

    The details are per modality (``{"AUDIO": 58, "TEXT": 11}``); thoughts are
    counted apart from the response, as the server reports them.
    """

    prompt_tokens: int | None = None
    response_tokens: int | None = None
    total_tokens: int | None = None
    thoughts_tokens: int | None = None
    prompt_details: dict[str, int] = field(default_factory=dict)
    response_details: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class GoAway:
    time_left_s: float | None = None


@dataclass(frozen=True)
class ResumptionUpdate:
    handle: str | None
    resumable: bool


@dataclass(frozen=True)
class FunctionCall:
    id: str | None
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolCall:
    calls: tuple[FunctionCall, ...]


@dataclass(frozen=True)
class ToolCallCancelled:
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """One web page the model grounded its answer on (Google Search): as the server named it."""

    title: str
    url: str


@dataclass(frozen=True)
class Sources:
    """The pages behind the model's answer (grounding metadata), in the server's order."""

    sources: tuple[Source, ...]


@dataclass(frozen=True)
class CodeRun:
    """Code the model wrote and ran on the server (code execution)."""

    code: str
    language: str = "PYTHON"


@dataclass(frozen=True)
class CodeResult:
    """What the code the model ran printed, and how it ended (``OUTCOME_OK``, ``OUTCOME_FAILED``…)."""

    output: str
    outcome: str = "OUTCOME_OK"


ServerEvent = (
    SetupComplete | Audio | Text | InputTranscript | OutputTranscript | Interrupted
    | GenerationComplete | TurnComplete | Usage | GoAway | ResumptionUpdate | ToolCall
    | ToolCallCancelled | MalformedFrame | UnknownMessage | Notice | Sources | CodeRun | CodeResult
)


# -- what the client declares and answers (the other direction) -------------------------------------------

Scheduling = Literal["when_idle", "interrupt", "silent"]


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call, as a session declares it: ``parameters`` is a JSON Schema object.

    ``non_blocking``: the conversation goes on while it runs (where the model supports it).
    """

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    non_blocking: bool = False


@dataclass(frozen=True)
class ToolResult:
    """The answer to one function call: ``response`` is a JSON object (``{"result": …}`` or ``{"error": …}``).

    ``scheduling``: for a non-blocking call, when the model should take it up (None: blocking).
    """

    id: str | None
    name: str
    response: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    scheduling: Scheduling | None = None


@dataclass(frozen=True)
class GoingAway:
    """The server will close this connection in ``time_left_s``: the next one is being opened."""

    time_left_s: float


@dataclass(frozen=True)
class Reconnecting:
    """The connection failed (``reason``, one line); attempt ``attempt`` of ``attempts`` follows."""

    reason: str
    attempt: int
    attempts: int


@dataclass(frozen=True)
class Retrying(Reconnecting):
    """The first connection failed in a way that often clears in seconds (``reason``); attempt ``attempt`` follows."""


@dataclass(frozen=True)
class FreshSession(Reconnecting):
    """The server no longer has the session being resumed (``reason``: a stale handle): the next attempt starts a
    new one, and the model will not remember the conversation so far. A reconnect attempt like any other."""


@dataclass(frozen=True)
class Resumed:
    """A new connection carries the session on: ``switched`` after a goAway, else after a failure.

    ``resumed_session``: it resumed the server's session from a handle (the model
    remembers the conversation); ``connection``: how many connections so far.
    """

    switched: bool
    resumed_session: bool
    connection: int


ConnectionEvent = GoingAway | Reconnecting | Resumed
Event = ServerEvent | ConnectionEvent
