"""The echo model behind OpenAI's realtime protocol: pure logic, no sockets, no sleeping.

``RealtimeEcho`` speaks the GA realtime events (``session.update``,
``input_audio_buffer.*``, ``conversation.item.*``, ``response.*``) on the outside
and drives ``echo.EchoModel`` inside, translating each way: the client's 24 kHz
audio is resampled to the model's 16 kHz, the model's Gemini-shaped messages
become ``response.output_audio.delta``, transcripts, ``response.done`` with usage.
Server VAD is the echo model's own voice detection: ``speech_started`` while a
reply is being sent or (in notional real time) played cancels the response, as
OpenAI's ``interrupt_response`` does. ``conversation.item.truncate`` is answered
and remembered (``truncated``), so tests can compare it with what was played;
at 0 ms it is refused as the real server refuses it, and ``conversation.item.delete``
is taken (``deleted``).

Tools: the functions ``session.update`` declares (``tools``, type function) are
the echo model's; a typed user message ``call NAME {json}`` (its grammar,
``echo.parse_calls``) gets a response whose output is one ``function_call`` item
per call (``output_item.added``, ``function_call_arguments.delta``/``done``,
``output_item.done``, ``response.done``). The ``function_call_output`` items are
kept until the client's ``response.create``; then the echo model, once every call
is answered, says what they returned (else it says which it still waits for).
The realtime API cancels no calls: ``cancel`` is text like any other.

Driven like ``EchoModel``: ``start(now)``, ``feed(event, now)``, ``tick(now)`` when
``next_deadline()`` passes; each returns the server events to send now.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

from tfy_live.audio.pcm import Resampler
from tfy_live.localgw.echo import IN_RATE, EchoModel, EchoOptions, decode_b64, get
from tfy_live.voices import OPENAI_VOICES

RATE = 24_000


class RealtimeEcho:
    def __init__(self, options: EchoOptions | None = None, *, model: str = "gpt-realtime") -> None:
        self.options = options or EchoOptions()
        self.model_name = model
        self.session: dict[str, Any] = {}
        self.model = EchoModel(self.options)
        self.manual = False  # turn_detection null: the client commits the buffer
        self.truncated: list[dict[str, Any]] = []  # conversation.item.truncate events, as received
        self.deleted: list[dict[str, Any]] = []  # conversation.item.delete events, as received
        self._down = Resampler(RATE, IN_RATE)
        self._ids = itertools.count(1)
        self._user_item: str | None = None
        self._response: str | None = None  # the running response's id
        self._item: str | None = None  # its audio item's id
        self._items: set[str] = set()  # every assistant item, for truncate
        self._cancelled = False
        self._output: list[dict[str, Any]] = []  # the running response's output items, as response.done lists them
        self._text: str | None = None  # a user text message waiting for response.create
        self._outputs: list[dict[str, Any]] = []  # function_call_output items waiting for response.create

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}"

    # -- the clock ---------------------------------------------------------------------------------------------
    def start(self, now: float) -> list[dict[str, Any]]:
        return [{"type": "session.created", "event_id": self._id("event"),
                 "session": {"id": self._id("sess"), "type": "realtime", "model": self.model_name}}]

    def next_deadline(self) -> float | None:
        return self.model.next_deadline()

    def tick(self, now: float) -> list[dict[str, Any]]:
        return self._drive(lambda: self.model.tick(now), now)

    # -- client events ---------------------------------------------------------------------------------------
    def feed(self, event: dict[str, Any], now: float) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "session.update":
            return self._configure(get(event, "session") or {})
        if kind == "input_audio_buffer.append":
            pcm = self._down.process(decode_b64(str(event.get("audio") or "")))
            data = base64.b64encode(pcm).decode()
            return self._drive(lambda: self.model.feed({"realtimeInput": {"audio": {"data": data}}}, now), now)
        if kind == "input_audio_buffer.commit":
            mark = "activityEnd" if self.manual else "audioStreamEnd"
            out = [{"type": "input_audio_buffer.committed", "item_id": self._user_item or self._id("item")}]
            return out + self._drive(lambda: self.model.feed({"realtimeInput": {mark: True}}, now), now)
        if kind == "input_audio_buffer.clear":
            out = [{"type": "input_audio_buffer.cleared"}]
            if self.manual:  # push-to-talk: the user's turn begins
                self._user_item = self._id("item")
                out += self._drive(lambda: self.model.feed({"realtimeInput": {"activityStart": {}}}, now), now)
            return out
        if kind == "conversation.item.create":
            item = get(event, "item") or {}
            item_id = str(item.get("id") or self._id("item"))
            if item.get("type") == "function_call_output":
                self._outputs.append({"id": item.get("call_id"), "response": _output(item.get("output"))})
            elif item.get("role") == "user":
                texts = [str(c.get("text")) for c in item.get("content") or [] if c.get("type") == "input_text"]
                self._text = " ".join(texts) or None
            return [{"type": "conversation.item.added", "item": {**item, "id": item_id}},
                    {"type": "conversation.item.done", "item": {**item, "id": item_id}}]
        if kind == "response.create":
            if self._response is not None:
                return [self._error("conversation_already_has_active_response",
                                    "Conversation already has an active response in progress.")]
            if self._outputs:
                answers, self._outputs = self._outputs, []
                out = self._drive(lambda: self.model.feed({"toolResponse": {"functionResponses": answers}}, now), now)
                if not any(e["type"] == "response.created" for e in out):  # the model waits: the API answers anyway
                    waiting = self.model.waiting_for
                    said = f"Still waiting for {', '.join(waiting)}." if waiting else "No call was waiting for that."
                    out += self._drive(lambda: self.model.say(said, now) + self.model.tick(now), now)
                return out
            if self._text is not None:
                text, self._text = self._text, None
                return self._drive(lambda: self.model.feed({"realtimeInput": {"text": text}}, now), now)
            return []  # the commit before it already started the echo
        if kind == "response.cancel":
            if self._response is None:
                return [self._error("response_cancel_not_active", "Cancellation failed: no active response found")]
            return self._drive(lambda: self.model.cancel(now), now)
        if kind == "conversation.item.truncate":
            self.truncated.append(event)
            item = str(event.get("item_id"))
            if item not in self._items:
                return [self._error("item_truncate_invalid_item_id", f"Item with item_id not found: {item}")]
            if not event.get("audio_end_ms"):  # as the real server answers (tests/realtraffic/openai, livekit #6158)
                return [self._error("unsupported_content_type", "Only model output audio messages can be truncated")]
            return [{"type": "conversation.item.truncated", "item_id": item, "content_index": event.get("content_index"),
                     "audio_end_ms": event.get("audio_end_ms")}]
        if kind == "conversation.item.delete":
            self.deleted.append(event)
            item = str(event.get("item_id"))
            if item not in self._items:
                return [self._error("item_delete_invalid_item_id", f"Item with item_id not found: {item}")]
            self._items.discard(item)
            return [{"type": "conversation.item.deleted", "item_id": item}]
        return [self._error("invalid_request_error", f"Unsupported event type: {kind!r}")]

    def _configure(self, session: dict[str, Any]) -> list[dict[str, Any]]:
        audio = get(session, "audio") or {}
        voice = get(get(audio, "output"), "voice")
        if voice is not None and voice not in OPENAI_VOICES:
            return [self._error("invalid_value", f"Invalid value: '{voice}'. Supported values are: "
                                f"{', '.join(repr(v) for v in OPENAI_VOICES)}.")]
        self.session = {**self.session, **session}
        input_audio = get(audio, "input") or {}
        self.manual = "turn_detection" in input_audio and input_audio["turn_detection"] is None
        text = (session.get("output_modalities") or ["audio"]) == ["text"]
        functions = {str(t["name"]) for t in self.session.get("tools") or []
                     if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)}
        self.model = EchoModel(self.options, text=text, manual_activity=self.manual, functions=functions,
                               cancellation=False)
        return [{"type": "session.updated", "session": {**self.session, "id": "sess_local"}}]

    # -- the echo model's messages, as realtime events -------------------------------------------------------
    def _drive(self, step: Any, now: float) -> list[dict[str, Any]]:
        """Run one step of the echo model; what it says, with the user's speech starts and ends, as events."""
        was = self.model.speaking
        messages = step()
        out: list[dict[str, Any]] = []
        if not self.manual and not was and self.model.speaking:
            self._user_item = self._id("item")
            out.append({"type": "input_audio_buffer.speech_started", "item_id": self._user_item,
                        "audio_start_ms": round(now * 1000)})
        if not self.manual and was and not self.model.speaking:
            item = self._user_item or self._id("item")
            out += [{"type": "input_audio_buffer.speech_stopped", "item_id": item, "audio_end_ms": round(now * 1000)},
                    {"type": "input_audio_buffer.committed", "item_id": item}]
        for message in messages:
            out += self._convert(message)
        return out

    def _convert(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        content = get(message, "serverContent") or {}
        out: list[dict[str, Any]] = []
        if content.get("interrupted"):
            self._cancelled = True
        if (heard := content.get("inputTranscription")) and heard.get("text"):
            out.append({"type": "conversation.item.input_audio_transcription.completed",
                        "item_id": self._user_item or self._id("item"), "content_index": 0,
                        "transcript": heard["text"]})
        if (said := content.get("outputTranscription")) and said.get("text"):
            out += self._begin() + [{"type": "response.output_audio_transcript.delta", "response_id": self._response,
                                     "item_id": self._item, "output_index": 0, "content_index": 0,
                                     "delta": said["text"]}]
        for part in (content.get("modelTurn") or {}).get("parts") or []:
            if "inlineData" in part:
                out += self._begin() + [{"type": "response.output_audio.delta", "response_id": self._response,
                                         "item_id": self._item, "output_index": 0, "content_index": 0,
                                         "delta": part["inlineData"]["data"]}]
            elif part.get("text") and not part.get("thought"):
                out += self._begin() + [{"type": "response.output_text.delta", "response_id": self._response,
                                         "item_id": self._item, "output_index": 0, "content_index": 0,
                                         "delta": part["text"]}]
        if (call := message.get("toolCall")) is not None:
            out += self._begin(message=False)
            for function in call.get("functionCalls") or []:
                out += self._function_call(function)
            out.append(self._done(None))
        if content.get("turnComplete"):
            out += self._begin() + [self._done(message.get("usageMetadata"))]
        return out

    def _begin(self, *, message: bool = True) -> list[dict[str, Any]]:
        """A response, if none is running; with ``message`` an assistant message item in it, if it has none."""
        out: list[dict[str, Any]] = []
        if self._response is None:
            self._response, self._item, self._cancelled, self._output = self._id("resp"), None, False, []
            out.append({"type": "response.created", "response": {"id": self._response, "status": "in_progress"}})
        if message and self._item is None:
            self._item = self._id("item")
            self._items.add(self._item)
            self._output.append({"id": self._item, "type": "message", "role": "assistant"})
            out.append({"type": "response.output_item.added", "response_id": self._response,
                        "output_index": len(self._output) - 1, "item": self._output[-1]})
        return out

    def _function_call(self, function: dict[str, Any]) -> list[dict[str, Any]]:
        """One function_call output item of the running response, streamed as the API streams it."""
        index, arguments = len(self._output), json.dumps(function.get("args") or {})
        item = {"id": self._id("item"), "type": "function_call", "status": "in_progress",
                "call_id": function.get("id"), "name": function.get("name"), "arguments": ""}
        done = {**item, "status": "completed", "arguments": arguments}
        self._output.append(done)
        where = {"response_id": self._response, "item_id": item["id"], "output_index": index,
                 "call_id": item["call_id"]}
        return [{"type": "response.output_item.added", "response_id": self._response, "output_index": index,
                 "item": item},
                {"type": "response.function_call_arguments.delta", **where, "delta": arguments},
                {"type": "response.function_call_arguments.done", **where, "name": item["name"],
                 "arguments": arguments},
                {"type": "response.output_item.done", "response_id": self._response, "output_index": index,
                 "item": done}]

    def _done(self, usage: dict[str, Any] | None) -> dict[str, Any]:
        response: dict[str, Any] = {"id": self._response, "status": "cancelled" if self._cancelled else "completed",
                                    "output": self._output}
        if usage:
            prompt = int(usage.get("promptTokenCount") or 0)
            reply = int(usage.get("responseTokenCount") or usage.get("candidatesTokenCount") or 0)
            audio_in = sum(int(d.get("tokenCount") or 0) for d in usage.get("promptTokensDetails") or []
                           if d.get("modality") == "AUDIO")
            response["usage"] = {"input_tokens": prompt, "output_tokens": reply, "total_tokens": prompt + reply,
                                 "input_token_details": {"audio_tokens": audio_in, "text_tokens": prompt - audio_in},
                                 "output_token_details": {"audio_tokens": reply}}
        self._response = self._item = None
        self._output = []
        return {"type": "response.done", "response": response}

    def _error(self, code: str, message: str) -> dict[str, Any]:
        return {"type": "error", "event_id": self._id("event"),
                "error": {"type": "invalid_request_error", "code": code, "message": message}}


def _output(text: Any) -> dict[str, Any]:
    """A function_call_output's output (a string, JSON by convention) as the echo model's function response."""
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        value = text
    return value if isinstance(value, dict) else {"output": value}
