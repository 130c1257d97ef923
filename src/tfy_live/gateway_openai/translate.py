"""Translate OpenAI realtime server events (GA, as JSON objects) into tfy-live's events (``events.py``), once.

Pure, with the little state the protocol needs to read it (``Reader``, one per
connection): whether a response is being generated, which user items have had
transcript deltas, whether model audio came since the user last began to speak.

    session.created                                   SetupComplete(id)
    input_audio_buffer.speech_started                 Interrupted, if the model may be speaking
    conversation.item.input_audio_transcription.*     InputTranscript (deltas, then finished)
    response.output_audio.delta                       Audio(pcm, 24 kHz, item=item_id)
    response.output_audio_transcript.delta            OutputTranscript
    response.output_text.delta                        Text
    response.function_call_arguments.done             (kept until the response is done)
    response.done                                     ToolCall (the response's calls), Usage, TurnComplete
    error                                             (the caller's: ``errors.error_event``)

The calls of a response come out together when it is done, as Gemini's one
``toolCall`` does: the realtime API takes a call's output only for a finished
function_call item, and all of them are answered with one ``response.create``
(``live.RealtimeSession.send_tool_results``).

The beta protocol's names (``gpt-4o-realtime-preview`` behind a beta endpoint,
e.g. an Azure preview deployment) are read as the GA names they became
(``BETA_NAMES``: ``response.audio.delta`` is ``response.output_audio.delta``…),
as recorded beta traffic shows them (tests/realtraffic/openai).

Every other known type is bookkeeping (``IGNORED``); an unknown type is an
``UnknownMessage``, a frame that is not a JSON object a ``MalformedFrame``.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from tfy_live.events import (
    Audio, FunctionCall, InputTranscript, Interrupted, MalformedFrame, OutputTranscript, ServerEvent, SetupComplete,
    Text, ToolCall, TurnComplete, UnknownMessage, Usage,
)
from tfy_live.gateway_openai.client import INPUT_RATE

# The beta protocol's event names -> the GA names (the GA API renamed them; the bodies are the same).
BETA_NAMES = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
}

# Server events that carry nothing a listener acts on (the events above say what they mean).
IGNORED = frozenset({
    "session.updated", "conversation.created", "conversation.item.created", "conversation.item.added",
    "conversation.item.done", "conversation.item.retrieved", "conversation.item.truncated",
    "conversation.item.deleted", "conversation.item.input_audio_transcription.segment",
    "input_audio_buffer.committed", "input_audio_buffer.cleared",
    "input_audio_buffer.timeout_triggered", "input_audio_buffer.dtmf_event_received",
    "output_audio_buffer.started", "output_audio_buffer.stopped", "output_audio_buffer.cleared",
    "response.output_item.added", "response.output_item.done", "response.content_part.added",
    "response.content_part.done", "response.output_audio.done", "response.output_audio_transcript.done",
    "response.output_text.done", "response.function_call_arguments.delta", "rate_limits.updated",
    "response.mcp_call_arguments.delta", "response.mcp_call_arguments.done", "response.mcp_call.in_progress",
    "response.mcp_call.completed", "response.mcp_call.failed", "mcp_list_tools.in_progress",
    "mcp_list_tools.completed", "mcp_list_tools.failed",
})


def parse(frame: bytes | str) -> dict[str, Any] | MalformedFrame:
    """A frame as a server event (a JSON object with a ``type``), or why it is not one."""
    try:
        event = json.loads(frame)
    except (ValueError, TypeError):
        return MalformedFrame("not JSON")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return MalformedFrame("not a realtime event")
    return event


def cut_short(response: dict[str, Any]) -> str | None:
    """Why a finished response is not complete, in the provider's words (``status`` and ``status_details``),
    for a response that was neither completed nor cancelled by tfy-live or the user's speech: ``incomplete``
    (e.g. ``max_output_tokens``, ``content_filter``) or ``failed`` without an error object. None otherwise."""
    status = response.get("status")
    if status not in ("incomplete", "failed"):
        return None
    details = obj(response.get("status_details"))
    if status == "failed" and isinstance(details.get("error"), dict):
        return None  # an error object: the caller reads it as an error event
    reason = details.get("reason")
    return f"{status}: {reason}" if isinstance(reason, str) and reason else str(status)


def usage(response: dict[str, Any]) -> Usage | None:
    """``response.usage`` as ``Usage``: input tokens as the prompt, output as the response, with per-modality details."""
    counts = response.get("usage")
    if not isinstance(counts, dict):
        return None

    def details(key: str) -> dict[str, int]:
        found = obj(counts.get(key))
        return {name.removesuffix("_tokens").upper(): int(found[name]) for name in ("audio_tokens", "text_tokens",
                                                                                   "image_tokens")
                if isinstance(found.get(name), int) and found[name]}

    def count(key: str) -> int | None:
        value = counts.get(key)
        return int(value) if isinstance(value, int) else None

    return Usage(count("input_tokens"), count("output_tokens"), count("total_tokens"), None,
                 details("input_token_details"), details("output_token_details"))


class Reader:
    """Reads one connection's server events, in order (see the module docstring)."""

    def __init__(self) -> None:
        self.responding = False  # between response.created and response.done
        self.user_speaking = False  # between speech_started and speech_stopped
        # The user's speech cut the running response short, and the server's voice detection cancels it itself
        # (interrupt_response): the client must not cancel it again.
        self.server_cancels = False
        self.spoke_since_speech = False  # model audio arrived since the user last began to speak
        self._transcribed: set[str] = set()  # user items whose transcript came in deltas
        self._calls: dict[str, FunctionCall] = {}  # the running response's function calls, by call_id
        self.session_id: str | None = None

    def read(self, event: dict[str, Any]) -> list[ServerEvent]:
        kind = BETA_NAMES.get(event["type"], event["type"])
        if kind == "response.output_audio.delta":
            try:
                pcm = binascii.a2b_base64(str(event.get("delta") or ""), strict_mode=True)
            except binascii.Error:
                return [MalformedFrame("audio that is not base64")]
            self.spoke_since_speech = True
            return [Audio(pcm, INPUT_RATE, _str(event.get("item_id")))] if pcm else []
        if kind == "response.output_audio_transcript.delta":
            return [OutputTranscript(str(event.get("delta") or ""))] if event.get("delta") else []
        if kind == "response.output_text.delta":
            return [Text(str(event.get("delta") or ""))] if event.get("delta") else []
        if kind == "response.created":
            self.responding, self.server_cancels = True, False
            return []
        if kind == "response.done":
            self.responding = self.server_cancels = False
            response = obj(event.get("response"))
            status = response.get("status")
            for item in response.get("output") or []:  # calls whose arguments.done was not seen (or not sent)
                if obj(item).get("type") == "function_call" and obj(item).get("status") in (None, "completed"):
                    self._call(obj(item))
            calls, self._calls = tuple(self._calls.values()), {}
            out: list[ServerEvent] = [ToolCall(calls)] if calls else []
            if (counted := usage(response)) is not None:
                out.append(counted)
            out.append(TurnComplete(None if status in (None, "completed") else str(status)))
            return out
        if kind == "input_audio_buffer.speech_started":
            # The user began to speak: an interruption if the model may be speaking (a response is being
            # generated, or its audio, sent faster than real time, may still be playing).
            was = self.responding or self.spoke_since_speech
            self.server_cancels = self.responding
            self.spoke_since_speech, self.user_speaking = False, True
            return [Interrupted()] if was else []
        if kind == "conversation.item.input_audio_transcription.delta":
            self._transcribed.add(str(event.get("item_id")))
            return [InputTranscript(str(event.get("delta") or ""))] if event.get("delta") else []
        if kind == "conversation.item.input_audio_transcription.completed":
            item = str(event.get("item_id"))
            if item in self._transcribed:  # already shown in pieces
                self._transcribed.discard(item)
                return [InputTranscript("", True)]
            return [InputTranscript(str(event.get("transcript") or ""), True)]
        if kind == "response.function_call_arguments.done":
            self._call(event)
            return []
        if kind == "session.created":
            session = obj(event.get("session"))
            self.session_id = _str(session.get("id"))
            return [SetupComplete(self.session_id)]
        if kind == "input_audio_buffer.speech_stopped":
            self.user_speaking = False
            return []
        if kind in IGNORED or kind == "conversation.item.input_audio_transcription.failed":
            return []
        return [UnknownMessage((kind[:40],))]

    def _call(self, event: dict[str, Any]) -> None:
        """Keep a finished function call (an arguments.done event or a function_call item) once per call_id."""
        try:
            args = json.loads(event.get("arguments") or "{}")
        except (ValueError, TypeError):
            args = {}
        call_id = _str(event.get("call_id"))
        key = call_id or _str(event.get("item_id") or event.get("id")) or f"#{len(self._calls)}"
        if key not in self._calls:
            self._calls[key] = FunctionCall(call_id, str(event.get("name") or ""),
                                            args if isinstance(args, dict) else {})


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a server may leave any field out)."""
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
