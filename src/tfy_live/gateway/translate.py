"""Translate one Gemini Live server message into tfy-live's events (``events.py``), once.

Pure: the input is anything shaped like ``google.genai.types.LiveServerMessage``
(attributes read with ``getattr``), or, for model audio, the raw frame. A message
may carry several fields at once (audio and a transcription, interrupted and
turn-complete, …), so each field is checked with its own ``if`` and the events
come out in the order a listener should act on them: an interruption first (so
stale audio is dropped before anything new is queued), then content, then the
turn's token usage, then the end-of-turn markers.

Frames the SDK cannot read are classified here too (``unreadable``): not JSON,
or a message type newer than the SDK, which is skipped rather than fatal.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any, Collection

from tfy_live.audio import OUTPUT_RATE
from tfy_live.events import (
    Audio, CodeResult, CodeRun, FunctionCall, Source, Sources, GenerationComplete, GoAway, InputTranscript, Interrupted, MalformedFrame, OutputTranscript,
    ResumptionUpdate, ServerEvent, SetupComplete, Text, ToolCall, ToolCallCancelled, TurnComplete, UnknownMessage,
    Usage,
)

_RATE = re.compile(r"rate=(\d+)")
_URLSAFE = str.maketrans("-_", "+/")


def audio_frame(frame: bytes | str) -> list[Audio] | None:
    """A raw server frame that carries model audio and nothing else, as events; None for any other frame.

    Twenty-five frames a second are model audio, ``{"serverContent": {"modelTurn": {"parts":
    [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "<base64>"}}]}}}``: read here,
    with the SDK's leniency (standard or URL-safe base64, padded or not), they skip the SDK's
    pydantic parse, most of the receive path's CPU. Anything else (another field, another part,
    base64 that does not decode) returns None and goes to the SDK.
    """
    try:
        message = json.loads(frame)
        if len(message) != 1:
            return None
        content = message["serverContent"]
        if len(content) != 1:
            return None
        turn = content["modelTurn"]
        parts = turn["parts"] if len(turn) == 1 else None
        if not parts:
            return None
        events: list[Audio] = []
        for part in parts:
            blob = part["inlineData"] if len(part) == 1 else None
            if not blob or len(blob) != 2:
                return None
            mime, data = blob["mimeType"], blob["data"]
            if not mime.startswith("audio/"):
                return None
            if "-" in data or "_" in data:
                data = data.translate(_URLSAFE)
            pcm = binascii.a2b_base64(data + "=" * (-len(data) % 4), strict_mode=True)
            if pcm:
                events.append(Audio(pcm, audio_rate(mime)))
        return events
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        return None


def audio_rate(mime_type: str | None, default: int = OUTPUT_RATE) -> int:
    """The sample rate declared in a mime type such as ``audio/pcm;rate=24000``."""
    match = _RATE.search(mime_type or "")
    return int(match.group(1)) if match else default


def parse_duration(value: Any) -> float | None:
    """Seconds in a protobuf duration: ``"50s"``, ``"1.5s"``, a timedelta or a number."""
    if value is None:
        return None
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().removesuffix("s")
    try:
        return float(text)
    except ValueError:
        return None


def unreadable(raw: bytes | str, known: Collection[str]) -> MalformedFrame | UnknownMessage | None:
    """Why the SDK could not parse ``raw``; None if it is an error report, which stays fatal.

    ``known``: the top-level keys the SDK reads (either spelling). google-genai
    3.6.1 fails on a frame whose only keys it does not know the same way as on
    ``{"error": …}`` (a TypeError); only the frame tells them apart. A frame of a
    message type newer than the SDK is well-formed: skip it and count it.
    """
    try:
        message = json.loads(raw)
    except (ValueError, TypeError):
        return MalformedFrame("not JSON")
    if not isinstance(message, dict):
        return MalformedFrame("not a Live message")
    if "error" in message or "code" in message:
        return None
    if any(key in known for key in message):
        return MalformedFrame("not a Live message")  # a type the SDK knows, with content its types refuse
    return UnknownMessage(tuple(str(key)[:40] for key in list(message)[:3]))


def _modalities(details: Any) -> dict[str, int]:
    """Per-modality token counts (``[{"modality": "AUDIO", "tokenCount": 58}, …]``) as ``{"AUDIO": 58}``."""
    counts: dict[str, int] = {}
    for item in details or ():
        modality = getattr(item, "modality", None)
        name = str(getattr(modality, "value", modality) or "UNSPECIFIED")
        counts[name] = counts.get(name, 0) + (getattr(item, "token_count", None) or 0)
    return counts


def _usage(usage: Any) -> Usage:
    # Vertex's candidatesTokenCount/candidatesTokensDetails reach us as the SDK's response_* fields.
    return Usage(
        getattr(usage, "prompt_token_count", None),
        getattr(usage, "response_token_count", None),
        getattr(usage, "total_token_count", None),
        getattr(usage, "thoughts_token_count", None),
        _modalities(getattr(usage, "prompt_tokens_details", None)),
        _modalities(getattr(usage, "response_tokens_details", None)),
    )


def _sources(grounding: Any) -> tuple[Source, ...]:
    """The web pages in grounding metadata (``groundingChunks[].web``), each once, in order."""
    seen: dict[str, Source] = {}
    for chunk in getattr(grounding, "grounding_chunks", None) or []:
        web = getattr(chunk, "web", None)
        url = getattr(web, "uri", None) if web is not None else None
        if url and url not in seen:
            seen[url] = Source(str(getattr(web, "title", None) or getattr(web, "domain", None) or ""), str(url))
    return tuple(seen.values())


def translate(message: Any) -> list[ServerEvent]:
    """Every event in ``message``, in the order to act on them."""
    events: list[ServerEvent] = []
    if (setup := getattr(message, "setup_complete", None)) is not None:
        events.append(SetupComplete(getattr(setup, "session_id", None)))

    content = getattr(message, "server_content", None)
    if content is not None:
        if getattr(content, "interrupted", None):
            events.append(Interrupted())
        if (transcription := getattr(content, "input_transcription", None)) is not None:
            if transcription.text or transcription.finished:
                events.append(InputTranscript(transcription.text or "", bool(transcription.finished)))
        turn = getattr(content, "model_turn", None)
        for part in (getattr(turn, "parts", None) or []) if turn is not None else []:
            blob = getattr(part, "inline_data", None)
            if blob is not None and blob.data and (blob.mime_type or "audio/pcm").startswith("audio/"):
                events.append(Audio(blob.data, audio_rate(blob.mime_type)))
            if getattr(part, "text", None):
                events.append(Text(part.text, bool(getattr(part, "thought", False))))
            if (code := getattr(part, "executable_code", None)) is not None and getattr(code, "code", None):
                language = getattr(code, "language", None)
                events.append(CodeRun(code.code, str(getattr(language, "value", language) or "PYTHON")))
            if (ran := getattr(part, "code_execution_result", None)) is not None:
                outcome = getattr(ran, "outcome", None)
                events.append(CodeResult(getattr(ran, "output", None) or "",
                                         str(getattr(outcome, "value", outcome) or "OUTCOME_OK")))
        if (grounding := getattr(content, "grounding_metadata", None)) is not None:
            if sources := _sources(grounding):
                events.append(Sources(sources))
        if (transcription := getattr(content, "output_transcription", None)) is not None:
            if transcription.text or transcription.finished:
                events.append(OutputTranscript(transcription.text or "", bool(transcription.finished)))
    if (usage := getattr(message, "usage_metadata", None)) is not None:
        events.append(_usage(usage))
    if content is not None:
        if getattr(content, "generation_complete", None):
            events.append(GenerationComplete())
        if getattr(content, "turn_complete", None):
            reason = getattr(content, "turn_complete_reason", None)
            events.append(TurnComplete(str(getattr(reason, "value", reason)) if reason else None))

    if (tool_call := getattr(message, "tool_call", None)) is not None:
        calls = tuple(
            FunctionCall(getattr(c, "id", None), getattr(c, "name", "") or "", dict(getattr(c, "args", None) or {}))
            for c in (getattr(tool_call, "function_calls", None) or [])
        )
        events.append(ToolCall(calls))
    if (cancel := getattr(message, "tool_call_cancellation", None)) is not None:
        events.append(ToolCallCancelled(tuple(getattr(cancel, "ids", None) or ())))
    if (update := getattr(message, "session_resumption_update", None)) is not None:
        events.append(ResumptionUpdate(getattr(update, "new_handle", None), bool(getattr(update, "resumable", False))))
    if (go_away := getattr(message, "go_away", None)) is not None:
        events.append(GoAway(parse_duration(getattr(go_away, "time_left", None))))
    # voiceActivity (3.1), voiceActivityDetectionSignal, and empty frames ({}, {"serverContent": {}}) carry nothing
    # a listener acts on: the server's own interrupted/turnComplete say what its voice detection decided.
    return events
