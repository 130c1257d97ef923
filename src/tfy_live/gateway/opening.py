"""How one connection opens: never by a redirect, under one time limit, and how far it got.

websockets follows a redirect at the upgrade (301, 302, 307…) to any host, and
strips only Authorization, Cookie and Proxy-Authorization on the way: the SDK's
``x-goog-api-key`` header would carry the API key to whatever origin the
answer names. A gateway URL is exact, so tfy-live follows no redirect at all:
``Opening.connection_class`` is handed to websockets as ``create_connection``
and turns a 3xx answer into ``RedirectRefused`` before websockets can act on it.

The same class notes how far the opening got (``stage``), so that running out
of ``--setup-timeout`` can say whether TCP and TLS, the HTTP upgrade or the
session setup was left unanswered. Imported only when a client is built: it
imports websockets.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from websockets.asyncio.client import ClientConnection
from websockets.datastructures import HeadersLike
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.http11 import USER_AGENT

Stage = Literal["connect", "upgrade", "setup"]


class RedirectRefused(InvalidHandshake):
    """The gateway answered the upgrade with a redirect (``status``, to ``location``), which is not followed."""

    def __init__(self, status: int, location: str) -> None:
        super().__init__(f"HTTP {status} redirect to {location or '(no Location)'}")
        self.status = status
        self.location = location


class Opening:
    """One connection's opening: ``stage`` is what it waits for now.

    ``connect``: the TCP connection and the TLS handshake; ``upgrade``: the
    answer to the HTTP upgrade; ``setup``: the server's answer to the session
    setup (after the upgrade, the SDK's part).
    """

    def __init__(self) -> None:
        self.stage: Stage = "connect"

    def connection_class(self) -> type[ClientConnection]:
        """A websockets connection class that reports to this opening and refuses redirects."""
        opening = self

        class GuardedConnection(ClientConnection):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                # With TLS, asyncio calls this once the handshake is done.
                opening.stage = "upgrade"
                super().connection_made(transport)

            async def handshake(self, additional_headers: HeadersLike | None = None,
                                user_agent_header: str | None = USER_AGENT) -> None:
                try:
                    await super().handshake(additional_headers, user_agent_header)
                except InvalidStatus as exc:
                    status = exc.response.status_code
                    if 300 <= status < 400:
                        # Not an InvalidStatus any more, so websockets' connect() raises it rather than
                        # following it (process_redirect looks for InvalidStatus with a 3xx).
                        locations = exc.response.headers.get_all("Location")
                        raise RedirectRefused(status, locations[0] if locations else "") from exc
                    raise
                opening.stage = "setup"

        return GuardedConnection
