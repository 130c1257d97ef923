"""``tfy-live doctor`` on the screen: a table row per check as it finishes, or JSON lines.

The settings row is followed by where each setting came from (flag, environment,
``.env``, default), so a ``.env`` that redirected the base URL or the CA bundle shows.
Every detail is cleaned (``sanitize.clean``): a server's reason may carry the key or
escape sequences. In a terminal the rows fit its width: the name and the detail wrap at
word boundaries inside their own columns (``layout``, ``row``), so the terminal never
breaks a word; piped output keeps one line per row.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from tfy_live.config import describe_sources, env_name, pick, setting_sources
from tfy_live.doctor import Doctor, Result, exit_code, run_checks
from tfy_live.masking import protected
from tfy_live.sanitize import clean
from tfy_live.voices import OPENAI_KINDS
from tfy_live.tools.config import ServerConfig

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

MARKS = {"pass": ("✓ pass", "green"), "fail": ("✗ fail", "bold red"), "skip": ("– skipped", "dim")}
MARK_WIDTH = 10  # the widest mark, "– skipped", and a space
GAP = 2  # between the name and the detail
# Below this the name column gives way (its longest name wraps) so the detail keeps room to read.
MIN_DETAIL = 40
MIN_NAME = 16
MIN_COLUMN = 24  # a detail column narrower than this reads as a word per line: stack the rows instead
STACKED_INDENT = 2


@dataclass(frozen=True)
class Layout:
    """Column widths for the rows; ``detail`` None: no width to fit (not a terminal), nothing wraps."""

    name: int
    detail: int | None
    stacked: bool = False  # too narrow for two columns: the detail goes under the name, indented


def layout(longest_name: int, width: int | None) -> Layout:
    if width is None:
        return Layout(longest_name, None)
    if width < MARK_WIDTH + MIN_NAME + GAP + MIN_COLUMN:
        return Layout(max(width - MARK_WIDTH, 1), max(width - STACKED_INDENT, 1), stacked=True)
    name = max(MIN_NAME, min(longest_name, width - MARK_WIDTH - GAP - MIN_DETAIL))
    return Layout(name, max(width - MARK_WIDTH - GAP - name, 8))


def row(console: Console, columns: Layout, mark: Text, name: str, detail: Text, took: str = "") -> Text:
    """One check as lines of text: each column wraps inside its own width, with a hanging indent.

    The timing stays whole, after the detail's last word or on a line of its own below it.
    """
    from rich.text import Text

    def wrap(text: Text, width: int | None) -> list[Text]:
        lines = list(text.split("\n")) if width is None else list(text.wrap(console, width, overflow="fold"))
        for line in lines:
            line.rstrip()
        return lines or [Text()]

    names = wrap(Text(name, style=detail.style), columns.name)
    details = wrap(detail, columns.detail)
    if took:
        last = details[-1]
        if not last.plain:
            last.append(took, "dim")
        elif columns.detail is None or last.cell_len + 1 + len(took) <= columns.detail:
            last.append(" " + took, "dim")
        else:
            details.append(Text(took, "dim"))
    def start(i: int) -> Text:
        """A line's mark column: the mark on the first line, blank under it."""
        line = Text.assemble(mark if i == 0 else "", end="")
        line.pad_right(MARK_WIDTH - line.cell_len)
        return line

    lines = []
    if columns.stacked:
        for i, part in enumerate(names):
            line = start(i)
            line.append_text(part)
            lines.append(line)
        lines.extend(Text.assemble(" " * STACKED_INDENT, part) for part in details if part.plain)
        return Text("\n").join(lines)
    for i in range(max(len(names), len(details))):
        line = start(i)
        if i < len(names):
            line.append_text(names[i])
        line.pad_right(MARK_WIDTH + columns.name + GAP - line.cell_len)
        if i < len(details):
            line.append_text(details[i])
        line.rstrip()
        lines.append(line)
    return Text("\n").join(lines)


async def run_doctor(flags: Mapping[str, Any], environ: Mapping[str, str], *, local: bool = False,
                     input_device: str | None = None, output_device: str | None = None, audio: bool = True,
                     json_output: bool = False, mcp_servers: list[ServerConfig] | None = None) -> int:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    # A terminal has a width to fit; a pipe or a file gets whole lines (and --json is for programs).
    columns_width = console.width if console.is_terminal else None
    console.soft_wrap = columns_width is None
    secrets = {environ.get(env_name("api_key"), "").strip(), *protected()}
    sources = setting_sources(flags, environ)
    if str(pick("provider_kind", flags, environ)).lower() in OPENAI_KINDS and sources["api_version"] == "default":
        del sources["api_version"]  # a Gemini setting the realtime API does not use; given, it is still shown
    async with contextlib.AsyncExitStack() as stack:
        doctor = Doctor(flags, environ, input_device=input_device, output_device=output_device, audio=audio,
                        mcp_servers=list(mcp_servers or []))
        if local:
            from tfy_live.localgw import LocalGateway
            from tfy_live.talk import LOCAL_PROVIDER

            sources |= {name: "built-in gateway" for name in ("api_key", "base_url")}
            if not flags.get("provider"):
                sources["provider"] = "built-in gateway"

            gw = await stack.enter_async_context(LocalGateway())
            doctor.flags = {**flags, "base_url": gw.base_url, "provider": flags.get("provider") or LOCAL_PROVIDER}
            doctor.environ = {**environ, "TFY_API_KEY": "local"}
            doctor.context = gw.client_ssl_context()
            if not json_output:
                console.print(f"checking against the built-in local gateway on {gw.base_url}", style="dim")
        columns = layout(max(len(check.name) for check in doctor.checks()), columns_width)

        def show(result: Result) -> None:
            detail = clean(result.detail, secrets)
            if json_output:
                record: dict[str, object] = {"check": result.name, "result": result.outcome, "detail": detail,
                                             "seconds": round(result.seconds, 3)}
                if result.name == "settings":
                    record["sources"] = sources
                sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
                sys.stdout.flush()
                return
            mark, style = MARKS[result.outcome]
            took = f"({result.seconds * 1000:.0f} ms)" if result.outcome != "skip" else ""
            label = "fix: " if result.outcome == "fail" else ""
            console.print(row(console, columns, Text(mark, style), result.name, Text(label + detail), took),
                          soft_wrap=True)
            if result.name == "settings":
                console.print(row(console, columns, Text(), "settings from",
                                  Text(describe_sources(sources), style="dim")), soft_wrap=True)

        results = await run_checks(doctor.checks(), show)
    code = exit_code(results)
    if not json_output:
        failed = sum(r.outcome == "fail" for r in results)
        skipped = sum(r.outcome == "skip" for r in results)
        console.print(f"[bold green]all checks passed[/bold green]{f', {skipped} skipped' if skipped else ''}" if code == 0 else
                      f"[bold red]{failed} check{'s' if failed != 1 else ''} failed[/bold red]")
    return code
