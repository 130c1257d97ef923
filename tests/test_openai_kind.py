"""The openai and azure kinds, with plain objects: the URL rule, the session's configuration, the translation of
realtime events, the error table, what the session sends (interruption, one response at a time), the player's
count of what was heard, and the local gateway's realtime echo model."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from tfy_live import events as ev
from tfy_live.config import resolve
from tfy_live.errors import Cause, ConfigError, GatewayError
from tfy_live.gateway.client import socket_url as any_socket_url
from tfy_live.gateway_openai.client import session_config, socket_url, websocket_base_url
from tfy_live.gateway_openai.errors import ERROR_CODES, error_event
from tfy_live.gateway_openai.live import History, RealtimeSession
from tfy_live.gateway_openai.translate import Reader, parse
from tfy_live.localgw.echo import EchoOptions
from tfy_live.localgw.realtime import RealtimeEcho
from tfy_live.player import Player
from tfy_live.shaping import ModelOptions, check_kind, model_options
from tfy_live.talk import ToolChoice, check_tools

GW = {"TFY_API_KEY": "sk-canary-key", "TFY_BASE_URL": "https://gw.example.com/api/llm", "TFY_LIVE_PROVIDER": "oa"}


def settings(**flags: Any) -> Any:
    return resolve({"provider_kind": "openai", **flags}, GW)


# -- settings and the URL rule ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["openai", "azure"])
def test_each_kind_has_its_own_default_model_and_voice(kind):
    s = settings(provider_kind=kind)
    assert (s.model, s.voice) == ("gpt-realtime", "marin")
    assert resolve({}, GW).voice == "Zephyr"  # gemini keeps its own
    assert settings(voice="CORAL").voice == "coral"


def test_the_url_rule_is_the_gateway_live_path_plus_the_sdks_realtime_suffix():
    s = settings(model="gpt-realtime-mini")
    assert websocket_base_url(s) == "wss://gw.example.com/api/llm/live/oa"
    assert socket_url(s) == "wss://gw.example.com/api/llm/live/oa/realtime?model=gpt-realtime-mini"
    assert any_socket_url(s) == socket_url(s)  # what `connecting:` and doctor show
    assert "sk-canary-key" not in socket_url(s)


def test_options_of_the_other_family_are_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"--affective-dialog applies to the gemini and vertex provider kinds only"):
        check_kind(model_options(affective_dialog=True), "openai")
    with pytest.raises(ConfigError, match=r"--turn-detection applies to the openai and azure provider kinds only"):
        check_kind(model_options(turn_detection="semantic", eagerness="high"), "gemini")
    with pytest.raises(ConfigError, match=r"--eagerness tunes semantic voice detection"):
        model_options(eagerness="high")
    check_kind(model_options(vad_silence_ms=300, system="hi"), "azure")  # shared options pass
    for gemini_tool in ("google_search", "code_execution"):  # the server's own tools: Gemini's only
        with pytest.raises(ConfigError, match=f"--{gemini_tool.replace('_', '-')} applies to the gemini and vertex"):
            check_kind(model_options(**{gemini_tool: True}), "azure")
    with pytest.raises(ConfigError, match=r"^--tool-mode non-blocking applies to the gemini and vertex provider kinds "
                                          r"only \(this is openai: .*\); drop it$"):
        check_tools(ToolChoice(mode="non-blocking"), "openai")
    assert check_tools(ToolChoice(mode="non-blocking"), "vertex") == []


@pytest.mark.parametrize("kind, given, refused", [
    ("vertex", {"eagerness": "low"}, "--eagerness"),  # not "add --turn-detection semantic", refused in turn
    ("gemini", {"vad_threshold": 0.3, "turn_detection": "semantic"}, "--turn-detection"),
    ("openai", {"vad_start": "high", "push_to_talk": True}, "--vad-start"),  # not "drop the --vad-* options"
    ("azure", {"compression": False, "compression_trigger_tokens": 10}, "--compression-trigger"),
    ("openai", {"code_execution": True}, "--code-execution"),  # no such thing in the realtime API
])
def test_an_option_of_the_other_family_is_refused_before_how_options_combine(kind, given, refused):
    with pytest.raises(ConfigError, match=rf"^{refused} applies to the .* provider kinds only \(this is {kind}\)"):
        model_options(kind=kind, **given)
    model_options(kind="openai", turn_detection="semantic", eagerness="low", vad_silence_ms=None)
    model_options(kind="gemini", vad_start="high", code_execution=True)


def test_session_configuration_declares_pcm_24k_voice_detection_and_transcription():
    s = settings(voice="cedar")
    config = session_config(s, model_options(system="Be brief.", language="de-DE", vad_threshold=0.7,
                                             vad_silence_ms=400))
    assert config["type"] == "realtime" and config["instructions"] == "Be brief."
    assert config["output_modalities"] == ["audio"]
    audio = config["audio"]
    assert audio["input"]["format"] == audio["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio["output"]["voice"] == "cedar"
    assert audio["input"]["turn_detection"] == {"type": "server_vad", "create_response": True,
                                                "interrupt_response": True, "threshold": 0.7,
                                                "silence_duration_ms": 400}
    assert audio["input"]["transcription"] == {"model": "whisper-1", "language": "de"}
    semantic = session_config(s, model_options(turn_detection="semantic", eagerness="low"))
    assert semantic["audio"]["input"]["turn_detection"]["eagerness"] == "low"
    manual = session_config(s, model_options(push_to_talk=True), transcripts=False)
    assert manual["audio"]["input"]["turn_detection"] is None and "transcription" not in manual["audio"]["input"]
    assert session_config(s, ModelOptions(modality="text"))["output_modalities"] == ["text"]
    assert "tools" not in config and "tool_choice" not in config  # no MCP servers: nothing declared


def test_the_functions_are_declared_as_the_gemini_kinds_declare_them():
    schema = {"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"]}
    options = ModelOptions(tools=(ev.ToolSpec("add", "Add two numbers.", schema), ev.ToolSpec("now", "", {})))
    config = session_config(settings(), options)
    assert config["tool_choice"] == "auto"
    assert config["tools"] == [
        {"type": "function", "name": "add", "description": "Add two numbers.", "parameters": schema},
        {"type": "function", "name": "now", "description": "", "parameters": {}}]


# -- translation ----------------------------------------------------------------------------------------------------
def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()


def test_a_response_translates_to_audio_transcripts_usage_and_its_end():
    reader = Reader()
    assert reader.read({"type": "session.created", "session": {"id": "sess_1"}}) == [ev.SetupComplete("sess_1")]
    assert reader.read({"type": "response.created", "response": {"id": "r1"}}) == []
    assert reader.read({"type": "response.output_audio.delta", "item_id": "it1", "delta": b64(b"\x01\x00" * 4)}) == [
        ev.Audio(b"\x01\x00" * 4, 24000, "it1")]
    assert reader.read({"type": "response.output_audio_transcript.delta", "delta": "Hel"}) == [
        ev.OutputTranscript("Hel")]
    done = reader.read({"type": "response.done", "response": {"status": "completed", "usage": {
        "input_tokens": 30, "output_tokens": 12, "total_tokens": 42,
        "input_token_details": {"audio_tokens": 20, "text_tokens": 10, "cached_tokens": 5},
        "output_token_details": {"audio_tokens": 9, "text_tokens": 3}}}})
    assert done == [ev.Usage(30, 12, 42, None, {"AUDIO": 20, "TEXT": 10}, {"AUDIO": 9, "TEXT": 3}),
                    ev.TurnComplete(None)]
    assert reader.read({"type": "response.done", "response": {"status": "cancelled"}}) == [
        ev.TurnComplete("cancelled")]


def test_the_calls_of_a_response_come_out_together_when_it_is_done():
    reader = Reader()
    reader.read({"type": "response.created", "response": {}})
    assert reader.read({"type": "response.function_call_arguments.done", "call_id": "c1", "name": "get_time",
                        "arguments": '{"tz": "UTC"}'}) == []  # its item is not finished: nothing to answer yet
    reader.read({"type": "response.function_call_arguments.done", "call_id": "c2", "name": "add",
                 "arguments": "not json"})
    done = {"type": "response.done", "response": {"status": "completed", "output": [
        {"type": "function_call", "status": "completed", "call_id": "c1", "name": "get_time",
         "arguments": '{"tz": "UTC"}'},  # read once, not twice
        {"type": "function_call", "status": "completed", "call_id": "c3", "name": "add", "arguments": '{"a": 1}'},
        {"type": "function_call", "status": "incomplete", "call_id": "c4", "name": "add", "arguments": '{"a'}]}}
    calls = (ev.FunctionCall("c1", "get_time", {"tz": "UTC"}), ev.FunctionCall("c2", "add", {}),
             ev.FunctionCall("c3", "add", {"a": 1}))
    assert reader.read(done) == [ev.ToolCall(calls), ev.TurnComplete(None)]
    assert reader.read({"type": "response.done", "response": {}}) == [ev.TurnComplete(None)]  # none carried over


def test_speech_started_is_an_interruption_only_while_the_model_may_be_speaking():
    reader = Reader()
    assert reader.read({"type": "input_audio_buffer.speech_started"}) == []  # nobody was speaking
    reader.read({"type": "input_audio_buffer.speech_stopped"})
    reader.read({"type": "response.created"})
    assert reader.read({"type": "input_audio_buffer.speech_started"}) == [ev.Interrupted()]
    assert reader.server_cancels and reader.user_speaking  # the server cancels it: the client must not
    reader.read({"type": "response.done", "response": {}})
    reader.read({"type": "input_audio_buffer.speech_stopped"})
    reader.read({"type": "response.created"})
    reader.read({"type": "response.output_audio.delta", "item_id": "x", "delta": b64(b"\0\0")})
    reader.read({"type": "response.done", "response": {}})
    # Done generating, but its audio (sent faster than real time) may still be playing.
    assert reader.read({"type": "input_audio_buffer.speech_started"}) == [ev.Interrupted()]
    assert not reader.server_cancels


def test_user_transcripts_come_in_pieces_or_whole_and_odd_frames_are_read():
    reader = Reader()
    assert reader.read({"type": "conversation.item.input_audio_transcription.delta", "item_id": "u1",
                        "delta": "Hi "}) == [ev.InputTranscript("Hi ")]
    assert reader.read({"type": "conversation.item.input_audio_transcription.completed", "item_id": "u1",
                        "transcript": "Hi there"}) == [ev.InputTranscript("", True)]
    assert reader.read({"type": "conversation.item.input_audio_transcription.completed", "item_id": "u2",
                        "transcript": "Whole"}) == [ev.InputTranscript("Whole", True)]
    assert reader.read({"type": "rate_limits.updated", "rate_limits": []}) == []
    assert reader.read({"type": "response.brand_new_thing"}) == [ev.UnknownMessage(("response.brand_new_thing",))]
    assert reader.read({"type": "response.output_audio.delta", "delta": "%%%"}) == [
        ev.MalformedFrame("audio that is not base64")]
    assert parse(b"not json") == ev.MalformedFrame("not JSON")
    assert parse(b"[1]") == ev.MalformedFrame("not a realtime event")


# -- errors ---------------------------------------------------------------------------------------------------------
def error(code: str, message: str = "", kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "code": code, "message": message or code}}


@pytest.mark.parametrize("code, cause, retryable, fix", [
    ("invalid_api_key", None, False, "check TFY_API_KEY"),
    ("model_not_found", Cause.MODEL, False, "is a realtime model (type Realtime) on provider account 'oa'"),
    ("insufficient_quota", Cause.QUOTA, False, "quota is used up"),
    ("rate_limit_exceeded", None, True, "wait a moment"),
    ("session_expired", Cause.DEADLINE, True, "--replay-context"),
    ("server_error", Cause.UNAVAILABLE, True, "try again"),
])
def test_error_events_that_end_the_session_name_the_fix(code, cause, retryable, fix):
    meaning = error_event(error(code, "The thing failed."), settings())
    assert isinstance(meaning, GatewayError)
    assert (meaning.cause, meaning.retryable, meaning.exit_code) == (cause, retryable, 3)
    assert fix in str(meaning) and "\n" not in str(meaning) and "sk-canary-key" not in str(meaning)


def test_other_error_events_are_a_notice_except_at_setup_and_expected_races_say_nothing():
    assert isinstance(error_event(error("invalid_value", "Bad thing"), settings()), ev.Notice)
    at_setup = error_event(error("invalid_value", "Invalid voice"), settings(), setup=True)
    assert isinstance(at_setup, GatewayError) and "refused the session setup" in str(at_setup)
    assert error_event(error("response_cancel_not_active"), settings()) is None
    assert error_event(error("", "no code", kind="authentication_error"), settings()).retryable is False  # type: ignore[union-attr]
    assert set(ERROR_CODES) >= {"invalid_api_key", "model_not_found", "rate_limit_exceeded", "session_expired"}


# -- what the session sends -----------------------------------------------------------------------------------------
class FakeConnection:
    """Stands in for the SDK's AsyncRealtimeConnection: records each client event, plays ``frames``."""

    def __init__(self, frames: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.frames: asyncio.Queue[bytes] = asyncio.Queue()
        for frame in frames:
            self.play(frame)
        recorder = self

        class Resource:
            def __init__(self, prefix: str) -> None:
                self.prefix = prefix

            def __getattr__(self, name: str) -> Any:
                if name == "item":
                    return Resource(f"{self.prefix}.item")

                async def send(**fields: Any) -> None:
                    recorder.sent.append((f"{self.prefix}.{name}", fields))
                return send

        self.input_audio_buffer = Resource("input_audio_buffer")
        self.conversation = Resource("conversation")
        self.response = Resource("response")

    def play(self, frame: dict[str, Any]) -> None:
        self.frames.put_nowait(json.dumps(frame).encode())

    async def recv_bytes(self) -> bytes:
        return await self.frames.get()

    async def send_raw(self, data: str) -> None:
        event = json.loads(data)
        self.sent.append((event.pop("type"), event))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.sent]


async def until_turn_end(session: RealtimeSession) -> list[ev.Event]:
    return [event async for event in session.receive()]


async def test_interrupting_cancels_a_running_response_and_truncates_to_what_was_heard():
    connection = FakeConnection([{"type": "response.created"}])
    session = RealtimeSession(connection, settings(), reader=Reader(), history=History())
    receiving = asyncio.ensure_future(until_turn_end(session))
    await asyncio.sleep(0)
    await session.interrupt(ev.Heard("item_1", 1234))
    await session.interrupt(ev.Heard("item_1", 1234))  # the same cut, told twice: sent once
    assert connection.sent == [("response.cancel", {}),
                               ("conversation.item.truncate", {"item_id": "item_1", "content_index": 0,
                                                               "audio_end_ms": 1234})]
    receiving.cancel()


async def test_after_the_servers_own_interruption_the_client_only_truncates():
    connection = FakeConnection([{"type": "response.created"}, {"type": "input_audio_buffer.speech_started"}])
    session = RealtimeSession(connection, settings(), reader=Reader(), history=History())
    events = []
    async for event in session.receive():
        events.append(event)
        if isinstance(event, ev.Interrupted):
            break
    await session.interrupt(ev.Heard("item_9", 80))
    await session.interrupt(None)
    assert connection.kinds() == ["conversation.item.truncate"]


async def test_a_typed_line_waits_for_the_running_response_to_end_before_asking_for_its_own():
    connection = FakeConnection([{"type": "response.created"}])
    session = RealtimeSession(connection, settings(), reader=Reader(), history=History())
    receiving = asyncio.ensure_future(until_turn_end(session))
    await asyncio.sleep(0)
    await session.interrupt(None)
    await session.send_text("What time is it?")
    assert connection.kinds() == ["response.cancel", "conversation.item.create"]
    connection.play({"type": "response.done", "response": {"status": "cancelled"}})
    assert (await receiving)[-1] == ev.TurnComplete("cancelled")
    assert connection.kinds()[-1] == "response.create"  # now, at the cancelled response's end
    assert session._history.messages == [("user", "What time is it?")]


async def test_the_calls_of_one_response_are_answered_with_one_response_create():
    calls = [{"type": "response.function_call_arguments.done", "call_id": f"c{n}", "name": "add",
              "arguments": "{}"} for n in (1, 2)]
    connection = FakeConnection([{"type": "response.created"}, *calls,
                                 {"type": "response.done", "response": {"status": "completed"}}])
    session = RealtimeSession(connection, settings(), reader=Reader(), history=History())
    events = await until_turn_end(session)
    assert events[0] == ev.ToolCall((ev.FunctionCall("c1", "add"), ev.FunctionCall("c2", "add")))
    await session.send_tool_results([ev.ToolResult("c2", "add", {"output": 2})])
    assert connection.kinds() == ["conversation.item.create"]  # c1 is still running: the model waits for it
    await session.send_tool_results([ev.ToolResult("c1", "add", {"error": "déclined"})])
    assert connection.sent == [
        ("conversation.item.create", {"item": {"type": "function_call_output", "call_id": "c2",
                                               "output": '{"output": 2}'}}),
        ("conversation.item.create", {"item": {"type": "function_call_output", "call_id": "c1",
                                               "output": '{"error": "déclined"}'}}),
        ("response.create", {})]
    await session.send_tool_results([ev.ToolResult("c9", "add", {"output": 1})])  # awaited by no response: at once
    assert connection.kinds()[-2:] == ["conversation.item.create", "response.create"]


async def test_microphone_audio_goes_out_at_24_khz_and_push_to_talk_commits():
    connection = FakeConnection()
    session = RealtimeSession(connection, settings(), reader=Reader(), history=History(), manual=True)
    for _ in range(10):
        await session.send_audio(b"\x10\x00" * 320, 16000)  # 20 ms at 16 kHz
    sent = b"".join(base64.b64decode(fields["audio"]) for kind, fields in connection.sent
                    if kind == "input_audio_buffer.append")
    assert abs(len(sent) - 10 * 960) <= 8 * 2  # 200 ms at 24 kHz (cubic: a few samples held back)
    await session.activity_start()
    await session.activity_end()
    assert connection.kinds()[-3:] == ["input_audio_buffer.clear", "input_audio_buffer.commit", "response.create"]


# -- the player's count of what was heard ----------------------------------------------------------------------------
class ClockedSink:
    """A speaker with a buffer, on an injected clock: plays at its rate from the first write."""

    def __init__(self, clock: list[float], rate: int = 24000) -> None:
        self.sample_rate, self.clock, self.end = rate, clock, 0.0

    async def write(self, pcm: bytes) -> None:
        raise AssertionError("fed directly")

    def room(self) -> int:
        return 10**9

    def write_now(self, pcm: bytes) -> None:
        self.end = max(self.end, self.clock[0]) + len(pcm) / (2 * self.sample_rate)

    def queued_s(self) -> float:
        return max(0.0, self.end - self.clock[0])


async def test_the_player_reports_what_the_speaker_played_of_the_part_playing():
    clock = [0.0]
    player = Player(ClockedSink(clock))  # type: ignore[arg-type]
    running = asyncio.ensure_future(player.run())
    await asyncio.sleep(0)
    assert player.heard() is None
    player.put(b"\0\0" * 24000, 24000, "item_a")  # one second, handed to the sink at once
    clock[0] = 0.35
    assert player.heard() == ev.Heard("item_a", 350)
    player.put(b"\0\0" * 2400, 24000, "item_b")
    clock[0] = 1.05
    assert player.heard() == ev.Heard("item_b", 50)  # the new part, from its own start
    clock[0] = 2.0
    assert player.heard() is None  # played to its end: nothing to truncate
    player.put(b"\0\0" * 4800, 24000, None)
    assert player.heard() is None  # Gemini's audio names no part
    player.put(b"\0\0" * 4800, 24000, "item_c")
    player.interrupt()
    assert player.heard() is None  # read once, before the interrupt
    running.cancel()


# -- the local gateway's realtime echo model ------------------------------------------------------------------------
def tone(ms: int, rate: int = 24000, level: int = 8000) -> str:
    import numpy as np

    t = np.arange(rate * ms // 1000) / rate
    return b64((level * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes())


def test_the_realtime_echo_model_answers_speech_and_its_voice_detection_cancels_a_reply():
    echo = RealtimeEcho(EchoOptions(reply_speed=float("inf")))
    assert echo.start(0.0)[0]["type"] == "session.created"
    assert echo.feed({"type": "session.update", "session": {"type": "realtime"}}, 0.0)[0]["type"] == "session.updated"
    now, out = 0.0, []
    for chunk in [tone(20)] * 30 + [b64(b"\0\0" * 480)] * 30:
        now += 0.02
        out += echo.feed({"type": "input_audio_buffer.append", "audio": chunk}, now)
    kinds = [e["type"] for e in out]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("input_audio_buffer.speech_stopped") \
        < kinds.index("response.created") < kinds.index("response.output_audio.delta") < kinds.index("response.done")
    done = next(e for e in out if e["type"] == "response.done")
    assert done["response"]["status"] == "completed" and done["response"]["usage"]["output_tokens"] > 0
    item = next(e for e in out if e["type"] == "response.output_audio.delta")["item_id"]
    # The reply plays for about 0.6 s of notional time: speaking again now cuts it short.
    later = []
    for _ in range(5):
        now += 0.02
        later += echo.feed({"type": "input_audio_buffer.append", "audio": tone(20)}, now)
    assert "input_audio_buffer.speech_started" in [e["type"] for e in later]
    assert echo.model.interruptions == 1
    truncated = echo.feed({"type": "conversation.item.truncate", "item_id": item, "content_index": 0,
                           "audio_end_ms": 300}, now)
    assert truncated[0] == {"type": "conversation.item.truncated", "item_id": item, "content_index": 0,
                            "audio_end_ms": 300}
    assert echo.feed({"type": "response.cancel"}, now)[0]["error"]["code"] == "response_cancel_not_active"
    assert echo.feed({"type": "session.update", "session": {"audio": {"output": {"voice": "Puck"}}}},
                     now)[0]["error"]["code"] == "invalid_value"


def test_the_realtime_echo_model_calls_declared_functions_and_answers_with_their_outputs():
    echo = RealtimeEcho(EchoOptions(reply_speed=float("inf")))
    echo.start(0.0)
    tools = [{"type": "function", "name": "add", "description": "", "parameters": {}}]
    echo.feed({"type": "session.update", "session": {"type": "realtime", "tools": tools, "tool_choice": "auto"}}, 0.0)

    def typed(text: str) -> list[dict[str, Any]]:
        echo.feed({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": text}]}}, 0.0)
        return echo.feed({"type": "response.create"}, 0.0)

    def output(call_id: str, value: dict[str, Any]) -> None:
        echo.feed({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": call_id,
                                                                "output": json.dumps(value)}}, 0.0)

    def said(events: list[dict[str, Any]]) -> str:
        return "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")

    out = typed('call add {"a": 1}; call add {"a": 2}')
    assert [e["type"] for e in out] == ["response.created"] + [
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done"] * 2 + ["response.done"]
    items = out[-1]["response"]["output"]
    assert [(i["type"], i["status"], i["name"], json.loads(i["arguments"])) for i in items] == [
        ("function_call", "completed", "add", {"a": 1}), ("function_call", "completed", "add", {"a": 2})]
    first, second = (i["call_id"] for i in items)
    assert out[1]["item"]["arguments"] == "" and out[3]["call_id"] == first
    output(first, {"output": 1})
    assert said(echo.feed({"type": "response.create"}, 0.0)) == "Still waiting for add."  # a response.create too soon
    output(second, {"error": "declined"})
    assert said(echo.feed({"type": "response.create"}, 0.0)) == (
        'add returned {"output": 1}; add returned {"error": "declined"}.')
    assert said(typed('call wipe {}')) == "No function wipe was declared (declared: add)."
    assert said(typed("cancel")) == "You said: cancel"  # the realtime API has no cancellation of calls
