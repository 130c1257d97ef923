"""The real servers' shapes, through the real CLI: close reasons, unknown frames, empty turns, latency, tokens."""

The echo model sends what the corpus recorded (``EchoOptions``: native audio,
3.x frames, Vertex's empty turn, usage without a response count); closes come
from the gateway's faults with the corpus' own reasons. One or more tests per
point of the issue "Meet the real Live service".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.cli_run import CANARY_KEY, tfy_live
from tests.test_integration import HELLO, target_env
from tfy_live.localgw import EchoOptions, Fault, GatewayThread

CORPUS = Path(__file__).resolve().parent / "realtraffic"
RATE = 16000


def corpus_close(name: str) -> tuple[int, str]:
    """The (code, reason) of the first close recorded in a corpus file."""
    for line in (CORPUS / name).read_text().splitlines():
        close = json.loads(line).get("close")
        if close:
            return close["code"], close["reason"]
    raise AssertionError(f"no close in {name}")


def run(tmp_path: Path, *args: str, options: EchoOptions | None = None, faults=(), kind: str = "gemini",
        input_file: Path = HELLO, timeout: float = 60):
    """``tfy-live talk`` with ``input_file`` against a local gateway; returns the result and the connections."""
    thread = GatewayThread(api_key=CANARY_KEY, options=options or EchoOptions(reply_speed=8.0), faults=list(faults))
    gw = thread.start()
    try:
        result = tfy_live("talk", "--provider", "acct", "--provider-kind", kind, "--input-file", str(input_file),
                          *args, env=target_env(gw), timeout=timeout)
        return result, list(gw.connections)
    finally:
        thread.stop()


def json_records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def speech_file(tmp_path: Path, trailing_s: float = 0.8) -> Path:
    """A second of a 300 Hz tone and ``trailing_s`` of silence: the input ends soon after the speech."""
    t = np.arange(RATE) / RATE
    pcm = np.concatenate([np.zeros(3200), 8000 * np.sin(2 * np.pi * 300 * t), np.zeros(int(trailing_s * RATE))])
    path = tmp_path / "speech.wav"
    soundfile.write(path, pcm.astype("<i2"), RATE, subtype="PCM_16")
    return path


# -- 10. close reasons cut at 123 bytes; advice per provider kind ---------------------------------------------

def test_a_reason_cut_at_123_bytes_ends_in_an_ellipsis_and_gemini_advice_names_the_api_version(tmp_path):
    code, reason = corpus_close("gemini_adk-3650_1008_model_not_found_cut_mid_word.jsonl")
    assert len(reason.encode()) == 123
    result, _ = run(tmp_path, "--output-file", str(tmp_path / "o.wav"),
                    faults=[Fault("close", after_turns=1, code=code, reason=reason)])
    assert result.returncode == 3
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "or is not supported for bid… — " in line and "--api-version" in line


def test_vertex_advice_does_not_suggest_an_api_version(tmp_path):
    # The corpus' Vertex reason with the reporter's redacted project id put back at a real length: 123 bytes.
    code, reason = corpus_close("vertex_adk-3314_1008_publisher_model_not_found.jsonl")
    reason = reason.replace("<PROJECT_NMAE>", "my-project-id-12345678")
    assert len(reason.encode()) == 123
    result, _ = run(tmp_path, "--output-file", str(tmp_path / "o.wav"), kind="vertex",
                    faults=[Fault("close", after_turns=1, code=code, reason=reason)])
    assert result.returncode == 3
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "gemini-live-2.5-flash-preview-na… — " in line
    assert "--api-version" not in line and "check --model" in line


# -- 11. newer models: model-specific setup fields ------------------------------------------------------------

REFUSED_ON_38 = {"enableAffectiveDialog", "enable_affective_dialog", "proactivity", "thinkingConfig",
                 "thinking_config"}


def keys_in(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
def test_a_default_setup_carries_nothing_a_3_8_model_refuses(tmp_path, kind):
    result, (conn,) = run(tmp_path, "--model", "gemini-3.8-live", "--output-file", str(tmp_path / "o.wav"), kind=kind)
    assert result.returncode == 0, result.stderr
    assert conn.model.endswith("models/gemini-3.8-live")
    assert not keys_in(conn.setup) & REFUSED_ON_38


def test_a_setup_refused_for_a_field_names_the_option_that_sent_it(tmp_path):
    code, reason = corpus_close("gemini_cookbook-775_1007_affective_dialog_unknown_name.jsonl")
    result, (conn,) = run(tmp_path, "--model", "gemini-3.8-live", "--affective-dialog",
                          "--output-file", str(tmp_path / "o.wav"),
                          faults=[Fault("close", after_turns=0, code=code, reason=reason)])
    assert result.returncode == 3
    assert keys_in(conn.setup) & {"enableAffectiveDialog", "enable_affective_dialog"}
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert 'Unknown name "enable_affective_dialog"' in line
    assert "refused the setup field that --affective-dialog sets: run without --affective-dialog" in line
