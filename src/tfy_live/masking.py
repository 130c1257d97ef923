"""Secrets out of what tfy-live prints: each occurrence becomes ``***``."""

from __future__ import annotations

import re
from collections.abc import Iterable

WHOLE_WORDS_BELOW = 8  # characters: a secret this short is hidden where it stands alone


def hide(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by ``***``, the longest first.

    A real key is long and is replaced wherever it appears, inside anything. A key shorter than
    ``WHOLE_WORDS_BELOW`` characters (a test key such as ``k`` or ``test``) is replaced where it
    stands alone: replaced inside words too, it turned "check" into "chec***" in every error line.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) >= WHOLE_WORDS_BELOW:
            text = text.replace(secret, "***")
        else:
            text = re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", "***", text)
    return text
