"""Secrets, ``.env`` files and hostile servers through the real CLI, each row held to ``tests.hostile``.

The gateway is the local one on its own thread (``GatewayThread``, its key the canary),
reached with ``--base-url``/``TFY_BASE_URL`` and ``--ca-bundle``/``TFY_CA_BUNDLE``. Its
echo model says typed text back ("You said: …"), so ``chat`` with the key or escape
sequences as the message makes the model send them. Beyond what ``run_hostile`` checks,
every row checks that no ESC byte reached standard output, standard error or any file.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.hostile import leaked_forms, run_hostile
from tfy_live.localgw import Fault, GatewayThread
from tfy_live.localgw.echo import get

KEY = CANARY_KEY
B64 = base64.b64encode(KEY.encode()).decode()
B64_URLSAFE_SHIFTED = base64.urlsafe_b64encode(b"tk" + KEY.encode()).decode()  # another alignment
ESCAPES = "\x1b[2J\x1b[H\x1b]52;c;ZXZpbA==\x07\x1b]0;owned\x07\x9b31m"  # clear, home, clipboard, title, 8-bit CSI
PASSWORD = "hunter2-a-long-password"


def setup_text(gw) -> str:
    """Everything the client put in its session setup (system instruction, model, …), as text."""
    return repr(gw.connections[0].setup)


def system_sent_as_written(gw, result, cwd: Path) -> None:
    system = get(gw.connections[0].setup, "systemInstruction", "system_instruction")
    assert "${TFY_API_KEY}" in repr(system) and KEY not in setup_text(gw)


def model_sent_as_written(gw, result, cwd: Path) -> None:
    assert "${TFY_API_KEY}" in gw.connections[0].model and KEY not in setup_text(gw)


def escapes_shown(gw, result, cwd: Path) -> None:
    assert r"\x1b[2J\x1b[H\x1b]52;c;ZXZpbA==\x07" in result.stdout.replace("\\\\", "\\")


def key_masked_in_reply(gw, result, cwd: Path) -> None:
    assert any(line.startswith("You said:") and line.endswith("***") for line in result.stdout.splitlines())


def password_not_shown(gw, result, cwd: Path) -> None:
    assert PASSWORD not in result.stdout + result.stderr  # the .env holds it, so the file check cannot look for it


@dataclass
class Row:
    id: str
    args: list[str]  # "{url}" and "{ca}" stand for the gateway's URL and CA file
    code: int
    message: str = ""
    env: dict[str, str] = field(default_factory=dict)  # {url}/{ca} too; None values are removed
    dotenv: str | None = None
    faults: list[Fault] = field(default_factory=list)
    secret: str = KEY
    check: Callable[[Any, Any, Path], None] | None = None


GW = {"TFY_API_KEY": KEY, "TFY_BASE_URL": "{url}", "TFY_CA_BUNDLE": "{ca}"}
KEY_ONLY = {"TFY_API_KEY": KEY}

ROWS = [
    # -- .env is read as written: ${…} is not expanded -------------------------------------------
    Row("dotenv ${TFY_API_KEY} in the system instruction", ["chat", "--provider", "acct", "hi"], 0, env=GW,
        dotenv="TFY_LIVE_SYSTEM=Answer briefly. ${TFY_API_KEY}\n", check=system_sent_as_written),
    Row("dotenv ${TFY_API_KEY} as the model", ["chat", "--provider", "acct", "hi"], 0, env=GW,
        dotenv="TFY_LIVE_MODEL=${TFY_API_KEY}\n", check=model_sent_as_written),
    Row("dotenv ${TFY_API_KEY} as the voice", ["chat", "--provider", "acct", "hi"], 2, r"unknown voice '\$\{TFY_API_KEY\}'",
        env=GW, dotenv="TFY_LIVE_VOICE=${TFY_API_KEY}\n"),
    Row("dotenv ${TFY_API_KEY} as the provider account", ["chat", "hi"], 2,
        r"provider account '\$\{TFY_API_KEY\}' is not a valid name", env=GW, dotenv="TFY_LIVE_PROVIDER=${TFY_API_KEY}\n"),
    Row("dotenv ${TFY_API_KEY} as the CA bundle", ["chat", "--provider", "acct", "hi"], 2,
        r"CA bundle '\$\{TFY_API_KEY\}' does not exist", env={**GW, "TFY_CA_BUNDLE": None},
        dotenv="TFY_CA_BUNDLE=${TFY_API_KEY}\n"),
    Row("dotenv ${TFY_API_KEY} as the base URL's user", ["chat", "--provider", "acct", "hi"], 2,
        r"TFY_BASE_URL must not carry a user name or password .*TFY_API_KEY", env=KEY_ONLY,
        dotenv="TFY_BASE_URL=https://${TFY_API_KEY}@127.0.0.1:9/api/llm\n"),
    # -- credentials in the base URL are refused, and not echoed ------------------------------------
    Row("dotenv base URL with user:password", ["talk", "--provider", "acct", "--debug"], 2,
        r"must not carry a user name or password \(got 'https://\*\*\*@127\.0\.0\.1:9/api/llm'\).*TFY_API_KEY",
        env=KEY_ONLY, dotenv=f"TFY_BASE_URL=https://admin:{PASSWORD}@127.0.0.1:9/api/llm\n", check=password_not_shown),
    Row("--base-url with the key as password", ["chat", "--provider", "acct", "--base-url",
                                                f"https://user:{KEY}@127.0.0.1:9/api/llm", "hi"], 2,
        r"must not carry a user name or password.*TFY_API_KEY", env=KEY_ONLY),
    Row("TFY_BASE_URL with a token as user, talk --json", ["talk", "--provider", "acct", "--json"], 2,
        r"TFY_BASE_URL must not carry a user name or password \(got 'wss://\*\*\*@127", secret=PASSWORD,
        env={**KEY_ONLY, "TFY_BASE_URL": f"wss://{PASSWORD}@127.0.0.1:9/api/llm"}),
    # -- a hostile gateway: the key back in its error body or close reason, escape sequences --------
    Row("401 body carries the key in base64", ["chat", "--provider", "acct", "hi"], 3,
        r"rejected the API key \(HTTP 401: .*\*\*\*", env=GW,
        faults=[Fault("reject", code=401, reason=f"key {B64} is not valid")]),
    Row("401 body carries the key in base64 at another alignment", ["chat", "--provider", "acct", "hi"], 3,
        r"HTTP 401: token=\S*\*\*\*", env=GW, faults=[Fault("reject", code=401, reason=f"token={B64_URLSAFE_SHIFTED}")]),
    Row("503 body carries the key and escape sequences", ["chat", "--provider", "acct", "hi"], 3,
        r"HTTP 503: down \*\*\* \\x1b\[2J", env=GW,
        faults=[Fault("reject", code=503, reason=f"down {KEY} {ESCAPES}", each=True)]),  # each: tried 3 times
    Row("close reason carries the base64 key and OSC 52, with --debug", ["chat", "--provider", "acct", "--debug", "hi"],
        3, r"closed with code 1008: .*\*\*\*.*\\x1b\]52", env=GW,
        faults=[Fault("close", after_turns=0, code=1008, reason=f"{B64} \x1b]52;c;ZXZpbA==\x07")]),
    # -- a model that repeats the key or sends escape sequences -------------------------------------
    Row("model repeats the key, transcript .md", ["chat", "--provider", "acct", "--transcript", "t.md", KEY], 0,
        env=GW, check=key_masked_in_reply),
    Row("model repeats the key in base64, --json and .jsonl", ["chat", "--provider", "acct", "--json", "--transcript",
                                                               "t.jsonl", f"x{B64}"], 0, env=GW),
    Row("model repeats the key, --debug", ["chat", "--provider", "acct", "--debug", f"key: {KEY}"], 0, env=GW,
        check=key_masked_in_reply),
    Row("model repeats Basic credentials", ["chat", "--provider", "acct", "--base-url", "{url}", "--ca-bundle", "{ca}",
                                            "Authorization: Basic " + base64.b64encode(f"u:{KEY}".encode()).decode()],
        0, env=KEY_ONLY),
    Row("model sends escape sequences, transcript .md", ["chat", "--provider", "acct", "--transcript", "t.md",
                                                        f"hi {ESCAPES} there"], 0, env=GW, check=escapes_shown),
    Row("model sends escape sequences, --json", ["chat", "--provider", "acct", "--json", f"hi {ESCAPES}"], 0, env=GW,
        check=escapes_shown),
    Row("escape sequences in a .env value", ["chat", "hi"], 2, r"provider account '\\x1b\]52;c;ZXZpbA==\\x07' is not",
        env=GW, dotenv="TFY_LIVE_PROVIDER=\x1b]52;c;ZXZpbA==\x07\n"),
    Row("escape sequences in an option value", ["chat", "--provider", "acct", "--voice", "\x1b[2JPuck", "hi"], 2,
        r"unknown voice '\\x1b\[2JPuck'", env=GW),
]


def _fill(text: str, gw) -> str:
    return text.replace("{url}", gw.base_url).replace("{ca}", str(gw.ca_file))


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_secrets_dotenv_and_hostile_servers(tmp_path: Path, gateway, row: Row):
    thread = GatewayThread(api_key=KEY, reply_speed=8.0, faults=row.faults) if row.faults else None
    gw = thread.start() if thread is not None else gateway
    try:
        (tmp_path / "keep.txt").write_bytes(b"the user's own file\n")
        if row.dotenv is not None:
            (tmp_path / ".env").write_text(row.dotenv)
        env = clean_env(**{k: _fill(v, gw) for k, v in row.env.items() if v is not None})
        result = run_hostile([_fill(a, gw) for a in row.args], code=row.code, message=row.message, env=env,
                             cwd=tmp_path, secret=row.secret)
    finally:
        if thread is not None:
            thread.stop()
    assert "\x1b" not in result.stdout + result.stderr and "\x9b" not in result.stdout + result.stderr
    for path in tmp_path.iterdir():
        assert b"\x1b" not in path.read_bytes() or path.name == ".env", path
    if row.check is not None:
        row.check(gw, result, tmp_path)


def test_doctor_masks_a_hostile_401_and_shows_it_in_human_and_json_form(tmp_path: Path):
    reason = f"key {B64} rejected {ESCAPES}"
    faults = [Fault("reject", code=401, reason=reason, connection=n) for n in (0, 1)]  # one for each run
    thread = GatewayThread(api_key=KEY, reply_speed=8.0, faults=faults)
    gw = thread.start()
    try:
        env = clean_env(TFY_API_KEY=KEY, TFY_BASE_URL=gw.base_url, TFY_CA_BUNDLE=str(gw.ca_file))
        human = tfy_live("doctor", "--provider", "acct", "--no-audio", env=env, cwd=tmp_path)
        machine = tfy_live("doctor", "--provider", "acct", "--no-audio", "--json", env=env, cwd=tmp_path)
    finally:
        thread.stop()
    for result in (human, machine):
        assert result.returncode == 3, result.stdout + result.stderr
        shown = (result.stdout + result.stderr).encode()
        assert not [form for form in leaked_forms(KEY) if form in shown]
        assert b"\x1b" not in shown and b"\xc2\x9b" not in shown
    said = r"the gateway rejected the API key \(HTTP 401: key \*\*\*\S* rejected \\x1b\[2J\\x1b\[H\\x1b\]52;"
    assert re.search("fix: " + said, human.stdout), human.stdout
    key_check = next(r for r in map(json.loads, machine.stdout.splitlines()) if r["check"] == "API key accepted")
    assert re.match(said, key_check["detail"]), key_check


def test_doctor_and_debug_say_when_dotenv_chose_the_base_url_and_the_ca_bundle(tmp_path: Path, gateway):
    (tmp_path / ".env").write_text(f"TFY_BASE_URL={gateway.base_url}\nTFY_CA_BUNDLE={gateway.ca_file}\n"
                                   "TFY_LIVE_SYSTEM=Answer briefly.\n")
    env = clean_env(TFY_API_KEY=KEY, TFY_LIVE_MODEL="gemini-live-2.5-flash")
    human = tfy_live("doctor", "--provider", "acct", "--no-audio", env=env, cwd=tmp_path)
    machine = tfy_live("doctor", "--provider", "acct", "--no-audio", "--json", env=env, cwd=tmp_path)
    debug = tfy_live("chat", "--provider", "acct", "--debug", "hi", env=env, cwd=tmp_path)
    for result in (human, machine, debug):
        assert result.returncode == 0, result.stdout + result.stderr
        assert KEY not in result.stdout + result.stderr
    assert f"CA bundle {gateway.ca_file}" in human.stdout  # the settings row names the file trusted
    assert re.search(r"settings from +flag: provider · environment: key, model · \.env: base URL, CA bundle · "
                     r"default: voice", human.stdout), human.stdout
    settings = json.loads(machine.stdout.splitlines()[0])
    assert settings["check"] == "settings" and settings["sources"] == {
        "api_key": "environment", "base_url": ".env", "provider": "flag", "model": "environment", "voice": "default",
        "provider_kind": "default", "api_version": "default", "ca_bundle": ".env", "setup_timeout": "default"}
    assert f"base URL {gateway.base_url} (.env)" in debug.stderr and f"CA bundle {gateway.ca_file} (.env)" in debug.stderr
    assert "provider acct (flag)" in debug.stderr and "model gemini-live-2.5-flash (environment)" in debug.stderr
    assert "key *** (environment)" in debug.stderr and "also from .env: TFY_LIVE_SYSTEM" in debug.stderr
