"""The replay of recorded traffic: the file parsed into a script (plain objects), then the script
played by the local gateway to a raw WebSocket client, then ``local-gateway --replay`` itself."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.cli_run import clean_env, tfy_live
from tfy_live.errors import ConfigError
from tfy_live.localgw import LocalGateway
from tfy_live.localgw.replay import (
    AwaitClient, ClientTurns, Close, Frame, Pause, Script, load, parse, seen_frame, wire_frame,
)

CORPUS = Path(__file__).resolve().parent / "realtraffic"
HEADER = {"source": "test", "licence": "test", "kind": "gemini", "model": "m", "note": "n", "shape": "wire"}
SETUP_COMPLETE = {"setupComplete": {}}


def script(*events: dict, **header: object) -> Script:
    return parse([json.dumps({**HEADER, **header}), *(json.dumps(e) for e in events)], "t.jsonl")


def frames(steps) -> list[dict]:
    return [step.message for step in steps if isinstance(step, Frame)]


# -- parsing ------------------------------------------------------------------------
def test_one_session_is_answered_with_setup_complete_then_plays_its_frames_and_close():
    (session,) = script({"prose": "hello"}, {"recv": {"goAway": {"timeLeft": "5s"}}}, {"after_s": 1.5},
                        {"close": {"code": 1011, "reason": "boom"}}).sessions
    assert frames(session.steps) == [SETUP_COMPLETE, {"goAway": {"timeLeft": "5s"}}]
    assert session.steps[-1] == Pause(1.5, 4)
    assert session.close == Close(1011, "boom", 5)


def test_a_recorded_setup_complete_first_is_the_answer_and_may_be_delayed():
    (session,) = script({"after_s": 2}, {"recv": {"setupComplete": {"sessionId": "s-1"}}}).sessions
    assert session.steps == (Pause(2.0, 2), Frame({"setupComplete": {"sessionId": "s-1"}}, 3))


def test_a_close_before_any_frame_closes_right_after_the_setup_unanswered():
    (session,) = script({"send": {"setup": {"model": "m"}}}, {"close": {"code": 1008, "reason": "no model"}}).sessions
    assert session.steps == () and session.close == Close(1008, "no model", 3)
    (slow,) = script({"after_s": 3}, {"close": {"code": 1011, "reason": "x"}}).sessions
    assert slow.steps == (Pause(3.0, 2),)  # a slow refusal
    (spoken,) = script({"send": {"realtimeInput": {"text": "hi"}}}, {"close": {"code": 1011, "reason": "x"}}).sessions
    assert frames(spoken.steps) == [SETUP_COMPLETE]  # the client spoke, so it had been answered


def test_an_http_event_refuses_the_upgrade_with_its_status_and_body():
    first, second, third = script({"http": {"status": 503, "body": "down"}}, {"session": "b"},
                                  {"http": {"status": 502, "body": {"error": {"code": 502}}}}, {"session": "c"},
                                  {"http": {"status": 504, "body": None}}).sessions
    assert (first.refuse.status, first.refuse.body, first.refuse.content_type) == (503, b"down", "text/plain")
    assert (second.refuse.body, second.refuse.content_type) == (b'{"error": {"code": 502}}', "application/json")
    assert third.refuse.body == b"" and third.steps == ()


def test_session_lines_split_connections_and_then_says_what_comes_after_the_last():
    lines = ({"prose": "before the first session line"}, {"session": "one"}, {"close": {"code": 1007, "reason": "a"}},
             {"session": "two"}, {"session": "three"}, {"recv": {"serverContent": {"turnComplete": True}}})
    repeat = script(*lines)
    assert [s.label for s in repeat.sessions] == ["one", "two", "three"]  # an empty session is still a connection
    assert frames(repeat.sessions[1].steps) == [SETUP_COMPLETE]
    assert repeat.session(0).close.code == 1007 and repeat.session(7) is repeat.sessions[2]
    echo = script(*lines, then="echo")
    assert echo.session(2) is echo.sessions[2] and echo.session(3) is None
    assert repeat.with_then("echo").session(3) is None and echo.with_then(None).then == "echo"
    frames_first = script({"recv": {}}, {"session": "2"}, {"recv": {}})
    assert len(frames_first.sessions) == 2 and frames_first.sessions[0].label is None  # lines before: the first
    unsent_close = script({"close": {"code": None, "reason": "x"}}, {"session": "2"})
    assert len(unsent_close.sessions) == 2


def test_send_events_make_the_next_frames_wait_for_one_client_turn_each_run():
    (session,) = script({"send": {"setup": {}}}, {"recv": {"a": 1}}, {"send": {"realtimeInput": {"text": "hi"}}},
                        {"prose": "abridged"}, {"send": {"realtimeInput": {"audioStreamEnd": True}}},
                        {"recv": {"b": 2}}, {"send": {"toolResponse": {}}}, {"recv": {"c": 3}}).sessions
    kinds = [type(step).__name__ for step in session.steps]
    assert kinds == ["Frame", "Frame", "AwaitClient", "Frame", "AwaitClient", "Frame"]
    assert session.steps[2] == AwaitClient(4)


def test_seen_events_become_minimal_frames_only_where_nothing_is_invented():
    assert seen_frame("setupComplete") == SETUP_COMPLETE
    assert seen_frame("serverContent.turnComplete") == {"serverContent": {"turnComplete": True}}
    assert seen_frame("server_content.generation_complete") == {"serverContent": {"generationComplete": True}}
    assert seen_frame("sessionResumptionUpdate") == {"sessionResumptionUpdate": {}}
    assert seen_frame("serverContent.modelTurn", "Brasília") == {
        "serverContent": {"modelTurn": {"parts": [{"text": "Brasília"}]}}}
    assert seen_frame("serverContent.outputTranscription", "hi") == {"serverContent": {"outputTranscription": {"text": "hi"}}}
    for skipped in ("serverContent.modelTurn", "toolCall", "goAway", "usageMetadata", "voiceActivity", "nonsense"):
        assert seen_frame(skipped) is None, skipped
    (session,) = script({"seen": "setupComplete", "prose": "body not quoted"}, {"seen": "toolCall"},
                        {"sdk_repr": "UsageMetadata(...)"}, {"seen": "serverContent.interrupted"}).sessions
    assert frames(session.steps) == [SETUP_COMPLETE, {"serverContent": {"interrupted": True}}]


def test_close_reason_null_is_empty_code_null_is_not_sent_and_said_and_1006_is_a_drop():
    (session,) = script({"close": {"code": 1008, "reason": None}}).sessions
    assert session.close == Close(1008, "", 2)
    unsent = script({"close": {"code": None, "reason": "Invalid JSON payload"}})
    assert unsent.sessions[0].close is None and frames(unsent.sessions[0].steps) == [SETUP_COMPLETE]
    assert unsent.notes == ("line 2: the close code was not recorded, so no close is sent there "
                            "(the connection stays open)",)
    assert script({"close": {"code": 1006, "reason": None}}).sessions[0].close.drop


def test_sdk_snake_dumps_become_wire_frames_of_the_files_kind():
    pcm = bytes([0xFB, 0xFF, 0xFE, 0x00] * 4)  # URL-safe base64 would hold - and _
    snake = {
        "server_content": {"model_turn": {"parts": [{"inline_data": {
            "data": base64.urlsafe_b64encode(pcm).decode(), "mime_type": "audio/pcm;rate=24000"}}]},
            "turn_complete": True},
        "usage_metadata": {"prompt_token_count": 3, "response_token_count": 4, "thoughts_token_count": None,
                           "response_tokens_details": [{"modality": "AUDIO", "token_count": 4}]},
        "tool_call": {"function_calls": [{"id": "c", "name": "f", "args": {"city_name": "Paris"}}]},
        "voice_activity": {"voice_activity_type": "ACTIVITY_START", "audio_offset": "0.2s"},
    }
    gemini = wire_frame(snake, "gemini")
    assert gemini["serverContent"]["modelTurn"]["parts"][0]["inlineData"] == {
        "data": base64.b64encode(pcm).decode(), "mimeType": "audio/pcm;rate=24000"}
    assert gemini["usageMetadata"] == {"promptTokenCount": 3, "responseTokenCount": 4,
                                       "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 4}]}
    assert gemini["toolCall"]["functionCalls"][0]["args"] == {"city_name": "Paris"}  # the model's own keys
    assert gemini["voiceActivity"] == {"type": "ACTIVITY_START", "audioOffset": "0.2s"}
    vertex = wire_frame(snake, "vertex")["usageMetadata"]
    assert vertex == {"promptTokenCount": 3, "candidatesTokenCount": 4,
                      "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 4}]}
    (session,) = script({"recv": {"session_resumption_update": {"new_handle": "h", "resumable": True}}},
                        shape="sdk-snake").sessions
    assert frames(session.steps)[1] == {"sessionResumptionUpdate": {"newHandle": "h", "resumable": True}}


@pytest.mark.parametrize("lines, said", [
    (["not json"], "t.jsonl line 1: is not JSON"),
    (["[1, 2]"], "t.jsonl line 1: is not a JSON object"),
    ([], "t.jsonl is empty; its first line must be the header"),
    (['{"recv": {}}'], "line 1: is an event, but the first line must be the header"),
    (['{"kind": "realtime"}'], "line 1: header kind 'realtime' is not known; use gemini, vertex, openai or azure"),
    (['{"shape": "xml"}'], "line 1: header shape 'xml' is not known"),
    (['{"then": "loop"}'], "line 1: header then 'loop' is not known; use repeat or echo"),
    (["{}", "", '{"recieve": {}}'], "line 3: unknown event 'recieve'; use one of recv, send"),
    (["{}", '{"recv": {}, "close": {"code": 1000}}'], "line 2: holds two events ('recv' and 'close')"),
    (["{}", '{"recv": [1]}'], "line 2: recv must hold a server frame, a JSON object"),
    (["{}", '{"close": {"code": 999, "reason": ""}}'], "line 2: close code 999 cannot be sent in a close frame; "
                                                       "use 1000-1003, 1007-1014 or 3000-4999"),
    (["{}", json.dumps({"close": {"code": 1011, "reason": "é" * 62}})],
     "line 2: close reason is 124 bytes, more than a close frame holds (123); cut it"),
    (["{}", '{"close": {"reason": "x"}}'], 'line 2: close must be {"code": <int or null>'),
    (["{}", '{"after_s": -1}'], "line 2: after_s must be a number of seconds, 0 or more"),
    (["{}", '{"recv": {}}', '{"http": {"status": 503}}'], "line 3: http refuses the upgrade, so it must come before "
                                                          "any other event of its session (line 2 is one)"),
    (["{}", '{"http": {"status": 101}}'], 'line 2: http must be {"status": <200-599>'),
    (["{}", '{"close": {"code": 1000, "reason": null}}', '{"recv": {}}'],
     'line 3: the connection was closed at line 2, so nothing more can happen on it; put a {"session": "…"} line'),
    (["{}", '{"http": {"status": 500}}', '{"after_s": 1}'], "line 3: the upgrade was refused at line 2"),
    (["{}", '{"send": {"realtimeInput": {"text": "hi"}}}', '{"recv": {"setupComplete": {}}}'],
     "line 2: the client cannot speak before setupComplete (line 3); move the send after it"),
    (["{}", '{"seen": 3}'], 'line 2: seen must name a frame type'),
])
def test_a_bad_file_is_one_line_naming_the_line_and_the_fix(lines, said):
    with pytest.raises(ConfigError) as caught:
        parse(lines, "t.jsonl")
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_load_names_the_file_it_cannot_read(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read replay file .*missing.jsonl \(No such file or directory\); "
                                          r"check the path"):
        load(tmp_path / "missing.jsonl")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"note": "caf\xe9"}\n')
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load(tmp_path / "latin1.jsonl")
    with pytest.raises(ConfigError, match="--replay-then 'forever' is not known; use repeat or echo"):
        load(CORPUS / "gemini_yeyu2-5_1008_session_not_found.jsonl", "forever")


# -- the client's turns ----------------------------------------------------------------
RATE = 16000


def audio(pcm: bytes) -> dict:
    return {"realtime_input": {"audio": {"data": base64.urlsafe_b64encode(pcm).decode(), "mime_type": "audio/pcm;rate=16000"}}}


def tone(ms: int) -> bytes:
    t = np.arange(RATE * ms // 1000) / RATE
    return (8000 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes()


def quiet(ms: int) -> bytes:
    return bytes(RATE * ms // 1000 * 2)


def say(turns: ClientTurns, pcm: bytes) -> int:
    return sum(turns.feed(audio(pcm[i:i + 640])) for i in range(0, len(pcm), 640))


def test_a_client_turn_ends_with_text_a_tool_response_or_the_end_of_speech():
    turns = ClientTurns()
    assert turns.feed({"realtimeInput": {"text": "hi"}}) == 1
    assert turns.feed({"client_content": {"turns": [], "turn_complete": True}}) == 1
    assert turns.feed({"clientContent": {"turns": [{"parts": [{"text": "more"}]}]}}) == 0  # not complete yet
    assert turns.feed({"tool_response": {"function_responses": []}}) == 1
    assert say(turns, quiet(2000)) == 0  # silence is no turn
    assert say(turns, tone(800)) == 0 and turns.speaking
    assert say(turns, quiet(480)) == 0
    assert say(turns, quiet(40)) == 1  # 500 ms of quiet ended it
    assert turns.feed({"realtime_input": {"audioStreamEnd": True}}) == 0  # already over
    assert say(turns, tone(300)) == 0
    assert turns.feed({"realtime_input": {"audioStreamEnd": True}}) == 1  # the file ended mid-speech
    assert turns.feed({"realtimeInput": {"activityStart": {}}}) == 0
    assert turns.feed({"realtimeInput": {"activityEnd": {}}}) == 1  # push-to-talk


# -- the script played over a real socket -------------------------------------------------
GEMINI_PATH = "/api/llm/live/acct/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


async def open_client(gw: LocalGateway, path: str = GEMINI_PATH):
    return ws_connect(f"wss://127.0.0.1:{gw.port}{path}", ssl=gw.client_ssl_context(),
                      additional_headers={"Authorization": "Bearer k"})


async def received(ws, timeout: float = 5.0) -> list[dict]:
    """Every frame until the server closes."""
    out = []
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                out.append(json.loads(await ws.recv()))
    return out


async def test_frames_go_out_in_order_with_pauses_sped_up_then_the_close_exactly():
    play = script({"recv": {"sessionResumptionUpdate": {}}}, {"after_s": 2.0},
                  {"recv": {"serverContent": {"turnComplete": True}}},
                  {"close": {"code": 1011, "reason": "You exceeded your current quota, please check your plan and "
                                                    "billing details. For more information on this error, head to: h"}})
    async with LocalGateway(replay=play, replay_speed=20, record=True) as gw:
        async with await open_client(gw) as ws:
            await ws.send(json.dumps({"setup": {"model": "models/m"}}))
            started = time.monotonic()
            got = await received(ws)
            elapsed = time.monotonic() - started
        assert got == [SETUP_COMPLETE, {"sessionResumptionUpdate": {}}, {"serverContent": {"turnComplete": True}}]
        assert 0.09 <= elapsed < 1.0  # 2 s recorded, 20x faster
        assert (ws.close_code, ws.close_reason) == (1011, play.sessions[0].close.reason)
        assert gw.connections[0].setup == {"model": "models/m"}


async def test_the_frame_after_a_send_waits_for_the_clients_turn():
    play = script({"recv": {"a": 1}}, {"send": {"realtimeInput": {"text": "hi"}}}, {"recv": {"b": 2}},
                  {"close": {"code": 1000, "reason": None}})
    async with LocalGateway(replay=play, record=True) as gw:
        async with await open_client(gw) as ws:
            await ws.send(json.dumps({"setup": {}}))
            assert json.loads(await ws.recv()) == SETUP_COMPLETE
            assert json.loads(await ws.recv()) == {"a": 1}
            await ws.send(json.dumps(audio(tone(200))))  # speech still going on: not the end of a turn
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await ws.recv()
            await ws.send(json.dumps({"realtime_input": {"text": "hello"}}))
            assert await received(ws) == [{"b": 2}]
        assert (ws.close_code, ws.close_reason) == (1000, "")
        assert len(gw.connections[0].received) == 2


async def test_later_connections_repeat_the_last_session_or_meet_the_echo_model():
    lines = ({"session": "1"}, {"http": {"status": 503, "body": "Service Unavailable"}},
             {"session": "2"}, {"close": {"code": 1008, "reason": "models/x is not found"}})
    for then in ("repeat", "echo"):
        async with LocalGateway(replay=script(*lines, then=then)) as gw:
            with pytest.raises(InvalidStatus) as refused:
                async with await open_client(gw):
                    pass
            assert refused.value.response.status_code == 503 and refused.value.response.body == b"Service Unavailable"
            for connection in (2, 3):
                async with await open_client(gw) as ws:
                    await ws.send(json.dumps({"setup": {}}))
                    if connection == 3 and then == "echo":
                        assert json.loads(await ws.recv()) == SETUP_COMPLETE
                        await ws.send(json.dumps({"realtimeInput": {"text": "hi"}}))
                        said = json.loads(await ws.recv())
                        assert said == {"serverContent": {"outputTranscription": {"text": "You said: hi"}}}
                    else:
                        assert await received(ws) == []  # closed right after the setup, unanswered
                        assert (ws.close_code, ws.close_reason) == (1008, "models/x is not found")
            assert [c.status for c in gw.connections] == [503, 101, 101]


async def test_1006_drops_the_connection_and_without_a_close_it_stays_open_until_the_client_leaves():
    async with LocalGateway(replay=script({"close": {"code": 1006, "reason": None}})) as gw:
        async with await open_client(gw) as ws:
            await ws.send(json.dumps({"setup": {}}))
            assert await received(ws) == []  # dropped right after the setup
            assert ws.close_code == 1006  # no close frame came
    async with LocalGateway(replay=script({"recv": {"x": 1}}), record=True) as gw:
        async with await open_client(gw) as ws:
            await ws.send(json.dumps({"setup": {}}))
            assert [json.loads(await ws.recv()) for _ in range(2)] == [SETUP_COMPLETE, {"x": 1}]
            await asyncio.sleep(0.2)
            await ws.send(json.dumps({"realtimeInput": {"text": "still there?"}}))  # the socket is open
            await asyncio.sleep(0.1)
        assert gw.connections[0].received == [{"realtimeInput": {"text": "still there?"}}]


async def test_a_corpus_file_in_sdk_snake_shape_goes_out_camel_case():
    async with LocalGateway(replay=CORPUS / "gemini_cookbook_resumption_2.5-live-preview_b_resumed.jsonl") as gw:
        async with await open_client(gw) as ws:
            await ws.send(json.dumps({"setup": {}}))
            got = [json.loads(await ws.recv()) for _ in range(6)]
    assert got[:3] == [SETUP_COMPLETE, {"sessionResumptionUpdate": {}}, {"serverContent": {"modelTurn": {
        "parts": [{"text": 'The last question you asked was: "what is the capital of brazil?"'}]}}}]
    assert got[4]["usageMetadata"]["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": 63}]
    assert got[5] == {"sessionResumptionUpdate": {"newHandle": "CihyNDg4YTkxanl5cThzYmo4a29lMHRveDJlY3U1amRyNHlqeWF0bWU2",
                                                  "resumable": True}}


# -- the command ---------------------------------------------------------------------------
QUOTA = CORPUS / "gemini_interpretab_quota_close_new_session.jsonl"


def test_local_gateway_replay_serves_the_readme_example_to_a_real_client():
    server = subprocess.Popen(
        [sys.executable, "-m", "tfy_live", "local-gateway", "--port", "0", "--replay", str(QUOTA),
         "--replay-speed", "8"],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    try:
        lines = [server.stdout.readline() for _ in range(3)]
        url = re.search(r"\(replaying .*quota_close_new_session.jsonl\) listening on (https://127\.0\.0\.1:\d+/api/llm)",
                        lines[0]).group(1)
        ca_file = re.search(r"CA certificate: (\S+)", lines[1]).group(1)
        assert lines[2].startswith("1 recorded session (gemini, close-only, pauses 8x faster), one per connection, "
                                   "then the last one again")
        result = tfy_live("chat", "--provider", "someone", "--reply-timeout", "2", "hi",
                          env=clean_env(TFY_API_KEY="anything", TFY_BASE_URL=url, SSL_CERT_FILE=ca_file))
        assert result.returncode == 3, result.stderr
        assert "You exceeded your current quota" in result.stderr and "Traceback" not in result.stderr
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)
    assert server.returncode == 130 and "Traceback" not in server.stderr.read()


@pytest.mark.parametrize("args, said", [
    (["--replay", "{bad}"], "{bad} line 2: close code 1 cannot be sent in a close frame; use 1000-1003"),
    (["--replay", "{missing}"], "cannot read replay file {missing} (No such file or directory); check the path"),
    (["--replay-then", "echo"], "--replay-then needs --replay FILE"),
    (["--replay", "{good}", "--replay-then", "again"], "--replay-then 'again' is not known; use repeat or echo"),
])
def test_local_gateway_refuses_a_bad_replay_in_one_line_exit_2(tmp_path, args, said):
    paths = {"bad": tmp_path / "bad.jsonl", "missing": tmp_path / "missing.jsonl", "good": QUOTA}
    paths["bad"].write_text('{"kind": "gemini"}\n{"close": {"code": 1, "reason": "x"}}\n')
    args = [arg.format(**paths) for arg in args]
    result = tfy_live("local-gateway", "--port", "0", *args, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + said.format(**paths))
    assert "listening" not in result.stdout
