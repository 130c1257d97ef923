"""The link: one session for the conversation, a succession of connections underneath."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.fakes import FakeSession, WaitUntil, audio_msg, msg
from tfy_live import events as ev
from tfy_live.errors import GatewayError
from tfy_live.link import Link
from tests.timing import SECOND

NEWS = (ev.GoingAway, ev.Reconnecting, ev.Resumed)
STATES = {ev.GoingAway: "switching", ev.Reconnecting: "reconnecting", ev.Resumed: "resumed"}


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


async def test_by_default_it_tries_six_times_after_0_to_8_s():
    # The default the CLI uses (tfy-live talk without --reconnect-attempts), as the README says.
    no_sleep.calls.clear()
    opener = Opener(FakeSession([dropped()]), *[dropped()] * 6)
    async with Link(opener, sleep=no_sleep) as link:
        with pytest.raises(GatewayError, match=r"could not reconnect in 6 attempts "):
            await drain(link)
    assert no_sleep.calls == [0, 0.5, 1, 2, 4, 8]


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


async def test_go_away_mid_turn_resumes_from_the_handle_that_includes_the_turn_then_switches():
    first = FakeSession([
        handle("h-1"),
        audio_msg(b"\x01\x00" * 480),
        msg(goAway={"timeLeft": "30s"}),
        audio_msg(b"\x02\x00" * 480),
        msg(serverContent={"turnComplete": True}),
        handle("h-2"),  # the state after the turn
    ])
    second = FakeSession([audio_msg(b"\x03\x00" * 480)])
    opener, states = Opener(first, second), []
    async with Link(opener) as link:
        turn = await asyncio.wait_for(drain(link, states), 5 * SECOND)
        assert len(turn) == 4 and states == ["switching"]  # the turn went on undisturbed; goAway is the link's news
        assert opener.handles == [None]
        await asyncio.wait_for(drain(link, states), 5 * SECOND)  # the handle, then the switch
        assert opener.handles == [None, "h-2"]
        assert states == ["switching", "resumed"]
        assert first in opener.closed and second not in opener.closed
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
