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


def test_a_port_that_speaks_plain_http_is_not_blamed_on_the_scheme_tfy_live_already_upgraded():
    """TFY_BASE_URL=http://…:8080 is used as https:// (users paste console URLs): "check TFY_BASE_URL uses https"
    sent the user to change what had no effect. The line says TLS is always used and the port must be TLS's."""
    settings = resolve({"provider": "acct"}, {"TFY_API_KEY": KEY, "TFY_BASE_URL": "http://gw.example.com:8080/api/llm"})
    assert settings.base_url == "https://gw.example.com:8080/api/llm"
    said = str(translate_error(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"),
                               settings))
    assert said.startswith("TLS handshake with gw.example.com:8080 failed ([SSL: WRONG_VERSION_NUMBER]")
    assert "uses https" not in said and "always connects with TLS (an http:// base URL is used as https://)" in said
    assert said.endswith("the port in TFY_BASE_URL must be the gateway's TLS port (no port: 443), not a plain-HTTP one")


# -- close reasons as the real servers send them (tests/realtraffic) ----------------------------------------

CORPUS = __import__("pathlib").Path(__file__).parent / "realtraffic"
VERTEX = resolve({"provider": "acct", "provider_kind": "vertex"},
                 {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})


def corpus_closes() -> list[tuple[str, str, int, str]]:
    """(file, kind, code, reason) of every close in the corpus that quotes its reason."""
    import json

    closes = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for line in lines[1:]:
            close = line.get("close")
            if close and close.get("reason") and close.get("code"):
                closes.append((path.name, lines[0]["kind"], close["code"], close["reason"]))
    return closes


def test_a_reason_the_server_cut_at_123_bytes_is_shown_with_an_ellipsis():
    closes = corpus_closes()
    cut = [c for c in closes if len(c[3].encode()) == 123]
    assert len(cut) >= 5  # quota, four model-not-found variants
    for name, kind, code, reason in closes:
        settings = VERTEX if kind == "vertex" else SETTINGS
        text = str(translate_error(genai_errors.APIError(code, reason), settings))
        shown = text.split(f"code {code}: ", 1)[1].split(" — ")[0]
        assert shown.endswith("…") == (len(reason.encode()) == 123), (name, shown)
        assert shown.rstrip("…") == " ".join(reason.split()), name  # the rest exactly as the server said it
    # and in the forms a close arrives in: a close frame the client read, a trailing space, a cut mid-word
    quota = next(c[3] for c in cut if c[3].startswith("You exceeded"))
    assert str(translate_error(ws.ConnectionClosedError(Close(1011, quota), None), SETTINGS)).count("head to: h… —") == 1
    listmodels = next(c[3] for c in cut if c[3].endswith("Call ListModels "))
    assert "Call ListModels… —" in str(translate_error(genai_errors.APIError(1008, listmodels), SETTINGS))


def test_a_reason_cut_inside_a_multi_byte_character_is_marked_too():
    from tfy_live.gateway.errors import shown_reason

    full = ("Das angeforderte Modell X ist für API-Version v1beta nicht verfügbar oder unterstützt "
            "bidiGenerateContent nicht: Modellübersicht über ListModels.")
    reason = full.encode()[:123].decode("utf-8", "ignore")  # the cut fell inside "ü": 122 bytes are left
    assert len(reason.encode()) == 122 and shown_reason(reason).endswith("nicht: Modell…")
    assert shown_reason("Internal error encountered.") == "Internal error encountered."
    assert shown_reason("") == ""


def test_the_advice_on_a_close_is_for_the_provider_kind():
    reason = "Publisher Model `projects/p/locations/global/publishers/google/models/x` was not found"
    vertex = str(translate_error(genai_errors.APIError(1008, reason), VERTEX))
    gemini = str(translate_error(genai_errors.APIError(1008, "models/x is not found for API version v1beta"), SETTINGS))
    assert "--api-version" not in vertex and "check --model" in vertex and "Vertex project" in vertex
    assert "--api-version" in gemini
    for code in CLOSE_CODES:  # no close, on any path, suggests --api-version to a Vertex user
        assert "--api-version" not in str(translate_error(genai_errors.APIError(code, "x"), VERTEX))
        assert "--api-version" not in str(translate_error(ws.ConnectionClosedError(Close(code, "x"), None), VERTEX))


CLOSE_CODES = (1000, 1001, 1006, 1007, 1008, 1009, 1011, 1012, 1013, 1014)


@pytest.mark.parametrize("reason, flag", [
    # as the real server words it (google-gemini/cookbook#775)
    ("Invalid JSON payload received. Unknown name \"enable_affective_dialog\" at 'setup.generation_config': "
     "Cannot find field.", "--affective-dialog"),
    ("Invalid JSON payload received. Unknown name \"thinkingConfig\" at 'setup.generation_config': Cannot find field.",
     "--thinking-budget"),
    ("Invalid JSON payload received. Unknown name \"proactivity\" at 'setup': Cannot find field.", "--proactive-audio"),
    ("Invalid JSON payload received. Unknown name \"proactive_audio\" at 'setup.proactivity': Cannot find field.",
     "--proactive-audio"),
])
def test_a_refused_setup_field_names_the_option_that_sent_it(reason, flag):
    for settings in (SETTINGS, VERTEX):
        text = str(translate_error(genai_errors.APIError(1007, reason), settings))
        assert f"refused the setup field that {flag} sets: run without {flag}" in text
        assert not translate_error(genai_errors.APIError(1007, reason), settings).retryable


def test_a_1007_that_names_no_field_of_ours_keeps_the_general_advice():
    text = str(translate_error(genai_errors.APIError(1007, "Request contains an invalid argument."), VERTEX))
    assert "bad setup option" in text and "run without" not in text
