"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

import pytest

from tests.cli_run import CANARY_KEY
from tfy_live.localgw import GatewayThread


@pytest.fixture
def gateway():
    """The local gateway on its own thread, port 0, replying 8x faster than real time; its key is the canary."""
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=8.0)
    gw = thread.start()
    yield gw
    thread.stop()
