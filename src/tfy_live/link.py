"""A session that survives its connection: resumption, goAway switch-over, reconnects, limits.

``Link`` is a ``session.Session`` to the conversation while it owns a succession
of connections, each opened by ``open_session(handle)`` with the newest
resumption handle the server gave. What happens to the connection comes out of
``receive`` as events, in the same stream as the model's (``events.ConnectionEvent``):

- **the opening**: a first connection refused in a way that often clears in a
  second or two (``Cause.UNAVAILABLE``/``DEADLINE``: 1011 "The service is currently
  unavailable.", HTTP 502/503/504) is tried again, ``opening_attempts`` times in
  all (``Retrying``, handed to ``report``: nothing is receiving yet). Anything else
  (401, 404, 1007, an unknown model, quota) fails at once.
- **goAway** (``GoingAway``): the next connection is opened and set up at once,
  from the newest handle (and again if a newer handle comes before the switch),
  and the link moves to it at the first pause between turns (``can_switch``), or
  ``SWITCH_MARGIN_S`` before the time left runs out, mid-turn if it must
  (``Resumed``). A close after goAway is the end the server announced, whatever
  its code (the real one closes with 1008 at the deadline): never fatal.
- **a failure**: ``next_step`` decides from the error's ``cause``. Quota and an
  unknown model end the session at once (a new connection gets the same answer);
  a stale handle starts a fresh session (``FreshSession``); a 1008 is retried once,
  and only after working turns; other retryable failures reconnect with backoff
  (``Reconnecting`` before each attempt, ``Resumed`` after), at most
  ``max_attempts`` in a row. A connection that ends before completing a turn (and
  within ``WORKED_S``) is one more failed attempt, not a fresh start: a server that
  accepts each connection and closes it a second later cannot keep the link looping.
- **whatever the server does**, at most ``per_minute`` connection attempts in any
  minute (``Window``): one more waits.
- **what is said meanwhile**: microphone audio is held, at most ``hold_s``
  seconds of it (the oldest is dropped first: the newest speech is what the
  model should hear), and sent after the resume, with typed text and
  push-to-talk marks, in order.

The API key never reaches this module; the opener closes over the settings.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import time
from typing import Any, AsyncIterator, Callable, Sequence

from tfy_live import events as ev
from tfy_live.audio import INPUT_RATE
from tfy_live.errors import Cause, GatewayError
from tfy_live.session import Opener, Session

BACKOFF_S = (0.0, 0.5, 1.0, 2.0, 4.0)
MAX_ATTEMPTS = 5  # with the connection that failed, six in a row: within PER_MINUTE, so no wait
OPENING_BACKOFF_S = (1.0, 2.0, 3.0)  # "unavailable" at connect often clears in 1-3 s: 6 s in all
OPENING_ATTEMPTS = 4
PER_MINUTE = 6
WORKED_S = 60.0  # a connection up this long worked, even if nobody spoke
HOLD_S = 3.0
SWITCH_MARGIN_S = 1.0
DEFAULT_TIME_LEFT_S = 10.0  # when goAway does not say

_SWITCH = object()  # _next_or_switch: move to the next connection now
Connection = tuple[Session, contextlib.AsyncExitStack]
TRANSIENT = frozenset({Cause.UNAVAILABLE, Cause.DEADLINE})


class Step(enum.Enum):
    RETRY = "retry"  # connect again, resuming from the handle
    FRESH = "fresh"  # connect again without the handle: the server no longer has the session
    FATAL = "fatal"


def next_step(error: GatewayError, *, opening: bool = False, worked: bool = False, went_away: bool = False,
              resuming: bool = True) -> Step:
    """What the link does after ``error`` (pure).

    ``opening``: the very first connection failed; ``worked``: the connection that
    ended had completed a turn (or lasted ``WORKED_S``); ``went_away``: it had
    announced its end with goAway; ``resuming``: there is a handle to resume from.
    """
    cause = error.cause
    if cause in (Cause.QUOTA, Cause.MODEL):
        return Step.FATAL
    if cause is Cause.STALE_SESSION:
        return Step.FRESH if resuming else Step.FATAL
    if opening:
        return Step.RETRY if cause in TRANSIENT else Step.FATAL
    if went_away:
        return Step.RETRY
    if cause is Cause.POLICY:
        # Once: a second 1008 comes at connect or before any turn, and then it is final.
        return Step.RETRY if worked else Step.FATAL
    return Step.RETRY if error.retryable else Step.FATAL


class Window:
    """At most ``limit`` attempts in any ``span_s`` seconds: ``wait(now)`` says how long until one more fits."""

    def __init__(self, limit: int, span_s: float = 60.0) -> None:
        self.limit = limit
        self.span_s = span_s
        self.times: collections.deque[float] = collections.deque()

    def wait(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.span_s:
            self.times.popleft()
        return 0.0 if len(self.times) < self.limit else self.times[0] + self.span_s - now

    def note(self, now: float) -> None:
        self.times.append(now)


class Link:
    """One session over a succession of connections (see the module docstring).

    ``can_switch`` says whether now is a good moment to move to the next
    connection: the talk wiring says no while the user is speaking, so an
    utterance is not split in two. ``report`` takes the news of the opening,
    which happens before anything receives.
    """

    def __init__(
        self,
        open_session: Opener,
        *,
        can_switch: Callable[[], bool] = lambda: True,
        report: Callable[[ev.ConnectionEvent], None] = lambda news: None,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_s: Sequence[float] = BACKOFF_S,
        opening_attempts: int = OPENING_ATTEMPTS,
        opening_backoff_s: Sequence[float] = OPENING_BACKOFF_S,
        per_minute: int = PER_MINUTE,
        hold_s: float = HOLD_S,
        chunk_s: float = 0.02,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_session
        self._can_switch = can_switch
        self._report = report
        self.max_attempts = max_attempts
        self.backoff_s = tuple(backoff_s)
        self.opening_attempts = opening_attempts
        self.opening_backoff_s = tuple(opening_backoff_s)
        self.window = Window(per_minute)
        self._sleep = sleep
        self._clock = clock
        self.handle: str | None = None  # the newest resumption handle
        self.connections = 0
        self.reconnects = 0
        self.held_dropped = 0  # held audio chunks dropped because the hold was full
        self._hold_chunks = max(1, round(hold_s / chunk_s))
        self._held: collections.deque[tuple[str, tuple[Any, ...]]] = collections.deque()
        self._held_audio = 0
        self._session: Session | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._down = False  # between a failure and the resume
        self._failures = 0  # failed attempts in a row: only a working connection starts the count again
        self._worked = False  # the current connection completed a turn
        self._since = 0.0  # when the current connection was opened
        self._lock = asyncio.Lock()
        self._next: asyncio.Task[Connection] | None = None  # goAway: being opened
        self._next_handle: str | None = None  # the handle it resumes from
        self._switch_by: float | None = None
        self._in_turn = False
        self._behind = False  # a turn ended after the newest handle: the one that includes it is still to come

    # -- lifetime --------------------------------------------------------------
    async def __aenter__(self) -> "Link":
        attempt = 1
        while True:
            try:
                connection = await self._connect()
            except GatewayError as exc:
                if attempt >= self.opening_attempts or next_step(exc, opening=True) is not Step.RETRY:
                    raise
                delay = self.opening_backoff_s[min(attempt - 1, len(self.opening_backoff_s) - 1)]
                attempt += 1
                self._report(ev.Retrying(str(exc), attempt, self.opening_attempts))
                await self._sleep(delay)
                continue
            self._adopt(connection)
            return self

    async def __aexit__(self, *exc: object) -> None:
        if self._next is not None:
            task, self._next = self._next, None
            task.cancel()
            with contextlib.suppress(BaseException):
                _, stack = await task
                await stack.aclose()
        if self._stack is not None:
            await self._stack.aclose()

    async def _connect(self) -> Connection:
        """Open one connection, within the window's limit (every attempt counts, the failed ones too)."""
        if (wait := self.window.wait(self._clock())) > 0:
            await self._sleep(wait)
        self.window.note(self._clock())
        stack = contextlib.AsyncExitStack()
        try:
            session = await stack.enter_async_context(self._open(self.handle))
        except BaseException:
            await stack.aclose()
            raise
        self.connections += 1
        return session, stack

    def _adopt(self, connection: Connection) -> None:
        self._session, self._stack = connection
        self._worked, self._since, self._in_turn, self._behind = False, self._clock(), False, False

    @property
    def session(self) -> Session:
        assert self._session is not None, "use the link inside `async with`"
        return self._session

    # -- sending ----------------------------------------------------------------
    async def send_audio(self, pcm: bytes, rate: int = INPUT_RATE) -> None:
        await self._send("send_audio", pcm, rate)

    async def end_audio(self) -> None:
        await self._send("end_audio")

    async def send_text(self, text: str) -> None:
        await self._send("send_text", text)

    async def activity_start(self) -> None:
        await self._send("activity_start")

    async def activity_end(self) -> None:
        await self._send("activity_end")

    async def send_tool_results(self, results: Sequence[ev.ToolResult]) -> None:
        # A tool call belongs to its connection: after a reconnect there is nothing to answer.
        with contextlib.suppress(GatewayError):
            if not self._down:
                await self.session.send_tool_results(results)

    async def interrupt(self, heard: ev.Heard | None) -> None:
        # Like a tool call, the reply being cut short belongs to its connection: after a reconnect there is none.
        with contextlib.suppress(GatewayError):
            if not self._down:
                await self.session.interrupt(heard)

    async def _send(self, method: str, *args: Any) -> None:
        if self._down:
            self._hold(method, args)
            return
        try:
            await getattr(self.session, method)(*args)
        except GatewayError as exc:
            # The receive loop meets the same close and decides with all it knows; here, only
            # what can never be cured ends the session.
            if next_step(exc, worked=True, went_away=self._switch_by is not None) is Step.FATAL:
                raise
            self._hold(method, args)
            self._down = True

    def _hold(self, method: str, args: tuple[Any, ...]) -> None:
        if method == "send_audio":
            if self._held_audio >= self._hold_chunks:
                for i, (kind, _) in enumerate(self._held):  # drop the oldest audio
                    if kind == "send_audio":
                        del self._held[i]
                        break
                self._held_audio -= 1
                self.held_dropped += 1
            self._held_audio += 1
        self._held.append((method, args))

    async def _flush_held(self) -> None:
        while self._held:
            method, args = self._held.popleft()
            if method == "send_audio":
                self._held_audio -= 1
            await getattr(self.session, method)(*args)

    # -- receiving ---------------------------------------------------------------
    async def receive(self) -> AsyncIterator[ev.Event]:
        """The current connection's events until the end of a turn, and the connection's own news.

        A reconnect or a switch also ends the iteration: the conversation asks again.
        """
        session = self.session
        try:
            async for event in self._events(session):
                yield event
        except GatewayError as exc:
            async for news in self._recover(session, exc):
                yield news

    async def _events(self, session: Session) -> AsyncIterator[ev.Event]:
        receiving = session.receive().__aiter__()
        while True:
            try:
                if self._switch_by is None:
                    # No switch ahead (until a GoAway): wait for the event alone. A task and an
                    # asyncio.wait for each of 25+ frames a second would cost CPU and watch nothing.
                    event = await receiving.__anext__()
                else:
                    event = await self._next_or_switch(receiving)
            except StopAsyncIteration:
                return  # the end of a turn: the conversation asks again
            if event is _SWITCH:
                async for switched in self._switch(session):
                    yield switched
                return
            if (news := self._observe(event)) is not None:
                yield news
            else:
                yield event

    async def _next_or_switch(self, receiving: AsyncIterator[ev.Event]) -> Any:
        """The next event, or ``_SWITCH`` when it is time to move to the next connection."""
        pending = asyncio.ensure_future(receiving.__anext__())
        try:
            while self._switch_by is not None:
                waiters: set[asyncio.Future[Any]] = {pending}
                left = max(0.0, self._switch_by - self._clock())
                nxt = self._next
                ready = nxt is not None and nxt.done() and not nxt.cancelled() and nxt.exception() is None
                between = not self._in_turn and not self._behind
                if left == 0.0 or (ready and between and self._can_switch()):
                    return _SWITCH  # a pause between turns with the next connection set up, or time is up
                if nxt is not None and not nxt.done():
                    waiters.add(nxt)
                # Set up and between turns: look for a pause in the user's speech; else wait for the
                # connection, the events (the turn's end), or the deadline. A next connection that
                # failed to open is met again at the deadline, where the failure is handled.
                timeout = min(left, 0.05) if ready and between else left
                done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if pending in done:
                    return pending.result()
            return await pending
        finally:
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            elif not pending.cancelled():
                pending.exception()  # looked at: a switch may leave it unread, and that is fine

    def _observe(self, event: ev.Event) -> ev.ConnectionEvent | None:
        """Follow the turn and the handles; a goAway becomes the link's own ``GoingAway`` (or nothing, if repeated)."""
        if isinstance(event, ev.ResumptionUpdate) and event.resumable and event.handle:
            self.handle, self._behind = event.handle, False
            if self._switch_by is not None and self._next_handle != self.handle:
                self._start_next()  # the next connection must resume from the newest state
        elif isinstance(event, ev.GoAway):
            return self._go_away(event.time_left_s)
        elif isinstance(event, (ev.Audio, ev.Text, ev.OutputTranscript)):
            self._in_turn = True
        elif isinstance(event, (ev.TurnComplete, ev.GenerationComplete, ev.Interrupted)):
            self._in_turn = False
            if not isinstance(event, ev.Interrupted):
                # The server sends the handle that includes a turn just after it: switch from that one.
                self._worked, self._behind = True, True
                self._failures = 0  # this connection works: a failure after it is a first one
        return None

    def _go_away(self, time_left_s: float | None) -> ev.ConnectionEvent | None:
        if self._switch_by is not None:
            return None
        left = time_left_s if time_left_s is not None else DEFAULT_TIME_LEFT_S
        self._switch_by = self._clock() + max(0.0, left - SWITCH_MARGIN_S)
        # At once, even mid-turn: opening and setting up takes time the deadline may not leave.
        self._start_next()
        return ev.GoingAway(left)

    def _start_next(self) -> None:
        """Open the next connection in the background, resuming from the newest handle."""
        self._drop_next()
        self._next_handle = self.handle
        self._next = asyncio.create_task(self._connect(), name="next-connection")

    def _drop_next(self) -> None:
        task, self._next = self._next, None
        if task is None:
            return
        task.cancel()

        def close(done: asyncio.Task[Connection]) -> None:
            if not done.cancelled() and done.exception() is None:
                _, stack = done.result()
                asyncio.ensure_future(stack.aclose())

        task.add_done_callback(close)

    async def _switch(self, session: Session) -> AsyncIterator[ev.Event]:
        """Move to the connection opened after goAway (opening it now if it is not there yet)."""
        if self._next is None:
            self._start_next()
        assert self._next is not None
        task, self._next = self._next, None
        try:
            connection = await task
        except GatewayError as exc:
            async for news in self._recover(session, exc, connecting=True):
                yield news
            return
        cut = self._in_turn
        await self._take_over(connection)
        if cut:
            # Time ran out mid-turn: the turn ends with its connection (what arrived is played).
            yield ev.TurnComplete()
        yield ev.Resumed(switched=True, resumed_session=self._next_handle is not None, connection=self.connections)

    async def _take_over(self, connection: Connection) -> None:
        old_stack = self._stack
        self._switch_by = None
        self._adopt(connection)
        if old_stack is not None:
            with contextlib.suppress(Exception):
                await old_stack.aclose()

    async def _recover(self, failed: Session, exc: GatewayError, *,
                       connecting: bool = False) -> AsyncIterator[ev.Event]:
        """After ``failed`` closed with ``exc`` (or, ``connecting``, its successor failed to open): carry on, or raise."""
        async with self._lock:
            if self._session is not failed:
                return  # another task already reconnected
            went_away = self._switch_by is not None and not connecting
            worked = not connecting and (self._worked or self._clock() - self._since >= WORKED_S)
            if worked:
                self._failures = 0
            step = next_step(exc, worked=worked, went_away=went_away, resuming=self.handle is not None)
            if step is Step.FATAL:
                raise exc
            self._down = True
            nxt, self._next, self._switch_by = self._next, None, None
            if went_away and nxt is not None and self._next_handle == self.handle:
                # The connection opened for the switch is the one to go on with.
                try:
                    connection = await nxt
                except GatewayError as error:
                    exc, step = error, next_step(error, resuming=self.handle is not None)
                else:
                    cut = self._in_turn
                    await self._take_over(connection)
                    if (unsent := await self._resume()) is None:
                        if cut:
                            yield ev.TurnComplete()  # as in _switch: the turn ended with its connection
                        yield ev.Resumed(switched=True, resumed_session=self._next_handle is not None,
                                         connection=self.connections)
                        return
                    exc, step = unsent, Step.RETRY
            elif nxt is not None:
                self._next = nxt
                self._drop_next()  # it would resume from an older state
            if self._stack is not None:
                with contextlib.suppress(Exception):
                    await self._stack.aclose()
            self._in_turn = False
            async for news in self._reconnect(exc, step):
                yield news

    async def _reconnect(self, exc: GatewayError, step: Step) -> AsyncIterator[ev.ConnectionEvent]:
        while True:
            if step is Step.FATAL:
                raise exc
            fresh = step is Step.FRESH
            if fresh:
                self.handle = None  # the server lost it: a new session, which the model starts afresh
            self._failures += 1
            if self._failures > self.max_attempts:
                raise GatewayError(
                    f"lost the connection and could not reconnect in {self.max_attempts} attempts (last: {exc}); "
                    "check the network and the gateway, then run again"
                )
            delay = self.backoff_s[min(self._failures - 1, len(self.backoff_s) - 1)]
            reason = str(exc)
            if (wait := self.window.wait(self._clock())) > delay:
                delay = wait
                reason += f"; waiting {wait:.0f} s (at most {self.window.limit} connections a minute)"
            news = ev.FreshSession if fresh else ev.Reconnecting
            yield news(reason, self._failures, self.max_attempts)
            await self._sleep(delay)
            try:
                connection = await self._connect()
            except GatewayError as error:
                exc, step = error, next_step(error, resuming=self.handle is not None)
                continue
            self._adopt(connection)
            self.reconnects += 1
            if (unsent := await self._resume()) is not None:
                with contextlib.suppress(Exception):
                    await connection[1].aclose()
                exc, step = unsent, Step.RETRY
                continue
            yield ev.Resumed(switched=False, resumed_session=self.handle is not None, connection=self.connections)
            return

    async def _resume(self) -> GatewayError | None:
        """Send what was held on the new connection; the error if that failed too (a new attempt follows)."""
        self._down = False
        try:
            await self._flush_held()
        except GatewayError as error:
            if next_step(error, worked=True) is Step.FATAL:
                raise
            self._down = True
            return error
        return None
