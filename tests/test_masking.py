"""Secrets become ``***`` in what tfy-live prints, without mangling the words around them."""

from __future__ import annotations

from tests.cli_run import clean_env, tfy_live
from tests.test_integration import SHORT_HELLO
from tfy_live import debuglog, masking
from tfy_live.masking import hide


def test_a_real_key_is_hidden_wherever_it_appears_even_inside_other_text():
    key = "tfy-0123456789abcdef"
    assert hide(f"Bearer {key} and x{key}y", [key]) == "Bearer *** and x***y"


def test_a_short_test_key_is_hidden_where_it_stands_alone_not_cut_out_of_words():
    assert hide("check key=k, k and kk", ["k"]) == "check key=***, *** and kk"
    assert hide("the latest test: test-2 untested", ["test"]) == "the latest ***: test-2 untested"


def test_the_longest_secret_goes_first_so_no_part_of_a_longer_one_is_left_and_empty_ones_are_ignored():
    assert hide("a abcdefgh-123456 b", ["abcdefgh", "abcdefgh-123456", ""]) == "a *** b"


def test_the_debug_log_masks_with_the_same_rule(monkeypatch):
    monkeypatch.setattr(masking, "_PROTECTED", set())  # this test's registry, not the process's
    debuglog.protect("k")
    assert debuglog.mask("checking key k") == "checking key ***"


def test_an_error_line_with_a_one_letter_key_keeps_its_words(tmp_path):
    # A refused connection's line says to "check TFY_BASE_URL"; the key "k" used to cut it to "chec***".
    result = tfy_live("talk", "--provider", "acct", "--input-file", str(SHORT_HELLO), "--output-file", str(tmp_path / "o.wav"),
                      env=clean_env(TFY_API_KEY="k", TFY_BASE_URL="https://127.0.0.1:9/api/llm"))
    assert result.returncode == 3, result.stderr
    assert "check TFY_BASE_URL" in result.stderr and "***" not in result.stderr
