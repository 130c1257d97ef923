"""Bad inputs and faults through the real CLI, each held to what ``tests.hostile`` checks.

Each row: an id, the arguments, extra environment, files to lay out first, the
exit code and a pattern for the one error line. The rows of later changes add
to ``CASES`` or live in ``test_hostile_*.py`` files that use the same runner.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_run import CANARY_KEY, clean_env
from tests.hostile import leaked_forms, run_hostile

TARGET = {"TFY_API_KEY": CANARY_KEY, "TFY_BASE_URL": "https://127.0.0.1:9/api/llm"}  # a closed loopback port

CASES = [
    ("no key", ["talk", "--provider", "acct"], {"TFY_BASE_URL": "https://127.0.0.1:9/api/llm"}, 2,
     r"no API key: set TFY_API_KEY"),
    ("no provider", ["talk"], TARGET, 2, r"no provider account: pass --provider NAME"),
    ("base URL not a URL", ["talk", "--provider", "acct"], {**TARGET, "TFY_BASE_URL": "not a url"}, 2,
     r"TFY_BASE_URL must be a URL"),
    ("unknown option", ["talk", "--local", "--bogus"], {}, 2, r"No such option: --bogus"),
    ("gateway port closed", ["chat", "--provider", "acct", "hi"], TARGET, 3, r"refused"),
    ("gateway name does not resolve", ["chat", "--provider", "acct", "hi"],
     {**TARGET, "TFY_BASE_URL": "https://gateway.invalid/api/llm"}, 3, r"cannot resolve host 'gateway.invalid'"),
    ("input file missing", ["talk", "--local", "--input-file", "nothing-here.wav"], {}, 5, r"nothing-here\.wav"),
]


@pytest.mark.parametrize("args, env, code, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_input_gets_one_line_its_exit_code_and_harms_nothing(tmp_path: Path, args, env, code, message):
    (tmp_path / "keep.txt").write_bytes(b"the user's own file\n")
    run_hostile(args, code=code, message=message, env=clean_env(**env), cwd=tmp_path)


def test_the_key_is_looked_for_in_every_form_it_could_leak_in():
    import base64
    import urllib.parse

    forms = leaked_forms(CANARY_KEY)
    for framing in (b"", b"x", b"xy", b"Bearer ", b"api_key="):
        assert any(form in base64.b64encode(framing + CANARY_KEY.encode()) for form in forms), framing
        assert any(form in base64.urlsafe_b64encode(framing + CANARY_KEY.encode()) for form in forms), framing
    assert CANARY_KEY.encode() in forms and urllib.parse.quote(CANARY_KEY).encode() in forms
