import asyncio
import contextlib

import pytest

from tfy_live.conversation import TOOL_ERROR, Conversation
from tfy_live.endrule import EndRule
from tfy_live.errors import GatewayError, NoReplyError
from tests.fakes import FakeSession, FakeSink, FakeSource, Lines, RecordingReporter, WaitUntil, audio_msg, msg
from tests.timing import SECOND

MS20_16K = 640  # bytes in 20 ms of 16 kHz s16le
MS20_24K = 960


def tone(n_bytes: int, value: int) -> bytes:
    return value.to_bytes(2, "little", signed=True) * (n_bytes // 2)


def turn_complete():
    return msg(serverContent={"turnComplete": True})


def make(session, source=None, sink=None, rule=None):
    reporter = RecordingReporter()
    source = source or FakeSource([tone(MS20_16K, 100)])
    sink = sink or FakeSink(write_delay=0)
    conversation = Conversation(session, source, sink, reporter, rule=rule or EndRule(grace_s=0.05, reply_timeout_s=2))
    return conversation, reporter, source, sink


async def test_microphone_audio_is_forwarded_in_order_then_the_stream_is_ended():
    chunks = [tone(MS20_16K, i) for i in range(1, 30)]
    session = FakeSession([audio_msg(tone(MS20_24K, 5)), turn_complete()])
    conversation, _, source, _ = make(session, FakeSource(chunks))
    await conversation.run()
    audio = [data for kind, data in session.sent if kind == "audio"]
    assert audio == chunks
    assert session.sent_kinds()[len(chunks)] == "audio_end"
    assert source.asked_frames == 320  # 20 ms at 16 kHz
    assert source.closed


async def test_interrupted_drops_queued_audio_at_once_not_at_turn_end():
    sink = FakeSink()  # real-time speaker: 20 ms per slice
    two_seconds = tone(2 * 24000 * 2, 7)
    session = FakeSession([
        audio_msg(two_seconds),
        WaitUntil(lambda: len(sink.writes) >= 3),
        msg(serverContent={"interrupted": True}),
    ])
    source = FakeSource([tone(MS20_16K, 1)] * 50, interval=0.02, finite=False)
    conversation, reporter, _, _ = make(session, source, sink)
    task = asyncio.create_task(conversation.run())
    await WaitUntil(lambda: "interrupted" in reporter.names()).wait()
    writes_at_interrupt = len(sink.writes)
    await asyncio.sleep(0.2)  # ten slices' worth of time
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # At most the slice that was already at the device finishes after the interruption.
    assert len(sink.writes) - writes_at_interrupt <= 1
    assert len(sink.data) < 10 * MS20_24K
    (dropped_ms,) = reporter.args_of("interrupted")[0]
    assert dropped_ms > 1800
    assert all(len(w) <= MS20_24K for w in sink.writes)
    assert sink.closed and source.closed


async def test_several_fields_in_one_message_are_each_handled():
    both = msg(
        serverContent={
            "modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": tone(MS20_24K, 9)}}]},
            "outputTranscription": {"text": "Hello"},
            "inputTranscription": {"text": "hi there", "finished": True},
            "generationComplete": True,
            "turnComplete": True,
        },
        usageMetadata={"promptTokenCount": 10, "responseTokenCount": 5, "totalTokenCount": 15},
        sessionResumptionUpdate={"newHandle": "h-1", "resumable": True},
    )
    session = FakeSession([both])
    conversation, reporter, _, sink = make(session)
    summary = await conversation.run()
    assert sink.data == tone(MS20_24K, 9)
    assert reporter.args_of("model_transcript") == [("Hello",)]
    assert reporter.args_of("user_transcript") == [("hi there", True)]
    (turn,) = reporter.args_of("turn_complete")[0]
    assert turn.index == 1 and turn.total_tokens == 15
    assert summary.turns == 1 and summary.total_tokens == 15 and summary.prompt_tokens == 10
    assert conversation.resumption_handle == "h-1"
    # the user's words are reported before the model starts its turn
    names = reporter.names()
    assert names.index("user_transcript") < names.index("model_turn_started") < names.index("turn_complete")


async def test_turn_boundaries_a_second_turn_is_received_after_the_first_completes():
    session = FakeSession([
        audio_msg(tone(MS20_24K, 1)), msg(serverContent={"outputTranscription": {"text": "one"}}), turn_complete(),
        audio_msg(tone(MS20_24K, 2)), msg(serverContent={"outputTranscription": {"text": "two"}}), turn_complete(),
    ])
    # A live microphone: the conversation ends after the second reply (--turns 2).
    source = FakeSource([tone(MS20_16K, 1)], finite=False)
    conversation, reporter, _, sink = make(session, source, rule=EndRule(max_turns=2))
    summary = await conversation.run()
    assert summary.turns == 2
    assert sink.data == tone(MS20_24K, 1) + tone(MS20_24K, 2)
    assert [n for n in reporter.names() if n in ("model_turn_started", "model_transcript", "turn_complete")] == [
        "model_turn_started", "model_transcript", "turn_complete",
        "model_turn_started", "model_transcript", "turn_complete",
    ]


async def test_transcripts_of_both_sides_are_reported_as_they_stream():
    session = FakeSession([
        msg(serverContent={"inputTranscription": {"text": "What "}}),
        msg(serverContent={"inputTranscription": {"text": "time is it?", "finished": True}}),
        msg(serverContent={"outputTranscription": {"text": "It is "}}),
        msg(serverContent={"outputTranscription": {"text": "noon."}}),
        turn_complete(),
    ])
    conversation, reporter, _, _ = make(session)
    await conversation.run()
    assert reporter.args_of("user_transcript") == [("What ", False), ("time is it?", True)]
    assert reporter.args_of("model_transcript") == [("It is ",), ("noon.",)]


async def test_a_tool_call_is_answered_with_an_error_so_the_model_does_not_wait():
    session = FakeSession([
        msg(toolCall={"functionCalls": [{"id": "c1", "name": "get_time", "args": {}},
                                        {"id": "c2", "name": "get_weather", "args": {"city": "Paris"}}]}),
        audio_msg(tone(MS20_24K, 3)),
        turn_complete(),
    ])
    conversation, reporter, _, _ = make(session)
    summary = await conversation.run()
    responses = [data for kind, data in session.sent if kind == "tool_response"]
    assert responses == [[("c1", "get_time", {"error": TOOL_ERROR}), ("c2", "get_weather", {"error": TOOL_ERROR})]]
    assert conversation.tool_calls == 2
    assert summary.turns == 1
    assert any("get_time" in args[0] for args in reporter.args_of("notice"))


async def test_the_reply_is_played_to_the_end_before_a_file_conversation_ends():
    sink = FakeSink()
    reply = tone(10 * MS20_24K, 4)
    session = FakeSession([
        WaitUntil(lambda: ("audio_end", None) in session.sent),
        audio_msg(reply), turn_complete(),
    ])
    conversation, _, _, _ = make(session, sink=sink)
    await conversation.run()
    assert sink.data == reply


async def test_no_reply_to_a_file_is_an_error():
    session = FakeSession([])
    conversation, _, _, _ = make(session, rule=EndRule(reply_timeout_s=0.1))
    with pytest.raises(NoReplyError, match="did not reply"):
        await conversation.run()


async def test_a_session_error_ends_the_conversation_and_releases_the_devices():
    session = FakeSession([GatewayError("connection closed with code 1011")])
    source = FakeSource([tone(MS20_16K, 1)], finite=False)
    conversation, _, _, sink = make(session, source)
    with pytest.raises(GatewayError, match="1011"):
        await conversation.run()
    assert source.closed and sink.closed


# -- typing, push-to-talk, text chat, recording ------------------------------------------------

async def test_a_typed_line_is_sent_as_text_and_stops_the_reply_that_is_playing():
    sink = FakeSink()  # real time: the two-second reply is still playing when the line comes
    lines = Lines()
    session = FakeSession([audio_msg(tone(2 * 24000 * 2, 7)), WaitUntil(lambda: len(sink.writes) >= 3)])
    source = FakeSource([tone(MS20_16K, 1)] * 5, interval=0.02, finite=False)
    reporter = RecordingReporter()
    conversation = Conversation(session, source, sink, reporter, rule=EndRule(), lines=lines)
    task = asyncio.create_task(conversation.run())
    await WaitUntil(lambda: len(sink.writes) >= 3).wait()
    lines.type("  what time is it?  ")
    await WaitUntil(lambda: ("text", "what time is it?") in session.sent).wait()
    writes = len(sink.writes)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(sink.writes) - writes <= 1  # the queued reply was dropped at once
    assert conversation.player.dropped_bytes > 24000 * 2  # more than a second of it
    assert reporter.args_of("user_typed") == [("what time is it?",)]


async def test_push_to_talk_sends_only_the_audio_between_the_two_enters():
    lines = Lines()
    chunks = [tone(MS20_16K, i) for i in range(1, 200)]
    source = FakeSource(chunks, interval=0.005, finite=False)
    session = FakeSession()
    reporter = RecordingReporter()
    conversation = Conversation(session, source, FakeSink(write_delay=0), reporter, rule=EndRule(), lines=lines,
                                push_to_talk=True)
    task = asyncio.create_task(conversation.run())
    await asyncio.sleep(0.05)
    lines.type("")  # Enter: start speaking
    await WaitUntil(lambda: "activity_start" in session.sent_kinds()).wait()
    await asyncio.sleep(0.05)
    lines.type("")  # Enter: done
    await WaitUntil(lambda: "activity_end" in session.sent_kinds()).wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kinds = session.sent_kinds()
    start, end = kinds.index("activity_start"), kinds.index("activity_end")
    assert kinds[:start] == []  # nothing before the first Enter
    assert set(kinds[start + 1:end]) == {"audio"} and end - start > 3
    assert "audio" not in kinds[end + 1:]  # nothing after the second
    sent = [data for kind, data in session.sent if kind == "audio"]
    assert sent == chunks[chunks.index(sent[0]):chunks.index(sent[0]) + len(sent)]  # in order, none skipped
    assert reporter.args_of("push_to_talk") == [(True,), (False,)]


async def test_text_chat_waits_for_each_reply_and_ends_after_the_last():
    def reply(text: str):
        return [msg(serverContent={"modelTurn": {"parts": [{"text": text}]}}),
                msg(serverContent={"turnComplete": True}, usageMetadata={"promptTokenCount": 3, "totalTokenCount": 5})]

    session = FakeSession([
        WaitUntil(lambda: session.sent_kinds().count("text") >= 1), *reply("Paris."),
        WaitUntil(lambda: session.sent_kinds().count("text") >= 2), *reply("About 2.1 million."),
    ])
    reporter = RecordingReporter()
    conversation = Conversation(session, None, FakeSink(write_delay=0), reporter, rule=EndRule(grace_s=0),
                                lines=Lines("capital of France?", "", "its population?", None))
    summary = await asyncio.wait_for(conversation.run(), 5 * SECOND)
    assert session.sent == [("text", "capital of France?"), ("text", "its population?")]
    assert summary.turns == 2 and summary.total_tokens == 10
    assert reporter.args_of("model_text") == [("Paris.",), ("About 2.1 million.",)]
    # the second line was sent only after the first reply was complete
    names = reporter.names()
    assert names.index("turn_complete") < [i for i, n in enumerate(names) if n == "user_typed"][1]
    # At the start, after each reply, and after the empty line (a chat at a terminal shows its prompt again).
    assert names.count("ready") == 4


async def test_text_chat_without_a_reply_is_an_error():
    conversation = Conversation(FakeSession(), None, FakeSink(write_delay=0), RecordingReporter(),
                                rule=EndRule(reply_timeout_s=0.2), lines=Lines("hello?", None))
    with pytest.raises(NoReplyError, match="did not reply within"):
        await conversation.run()


async def test_the_recorder_hears_the_microphone_and_only_what_was_played():
    class Tape:
        def __init__(self) -> None:
            self.mic_bytes = self.played_bytes = 0

        def mic(self, pcm: bytes) -> None:
            self.mic_bytes += len(pcm)

        def played(self, pcm: bytes) -> None:
            self.played_bytes += len(pcm)

    sink = FakeSink()
    tape = Tape()
    session = FakeSession([audio_msg(tone(2 * 24000 * 2, 7)), WaitUntil(lambda: len(sink.writes) >= 5),
                           msg(serverContent={"interrupted": True})])
    source = FakeSource([tone(MS20_16K, 1)] * 10, interval=0.01, finite=False)
    reporter = RecordingReporter()
    conversation = Conversation(session, source, sink, reporter, rule=EndRule(), recorder=tape)
    task = asyncio.create_task(conversation.run())
    await WaitUntil(lambda: "interrupted" in reporter.names()).wait()
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tape.mic_bytes == 10 * MS20_16K
    assert tape.played_bytes - conversation.player.played_bytes in (0, MS20_24K)  # the slice at the device
    assert MS20_24K * 5 <= tape.played_bytes <= MS20_24K * 8  # cut where playback stopped, not 2 s


class ScriptedOnset:
    """Speech begins on the ``at``-th microphone chunk."""

    def __init__(self, at):
        self.at, self.fed = at, 0

    def feed(self, pcm):
        self.fed += 1
        return self.fed == self.at

    def reset(self):
        pass


def after(seconds):
    """A WaitUntil condition that is true ``seconds`` after it is first asked."""
    import time

    deadline = []

    def condition():
        if not deadline:
            deadline.append(time.monotonic() + seconds)
        return time.monotonic() >= deadline[0]

    return condition


async def test_a_local_barge_in_stops_playback_before_the_server_says_interrupted():
    from tfy_live.echoguard import EchoGuard

    sink = FakeSink()  # real time: 20 ms per slice
    two_seconds = tone(2 * 24000 * 2, 7)
    session = FakeSession([
        audio_msg(two_seconds),
        WaitUntil(lambda: conversation.local_barge_ins == 1),
        audio_msg(tone(MS20_24K * 10, 8)),  # the rest of the reply, sent before the server noticed
        WaitUntil(after(0.1)),  # the network round trip and the server's voice detection
        msg(serverContent={"interrupted": True}),
        audio_msg(tone(MS20_24K * 3, 9)),  # the answer to what the user said
        turn_complete(),
    ])
    source = FakeSource([tone(MS20_16K, 1)] * 60, interval=0.02, finite=False)
    guard = EchoGuard(onset=ScriptedOnset(at=5))
    conversation, reporter, _, _ = make(session, source, sink)
    conversation.guard = guard
    conversation.player.on_played = conversation._played
    task = asyncio.create_task(conversation.run())
    await WaitUntil(lambda: any(b"\x09\x00" in w for w in sink.writes) or task.done()).wait()
    if task.done():
        task.result()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    played = [w[:2] for w in sink.writes]
    # About five chunks (100 ms) of the reply, then nothing of it: not the rest that came after the barge-in.
    assert 3 <= played.count(b"\x07\x00") <= 8
    assert b"\x08\x00" not in played
    assert played[-1] == b"\x09\x00"  # the next turn is heard again
    notices = [args[0] for name, args in reporter.calls if name == "notice"]
    assert any("local barge-in" in n for n in notices)


async def test_a_barge_in_after_the_reply_has_all_arrived_does_not_silence_the_next_reply():
    from tfy_live.echoguard import EchoGuard

    sink = FakeSink()
    session = FakeSession([
        audio_msg(tone(2 * 24000 * 2, 7)),
        turn_complete(),  # the server is done sending; the reply still plays for two seconds
        WaitUntil(lambda: conversation.local_barge_ins == 1),
        audio_msg(tone(MS20_24K * 3, 9)),  # the answer to what the user said: no interrupted came first
        turn_complete(),
    ])
    source = FakeSource([tone(MS20_16K, 1)] * 60, interval=0.02, finite=False)
    conversation, _, _, _ = make(session, source, sink)
    conversation.guard = EchoGuard(onset=ScriptedOnset(at=5))
    conversation.player.on_played = conversation._played
    task = asyncio.create_task(conversation.run())
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(3 * SECOND):
            await WaitUntil(lambda: any(b"\x09\x00" in w for w in sink.writes) or task.done()).wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert conversation.local_barge_ins == 1
    assert any(w[:2] == b"\x09\x00" for w in sink.writes)


# -- what the real servers send (tests/realtraffic) -----------------------------------------------------

LOUD_16K = tone(MS20_16K, 8000)


async def test_an_empty_turn_after_a_tool_response_is_not_the_reply_to_a_file():
    """Vertex closes an empty turn (a finished transcription, nothing else) and answers in the next one."""
    session = FakeSession([
        WaitUntil(lambda: ("audio_end", None) in session.sent),
        msg(toolCall={"functionCalls": [{"id": "c1", "name": "get_time", "args": {}}]}),
        WaitUntil(lambda: "tool_response" in session.sent_kinds()),
        msg(serverContent={"outputTranscription": {"finished": True}}),
        turn_complete(),
        WaitUntil(after(0.3)),  # longer than the grace after the input
        msg(serverContent={"outputTranscription": {"text": "It is noon."}}),
        audio_msg(tone(MS20_24K * 3, 5)),
        turn_complete(),
    ])
    conversation, reporter, _, sink = make(session, rule=EndRule(grace_s=0.05, reply_timeout_s=5))
    summary = await conversation.run()
    assert sink.data == tone(MS20_24K * 3, 5)  # the answer was heard
    assert summary.turns == 1
    assert reporter.args_of("model_transcript") == [("It is noon.",)]
    assert reporter.names().count("model_turn_started") == 1


async def test_thought_parts_neither_start_the_reply_nor_stop_its_latency_clock():
    """Native-audio models think first; latency runs to the first audio handed to the speaker."""
    session = FakeSession([
        WaitUntil(lambda: ("audio_end", None) in session.sent),
        msg(serverContent={"modelTurn": {"parts": [{"text": "**Planning** the answer", "thought": True}]}}),
        WaitUntil(after(0.3)),
        audio_msg(tone(MS20_24K, 5)),
        msg(serverContent={"outputTranscription": {"text": "Hello."}}),
        msg(serverContent={"turnComplete": True},
            usageMetadata={"promptTokenCount": 10, "totalTokenCount": 45, "responseTokenCount": 15,
                           "thoughtsTokenCount": 20}),
    ])
    conversation, reporter, _, _ = make(session, FakeSource([LOUD_16K] * 5))
    summary = await conversation.run()
    (turn,) = reporter.args_of("turn_complete")[0]
    assert turn.latency_ms is not None and turn.latency_ms >= 300
    assert "model_text" not in reporter.names()  # the thought is not shown
    assert (turn.response_tokens, turn.thoughts_tokens) == (15, 20)
    assert summary.thoughts_tokens == 20


async def test_latency_waits_for_the_reply_s_first_audio_to_reach_the_speaker():
    """A transcript that comes first is shown, but the user hears the reply when its audio is played."""
    sink = FakeSink(write_delay=0)
    session = FakeSession([
        WaitUntil(lambda: ("audio_end", None) in session.sent),
        WaitUntil(after(0.35)),  # past the 0.3 s in which the user still counts as speaking
        msg(serverContent={"outputTranscription": {"text": "Hello."}}),
        WaitUntil(after(0.2)),
        audio_msg(tone(MS20_24K, 5)),
        turn_complete(),
    ])
    conversation, reporter, _, _ = make(session, FakeSource([LOUD_16K] * 5), sink)
    await conversation.run()
    (turn,) = reporter.args_of("turn_complete")[0]
    assert turn.latency_ms >= 550


async def test_in_text_the_first_non_thought_text_stops_the_latency_clock():
    session = FakeSession([
        WaitUntil(lambda: session.sent_kinds().count("text") == 1),
        msg(serverContent={"modelTurn": {"parts": [{"text": "thinking about it", "thought": True}]}}),
        WaitUntil(after(0.2)),
        msg(serverContent={"modelTurn": {"parts": [{"text": "Paris."}]}}),
        turn_complete(),
    ])
    reporter = RecordingReporter()
    conversation = Conversation(session, None, FakeSink(write_delay=0), reporter, rule=EndRule(grace_s=0),
                                lines=Lines("capital of France?", None))
    await asyncio.wait_for(conversation.run(), 5)
    (turn,) = reporter.args_of("turn_complete")[0]
    assert turn.latency_ms >= 200
    assert reporter.args_of("model_text") == [("Paris.",)]


async def test_text_chat_does_not_take_an_empty_turn_for_the_reply():
    session = FakeSession([
        WaitUntil(lambda: session.sent_kinds().count("text") == 1),
        msg(serverContent={"outputTranscription": {"finished": True}}), turn_complete(),
        WaitUntil(after(0.1)),
        msg(serverContent={"modelTurn": {"parts": [{"text": "Paris."}]}}), turn_complete(),
        WaitUntil(lambda: session.sent_kinds().count("text") == 2),
        msg(serverContent={"modelTurn": {"parts": [{"text": "2.1 million."}]}}), turn_complete(),
    ])
    reporter = RecordingReporter()
    conversation = Conversation(session, None, FakeSink(write_delay=0), reporter, rule=EndRule(grace_s=0),
                                lines=Lines("capital of France?", "its population?", None))
    summary = await asyncio.wait_for(conversation.run(), 5)
    assert summary.turns == 2
    # the second line waited for the real answer to the first
    names = reporter.names()
    assert names.index("model_text") < [i for i, n in enumerate(names) if n == "user_typed"][1]


async def test_frames_of_unknown_types_are_counted_and_each_type_reported_once():
    from tfy_live import events as ev

    session = FakeSession([
        ev.UnknownMessage(("liveTelemetry",)), ev.UnknownMessage(("liveTelemetry",)), ev.UnknownMessage(("other",)),
        ev.MalformedFrame("not JSON"),
        audio_msg(tone(MS20_24K, 5)), turn_complete(),
    ])
    conversation, reporter, _, _ = make(session)
    summary = await conversation.run()
    assert (summary.unknown_frames, summary.malformed_frames, summary.turns) == (3, 1, 1)
    notices = [args[0] for args in reporter.args_of("notice")]
    assert sum("liveTelemetry" in n for n in notices) == 1 and sum("(other)" in n for n in notices) == 1
