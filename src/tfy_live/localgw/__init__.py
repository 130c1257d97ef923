"""The built-in local gateway: the Live protocol over TLS with an echo model, or a recorded session replayed.

Used by ``tfy-live talk --local``, run standalone by ``tfy-live
local-gateway`` (``--replay FILE``), and the test double of the integration tests.
"""

from tfy_live.localgw.echo import EchoModel, EchoOptions
from tfy_live.localgw.server import ConnectionRecord, Fault, GatewayThread, LocalGateway, serve_forever

__all__ = ["ConnectionRecord", "EchoModel", "EchoOptions", "Fault", "GatewayThread", "LocalGateway", "serve_forever"]
