"""The openai and azure kinds behind the ``session.Session`` seam: the only package that imports openai.

    client     — the one URL rule (``websocket_base_url``), the SDK client, the session's configuration
    live       — ``Connector``: opens realtime connections as ``RealtimeSession`` (send, receive our events)
    translate  — a realtime server event into tfy-live's events, once
    errors     — exceptions and the realtime ``error`` event as one ``GatewayError`` line

No SDK type leaves this package; the SDK is imported lazily, inside functions.
"""

from __future__ import annotations

from tfy_live.gateway_openai.client import socket_url, websocket_base_url
from tfy_live.gateway_openai.live import Connector, RealtimeSession

__all__ = ["Connector", "RealtimeSession", "socket_url", "websocket_base_url"]
