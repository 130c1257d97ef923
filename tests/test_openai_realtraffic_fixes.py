"""What recorded OpenAI realtime traffic (tests/realtraffic/openai) showed, fixed and held with plain objects:
beta event names, close reasons, refusals a client must take quietly, responses that end badly, a line asked
again after a lost session, a reply that stops midway, and the hostile cases (a malformed or oversized frame)."""

from __future__ import annotations

import asyncio
import base64
import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.test_openai_kind import FakeConnection, settings, until_turn_end
from tfy_live import events as ev
from tfy_live.endrule import EndRule
from tfy_live.errors import GatewayError
from tfy_live.gateway_openai.errors import close_reason, error_event, translate_error
from tfy_live.gateway_openai.live import Connector, History, RealtimeSession
from tfy_live.gateway_openai.translate import Reader
from tfy_live.localgw import Fault, GatewayThread
from tfy_live.localgw.echo import EchoOptions
from tfy_live.localgw.realtime import RealtimeEcho


# -- the beta protocol's names ----------------------------------------------------------------------------------
def test_beta_event_names_are_read_as_the_ga_names():
    reader, pcm = Reader(), b"\x01\x00" * 240
    assert reader.read({"type": "response.audio.delta", "item_id": "i1",
                        "delta": base64.b64encode(pcm).decode()}) == [ev.Audio(pcm, 24000, "i1")]
    assert reader.read({"type": "response.text.delta", "delta": "Hi"}) == [ev.Text("Hi")]
    assert reader.read({"type": "response.audio_transcript.delta", "delta": "Hi"}) == [ev.OutputTranscript("Hi")]
    for done in ("response.audio.done", "response.audio_transcript.done", "response.text.done",
                 "conversation.item.created"):
        assert reader.read({"type": done}) == []


# -- closes and error events, by what the server says -----------------------------------------------------------
def closed(code: int, reason: str, ok: bool = False) -> Exception:
    frame = Close(code, reason)
    return (ConnectionClosedOK if ok else ConnectionClosedError)(frame, frame, True)


@pytest.mark.parametrize("code, reason, says, retryable", [
    (3000, "invalid_request_error.invalid_api_key", "refused the key", False),  # recorded (probe 10)
    (3000, "invalid_request_error", "refused the key", False),  # recorded: a missing credential has no code
    (4000, "invalid_request_error.invalid_model", "check --model", False),  # recorded (probe 11)
    (4000, "invalid_request_error.beta_api_shape_disabled", "retired beta realtime protocol", False),
    (1001, "Your session hit the maximum duration of 60 minutes.", "maximum duration", True),  # recorded (GA)
])
def test_a_realtime_close_is_read_by_its_reason(code, reason, says, retryable):
    meaning = translate_error(closed(code, reason, ok=code == 1001), settings())
    assert says in str(meaning) and meaning.retryable is retryable, str(meaning)
    assert "restart or deploy" not in str(meaning)


def test_a_close_whose_reason_names_nothing_known_is_worded_as_any_close():
    assert close_reason(4000, "invalid_request_error.something_new", settings()) is None
    assert close_reason(1011, "internal error", settings()) is None
    assert "1011" in str(translate_error(closed(1011, "internal error"), settings()))


@pytest.mark.parametrize("message", [
    "Audio content of 9800ms is already shorter than 11579ms",  # recorded: applied anyway, clamped
    "Only model output audio messages can be truncated",  # recorded: a truncate at 0 ms
])
def test_refused_truncates_say_nothing(message):
    assert error_event({"type": "error", "error": {"message": message, "event_id": None}}, settings()) is None


def test_a_missing_credential_is_the_key_not_the_model_even_at_setup():
    meaning = error_event({"type": "error", "error": {"type": "invalid_request_error", "code": None, "message":
                                                      "Missing bearer or basic authentication in header"}},
                          settings(), setup=True)
    assert isinstance(meaning, GatewayError) and "refused the key" in str(meaning)
    assert "--model" not in str(meaning)


# -- what the session does with them ------------------------------------------------------------------------------
async def test_nothing_heard_deletes_the_reply_instead_of_a_truncate_the_server_refuses():
    connection = FakeConnection([{"type": "response.created"}])
    session = RealtimeSession(connection, settings(), reader=Reader(), history=History())
    receiving = asyncio.ensure_future(until_turn_end(session))
    await asyncio.sleep(0)
    await session.interrupt(ev.Heard("item_1", 0))
    assert connection.sent == [("response.cancel", {}), ("conversation.item.delete", {"item_id": "item_1"})]
    receiving.cancel()


def test_the_echo_model_refuses_a_truncate_at_0_ms_as_the_real_server_and_takes_a_delete():
    echo = RealtimeEcho(EchoOptions())
    echo._items.add("item_1")
    refused = echo.feed({"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0,
                         "audio_end_ms": 0}, 0.0)
    assert refused[0]["error"]["code"] == "unsupported_content_type"
    assert echo.feed({"type": "conversation.item.delete", "item_id": "item_1"}, 0.0) == [
        {"type": "conversation.item.deleted", "item_id": "item_1"}]
    assert echo.deleted and echo.feed({"type": "conversation.item.delete", "item_id": "item_1"}, 0.0)[0]["type"] == "error"


async def test_a_response_create_refused_for_a_running_response_is_sent_again_when_it_ends():
    connection = FakeConnection()
    session = RealtimeSession(connection, settings(), reader=Reader(), history=History())
    await session.send_text("hi")
    receiving = asyncio.ensure_future(until_turn_end(session))
    connection.play({"type": "error", "error": {"type": "invalid_request_error",
                                                "code": "conversation_already_has_active_response",
                                                "message": "Conversation already has an active response in progress: "
                                                           "resp_1. Wait until the response is finished before "
                                                           "creating a new one."}})
    connection.play({"type": "response.created"})
    connection.play({"type": "response.done", "response": {"status": "completed"}})
    events = await receiving
    assert not any(isinstance(event, ev.Notice) for event in events)
    assert connection.kinds() == ["conversation.item.create", "response.create", "response.create"]


async def test_a_failed_response_is_read_as_its_error_and_an_incomplete_one_says_why():
    failed = {"type": "response.done", "response": {"status": "failed", "status_details": {
        "type": "failed", "error": {"type": "requests", "code": "rate_limit_exceeded", "message": "Rate limit"}}}}
    session = RealtimeSession(FakeConnection([failed]), settings(), reader=Reader(), history=History())
    with pytest.raises(GatewayError, match="rate limiting"):
        await until_turn_end(session)
    incomplete = {"type": "response.done", "response": {"status": "incomplete", "status_details": {
        "type": "incomplete", "reason": "content_filter"}}}
    session = RealtimeSession(FakeConnection([incomplete]), settings(), reader=Reader(), history=History())
    events = await until_turn_end(session)
    assert events == [ev.Notice("the provider ended the reply early (incomplete: content_filter)"),
                      ev.TurnComplete("incomplete")]
    cancelled = {"type": "response.done", "response": {"status": "cancelled", "status_details": {
        "type": "cancelled", "reason": "turn_detected"}}}
    session = RealtimeSession(FakeConnection([cancelled]), settings(), reader=Reader(), history=History())
    assert await until_turn_end(session) == [ev.TurnComplete("cancelled")]  # the user's own interruption: quiet


async def test_a_new_session_asks_again_the_line_whose_reply_was_lost_once():
    connector = Connector()
    connector.history.connections = 2
    connector.history.add("user", "hi")
    connector.history.unanswered = "hi"
    connection = FakeConnection()
    notice = await connector._carry_over(connection, settings())
    assert "sent again" in notice
    assert connection.sent == [("conversation.item.create", {"item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}}),
        ("response.create", {})]
    answered = Connector()
    answered.history.connections = 2
    assert "sent again" not in await answered._carry_over(FakeConnection(), settings())


# -- a reply that stops midway ends an --input-file session ---------------------------------------------------------
def test_a_reply_that_stops_midway_is_stalled_after_the_reply_timeout_with_no_word():
    rule = EndRule(reply_timeout_s=5.0)
    rule.input_exhausted(10.0)
    rule.model_turn_started(11.0)
    rule.server_event(12.0)
    assert rule.decide(16.9) == "continue" and rule.deadline() == 17.0
    assert rule.decide(17.0) == "stalled"
    rule.server_event(17.0)  # a word from the server: the clock starts again
    assert rule.decide(21.0) == "continue"
    rule.turn_complete(21.5)
    assert rule.decide(21.5) == "end"
    live = EndRule(reply_timeout_s=5.0)
    live.model_turn_started(0.0)
    assert live.decide(1000.0) == "continue" and live.deadline() is None  # a live session never stalls


# -- hostile frames from the realtime server, through the CLI --------------------------------------------------------
@pytest.mark.parametrize("fault, said, codes", [
    # skipped and counted; the reply goes on
    (Fault(action="malformed", after_turns=0, during_reply=True), r"skipped a frame", (0,)),
    # over the client's limit: it closes 1009 and opens a new session (the spoken reply it cut is not asked again)
    (Fault(action="oversized", after_turns=0, during_reply=True, size=17 * 2**20),
     r"code 1009: frame with \d+ bytes exceeds limit.*reconnecting", (0, 3)),
], ids=["malformed", "oversized"])
def test_a_malformed_or_oversized_frame_mid_reply_is_said_and_never_a_traceback(fault, said, codes, tmp_path):
    import re

    import numpy as np
    import soundfile

    wav = tmp_path / "in.wav"
    pcm = np.zeros(int(1.3 * 16000))
    pcm[3200:11200] = 8000 * np.sin(2 * np.pi * 300 * np.arange(8000) / 16000)
    soundfile.write(wav, pcm.astype("<i2"), 16000, subtype="PCM_16")
    thread = GatewayThread(api_key=CANARY_KEY, faults=[fault])
    gw = thread.start()
    try:
        # --reply-timeout 3: a loaded machine takes over a second to carry the 17 MiB frame over TLS, which
        # the stalled-reply rule would otherwise end first.
        result = tfy_live("talk", "--provider", "acct", "--provider-kind", "openai", "--reply-timeout", "3", "--turns", "1",
                          "--input-file", str(wav), "--output-file", str(tmp_path / "out.wav"),
                          "--ca-bundle", str(gw.ca_file),
                          env=clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL=gw.base_url), timeout=60)
    finally:
        thread.stop()
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown and CANARY_KEY not in shown
    assert re.search(said, shown), shown
    assert result.returncode in codes, shown
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == int(result.returncode != 0)
