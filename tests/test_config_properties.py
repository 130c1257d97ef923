"""The settings resolver and its URL rules over any input (hypothesis), and where each setting came from."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tfy_live.config import (
    DOTENV_MARK,
    VARIABLES,
    apply_dotenv,
    describe_sources,
    normalise_base_url,
    pick_with_source,
    read_dotenv,
    resolve,
    setting_sources,
    settings_line,
)
from tfy_live.errors import ConfigError

TARGET = {"TFY_API_KEY": "k-123", "TFY_BASE_URL": "https://gw.example.com/api/llm", "TFY_LIVE_PROVIDER": "acct"}

# URL-ish text: the pieces a pasted URL is made of, and anything at all.
url_pieces = st.sampled_from(["https://", "http://", "wss://", "ftp://", "//", "gw.example.com", "[::1]", "[", "]",
                              ":", ":8443", ":99999", "@", "user:pw@", "/", "/api/llm", "/live/acct", "?", "#", "%2F",
                              " ", "\t", "\x1b", "${TFY_API_KEY}", "é", "\\"])
urls = st.lists(url_pieces, max_size=8).map("".join) | st.text(max_size=40)
values = st.none() | st.text(max_size=20) | st.sampled_from(["", " ", "vertex", "v1alpha", "Puck", "nan", "1e9", "5"])


@settings(max_examples=400, deadline=None)
@given(urls)
@example("https://user:secret@gw.example.com/api/llm")
@example("https://gw.example.com/api/llm/#")
@example("https://[::1/api")
@example("https://[user:pw@[::1]")  # found by this test: urlsplit's error quoted the password
def test_any_base_url_accepted_is_https_without_credentials_and_already_normalised(raw):
    try:
        url = normalise_base_url(raw)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        if "@" in raw:
            assert "secret" not in str(exc) and "user:pw" not in str(exc)  # the refusal never echoes a password
        return
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.hostname
    assert parts.username is None and parts.password is None and "@" not in parts.netloc
    assert not parts.query and not parts.fragment and "?" not in url and "#" not in url
    assert not url.endswith("/") and "/live/" not in parts.path + "/"
    assert url.isprintable() and not any(c.isspace() for c in url)
    assert normalise_base_url(url) == url


@pytest.mark.parametrize("raw", ["https://user:pw@gw.example.com/api/llm", "https://tok@gw.example.com",
                                 "wss://:pw@gw.example.com:8443/api/llm", "https://u:p/w@gw.example.com"])
def test_credentials_in_the_base_url_are_refused_naming_the_key_variable_without_echoing_them(raw):
    with pytest.raises(ConfigError) as caught:
        resolve({"base_url": raw}, TARGET)
    message = str(caught.value)
    assert "TFY_API_KEY" in message or "invalid port" in message
    assert "pw" not in message and "tok" not in message and "p/w" not in message


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(VARIABLES)), values),
       st.dictionaries(st.sampled_from([v for v, _ in VARIABLES.values()]), st.text(max_size=20)),
       st.booleans())
@example({}, {"TFY_CA_BUNDLE": "~0"}, False)  # found by this test: "~user" for a user the machine lacks
def test_resolve_never_raises_anything_but_a_config_error(flags, environ, need_target):
    try:
        s = resolve(flags, environ, need_target=need_target)
    except ConfigError as exc:
        assert "\n" not in str(exc) and exc.exit_code == 2
        return
    assert set(s.sources) == set(VARIABLES)
    if need_target:
        assert urlsplit(s.base_url).scheme == "https" and "@" not in urlsplit(s.base_url).netloc


setting_values = st.text(min_size=1, max_size=10).filter(lambda v: v.strip() != "")


@given(st.sampled_from(sorted(VARIABLES)), st.none() | setting_values, st.none() | setting_values,
       st.none() | setting_values)
def test_a_flag_beats_the_environment_beats_dotenv_beats_the_default_for_every_setting(name, flag, env, dotenv):
    variable, default = VARIABLES[name]
    environ = {} if env is None else {variable: env}
    apply_dotenv({} if dotenv is None else {variable: dotenv}, environ)
    value, source = pick_with_source(name, {} if flag is None else {name: flag}, environ)
    expected = next(((v.strip(), s) for v, s in ((flag, "flag"), (env, "environment"), (dotenv, ".env"))
                     if v is not None), (default, "default"))
    assert (value, source) == expected


@pytest.mark.parametrize("name, variable, flag, env, dotenv", [
    ("base_url", "TFY_BASE_URL", "https://flag.example.com", "https://env.example.com", "https://dotenv.example.com"),
    ("model", "TFY_LIVE_MODEL", "m-flag", "m-env", "m-dotenv"),
    ("voice", "TFY_LIVE_VOICE", "Puck", "Kore", "Charon"),
    ("api_version", "TFY_LIVE_API_VERSION", "v1alpha", "v1", "v1beta"),
    ("setup_timeout", "TFY_LIVE_SETUP_TIMEOUT", 5.0, "6", "7"),
])
def test_resolve_records_where_each_setting_came_from(name, variable, flag, env, dotenv):
    base = {k: v for k, v in TARGET.items() if k != variable}
    for flags, environ, source in (({name: flag}, {**base, variable: env}, "flag"),
                                   ({}, {**base, variable: env}, "environment"),
                                   ({}, base, ".env"), ({}, base, "default")):
        environ = dict(environ)
        if source != "default":
            apply_dotenv({variable: dotenv}, environ)
        assert resolve(flags, environ, need_target=source != "default").sources[name] == source
        assert setting_sources(flags, environ)[name] == source


def test_dotenv_values_are_not_interpolated(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("TFY_LIVE_SYSTEM=Be brief. ${TFY_API_KEY}\nTFY_BASE_URL=https://${TFY_API_KEY}@gw/api\n"
                        "TFY_LIVE_VOICE=$TFY_API_KEY\n")
    values = read_dotenv(env_file)
    assert values["TFY_LIVE_SYSTEM"] == "Be brief. ${TFY_API_KEY}"
    assert values["TFY_BASE_URL"] == "https://${TFY_API_KEY}@gw/api"
    assert values["TFY_LIVE_VOICE"] == "$TFY_API_KEY"


def test_apply_dotenv_remembers_what_it_set_and_replaces_an_inherited_note():
    environ = {"TFY_API_KEY": "from-env", DOTENV_MARK: "TFY_LIVE_MODEL"}
    applied = apply_dotenv({"TFY_API_KEY": "from-dotenv", "TFY_BASE_URL": "https://gw", "TFY_CA_BUNDLE": "ca.pem",
                            DOTENV_MARK: "TFY_API_KEY", "OTHER": "x"}, environ)
    assert applied == {"TFY_BASE_URL", "TFY_CA_BUNDLE"}
    assert environ[DOTENV_MARK] == "TFY_BASE_URL TFY_CA_BUNDLE"
    apply_dotenv({}, environ)
    assert DOTENV_MARK not in environ


def test_the_sources_are_told_in_one_line_and_the_debug_line_shows_no_key(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here\n")
    environ = {"TFY_API_KEY": "k-secret-123"}
    apply_dotenv({"TFY_BASE_URL": "https://gw.example.com/api/llm", "TFY_CA_BUNDLE": str(ca)}, environ)
    s = resolve({"provider": "acct"}, environ)
    assert describe_sources(s.sources) == ("flag: provider · environment: key · .env: base URL, CA bundle · "
                                           "default: model, voice, provider kind, API version, setup timeout")
    line = settings_line(s)
    assert "base URL https://gw.example.com/api/llm (.env)" in line and f"CA bundle {ca} (.env)" in line
    assert "key *** (environment)" in line and "k-secret-123" not in line
    assert "k-secret-123" not in repr(s)
