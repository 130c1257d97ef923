"""What the user sees: the conversation's transcript on stdout, status on stderr.

Rendering only (rich); the conversation calls the ``Reporter`` methods. The API
key never reaches this module.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.markup import escape

from tfy_live.events import Usage

SPEAKERS = {"user": ("you", "bold cyan"), "model": ("model", "bold magenta")}


class ConsoleReporter:
    """Prints each speaker's words as they stream, one block per speaker turn."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, *, quiet: bool = False) -> None:
        self.out = Console(file=out, highlight=False, soft_wrap=True)
        self.err = Console(file=err, stderr=err is None, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.input_label: str | None = None  # set when speaking from a file instead of the microphone
        self._speaker: str | None = None

    # -- status ---------------------------------------------------------
    def status(self, text: str) -> None:
        if not self.quiet:
            self._end_line()
            self.err.print(f"[dim]{text}[/dim]")

    def notice(self, text: str) -> None:
        self._end_line()
        self.err.print(f"[yellow]{escape(text)}[/yellow]")

    def error(self, text: str) -> None:
        self._end_line()
        self.err.print(f"[bold red]error:[/bold red] {escape(text)}")

    def listening(self) -> None:
        if self.input_label:
            self.status(f"speaking {self.input_label} to the model (Ctrl-C to quit)")
        else:
            self.status("Listening — speak now (Ctrl-C to quit)")

    def input_finished(self) -> None:
        self.status("input file sent (end of audio stream)")

    # -- transcript -------------------------------------------------------
    def _say(self, speaker: str, text: str) -> None:
        if speaker != self._speaker:
            self._end_line()
            label, style = SPEAKERS[speaker]
            self.out.print(f"[{style}]{label} ›[/{style}] ", end="")
            self._speaker = speaker
        self.out.print(escape(text), end="")
        self.out.file.flush()

    def _end_line(self) -> None:
        if self._speaker is not None:
            self.out.print()
            self._speaker = None

    def user_transcript(self, text: str, finished: bool) -> None:
        if text:
            self._say("user", text)
        if finished:
            self._end_line()

    def model_turn_started(self) -> None:
        pass

    def model_text(self, text: str) -> None:
        self._say("model", text)

    def model_transcript(self, text: str) -> None:
        self._say("model", text)

    def interrupted(self, dropped_ms: float) -> None:
        if self._speaker == "model":
            self.out.print(" [dim]— interrupted[/dim]", end="")
        self._end_line()
        self.status(f"model interrupted; dropped {dropped_ms:.0f} ms of queued audio")

    def turn_complete(self, turn: int) -> None:
        self._end_line()

    def usage(self, usage: Usage) -> None:
        pass

    def finished(self, text: str) -> None:
        self.status(text)
