"""The servers' tools as one list the model can call.

Each server names its own tools; two servers may both offer ``search``. A name
that more than one server offers is declared as ``<server>_<name>``; every
declared name is also made one the model accepts (letters, digits, ``_ . : -``,
not starting with a digit, at most 64 characters).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from tfy_live.events import ToolSpec

MAX_NAME = 64
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.:-]")


@dataclass(frozen=True)
class Tool:
    """One tool of one server: ``name`` as the server knows it, ``exposed`` as the model calls it."""

    server: str
    name: str
    description: str = ""
    schema: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    read_only: bool = False  # the server's annotations say readOnlyHint
    exposed: str = ""

    @property
    def label(self) -> str:
        return f"{self.server}/{self.name}"


def function_name(text: str) -> str:
    """``text`` as a name the model accepts."""
    name = _NOT_ALLOWED.sub("_", text) or "_"
    if not (name[0].isalpha() or name[0] == "_"):
        name = "_" + name
    return name[:MAX_NAME]


def expose(tools: Iterable[Tool]) -> list[Tool]:
    """The tools with their declared names: prefixed with the server's where two servers share a name."""
    tools = list(tools)
    counts = Counter(tool.name for tool in tools)
    named: list[Tool] = []
    taken: set[str] = set()
    for tool in tools:
        base = function_name(f"{tool.server}_{tool.name}" if counts[tool.name] > 1 else tool.name)
        exposed, n = base, 1
        while exposed in taken:  # two names that were made alike (a/b and a_b), or a prefix that met a name
            n += 1
            exposed = f"{base[:MAX_NAME - len(str(n)) - 1]}_{n}"
        taken.add(exposed)
        named.append(replace(tool, exposed=exposed))
    return named


def parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's input schema as a declaration's parameters: always an object schema."""
    schema = {k: v for k, v in schema.items() if k != "$schema"}
    if schema.get("type") != "object":
        schema = {"type": "object", "properties": {}, **{k: v for k, v in schema.items() if k != "type"}}
    return schema


def specs(tools: Iterable[Tool], *, non_blocking: bool = False) -> tuple[ToolSpec, ...]:
    """The declarations a session sends for ``tools``."""
    return tuple(ToolSpec(t.exposed, t.description, parameters(t.schema), non_blocking) for t in tools)
