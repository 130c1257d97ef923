"""A session that survives its connection: resumption, goAway switch-over, reconnects.

``Link`` is a ``session.Session`` to the conversation while it owns a succession
of connections, each opened by ``open_session(handle)`` with the newest
resumption handle the server gave. What happens to the connection comes out of
``receive`` as events, in the same stream as the model's (``events.ConnectionEvent``):

- **goAway** (the server will close this connection soon; ``GoingAway``): the
  next connection is opened in the background while this one carries on — at
  once if no model turn is in progress, else when the server has sent the
  resumption handle that includes the turn (a connection opened from an older
  handle is dropped and opened again) — and the link moves to it between turns
  at a pause (``can_switch``), or ``SWITCH_MARGIN_S`` before the time left runs
  out (``Resumed``). Capture and playback go on throughout: there is no gap.
- **an unexpected close** (1006, 1011, a network error, a gateway restart — a
  ``GatewayError`` with ``retryable``): reconnect with backoff (``BACKOFF_S``),
  at most ``max_attempts`` times in a row (``Reconnecting`` before each, ``Resumed``
  after), then give up with one line saying what to do. A non-retryable error
  (401, 1008…) ends at once.
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
import time
from typing import Any, AsyncIterator, Callable, Sequence

from tfy_live import events as ev
from tfy_live.audio import INPUT_RATE
from tfy_live.errors import GatewayError
from tfy_live.session import Opener, Session

BACKOFF_S = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
MAX_ATTEMPTS = 6
HOLD_S = 3.0
SWITCH_MARGIN_S = 1.0
DEFAULT_TIME_LEFT_S = 10.0  # when goAway does not say

_SWITCH = object()  # _next_or_switch: move to the next connection now
Connection = tuple[Session, contextlib.AsyncExitStack]


class Link:
    """One session over a succession of connections (see the module docstring).

    ``can_switch`` says whether now is a good moment to move to the next
    connection: the talk wiring says no while the user is speaking, so an
    utterance is not split in two.
    """

    def __init__(
        self,
        open_session: Opener,
        *,
        can_switch: Callable[[], bool] = lambda: True,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_s: Sequence[float] = BACKOFF_S,
        hold_s: float = HOLD_S,
        chunk_s: float = 0.02,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_session
        self._can_switch = can_switch
        self.max_attempts = max_attempts
        self.backoff_s = tuple(backoff_s)
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
        self._lock = asyncio.Lock()
        self._next: asyncio.Task[Connection] | None = None  # goAway: being opened
        self._next_handle: str | None = None  # the handle it resumes from
        self._switch_by: float | None = None
        self._in_turn = False

    # -- lifetime --------------------------------------------------------------
    async def __aenter__(self) -> "Link":
        self._session, self._stack = await self._connect()
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
        stack = contextlib.AsyncExitStack()
        try:
            session = await stack.enter_async_context(self._open(self.handle))
        except BaseException:
            await stack.aclose()
            raise
        self.connections += 1
        return session, stack

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

    async def answer_tool_calls(self, calls: Sequence[ev.FunctionCall], error: str) -> None:
        # A tool call belongs to its connection: after a reconnect there is nothing to answer.
        with contextlib.suppress(GatewayError):
            if not self._down:
                await self.session.answer_tool_calls(calls, error)

    async def _send(self, method: str, *args: Any) -> None:
        if self._down:
            self._hold(method, args)
            return
        try:
            await getattr(self.session, method)(*args)
        except GatewayError as exc:
            if not exc.retryable:
                raise
            # The receive loop meets the same failure and reconnects; keep this for after.
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
            if not exc.retryable:
                raise
            async for news in self._reconnect(session, exc):
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
        """The next event, or ``_SWITCH`` when it is time to move to the next connection (between turns)."""
        pending = asyncio.ensure_future(receiving.__anext__())
        try:
            while True:
                waiters: set[asyncio.Future[Any]] = {pending}
                timeout = None
                if self._switch_by is not None and not self._in_turn:
                    left = max(0.0, self._switch_by - self._clock())
                    ready = self._next is not None and self._next.done()
                    if left == 0.0 or (ready and self._can_switch()):
                        return _SWITCH  # between turns, and the next connection is ready at a pause (or time is up)
                    if self._next is not None and not ready:
                        waiters.add(self._next)
                    timeout = min(left, 0.05) if ready else left  # ready: look for a pause
                done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if pending in done:
                    return pending.result()
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
            self.handle = event.handle
            if self._switch_by is not None and not self._in_turn and self._next_handle != self.handle:
                self._start_next()  # the next connection must resume from the newest state
        elif isinstance(event, ev.GoAway):
            return self._go_away(event.time_left_s)
        elif isinstance(event, (ev.Audio, ev.Text, ev.OutputTranscript)):
            self._in_turn = True
        elif isinstance(event, (ev.TurnComplete, ev.Interrupted)):
            self._in_turn = False
        return None

    def _go_away(self, time_left_s: float | None) -> ev.ConnectionEvent | None:
        if self._switch_by is not None:
            return None
        left = time_left_s if time_left_s is not None else DEFAULT_TIME_LEFT_S
        self._switch_by = self._clock() + max(0.0, left - SWITCH_MARGIN_S)
        if not self._in_turn:
            self._start_next()
        # else: after the turn, when the server has given the handle that includes it
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

    async def _switch(self, session: Session) -> AsyncIterator[ev.ConnectionEvent]:
        """Move to the connection opened after goAway (opening it now if it is not there yet)."""
        if self._next is None:
            self._start_next()
        assert self._next is not None
        task, self._next, self._switch_by = self._next, None, None
        try:
            new_session, new_stack = await task
        except GatewayError as exc:
            if not exc.retryable:
                raise
            async for news in self._reconnect(session, exc):
                yield news
            return
        old_stack, self._session, self._stack = self._stack, new_session, new_stack
        self._in_turn = False
        if old_stack is not None:
            with contextlib.suppress(Exception):
                await old_stack.aclose()
        yield ev.Resumed(switched=True, resumed_session=self._next_handle is not None, connection=self.connections)

    async def _reconnect(self, failed: Session, exc: GatewayError) -> AsyncIterator[ev.ConnectionEvent]:
        async with self._lock:
            if self._session is not failed:
                return  # another task already reconnected
            self._down = True
            self._in_turn = False
            if self._stack is not None:
                with contextlib.suppress(Exception):
                    await self._stack.aclose()
            self._drop_next()  # a connection opened after goAway would resume from an older state
            self._switch_by = None
            last: GatewayError = exc
            for attempt in range(self.max_attempts):
                delay = self.backoff_s[min(attempt, len(self.backoff_s) - 1)]
                yield ev.Reconnecting(str(last), attempt + 1, self.max_attempts)
                await self._sleep(delay)
                try:
                    self._session, self._stack = await self._connect()
                except GatewayError as error:
                    if not error.retryable:
                        raise
                    last = error
                    continue
                self.reconnects += 1
                self._down = False
                try:
                    await self._flush_held()
                except GatewayError as error:
                    if not error.retryable:
                        raise
                    last = error
                    self._down = True
                    with contextlib.suppress(Exception):
                        await self._stack.aclose()
                    continue
                yield ev.Resumed(switched=False, resumed_session=self.handle is not None, connection=self.connections)
                return
            raise GatewayError(
                f"lost the connection and could not reconnect in {self.max_attempts} attempts (last: {last}); "
                "check the network and the gateway, then run again"
            )
