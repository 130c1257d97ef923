"""One spoken conversation: three tasks around a shared playback queue.

    capture  — microphone chunks -> ``session.send_audio``
    receive  — ``while True: async for event in session.receive()``
    playback — ``Player.run``: queued model audio -> the speaker (topped up on the other two's wake-ups)

plus a small watcher that ends the conversation when the ``EndRule`` says so,
and, when lines are typed, a keyboard task. With no ``source`` (``tfy-live
chat``) there is no capture: each typed line waits for the reply to the one
before, and the end of typed input is the end of the input.
The first task to fail ends the others (their ``finally`` blocks release the
devices); the error then propagates to the caller unchanged, so the CLI can
turn it into one line and an exit code. On ``interrupted`` the playback queue
is emptied at once (``Player.interrupt``), not at the end of the turn.

A turn begins with the model's first audio, text or transcript — a thought part
or an empty transcription is not output — and its latency runs to the moment the
user perceives it: the turn's first audio handed to the speaker (it may wait
behind the previous reply's), or its first text.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Protocol

from tfy_live import events as ev
from tfy_live.audio import CHUNK_MS, AudioSink, AudioSource, frames_for
from tfy_live.audio.level import rms_dbfs
from tfy_live.echoguard import EchoGuard
from tfy_live.endrule import EndRule
from tfy_live.errors import NoReplyError
from tfy_live.player import Player
from tfy_live.session import Session
from tfy_live.timeline import Summary, Timeline, Turn

if TYPE_CHECKING:  # pragma: no cover - the tools' modules load only when a conversation has tools
    from tfy_live.tools.approval import Answer
    from tfy_live.tools.runner import Activity, ToolRunner

TOOL_ERROR = "tfy-live runs no tools, so this function is not available; answer without it"
# (with --mcp-config or --mcp, tools.runner.ToolRunner runs them)


class Reporter(Protocol):
    """Where the conversation says what is happening (``ui.ConsoleReporter``, or a recorder)."""

    def attach(self, timeline: Timeline, player: Player) -> None: ...
    def listening(self) -> None: ...
    def input_finished(self) -> None: ...
    def user_transcript(self, text: str, finished: bool) -> None: ...
    def user_typed(self, text: str) -> None: ...
    def push_to_talk(self, speaking: bool) -> None: ...
    def ready(self) -> None: ...
    def model_turn_started(self, turn: Turn) -> None: ...
    def model_text(self, text: str) -> None: ...
    def model_transcript(self, text: str) -> None: ...
    def interrupted(self, dropped_ms: float) -> None: ...
    def turn_complete(self, turn: Turn | None) -> None: ...
    def notice(self, text: str) -> None: ...
    def connection(self, event: ev.ConnectionEvent) -> None: ...
    def tool(self, activity: Activity) -> None: ...
    def sources(self, sources: ev.Sources) -> None: ...
    def code(self, event: ev.CodeRun | ev.CodeResult) -> None: ...


class Recorder(Protocol):
    """Keeps what was said and heard (``recorder.Recorder``)."""

    def mic(self, pcm: bytes) -> None: ...
    def played(self, pcm: bytes) -> None: ...


class Conversation:
    """Talk over ``session``: ``source`` to the model, the model to ``sink``.

    ``lines`` (typed input) is optional: a typed line is sent as user text and,
    like speech, interrupts a reply that is playing; with ``push_to_talk`` an
    empty line (Enter) starts and ends the user's turn instead, and microphone
    audio is sent only inside it.

    ``tools`` runs the model's function calls (``tools.runner.ToolRunner``; its
    ``send``, ``ask`` and ``report`` are wired here: ``make_tools``). Without it
    every call is answered with an error, so the model does not wait. A call
    that waits for approval takes the next typed line as the answer (y, n, a);
    ``mute_during_tools`` holds the microphone back while a call runs.
    """

    def __init__(
        self,
        session: Session,
        source: AudioSource | None,
        sink: AudioSink,
        reporter: Reporter,
        *,
        chunk_ms: float = CHUNK_MS,
        rule: EndRule | None = None,
        lines: AsyncIterator[str] | None = None,
        push_to_talk: bool = False,
        recorder: Recorder | None = None,
        guard: EchoGuard | None = None,
        timeline: Timeline | None = None,
        clock: Callable[[], float] = time.monotonic,
        tools: ToolRunner | None = None,
        mute_during_tools: bool = False,
    ) -> None:
        self.session = session
        self.source = source
        self.sink = sink
        self.reporter = reporter
        self.chunk_frames = frames_for(source.sample_rate, chunk_ms) if source is not None else 0
        self.rule = rule or EndRule()
        self.clock = clock
        self.lines = lines
        self.push_to_talk = push_to_talk
        self.recorder = recorder
        self.guard = guard  # echoguard.EchoGuard: echo cancellation, half-duplex, local barge-in
        self.local_barge_ins = 0
        self.player = Player(sink, on_played=self._played)
        self.timeline = timeline or Timeline(started=clock())
        # Latency to the first audio heard: the turn whose first audio is queued, and the count of bytes handed
        # to the speaker (``_handed``) past which that audio is being played.
        self._handed = 0
        self._unheard: tuple[Turn, int] | None = None
        self._unknown_types: set[str] = set()  # message types skipped so far (each is reported once)
        self._user_turn_open = False  # push-to-talk: between the two Enters
        self.tool_calls = 0
        self.resumption_handle: str | None = None
        self._changed = asyncio.Event()
        # Text chat: the reply to the line sent at _sent_at is complete. The end of a turn begun before
        # the line was sent belongs to the reply before it; an empty turn is no reply at all.
        self._replied = asyncio.Event()
        self._sent_at = -float("inf")
        self.tools = tools
        self.mute_during_tools = mute_during_tools
        self._question: asyncio.Future[Answer] | None = None  # a tool call waiting for the user's y / n / a
        self._asked = asyncio.Event()
        self._reading: asyncio.Future[str | None] | None = None  # a typed line being read (_next_line)
        self._input_ended = False
        if tools is not None:
            tools.send, tools.ask, tools.report = self.session.send_tool_results, self._ask, self.reporter.tool

    async def run(self) -> Summary:
        """Talk until the end rule says so; raise the first task's error."""
        async with self.sink:
            tasks = [
                asyncio.create_task(self._receive(), name="receive"),
                asyncio.create_task(self.player.run(), name="playback"),
            ]
            if self.source is not None:
                tasks.append(asyncio.create_task(self._capture(), name="capture"))
            if self.lines is not None:
                tasks.append(asyncio.create_task(self._typed(), name="keyboard"))
            if self.tools is not None:
                tasks.append(asyncio.create_task(self.tools.failed(), name="tools"))
            watcher = asyncio.create_task(self._watch(), name="watch")
            try:
                self.reporter.attach(self.timeline, self.player)
                if self.source is not None:
                    self.reporter.listening()
                else:
                    self.reporter.ready()
                pending: set[asyncio.Task[Any]] = {*tasks, watcher}
                while True:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        if task.exception() is not None:
                            raise task.exception()  # type: ignore[misc]
                    if watcher in done:
                        return self.summary()
                    # capture ends when a file runs out, the keyboard at end of input: keep the others
                    # going, unless it is a text chat (every line's reply has been awaited: done).
                    if any(t.get_name() not in ("capture", "keyboard") for t in done) or self.source is None:
                        return self.summary()
            finally:
                # Cancel whatever is still running and wait for it, so every
                # device and thread is released before the sink closes.
                reading: list[asyncio.Future[Any]] = [self._reading] if self._reading is not None else []
                for running in (*tasks, watcher, *reading):
                    running.cancel()
                await asyncio.gather(*tasks, watcher, *reading, return_exceptions=True)
                if self.tools is not None:
                    await self.tools.aclose()  # calls still running are cancelled: their servers are told

    def summary(self) -> Summary:
        summary = self.timeline.summary(self.clock())
        if self.tools is not None:
            summary.tools = dict(self.tools.counts)
        return summary

    def _event(self) -> None:
        self._changed.set()

    def _played(self, pcm: bytes) -> None:
        """A slice of model audio is being handed to the speaker (``Player.on_played``)."""
        self._handed += len(pcm)
        if self._unheard is not None and self._handed > self._unheard[1]:
            turn, self._unheard = self._unheard[0], None
            self.timeline.perceived(turn, self.clock())
        if self.guard is not None:
            self.guard.played(pcm, self.clock())
        if self.recorder is not None:
            self.recorder.played(pcm)

    def _stop_playback(self, *, hold: bool = False) -> float:
        """Drop the queued audio (``Player.interrupt``); a turn whose first audio went with it is not heard."""
        self._unheard = None
        return self.player.interrupt(hold=hold)

    async def _cut_short(self, *, hold: bool = False) -> float:
        """The user cut the reply short: stop playback at once, then tell the session how much was heard
        (``Session.interrupt``: OpenAI truncates its memory of the reply to that). The dropped milliseconds."""
        heard = self.player.heard()  # before the queue goes: what the speaker played, by the player's count
        dropped = self._stop_playback(hold=hold)
        await self.session.interrupt(heard)
        return dropped

    async def _local_barge_in(self) -> None:
        """The user began speaking over the model: stop playback now, and the rest of this reply."""
        # Hold only a turn still arriving: once the server has ended it, what comes next answers the user.
        dropped = await self._cut_short(hold=self.timeline.turn is not None)
        self.local_barge_ins += 1
        self.timeline.interrupted(self.clock())
        self.reporter.notice(f"you spoke over the model: playback stopped at once (local barge-in; "
                             f"{dropped:.0f} ms of queued audio dropped)")

    async def _capture(self) -> None:
        assert self.source is not None
        rate = self.source.sample_rate
        async for chunk in self.source.stream(self.chunk_frames):
            if self.guard is not None:
                chunk, began = self.guard.mic(chunk, self.clock())
                if began and not self.player.holding:
                    await self._local_barge_in()
                if not chunk:
                    continue  # the canceller holds part of a 10 ms frame until the next chunk
            if self.recorder is not None:
                self.recorder.mic(chunk)
            # With push-to-talk the server's voice detection is off: only the marked turn is sent.
            send = not self.push_to_talk or self._user_turn_open
            if self.mute_during_tools and self.tools is not None and self.tools.pending:
                send = False  # some servers close (1008) when audio arrives while a call is pending
            self.timeline.mic(self.clock(), rms_dbfs(chunk), sent=send)
            if send:
                await self.session.send_audio(chunk, rate)
            self.player.pump()  # the loop is awake: top up the speaker now rather than wake it again for that
        await self.session.end_audio()
        self.rule.input_exhausted(self.clock())
        self.reporter.input_finished()
        self._event()

    async def _next_line(self) -> str | None:
        """The next typed line (None: end of input). A reader cancelled while waiting leaves the read pending
        for the next one: cancelling inside the keyboard's generator would end the generator itself."""
        assert self.lines is not None
        if self._input_ended:
            return None
        reading = self._reading
        if reading is None:
            reading = self._reading = asyncio.ensure_future(anext(self.lines, None))
        line = await asyncio.shield(reading)
        self._reading = None
        self._input_ended = line is None
        return line

    async def _typed(self) -> None:
        while (line := await self._next_line()) is not None:
            text = line.strip()
            if self._question is not None:
                self._answer(text)
            elif self.push_to_talk and not text:
                await self._toggle_turn()
            elif text:
                # Typing, like speaking, interrupts the model: stop what is playing now,
                # before the server's own `interrupted` arrives.
                await self._cut_short()
                self.timeline.user_typed(self.clock())
                self.reporter.user_typed(text)
                self._replied.clear()
                self._sent_at = self.clock()
                await self.session.send_text(text)
                if self.source is None:
                    await self._await_reply()
            elif self.source is None:
                self.reporter.ready()  # an empty line in a text chat: ask again
            self._event()
        if self._question is not None and not self._question.done():
            self._question.set_result("n")  # no more input: nobody will say yes

    # -- tools --------------------------------------------------------------------------------------
    async def _ask(self, activity: Activity) -> Answer:
        """Show the call and wait for the next typed line to say y, n or a (``ToolRunner.ask``)."""
        if self.lines is None:
            self.reporter.notice(f"{activity.label}: no typed input to approve it at; declined")
            return "n"
        self._question = asyncio.get_running_loop().create_future()
        self._asked.set()  # the runner has reported the call as asking: the view shows the question
        try:
            return await self._question
        finally:
            self._question = None

    def _answer(self, text: str) -> None:
        from tfy_live.tools.approval import parse_answer

        assert self._question is not None
        answer = parse_answer(text)
        if answer is None:
            self.reporter.notice("type y (run the tool), n (do not) or a (always run this tool), then Enter")
        elif not self._question.done():
            self._question.set_result(answer)

    async def _next_answers(self) -> None:
        """Text chat, while a reply is awaited: typed lines answer the tool calls that ask (until input ends)."""
        while True:
            await self._asked.wait()
            self._asked.clear()
            while self._question is not None and not self._question.done():
                if (line := await self._next_line()) is None:
                    self._question.set_result("n")
                    return
                self._answer(line.strip())

    async def _await_reply(self) -> None:
        """Text only: wait for the model's whole reply (and its playback) before the next line."""
        # The keyboard task is here, not reading: a tool call that asks takes its answers from here.
        answers = asyncio.create_task(self._next_answers(), name="answers")
        try:
            await asyncio.wait_for(self._replied.wait(), self.rule.reply_timeout_s)
        except TimeoutError:
            raise NoReplyError(
                f"the model did not reply within {self.rule.reply_timeout_s:.0f} s; check that --model is a "
                "Live model and, with --modality text, that it can answer in text"
            ) from None
        finally:
            answers.cancel()
            await asyncio.gather(answers, return_exceptions=True)
        await self.player.wait_idle()
        self.reporter.ready()

    async def _toggle_turn(self) -> None:
        self._user_turn_open = not self._user_turn_open
        if self._user_turn_open:
            await self._cut_short()
            await self.session.activity_start()
        else:
            await self.session.activity_end()
            self.timeline.user_turn_ended(self.clock())  # latency runs from here
        self.reporter.push_to_talk(self._user_turn_open)

    async def _receive(self) -> None:
        while True:
            async for event in self.session.receive():
                self.rule.server_event(self.clock())
                await self._handle(event)
                self._event()

    async def _handle(self, event: ev.Event) -> None:  # noqa: C901 - one branch per event type
        now = self.clock()
        if isinstance(event, ev.Interrupted):
            dropped = await self._cut_short()
            self.player.release()  # after a local barge-in: the next turn is heard
            self.timeline.interrupted(now)
            self.rule.turn_interrupted(now)
            self.reporter.interrupted(dropped)
        elif isinstance(event, (ev.Audio, ev.Text, ev.OutputTranscript)):
            self._model_output(event, now)
        elif isinstance(event, ev.InputTranscript):
            self.rule.user_heard(now)
            self.reporter.user_transcript(event.text, event.finished)
        elif isinstance(event, ev.TurnComplete):
            self.player.release()
            turn = self.timeline.turn_complete(now)
            # A turn without audio or text (Vertex's empty turn after a tool response) is not the reply.
            self.rule.turn_complete(now, replied=turn is not None)
            if turn is not None and turn.started >= self._sent_at:
                self._replied.set()
            self.reporter.turn_complete(turn)
        elif isinstance(event, ev.Usage):
            self.timeline.usage(event.prompt_tokens, event.response_tokens, event.total_tokens, event.thoughts_tokens,
                                event.prompt_details, event.response_details)
        elif isinstance(event, ev.ToolCall):
            self.tool_calls += len(event.calls)
            if self.tools is not None:
                self.tools.start(event.calls)
            else:
                names = ", ".join(call.name for call in event.calls)
                self.reporter.notice(f"the model asked for tool(s) {names}; answered that tfy-live runs no tools")
                await self.session.send_tool_results(
                    [ev.ToolResult(call.id, call.name, {"error": TOOL_ERROR}) for call in event.calls])
        elif isinstance(event, ev.ToolCallCancelled):
            cancelled = self.tools.cancel(event.ids) if self.tools is not None else []
            if not cancelled:
                self.reporter.notice(f"the model cancelled tool call(s) {', '.join(event.ids)}")
        elif isinstance(event, ev.Sources):
            self.reporter.sources(event)
        elif isinstance(event, (ev.CodeRun, ev.CodeResult)):
            self.reporter.code(event)
        elif isinstance(event, ev.GoAway):  # a session without a link: nothing will be opened in its place
            left = f" in {event.time_left_s:.0f} s" if event.time_left_s is not None else " soon"
            self.reporter.notice(f"the gateway will close this connection{left} (connections last about 10 minutes)")
        elif isinstance(event, (ev.GoingAway, ev.Reconnecting, ev.Resumed)):
            self._connection(event, now)
        elif isinstance(event, ev.ResumptionUpdate):
            if event.resumable and event.handle:
                self.resumption_handle = event.handle
        elif isinstance(event, ev.MalformedFrame):
            self.timeline.malformed_frames += 1
            self.reporter.notice(f"skipped a frame from the gateway that is {event.reason} "
                                 f"({self.timeline.malformed_frames} so far)")
        elif isinstance(event, ev.UnknownMessage):
            # Newer servers add message types before tfy-live knows them: count them all, say so once per type.
            self.timeline.unknown_frames += 1
            name = ", ".join(event.types) or "not named by the SDK"
            if name not in self._unknown_types:
                self._unknown_types.add(name)
                self.reporter.notice(f"skipped a frame of a message type tfy-live does not know ({name}); "
                                     "the session goes on")
        elif isinstance(event, ev.Notice):
            self.reporter.notice(event.text)
        # SetupComplete and GenerationComplete need no action.

    def _model_output(self, event: ev.Audio | ev.Text | ev.OutputTranscript, now: float) -> None:
        """Audio, text or a transcript of the model's. A thought is not output (native-audio models think
        before they speak), nor is a transcription with no words (it may close an otherwise empty turn)."""
        if isinstance(event, ev.Text) and event.thought:
            return
        if not isinstance(event, ev.Audio) and not event.text.strip() and self.timeline.turn is None:
            return
        if (started := self.timeline.model_output(now)) is not None:
            self.rule.model_turn_started(now)
            self.reporter.model_turn_started(started)
        turn = self.timeline.turn
        assert turn is not None
        if isinstance(event, ev.Audio):
            waiting = turn.user_ended is not None and turn.latency_ms is None
            # (after a local barge-in this audio is dropped, never heard)
            if waiting and not self.player.holding and (self._unheard is None or self._unheard[0] is not turn):
                self._unheard = (turn, self._handed + self._queued_bytes())
            self.player.put(event.pcm, event.rate, event.item)
        elif isinstance(event, ev.Text):
            self.timeline.perceived(turn, now)  # text is shown as it arrives
            self.reporter.model_text(event.text)
        else:
            self.reporter.model_transcript(event.text)

    def _queued_bytes(self) -> int:
        """Audio in the playback queue, in bytes at the speaker's rate (what plays before audio queued now)."""
        return round(self.player.queued_ms * self.sink.sample_rate * 2 / 1000)

    def _connection(self, event: ev.ConnectionEvent, now: float) -> None:
        """The link's news: while it reconnects the conversation may not end, and a model turn it cut is over."""
        if isinstance(event, ev.Reconnecting):
            self.timeline.reconnecting = True
            if self.timeline.turn is not None:
                self.timeline.interrupted(now)
                self.rule.turn_interrupted(now)
                self.reporter.turn_complete(self.timeline.turn_complete(now))
        elif isinstance(event, ev.Resumed):
            self.timeline.reconnecting = False
        self.reporter.connection(event)

    async def _watch(self) -> None:
        """End the conversation when the rule says so, after the reply has been played.

        Never while the link is reconnecting: what was said meanwhile is still to be
        sent, so after the resume the rule's clock starts again from there.
        """
        down = False
        while True:
            if self.timeline.reconnecting:
                down = True
                self._changed.clear()
                await self._changed.wait()  # the receive loop sets it after every event, the resume's too
                continue
            if down:
                down = False
                if self.rule.exhausted_at is not None:
                    self.rule.input_exhausted(self.clock())
            decision = self.rule.decide(self.clock())
            if decision == "end":
                await self.player.wait_idle()
                if self.rule.decide(self.clock()) == "end":
                    return
                continue
            if decision == "stalled":
                if self.tools is not None and self.tools.pending:  # a call still running: the model waits for it
                    self.rule.server_event(self.clock())
                    continue
                raise NoReplyError(
                    f"the model stopped in the middle of its reply: nothing came for {self.rule.reply_timeout_s:.0f} s "
                    "(--reply-timeout); run again, and check the provider's status if it happens again"
                )
            if decision == "no-reply":
                raise NoReplyError(
                    f"the model did not reply within {self.rule.reply_timeout_s:.0f} s of the end of the input; "
                    "check that the file holds speech and that --model is a Live model"
                )
            deadline = self.rule.deadline()
            self._changed.clear()
            timeout = None if deadline is None else max(0.0, deadline - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
