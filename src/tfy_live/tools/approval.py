"""``--approve-tools``: which calls run at once, which wait for the user, which are declined.

    ask        every call waits for y (run it), n (decline) or a (run it and every later call of that tool)
    all        every call runs
    none       no call runs (the model is told each was declined)
    read-only  tools the server marks readOnlyHint run; others are asked about, or declined without a terminal
    NAME,…     these tools run (a declared name, the server's name for it, or a server's name for all its tools);
               others as for read-only; ``read-only`` may be one of the names

The default is "ask" on a terminal and "none" without one (``--input-file``, pipes, ``--json``): nothing
runs unless approved on the command line. An explicit "ask" reads the answers from standard input, terminal
or not, so a program driving tfy-live can answer them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal

from tfy_live.errors import ConfigError
from tfy_live.tools.catalog import Tool

Decision = Literal["run", "ask", "decline"]
Answer = Literal["y", "n", "a"]
MODES = ("ask", "all", "none", "read-only")
ANSWERS: dict[str, Answer] = {"y": "y", "yes": "y", "n": "n", "no": "n", "a": "a", "always": "a"}


@dataclass
class Approval:
    mode: Literal["ask", "all", "none", "list"]
    names: frozenset[str] = frozenset()
    read_only: bool = False
    interactive: bool = True  # a person can be asked
    _always: set[str] = field(default_factory=set)

    def decide(self, tool: Tool) -> Decision:
        if self.mode == "all" or tool.exposed in self._always:
            return "run"
        if self.mode == "none":
            return "decline"
        if self.mode == "list" and (self.read_only and tool.read_only or self._named(tool)):
            return "run"
        return "ask" if self.interactive else "decline"

    def always(self, tool: Tool) -> None:
        """The user answered "a": this tool runs without asking for the rest of the session."""
        self._always.add(tool.exposed)

    def _named(self, tool: Tool) -> bool:
        return bool(self.names & {tool.exposed, tool.name, tool.server, tool.label})

    def unknown_names(self, tools: Iterable[Tool]) -> list[str]:
        """Names on the command line that match no tool (a typo approves nothing: say so)."""
        known = {name for t in tools for name in (t.exposed, t.name, t.server, t.label)}
        return sorted(self.names - known)

    def describe(self) -> str:
        if self.mode != "list":
            return {"ask": "asked for each call", "all": "every call runs", "none": "no call runs"}[self.mode]
        parts = (["read-only tools"] if self.read_only else []) + sorted(self.names)
        rest = "asked about" if self.interactive else "declined"
        return f"run without asking: {', '.join(parts)}; others {rest}"


def parse_approval(text: str | None, *, interactive: bool) -> Approval:
    """The policy for ``--approve-tools`` (None: the default, ask on a terminal and none elsewhere)."""
    if text is None:
        return Approval("ask" if interactive else "none", interactive=interactive)
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words:
        raise ConfigError("--approve-tools is empty; give ask, all, none, read-only or tool names (comma-separated)")
    lone = [w for w in words if w.lower() in ("ask", "all", "none")]
    if lone:
        if len(words) > 1:
            raise ConfigError(f"--approve-tools {lone[0]} stands alone; give it without other names")
        mode = lone[0].lower()
        # Asked for by name, "ask" asks wherever standard input is: a driving program may answer.
        return Approval(mode, interactive=interactive or mode == "ask")  # type: ignore[arg-type]
    read_only = any(w.lower() == "read-only" for w in words)
    names = frozenset(w for w in words if w.lower() != "read-only")
    return Approval("list", names, read_only=read_only, interactive=interactive)


def parse_answer(line: str) -> Answer | None:
    """A typed answer to "run this tool?": y, n or a (or the words); None for anything else."""
    return ANSWERS.get(line.strip().lower())
