"""``--debug``: the protocol as it happens, on standard error, with every secret masked.

The websockets client logs the upgrade request (its ``Authorization: Bearer``
header included) and every frame; the SDK logs its own steps. Both go through
one handler whose formatter cleans each line as every output is cleaned
(``sanitize.clean``: control characters escaped, each registered secret masked in
every form it could leak in), replaces any bearer or basic credentials with
``***``, and elides the base64 audio that would drown the log.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO

from tfy_live import masking
from tfy_live.sanitize import clean

_BEARER = re.compile(r"(?i)(bearer\s+|authorization:\s*basic\s+|x-goog-api-key:\s*|key=)[^\s'\",&]+")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{120,}={0,2}")
LOGGERS = ("websockets.client", "google_genai", "openai", "mcp", "tfy_live")
MAX_LINE = 2000


def protect(secret: str | None) -> None:
    """Never print ``secret`` (the API key, the local gateway's key): in a debug line, nor in any output."""
    masking.protect(secret)


def mask(text: str) -> str:
    text = clean(text)
    text = _BEARER.sub(lambda m: m.group(1) + "***", text)
    text = _BASE64_RUN.sub(lambda m: f"<{len(m.group(0))} base64 chars>", text)
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + f"… ({len(text)} chars)"


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # A record's exception (the MCP SDK logs some with their traceback) as "(Type: message)" on its line.
        exc_info, exc_text = record.exc_info, record.exc_text
        record.exc_info = record.exc_text = None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text = exc_info, exc_text
        if exc_info and exc_info[1] is not None:
            text += f" ({type(exc_info[1]).__name__}: {' '.join(str(exc_info[1]).split())})"
        return mask(text)


def quiet() -> None:
    """Keep the libraries' own log records off the terminal unless --debug asks for them.

    With no handler anywhere, Python prints a warning or an error record as it is (its "last resort"): the
    MCP SDK's would reach the terminal unmasked, with a server's escape sequences and a traceback. What such a
    record says, the error line or the server's notice says once, cleaned; --debug shows the records masked.
    """
    root = logging.getLogger()
    if not any(isinstance(handler, logging.NullHandler) for handler in root.handlers):
        root.addHandler(logging.NullHandler())


def enable(stream: IO[str] | None = None) -> logging.Handler:
    """Send the protocol's debug log to ``stream`` (standard error), masked."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(MaskingFormatter("%(asctime)s.%(msecs)03d %(name)s %(message)s", "%H:%M:%S"))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        logger.propagate = False
    return handler
