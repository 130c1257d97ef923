"""What the user sees, in three forms, and the transcript file — all fed the same events.

- ``LiveOutput`` (stdout is a terminal): transcript blocks stream in above one
  status line that stays put — connection, state, microphone meter, elapsed.
- ``PlainOutput`` (a pipe, CI, a log): one event per line, no control codes,
  ``<seconds> <kind>: <text>``.
- ``JsonOutput`` (``--json``): one JSON object per event.
- ``TranscriptFile`` (``--transcript``): Markdown or JSON lines, written and
  flushed as the conversation happens, readable by the owner only.

The outputs on standard output (``StdoutWriter``) stop at the first failed
write: a closed pipe stays ``BrokenPipeError`` for the CLI's edge, a full
device becomes one line.

``Output`` turns the conversation's reporter calls (see
``conversation.Reporter``) into finished blocks — one per speaker turn — and
events; each form only decides how to show them. A notice or a status line
during a block does not close it (one reply is one record): it is shown at
once, before the block it interrupted is finished. ``Fanout`` feeds several.
The API key never reaches this module, but the model or the gateway may send
it back, or send terminal escape sequences: every event leaves through
``Output._event``, which cleans its text (``sanitize.clean``: control
characters shown as ``\\x1b``, secrets masked in every form), and the live
view cleans what it draws of the block in progress.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from tfy_live import outfiles
from tfy_live.errors import ConfigError
from tfy_live.events import (
    CodeResult, CodeRun, ConnectionEvent, FreshSession, GoingAway, Reconnecting, Retrying, Sources,
)
from tfy_live.outfiles import Opener, Policy, Target
from tfy_live.sanitize import clean, clean_data, held_back
from tfy_live.timeline import Summary, Timeline, Turn

if TYPE_CHECKING:  # pragma: no cover - loaded only when a conversation has tools
    from tfy_live.tools.runner import Activity

SPEAKERS = {"user": ("you", "bold cyan"), "model": ("model", "bold magenta")}
STATE_STYLES = {
    "listening": "green", "user speaking": "bold cyan", "model thinking": "yellow",
    "model speaking": "bold magenta", "reconnecting": "bold red",
}


def describe_tokens(turn: Turn) -> str | None:
    """``212 tokens (141 in, 71 out, 30 thinking)``; a count the server did not report is shown as unknown."""
    if not turn.has_usage:
        return None
    out = "out unknown" if turn.response_tokens is None else f"{turn.response_tokens} out"
    thinking = f", {turn.thoughts_tokens} thinking" if turn.thoughts_tokens else ""
    counts = f"{turn.prompt_tokens} in, {out}{thinking}"
    return f"{turn.total_tokens} tokens ({counts})" if turn.total_tokens else f"tokens: {counts}"


def describe_turn(turn: Turn) -> str:
    parts = [f"turn {turn.index}"]
    if turn.latency_ms is not None:
        parts.append(f"latency {turn.latency_ms:.0f} ms")
    if (tokens := describe_tokens(turn)) is not None:
        parts.append(tokens)
    if turn.interrupted:
        parts.append("interrupted")
    return " · ".join(parts)


def describe_summary(summary: Summary) -> str:
    parts = [f"{summary.turns} turn{'s' if summary.turns != 1 else ''}", f"{summary.duration_s:.1f} s"]
    if summary.latency_median_ms is not None:
        parts.append(f"latency median {summary.latency_median_ms:.0f} ms, p95 {summary.latency_p95_ms:.0f} ms")
    if summary.interrupted:
        parts.append(f"{summary.interrupted} interrupted")
    if summary.total_tokens:
        thinking = f" ({summary.thoughts_tokens} thinking)" if summary.thoughts_tokens else ""
        parts.append(f"{summary.total_tokens} tokens{thinking}")
    if summary.malformed_frames:
        parts.append(f"{summary.malformed_frames} malformed frame{'s' if summary.malformed_frames != 1 else ''} skipped")
    if summary.unknown_frames:
        parts.append(f"{summary.unknown_frames} frame{'s' if summary.unknown_frames != 1 else ''} of unknown type "
                     "skipped")
    if calls := sum(summary.tools.values()):
        ends = ", ".join(f"{summary.tools[state]} {state}" for state in TOOL_ENDS if summary.tools.get(state))
        parts.append(f"{calls} tool call{'s' if calls != 1 else ''} ({ends})")
    return "done: " + ", ".join(parts)


TOOL_ENDS = ("done", "failed", "declined", "cancelled")
TOOL_STYLES = {"asking": "bold yellow", "running": "cyan", "done": "green", "failed": "red", "declined": "yellow",
               "cancelled": "yellow"}
MAX_TITLE = 200


def describe_sources(sources: list[tuple[str, str]]) -> str:
    return "sources: " + "; ".join(f"{title} <{url}>" if title else f"<{url}>" for title, url in sources)


def source_url(url: str) -> str:
    """A source's URL as shown: web addresses only (a ``javascript:`` or ``file:`` link is not one)."""
    return url if url.lower().startswith(("https://", "http://")) else "(not a web address)"


class Output:
    """Assembles transcript blocks and events from the conversation's calls."""

    def __init__(self, *, transcripts: bool = True, clock: Callable[[], float] = time.monotonic,
                 secrets: Iterable[str] | None = None) -> None:
        self.transcripts = transcripts
        # None: the secrets registered with masking.protect, read at each event (the local gateway's
        # key is registered after the outputs open).
        self.secrets = None if secrets is None else frozenset(secrets)
        self.clock = clock
        self.started = clock()
        self.timeline: Timeline | None = None
        self.player: Any = None
        self.connected_to = ""  # the status line's target, once connected
        self.input_label: str | None = None  # set when speaking from a file instead of the microphone
        self._speaker: str | None = None
        self._text = ""
        self._interrupted = False
        self._sources: dict[str, str] = {}  # url -> title: the pages the answer in progress cites

    # -- for subclasses ----------------------------------------------------------
    def event(self, kind: str, text: str, **data: Any) -> None:
        """Show one event; ``text`` and every string in ``data`` are already clean."""
        raise NotImplementedError

    def clean(self, text: str) -> str:
        """``text`` as it may be shown or written: control characters escaped, secrets masked."""
        return clean(text, self.secrets)

    def clean_partial(self, text: str) -> str:
        """``clean``, less a tail that may be the start of a secret still streaming in."""
        return held_back(text, self.secrets)

    def _event(self, kind: str, text: str, **data: Any) -> None:
        """Every event leaves through here, so no form can show or write text that is not clean."""
        self.event(kind, self.clean(text), **{key: self._cleaned(value) for key, value in data.items()})

    def _cleaned(self, value: Any) -> Any:
        return clean_data(value, self.secrets)

    def partial(self) -> None:
        """The block in progress changed (the live view redraws it)."""

    def close(self) -> None:
        self._close_block()

    # -- blocks ------------------------------------------------------------------
    def _add(self, speaker: str, text: str) -> None:
        if not text:
            return
        if speaker != self._speaker:
            self._close_block()
            self._speaker = speaker
        self._text += text
        self.partial()

    def _close_block(self) -> None:
        if self._speaker is not None and (self._text.strip() or self._interrupted):
            label = SPEAKERS[self._speaker][0]
            suffix = " [interrupted]" if self._interrupted else ""
            self._event(self._speaker, f"{self._text.strip()}{suffix}", speaker=label,
                        transcript=self._text.strip(), interrupted=self._interrupted)
        self._speaker, self._text, self._interrupted = None, "", False
        self.partial()

    # -- the reporter protocol ---------------------------------------------------
    def attach(self, timeline: Timeline, player: Any) -> None:
        self.timeline, self.player = timeline, player

    # A status or notice leaves the block in progress open: closing it would split one reply into two records.
    def status(self, text: str) -> None:
        self._event("status", text)

    def notice(self, text: str) -> None:
        self._event("notice", text)

    def connected(self, description: str) -> None:
        self.connected_to = description
        self.status(f"connected: {description}")

    def listening(self) -> None:
        if self.input_label:
            self.status(f"speaking {self.input_label} to the model (Ctrl-C to quit)")
        else:
            self.status("listening — speak now (Ctrl-C to quit)")

    def input_finished(self) -> None:
        self.status("input file sent (end of audio stream)")

    def user_transcript(self, text: str, finished: bool) -> None:
        if self.transcripts:
            self._add("user", text)
            if finished:
                self._close_block()

    def user_typed(self, text: str) -> None:
        self._close_block()
        self._add("user", text)
        self._close_block()

    def push_to_talk(self, speaking: bool) -> None:
        self.status("push-to-talk: speaking — press Enter when done" if speaking
                    else "push-to-talk: sent — press Enter to speak")

    def connection(self, event: ConnectionEvent) -> None:
        """The link's news, shown as one line (only a lost connection ends the block in progress)."""
        if isinstance(event, Reconnecting):
            self._close_block()
        if isinstance(event, Retrying):
            self._event("reconnecting", f"{event.reason} — trying again (attempt {event.attempt} of {event.attempts})",
                        state="retrying")
        elif isinstance(event, FreshSession):
            self._event("reconnecting", f"{event.reason} — starting a fresh session: the model will not remember the "
                        f"conversation so far (attempt {event.attempt} of {event.attempts})", state="reconnecting",
                        fresh_session=True)
        elif isinstance(event, Reconnecting):
            self._event("reconnecting", f"{event.reason} — reconnecting (attempt {event.attempt} of {event.attempts})",
                        state="reconnecting")
        elif isinstance(event, GoingAway):
            self._event("connection", f"the gateway will close this connection in {event.time_left_s:.0f} s "
                        "(connections last about 10 minutes); opening the next one", state="switching")
        elif event.switched:
            self._event("connection", f"switched to a new connection (connection {event.connection})", state="resumed")
        else:
            self._event("connection", f"reconnected{' and resumed the session' if event.resumed_session else ''}",
                        state="resumed")

    def typing(self, text: str) -> None:
        """The line being typed, after each key (the live view draws it)."""

    def ready(self) -> None:
        """Text chat: the next line may be typed (at the start, and after each reply)."""
        self._event("ready", "ready for a message")

    def model_turn_started(self, turn: Turn) -> None:
        if self._speaker == "user":
            self._close_block()

    def model_text(self, text: str) -> None:
        self._add("model", text)

    def model_transcript(self, text: str) -> None:
        if self.transcripts:
            self._add("model", text)

    def interrupted(self, dropped_ms: float) -> None:
        if self._speaker == "model":
            self._interrupted = True
        self._close_block()
        self._event("interrupted", f"model interrupted; dropped {dropped_ms:.0f} ms of queued audio",
                    dropped_ms=round(dropped_ms, 1))

    def tool(self, activity: Activity) -> None:
        """A tool call changed state (asking, running, done, failed, declined, cancelled)."""
        self._event("tool", activity.describe(), id=activity.id, name=activity.name, server=activity.server,
                    tool=activity.tool, args=activity.args, state=activity.state,
                    ms=round(activity.ms, 1) if activity.ms is not None else None, detail=activity.detail,
                    response=activity.response)

    def sources(self, sources: Sources) -> None:
        """Pages the answer in progress is grounded on: shown under it, once the answer is whole."""
        for source in sources.sources:
            self._sources.setdefault(source_url(source.url), " ".join(source.title.split())[:MAX_TITLE])

    def code(self, event: CodeRun | CodeResult) -> None:
        if isinstance(event, CodeRun):
            self._event("code", event.code, language=event.language)
        else:
            self._event("code_result", event.output, outcome=event.outcome)

    def _flush_sources(self) -> None:
        if self._sources:
            pairs = [(title, url) for url, title in self._sources.items()]
            self._sources = {}
            self._event("sources", describe_sources(pairs), sources=[{"title": t, "url": u} for t, u in pairs])

    def turn_complete(self, turn: Turn | None) -> None:
        self._close_block()
        self._flush_sources()
        if turn is not None:
            data = asdict(turn)
            data["turn"] = data.pop("index")
            data.pop("started"), data.pop("ended"), data.pop("user_ended")
            if data["latency_ms"] is not None:
                data["latency_ms"] = round(data["latency_ms"], 1)
            self._event("turn", describe_turn(turn), **data)

    def finished(self, summary: Summary) -> None:
        self._close_block()
        self._flush_sources()
        data = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(summary).items()}
        self._event("summary", describe_summary(summary), **data)


class StdoutWriter:
    """What the outputs on standard output share: a failed write raises once, then nothing more is
    written, so the ``finally`` blocks that still report (the summary) do not raise over the first error.

    A closed pipe stays ``BrokenPipeError`` (the CLI's edge gives it its exit code); anything else
    (``> /dev/full``) is one line naming the fix.
    """

    stdout_failed = False

    def _stdout(self, write: Callable[[], object]) -> None:
        if self.stdout_failed:
            return
        try:
            write()
        except BrokenPipeError:
            self.stdout_failed = True
            raise
        except OSError as exc:
            self.stdout_failed = True
            raise outfiles.stdout_error(exc) from exc


class StdoutConsole(Console):
    """A rich console whose closed pipe is ``BrokenPipeError``: rich's own handler raises
    ``SystemExit(1)`` from inside whatever task printed, with no message and the wrong exit code."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


class PlainOutput(StdoutWriter, Output):
    def __init__(self, out: IO[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = out

    def event(self, kind: str, text: str, **data: Any) -> None:
        line = f"{self.clock() - self.started:.2f} {kind}: {' '.join(text.split())}\n"  # one event, one line
        self._stdout(lambda: (self.out.write(line), self.out.flush()))


class JsonOutput(StdoutWriter, Output):
    def __init__(self, out: IO[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = out

    def event(self, kind: str, text: str, **data: Any) -> None:
        record = {"event": kind, "t": round(self.clock() - self.started, 3), "text": text, **data}
        line = json.dumps(record, ensure_ascii=False, allow_nan=False, default=str) + "\n"
        self._stdout(lambda: (self.out.write(line), self.out.flush()))


def level_meter(dbfs: float, width: int = 10) -> str:
    """A bar for a level from -60 dBFS (empty) to 0 dBFS (full)."""
    fill = 0 if math.isinf(dbfs) else max(0, min(width, round((dbfs + 60) / 60 * width)))
    return "█" * fill + "·" * (width - fill)


class LiveOutput(Output):
    """The terminal view: finished blocks scroll up; the block in progress and a status line stay at the bottom."""

    def __init__(self, console: Console | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.console = console or Console(highlight=False)
        self._typing = ""
        self._question: str | None = None  # a tool call waiting for y / n / a: kept in view above the status
        self._short_question = ""  # the same, when the whole question does not fit the terminal
        self._live = Live(console=self.console, get_renderable=self._render, refresh_per_second=10,
                          transient=True, redirect_stdout=False, redirect_stderr=False)
        self._live.start()

    def event(self, kind: str, text: str, **data: Any) -> None:
        if kind in SPEAKERS:
            label, style = SPEAKERS[kind]
            body = escape(data["transcript"])
            mark = " [dim]— interrupted[/dim]" if data.get("interrupted") else ""
            self.console.print(f"[{style}]{label} ›[/{style}] {body}{mark}")
        elif kind == "turn":
            self.console.print(f"[dim]  {escape(text)}[/dim]")
        elif kind in ("notice", "connection"):
            self.console.print(f"[yellow]{escape(text)}[/yellow]")
        elif kind == "reconnecting":
            self.console.print(f"[bold red]{escape(text)}[/bold red]")
        elif kind == "summary":
            self.console.print(f"[bold]{escape(text)}[/bold]")
        elif kind == "tool":
            # A call waiting for y / n / a is the approve › line above the status (tool() below), once:
            # it scrolls up when it is decided (running, declined, cancelled).
            if data.get("state") != "asking":
                style = TOOL_STYLES.get(data.get("state", ""), "cyan")
                self.console.print(f"[{style}]tool ›[/{style}] {escape(text)}")
        elif kind == "sources":
            self.console.print(f"[dim]  {escape(text)}[/dim]")
        elif kind in ("code", "code_result"):
            label = "code ›" if kind == "code" else f"code result ({data.get('outcome', '')}) ›"
            self.console.print(f"[bold blue]{escape(label)}[/bold blue]\n{escape(text)}")
        elif kind != "interrupted":
            self.console.print(f"[dim]{escape(text)}[/dim]")

    def tool(self, activity: Activity) -> None:
        super().tool(activity)
        asking = activity.state == "asking"
        self._question = activity.describe() if asking else None
        self._short_question = f"{activity.label}? y / n / a, then Enter" if asking else ""
        self._live.refresh()

    def partial(self) -> None:
        self._live.refresh()

    def typing(self, text: str) -> None:
        self._typing = text
        self._live.refresh()

    def close(self) -> None:
        super().close()
        self._live.stop()

    def _render(self) -> Group:
        """The view, in the terminal's height: rich would cut a taller one at the bottom, hiding the status
        line and a question waiting for an answer. What gives way, first: the start of the block in
        progress, then the start of the typed line; the question is shortened to its label."""
        width, height = self.console.size
        status = self._status_line()
        room = height - 1
        question = None
        if self._question and room >= 1:  # (a one-row terminal shows the status line alone)
            question = self._fitted_question(width, room - bool(self._typing))  # and a row for the typed line
            room -= rows(question, self.console, width)
        typed = None
        if self._typing:
            typed = tail(("type › ", "bold cyan"), self.clean(self._typing), ("▏", "blink"),
                         console=self.console, width=width, room=room)
            room -= rows(typed, self.console, width) if typed is not None else 0
        block = None
        if self._speaker is not None and self._text:
            label, style = SPEAKERS[self._speaker]
            block = tail((f"{label} › ", style), self.clean_partial(self._text), console=self.console,
                         width=width, room=room)
        return Group(*(line for line in (block, question, typed, status) if line is not None))

    def _fitted_question(self, width: int, limit: int) -> Text:
        """The whole question in ``limit`` rows; else its label and the answers; else that, cut, on one row."""
        for text in (self._question or "", self._short_question):
            question = Text.assemble(("approve › ", "bold yellow"), self.clean(text))
            if rows(question, self.console, width) <= limit:
                return question
        return Text.assemble(("approve › ", "bold yellow"), self.clean(self._short_question), no_wrap=True,
                             overflow="ellipsis")

    def _status_line(self) -> Text:
        now = self.clock()
        state: str | None = None
        level = -math.inf
        if self.timeline is not None:
            playing = self.player is not None and not self.player.idle
            state = self.timeline.state(now, playing=playing)
            level = self.timeline.level_dbfs
        return status_line(self.clean(self.connected_to), state, level, now - self.started, self.console.width)


def rows(text: Text, console: Console, width: int) -> int:
    """The terminal rows ``text`` takes at ``width``."""
    return 1 if text.no_wrap else max(1, len(text.wrap(console, width)))


def tail(label: tuple[str, str], body: str, *end: tuple[str, str], console: Console, width: int,
         room: int) -> Text | None:
    """``label`` and as much of the end of ``body`` as fits in ``room`` rows (the start cut at a word, marked
    with …); None if not even the label does."""
    if room < 1:
        return None
    # A longer text cannot fit (but for combining marks, a character takes a cell or more): cut at once.
    if len(label[0]) + len(body) + sum(len(part) for part, _ in end) <= room * width:
        whole = Text.assemble(label, body, *end)
        if rows(whole, console, width) <= room:
            return whole
    # Words wrap before the edge: most rows end a little short.
    keep = max(1, room * width * 9 // 10 - len(label[0]) - 2)
    while True:
        cut = body[-keep:]
        if " " in cut[:-1]:
            cut = cut[cut.index(" ") + 1:]  # whole words
        shown = Text.assemble(label, ("… ", "dim"), cut, *end)
        if rows(shown, console, width) <= room:
            return shown
        if keep == 1:
            return None
        keep = max(1, keep - max(1, keep // 8))


SEPARATOR = "  │  "
MIN_TARGET = 16  # below this a cut target says nothing: it goes, leaving the dot


def status_line(target: str, state: str | None, level_dbfs: float, elapsed_s: float, width: int) -> Text:
    """The live view's last line, in at most ``width`` cells: a line that wraps pushes the view up a line
    at every refresh. The least important fields give way first: the target is cut, then the mic's bar
    goes, then the target, the elapsed time and the mic's level; the state goes last, cut to the width."""
    elapsed = int(elapsed_s)
    clock = f"{elapsed // 60:02d}:{elapsed % 60:02d}"
    db = f"{'-∞' if math.isinf(level_dbfs) else f'{level_dbfs:.0f}'} dB"
    target = target or "connecting…"

    def build(target_cells: int | None, bar: bool, show_clock: bool, mic: bool) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        if target_cells is None:
            line.append(f"● {target}", style="dim")
        elif target_cells > 0:
            shown = Text(target)
            shown.truncate(target_cells, overflow="ellipsis")
            line.append(f"● {shown.plain}", style="dim")
        else:
            line.append("●", style="dim")
        if state is not None:
            line.append(SEPARATOR)
            line.append(f"{state:<14}", style=STATE_STYLES.get(state, ""))
            if mic and bar:
                line.append(f"{SEPARATOR}mic ")
                line.append(level_meter(level_dbfs), style="cyan")
                line.append(f" {db}".rjust(8))
            elif mic:
                line.append(f"{SEPARATOR}mic {db}")
        if show_clock:
            line.append(f"{SEPARATOR}{clock}")
        return line

    full = build(None, True, True, True)
    if full.cell_len <= width:
        return full
    # In order of preference; the target, where kept, is cut to what is left (too short to read: not kept).
    layouts = ((True, True, True, True), (True, False, True, True), (False, False, True, True),
               (False, False, False, True), (False, False, False, False))
    for keep_target, bar, show_clock, mic in layouts:
        rest = build(0, bar, show_clock, mic).cell_len
        if keep_target and width - rest - 1 >= MIN_TARGET:  # "● " against "●"
            return build(width - rest - 1, bar, show_clock, mic)
        if not keep_target and rest <= width:
            return build(0, bar, show_clock, mic)
    line = build(0, False, False, False)
    line.truncate(max(width, 0), overflow="crop")
    return line


class ChatOutput(StdoutWriter, Output):
    """``tfy-live chat`` in plain text: the model's answers on ``out``, everything else on ``err``.

    Piped (``echo question | tfy-live chat``), ``out`` gets the answers alone,
    one block per reply, so a script can use them as they are. At a terminal
    (``interactive``) answers are labelled, a ``you ›`` prompt waits for the
    next line, and each reply's latency and tokens follow it.
    """

    def __init__(self, out: Console, err: Console, *, interactive: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out, self.err, self.interactive = out, err, interactive

    _hinted = False
    _prompted = False  # the cursor is after "you › ", where the terminal echoes what is typed

    def ready(self) -> None:
        if self.interactive:
            if not self._hinted:
                self._hinted = True
                self.err.print("[dim]type a message and press Enter; Ctrl-D or Ctrl-C to quit[/dim]")
            self._prompt()

    def _prompt(self) -> None:
        self._stdout(lambda: self.out.print("[bold cyan]you ›[/bold cyan] ", end=""))
        self._prompted = True

    def user_typed(self, text: str) -> None:
        self._prompted = False  # Enter ended the line
        super().user_typed(text)

    def event(self, kind: str, text: str, **data: Any) -> None:
        # Ctrl-D ends the input without a newline (and Ctrl-C leaves "^C"): what follows starts a line of its own.
        prompted, self._prompted = self._prompted, False
        if prompted:
            self._stdout(lambda: self.out.print())
        self._show(kind, text, **data)
        if prompted and kind in ("notice", "reconnecting", "connection", "status", "tool"):
            self._prompt()  # still waiting for a line: ask again under the news

    def _show(self, kind: str, text: str, **data: Any) -> None:
        if kind == "model":
            mark = " [interrupted]" if data.get("interrupted") else ""
            if self.interactive:
                shown = f"[bold magenta]model ›[/bold magenta] {escape(data['transcript'])}{escape(mark)}"
            else:
                shown = escape(data["transcript"] + mark)
            self._stdout(lambda: self.out.print(shown, markup=True))
        elif kind in ("notice", "reconnecting", "connection"):
            self.err.print(f"[yellow]{escape(text)}[/yellow]")
        elif kind == "tool":
            style = TOOL_STYLES.get(data.get("state", ""), "cyan")
            self.err.print(f"[{style}]tool ›[/{style}] {escape(text)}")
        elif kind in ("code", "code_result"):
            self.err.print(f"[bold blue]{'code' if kind == 'code' else 'code result'} ›[/bold blue] {escape(text)}")
        elif kind == "sources":
            # Under the answer: on standard output at a terminal; piped, standard output carries answers alone.
            if self.interactive:
                self._stdout(lambda: self.out.print(f"[dim]  {escape(text)}[/dim]"))
            else:
                self.err.print(escape(text))
        elif self.interactive and kind in ("turn", "summary", "status"):
            self.err.print(f"[dim]{'  ' if kind == 'turn' else ''}{escape(text)}[/dim]")


MARKDOWN_TITLE = "# tfy-live conversation"


def is_transcript(head: bytes, *, jsonl: bool) -> bool:
    """Whether a file starting with ``head`` is a transcript tfy-live wrote in that format (to append to)."""
    if not jsonl:
        return head.startswith(MARKDOWN_TITLE.encode())
    try:
        first = json.loads(head.split(b"\n", 1)[0])
    except ValueError:
        return False
    return isinstance(first, dict) and {"event", "time", "t"} <= first.keys()


def transcript_target(path: Path) -> Target:
    """``--transcript PATH`` as an output file: one to append to when it is a transcript of ours in its format."""
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json")
    return Target(path, "--transcript", "transcript", appendable=lambda head: is_transcript(head, jsonl=jsonl))


class TranscriptFile(Output):
    """The conversation as Markdown (``.md``) or JSON lines (``.jsonl``), flushed as it happens.

    Opened by ``opener`` as ``outfiles`` says: a new file, or a transcript of ours in the same format
    appended to (a new Markdown section, or more lines), or with ``--overwrite`` a replacement that takes
    the old file's place once connected. Each event is written whole or not at all; after a failed write
    (a full disk) nothing more is written.
    """

    def __init__(self, path: Path, *, policy: Policy = Policy(), opener: Opener = outfiles.create,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json")
        self._failed = False
        self.out = opener(transcript_target(path), policy)
        try:
            if not self.jsonl:
                gap = "\n" if self.out.size else ""  # appending: a blank line before the new section
                self._write(f"{gap}{MARKDOWN_TITLE}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n\n")
        except BaseException:
            self.out.discard()
            raise

    def _write(self, text: str) -> None:
        if self._failed:
            return
        try:
            self.out.append(text.encode("utf-8"))
        except ConfigError:
            self._failed = True
            raise

    def connected(self, description: str) -> None:
        super().connected(description)
        self.out.commit()  # the conversation has begun: with --overwrite, this file replaces the old one

    def event(self, kind: str, text: str, **data: Any) -> None:
        stamp = time.strftime("%H:%M:%S")
        if self.jsonl:
            record = {"event": kind, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                      "t": round(self.clock() - self.started, 3), "text": text, **data}
            self._write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        elif kind in SPEAKERS:
            mark = " *(interrupted)*" if data.get("interrupted") else ""
            self._write(f"**{data['speaker']}** ({stamp}): {data['transcript']}{mark}\n\n")
        elif kind == "tool":
            if data.get("state") in TOOL_ENDS:  # one entry per call: arguments, how it ended, what the model got
                answer = json.dumps(data.get("response"), ensure_ascii=False, indent=2, default=str)
                shown = f"\n\n```json\n{answer}\n```" if data.get("response") is not None else ""
                self._write(f"_{stamp} — tool {text}_{shown}\n\n")
        elif kind in ("code", "code_result"):
            label = "code" if kind == "code" else f"code result ({data.get('outcome', '')})"
            self._write(f"_{stamp} — {label}:_\n\n```\n{text}\n```\n\n")
        elif kind in ("turn", "summary", "notice", "reconnecting", "connection", "sources") or (
                kind == "status" and text.startswith("connected")):
            self._write(f"_{stamp} — {text}_\n\n")

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.out.close()


class Fanout:
    """Several outputs fed the same calls (the first is the one on screen)."""

    def __init__(self, *outputs: Output) -> None:
        self.outputs = outputs

    @property
    def input_label(self) -> str | None:
        return self.outputs[0].input_label

    @input_label.setter
    def input_label(self, value: str | None) -> None:
        for output in self.outputs:
            output.input_label = value

    def _each(self, method: str, *args: Any) -> None:
        for output in self.outputs:
            getattr(output, method)(*args)

    def attach(self, timeline: Timeline, player: Any) -> None:
        self._each("attach", timeline, player)

    def status(self, text: str) -> None:
        self._each("status", text)

    def notice(self, text: str) -> None:
        self._each("notice", text)

    def connected(self, description: str) -> None:
        self._each("connected", description)

    def connection(self, event: ConnectionEvent) -> None:
        self._each("connection", event)

    def listening(self) -> None:
        self._each("listening")

    def input_finished(self) -> None:
        self._each("input_finished")

    def user_transcript(self, text: str, finished: bool) -> None:
        self._each("user_transcript", text, finished)

    def user_typed(self, text: str) -> None:
        self._each("user_typed", text)

    def push_to_talk(self, speaking: bool) -> None:
        self._each("push_to_talk", speaking)

    def typing(self, text: str) -> None:
        self._each("typing", text)

    def ready(self) -> None:
        self._each("ready")

    def model_turn_started(self, turn: Turn) -> None:
        self._each("model_turn_started", turn)

    def model_text(self, text: str) -> None:
        self._each("model_text", text)

    def model_transcript(self, text: str) -> None:
        self._each("model_transcript", text)

    def interrupted(self, dropped_ms: float) -> None:
        self._each("interrupted", dropped_ms)

    def turn_complete(self, turn: Turn | None) -> None:
        self._each("turn_complete", turn)

    def finished(self, summary: Summary) -> None:
        self._each("finished", summary)

    def tool(self, activity: Activity) -> None:
        self._each("tool", activity)

    def sources(self, sources: Sources) -> None:
        self._each("sources", sources)

    def code(self, event: CodeRun | CodeResult) -> None:
        self._each("code", event)

    def close(self) -> None:
        self._each("close")
