"""Text on its way out of tfy-live: secrets masked, control characters shown and never obeyed.

What the model says, a server's close reason or error body, a ``.env`` value: all of
it may carry the API key (as is, URL-encoded, base64) or terminal escape sequences
(ESC ``[2J`` clears the screen, OSC 52 writes the clipboard). ``clean`` is applied
where text leaves the program — the outputs and transcript files in ``ui``, doctor,
the CLI's error lines, the debug log — and does both:

- every control character but newline and tab — C0, DEL, C1 — is written out as
  ``\\xNN`` (ESC becomes the four characters ``\\x1b``), as are the bidirectional
  overrides and isolates (``\\u202e``…), which reorder what a terminal shows, and lone
  surrogates, which no file can hold; a CR LF pair is a plain newline;
- then each secret becomes ``***`` in every form ``masking.leak_forms`` lists.

Escaping comes first so that no escape can spell a secret afterwards; the result
is its own fixed point: ``clean(clean(t)) == clean(t)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tfy_live.masking import WHOLE_WORDS_BELOW, hide, leak_forms, protected

_SHOWN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def escape_controls(text: str) -> str:
    """``text`` with each control character (but ``\\n`` and ``\\t``) written out as ``\\xNN`` or ``\\uNNNN``."""
    return _SHOWN.sub(_written_out, text.replace("\r\n", "\n"))


def _written_out(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` safe to show and to write: control characters escaped, then secrets masked.

    ``secrets`` defaults to those registered with ``masking.protect`` (the API key, the local gateway's).
    """
    return hide(escape_controls(text), protected() if secrets is None else secrets)


def clean_data(value: Any, secrets: Iterable[str] | None = None) -> Any:
    """``value`` (JSON-like: strings, numbers, lists, objects) with every string in it ``clean``, keys too.

    For data written as JSON: ``json.dumps`` writes ESC as ``\\u001b``, which a reader (``jq -r``) turns back
    into ESC on its terminal; and a tool's structured result may use the key as an object's key.
    """
    secrets = protected() if secrets is None else frozenset(secrets)
    if isinstance(value, str):
        return clean(value, secrets)
    if isinstance(value, dict):
        return {clean_data(key, secrets): clean_data(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_data(item, secrets) for item in value]
    return value


def held_back(text: str, secrets: Iterable[str] | None = None) -> str:
    """``clean(text)`` less any tail that could be the start of a secret still arriving.

    For text shown while it streams in (the live view's block in progress): the key
    split across two messages must not be drawn half at a time. The tail appears
    once the text goes on, or when the block is finished and shown whole.
    """
    secrets = protected() if secrets is None else frozenset(secrets)
    shown = clean(text, secrets)
    cut = 0
    for form in {form for secret in secrets for form in leak_forms(secret)
                 if len(form.encode("utf-8", "surrogatepass")) >= WHOLE_WORDS_BELOW}:
        for length in range(min(len(form) - 1, len(shown)), cut, -1):
            if shown.endswith(form[:length]):
                cut = length
                break
    return shown[: len(shown) - cut]
