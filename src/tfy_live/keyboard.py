"""Lines typed on standard input, as an async iterator.

Standard input has no portable non-blocking read, so one daemon thread reads
it and hands each line to the event loop with ``call_soon_threadsafe`` (as
websockets' interactive client does). It reads the file descriptor directly,
not ``sys.stdin``: a thread blocked inside ``sys.stdin``'s buffer would hold
its lock and can abort the interpreter at exit.

With ``on_edit`` and a terminal on standard input, the terminal's own echo
and line editing are turned off (``LineEditor`` does the editing) and
``on_edit`` is told the line in progress after every key, so the live view
can draw it where the terminal's echo would have scribbled over the screen.
The terminal's settings are restored when the iteration ends.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import threading
from typing import AsyncIterator, Callable, Iterator

BACKSPACES = ("\x7f", "\x08")
KILL_LINE = "\x15"  # Ctrl-U
KILL_WORD = "\x17"  # Ctrl-W
END_OF_INPUT = "\x04"  # Ctrl-D


class LineEditor:
    """The small line discipline of a terminal, on decoded characters.

    ``feed`` returns the lines finished by Enter; ``text`` is the line in
    progress. Ctrl-D on an empty line is the end of input (``ended``).
    """

    def __init__(self) -> None:
        self.text = ""
        self.ended = False
        self._escape = ""  # an escape sequence in progress (arrow and function keys): dropped

    def feed(self, chars: str) -> list[str]:
        lines: list[str] = []
        for char in chars:
            if self.ended:
                break
            if self._escape or char == "\x1b":
                self._escape += char
                # ESC [ … final, ESC O x, or ESC x: the sequence ends with its final character
                body = self._escape[1:]
                if body and (body[0] not in "[O" or (len(body) > 1 and (body[0] == "O" or "@" <= char <= "~"))):
                    self._escape = ""
                continue
            if char in ("\r", "\n"):
                lines.append(self.text)
                self.text = ""
            elif char in BACKSPACES:
                self.text = self.text[:-1]
            elif char == KILL_LINE:
                self.text = ""
            elif char == KILL_WORD:
                self.text = self.text.rstrip()
                self.text = self.text[: self.text.rfind(" ") + 1]
            elif char == END_OF_INPUT:
                if self.text:
                    lines.append(self.text)
                    self.text = ""
                self.ended = True
            elif char == "\t" or char.isprintable():
                self.text += char
            # other control characters (arrows' escape sequences among them) are ignored
        return lines


@contextlib.contextmanager
def _keys_without_echo(fd: int) -> Iterator[None]:
    """The terminal sends each key at once and does not echo it; restored on exit."""
    import termios

    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[3] &= ~(termios.ECHO | termios.ICANON)  # lflag; ISIG stays on, so Ctrl-C still interrupts
    mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    try:
        yield
    finally:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSANOW, saved)


async def typed_lines(fd: int = 0, on_edit: Callable[[str], None] | None = None) -> AsyncIterator[str]:
    """Each line typed (without its newline) until end of input."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
    editing = on_edit is not None and os.isatty(fd)

    def hand_over(kind: str, item: str | None) -> None:
        # The loop may already be closed when the program is ending.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, (kind, item))

    def read() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        editor = LineEditor()
        pending = ""
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            chars = decoder.decode(data, final=not data)
            if editing:
                for line in editor.feed(chars):
                    hand_over("line", line)
                hand_over("edit", editor.text)
                if not data or editor.ended:
                    hand_over("line", None)
                    return
                continue
            pending += chars
            *lines, pending = pending.split("\n")
            for line in lines:
                hand_over("line", line.rstrip("\r"))
            if not data:
                if pending:
                    hand_over("line", pending)
                hand_over("line", None)
                return

    with _keys_without_echo(fd) if editing else contextlib.nullcontext():
        threading.Thread(target=read, name="stdin", daemon=True).start()
        while True:
            kind, item = await queue.get()
            if kind == "edit":
                assert on_edit is not None
                on_edit(item or "")
            elif item is None:
                return
            else:
                yield item
