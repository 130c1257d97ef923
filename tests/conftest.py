"""Fixtures shared by the tests: each test away from this machine, and the end-to-end gateway."""

from __future__ import annotations

import os
import signal
import site

import pytest
from hypothesis import settings as hypothesis_settings

from tests import cli_run
from tests.cli_run import CANARY_KEY, MACHINE_SETTINGS
from tests.timing import FACTOR, FACTOR_VARIABLE
from tfy_live.localgw import GatewayThread

# Property tests run the same examples on every run (Hypothesis' "ci" profile: derandomised, no example
# database), so the suite cannot fail on one run and pass on the next; TFY_LIVE_HYPOTHESIS_EXPLORE=1 searches
# afresh, as during development. Whatever a search finds is kept as an @example.
if os.environ.get("TFY_LIVE_HYPOTHESIS_EXPLORE") != "1":
    hypothesis_settings.load_profile("ci")

pytest_plugins = ["pytester"]  # test_config runs some tests again from a directory with a .env in it

# Per-user directories (XDG base directories), under the test's own HOME. XDG_RUNTIME_DIR is
# left alone: it holds the session's sockets (the sound server's, say), not settings.
XDG_HOMES = {"XDG_CONFIG_HOME": ".config", "XDG_CACHE_HOME": ".cache", "XDG_DATA_HOME": ".local/share",
             "XDG_STATE_HOME": ".local/state"}


@pytest.fixture(autouse=True)
def away_from_this_machine(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts in an empty working directory, with an empty HOME, as on a fresh machine.

    ``tfy-live`` reads ``./.env``, which .env.example tells every developer to create in the
    directory they run it from, usually this repository, where the suite starts too: its key
    would turn a "no API key" test into a connection attempt, to the developer's real
    gateway. HOME and XDG_* hold other programs' settings (tmux, ALSA, the Google SDK).
    Subprocesses inherit all of it: ``clean_env`` reads this environment when called, and a
    subprocess without ``cwd=`` starts in this directory. Like llm's autouse fixture that
    gives each test its own config directory.
    """
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    home = tmp_path_factory.mktemp("home")
    # Python finds `pip install --user` packages through HOME: keep finding the same ones
    # (a no-op in a virtualenv, which ignores them).
    monkeypatch.setenv("PYTHONUSERBASE", site.getuserbase())
    monkeypatch.setenv("HOME", str(home))
    for variable, path in XDG_HOMES.items():
        monkeypatch.setenv(variable, str(home / path))
    # The developer's own settings in the environment (an exported TFY_API_KEY, say).
    for variable in list(os.environ):
        if variable.startswith(MACHINE_SETTINGS) and variable != FACTOR_VARIABLE:
            monkeypatch.delenv(variable)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Started in the background (`scripts/test.sh &`, some CI runners), this process has
    # SIGINT ignored, and every tfy-live it starts would inherit that across exec: the tests
    # that press Ctrl-C would wait out their timeouts. A handler, unlike "ignored", is not
    # inherited.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # The controlling process starts the one pre-imported server the workers fork commands from.
    if not hasattr(config, "workerinput") and os.environ.get("TFY_LIVE_TEST_ZYGOTE", "1") != "0":
        os.environ[cli_run.SHARED_SOCKET_VARIABLE] = cli_run.start_zygote()
    # pytest-timeout's limit is a hang guard like the others: scale it too, unless --timeout
    # or PYTEST_TIMEOUT says how long exactly.
    if not config.pluginmanager.hasplugin("timeout") or config.getoption("timeout") is not None:
        return
    if "PYTEST_TIMEOUT" not in os.environ and config.getini("timeout"):
        config.option.timeout = float(config.getini("timeout")) * FACTOR


@pytest.fixture
def gateway():
    """The local gateway on its own thread, port 0, replying 8x faster than real time; its key is the canary."""
    thread = GatewayThread(api_key=CANARY_KEY, reply_speed=8.0)
    gw = thread.start()
    yield gw
    thread.stop()


# The files whose tests each sit through seconds of real-time audio, longest first. xdist hands
# tests out in collection order, so these go first: started last, they would leave the other
# workers idle at the end of the run while one finishes them.
SLOW_FIRST = ("test_config.py::test_a_developer_s_dotenv", "test_resilience.py", "test_realtraffic_shapes.py",
              "test_integration.py", "test_realtraffic.py", "test_live_view.py", "test_signals.py")


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        cli_run.stop_zygote()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        where = item.nodeid.rsplit("/", 1)[-1]
        return next((n for n, prefix in enumerate(SLOW_FIRST) if where.startswith(prefix)), len(SLOW_FIRST))

    items.sort(key=rank)  # stable: the usual order within each rank
