"""Recorded Live traffic as a script the local gateway plays (``local-gateway --replay FILE``).

The file is the corpus format of ``tests/realtraffic/README.md``: JSON Lines, a
header, then events. ``parse`` turns it into plain dataclasses, one ``Session``
per client connection; the server (``server.LocalGateway``) only executes them.
Pure: no sockets, no clock, no SDK (the SDK stays in ``tfy_live.gateway``).

What a session does with the client that connects (README.md, "The built-in
local gateway", says it for users):

- the Nth ``session`` block plays to the Nth connection (lines before the first
  ``session`` line belong to the first); after the last, ``then`` decides:
  ``repeat`` the last session (the default) or hand over to the ``echo`` model;
- ``http`` first: the upgrade is refused with that status and body;
- otherwise the setup is read and answered with ``{"setupComplete": {}}``, unless
  the first frame is a setupComplete of its own (it is the answer) or a ``close``
  comes before any frame and any ``send`` (closed right after the setup, unanswered);
- ``recv`` frames go out in order (SDK snake_case dumps as wire camelCase),
  ``after_s`` waits (divided by the replay speed), and after a ``send`` (other
  than the setup) the next frame waits until the client has finished a turn;
- a ``seen`` event becomes a frame only where its bare minimum invents nothing
  (``SEEN_FRAMES``); ``prose`` and ``sdk_repr`` are skipped;
- the realtime kinds (``openai``, ``azure``: OpenAI's realtime protocol) read the
  client's ``session.update`` as the setup and answer it with a bare
  ``session.created`` and ``session.updated``, unless the first frame is the file's
  own ``session.created`` or an ``error`` (refused at connect, as the real server
  refuses a key or a model); their turns end with ``response.create``, a commit, or
  the end of speech in the appended 24 kHz audio;
- ``close`` ends it with the recorded code and reason (``reason: null``: none;
  1006: the TCP connection is dropped, no close frame; ``code: null``: nothing is
  sent, and the script's ``notes`` say so); without one the connection stays open.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from tfy_live.audio.level import rms_dbfs
from tfy_live.errors import ConfigError
from tfy_live.localgw.echo import FRAME_BYTES, FRAME_MS, IN_RATE, EchoOptions, audio_chunks, decode_b64, get

REALTIME_RATE = 24_000  # the realtime kinds' PCM

EVENTS = ("recv", "send", "close", "http", "after_s", "seen", "session", "sdk_repr", "prose")
ANNOTATIONS = ("prose", "text")  # keys that may stand beside an event
KINDS = ("gemini", "vertex", "openai", "azure")
REALTIME_KINDS = ("openai", "azure")  # OpenAI's realtime protocol: JSON events with a "type"
# "printed": a log call's output (JS console.log, a Python repr) transliterated to JSON, nothing added.
SHAPES = ("wire", "reference", "sdk-snake", "sdk-repr", "printed", "close-only", "prose")
THEN = ("repeat", "echo")
MAX_REASON_BYTES = 123  # what a close frame can carry
SENDABLE_CLOSES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)})
DROPPED = 1006  # "no close frame": replayed as a dropped TCP connection
_BOOLEAN_CONTENT = ("turnComplete", "generationComplete", "interrupted", "waitingForInput")
_VERBATIM = frozenset({"args", "response", "part_metadata", "partMetadata"})  # free-form dicts: user keys
_BYTES = frozenset({"thoughtSignature", "sdkBlob"})  # base64 anywhere; "data" only inside inlineData


@dataclass(frozen=True)
class Frame:
    """Send this server frame (wire camelCase)."""

    message: dict[str, Any]
    line: int


@dataclass(frozen=True)
class Pause:
    seconds: float  # as recorded; the server divides by the replay speed
    line: int


@dataclass(frozen=True)
class AwaitClient:
    """Wait until the client has finished its next turn (``ClientTurns``): the file's ``send``."""

    line: int


Step = Frame | Pause | AwaitClient


@dataclass(frozen=True)
class Close:
    code: int
    reason: str
    line: int

    @property
    def drop(self) -> bool:
        """1006 cannot be sent: it is what a client reports when the connection dropped without one."""
        return self.code == DROPPED


@dataclass(frozen=True)
class Refuse:
    """Refuse the WebSocket upgrade with this HTTP answer."""

    status: int
    body: bytes
    content_type: str
    line: int


@dataclass(frozen=True)
class Session:
    """What one client connection gets. ``steps`` start after the setup is read; the first frame
    among them that is a setupComplete is the setup's answer (none: the setup is not answered)."""

    label: str | None
    line: int
    refuse: Refuse | None = None
    steps: tuple[Step, ...] = ()
    close: Close | None = None


@dataclass(frozen=True)
class Script:
    name: str
    kind: str
    shape: str
    sessions: tuple[Session, ...]
    then: str = "repeat"
    notes: tuple[str, ...] = ()  # what the replay leaves out, for the operator

    def session(self, index: int) -> Session | None:
        """The session for connection ``index`` (0: the first); None: the echo model."""
        if index < len(self.sessions):
            return self.sessions[index]
        return self.sessions[-1] if self.then == "repeat" else None

    def with_then(self, then: str | None) -> "Script":
        if then is None:
            return self
        if then not in THEN:
            raise ConfigError(f"--replay-then {then!r} is not known; use {' or '.join(THEN)}")
        return dataclasses.replace(self, then=then)


# -- the file ---------------------------------------------------------------------
def load(path: Path, then: str | None = None) -> Script:
    """Read and parse a replay file; ConfigError (one line: where, and the fix) if it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"replay file {path} is not UTF-8 text; save it as UTF-8 JSON Lines") from None
    except OSError as exc:
        raise ConfigError(f"cannot read replay file {path} ({exc.strerror or exc}); check the path") from None
    return parse(text.splitlines(), str(path)).with_then(then)


def parse(lines: Iterable[str], name: str = "replay file") -> Script:
    """The script in ``lines`` (a corpus file's lines); ConfigError naming the line and the fix."""
    return _Parser(name).run(lines)


class _Parser:
    def __init__(self, name: str) -> None:
        self.name = name
        self.header: dict[str, Any] | None = None
        self.kind = "gemini"
        self.shape = "wire"
        self.sessions: list[Session] = []
        self.notes: list[str] = []
        self._open(None, 0, explicit=False)

    def fail(self, line: int, message: str) -> ConfigError:
        return ConfigError(f"{self.name} line {line}: {message}")

    def _open(self, label: str | None, line: int, *, explicit: bool) -> None:
        self.label, self.start, self.explicit = label, line, explicit
        self.refuse: Refuse | None = None
        self.steps: list[Step] = []
        self.close: Close | None = None
        self.ended_at: int | None = None  # the line of the http or close that ended this session

    def _finish(self) -> None:
        self.sessions.append(Session(self.label, self.start, self.refuse, tuple(self._answered()), self.close))

    def run(self, lines: Iterable[str]) -> Script:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except ValueError as exc:
                raise self.fail(number, f"is not JSON ({exc}); each line must be one JSON object") from None
            if not isinstance(item, dict):
                raise self.fail(number, "is not a JSON object; each line must be one {…}")
            if self.header is None:
                self._header(item, number)
            else:
                self._event(item, number)
        if self.header is None:
            raise ConfigError(f"{self.name} is empty; its first line must be the header, e.g. "
                              '{"kind": "gemini", "shape": "wire"}')
        self._finish()
        return Script(self.name, self.kind, self.shape, tuple(self.sessions), str(self.header.get("then") or "repeat"),
                      tuple(self.notes))

    def _header(self, item: dict[str, Any], line: int) -> None:
        if any(key in EVENTS for key in item):
            raise self.fail(line, 'is an event, but the first line must be the header, e.g. '
                                  '{"kind": "gemini", "shape": "wire"}')
        self.kind = str(item.get("kind") or "gemini")
        self.shape = str(item.get("shape") or "wire")
        then = item.get("then") or "repeat"
        if self.kind not in KINDS:
            raise self.fail(line, f"header kind {self.kind!r} is not known; use {', '.join(KINDS[:-1])} or {KINDS[-1]}")
        if self.shape not in SHAPES:
            raise self.fail(line, f"header shape {self.shape!r} is not known; use one of {', '.join(SHAPES)}")
        if then not in THEN:
            raise self.fail(line, f"header then {then!r} is not known; use {' or '.join(THEN)}")
        self.header = item

    def _event(self, item: dict[str, Any], line: int) -> None:
        keys = [key for key in item if key in EVENTS and key != "prose"] or [key for key in item if key == "prose"]
        others = [key for key in item if key not in EVENTS and key not in ANNOTATIONS]
        if others or not keys:
            unknown = (others or list(item) or ["{}"])[0]
            raise self.fail(line, f"unknown event {unknown!r}; use one of {', '.join(EVENTS)} "
                                  "(with 'prose', and 'text' beside 'seen')")
        if len(keys) > 1:
            raise self.fail(line, f"holds two events ({keys[0]!r} and {keys[1]!r}); put each on its own line")
        event, value = keys[0], item[keys[0]]
        if event in ("prose", "sdk_repr"):
            return
        if event == "session":
            if self.explicit or self.steps or self.ended_at is not None:
                self._finish()
            self._open(None if value is None else str(value), line, explicit=True)
            return
        if self.ended_at is not None:
            what = "upgrade was refused" if self.refuse else "connection was closed"
            raise self.fail(line, f"the {what} at line {self.ended_at}, so nothing more can happen on it; put a "
                                  '{"session": "…"} line before this event for the next connection')
        getattr(self, "_" + event)(value, item, line)

    def _answered(self) -> list[Step]:
        """The steps with the setup's answer: the file's own setupComplete if it is the first frame, else
        ``{"setupComplete": {}}`` at once; none when the upgrade is refused, or a close comes before any frame
        and any turn of the client's (which it could not take unanswered). The realtime kinds: ``_realtime_answered``."""
        steps = self.steps
        first = next((step for step in steps if isinstance(step, Frame)), None)
        if self.kind in REALTIME_KINDS:
            return self._realtime_answered(first)
        if first is not None and "setupComplete" in first.message:
            waits = [step for step in steps[: steps.index(first)] if isinstance(step, AwaitClient)]
            if waits:
                raise self.fail(waits[0].line, f"the client cannot speak before setupComplete (line {first.line}); "
                                               "move the send after it")
            return steps
        if self.refuse is not None or (self.close is not None and all(isinstance(step, Pause) for step in steps)):
            return steps
        return [Frame({"setupComplete": {}}, 0), *steps]

    def _realtime_answered(self, first: Frame | None) -> list[Step]:
        """As ``_answered`` for OpenAI's protocol: a bare ``session.created`` and ``session.updated`` first, unless
        the file's first frame is its own ``session.created`` (the file says what the setup got) or an ``error``
        (the session was refused at connect)."""
        steps = self.steps
        if first is not None and first.message.get("type") in ("session.created", "error"):
            waits = [step for step in steps[: steps.index(first)] if isinstance(step, AwaitClient)]
            if waits:
                raise self.fail(waits[0].line, f"the client cannot speak before the session exists (line "
                                               f"{first.line}); move the send after it")
            return steps
        if self.refuse is not None or (self.close is not None and all(isinstance(step, Pause) for step in steps)):
            return steps
        return [Frame({"type": "session.created", "session": {}}, 0),
                Frame({"type": "session.updated", "session": {}}, 0), *steps]

    # -- one method per event ---------------------------------------------------
    def _recv(self, value: Any, item: dict[str, Any], line: int) -> None:
        if not isinstance(value, dict):
            raise self.fail(line, "recv must hold a server frame, a JSON object")
        message = wire_frame(value, self.kind) if self.shape == "sdk-snake" else value
        self.steps.append(Frame(message, line))

    def _send(self, value: Any, item: dict[str, Any], line: int) -> None:
        if not isinstance(value, dict):
            raise self.fail(line, "send must hold a client frame, a JSON object")
        if get(value, "setup") is not None or value.get("type") == "session.update":
            return  # the setup: read before any step
        if not (self.steps and isinstance(self.steps[-1], AwaitClient)):  # one turn for a run of sends
            self.steps.append(AwaitClient(line))

    def _seen(self, value: Any, item: dict[str, Any], line: int) -> None:
        if not isinstance(value, str):
            raise self.fail(line, 'seen must name a frame type, e.g. "setupComplete" or "serverContent.turnComplete"')
        text = item.get("text")
        realtime = self.kind in REALTIME_KINDS
        frame = (seen_event if realtime else seen_frame)(value, text if isinstance(text, str) else None)
        if frame is not None:
            self.steps.append(Frame(frame, line))

    def _after_s(self, value: Any, item: dict[str, Any], line: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise self.fail(line, f"after_s must be a number of seconds, 0 or more (not {value!r})")
        self.steps.append(Pause(float(value), line))

    def _http(self, value: Any, item: dict[str, Any], line: int) -> None:
        status = get(value, "status") if isinstance(value, dict) else None
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise self.fail(line, 'http must be {"status": <200-599>, "body": …} (the answer to the upgrade)')
        if self.steps:
            raise self.fail(line, f"http refuses the upgrade, so it must come before any other event of its session "
                                  f"(line {self.steps[0].line} is one); put a session line before it")
        body = value.get("body")
        if body is None:
            data, content_type = b"", "text/plain"
        elif isinstance(body, str):
            data, content_type = body.encode(), "application/json" if _is_json(body) else "text/plain"
        else:
            data, content_type = json.dumps(body).encode(), "application/json"
        self.refuse = Refuse(status, data, content_type, line)
        self.ended_at = line

    def _close(self, value: Any, item: dict[str, Any], line: int) -> None:
        if not isinstance(value, dict) or "code" not in value:
            raise self.fail(line, 'close must be {"code": <int or null>, "reason": <text or null>}')
        code, reason = value.get("code"), value.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise self.fail(line, "close reason must be text or null")
        reason = reason or ""
        if code is None:
            self.notes.append(f"line {line}: the close code was not recorded, so no close is sent there "
                              "(the connection stays open)")
            self.ended_at = line
            return
        if isinstance(code, bool) or not isinstance(code, int) or (code not in SENDABLE_CLOSES and code != DROPPED):
            raise self.fail(line, f"close code {code!r} cannot be sent in a close frame; use 1000-1003, 1007-1014 or "
                                  "3000-4999 (1006: the connection dropped, replayed as a TCP drop)")
        if len(reason.encode()) > MAX_REASON_BYTES:
            raise self.fail(line, f"close reason is {len(reason.encode())} bytes, more than a close frame holds "
                                  f"({MAX_REASON_BYTES}); cut it as the server would")
        self.close = Close(code, reason, line)
        self.ended_at = line


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# -- frames -------------------------------------------------------------------------
def camel(name: str) -> str:
    """A snake_case field name as the wire spells it (what the SDK's pydantic aliases do)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_frame(message: dict[str, Any], kind: str) -> dict[str, Any]:
    """An SDK snake_case dump (``model_dump_json(exclude_none=True)``) as the server of ``kind`` sent it.

    Field names become camelCase (not inside the free-form ``args``/``response``),
    base64 goes back to the standard alphabet (the SDK dumps URL-safe), and what the
    SDK's converters rename on the way in is renamed back: ``voiceActivity.type``
    (``voice_activity_type`` in the SDK) and, on Vertex, ``usageMetadata.candidatesTokenCount``
    and ``candidatesTokensDetails`` (the SDK's ``response_token_count`` and ``response_tokens_details``).
    """
    wire: dict[str, Any] = _camel_keys(message)
    activity = wire.get("voiceActivity")
    if isinstance(activity, dict) and "voiceActivityType" in activity:
        activity["type"] = activity.pop("voiceActivityType")
    usage = wire.get("usageMetadata")
    if kind == "vertex" and isinstance(usage, dict):
        for sdk_name, vertex_name in (("responseTokenCount", "candidatesTokenCount"),
                                      ("responseTokensDetails", "candidatesTokensDetails")):
            if sdk_name in usage:
                usage[vertex_name] = usage.pop(sdk_name)
    return wire


def _camel_keys(value: Any, parent: str = "") -> Any:
    if isinstance(value, list):
        return [_camel_keys(item, parent) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        name = camel(key)
        if key in _VERBATIM:
            out[name] = item
        elif isinstance(item, str) and (name in _BYTES or (name == "data" and parent == "inlineData")):
            out[name] = item.replace("-", "+").replace("_", "/")
        else:
            out[name] = _camel_keys(item, name)
    return out


# A `seen` event's path -> the frame that stands for it. Only frames whose bare minimum says what
# `seen` says and no more; toolCall, goAway, usageMetadata, voiceActivity… would need a body that
# was not recorded (a goAway without timeLeft, a tool call without a call), so they are skipped.
SEEN_FRAMES: dict[str, dict[str, Any]] = {
    "setupComplete": {"setupComplete": {}},
    "sessionResumptionUpdate": {"sessionResumptionUpdate": {}},  # the empty update, as recorded before turns
    "serverContent": {"serverContent": {}},
    **{f"serverContent.{flag}": {"serverContent": {flag: True}} for flag in _BOOLEAN_CONTENT},
}
_TEXT_FRAMES: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {  # path -> where the `text` the source printed from that frame goes
    "serverContent.modelTurn": ("modelTurn", lambda text: {"parts": [{"text": text}]}),
    "serverContent.outputTranscription": ("outputTranscription", lambda text: {"text": text}),
    "serverContent.inputTranscription": ("inputTranscription", lambda text: {"text": text}),
}


def seen_frame(path: str, text: str | None = None) -> dict[str, Any] | None:
    """The frame that stands for ``{"seen": path}``, or None to skip it (``SEEN_FRAMES``)."""
    path = ".".join(camel(part) for part in path.split("."))
    if text and path in _TEXT_FRAMES:
        field, body = _TEXT_FRAMES[path]
        return {"serverContent": {field: body(text)}}
    frame = SEEN_FRAMES.get(path)
    return json.loads(json.dumps(frame)) if frame is not None else None  # a copy: callers may keep it


# A realtime `seen` event's type -> the event that stands for it: the bare event where it says no more than the
# type (a session that exists, a response that began), and text deltas with the text the source printed. Audio,
# response.done, errors… would need a body that was not recorded, so they are skipped.
SEEN_EVENTS: dict[str, dict[str, Any]] = {
    "session.created": {"type": "session.created", "session": {}},
    "session.updated": {"type": "session.updated", "session": {}},
    "response.created": {"type": "response.created", "response": {}},
}
TEXT_EVENTS = frozenset({  # GA names, and the beta names (gpt-4o-realtime-preview) they replaced
    "response.output_text.delta", "response.output_audio_transcript.delta", "response.text.delta",
    "response.audio_transcript.delta", "conversation.item.input_audio_transcription.delta",
})


def seen_event(kind: str, text: str | None = None) -> dict[str, Any] | None:
    """The realtime event that stands for ``{"seen": kind}``, or None to skip it (``SEEN_EVENTS``)."""
    if text and kind in TEXT_EVENTS:
        return {"type": kind, "delta": text}
    event = SEEN_EVENTS.get(kind)
    return json.loads(json.dumps(event)) if event is not None else None


# -- the client's side ------------------------------------------------------------------
class ClientTurns:
    """When the client has finished a turn, for the file's ``send`` events: feed it every client
    message; ``feed`` returns how many turns that message ended.

    A turn ends with typed text (``realtimeInput.text``, ``clientContent`` with
    ``turnComplete``), a ``toolResponse``, or the end of speech: ``activityEnd`` or
    ``audioStreamEnd`` after speech, or, in streamed audio, the echo model's voice
    detector (``EchoOptions``: 60 ms voiced starts speech, 500 ms quiet ends it).
    """

    def __init__(self, options: EchoOptions | None = None) -> None:
        self.options = options or EchoOptions()
        self.speaking = False
        self._pending = b""
        self._voiced = 0
        self._quiet = 0
        self._down: Any = None  # the realtime kinds' 24 kHz -> 16 kHz resampler, made at their first audio

    def feed(self, message: dict[str, Any]) -> int:
        if isinstance(message.get("type"), str):
            return self._feed_realtime(message)
        ended = 0
        realtime = get(message, "realtimeInput", "realtime_input")
        if isinstance(realtime, dict):
            for pcm in audio_chunks(realtime):
                ended += self._listen(pcm)
            if get(realtime, "activityStart", "activity_start") is not None:
                self.speaking, self._quiet = True, 0
            if get(realtime, "activityEnd", "activity_end") is not None or get(
                    realtime, "audioStreamEnd", "audio_stream_end"):
                ended += self._stopped()
            if get(realtime, "text"):
                ended += 1
        content = get(message, "clientContent", "client_content")
        if isinstance(content, dict) and get(content, "turnComplete", "turn_complete"):
            ended += 1
        if get(message, "toolResponse", "tool_response") is not None:
            ended += 1
        return ended

    def _feed_realtime(self, event: dict[str, Any]) -> int:
        """OpenAI's protocol: ``response.create`` ends a turn, and so does the end of speech in the appended audio
        (24 kHz, heard at the voice detector's 16 kHz). A commit ends the speech without ending a turn: the
        client's ``response.create`` follows it (push-to-talk, or a file that ended mid-utterance)."""
        kind = event["type"]
        if kind == "input_audio_buffer.append":
            if self._down is None:
                from tfy_live.audio.pcm import Resampler

                self._down = Resampler(REALTIME_RATE, IN_RATE)
            return self._listen(self._down.process(decode_b64(str(event.get("audio") or ""))))
        if kind == "input_audio_buffer.commit":
            self._stopped()
            return 0
        return int(kind == "response.create")

    def _stopped(self) -> int:
        was, self.speaking, self._voiced, self._quiet = self.speaking, False, 0, 0
        return int(was)

    def _listen(self, pcm: bytes) -> int:
        data = self._pending + pcm
        usable = len(data) - len(data) % FRAME_BYTES
        self._pending = data[usable:]
        ended = 0
        for start in range(0, usable, FRAME_BYTES):
            voiced = rms_dbfs(data[start:start + FRAME_BYTES]) > self.options.threshold_dbfs
            if self.speaking:
                self._quiet = 0 if voiced else self._quiet + FRAME_MS
                if self._quiet >= self.options.end_silence_ms:
                    ended += self._stopped()
            else:
                self._voiced = self._voiced + FRAME_MS if voiced else 0
                if self._voiced >= self.options.start_ms:
                    self.speaking, self._quiet = True, 0
        return ended
