"""Every failure of an OpenAI realtime session as one ``GatewayError`` line that names the fix.

Two tables, read as ``gateway.errors`` reads its own:

- ``error_map``: exception class -> wording. The socket, the upgrade, TLS and the
  closes are the same websockets and ssl classes the Gemini kinds meet
  (``gateway.errors.transport_map``); the openai SDK adds its own few.
- ``ERROR_CODES``: the realtime API's ``error`` event, by its ``code`` (else its
  ``type``) -> what it means. Some end the session (a refused key, an unknown
  model, a spent quota, the session's maximum duration); most are about one
  request, and the session goes on (``Notice``). At setup every error is fatal:
  the session was refused.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from tfy_live.config import Settings, env_name
from tfy_live.errors import Cause, GatewayError
from tfy_live.events import Notice
from tfy_live.gateway_openai.translate import obj
from tfy_live.gateway.errors import QUOTA_FIX, Wording, model_fix, one_line, shown_reason, transport_map, worded

MAX_DURATION = "hit the maximum duration"  # the realtime server's words when a session expires (error and close)

REPLAY_HINT = "OpenAI realtime sessions cannot be resumed; run again (with --replay-context a new session gets the " \
              "conversation's text)"


def translate_error(exc: BaseException, settings: Settings) -> GatewayError:
    """The GatewayError (message naming the fix) for any exception met talking to the gateway."""
    return worded(error_map(), exc, settings, _unexpected)


@functools.cache
def error_map() -> dict[type[BaseException], Wording]:
    import openai
    from websockets import exceptions as ws

    return {
        **transport_map(),
        ws.ConnectionClosed: _closed,
        openai.WebSocketConnectionClosedError: _closed_unsent,
        openai.WebSocketQueueFullError: _queue_full,
        openai.OpenAIError: _sdk_error,
        Exception: _unexpected,
    }


def _closed(exc: Any, settings: Settings) -> GatewayError:
    """A close from the realtime server: its reason is the error's ``type.code`` (3000 for a key, 4000 for the
    request, as recorded) or a sentence (1001 at the session's maximum duration); read as its error event would
    be, else as any close (``gateway.errors``)."""
    frame = exc.rcvd
    if frame is not None and (meaning := close_reason(frame.code, frame.reason, settings)) is not None:
        return meaning
    from websockets.exceptions import ConnectionClosed

    return transport_map()[ConnectionClosed](exc, settings)


def close_reason(code: int, reason: str, settings: Settings) -> GatewayError | None:
    """What a realtime close's ``reason`` says, if it names an error this module knows (``ERROR_CODES``)."""
    said = shown_reason(reason)
    if MAX_DURATION in reason:
        return _expired(f"closed with code {code}: {said}", settings)
    kind, _, error = reason.partition(".")
    wording = ERROR_CODES.get(error) or (ERROR_CODES.get(kind) if code == 3000 else None)
    if wording is None and code == 3000 and kind == "invalid_request_error":
        wording = _key  # the server's close for a missing or refused credential (recorded: no code after the type)
    if wording is None:
        return None
    meaning = wording(f"closed with code {code}: {said}", settings)
    return meaning if isinstance(meaning, GatewayError) else None


def _closed_unsent(exc: Any, settings: Settings) -> GatewayError:
    cause = exc.__cause__ or exc.__context__
    if cause is not None and type(cause) is not type(exc):
        return translate_error(cause, settings)
    return GatewayError(f"the connection to {settings.host} closed with messages unsent; retry", retryable=True)


def _queue_full(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"the connection to {settings.host} fell behind (the openai SDK's send queue is full); check "
                        "the network and retry", retryable=True)


def _sdk_error(exc: Any, settings: Settings) -> GatewayError:
    return GatewayError(f"the openai SDK refused to connect ({one_line(exc)}); check {env_name('base_url')}, "
                        "--provider and --model")


def _unexpected(exc: BaseException, settings: Settings) -> GatewayError:
    return GatewayError(f"unexpected {exc.__class__.__name__} talking to {settings.host}: {one_line(exc)}")


# -- the realtime API's error events ------------------------------------------------------------------------------
EventWording = Callable[[str, Settings], GatewayError | None]


def _key(said: str, settings: Settings) -> GatewayError:
    return GatewayError(f"the provider refused the key ({said}); check {env_name('api_key')}, and that provider "
                        f"account {settings.provider!r} holds a working OpenAI key in TrueFoundry")


def _model(said: str, settings: Settings) -> GatewayError:
    return GatewayError(f"{said} — {model_fix(settings)}", cause=Cause.MODEL)


def _quota(said: str, settings: Settings) -> GatewayError:
    return GatewayError(f"{said} — {QUOTA_FIX}", cause=Cause.QUOTA)


def _rate(said: str, settings: Settings) -> GatewayError:
    return GatewayError(f"the provider is rate limiting this session ({said}); wait a moment and run again",
                        retryable=True)


def _expired(said: str, settings: Settings) -> GatewayError:
    return GatewayError(f"the realtime session reached its maximum duration ({said}); OpenAI realtime sessions cannot "
                        "be resumed: a new one does not remember the conversation (--replay-context gives it the text)",
                        retryable=True, cause=Cause.DEADLINE)


def _server(said: str, settings: Settings) -> GatewayError:
    return GatewayError(f"the provider failed ({said}); try again in a few seconds", retryable=True,
                        cause=Cause.UNAVAILABLE)


def _beta(said: str, settings: Settings) -> GatewayError:
    return GatewayError(f"the provider refused OpenAI's retired beta realtime protocol ({said}); check that provider "
                        f"account {settings.provider!r} in TrueFoundry points at OpenAI's GA realtime API")


def _harmless(said: str, settings: Settings) -> None:
    # A race tfy-live expects (a cancel that crossed the response's own end), or a refused truncate that the server
    # applies anyway, clamped to the audio it has (recorded: the error, then conversation.item.truncated).
    return None


ERROR_CODES: dict[str, EventWording] = {
    "invalid_api_key": _key,
    "authentication_error": _key,
    "model_not_found": _model,
    "invalid_model": _model,
    "missing_model": _model,
    "beta_api_shape_disabled": _beta,
    "insufficient_quota": _quota,
    "rate_limit_exceeded": _rate,
    "rate_limit_error": _rate,
    "session_expired": _expired,
    "server_error": _server,
    "response_cancel_not_active": _harmless,
}

# Errors known by their message (the code is absent, null, or shared with errors that matter), start of the text.
ERROR_MESSAGES: tuple[tuple[str, EventWording], ...] = (
    ("Missing bearer or basic authentication", _key),
    ("Incorrect API key provided", _key),
    ("Audio content of ", _harmless),  # "… is already shorter than …ms": a truncate past the end, applied anyway
    ("Only model output audio messages can be truncated", _harmless),
    ("Your session hit the maximum duration", _expired),
)


def error_event(event: dict[str, Any], settings: Settings, *, setup: bool = False) -> GatewayError | Notice | None:
    """What an ``error`` event means: a GatewayError that ends the session, a Notice, or None (nothing to say)."""
    error = obj(event.get("error"))
    code, kind = str(error.get("code") or ""), str(error.get("type") or "")
    message = one_line(error.get("message") or code or kind or "no message")
    said = f"{code or kind}: {message}" if (code or kind) and (code or kind) not in message else message
    text = str(error.get("message") or "")
    wording = ERROR_CODES.get(code) or next((w for start, w in ERROR_MESSAGES if text.startswith(start)), None) \
        or ERROR_CODES.get(kind)
    if wording is not None:
        return wording(said, settings)
    if setup:
        return GatewayError(f"the provider refused the session setup ({said}); check --model, --voice and the "
                            "options given (the README lists the options each provider kind takes)")
    return Notice(f"the provider reported an error and the session goes on: {said}")
