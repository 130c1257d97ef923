"""Secrets out of what tfy-live prints: each occurrence, in any form it could leak in, becomes ``***``.

A secret leaks as itself, URL-encoded (a URL, a query string), or base64-encoded
inside a longer text (an ``Authorization: Basic`` header, an error body that
quotes a token): ``leak_forms`` lists them and ``hide`` replaces them all.
``protect`` registers a secret for the whole process — the API key, the local
gateway's key — so that every output and the debug log mask it
(``sanitize.clean`` reads ``protected()``).
"""

from __future__ import annotations

import base64
import functools
import re
import urllib.parse
from collections.abc import Iterable

MASK = "***"
WHOLE_WORDS_BELOW = 8  # bytes (UTF-8): a form this short is hidden where it stands alone

_PROTECTED: set[str] = set()


def protect(secret: str | None) -> None:
    """Mask ``secret`` in everything this process prints or writes from now on."""
    if secret:
        _PROTECTED.add(secret)


def protected() -> frozenset[str]:
    return frozenset(_PROTECTED)


@functools.lru_cache(maxsize=32)
def leak_forms(secret: str) -> tuple[str, ...]:
    """``secret`` as is, URL-encoded (three ways), and the base64 characters that only its bits decide.

    Base64 turns three bytes into four characters, so inside a longer encoded text the secret
    starts at one of three alignments; at each, the characters whose six bits all come from the
    secret are the same whatever surrounds it. Both alphabets (``+/`` and ``-_``) are listed.
    """
    raw = secret.encode("utf-8", "surrogatepass")
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret), urllib.parse.quote_plus(secret)}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw + b"\0\0").decode("ascii")
        core = encoded[-(-8 * shift // 6): 8 * (shift + len(raw)) // 6]
        # A core shorter than a real key is no sign of one: "k" would turn every "a" into ***.
        if len(core) >= WHOLE_WORDS_BELOW:
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


def hide(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of each secret replaced by ``***``, until none is left.

    A real key is long and is replaced wherever it appears, inside anything. A form shorter than
    ``WHOLE_WORDS_BELOW`` bytes (a test key such as ``k`` or ``test``) is replaced where it
    stands alone: replaced inside words too, it turned "check" into "chec***" in every error line.
    Replacing can join the text around it into a new occurrence, so the pass repeats until nothing
    changes; it ends because each replacement removes a character that is not ``*`` or shortens
    the text. The result is its own mask: ``hide(hide(t, s), s) == hide(t, s)``.
    """
    pattern = _pattern(frozenset(s for s in secrets if s))
    if pattern is None:
        return text
    while True:
        hidden = pattern.sub(MASK, text)
        if hidden == text:
            return text
        text = hidden


@functools.lru_cache(maxsize=32)
def _pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    # "*", "**" and "***" cannot be hidden behind "***" (and would be replaced for ever).
    forms = sorted({form for secret in secrets for form in leak_forms(secret)
                    if form.strip("*") or len(form) > len(MASK)}, key=len, reverse=True)
    alternatives = []
    for form in forms:
        # %2f and %2F decode alike: any case of the hex digits.
        piece = re.sub(r"%([0-9A-F])([0-9A-F])",
                       lambda m: f"%[{m[1]}{m[1].lower()}][{m[2]}{m[2].lower()}]", re.escape(form))
        if len(form.encode("utf-8", "surrogatepass")) < WHOLE_WORDS_BELOW:
            piece = rf"(?<![\w-]){piece}(?![\w-])"
        alternatives.append(piece)
    return re.compile("|".join(alternatives)) if alternatives else None
