"""The Gemini and Vertex kinds behind the ``session.Session`` seam: the only package that imports google-genai.

    client     — the gateway URLs, TLS trust, the SDK client and the session's setup
    live       — ``connect``: one Live connection as a ``LiveSession`` (send, receive our events)
    translate  — a server message into tfy-live's events, once
    errors     — the table from SDK and websockets exceptions to one ``GatewayError`` line
    opening    — how a connection opens: no redirects (the key reaches one origin), how far it got
    sdk        — every use of the SDK's private attributes, each with a public fallback

No SDK type leaves this package. The SDK is imported lazily, inside functions,
so that ``tfy-live --help`` does not pay for it.
"""

from __future__ import annotations

from tfy_live.gateway.client import socket_url, ssl_context
from tfy_live.gateway.errors import translate_error
from tfy_live.gateway.live import LiveSession, connect

__all__ = ["LiveSession", "connect", "socket_url", "ssl_context", "translate_error"]
