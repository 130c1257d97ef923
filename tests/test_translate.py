"""Gemini Live server messages into our events: each field once, in the order to act on them."""

import datetime

from tests.fakes import msg
from tfy_live import events as ev
from tfy_live.gateway import translate as tr


def test_each_field_becomes_its_event_interruption_first_end_markers_last():
    message = msg(
        serverContent={
            "turnComplete": True,
            "generationComplete": True,
            "outputTranscription": {"text": "Hi", "finished": True},
            "modelTurn": {"parts": [
                {"inlineData": {"mimeType": "audio/pcm;rate=16000", "data": b"\x01\x02"}},
                {"text": "thinking", "thought": True},
                {"text": "Hi!"},
            ]},
            "interrupted": True,
            "inputTranscription": {"text": "hello"},
        },
        usageMetadata={"promptTokenCount": 1, "responseTokenCount": 2, "totalTokenCount": 3},
        goAway={"timeLeft": "50s"},
        sessionResumptionUpdate={"newHandle": "h", "resumable": True},
        toolCall={"functionCalls": [{"id": "c1", "name": "f", "args": {"x": 1}}]},
        toolCallCancellation={"ids": ["c0"]},
        setupComplete={},
    )
    assert tr.translate(message) == [
        ev.SetupComplete(),
        ev.Interrupted(),
        ev.InputTranscript("hello", False),
        ev.Audio(b"\x01\x02", 16000),
        ev.Text("thinking", thought=True),
        ev.Text("Hi!"),
        ev.OutputTranscript("Hi", True),
        ev.Usage(1, 2, 3),
        ev.GenerationComplete(),
        ev.TurnComplete(),
        ev.ToolCall((ev.FunctionCall("c1", "f", {"x": 1}),)),
        ev.ToolCallCancelled(("c0",)),
        ev.ResumptionUpdate("h", True),
        ev.GoAway(50.0),
    ]


def test_empty_message_has_no_events():
    assert tr.translate(msg()) == []
    assert tr.translate(msg(serverContent={})) == []


def test_audio_rate_and_durations():
    assert tr.audio_rate("audio/pcm;rate=24000") == 24000
    assert tr.audio_rate("audio/pcm") == 24000
    assert tr.parse_duration("1.5s") == 1.5
    assert tr.parse_duration(datetime.timedelta(seconds=3)) == 3.0
    assert tr.parse_duration("soon") is None


def _sdk_events(frame: dict) -> list:
    """What the SDK's own parse of ``frame`` gives, translated."""
    import asyncio

    from google.genai import Client

    from tfy_live.gateway import sdk

    async def parse():
        return [event async for message in sdk.parse_frames(sdk.api_client(Client(api_key="unused")), [frame])
                for event in tr.translate(message)]

    return asyncio.run(parse())


def _audio(data: str, mime: str = "audio/pcm;rate=24000", parts: int = 1) -> dict:
    return {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": mime, "data": data}}] * parts}}}


def test_an_audio_frame_is_read_without_the_sdk_into_the_events_the_sdk_would_give():
    import base64
    import json

    pcm = bytes(range(256)) * 7 + b"\xfb\xff\x00\x01"  # padded; its base64 needs "+" and "/" (or "-" and "_")
    encodings = [base64.b64encode(pcm).decode(), base64.urlsafe_b64encode(pcm).decode(),
                 base64.urlsafe_b64encode(pcm).decode().rstrip("=")]
    assert any("-" in e for e in encodings) and encodings[2] != encodings[1]
    frames = [_audio(e) for e in encodings] + [_audio(encodings[0], "audio/pcm;rate=16000", parts=2),
                                               _audio(encodings[0], "audio/pcm")]
    for frame in frames:
        fast = tr.audio_frame(json.dumps(frame).encode())
        assert fast == _sdk_events(frame)
    assert tr.audio_frame(json.dumps(frames[3])) == [ev.Audio(pcm, 16000)] * 2


def test_every_other_frame_is_left_to_the_sdk():
    import json

    data = "AAECAw=="
    others = [
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": data}}]},
                           "outputTranscription": {"text": "hi"}}},  # audio and a transcript
        {"serverContent": {"modelTurn": {"parts": [{"text": "hi"}]}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": data}},
                                                   {"text": "hi"}]}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "image/png", "data": data}}]}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": data}}]}}},
        {"serverContent": {"modelTurn": {"parts": []}}},
        {"serverContent": {"turnComplete": True}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": data}}]}},
         "usageMetadata": {"totalTokenCount": 3}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": "A*B="}}]}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": "AAECA"}}]}}},
        {"goAway": {"timeLeft": "5s"}},
        [], "text", 3, None,
    ]
    for frame in others:
        assert tr.audio_frame(json.dumps(frame)) is None, frame
    assert tr.audio_frame(b"not json") is None
    assert tr.audio_frame(b"\xff\xfe") is None


# -- what the real servers send (tests/realtraffic) -------------------------------------------------------

def test_usage_keeps_thoughts_and_the_per_modality_details_and_a_missing_response_count_stays_unknown():
    # The cookbook's Gemini usage (snake_case, as the SDK printed it), plus a thoughts count.
    message = msg(usageMetadata={"promptTokenCount": 14, "responseTokenCount": 47, "totalTokenCount": 81,
                                 "thoughtsTokenCount": 20,
                                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 14}],
                                 "responseTokensDetails": [{"modality": "TEXT", "tokenCount": 47}]})
    assert tr.translate(message) == [ev.Usage(14, 47, 81, 20, {"TEXT": 14}, {"TEXT": 47})]
    # Gemini 3.1 sends usage without responseTokenCount: unknown, not zero.
    (usage,) = tr.translate(msg(usageMetadata={"promptTokenCount": 9, "totalTokenCount": 30}))
    assert usage.response_tokens is None and usage.thoughts_tokens is None and usage.response_details == {}


def _parsed(frame: dict, vertex: bool) -> list:
    """``frame`` through the SDK's parser for the Gemini or the Vertex kind, translated."""
    import asyncio

    from google.genai import Client

    from tfy_live.gateway import sdk

    client = Client(vertexai=True, project="p", location="us-central1") if vertex else Client(api_key="unused")

    async def parse():
        return [event async for message in sdk.parse_frames(sdk.api_client(client), [frame])
                for event in tr.translate(message)]

    return asyncio.run(parse())


def test_vertex_candidates_token_count_is_the_reply_s_count():
    # Vertex names the reply's tokens as generateContent does; the SDK maps them on the Vertex path only.
    frame = {"serverContent": {"turnComplete": True},
             "usageMetadata": {"promptTokenCount": 69, "candidatesTokenCount": 176, "totalTokenCount": 245,
                               "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 58},
                                                       {"modality": "TEXT", "tokenCount": 11}],
                               "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 26},
                                                           {"modality": "AUDIO", "tokenCount": 150}]}}
    usage, _ = _parsed(frame, vertex=True)
    assert usage == ev.Usage(69, 176, 245, None, {"AUDIO": 58, "TEXT": 11}, {"TEXT": 26, "AUDIO": 150})


def test_frames_the_sdk_cannot_parse_are_told_apart():
    known = {"serverContent", "server_content", "voiceActivity"}
    assert tr.unreadable(b"this is not JSON {", known) == ev.MalformedFrame("not JSON")
    assert tr.unreadable(b"[1, 2]", known) == ev.MalformedFrame("not a Live message")
    assert tr.unreadable(b'{"serverContent": {"turnComplete": "maybe"}}', known) == ev.MalformedFrame(
        "not a Live message")
    assert tr.unreadable(b'{"liveTelemetry": {"x": 1}}', known) == ev.UnknownMessage(("liveTelemetry",))
    # An error report is not skipped: it ends the session, in the gateway's words.
    assert tr.unreadable(b'{"error": {"code": 400, "message": "bad"}}', known) is None


def test_voice_activity_and_empty_frames_carry_nothing_to_act_on():
    for frame in ({}, {"serverContent": {}}, {"voiceActivity": {"type": "ACTIVITY_START"}},
                  {"voiceActivity": {"type": "ACTIVITY_END", "audioOffset": "1.2s"}}, {"sessionResumptionUpdate": {}},
                  {"serverContent": {"outputTranscription": {}}}):
        for vertex in (False, True):
            assert [e for e in _parsed(frame, vertex) if not isinstance(e, ev.ResumptionUpdate)] == [], frame
