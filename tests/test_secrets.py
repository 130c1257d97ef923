"""The API key never appears in any output, log, debug dump, transcript or recording.

Every command and error path runs with a canary key; any piece of it in what
the program printed or wrote fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_run import CANARY_KEY, tfy_live
from tests.test_integration import SHORT_HELLO, target_env
from tfy_live.localgw import Fault, GatewayThread

PIECE = "canary-KEY"  # any fragment of the key that a truncation might leave


def leaks(result, *files: Path) -> list[str]:
    places = {"stdout": result.stdout, "stderr": result.stderr}
    for path in files:
        if path.exists():
            places[path.name] = path.read_bytes().decode("latin-1")
    return [name for name, text in places.items() if PIECE in text or CANARY_KEY in text]


def test_successful_talk_chat_and_doctor_with_debug_leak_nothing(gateway, tmp_path):
    env = target_env(gateway)
    files = [tmp_path / n for n in ("t.jsonl", "r.wav", "o.wav", "c.md")]
    talk = tfy_live("talk", "--provider", "acct", "--debug", "--json", "--input-file", str(SHORT_HELLO),
                    "--output-file", str(files[2]), "--transcript", str(files[0]), "--record", str(files[1]), env=env)
    assert talk.returncode == 0, talk.stderr
    assert "Authorization: Bearer ***" in talk.stderr  # the debug log did show the header, masked
    chat = tfy_live("chat", "--provider", "acct", "--debug", "--transcript", str(files[3]), "hello", env=env)
    doctor = tfy_live("doctor", "--provider", "acct", "--no-audio", "--json", env=env)
    for result in (talk, chat, doctor):
        assert result.returncode == 0, result.stdout + result.stderr
        assert leaks(result, *files) == []


@pytest.mark.parametrize("case", ["401", "404", "1008", "503", "refused", "dns", "tls", "setup-timeout",
                                  "bad-option", "bad-url", "devices", "voices", "help"])
def test_every_error_path_leaks_nothing(tmp_path, case):
    faults = {"1008": [Fault("close", after_turns=0, code=1008, reason="policy")],
              "503": [Fault("reject", code=503, reason="down", each=True)],  # every attempt: tried 3 times
              "setup-timeout": [Fault("slow_setup", delay_s=3)]}.get(case, [])
    thread = GatewayThread(api_key="the-right-key" if case == "401" else CANARY_KEY, reply_speed=8.0, faults=faults)
    gw = thread.start()
    try:
        env = target_env(gw)
        args = ["talk", "--provider", "acct", "--debug", "--input-file", str(SHORT_HELLO), "--output-file",
                str(tmp_path / "o.wav"), "--transcript", str(tmp_path / "t.md")]
        if case == "404":
            env["TFY_BASE_URL"] = gw.base_url.replace("/api/llm", "/api/nope")
        elif case == "refused":
            env["TFY_BASE_URL"] = "https://127.0.0.1:9/api/llm"
        elif case == "dns":
            env["TFY_BASE_URL"] = "https://gw.tfy-live-test.invalid/api/llm"
        elif case == "tls":
            env.pop("SSL_CERT_FILE")
        elif case == "setup-timeout":
            args += ["--setup-timeout", "0.5"]
        elif case == "bad-option":
            args += ["--temperature", "hot"]
        elif case == "bad-url":
            env["TFY_BASE_URL"] = f"ftp://{CANARY_KEY}@gw"
        elif case in ("devices", "voices", "help"):
            args = {"devices": ["devices"], "voices": ["voices"], "help": ["talk", "--help"]}[case]
        result = tfy_live(*args, env=env)
    finally:
        thread.stop()
    if case == "devices":  # 4 on a machine without audio devices (README), with one line naming the file options
        assert result.returncode in (0, 4) and "Traceback" not in result.stderr
    elif case in ("voices", "help"):
        assert result.returncode == 0
    else:
        assert result.returncode in (2, 3), result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    assert leaks(result, tmp_path / "t.md") == []
