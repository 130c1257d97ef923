"""Every exception met talking to the gateway, as one ``GatewayError`` line that names the fix.

The mapping is a table (``error_map``) from exception class to the function that
words it, read in the manner of httpx's ``HTTPCORE_EXC_MAP``: the most specific
class in the exception's MRO that the table knows wins, so a subclass (an
``ssl.SSLCertVerificationError``) gets its own line before its base (any
``OSError``). Closes are read by their reason first (``close_cause``, a table of
the real servers' words: the code alone does not say what happened), then by
code (``CLOSE_MEANINGS``, and for a refused setup field the option in
``close_meaning``); the server's reason is shown as it came, marked where the
server cut it (``shown_reason``). ``RETRYABLE_CLOSES`` are the codes a new
connection may cure.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import socket
import ssl
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

from tfy_live.config import Settings, env_name
from tfy_live.errors import Cause, GatewayError, TfyLiveError
from tfy_live.gateway.client import MAX_FRAME_BYTES, socket_url

RETRYABLE_CLOSES = frozenset({1000, 1001, 1006, 1009, 1011, 1012, 1013, 1014})
CLOSE_MEANINGS = {
    1000: "the gateway ended the session",
    1001: "the gateway is going away (restart or deploy); try again",
    1006: "the connection dropped without a close frame (network, proxy, or a key the provider refused)",
    1007: "the provider rejected the request as invalid (bad setup option, unsupported region, or context exhausted)",
    1009: "the server sent a frame over 16 MiB, more than tfy-live accepts",
    1011: "the provider hit an internal error; try again",
}

CLOSE_REASON_BYTES = 123  # a close frame carries at most 125 bytes, two of them the code: servers cut reasons here
# Setup fields a model may refuse (1007 'Unknown name "…"'), either spelling, and the option that sent each.
SETUP_FIELD_FLAGS = {
    "enable_affective_dialog": "--affective-dialog",
    "proactivity": "--proactive-audio",
    "proactive_audio": "--proactive-audio",
    "thinking_config": "--thinking-budget",
    "thinking_budget": "--thinking-budget",
    "language_code": "--language",
    "temperature": "--temperature",
    "google_search": "--google-search",
    "code_execution": "--code-execution",
    "function_declarations": "--mcp-config/--mcp (or --tool-mode blocking)",
    "behavior": "--tool-mode blocking",
    "parameters_json_schema": "--mcp-config/--mcp (a tool's input schema)",
    "automatic_activity_detection": "--vad-* or --push-to-talk",
    "context_window_compression": "--compression-trigger/--compression-target (or --no-compression)",
}

# What the real servers say when they close, matched at the START of the reason: they cut
# reasons at 123 bytes, mid-word and mid-URL (tests/realtraffic), so the end is never there to
# match. Most specific first; the first that matches wins.
REASON_CAUSES: tuple[tuple[re.Pattern[str], Cause], ...] = (
    # "models/<id> is not found for API version v1beta, or is not supported for bidiGenerateContent. Call…"
    (re.compile(r"\S+ is not (found for API version|supported for bidiGenerateContent)"), Cause.MODEL),
    (re.compile(r"Publisher Model `"), Cause.MODEL),  # Vertex: "Publisher Model `projects/…/models/<id>…"
    (re.compile(r"(BidiGenerateContent )?session not found", re.I), Cause.STALE_SESSION),
    # "You exceeded your current quota, please check your plan and billing details…", RESOURCE_EXHAUSTED
    (re.compile(r".*?\b(quota|resource[_ ]exhausted)", re.I), Cause.QUOTA),
    (re.compile(r"deadline exceeded|deadline expired", re.I), Cause.DEADLINE),
    (re.compile(r"(the )?service is (currently )?unavailable|.*?\boverloaded\b", re.I), Cause.UNAVAILABLE),
)
# By code, when the reason says nothing we know.
CODE_CAUSES = {1008: Cause.POLICY, 1011: Cause.UNAVAILABLE, 1012: Cause.UNAVAILABLE, 1013: Cause.UNAVAILABLE}
# A refused upgrade whose status says the gateway or the provider behind it is briefly down.
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})

QUOTA_FIX = ("the provider account's quota is used up: wait for the quota window to pass (often a minute), check the "
             "plan and billing in the provider's account, or use another provider account (--provider)")


def close_cause(code: int | None, reason: str) -> Cause | None:
    """What a close means, from its reason (read from the start) or else its code; None: nothing known."""
    for pattern, cause in REASON_CAUSES:
        if pattern.match(reason or ""):
            return cause
    return CODE_CAUSES.get(code) if code is not None else None


def names_quota(text: str) -> bool:
    """An error body or reason that says the quota is spent."""
    return close_cause(None, text) is Cause.QUOTA


Wording = Callable[[Any, Settings], GatewayError]


def translate_error(exc: BaseException, settings: Settings) -> GatewayError:
    """The GatewayError (message naming the fix) for any exception met talking to the gateway."""
    return worded(error_map(), exc, settings, _unexpected)


@contextlib.contextmanager
def translated(translate: Callable[[BaseException, Settings], GatewayError], settings: Settings) -> Iterator[None]:
    """Run the block; any foreign exception leaves it as ``translate``'s one-line GatewayError, once.

    Our own errors and a cancellation pass through as they are.
    """
    try:
        yield
    except (TfyLiveError, asyncio.CancelledError):
        raise
    except Exception as exc:  # noqa: BLE001 - every foreign error is translated here, once
        raise translate(exc, settings) from exc


def worded(table: Mapping[type[BaseException], Wording], exc: BaseException, settings: Settings,
           otherwise: Wording) -> GatewayError:
    """``exc`` in the words of the most specific class ``table`` has for it (httpx's exception map reads so)."""
    for cls in type(exc).__mro__:
        if (wording := table.get(cls)) is not None:
            return wording(exc, settings)
    return otherwise(exc, settings)


@functools.cache
def error_map() -> dict[type[BaseException], Wording]:
    """Exception class -> its wording. Built on first use: it needs the SDK's and websockets' classes."""
    from google.genai import errors as genai_errors

    return {
        **transport_map(),
        genai_errors.APIError: _api_error,
        genai_errors.UnknownApiResponseError: _unreadable_response,
        ValueError: _not_a_live_message,
        TypeError: _unreadable_error,  # the SDK fails this way on an {"error": …} message
        Exception: _unexpected,
    }


@functools.cache
def transport_map() -> dict[type[BaseException], Wording]:
    """The part of the table no SDK owns: websockets (the upgrade, closes), TLS, DNS, sockets. Shared with the
    openai kinds (``gateway_openai.errors``), whose SDK opens the same kind of socket to the same gateway."""
    from websockets import exceptions as ws

    from tfy_live.gateway.opening import RedirectRefused

    return {
        RedirectRefused: _redirected,
        ws.InvalidStatus: _refused_upgrade,
        ws.InvalidProxy: _proxy_failed,
        ws.ProxyError: _proxy_failed,
        ws.InvalidURI: _invalid_uri,
        ws.InvalidHandshake: _not_a_websocket,
        ws.InvalidMessage: _not_a_websocket,
        ws.ConnectionClosed: _closed,
        ws.PayloadTooBig: _frame_too_big,
        ws.WebSocketException: _websocket_failed,  # protocol errors, invalid state, concurrency
        socket.gaierror: _unresolvable,
        ssl.SSLCertVerificationError: _untrusted,
        ssl.SSLError: _tls_failed,
        ConnectionRefusedError: _refused,
        TimeoutError: _timed_out,
        OSError: _unreachable,
    }


def one_line(text: Any, limit: int = 200) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _body_message(body: Any) -> str:
    """The human part of an error body the gateway sent (JSON ``message``/``error`` or the text)."""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body or "")
    try:
        data = json.loads(text)
    except ValueError:
        return one_line(text)
    for key in ("message", "error", "detail"):
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, dict):
            value = value.get("message") or value
        if value:
            return one_line(value)
    return one_line(text)


def close_error(code: int, reason: str, settings: Settings) -> GatewayError:
    """A WebSocket close, read by its reason and code (``close_cause``), with the server's own words if it gave any."""
    said = f": {reason}" if reason and reason != "None" else ""
    head = f"connection closed with code {code}{said}"
    cause = close_cause(code, reason if said else "")
    if cause is Cause.QUOTA:
        return GatewayError(f"{head} — {QUOTA_FIX}", cause=cause)
    if cause is Cause.MODEL:
        return GatewayError(f"{head} — {model_fix(settings)}", cause=cause)
    if cause is Cause.STALE_SESSION:
        return GatewayError(f"{head} — the provider no longer has the session being resumed (its resumption handle "
                            "expired); only a fresh session can go on (run again)", cause=cause)
    if cause is Cause.DEADLINE:
        return GatewayError(f"{head} — the provider ended the connection at its deadline; try again", retryable=True,
                            cause=cause)
    if cause is Cause.UNAVAILABLE:
        return GatewayError(f"{head} — the provider failed (an internal error, overload or a brief outage); try again "
                            "in a few seconds", retryable=True, cause=cause)
    if cause is Cause.POLICY:
        return GatewayError(f"{head} — the provider ended the session by policy; run again, and if it is refused as "
                            f"soon as tfy-live connects, {model_fix(settings, lead=False)}", cause=cause)
    return GatewayError(f"{head} — {close_meaning(code, reason)}",
                        retryable=code in RETRYABLE_CLOSES)


def model_fix(settings: Settings, *, lead: bool = True) -> str:
    """What to check when the provider does not know the model (Vertex has no API version to choose)."""
    if settings.provider_kind in ("openai", "azure"):
        check = (f"check --model ({settings.model!r}) is a realtime model (type Realtime) on provider account "
                 f"{settings.provider!r}")
    elif settings.provider_kind == "vertex":
        check = (f"check --model ({settings.model!r}) is a Live model available to the Vertex project and region behind "
                 f"provider account {settings.provider!r}")
    else:
        check = (f"check --model ({settings.model!r}) is a Live model and --api-version ({settings.api_version}) "
                 "offers it")
    return f"the model is not found or is not a Live model; {check}" if lead else check


def close_meaning(code: int, reason: str) -> str:
    """What a close with no known cause means and what to do: a refused setup field names its option.

    Every 1008 has a cause (``CODE_CAUSES``), so its advice, per provider kind, is ``model_fix``'s."""
    if code == 1007 and (flag := refused_option(reason)) is not None:
        return (f"the model refused the setup field that {flag} sets: run without {flag} (the README lists the "
                "options each model family takes)")
    return CLOSE_MEANINGS.get(code, "the session ended")


def refused_option(reason: str) -> str | None:
    """Our option behind the setup field a 1007 reason names (``Unknown name "enable_affective_dialog"``)."""
    for word in re.findall(r"[A-Za-z][A-Za-z_]*", reason or ""):
        if (flag := SETUP_FIELD_FLAGS.get(re.sub(r"(?<!^)(?=[A-Z])", "_", word).lower())) is not None:
            return flag
    return None


def shown_reason(reason: Any) -> str:
    """A close reason on one line, with "…" where the server cut it: exactly 123 bytes, or (a cut that fell in a
    multi-byte character) a few bytes short of that and ending mid-word."""
    raw = bytes(reason).decode("utf-8", "replace") if isinstance(reason, (bytes, bytearray)) else str(reason or "")
    line = one_line(raw)
    size = len(raw.encode("utf-8"))
    cut = size >= CLOSE_REASON_BYTES or (size > CLOSE_REASON_BYTES - 4 and raw[-1:].isalnum())
    return f"{line}…" if line and cut and not line.endswith("…") else line


def _refused_upgrade(exc: Any, settings: Settings) -> GatewayError:
    """The upgrade was refused with an HTTP status: say what it means, in the gateway's own words too."""
    status: int = exc.response.status_code
    detail = _body_message(exc.response.body)
    said = f": {detail}" if detail else ""
    if status == 401:
        error = GatewayError(f"the gateway rejected the API key (HTTP 401{said}); check {env_name('api_key')}")
    elif status == 403:
        error = GatewayError(
            f"the API key may not use provider account {settings.provider!r} or model {settings.model!r} "
            f"(HTTP 403{said}); ask for access in TrueFoundry or use another key"
        )
    elif status == 404:
        error = GatewayError(
            f"the gateway has no Live endpoint at {socket_url(settings)} (HTTP 404{said}); check "
            f"{env_name('base_url')} (…/api/llm), --provider and --provider-kind"
        )
    elif names_quota(detail):
        error = GatewayError(f"the gateway refused the connection (HTTP {status}{said}) — {QUOTA_FIX}",
                             cause=Cause.QUOTA)
    elif status == 429:
        error = GatewayError(f"the gateway is rate limiting this key (HTTP 429{said}); wait a moment and retry",
                             retryable=True)
    elif status >= 500:
        error = GatewayError(f"the gateway failed (HTTP {status}{said}); retry, or check the gateway's status",
                             retryable=True, cause=Cause.UNAVAILABLE if status in UNAVAILABLE_STATUSES else None)
    else:
        error = GatewayError(f"the gateway refused the WebSocket upgrade (HTTP {status}{said}); check "
                             f"{env_name('base_url')}")
    error.http_status = status
    return error


def _redirected(exc: Any, settings: Settings) -> GatewayError:
    """A redirect at the upgrade: the key must reach no other origin, so tfy-live does not follow it."""
    where = f"to {redirect_target(exc.location, socket_url(settings))}" if exc.location else "without a Location"
    return GatewayError(
        f"{settings.host} answered the WebSocket upgrade with a redirect (HTTP {exc.status}) {where}; tfy-live does "
        f"not follow redirects, so the API key goes to no other address: set {env_name('base_url')} to the "
        "gateway's exact URL (…/api/llm)", http_status=exc.status)


def redirect_target(location: str, base: str) -> str:
    """Where a redirect points, shown without what could carry a secret (user, password, query, fragment)."""
    try:
        parts = urlsplit(urljoin(base, location.strip()))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "an address that is not a URL"
    if not parts.scheme or not host:
        return "an address that is not a URL"
    host = f"[{host}]" if ":" in host else host
    shown = f"{parts.scheme}://{host}{port}{parts.path}"
    return one_line("".join(c if c.isprintable() else "?" for c in shown), 120)


def opening_timed_out(stage: str, settings: Settings) -> GatewayError:
    """``--setup-timeout`` ran out while the opening waited at ``stage`` (``opening.Opening``)."""
    within = f"within {settings.setup_timeout_s:g} s"
    longer = "or allow longer with --setup-timeout"
    if stage == "connect":
        message = (f"no TLS connection to {settings.host} {within} (TCP or the TLS handshake got no answer); check "
                   f"the network and {env_name('base_url')} (host and port), {longer}")
    elif stage == "upgrade":
        message = (f"{settings.host} took the TLS connection but did not answer the WebSocket upgrade {within}; "
                   f"check {env_name('base_url')} points at the AI Gateway (…/api/llm), {longer}")
    else:
        message = (f"no setupComplete from {settings.host} {within}; check the network, {env_name('base_url')} and "
                   f"--model, {longer}")
    return GatewayError(message, retryable=True)


def _proxy_failed(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"the proxy in HTTPS_PROXY/ALL_PROXY failed to reach {settings.host} ({one_line(exc)}); fix "
                        "the proxy setting, or add the host to NO_PROXY")


def _invalid_uri(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"{socket_url(settings)} is not a valid WebSocket URL; check {env_name('base_url')} and --provider")


def _not_a_websocket(exc: Any, settings: Settings) -> GatewayError:
    from websockets import exceptions as ws

    return GatewayError(
        f"{settings.host} did not answer as a WebSocket server ({one_line(exc)}); check {env_name('base_url')} "
        "points at the AI Gateway (…/api/llm)",
        # No HTTP answer at all is also what a gateway that is shutting down gives.
        retryable=isinstance(exc, ws.InvalidMessage),
    )


def _closed(exc: Any, settings: Settings) -> GatewayError:
    frame = exc.rcvd or exc.sent  # received from the server, else the one we sent
    return close_error(frame.code if frame else 1006, shown_reason(frame.reason) if frame else "", settings)


def _frame_too_big(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"{settings.host} sent a frame over {MAX_FRAME_BYTES // 2**20} MiB, more than tfy-live "
                        "accepts; retry, and report it if it happens again", retryable=True)


def _websocket_failed(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"the WebSocket connection to {settings.host} failed ({exc.__class__.__name__}: "
                        f"{one_line(exc)}); check {env_name('base_url')} points at the AI Gateway and retry",
                        retryable=True)


def _api_error(exc: Any, settings: Settings) -> GatewayError:
    """The SDK's report of a close (a WebSocket close code) or of an error sent as a message (an HTTP code)."""
    from websockets import exceptions as ws

    code = exc.code
    reason = shown_reason(exc.details if isinstance(exc.details, str) else exc.message or "")
    closed = exc.__context__
    if isinstance(closed, ws.ConnectionClosed) and closed.rcvd is None and closed.sent is not None:
        # We closed it (the SDK reports 1006): say why, e.g. 1009 for a frame over our limit.
        code, reason = closed.sent.code, shown_reason(closed.sent.reason)
    if isinstance(code, int) and 400 <= code < 600:
        said = f": {reason}" if reason and reason != "None" else ""
        if names_quota(reason) or names_quota(str(exc.status or "")):
            return GatewayError(f"the provider refused the request ({code}{said}) — {QUOTA_FIX}", cause=Cause.QUOTA)
        if code == 429:
            return GatewayError(f"the provider is rate limiting this session (429{said}); wait a moment and retry",
                                retryable=True)
        if code >= 500:
            return GatewayError(f"the provider failed ({code}{said}); retry, or check the provider's status",
                                retryable=True, cause=Cause.UNAVAILABLE if code in UNAVAILABLE_STATUSES else None)
        return GatewayError(f"the provider refused the request ({code}{said}); check --model and the options given")
    return close_error(code, reason, settings)


def _unreadable_response(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"{settings.host} sent a response the SDK could not read ({one_line(exc)}); check "
                        f"{env_name('base_url')} points at the AI Gateway")


def _unresolvable(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"cannot resolve host {urlsplit(settings.base_url).hostname!r}; check {env_name('base_url')} "
                        "and your DNS/network")


def _untrusted(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(
        f"TLS verification of {settings.host} failed ({one_line(getattr(exc, 'verify_message', None) or exc)}); if the "
        f"gateway uses a private CA, pass --ca-bundle /path/to/ca.pem (or set {env_name('ca_bundle')} or SSL_CERT_FILE)"
    )


def _tls_failed(exc: Any, settings: Settings) -> GatewayError:
    # "check it uses https" would be no help: an http:// base URL was already made https:// (normalise_base_url).
    # What fails here is most often a port that speaks plain HTTP ([SSL: WRONG_VERSION_NUMBER]).
    return GatewayError(f"TLS handshake with {settings.host} failed ({one_line(exc)}); tfy-live always connects with "
                        f"TLS (an http:// base URL is used as https://), so the port in {env_name('base_url')} must be "
                        "the gateway's TLS port (no port: 443), not a plain-HTTP one")


def _refused(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"connection to {settings.host} refused; check {env_name('base_url')} (host and port) and "
                        "that the gateway is up", retryable=True)


def _timed_out(exc: Any, settings: Settings) -> GatewayError:
    # Not --setup-timeout running out (``opening_timed_out`` words that): the system's own limit, such as a TCP
    # connect that the kernel gave up on.
    return GatewayError(f"the connection to {settings.host} timed out ({one_line(exc.strerror or exc) or 'no answer'}); "
                        f"check the network and {env_name('base_url')}, and retry", retryable=True)


def _unreachable(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"cannot reach {settings.host} ({one_line(exc.strerror or exc)}); check {env_name('base_url')} "
                        "and your network", retryable=True)


def _not_a_live_message(exc: Any, settings: Settings) -> GatewayError:
    kind = "that is not JSON" if "parse" in str(exc).lower() else "that is not a Live message"
    return GatewayError(f"{settings.host} sent a frame {kind}; check {env_name('base_url')} points at the AI Gateway")


def _unreadable_error(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"{settings.host} sent an error the SDK could not read; check the gateway's logs, "
                        f"{env_name('base_url')} and --model")


def _unexpected(exc: BaseException, settings: Settings) -> GatewayError:
    return GatewayError(f"unexpected {exc.__class__.__name__} talking to {settings.host}: {one_line(exc)}")
