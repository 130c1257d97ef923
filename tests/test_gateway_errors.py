"""Every exception the SDK and websockets can raise at us becomes one line naming the fix."""

from __future__ import annotations

import inspect
import socket
import ssl

import pytest
from google.genai import errors as genai_errors
from websockets import exceptions as ws
from websockets.datastructures import Headers
from websockets.frames import Close
from websockets.http11 import Response

from tfy_live.config import resolve
from tfy_live.errors import GatewayError
from tfy_live.gateway.errors import error_map, translate_error

KEY = "tfy-canary-KEY-errors-0123456789"
SETTINGS = resolve({"provider": "acct"}, {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})
NOT_MET = {genai_errors.UnknownFunctionCallArgumentError, genai_errors.UnsupportedFunctionError,
           genai_errors.FunctionInvocationError, genai_errors.ContinuationInterruptedError}  # automatic tool calling: off


def response(status: int, body: bytes = b'{"error": {"message": "nope"}}') -> Response:
    return Response(status, "x", Headers(), body)


def example(cls: type) -> BaseException:
    """An instance of ``cls`` as the library would raise it."""
    if issubclass(cls, ws.ConnectionClosed):
        return cls(Close(1011, "internal error"), None)
    if cls is ws.InvalidStatus:
        return cls(response(503))
    if cls is ws.InvalidProxyStatus:
        return cls(response(407))
    if cls is ws.InvalidProxy:
        return cls("http://proxy:3128", "bad proxy")
    if cls is ws.InvalidURI:
        return cls("wss://", "bad")
    if cls in (ws.InvalidHeader, ws.InvalidHeaderFormat):
        return cls("Upgrade", "x", "y", 0) if cls is ws.InvalidHeaderFormat else cls("Upgrade", "x")
    if cls in (ws.InvalidHeaderValue, ws.InvalidOrigin, ws.InvalidUpgrade, ws.DuplicateParameter,
               ws.InvalidParameterName):
        return cls(*(["Upgrade", "x"][: len(inspect.signature(cls.__init__).parameters) - 1]))
    if cls is ws.InvalidParameterValue:
        return cls("name", "value")
    if cls is ws.PayloadTooBig:
        return cls(20_000_000, 16_777_216)
    if issubclass(cls, genai_errors.APIError):
        return cls(1011 if cls is genai_errors.APIError else (429 if cls is genai_errors.ClientError else 500),
                   {"error": {"message": "boom", "status": "X"}})
    try:
        return cls("something went wrong")
    except TypeError:
        return cls()


def classes(module) -> list[type]:
    return [c for _, c in vars(module).items()
            if inspect.isclass(c) and issubclass(c, Exception) and c.__module__ == module.__name__ and c not in NOT_MET]


MET = classes(ws) + classes(genai_errors) + [socket.gaierror, ssl.SSLCertVerificationError, ssl.SSLError,
                                             ConnectionRefusedError, TimeoutError, OSError, ValueError, TypeError]


@pytest.mark.parametrize("cls", MET, ids=lambda c: f"{c.__module__.split('.')[0]}.{c.__name__}")
def test_every_exception_we_can_meet_is_mapped_to_one_line_with_a_fix(cls):
    error = translate_error(example(cls), SETTINGS)
    assert isinstance(error, GatewayError)
    text = str(error)
    assert not text.startswith("unexpected"), text
    assert "\n" not in text and KEY not in text
    assert any(word in text for word in ("check", "retry", "try again", "fix", "pass", "ask", "wait", "report",
                                         "use", "NO_PROXY")), text


def test_the_mapping_knows_which_failures_a_new_connection_may_cure():
    assert translate_error(example(ws.ConnectionClosedError), SETTINGS).retryable  # 1011
    assert translate_error(ConnectionRefusedError(), SETTINGS).retryable
    assert translate_error(ws.InvalidStatus(response(503)), SETTINGS).retryable
    assert not translate_error(ws.InvalidStatus(response(401)), SETTINGS).retryable
    assert not translate_error(genai_errors.APIError(1008, {"error": {"message": "no model"}}), SETTINGS).retryable
    assert not translate_error(ssl.SSLCertVerificationError("bad cert"), SETTINGS).retryable


def test_the_table_is_read_most_specific_class_first():
    table = error_map()
    for cls in MET:
        assert next(c for c in cls.__mro__ if c in table) is not Exception, cls
    # A certificate failure is also a ValueError and an OSError: it gets its own line, not theirs.
    assert "TLS verification" in str(translate_error(ssl.SSLCertVerificationError("bad cert"), SETTINGS))
    assert "refused" in str(translate_error(ConnectionRefusedError(), SETTINGS))
