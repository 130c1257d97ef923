"""``tfy-live doctor`` through the CLI, against the local gateway and file-backed ALSA devices."""

from __future__ import annotations

import json

from tests.cli_run import CANARY_KEY, clean_env, tfy_live
from tests.test_integration import device_env, target_env
from tfy_live.doctor import Check, Result, exit_code, run_checks
from tfy_live.errors import AudioError, ConfigError


def rows(stdout: str) -> dict[str, str]:
    """check name -> pass/fail/skip, from --json output."""
    return {r["check"]: r["result"] for r in map(json.loads, stdout.splitlines())}


def test_everything_passes_on_the_local_gateway_with_working_devices(tmp_path):
    env, _ = device_env(tmp_path, b"")
    result = tfy_live("doctor", "--local", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("✓ pass") == 7 and "all checks passed" in result.stdout
    assert "answered setupComplete in" in result.stdout and "TLSv1" in result.stdout


def test_a_wrong_key_fails_its_check_names_the_fix_and_skips_what_depends_on_it(gateway):
    env = {**target_env(gateway), "TFY_API_KEY": "not-the-key-" + CANARY_KEY[::-1]}
    result = tfy_live("doctor", "--provider", "acct", "--no-audio", "--json", env=env)
    assert result.returncode == 3
    assert rows(result.stdout) == {
        "settings": "pass", "gateway host resolves": "pass", "TLS verifies": "pass",
        "API key accepted": "fail", "provider and model answer a session setup": "skip",
    }
    assert "check TFY_API_KEY" in result.stdout
    assert CANARY_KEY[::-1] not in result.stdout + result.stderr


def test_a_wrong_path_passes_the_key_but_fails_the_setup(gateway):
    env = {**target_env(gateway), "TFY_BASE_URL": gateway.base_url.replace("/api/llm", "/api/nope")}
    result = tfy_live("doctor", "--provider", "acct", "--no-audio", "--json", env=env)
    assert result.returncode == 3
    checks = rows(result.stdout)
    assert checks["API key accepted"] == "pass" and checks["provider and model answer a session setup"] == "fail"
    assert "HTTP 404" in result.stdout and CANARY_KEY not in result.stdout


def test_an_untrusted_certificate_fails_tls_and_points_at_the_ca_option(gateway):
    env = {k: v for k, v in target_env(gateway).items() if k != "SSL_CERT_FILE"}
    result = tfy_live("doctor", "--provider", "acct", "--no-audio", env=env)
    assert result.returncode == 3
    assert "✗ fail    TLS verifies" in result.stdout and "--ca-bundle" in result.stdout


def test_unresolvable_host_and_missing_settings(tmp_path):
    result = tfy_live("doctor", "--provider", "acct", "--no-audio", env=clean_env(
        TFY_API_KEY=CANARY_KEY, TFY_BASE_URL="https://gw.tfy-live-test.invalid/api/llm"))
    assert result.returncode == 3 and "cannot resolve 'gw.tfy-live-test.invalid'" in result.stdout
    result = tfy_live("doctor", "--no-audio", env=clean_env())
    assert result.returncode == 2 and "no API key: set TFY_API_KEY" in result.stdout
    assert result.stdout.count("– skipped") == 4


async def test_the_runner_skips_what_needs_a_failed_check_and_exits_with_the_first_failure_code():
    async def ok() -> str:
        return "fine"

    async def bad_config() -> str:
        raise ConfigError("set X")

    async def bad_audio() -> str:
        raise AudioError("no mic")

    seen: list[Result] = []
    results = await run_checks([Check("a", bad_config), Check("b", ok, ("a",)), Check("c", bad_audio), Check("d", ok)],
                               seen.append)
    assert [(r.name, r.outcome) for r in results] == [("a", "fail"), ("b", "skip"), ("c", "fail"), ("d", "pass")]
    assert seen == results and exit_code(results) == 2
    assert exit_code([r for r in results if r.name == "d"]) == 0


def test_the_settings_sources_leave_out_the_gemini_api_version_for_the_realtime_kinds(tmp_path):
    env = clean_env(TFY_API_KEY=CANARY_KEY, TFY_BASE_URL="https://gw.tfy-live-test.invalid/api/llm")
    for kind in ("openai", "azure"):
        result = tfy_live("doctor", "--provider", "acct", "--provider-kind", kind, "--no-audio", env=env)
        assert result.returncode == 3 and "settings from" in result.stdout, result.stdout
        assert "API version" not in result.stdout
        given = tfy_live("doctor", "--provider", "acct", "--provider-kind", kind, "--api-version", "v1alpha",
                         "--no-audio", "--json", env=env)
        assert json.loads(given.stdout.splitlines()[0])["sources"]["api_version"] == "flag"
    gemini = tfy_live("doctor", "--provider", "acct", "--no-audio", env=env)
    assert "API version" in gemini.stdout


# -- the rows fit the terminal ----------------------------------------------------------------------------------

AUDITED_ROWS = [  # what an 80-column terminal broke mid-word, before the rows wrapped themselves
    ("✓ pass", "gateway host resolves", "127.0.0.1 → 127.0.0.1", "(0 ms)"),
    ("✓ pass", "API key accepted", "the gateway accepted the Bearer key", "(295 ms)"),
    ("✓ pass", "provider and model answer a session setup", "gemini-live-2.5-flash answered setupComplete in 295 ms",
     "(0 ms)"),
    ("– skipped", "microphone opens at 16 kHz", "no microphone on this machine (talk --input-file FILE speaks a file "
     "instead); --no-audio leaves this check out", ""),
    ("", "settings from", "default: model, voice, provider kind, API version, CA bundle, setup timeout · built-in "
     "gateway: key, base URL, provider", ""),
]


def render(width: int, rows: list[tuple[str, str, str, str]]) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.text import Text

    from tfy_live.doctor_view import layout, row

    out = StringIO()
    console = Console(file=out, width=width, color_system=None)
    columns = layout(max(len(name) for _, name, _, _ in rows), console.width)
    for mark, name, detail, took in rows:
        console.print(row(console, columns, Text(mark), name, Text(detail), took), soft_wrap=True)
    return out.getvalue()


def test_doctor_rows_wrap_at_word_boundaries_inside_their_columns():
    words = {w for row_ in AUDITED_ROWS for w in " ".join(row_).split()}
    for width in (80, 60):
        shown = render(width, AUDITED_ROWS)
        lines = shown.splitlines()
        assert max(map(len, lines)) <= width, shown
        assert set(shown.split()) <= words, shown  # every word whole: none cut in two by a wrap
        assert "(0 ms)" in shown and "(295 ms)" in shown  # the timing whole, after its detail
        # the hanging indent: the gap before the detail column stays blank on every line
        column = lines[0].index("127.0.0.1")
        assert all(line[column - 2:column].strip() == "" for line in lines), shown
    assert render(200, AUDITED_ROWS).count("\n") == len(AUDITED_ROWS)  # room enough: a line a row


def test_a_terminal_too_narrow_for_two_columns_gets_each_detail_under_its_name():
    words = {w for row_ in AUDITED_ROWS for w in " ".join(row_).split()}
    for width in (30, 40, 50):
        shown = render(width, AUDITED_ROWS)
        lines = shown.splitlines()
        assert max(map(len, lines)) <= width, shown
        assert set(shown.split()) <= words, shown
        assert lines[0].startswith("✓ pass    gateway host"), shown
        assert "  127.0.0.1 → 127.0.0.1 (0 ms)" in lines, shown  # the detail on its own lines, indented


def test_a_word_longer_than_the_detail_column_folds_inside_it():
    url = "wss://127.0.0.1:40403/api/llm/live/local/ws/google.ai.generativelanguage.v1beta.BidiGenerateContent"
    shown = render(60, [("✓ pass", "settings", f"socket {url}", "(9 ms)")])
    assert max(map(len, shown.splitlines())) <= 60 and "".join(shown.split()).endswith(url + "(9ms)")
