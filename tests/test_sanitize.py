"""Text leaving the program: control characters shown as ``\\xNN``, secrets masked in every form.

Plain strings first, then properties over any text and any key (hypothesis), checked
against ``tests.hostile.leaked_forms``: the harness's own idea of a leak.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import urllib.parse

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.cli_run import CANARY_KEY
from tests.hostile import leaked_forms
from tfy_live import debuglog, masking
from tfy_live.masking import hide, leak_forms
from tfy_live.sanitize import clean, clean_data, escape_controls, held_back

KEY = CANARY_KEY
B64 = base64.b64encode
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def leaks(text: str, key: str) -> list[bytes]:
    return [form for form in leaked_forms(key) if form in text.encode("utf-8")]


# -- control characters --------------------------------------------------------------------------

def test_escape_sequences_are_written_out_not_obeyed():
    clear = "\x1b[2J\x1b[H"
    clipboard = "\x1b]52;c;ZXZpbA==\x07"  # OSC 52: write "evil" to the clipboard
    assert escape_controls(f"a{clear}b{clipboard}c") == r"a\x1b[2J\x1b[Hb\x1b]52;c;ZXZpbA==\x07c"
    assert escape_controls("8-bit CSI \x9b31m, DEL \x7f, NUL \x00, BS \x08") == r"8-bit CSI \x9b31m, DEL \x7f, NUL \x00, BS \x08"


def test_newline_and_tab_stay_a_lone_carriage_return_does_not():
    assert escape_controls("one\ttwo\nthree\r\nfour") == "one\ttwo\nthree\nfour"
    assert escape_controls("progress 10%\rdone") == r"progress 10%\x0ddone"  # \r would overwrite the line


def test_bidi_overrides_and_lone_surrogates_are_written_out_and_other_text_is_untouched():
    assert escape_controls("file\u202egpj.exe") == r"file\u202egpj.exe"
    assert escape_controls("bad \udc9b byte") == r"bad \udc9b byte"  # what a stray byte in argv becomes
    text = "Grüße, 東京 — naïve café ✓ [bold]not markup[/bold] \\x1b already text"
    assert escape_controls(text) == text


# -- secrets -------------------------------------------------------------------------------------

def test_the_key_is_masked_as_is_url_encoded_and_in_base64_at_every_alignment_in_both_alphabets():
    key = "tfy/key+0123456789=abc"
    assert clean(f"x{key}y", [key]) == "x***y"
    assert clean(urllib.parse.quote(key, safe=""), [key]) == "***"
    assert clean(urllib.parse.quote(key, safe="").lower(), [key]) == "***"  # %2f decodes as %2F does
    assert clean(urllib.parse.quote_plus(key), [key]) == "***"
    for framing in (b"", b"x", b"xy", b"user:", b"Bearer "):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(framing + key.encode()).decode()
            assert leaks(clean(f"body: {text}", [key]), key) == [], (framing, encode)
            assert "***" in clean(text, [key])


def test_a_basic_auth_header_and_a_401_body_are_masked_in_the_debug_log(monkeypatch):
    monkeypatch.setattr(masking, "_PROTECTED", set())  # this test's registry, not the process's
    debuglog.protect(KEY)
    header = "Authorization: Basic " + B64(f"user:{KEY}".encode()).decode()
    assert debuglog.mask(header) == "Authorization: Basic ***"
    body = '{"error": "bad key ' + B64(KEY.encode()).decode() + '"}'
    assert leaks(debuglog.mask(body), KEY) == []
    assert debuglog.mask("frame \x1b]52;c;eA==\x07") == r"frame \x1b]52;c;eA==\x07"


def test_data_written_as_json_is_clean_in_its_keys_and_values_at_any_depth():
    # A tool's structured result may use the key as an object's key; json.dumps would write ESC as \u001b,
    # which a reader (jq -r) decodes back into ESC on its terminal.
    data = {"value": KEY, KEY: "as a name", "\x1b[2J": [{"deep": B64(KEY.encode()).decode()}, 3, None, True]}
    cleaned = clean_data(data, [KEY])
    assert cleaned["value"] == "***" and cleaned["***"] == "as a name"
    assert cleaned[r"\x1b[2J"][0]["deep"].startswith("***") and cleaned[r"\x1b[2J"][1:] == [3, None, True]
    assert leaks(json.dumps(cleaned), KEY) == [] and "\\u001b" not in json.dumps(cleaned)


def test_a_library_record_with_its_traceback_is_one_masked_line_in_the_debug_log(monkeypatch):
    monkeypatch.setattr(masking, "_PROTECTED", set())
    debuglog.protect(KEY)
    try:
        raise ValueError(f"bad\nframe {KEY} \x1b]52;c;eA==\x07")
    except ValueError:
        record = logging.LogRecord("mcp.client", logging.ERROR, __file__, 1, "Error parsing SSE message", (),
                                   sys.exc_info())
    line = debuglog.MaskingFormatter("%(name)s %(message)s").format(record)
    assert line == r"mcp.client Error parsing SSE message (ValueError: bad frame *** \x1b]52;c;eA==\x07)"
    assert record.exc_info is not None  # other handlers still get the record whole


def test_short_test_keys_keep_the_old_whole_word_rule():
    assert clean("check key=k, k and kk", ["k"]) == "check key=***, *** and kk"
    assert clean("I have a cat", ["k"]) == "I have a cat"  # base64 of "k" is too short to mean anything


def test_the_live_view_holds_back_what_may_be_the_start_of_the_key():
    assert held_back("You said: tfy-canary-KEY-01", [KEY]) == "You said: "
    assert held_back("You said: tfy-canary-KEY-0123456789abcdef!", [KEY]) == "You said: ***!"
    assert held_back("You said: hello", [KEY]) == "You said: hello"
    assert held_back("half a base64 key: " + B64(KEY.encode()).decode()[:20], [KEY]) == "half a base64 key: "


def test_a_registered_secret_is_masked_without_being_passed(monkeypatch):
    monkeypatch.setattr(masking, "_PROTECTED", set())
    masking.protect(KEY)
    masking.protect(None)
    assert clean(f"key {KEY}") == "key ***"


# -- properties ----------------------------------------------------------------------------------

any_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.text(max_size=50)
keys = st.text(min_size=1, max_size=40) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_*/+=%", min_size=1, max_size=40)


@st.composite
def text_with_a_key(draw: st.DrawFn) -> tuple[str, str]:
    """Text holding the key in one of the forms it leaks in, between arbitrary text."""
    key = draw(keys)
    framing = draw(st.binary(max_size=4))
    raw = framing + key.encode()
    form = draw(st.sampled_from([
        key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key), urllib.parse.quote(key, safe="").lower(),
        B64(raw).decode(), base64.urlsafe_b64encode(raw).decode(), key + key,
    ]))
    return draw(any_text) + form + draw(any_text), key


@settings(max_examples=300, deadline=None)
@given(any_text, keys)
@example("\x1b]52;c;ZXZpbA==\x07 \x1b[2J", KEY)
@example("a" * 20 + "*", "aaaaaaaa*")
@example("****" * 5, "****")
def test_for_any_text_and_key_nothing_leaks_no_control_character_is_left_and_cleaning_is_idempotent(text, key):
    shown = clean(text, [key])
    assert not FORBIDDEN.search(shown)
    assert "\x1b" not in shown
    assert leaks(shown, key) == []
    assert clean(shown, [key]) == shown


@settings(max_examples=300, deadline=None)
@given(text_with_a_key())
@example(("You said: " + KEY, KEY))
@example(("x" + B64(b"Bearer " + KEY.encode()).decode(), KEY))
def test_a_key_put_in_any_of_its_forms_into_any_text_comes_out_masked(case):
    text, key = case
    shown = clean(text, [key])
    assert leaks(shown, key) == []
    assert clean(shown, [key]) == shown
    assert not FORBIDDEN.search(shown)


@given(keys)
def test_the_forms_masked_include_every_form_the_harness_looks_for(key):
    ours = {form.encode() for form in leak_forms(key)}
    assert set(leaked_forms(key)) <= ours


@settings(max_examples=100, deadline=None)
@given(any_text, st.lists(keys, max_size=3))
def test_hiding_several_secrets_at_once_is_idempotent(text, secrets):
    once = hide(text, secrets)
    assert hide(once, secrets) == once
