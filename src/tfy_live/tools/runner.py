"""The tool calls of one conversation: approval, concurrency, timeouts, cancellation, one result per call.

``ToolRunner.start`` takes the calls of a ``toolCall`` and runs each in its own
task; each ends in exactly one of: a result sent (done, failed, declined — the
model is told in every case) or nothing sent (cancelled by the server's
``toolCallCancellation``, or the conversation ending). I/O comes in as three
callables — ``invoke`` (the MCP edge), ``ask`` (the user), ``send`` (the
session) — so the bookkeeping is tested with plain objects. Every change of a
call's state goes to ``report`` as an ``Activity``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Literal, Sequence

from tfy_live.events import FunctionCall, Scheduling, ToolResult
from tfy_live.tools.approval import Answer, Approval
from tfy_live.tools.catalog import Tool

State = Literal["asking", "running", "done", "failed", "declined", "cancelled"]
FINAL: frozenset[State] = frozenset({"done", "failed", "declined", "cancelled"})
DEFAULT_TIMEOUT_S = 30.0
DECLINED = "the user declined to run this tool; do not call it again unless the user asks"
PREVIEW = 200  # characters of a result shown in a one-line view


class ToolFailure(Exception):
    """A call that could not be made or did not finish (the server died, refused, the connection dropped).

    ``str`` is one line the model and the user can read.
    """


@dataclass(frozen=True)
class Outcome:
    """What a server returned for a call: its text content joined, its structured content, its error flag."""

    text: str = ""
    structured: dict[str, Any] | None = None
    is_error: bool = False


def response_of(outcome: Outcome) -> dict[str, Any]:
    """The function response the model gets: ``{"output": …}``, or ``{"error": …}`` for a failed call.

    The structured content when the server gave one (it is the result as data), else the text.
    """
    if outcome.is_error:
        return {"error": outcome.text or "the tool failed without saying why"}
    return {"output": outcome.structured if outcome.structured is not None else outcome.text}


def preview(value: Any, limit: int = PREVIEW) -> str:
    """``value`` on one line, cut at ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Activity:
    """One call as the user sees it; ``response`` is what the model was sent (None: nothing, yet or at all)."""

    id: str
    name: str  # as the model called it
    args: dict[str, Any]
    server: str | None = None
    tool: str | None = None  # the server's own name for it
    state: State = "running"
    ms: float | None = None  # how long the tool ran (not the time the user took to approve)
    detail: str = ""  # the result or the reason, one line
    response: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.server}/{self.tool}" if self.server else self.name

    def describe(self) -> str:
        args = preview(self.args, 120)
        head = f"{self.label} {args}"
        if self.state == "asking":
            return f"{head} — allow it? type y (yes), n (no) or a (always for this tool), then Enter"
        if self.state == "running":
            return f"{head} — running"
        took = f" in {self.ms:.0f} ms" if self.ms is not None else ""
        if self.state == "done":
            return f"{head} — done{took}: {self.detail}"
        if self.state == "failed":
            return f"{head} — failed{took}: {self.detail}"
        return f"{head} — {self.state}" + (f": {self.detail}" if self.detail else "")


Invoke = Callable[[Tool, dict[str, Any]], Awaitable[Outcome]]
Ask = Callable[[Activity], Awaitable[Answer]]
Send = Callable[[Sequence[ToolResult]], Awaitable[None]]


class ToolRunner:
    """Runs the model's calls of ``tools`` (by declared name) as ``approval`` allows."""

    def __init__(self, tools: Iterable[Tool], invoke: Invoke, approval: Approval, *, send: Send | None = None,
                 ask: Ask | None = None, report: Callable[[Activity], None] = lambda activity: None,
                 timeout_s: float = DEFAULT_TIMEOUT_S, scheduling: Scheduling | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tools = {tool.exposed: tool for tool in tools}
        self.invoke = invoke
        self.approval = approval
        self.send = send
        self.ask = ask
        self.report = report
        self.timeout_s = timeout_s
        self.scheduling = scheduling  # None: blocking calls; else what each non-blocking result asks of the model
        self.clock = clock
        self.counts: Counter[str] = Counter()  # final states
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._activities: dict[str, Activity] = {}
        self._asking = asyncio.Lock()  # one question at a time
        self._ids = itertools.count(1)
        self._failure: asyncio.Future[None] | None = None

    @property
    def pending(self) -> int:
        """Calls not finished (asking or running)."""
        return len(self._tasks)

    def start(self, calls: Sequence[FunctionCall]) -> None:
        """Run each call in its own task; the results are sent as each finishes."""
        for call in calls:
            key = call.id or f"call-{next(self._ids)}"
            if key in self._tasks:
                continue  # the same call again: it is already running
            self._tasks[key] = asyncio.create_task(self._run(key, call), name=f"tool {call.name}")

    def cancel(self, ids: Iterable[str]) -> list[str]:
        """Cancel the named calls (the server no longer wants them): no result is sent. The ids cancelled."""
        cancelled = []
        for key in ids:
            if (task := self._tasks.get(key)) is not None:
                task.cancel()
                cancelled.append(key)
        return cancelled

    async def failed(self) -> None:
        """Wait until a call's bookkeeping failed unexpectedly (a bug), and raise its error."""
        if self._failure is None:
            self._failure = asyncio.get_running_loop().create_future()
        await self._failure

    async def aclose(self) -> None:
        """Cancel every call still running and wait for them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _update(self, activity: Activity, state: State, **changes: Any) -> None:
        activity.state = state
        for name, value in changes.items():
            setattr(activity, name, value)
        if state in FINAL:
            self.counts[state] += 1
        self.report(activity)

    async def _run(self, key: str, call: FunctionCall) -> None:
        tool = self.tools.get(call.name)
        activity = Activity(key, call.name, dict(call.args), tool.server if tool else None, tool.name if tool else None)
        try:
            await self._handle(call, tool, activity)
        except asyncio.CancelledError:
            if activity.state not in FINAL:
                self._update(activity, "cancelled", detail="cancelled by the model")
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in the bookkeeping: end the conversation with it
            if self._failure is None:
                self._failure = asyncio.get_running_loop().create_future()
            if not self._failure.done():
                self._failure.set_exception(exc)
        finally:
            self._tasks.pop(key, None)

    async def _handle(self, call: FunctionCall, tool: Tool | None, activity: Activity) -> None:
        if tool is None:
            names = ", ".join(sorted(self.tools)) or "none"
            error = f"there is no tool named {call.name!r}; the tools are: {names}"
            await self._answer(activity, call, {"error": error}, "failed", detail=error)
            return
        if not await self._approved(tool, activity):
            asked = activity.state == "asking"
            await self._answer(activity, call, {"error": DECLINED}, "declined",
                               detail="" if asked else "not approved by --approve-tools")
            return
        self._update(activity, "running")
        started = self.clock()
        try:
            async with asyncio.timeout(self.timeout_s):
                outcome = await self.invoke(tool, dict(call.args))
        except TimeoutError:
            error = f"the tool did not answer within {self.timeout_s:g} s"
            await self._answer(activity, call, {"error": error}, "failed", ms=1000 * (self.clock() - started),
                               detail=f"timed out ({error})")
            return
        except ToolFailure as exc:
            await self._answer(activity, call, {"error": str(exc)}, "failed", ms=1000 * (self.clock() - started),
                               detail=str(exc))
            return
        ms = 1000 * (self.clock() - started)
        response = response_of(outcome)
        if outcome.is_error:
            await self._answer(activity, call, response, "failed", ms=ms, detail=preview(response["error"]))
        else:
            await self._answer(activity, call, response, "done", ms=ms, detail=preview(response["output"]))

    async def _approved(self, tool: Tool, activity: Activity) -> bool:
        decision = self.approval.decide(tool)
        if decision != "ask":
            return decision == "run"
        if self.ask is None:
            return False
        async with self._asking:
            if (decision := self.approval.decide(tool)) != "ask":  # "always" was answered while this call waited
                return decision == "run"
            self._update(activity, "asking")
            answer = await self.ask(activity)
        if answer == "a":
            self.approval.always(tool)
        return answer in ("y", "a")

    async def _answer(self, activity: Activity, call: FunctionCall, response: dict[str, Any], state: State,
                      **changes: Any) -> None:
        """Send the model its result, then report how the call ended (the model waits; the screen can)."""
        assert self.send is not None, "give the runner a send (Conversation does)"
        try:
            await self.send([ToolResult(call.id, call.name, response, self.scheduling)])
        finally:
            self._update(activity, state, response=response, **changes)
