"""How a connection opens: what websockets is told, and the lines for a redirect and a timeout (pure)."""

from __future__ import annotations

import ssl

import pytest
from websockets.asyncio.client import ClientConnection

from tfy_live.config import resolve
from tfy_live.gateway.client import build_client, websocket_args
from tfy_live.gateway.errors import opening_timed_out, redirect_target, translate_error
from tfy_live.gateway.opening import Opening, RedirectRefused

KEY = "tfy-canary-KEY-opening-0123456789"
SETTINGS = resolve({"provider": "acct", "setup_timeout": 60},
                   {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})


def test_the_setup_timeout_is_the_only_limit_on_the_opening_and_redirects_go_through_our_connection():
    args = websocket_args(ssl.create_default_context(), Opening())
    # websockets' own open_timeout (10 s) would end a --setup-timeout of 60 after 10 s, saying "within 60 s".
    assert "open_timeout" in args and args["open_timeout"] is None
    assert issubclass(args["create_connection"], ClientConnection)


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
def test_the_sdk_hands_websockets_both_arguments_for_each_kind(kind):
    # The SDK drops any async_client_args key that websockets' connect() does not name; what it keeps is only
    # visible in its private _websocket_ssl_ctx. Read here, in a test, so a release that filters them out
    # fails loudly (the end-to-end redirect tests in test_hostile_network.py would fail too).
    client = build_client(SETTINGS.with_target(provider_kind=kind))
    kept = client._api_client._websocket_ssl_ctx
    assert kept["open_timeout"] is None
    assert issubclass(kept["create_connection"], ClientConnection)


def test_a_redirect_is_one_line_naming_where_it_pointed_without_what_could_carry_a_secret():
    error = translate_error(RedirectRefused(302, "wss://user:pw@evil.example:444/steal?key=abc#frag"), SETTINGS)
    text = str(error)
    assert "gw.example.com answered the WebSocket upgrade with a redirect (HTTP 302) to wss://evil.example:444/steal;" \
           in text
    assert "does not follow redirects" in text and "TFY_BASE_URL" in text
    assert "pw" not in text.replace("upgrade", "") and "key=abc" not in text and "frag" not in text
    assert error.http_status == 302 and not error.retryable and "\n" not in text


@pytest.mark.parametrize("location, shown", [
    ("/api/llm/other", "wss://gw.example.com/api/llm/other"),
    ("wss://[::1]:8443/x", "wss://[::1]:8443/x"),
    ("http://127.0.0.1:80/plain", "http://127.0.0.1:80/plain"),
    ("wss://host:notaport/x", "an address that is not a URL"),
    ("wss://evil.example/\x1b[31mred", "wss://evil.example/?[31mred"),
])
def test_where_a_redirect_points_is_shown_plainly(location, shown):
    assert redirect_target(location, "wss://gw.example.com/api/llm/live/acct") == shown


def test_a_redirect_without_a_location_says_so():
    assert "redirect (HTTP 301) without a Location" in str(translate_error(RedirectRefused(301, ""), SETTINGS))


@pytest.mark.parametrize("stage, words", [
    ("connect", "no TLS connection to gw.example.com within 60 s"),
    ("upgrade", "gw.example.com took the TLS connection but did not answer the WebSocket upgrade within 60 s"),
    ("setup", "no setupComplete from gw.example.com within 60 s"),
])
def test_running_out_of_setup_time_says_which_step_waited_and_names_the_option(stage, words):
    error = opening_timed_out(stage, SETTINGS)
    assert words in str(error) and "--setup-timeout" in str(error) and error.retryable


def test_an_opening_starts_at_connect():
    assert Opening().stage == "connect"
