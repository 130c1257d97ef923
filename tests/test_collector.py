"""The garbage collector is paused while tfy-live starts and on again once the start is over (tfy_live.collector)."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys

import pytest

from tests.cli_run import clean_env
from tfy_live import collector, eventloop
from tfy_live.localgw import EchoOptions, GatewayThread


@pytest.fixture
def paused():
    """The collector as ``tfy_live.entry`` leaves it; on again and nothing frozen afterwards, whatever the test did."""
    collector.pause()
    yield
    collector.resume()  # its own note of the pause too: a later session in this worker must not freeze the heap
    gc.unfreeze()
    gc.enable()


def test_the_console_script_loads_the_cli_with_the_collector_paused():
    code = ("import gc, tfy_live.cli as cli; cli.main = lambda: print(gc.isenabled()); "
            "from tfy_live.entry import main; main()")
    out = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_resume_turns_it_on_and_leaves_what_the_start_made_out_of_the_scans(paused):
    assert not gc.isenabled()
    collector.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 1000  # this process's modules, at the least


def test_resume_does_nothing_when_the_collector_was_never_paused():
    assert gc.isenabled()
    collector.resume()
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize(("grace", "on"), [(3600.0, False), (0.0, True)])
def test_every_command_collects_again_once_the_grace_is_over(paused, monkeypatch, grace, on):
    """Turns of the loop, not time: with uvloop a grace already due runs before the command's first step."""
    monkeypatch.setattr(collector, "GRACE_S", grace)
    seen: list[bool] = []

    async def command() -> None:
        for _ in range(20):
            await asyncio.sleep(0)
        seen.append(gc.isenabled())

    eventloop.run(command(), {})
    assert seen == [on]


@pytest.mark.parametrize("kind", ["gemini", "openai"])
async def test_a_session_opening_ends_the_start(paused, kind, monkeypatch):
    """Long before the grace is over: the SDK is what the start was waiting for."""
    from tfy_live.config import resolve

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    thread = GatewayThread(api_key="k", options=EchoOptions())
    gw = thread.start()
    try:
        settings = resolve({"provider": "acct", "provider_kind": kind}, {"TFY_API_KEY": "k", "TFY_BASE_URL": gw.base_url})
        if kind == "openai":
            from tfy_live.gateway_openai import Connector

            opening = Connector()(settings, context=gw.client_ssl_context())
        else:
            from tfy_live.gateway import connect

            opening = connect(settings, context=gw.client_ssl_context())
        async with opening:
            assert gc.isenabled()
    finally:
        thread.stop()


def test_a_collector_turned_off_by_someone_else_stays_off():
    """A program that runs tfy_live's gateway with the collector off, on purpose: a session does not turn it on."""
    gc.disable()
    try:
        collector.resume()
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.enable()


@pytest.mark.parametrize("kind", ["gemini", "openai"])
def test_a_session_opened_after_the_grace_still_leaves_its_sdk_out_of_the_scans(paused, kind, monkeypatch):
    """The grace can come first (an MCP server slow to list its tools, a slow DNS or TLS check in doctor): the
    SDK then loads with the collector on, and the session opening must still freeze what it made."""
    from tfy_live.config import resolve

    monkeypatch.setattr(collector, "GRACE_S", 0.0)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    thread = GatewayThread(api_key="k", options=EchoOptions())
    gw = thread.start()
    settings = resolve({"provider": "acct", "provider_kind": kind}, {"TFY_API_KEY": "k", "TFY_BASE_URL": gw.base_url})
    seen: list[int] = []

    async def command() -> None:
        for _ in range(20):  # the grace's callback, due at once, runs within a turn or two of the loop
            if gc.isenabled():
                break
            await asyncio.sleep(0)
        assert gc.isenabled()
        frozen = gc.get_freeze_count()
        loaded = [[] for _ in range(1000)]  # what the SDK's import would make after the grace
        if kind == "openai":
            from tfy_live.gateway_openai import Connector

            opening = Connector()(settings, context=gw.client_ssl_context())
        else:
            from tfy_live.gateway import connect

            opening = connect(settings, context=gw.client_ssl_context())
        async with opening:
            seen.append(gc.get_freeze_count() - frozen)
        del loaded

    try:
        eventloop.run(command(), {})
    finally:
        thread.stop()
    assert seen and seen[0] >= 1000
