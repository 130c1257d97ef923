"""The link: one session for the conversation, a succession of connections underneath."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.fakes import FakeSession, WaitUntil, audio_msg, msg
from tfy_live import events as ev
from tfy_live.config import resolve
from tfy_live.errors import Cause, GatewayError
from tfy_live.gateway.errors import close_error
from tfy_live.link import Link, Step, Window, next_step
from tests.timing import SECOND

NEWS = (ev.GoingAway, ev.Reconnecting, ev.Resumed)
STATES = {ev.GoingAway: "switching", ev.Reconnecting: "reconnecting", ev.Resumed: "resumed",
          ev.FreshSession: "fresh session", ev.Retrying: "retrying"}
SETTINGS = resolve({"provider": "acct"}, {"TFY_API_KEY": "k" * 20, "TFY_BASE_URL": "https://gw.example.com/api/llm"})
# Real close reasons (tests/realtraffic: gemini_interpretab_quota_close_new_session.jsonl,
# gemini_yeyu2-5_1008_session_not_found.jsonl, gemini_adk-streaming-guide-11_1011_unavailable_and_deadline.jsonl).
QUOTA = ("You exceeded your current quota, please check your plan and billing details. For more information on this "
         "error, head to: h")
STALE = "BidiGenerateContent session not found"
UNAVAILABLE = "The service is currently unavailable."
TURN = msg(serverContent={"turnComplete": True})


def handle(h: str):
    return msg(sessionResumptionUpdate={"newHandle": h, "resumable": True})


def dropped(code: int = 1011) -> GatewayError:
    return GatewayError(f"connection closed with code {code}", retryable=True)


class Opener:
    """Opens scripted connections in turn: a FakeSession, or an exception to raise on opening."""

    def __init__(self, *connections) -> None:
        self.connections = list(connections)
        self.handles: list[str | None] = []
        self.opened: list[FakeSession] = []
        self.closed: list[FakeSession] = []
        self.gate: asyncio.Event | None = None  # when set, opening waits for it

    @contextlib.asynccontextmanager
    async def __call__(self, handle: str | None):
        self.handles.append(handle)
        if self.gate is not None:
            await self.gate.wait()
        item = self.connections.pop(0)
        if isinstance(item, BaseException):
            raise item
        self.opened.append(item)
        try:
            yield item
        finally:
            self.closed.append(item)


async def no_sleep(seconds: float) -> None:
    no_sleep.calls.append(seconds)
    await asyncio.sleep(0)


no_sleep.calls = []


async def drain(link: Link, states: list[str] | None = None) -> list:
    """One iteration of ``receive``: the server's events; the link's own news goes to ``states``."""
    events = []
    async for event in link.receive():
        if isinstance(event, NEWS):
            if states is not None:
                states.append(STATES[type(event)])
        else:
            events.append(event)
    return events


async def test_an_unexpected_close_reconnects_with_the_newest_handle():
    first = FakeSession([handle("h-1"), handle("h-2"), dropped()])
    second = FakeSession([handle("h-3")])
    opener, states = Opener(first, second), []
    async with Link(opener, sleep=no_sleep) as link:
        received = await drain(link, states)  # the first connection's messages, then the reconnect
        assert len(received) == 2
        assert opener.handles == [None, "h-2"]
        assert [s for s in states] == ["reconnecting", "resumed"]
        await link.send_text("still there?")
        assert second.sent == [("text", "still there?")]
        assert first in opener.closed and link.reconnects == 1


async def test_audio_said_while_reconnecting_is_held_bounded_newest_kept_and_sent_after():
    first, second = FakeSession([dropped(1006)]), FakeSession()
    opener = Opener(first, second)
    opener.gate = asyncio.Event()
    opener.gate.set()
    states = []
    async with Link(opener, sleep=no_sleep, hold_s=0.06, chunk_s=0.02) as link:
        opener.gate.clear()  # the next connection takes a while
        receiving = asyncio.create_task(drain(link, states))
        await WaitUntil(lambda: "reconnecting" in states).wait()
        for i in range(5):
            await link.send_audio(bytes([i]) * 4)
        await link.send_text("and this")
        opener.gate.set()
        await receiving
    chunks = [data for kind, data in second.sent if kind == "audio"]
    assert chunks == [bytes([2]) * 4, bytes([3]) * 4, bytes([4]) * 4]  # 60 ms held: the newest three
    assert second.sent[-1] == ("text", "and this")  # in the order said
    assert link.held_dropped == 2


async def test_it_gives_up_after_a_bounded_number_of_attempts_with_backoff():
    no_sleep.calls.clear()
    opener = Opener(FakeSession([dropped()]), dropped(), dropped(), dropped())
    async with Link(opener, sleep=no_sleep, max_attempts=3, backoff_s=(0, 0.5, 1, 2)) as link:
        with pytest.raises(GatewayError, match=r"could not reconnect in 3 attempts .*check the network"):
            await drain(link)
    assert no_sleep.calls == [0, 0.5, 1]


async def test_by_default_it_tries_five_times_after_0_to_4_s():
    # The default the CLI uses (tfy-live talk without --reconnect-attempts), as the README says.
    no_sleep.calls.clear()
    opener = Opener(FakeSession([dropped()]), *[dropped()] * 5)
    async with Link(opener, sleep=no_sleep) as link:
        with pytest.raises(GatewayError, match=r"could not reconnect in 5 attempts "):
            await drain(link)
    assert no_sleep.calls == [0, 0.5, 1, 2, 4]


async def test_a_refusal_while_reconnecting_ends_at_once():
    opener = Opener(FakeSession([dropped()]), GatewayError("the gateway rejected the API key (HTTP 401)"))
    async with Link(opener, sleep=no_sleep) as link:
        with pytest.raises(GatewayError, match="HTTP 401"):
            await drain(link)
    assert len(opener.handles) == 2


async def test_a_non_retryable_close_is_not_retried():
    opener = Opener(FakeSession([GatewayError("connection closed with code 1008: model not found")]))
    async with Link(opener, sleep=no_sleep) as link:
        with pytest.raises(GatewayError, match="1008"):
            await drain(link)
    assert len(opener.handles) == 1


async def test_go_away_mid_turn_opens_the_next_at_once_and_switches_from_the_handle_that_includes_the_turn():
    first = FakeSession([
        handle("h-1"),
        audio_msg(b"\x01\x00" * 480),
        msg(goAway={"timeLeft": "30s"}),
        WaitUntil(lambda: len(opener.handles) == 2),  # opened while the turn goes on, not after it
        audio_msg(b"\x02\x00" * 480),
        msg(serverContent={"turnComplete": True}),
        handle("h-2"),  # the state after the turn
    ])
    second = FakeSession([audio_msg(b"\x03\x00" * 480)])
    opener, states = Opener(first, FakeSession(), second), []
    async with Link(opener) as link:
        turn = await asyncio.wait_for(drain(link, states), 5 * SECOND)
        assert len(turn) == 4 and states == ["switching"]  # the turn went on undisturbed; goAway is the link's news
        assert opener.handles == [None, "h-1"]
        await asyncio.wait_for(drain(link, states), 5 * SECOND)  # the handle, the connection opened again from it, the switch
        assert opener.handles == [None, "h-1", "h-2"]
        assert states == ["switching", "resumed"]
        assert first in opener.closed and second not in opener.closed and link.session is second
        await link.send_audio(b"\x00\x00")
        assert second.sent == [("audio", b"\x00\x00")] and ("audio", b"\x00\x00") not in first.sent
        nxt = link.receive().__aiter__()
        assert isinstance(await asyncio.wait_for(nxt.__anext__(), 5 * SECOND), ev.Audio)


async def test_a_connection_opened_from_an_older_handle_is_replaced():
    first = FakeSession([
        handle("h-1"),
        msg(goAway={"timeLeft": "30s"}),  # between turns: the next one is opened from h-1 at once
        WaitUntil(lambda: len(opener.handles) == 2),
        handle("h-2"),  # ...but the state moved on
    ])
    opener = Opener(first, FakeSession(), FakeSession())
    async with Link(opener) as link:
        opener.gate = asyncio.Event()  # the next attempt is still opening when h-2 comes
        receiving = asyncio.create_task(drain(link))
        await WaitUntil(lambda: len(opener.handles) == 3).wait()
        opener.gate.set()
        await asyncio.wait_for(receiving, 5 * SECOND)
        assert opener.handles == [None, "h-1", "h-2"]
        assert link.session is not first and link.handle == "h-2"


async def test_go_away_between_turns_switches_once_the_user_is_quiet_or_time_runs_out():
    first = FakeSession([handle("h-9"), msg(goAway={"timeLeft": "1.2s"})])
    opener = Opener(first, FakeSession())
    speaking = True
    async with Link(opener, can_switch=lambda: not speaking) as link:  # mid-sentence: do not split it
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(drain(link), 5 * SECOND)  # switched only when time was nearly up
        assert 0.15 < loop.time() - started < 1.0
        assert opener.handles == [None, "h-9"] and first in opener.closed

    first = FakeSession([handle("h-9"), msg(goAway={"timeLeft": "20s"}), WaitUntil(lambda: not speaking)])
    opener = Opener(first, FakeSession())
    async with Link(opener, can_switch=lambda: not speaking) as link:
        receiving = asyncio.create_task(drain(link))
        await asyncio.sleep(0.3)
        assert not receiving.done()  # ready to switch, but waiting for a pause
        speaking = False
        await asyncio.wait_for(receiving, 5 * SECOND)
        assert first in opener.closed


class Clock:
    """A clock that only the link's own sleeps move: backoff and the window cost no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class TimedOpener(Opener):
    """An Opener that notes the (fake) time of every attempt."""

    def __init__(self, clock: Clock, *connections) -> None:
        super().__init__(*connections)
        self.clock = clock
        self.at: list[float] = []

    def __call__(self, handle: str | None):
        self.at.append(self.clock.now)
        return super().__call__(handle)


async def until_fatal(link: Link, news: list) -> GatewayError:
    """Receive until the link gives up; its news goes to ``news``."""
    with pytest.raises(GatewayError) as info:
        while True:
            async for event in link.receive():
                if isinstance(event, NEWS):
                    news.append(event)
    return info.value


def close(code: int, reason: str) -> GatewayError:
    return close_error(code, reason, SETTINGS)


async def test_quota_ends_the_session_at_once_with_what_to_do():
    opener, news = Opener(FakeSession([handle("h-1"), close(1011, QUOTA)]), FakeSession()), []
    async with Link(opener, sleep=no_sleep) as link:
        error = await until_fatal(link, news)
    assert opener.handles == [None] and news == []  # no second connection
    assert error.cause is Cause.QUOTA
    assert "quota is used up" in str(error) and "wait for the quota window" in str(error)
    assert "plan and billing" in str(error) and "another provider account" in str(error)


async def test_a_connection_that_ends_before_completing_a_turn_is_a_failed_attempt_not_a_fresh_start():
    """The real quota loop, with a reason that does not say quota: each new connection is set up, then closed."""
    clock = Clock()
    opener = TimedOpener(clock, *[FakeSession([handle("h-1"), close(1011, "Internal error encountered.")])
                                  for _ in range(12)])
    news: list = []
    async with Link(opener, sleep=clock.sleep, clock=clock, max_attempts=5) as link:
        error = await until_fatal(link, news)
    assert "could not reconnect in 5 attempts" in str(error) and "Internal error encountered." in str(error)
    attempts = [n.attempt for n in news if isinstance(n, ev.Reconnecting)]
    assert attempts == [1, 2, 3, 4, 5]  # counted on, though every connect "succeeded"
    assert len(opener.at) == 6 and clock.sleeps == [0.0, 0.5, 1.0, 2.0, 4.0]


async def test_never_more_than_six_connection_attempts_in_any_minute_whatever_the_server_does():
    """Each connection completes a turn and then drops: the count of failures starts again each time, the window holds."""
    clock = Clock()
    sessions = [FakeSession([TURN, close(1011, UNAVAILABLE)]) for _ in range(19)] + [FakeSession()]
    opener, news = TimedOpener(clock, *sessions), []
    async with Link(opener, sleep=clock.sleep, clock=clock) as link:
        while len(opener.at) < 20:
            async for event in link.receive():
                if isinstance(event, NEWS):
                    news.append(event)
    at = opener.at
    assert all(at[i + 6] - at[i] >= 60.0 for i in range(len(at) - 6)), at
    assert at[-1] - at[0] < 4 * 60.0  # ...and no slower than that: six a minute
    assert {n.attempt for n in news if isinstance(n, ev.Reconnecting)} == {1}
    assert any("at most 6 connections a minute" in n.reason for n in news if isinstance(n, ev.Reconnecting))


async def test_a_stale_handle_starts_a_fresh_session_and_says_so():
    opener = Opener(FakeSession([handle("h-1"), TURN, dropped()]), close(1008, STALE), FakeSession())
    news: list = []
    async with Link(opener, sleep=no_sleep) as link:
        await drain(link)
        async for event in link.receive():
            news.append(event)
        assert opener.handles == [None, "h-1", None] and link.handle is None
    assert [type(n) for n in news] == [ev.Reconnecting, ev.FreshSession, ev.Resumed]
    assert STALE in news[1].reason and news[1].attempt == 2
    assert news[2] == ev.Resumed(switched=False, resumed_session=False, connection=2)


async def test_a_1008_after_working_turns_is_retried_once_then_reported_in_the_server_s_words():
    opener = Opener(FakeSession([handle("h-1"), TURN, close(1008, "")]),
                    FakeSession([close(1008, "Operation is not permitted right now")]), FakeSession())
    news: list = []
    async with Link(opener, sleep=no_sleep) as link:
        await drain(link)
        error = await until_fatal(link, news)
    assert opener.handles == [None, "h-1"]  # once, with the handle
    assert [type(n) for n in news] == [ev.Reconnecting, ev.Resumed]
    assert "code 1008: Operation is not permitted right now" in str(error)


async def test_a_1008_before_any_turn_is_not_retried():
    opener = Opener(FakeSession([handle("h-1"), close(1008, "policy")]), FakeSession())
    async with Link(opener, sleep=no_sleep) as link:
        error = await until_fatal(link, [])
    assert opener.handles == [None] and error.cause is Cause.POLICY


async def test_a_close_after_go_away_is_never_fatal_the_next_connection_takes_over():
    """The real server closes 1008, no reason, at the goAway deadline (gemini_interpretab_goaway_then_1008.jsonl)."""
    first = FakeSession([handle("h-1"), audio_msg(b"\x01\x00" * 480), msg(goAway={"timeLeft": "50s"}),
                         WaitUntil(lambda: len(opener.opened) == 2), close(1008, "")])
    second = FakeSession([audio_msg(b"\x02\x00" * 480)])
    opener, news = Opener(first, second), []
    async with Link(opener, sleep=no_sleep) as link:
        async for event in link.receive():
            news.append(event)
        assert link.session is second and opener.handles == [None, "h-1"]
    assert isinstance(news[-2], ev.TurnComplete)  # the turn in progress ended with its connection
    assert news[-1] == ev.Resumed(switched=True, resumed_session=True, connection=2)


async def test_when_time_runs_out_mid_turn_the_link_switches_before_the_deadline():
    first = FakeSession([handle("h-1"), audio_msg(b"\x01\x00" * 480), msg(goAway={"timeLeft": "1.3s"})])
    opener = Opener(first, FakeSession())  # the turn never ends on the first connection
    async with Link(opener) as link:
        loop = asyncio.get_running_loop()
        started = loop.time()
        events = [event async for event in link.receive()]
        took = loop.time() - started
    assert [type(e) for e in events[-3:]] == [ev.GoingAway, ev.TurnComplete, ev.Resumed]  # the cut turn ends
    assert 0.2 <= took < 1.3 - 0.5, took  # SWITCH_MARGIN_S before the deadline
    assert first in opener.closed and opener.handles == [None, "h-1"]


async def test_the_first_connection_is_tried_again_when_the_service_is_briefly_unavailable():
    clock = Clock()
    unavailable_http = GatewayError("the gateway failed (HTTP 503)", retryable=True, cause=Cause.UNAVAILABLE)
    opener, news = Opener(close(1011, UNAVAILABLE), unavailable_http, FakeSession()), []
    async with Link(opener, sleep=clock.sleep, clock=clock, report=news.append) as link:
        assert link.connections == 1
    assert [(type(n), n.attempt, n.attempts) for n in news] == [(ev.Retrying, 2, 4), (ev.Retrying, 3, 4)]
    assert UNAVAILABLE in news[0].reason and clock.sleeps == [1.0, 2.0]


async def test_the_first_connection_is_tried_four_times_at_most():
    clock = Clock()
    opener = Opener(*[close(1011, UNAVAILABLE) for _ in range(5)], FakeSession())
    with pytest.raises(GatewayError, match="currently unavailable"):
        async with Link(opener, sleep=clock.sleep, clock=clock):
            pass
    assert len(opener.handles) == 4 and clock.sleeps == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("error", [
    GatewayError("the gateway rejected the API key (HTTP 401)", http_status=401),
    GatewayError("no Live endpoint (HTTP 404)", http_status=404),
    close(1007, "Request contains an invalid argument."),
    close(1008, "models/gemini-2.5-flash is not found for API version v1alpha, or is not supported for bidiGenerateC"),
    close(1011, QUOTA),
    close(1006, ""),  # may hide a refused key or quota: said at once
], ids=["401", "404", "1007", "1008-model", "quota", "1006"])
async def test_the_first_connection_is_not_tried_again_for_what_waiting_does_not_cure(error):
    opener, news = Opener(error, FakeSession()), []
    with pytest.raises(GatewayError) as info:
        async with Link(opener, sleep=no_sleep, report=news.append):
            pass
    assert info.value is error and len(opener.handles) == 1 and news == []


@pytest.mark.parametrize("cause, retryable, flags, step", [
    (Cause.QUOTA, False, {"worked": True, "went_away": True}, Step.FATAL),
    (Cause.MODEL, False, {"worked": True}, Step.FATAL),
    (Cause.STALE_SESSION, False, {}, Step.FRESH),
    (Cause.STALE_SESSION, False, {"resuming": False}, Step.FATAL),
    (Cause.POLICY, False, {"worked": True}, Step.RETRY),
    (Cause.POLICY, False, {}, Step.FATAL),
    (Cause.POLICY, False, {"went_away": True}, Step.RETRY),
    (None, False, {"went_away": True}, Step.RETRY),
    (Cause.UNAVAILABLE, True, {"opening": True}, Step.RETRY),
    (Cause.DEADLINE, True, {"opening": True}, Step.RETRY),
    (None, True, {"opening": True}, Step.FATAL),  # a drop, a refused TCP connection: said at once
    (None, True, {}, Step.RETRY),
    (None, False, {"worked": True}, Step.FATAL),
])
def test_what_the_link_does_after_each_kind_of_failure(cause, retryable, flags, step):
    assert next_step(GatewayError("x", retryable=retryable, cause=cause), **flags) is step


def test_the_window_admits_six_in_any_sixty_seconds():
    window = Window(6)
    for t in range(6):
        assert window.wait(100.0 + t) == 0.0
        window.note(100.0 + t)
    assert window.wait(110.0) == 50.0
    assert window.wait(160.0) == 0.0
