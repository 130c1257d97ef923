import datetime

from tfy_live import events as ev
from tests.fakes import msg


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
    assert ev.translate(message) == [
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
    assert ev.translate(msg()) == []
    assert ev.translate(msg(serverContent={})) == []


def test_audio_rate_and_durations():
    assert ev.audio_rate("audio/pcm;rate=24000") == 24000
    assert ev.audio_rate("audio/pcm") == 24000
    assert ev.parse_duration("1.5s") == 1.5
    assert ev.parse_duration(datetime.timedelta(seconds=3)) == 3.0
    assert ev.parse_duration("soon") is None
