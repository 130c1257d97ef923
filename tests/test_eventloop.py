"""The event loop choice: uvloop where installed, asyncio's own on request, a one-line error otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from cli_run import clean_env, tfy_live
from tfy_live import eventloop
from tfy_live.errors import ConfigError

uvloop = pytest.importorskip("uvloop")  # a dependency on every platform the suite runs on


def test_auto_and_uvloop_choose_uvloop_when_it_is_installed():
    assert eventloop.loop_factory({}) is uvloop.new_event_loop
    assert eventloop.loop_factory({"TFY_LIVE_EVENT_LOOP": " UVLOOP "}) is uvloop.new_event_loop


def test_asyncio_chooses_the_default_loop():
    assert eventloop.loop_factory({"TFY_LIVE_EVENT_LOOP": "asyncio"}) is None


def test_a_value_that_is_no_choice_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match="TFY_LIVE_EVENT_LOOP must be one of auto, uvloop, asyncio"):
        eventloop.loop_factory({"TFY_LIVE_EVENT_LOOP": "trio"})


def test_without_uvloop_auto_falls_back_and_uvloop_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert eventloop.loop_factory({}) is None
    with pytest.raises(ConfigError, match=r"-m pip install 'uvloop>=[^`]*`, or set TFY_LIVE_EVENT_LOOP=auto"):
        eventloop.loop_factory({"TFY_LIVE_EVENT_LOOP": "uvloop"})


@pytest.mark.parametrize("choice, kind", [("auto", "uvloop.Loop"), ("asyncio", "asyncio.unix_events")])
def test_run_runs_the_coroutine_on_the_chosen_loop(choice, kind):
    async def which() -> str:
        loop = asyncio.get_running_loop()
        return f"{type(loop).__module__}.{type(loop).__name__}"

    assert eventloop.run(which(), {"TFY_LIVE_EVENT_LOOP": choice}).startswith(kind)


def test_a_bad_choice_closes_the_coroutine_it_will_not_run():
    async def never() -> None:
        raise AssertionError("ran")

    coro = never()
    with pytest.raises(ConfigError):
        eventloop.run(coro, {"TFY_LIVE_EVENT_LOOP": "bogus"})
    assert coro.cr_frame is None  # closed: no "never awaited" warning


def test_the_cli_reports_a_bad_event_loop_in_one_line_with_exit_2():
    result = tfy_live("talk", "--local", "--input-file", "nothing.wav", env=clean_env(TFY_LIVE_EVENT_LOOP="gevent"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "TFY_LIVE_EVENT_LOOP must be one of auto, uvloop, asyncio" in lines[0], result.stderr
