"""Typed input: the line editor used when the live view draws what is typed, and the reader."""

import asyncio
import os

from tfy_live.keyboard import LineEditor, typed_lines
from tests.timing import SECOND


def test_enter_finishes_a_line_and_editing_keys_edit_it():
    editor = LineEditor()
    assert editor.feed("hello wrx\x7f\x7fold") == []
    assert editor.text == "hello wold"
    assert editor.feed("\x17world\r") == ["hello world"]
    assert editor.feed("abc\x15xyz") == [] and editor.text == "xyz"
    # arrow and function keys' escape sequences are dropped whole
    assert editor.feed("\x1b[A\x1b[1;5C\x1bOP!\x1b[15~\n") == ["xyz!"]


def test_ctrl_d_ends_input_sending_what_was_typed():
    editor = LineEditor()
    assert editor.feed("last words\x04more") == ["last words"]
    assert editor.ended and editor.text == ""


def test_unicode_and_tabs_are_kept():
    editor = LineEditor()
    assert editor.feed("naïve\tcafé ☕\n") == ["naïve\tcafé ☕"]


async def test_lines_from_a_pipe_including_a_last_line_without_newline():
    read, write = os.pipe()
    os.write(write, "one\r\ntwo\nthr".encode() + "ee ☕".encode())
    os.close(write)
    lines = [line async for line in typed_lines(read)]
    os.close(read)
    assert lines == ["one", "two", "three ☕"]


async def test_on_edit_is_ignored_when_input_is_not_a_terminal():
    read, write = os.pipe()
    os.write(write, b"abc\n")
    os.close(write)
    edits: list[str] = []
    lines = await asyncio.wait_for(_collect(typed_lines(read, on_edit=edits.append)), 5 * SECOND)
    os.close(read)
    assert lines == ["abc"] and edits == []


async def _collect(iterator):
    return [line async for line in iterator]
