"""The local gateway's echo "model": pure logic, no sockets, no sleeping.

It listens to the user's 16 kHz audio with a simple energy voice detector and,
when the user stops speaking, answers with what they said: their speech,
resampled to 24 kHz, as the model's turn, with transcription messages around
it. If the user speaks while that reply is still playing (in notional real
time, even after every chunk has been sent), it interrupts itself the way
Gemini does.

The server drives it with a clock: ``feed(message, now)`` for each client
message, ``tick(now)`` when ``next_deadline()`` passes; both return the server
messages (dicts, camelCase as on the wire) to send now.

Some options make it send what the real servers send (tests/realtraffic, and
live-protocol.md's "What the real servers do"), so the client is tried against
those shapes end to end: a native-audio model's thought part before its audio
and its transcription streamed with the audio; 3.x frames (``{}``,
``voiceActivity``, and a message type newer than the SDK); Vertex's empty turn
after a tool response; usage without a response count (3.1).

Tools: when a typed line says ``call NAME {json args}`` (several, separated by
``;``) for functions the setup declared, the echo model sends one ``toolCall``
for them, waits for every response (``toolResponse``, in any number of
messages), and answers with what they returned. A line ``cancel`` cancels the
calls still pending (``toolCallCancellation``); ``… then cancel`` does so a
moment after the call. Typed lines only: the echo model does not recognise
speech, so a spoken request is echoed like any other.

One reply at a time: a reply that comes due while another is still being sent
(the tool's answer during the echo of speech that came with the call) waits
for that turn to end and is a turn of its own, as a real model's would be. It
waits, too, while the user speaks.
"""

from __future__ import annotations

import base64
import collections
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfy_live.audio.level import rms_dbfs
from tfy_live.audio.pcm import resample

IN_RATE = 16_000
OUT_RATE = 24_000
FRAME_MS = 20
FRAME_BYTES = IN_RATE * FRAME_MS // 1000 * 2


@dataclass
class EchoOptions:
    threshold_dbfs: float = -45.0  # a 20 ms frame louder than this is voiced
    start_ms: int = 60  # voiced this long: the user started speaking
    end_silence_ms: int = 500  # quiet this long: the user stopped
    preroll_ms: int = 200  # audio kept from before the start, so it is not clipped
    chunk_ms: int = 40  # reply audio per message
    reply_speed: float = 1.0  # how much faster than real time the reply is sent (inf: at once)
    tokens_per_second: float = 25.0  # for usageMetadata
    tool_call: bool = False  # ask for a tool (get_time) before the first reply, wait for its answer
    time_scale: float = 1.0  # how much faster than real time the client lives (benchmarks compress time)
    interrupted_turn_complete_s: float = 0.0  # after `interrupted` mid-reply, turnComplete this much later
    # The real servers' shapes (see the module docstring), each off by default:
    native_audio: bool = False  # a thought part first, the audio thought_lead_s later, the transcription in pieces
    thought_lead_s: float = 0.8
    newer_frames: bool = False  # {} and voiceActivity around the user's speech; mid-reply a type newer than the SDK
    empty_turn_after_tool: bool = False  # the tool response gets an empty turn, the answer empty_turn_gap_s later
    empty_turn_gap_s: float = 3.0
    usage_without_response: bool = False  # usageMetadata with no responseTokenCount (3.1)


_CALL = re.compile(r"(?:^|;)\s*call\s+([A-Za-z_][\w.:-]*)\s*", re.I)
_THEN_CANCEL = re.compile(r"\s*then\s+cancel\s*$", re.I)
CANCEL_AFTER_S = 0.2  # "call … then cancel": the cancellation follows the call this much later


def parse_calls(text: str) -> tuple[list[tuple[str, dict[str, Any]]], bool] | None:
    """``call NAME {args}; call NAME2 {…} [then cancel]`` as [(name, args)] and whether to cancel; None if the
    line asks for no call (or its arguments are not a JSON object)."""
    then_cancel = bool(_THEN_CANCEL.search(text))
    text = _THEN_CANCEL.sub("", text)
    calls: list[tuple[str, dict[str, Any]]] = []
    at = 0
    while (match := _CALL.match(text, at)) is not None:
        name, at = match.group(1), match.end()
        args: Any = {}
        if text[at:at + 1] == "{":
            try:
                args, at = json.JSONDecoder().raw_decode(text, at)
            except ValueError:
                return None
        if not isinstance(args, dict):
            return None
        calls.append((name, args))
        at = len(text) - len(text[at:].lstrip())
    if not calls or text[at:].strip():
        return None
    return calls, then_cancel


def declared_functions(setup: dict[str, Any]) -> set[str]:
    """The function names a setup message declares (``tools[].functionDeclarations[].name``)."""
    names = set()
    for tool in get(setup, "tools") or []:
        for declaration in get(tool, "functionDeclarations", "function_declarations") or []:
            if isinstance(get(declaration, "name"), str):
                names.add(declaration["name"])
    return names


# A message type no SDK knows: a stand-in for the ones newer servers add before the SDK learns them.
NEWER_MESSAGE = {"liveTelemetry": {"note": "a message type newer than the client's SDK"}}
THOUGHT = "**Answering the user**\n\nI heard the user and will echo what they said."


def get(d: dict[str, Any] | None, *names: str) -> Any:
    """A field by any of its spellings (the SDK mixes camelCase and snake_case)."""
    if not isinstance(d, dict):
        return None
    for name in names:
        if name in d:
            return d[name]
    return None


def decode_b64(data: str | bytes) -> bytes:
    """Base64 in either alphabet, padded or not (the SDK writes URL-safe)."""
    text = data.decode() if isinstance(data, bytes) else data
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def audio_chunks(realtime: dict[str, Any]) -> list[bytes]:
    """The PCM in a realtime_input message: ``audio``, or the legacy ``media_chunks``."""
    audio = get(realtime, "audio")
    chunks = ([audio] if isinstance(audio, dict) else []) + list(get(realtime, "mediaChunks", "media_chunks") or [])
    return [decode_b64(get(chunk, "data")) for chunk in chunks if get(chunk, "data")]


def beep(ms: int = 300, hz: float = 660.0) -> bytes:
    t = np.arange(OUT_RATE * ms // 1000) / OUT_RATE
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    return bytes((6000 * envelope * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes())


class _Reply:
    """One model turn being sent and (notionally) played."""

    def __init__(self, pcm: bytes, transcript: str, start: float, options: EchoOptions) -> None:
        self.pcm = pcm
        self.transcript = transcript
        self.start = start
        self.chunk_bytes = OUT_RATE * options.chunk_ms // 1000 * 2
        self.speed = options.reply_speed
        self.time_scale = options.time_scale
        self.sent = 0
        self.done = False  # turnComplete sent
        self.duration = len(pcm) / (2 * OUT_RATE)
        # native_audio: the transcription goes out a word at a time alongside the audio, as Gemini streams it
        self.pieces = [word + " " for word in transcript.split()] if options.native_audio else []
        if self.pieces:
            self.pieces[-1] = self.pieces[-1].rstrip()
        self.pieces_sent = 0
        self.newer_sent = not options.newer_frames  # the mid-reply frame of an unknown type, sent once

    def due_bytes(self, now: float) -> int:
        if now < self.start:  # native_audio: the audio follows the thought
            return 0
        if math.isinf(self.speed):
            return len(self.pcm)
        elapsed_audio = (now - self.start) * self.speed * OUT_RATE * 2 + 1e-6  # rounding must not stall a chunk
        chunks = int(elapsed_audio // self.chunk_bytes) + 1
        return min(len(self.pcm), chunks * self.chunk_bytes)

    def next_send(self) -> float | None:
        if self.done:
            return None
        if math.isinf(self.speed):
            return self.start
        return self.start + (self.sent / (2 * OUT_RATE)) / self.speed

    def playing(self, now: float) -> bool:
        return now < self.start + self.duration / self.time_scale


class EchoModel:
    def __init__(self, options: EchoOptions | None = None, *, vertex: bool = False, resumption: bool = False,
                 text: bool = False, manual_activity: bool = False, functions: set[str] | None = None,
                 cancellation: bool = True) -> None:
        self.options = options or EchoOptions()
        self.functions = functions or set()  # declared in the setup: what "call NAME" may ask for
        self.cancellation = cancellation  # "cancel" cancels calls (a protocol without toolCallCancellation: text)
        self._calls: dict[str, str] = {}  # id -> name: the calls waiting for a response
        self._results: list[str] = []  # what the answered calls returned, said once all are in
        self._call_ids = 0
        self._cancel_at: float | None = None  # "then cancel"
        self.vertex = vertex
        self.resumption = resumption
        self.text = text  # TEXT response modality: answer with text parts, no audio
        self.manual_activity = manual_activity  # voice detection off: activityStart/End mark the user's turn
        self._pending = b""
        self._history: collections.deque[bytes] = collections.deque(maxlen=max(1, self.options.preroll_ms // FRAME_MS))
        self._voiced = 0
        self._quiet = 0
        self._speaking = False
        self._utterance = bytearray()
        self._reply: _Reply | None = None
        self._held: tuple[bytes, str] | None = None  # a reply waiting for a tool response
        self._queued: collections.deque[tuple[bytes, str]] = collections.deque()  # replies waiting for the turn
        self._tool_asked = False
        self._handles = 0
        self.turns = 0
        self.interruptions = 0
        self._complete_at: float | None = None  # a held turnComplete (interrupted_turn_complete_s)
        self._delayed: tuple[float, bytes, str] | None = None  # a reply due later (empty_turn_after_tool)
        self._spoke_at: float | None = None  # newer_frames: when the user began speaking, for voiceActivity

    @property
    def speaking(self) -> bool:
        """The user is speaking, as its voice detection (or activityStart) decided."""
        return self._speaking

    def cancel(self, now: float) -> list[dict[str, Any]]:
        """The client cancelled the reply (OpenAI's response.cancel): stop it as an interruption would."""
        return self._interrupt(now)

    @property
    def waiting_for(self) -> list[str]:
        """The functions called and not answered yet."""
        return sorted(set(self._calls.values()))

    def say(self, text: str, now: float) -> list[dict[str, Any]]:
        """Start a reply that says ``text`` (a beep, and ``text`` as its transcription)."""
        return self._start_reply(beep(), text, now)

    @property
    def replying(self) -> bool:
        """A reply has begun to be sent and is not finished."""
        return self._reply is not None and self._reply.sent > 0 and not self._reply.done

    # -- the clock -----------------------------------------------------------
    def next_deadline(self) -> float | None:
        deadlines = [self._reply.next_send() if self._reply is not None else None, self._complete_at,
                     self._delayed[0] if self._delayed is not None else None, self._cancel_at]
        return min((d for d in deadlines if d is not None), default=None)

    def tick(self, now: float) -> list[dict[str, Any]]:
        late: list[dict[str, Any]] = []
        if self._cancel_at is not None and now >= self._cancel_at:
            self._cancel_at = None
            late += self._cancel_calls(now)
        if self._complete_at is not None and now >= self._complete_at:
            self._complete_at = None
            late = [{"serverContent": {"turnComplete": True}}]  # of the turn interrupted earlier
        if self._delayed is not None and now >= self._delayed[0]:
            _, pcm, transcript = self._delayed
            self._delayed = None
            late += self._start_reply(pcm, transcript, now)
        late += self._tick_reply(now)
        if self._queued and (self._reply is None or self._reply.done) and not self._speaking:
            late += self._start_reply(*self._queued.popleft(), now) + self._tick_reply(now)
        return late

    def _tick_reply(self, now: float) -> list[dict[str, Any]]:
        reply = self._reply
        if reply is None or reply.done:
            return []
        out: list[dict[str, Any]] = []
        due = reply.due_bytes(now)
        while reply.sent < due:
            piece = reply.pcm[reply.sent : reply.sent + reply.chunk_bytes]
            reply.sent += len(piece)
            out.append(self._audio(piece))
            out += self._alongside(reply)
        if reply.sent >= len(reply.pcm):
            out += self._finish_turn(reply)
        return out

    def _alongside(self, reply: _Reply) -> list[dict[str, Any]]:
        """What goes out with the reply's audio so far: transcription pieces, and halfway a frame of a new type."""
        out: list[dict[str, Any]] = []
        while reply.pieces_sent < len(reply.pieces) and reply.sent >= reply.pieces_sent * len(reply.pcm) / len(
                reply.pieces):
            out.append({"serverContent": {"outputTranscription": {"text": reply.pieces[reply.pieces_sent]}}})
            reply.pieces_sent += 1
        if not reply.newer_sent and reply.sent >= len(reply.pcm) / 2:
            reply.newer_sent = True
            out.append(NEWER_MESSAGE)
        return out

    # -- client messages -----------------------------------------------------
    def start(self, now: float) -> list[dict[str, Any]]:
        """Messages right after setupComplete."""
        return [self._handle()] if self.resumption else []

    def feed(self, message: dict[str, Any], now: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        realtime = get(message, "realtimeInput", "realtime_input")
        if isinstance(realtime, dict):
            for pcm in audio_chunks(realtime):
                out += self._listen(pcm, now)
            if get(realtime, "activityStart", "activity_start") is not None:
                out += self._speech_started(now)
            if get(realtime, "audioStreamEnd", "audio_stream_end") or get(realtime, "activityEnd", "activity_end") is not None:
                out += self._speech_ended(now)
            text = get(realtime, "text")
            if text:
                out += self._interrupt(now) + self._typed(str(text), now)
        content = get(message, "clientContent", "client_content")
        if isinstance(content, dict):
            texts = [get(p, "text") for turn in (get(content, "turns") or []) for p in (get(turn, "parts") or [])]
            said = " ".join(t for t in texts if t)
            if said and get(content, "turnComplete", "turn_complete"):
                out += self._interrupt(now) + self._respond(beep(), f"You said: {said}", now)
        if (response := get(message, "toolResponse", "tool_response")) is not None and self._calls:
            out += self._tool_results(response, now)
        elif get(message, "toolResponse", "tool_response") is not None and self._held is not None:
            pcm, transcript = self._held
            self._held = None
            if self.options.empty_turn_after_tool:
                # Vertex: a turn with a finished transcription and nothing else, then the answer in the next turn.
                out += [{"serverContent": {"outputTranscription": {"finished": True}}},
                        {"serverContent": {"turnComplete": True}}]
                self._delayed = (now + self.options.empty_turn_gap_s, pcm, transcript)
            else:
                out += self._start_reply(pcm, transcript, now)
        return out + self.tick(now)

    # -- tools -----------------------------------------------------------------
    def _typed(self, text: str, now: float) -> list[dict[str, Any]]:
        """A typed line: a call for declared functions, a cancellation, or text to echo."""
        if self.cancellation and text.strip().lower() == "cancel":
            return self._cancel_calls(now)
        parsed = parse_calls(text)
        if parsed is None:
            return self._respond(beep(), f"You said: {text}", now)
        calls, then_cancel = parsed
        then_cancel = then_cancel and self.cancellation
        unknown = [name for name, _ in calls if name not in self.functions]
        if unknown:
            declared = ", ".join(sorted(self.functions)) or "none"
            return self._start_reply(beep(), f"No function {unknown[0]} was declared (declared: {declared}).", now)
        function_calls = []
        for name, args in calls:
            self._call_ids += 1
            call_id = f"echo-call-{self._call_ids}"
            self._calls[call_id] = name
            function_calls.append({"id": call_id, "name": name, "args": args})
        self._results = []
        if then_cancel:
            self._cancel_at = now + CANCEL_AFTER_S / self.options.time_scale
        return [{"toolCall": {"functionCalls": function_calls}}]

    def _tool_results(self, response: dict[str, Any], now: float) -> list[dict[str, Any]]:
        for answer in get(response, "functionResponses", "function_responses") or []:
            call_id = get(answer, "id")
            if call_id in self._calls:
                name = self._calls.pop(call_id)
                said = json.dumps(get(answer, "response"), ensure_ascii=False, sort_keys=True)
                self._results.append(f"{name} returned {said}")
        if self._calls or not self._results:
            return []  # the model waits for every call it made
        said, self._results = "; ".join(self._results) + ".", []
        return self._start_reply(beep(), said, now)

    def _cancel_calls(self, now: float) -> list[dict[str, Any]]:
        if not self._calls:
            return self._start_reply(beep(), "There is no call to cancel.", now)
        ids, names = list(self._calls), sorted(set(self._calls.values()))
        self._calls.clear()
        self._results = []
        return [{"toolCallCancellation": {"ids": ids}}] + self._start_reply(
            beep(), f"Cancelled {', '.join(names)}.", now)

    # -- voice detection -----------------------------------------------------
    def _listen(self, pcm: bytes, now: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.manual_activity:
            if self._speaking:  # only audio inside activityStart .. activityEnd counts
                self._utterance += pcm
            return out
        data = self._pending + pcm
        usable = len(data) - len(data) % FRAME_BYTES
        self._pending = data[usable:]
        for start in range(0, usable, FRAME_BYTES):
            frame = data[start : start + FRAME_BYTES]
            voiced = rms_dbfs(frame) > self.options.threshold_dbfs
            if self._speaking:
                self._utterance += frame
                self._quiet = 0 if voiced else self._quiet + FRAME_MS
                if self._quiet >= self.options.end_silence_ms:
                    out += self._speech_ended(now)
                continue
            self._history.append(frame)
            self._voiced = self._voiced + FRAME_MS if voiced else 0
            if self._voiced >= self.options.start_ms:
                out += self._speech_started(now)
        return out

    def _speech_started(self, now: float) -> list[dict[str, Any]]:
        if self._speaking:
            return []
        self._speaking = True
        self._quiet = 0
        self._utterance = bytearray(b"".join(self._history))
        self._history.clear()
        self._voiced = 0
        out = self._interrupt(now)
        if self.options.newer_frames:
            self._spoke_at = now
            out.append({"voiceActivity": {"type": "ACTIVITY_START"}})
        return out

    def _speech_ended(self, now: float) -> list[dict[str, Any]]:
        if not self._speaking:
            return []
        self._speaking = False
        # drop the trailing silence that ended the utterance
        speech = bytes(self._utterance[: max(0, len(self._utterance) - self._quiet * IN_RATE // 1000 * 2)])
        self._utterance = bytearray()
        self._quiet = 0
        if not speech:
            return []
        seconds = len(speech) / (2 * IN_RATE)
        out: list[dict[str, Any]] = []
        if self.options.newer_frames:  # 3.x: the end of the user's speech, and frames with nothing in them
            offset = now - (self._spoke_at if self._spoke_at is not None else now)
            out += [{"voiceActivity": {"type": "ACTIVITY_END", "audioOffset": f"{offset:.3f}s"}}, {},
                    {"serverContent": {}}]
        out.append({"serverContent": {"inputTranscription": {"text": f"({seconds:.2f} s of speech)", "finished": True}}})
        return out + self._respond(resample(speech, IN_RATE, OUT_RATE), f"Echo of {seconds:.2f} s of speech.", now)

    # -- the model's turn ----------------------------------------------------
    def _respond(self, pcm: bytes, transcript: str, now: float) -> list[dict[str, Any]]:
        if self.options.tool_call and not self._tool_asked:
            self._tool_asked = True
            self._held = (pcm, transcript)
            return [{"toolCall": {"functionCalls": [{"id": "call-1", "name": "get_time", "args": {}}]}}]
        return self._start_reply(pcm, transcript, now)

    def _start_reply(self, pcm: bytes, transcript: str, now: float) -> list[dict[str, Any]]:
        if self._reply is not None and not self._reply.done:
            # Replacing the reply in progress would run both into one turn ("…speech.add returned …"),
            # its audio cut and never completed: this one starts when that turn ends (tick).
            self._queued.append((pcm, transcript))
            return []
        native = self.options.native_audio
        # Native-audio models think first: a thought part, before any audio (or text).
        thought = [{"serverContent": {"modelTurn": {"parts": [{"text": THOUGHT, "thought": True}]}}}] if native else []
        if self.text:
            # Text modality: the answer in one text part, then the turn's end.
            reply = _Reply(b"", transcript, now, self.options)
            reply.pieces = []  # the text part is the answer: no transcription
            words = len(transcript.split())
            return thought + [{"serverContent": {"modelTurn": {"parts": [{"text": transcript}]}}}] + self._finish_turn(
                reply, words)
        if native:
            self._reply = _Reply(pcm, transcript, now + self.options.thought_lead_s, self.options)
            return thought  # the transcription follows with the audio, in pieces
        self._reply = _Reply(pcm, transcript, now, self.options)
        return [{"serverContent": {"outputTranscription": {"text": transcript}}}]

    def _interrupt(self, now: float) -> list[dict[str, Any]]:
        """The user spoke over the reply: stop it, as Gemini does."""
        reply = self._reply
        if reply is None or not (reply.playing(now) or not reply.done):
            return []
        self._reply = None
        self.interruptions += 1
        out: list[dict[str, Any]] = [{"serverContent": {"interrupted": True}}]
        if not reply.done:
            reply.done = True
            self.turns += 1
            if self.options.interrupted_turn_complete_s > 0:
                self._complete_at = now + self.options.interrupted_turn_complete_s
            else:
                out.append({"serverContent": {"turnComplete": True}})
        return out

    def _finish_turn(self, reply: _Reply, tokens: int | None = None) -> list[dict[str, Any]]:
        reply.done = True
        self.turns += 1
        tokens_out = tokens or max(1, round(reply.duration * self.options.tokens_per_second))
        tokens_in = tokens_out + 10
        thoughts = len(THOUGHT.split()) if self.options.native_audio else 0
        usage: dict[str, Any] = {"promptTokenCount": tokens_in, "totalTokenCount": tokens_in + tokens_out + thoughts,
                                 # the system instruction and setup count as text, the user's speech as audio
                                 "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": tokens_in - 10},
                                                         {"modality": "TEXT", "tokenCount": 10}]}
        if not self.options.usage_without_response:
            # Vertex names the reply's count as generateContent does; the Gemini API as the Live docs do.
            usage["candidatesTokenCount" if self.vertex else "responseTokenCount"] = tokens_out
            usage["candidatesTokensDetails" if self.vertex else "responseTokensDetails"] = [
                {"modality": "TEXT" if self.text else "AUDIO", "tokenCount": tokens_out}]
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        out: list[dict[str, Any]] = [
            {"serverContent": {"generationComplete": True}},
            {"serverContent": {"turnComplete": True}, "usageMetadata": usage},  # together, as Gemini sends them
        ]
        if self.resumption:
            out.append(self._handle())
        rest = [{"serverContent": {"outputTranscription": {"text": piece}}} for piece in reply.pieces[reply.pieces_sent:]]
        reply.pieces_sent = len(reply.pieces)
        return rest + out

    def _audio(self, pcm: bytes) -> dict[str, Any]:
        data = base64.b64encode(pcm).decode()
        return {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": f"audio/pcm;rate={OUT_RATE}", "data": data}}]}}}

    def _handle(self) -> dict[str, Any]:
        self._handles += 1
        return {"sessionResumptionUpdate": {"newHandle": f"local-handle-{self._handles}", "resumable": True}}
