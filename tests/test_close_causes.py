"""What a close means, read from the real servers' own words: every close recorded in tests/realtraffic.

The reasons are loaded from the corpus's JSON Lines files (see tests/realtraffic/README.md), not
copied here, so a file added there is classified here too, or this test says it is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.genai import errors as genai_errors
from websockets import exceptions as ws
from websockets.frames import Close

from tfy_live.config import resolve
from tfy_live.errors import Cause, GatewayError
from tfy_live.gateway.errors import close_cause, translate_error

REALTRAFFIC = Path(__file__).parent / "realtraffic"
KEY = "tfy-canary-KEY-causes-0123456789"
GEMINI = resolve({"provider": "acct", "model": "gemini-live-2.5-flash"},
                 {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})
VERTEX = resolve({"provider": "acct", "provider_kind": "vertex", "model": "gemini-live-2.5-flash"},
                 {"TFY_API_KEY": KEY, "TFY_BASE_URL": "https://gw.example.com/api/llm"})

# Each file's closes, in the order it records them, and what each means.
EXPECTED: dict[str, list[Cause | None]] = {
    "gemini_adk-140_1008_model_not_found_cut.jsonl": [Cause.MODEL],
    "gemini_adk-2591_1008_model_not_found_v1alpha.jsonl": [Cause.MODEL],
    "gemini_adk-3650_1008_model_not_found_cut_mid_word.jsonl": [Cause.MODEL],
    "gemini_adk-866_1007_voices_and_1008_cut.jsonl": [None, Cause.MODEL],
    "gemini_adk-streaming-guide-11_1011_unavailable_and_deadline.jsonl": [Cause.UNAVAILABLE, Cause.DEADLINE],
    "gemini_cookbook-775_1007_affective_dialog_unknown_name.jsonl": [None],
    "gemini_forum-167186_1011_internal_error.jsonl": [Cause.UNAVAILABLE],
    "gemini_gunpal5-109_3.1_affective_dialog_1011.jsonl": [Cause.UNAVAILABLE],
    "gemini_interpretab_1007_unknown_voice.jsonl": [None],
    "gemini_interpretab_goaway_then_1008.jsonl": [Cause.POLICY],  # at the goAway deadline: the link knows that part
    "gemini_interpretab_quota_close_mid_session.jsonl": [Cause.QUOTA],
    "gemini_interpretab_quota_close_new_session.jsonl": [Cause.QUOTA],
    "gemini_interpretab_setup_field_at_wrong_level.jsonl": [None],  # the source gives no code
    "gemini_livekit-4414_1008_model_not_found_v1beta.jsonl": [Cause.MODEL],
    "gemini_yeyu2-5_1008_session_not_found.jsonl": [Cause.STALE_SESSION],
    "vertex_adk-3314_1008_publisher_model_not_found.jsonl": [Cause.MODEL],
    "vertex_ilseokoh_usage_and_1000_cancelled.jsonl": [None],
    "vertex_js-genai-1212_1007_invalid_argument.jsonl": [None],
}


def real_closes() -> list[tuple[str, int, int | None, str]]:
    """(file, index among its closes, code, reason) for every close in the corpus; a reason not recorded is ""."""
    closes = []
    for path in sorted(REALTRAFFIC.glob("*.jsonl")):
        events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
        found = [event["close"] for event in events if "close" in event]
        closes += [(path.name, i, close["code"], close["reason"] or "") for i, close in enumerate(found)]
    return closes


CLOSES = real_closes()


def test_every_real_close_is_classified_here():
    recorded: dict[str, int] = {}
    for name, _, _, _ in CLOSES:
        recorded[name] = recorded.get(name, 0) + 1
    assert recorded == {name: len(causes) for name, causes in EXPECTED.items()}


@pytest.mark.parametrize("name, index, code, reason", CLOSES, ids=[f"{c[0]}#{c[1]}" for c in CLOSES])
def test_each_real_close_means_what_the_server_said(name, index, code, reason):
    assert close_cause(code, reason) is EXPECTED[name][index]


@pytest.mark.parametrize("name, index, code, reason", CLOSES, ids=[f"{c[0]}#{c[1]}" for c in CLOSES])
def test_a_reason_cut_anywhere_past_its_start_means_the_same(name, index, code, reason):
    """The servers cut reasons at 123 bytes, mid-word: the meaning must not hang on the end."""
    whole = reason.encode()
    for cut in range(min(len(whole), 100), len(whole) + 1):
        assert close_cause(code, whole[:cut].decode("utf-8", "ignore")) is EXPECTED[name][index], cut


def sdk_close(code: int, reason: str) -> genai_errors.APIError:
    """The SDK's report of a close, raised as google-genai raises it (from inside the websockets exception)."""
    try:
        try:
            raise ws.ConnectionClosedError(Close(code, reason), None)
        except ws.ConnectionClosed:
            genai_errors.APIError.raise_error(code, reason, None)
    except genai_errors.APIError as exc:
        return exc
    raise AssertionError("the SDK did not raise")


def real(name: str) -> tuple[int, str]:
    (code, reason), = [(c[2], c[3]) for c in CLOSES if c[0] == name]
    assert code is not None
    return code, reason


@pytest.mark.parametrize("close", [sdk_close, lambda code, reason: ws.ConnectionClosedError(Close(code, reason), None)],
                         ids=["sdk-api-error", "websockets-closed"])
def test_the_line_shown_names_the_fix_for_each_cause_with_the_server_s_words(close):
    quota = translate_error(close(*real("gemini_interpretab_quota_close_new_session.jsonl")), GEMINI)
    assert quota.cause is Cause.QUOTA and not quota.retryable
    assert "code 1011: You exceeded your current quota" in str(quota)
    assert all(words in str(quota) for words in ("wait for the quota window", "plan and billing", "another provider"))

    model = translate_error(close(*real("gemini_livekit-4414_1008_model_not_found_v1beta.jsonl")), GEMINI)
    assert model.cause is Cause.MODEL and "check --model ('gemini-live-2.5-flash')" in str(model)
    assert "--api-version (v1beta)" in str(model)
    vertex = translate_error(close(*real("vertex_adk-3314_1008_publisher_model_not_found.jsonl")), VERTEX)
    assert vertex.cause is Cause.MODEL and "check --model" in str(vertex) and "--api-version" not in str(vertex)
    assert "Publisher Model `projects/" in str(vertex)

    stale = translate_error(close(*real("gemini_yeyu2-5_1008_session_not_found.jsonl")), GEMINI)
    assert stale.cause is Cause.STALE_SESSION and "fresh session" in str(stale) and "--model" not in str(stale)

    deadline = translate_error(close(1008, ""), GEMINI)  # what the real server closes with at the goAway deadline
    assert deadline.cause is Cause.POLICY and str(deadline).startswith("connection closed with code 1008 — ")
    assert not str(deadline).startswith("connection closed with code 1008 — the model")

    for reason in ("The service is currently unavailable.", "Deadline expired before operation could complete.",
                   "Internal error encountered."):
        error = translate_error(close(1011, reason), GEMINI)
        assert error.retryable and error.cause in (Cause.UNAVAILABLE, Cause.DEADLINE) and reason in str(error)


def test_quota_at_the_upgrade_or_as_a_message_is_quota_too():
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    body = b'{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", ' \
           b'"status": "RESOURCE_EXHAUSTED"}}'
    refused = translate_error(ws.InvalidStatus(Response(429, "x", Headers(), body)), GEMINI)
    assert refused.cause is Cause.QUOTA and not refused.retryable and "HTTP 429" in str(refused)
    message = translate_error(genai_errors.ClientError(429, {"error": {"code": 429, "message": "slow down",
                                                                       "status": "RESOURCE_EXHAUSTED"}}), GEMINI)
    assert message.cause is Cause.QUOTA and "quota is used up" in str(message)
    for status in (502, 503, 504):
        error = translate_error(ws.InvalidStatus(Response(status, "x", Headers(), b"")), GEMINI)
        assert error.retryable and error.cause is Cause.UNAVAILABLE
    assert translate_error(ws.InvalidStatus(Response(500, "x", Headers(), b"")), GEMINI).cause is None
    assert isinstance(refused, GatewayError)
