import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_run import clean_env
from tests.timing import SECOND
from tfy_live.config import apply_dotenv, read_dotenv, resolve
from tfy_live.errors import ConfigError

TARGET = {"TFY_API_KEY": "k-123", "TFY_BASE_URL": "https://gw.example.com/api/llm", "TFY_LIVE_PROVIDER": "acct"}


def test_defaults():
    s = resolve({}, TARGET)
    assert (s.model, s.voice, s.provider_kind, s.api_version) == ("gemini-live-2.5-flash", "Zephyr", "gemini", "v1beta")
    assert s.ca_bundle is None


@pytest.mark.parametrize("name, variable, flag, env, dotenv", [
    ("model", "TFY_LIVE_MODEL", "m-flag", "m-env", "m-dotenv"),
    ("voice", "TFY_LIVE_VOICE", "Puck", "Kore", "Charon"),
    ("provider", "TFY_LIVE_PROVIDER", "p-flag", "p-env", "p-dotenv"),
    ("provider_kind", "TFY_LIVE_PROVIDER_KIND", "vertex", "gemini", "gemini"),
    ("api_version", "TFY_LIVE_API_VERSION", "v1alpha", "v1", "v1beta"),
])
def test_precedence_is_flag_then_environment_then_dotenv_then_default(name, variable, flag, env, dotenv):
    base = {k: v for k, v in TARGET.items() if k != variable}

    def settings(flags, environ, dotenv):
        environ = dict(environ)
        apply_dotenv(dotenv, environ)
        return resolve(flags, environ)

    assert getattr(settings({name: flag}, {**base, variable: env}, {variable: dotenv}), name) == flag
    assert getattr(settings({}, {**base, variable: env}, {variable: dotenv}), name) == env
    assert getattr(settings({}, base, {variable: dotenv}), name) == dotenv


def test_dotenv_supplies_the_key_and_url(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("# gateway\nTFY_API_KEY=from-dotenv\nTFY_BASE_URL='https://gw.example.com/api/llm/'\n")
    environ = {"TFY_API_KEY": "from-env", "GOOGLE_API_KEY": "g"}
    env_file.write_text(env_file.read_text() + "GOOGLE_CLOUD_PROJECT=p\n")
    apply_dotenv(read_dotenv(env_file), environ)
    s = resolve({"provider": "acct"}, environ)
    assert s.api_key == "from-env" and s.base_url == "https://gw.example.com/api/llm"
    assert "GOOGLE_CLOUD_PROJECT" not in environ  # only TFY_* variables come from .env
    assert read_dotenv(tmp_path / "absent") == {}


def test_the_key_never_shows_in_repr():
    assert "k-123" not in repr(resolve({}, TARGET))


def test_voice_is_case_insensitive_and_model_prefix_is_dropped():
    s = resolve({"voice": "puck", "model": "models/gemini-2.0-flash-live-001"}, TARGET)
    assert s.voice == "Puck" and s.model == "gemini-2.0-flash-live-001"


@pytest.mark.parametrize("raw, expected", [
    ("https://gw.example.com/api/llm", "https://gw.example.com/api/llm"),
    ("https://gw.example.com/api/llm/", "https://gw.example.com/api/llm"),
    ("wss://gw.example.com:8443/api/llm", "https://gw.example.com:8443/api/llm"),
    ("  https://gw.example.com  ", "https://gw.example.com"),
])
def test_base_url_is_normalised(raw, expected):
    assert resolve({"base_url": raw}, TARGET).base_url == expected


@pytest.mark.parametrize("flags, env, message", [
    ({}, {"TFY_API_KEY": ""}, r"no API key: set TFY_API_KEY"),
    ({}, {"TFY_API_KEY": "a b"}, r"TFY_API_KEY contains spaces"),
    ({}, {"TFY_BASE_URL": ""}, r"no gateway URL: set TFY_BASE_URL=https://<control-plane>/api/llm"),
    ({}, {"TFY_BASE_URL": "gw.example.com"}, r"TFY_BASE_URL must be a URL such as https://"),
    ({}, {"TFY_BASE_URL": "ftp://gw.example.com"}, r"TFY_BASE_URL must be a URL"),
    ({}, {"TFY_BASE_URL": "https://gw.example.com:99999"}, r"invalid port"),
    ({}, {"TFY_BASE_URL": "https://gw.example.com/api/llm?x=1"}, r"must not carry a query"),
    ({}, {"TFY_BASE_URL": "https://gw.example.com/api/llm/live/acct"},
     r"without /live/…: use https://gw.example.com/api/llm and pass the account with --provider"),
    ({}, {"TFY_LIVE_PROVIDER": ""}, r"no provider account: pass --provider NAME or set TFY_LIVE_PROVIDER"),
    ({"provider": "a/b"}, {}, r"provider account 'a/b' is not a valid name"),
    ({"provider_kind": "bedrock"}, {}, r"provider kind must be one of gemini, vertex, openai, azure"),
    ({"provider_kind": "openai", "voice": "Puck"}, {},
     r"unknown voice 'Puck' for provider kind openai; choose one of: marin, cedar, alloy"),
    ({"api_version": "beta"}, {}, r"API version must look like v1"),
    ({"model": "a model"}, {}, r"model name 'a model' is not valid"),
    # The SDK refuses these only when connecting, as a ValueError that read as the server's fault.
    ({"model": "gemini..x"}, {}, r"model name 'gemini\.\.x' is not valid: a model name has no '\.\.', '\?' or '&'"),
    ({"model": "a?b"}, {}, r"model name 'a\?b' is not valid"),
    ({"model": "x&y"}, {}, r"model name 'x&y' is not valid"),
    ({"model": "x\x00y"}, {}, r"is not valid"),
    ({"model": ""}, {}, r"--model is empty; pass --model with the model's name"),
    ({"model": "  "}, {}, r"--model is empty"),
    ({"voice": "Nobody"}, {}, r"unknown voice 'Nobody'; choose one of: Zephyr, Puck"),
    ({"ca_bundle": "/nonexistent/ca.pem"}, {}, r"CA bundle '/nonexistent/ca.pem' does not exist; point --ca-bundle"),
    # The working directory (the test's own): a directory is not "missing", it is the wrong kind of thing.
    ({"ca_bundle": "."}, {}, r"CA bundle '\.' is a directory; point --ca-bundle or TFY_CA_BUNDLE at the PEM file"),
    ({"ca_bundle": "/dev/null"}, {}, r"CA bundle '/dev/null' is not a regular file; point --ca-bundle"),
    # A name longer than the system allows (ENAMETOOLONG): Path.is_file raised it, a traceback (exit 1).
    ({"ca_bundle": "/" + "a" * 300}, {}, r"CA bundle '/a+' cannot be read \(File name too long\); point --ca-bundle"),
    ({"ca_bundle": "ca\x00.pem"}, {}, r"CA bundle 'ca\\x00\.pem' does not exist; point --ca-bundle"),
    # The bound at 0 is exclusive: "from 0 to 600" would invite the 0 that is refused.
    ({"setup_timeout": 0.0}, {}, r"setup timeout must be a number of seconds greater than 0 and at most 600 "
                                 r"\(got 0\.0\); fix --setup-timeout"),
    ({}, {"TFY_LIVE_SETUP_TIMEOUT": "601"}, r"greater than 0 and at most 600 \(got '601'\)"),
])
def test_every_settings_error_names_the_fix(flags, env, message):
    with pytest.raises(ConfigError, match=message) as caught:
        resolve(flags, {**TARGET, **env})
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_an_empty_model_variable_is_not_given_but_an_empty_flag_is_refused():
    assert resolve({}, {**TARGET, "TFY_LIVE_MODEL": ""}).model == "gemini-live-2.5-flash"
    with pytest.raises(ConfigError, match="--model is empty"):
        resolve({"model": ""}, {}, need_target=False)


def test_local_needs_no_target():
    s = resolve({}, {}, need_target=False)
    assert s.api_key == "" and s.provider == ""


# -- the suite against the machine it runs on (tests/conftest.py) ---------------------------------------------

# It expects "no API key" (exit 2): with the key of a developer's .env it tried to connect (exit 3),
# as did test_chat's and test_cli's tests of a missing key.
NEEDS_NO_KEY = "tests/test_doctor.py::test_unresolvable_host_and_missing_settings"


def test_a_developer_s_dotenv_changes_no_test_s_outcome(pytester: pytest.Pytester, request: pytest.FixtureRequest):
    # A developer runs the suite from the directory that holds their .env (.env.example says
    # to create it where tfy-live runs): here a stand-in for that directory, which pytester
    # also makes HOME. The key's "gateway" is a closed port on this machine.
    (pytester.path / ".env").write_text("TFY_API_KEY=a-developer-s-real-key\n"
                                        "TFY_BASE_URL=https://127.0.0.1:9/api/llm\nTFY_LIVE_PROVIDER=their-account\n")
    test = str(request.config.rootpath / NEEDS_NO_KEY)
    result = pytester.runpytest_subprocess(test, "-p", "no:cacheprovider", timeout=120 * SECOND)
    result.assert_outcomes(passed=1)


def test_a_test_and_its_subprocesses_have_a_working_directory_and_home_of_their_own(
        request: pytest.FixtureRequest):
    code = "import os, pathlib; print(os.getcwd(), pathlib.Path.home(), os.environ.get('XDG_CONFIG_HOME', ''), sep='\\n')"
    seen = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True,
                          timeout=60 * SECOND, check=True).stdout.splitlines()
    cwd, home, config = map(Path, seen)
    assert (cwd, home) == (Path.cwd(), Path.home())
    assert cwd != request.config.invocation_params.dir and home != Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert config.is_relative_to(home)
    assert not any(cwd.iterdir()) and not any(home.iterdir())  # empty: nothing of a developer's in either
