"""Settings, resolved once: command-line flag, then environment, then ``.env``, then default.

``apply_dotenv`` copies the ``TFY_*`` variables of ``./.env`` into the
environment where the environment does not already set them (so the
environment wins), once, before the command line is parsed, and notes their
names in ``TFY_LIVE_FROM_DOTENV``; from then on every option is read as flag,
then environment, then default — by Typer (``envvar=``, shown in ``--help``)
for the audio options, and by ``resolve`` for the connection settings.
``read_dotenv`` takes each value as written: ``${VAR}`` is not expanded, or a
``.env`` line could copy the API key into any other setting.

``resolve`` is pure: flags and environment in, one frozen ``Settings`` (or a
``ConfigError`` whose message names the fix) out, with ``sources`` saying where
each setting came from: ``flag``, ``environment``, ``.env`` or ``default``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

from tfy_live.errors import ConfigError
from tfy_live.voices import DEFAULT_VOICE, default_voice, resolve_voice

# gemini and vertex speak the Gemini Live protocol (google-genai, ``gateway``); openai and azure speak OpenAI's
# realtime protocol (the openai SDK, ``gateway_openai``). All four sit on the gateway's /live/<account> path.
PROVIDER_KINDS = ("gemini", "vertex", "openai", "azure")
DEFAULT_MODEL = "gemini-live-2.5-flash"
DEFAULT_MODELS = {"gemini": DEFAULT_MODEL, "vertex": DEFAULT_MODEL, "openai": "gpt-realtime", "azure": "gpt-realtime"}
DEFAULT_API_VERSION = "v1beta"
MAX_SETUP_TIMEOUT_S = 600  # seconds: --setup-timeout's upper bound

# Setting name -> (environment variable, default).
VARIABLES: dict[str, tuple[str, Any]] = {
    "api_key": ("TFY_API_KEY", None),
    "base_url": ("TFY_BASE_URL", None),
    "provider": ("TFY_LIVE_PROVIDER", None),
    "model": ("TFY_LIVE_MODEL", DEFAULT_MODEL),
    "voice": ("TFY_LIVE_VOICE", DEFAULT_VOICE),
    "provider_kind": ("TFY_LIVE_PROVIDER_KIND", "gemini"),
    "api_version": ("TFY_LIVE_API_VERSION", DEFAULT_API_VERSION),
    "ca_bundle": ("TFY_CA_BUNDLE", None),
    "setup_timeout": ("TFY_LIVE_SETUP_TIMEOUT", 20.0),
}

# Set by apply_dotenv: the variables that came from .env, so a source can say ".env", not "environment".
DOTENV_MARK = "TFY_LIVE_FROM_DOTENV"
SOURCES = ("flag", "environment", ".env", "default")
# How doctor and --debug name each setting.
LABELS = {"api_key": "key", "base_url": "base URL", "provider": "provider", "model": "model", "voice": "voice",
          "provider_kind": "provider kind", "api_version": "API version", "ca_bundle": "CA bundle",
          "setup_timeout": "setup timeout"}

_API_VERSION = re.compile(r"^v\d+(?:(?:alpha|beta)\d*)?$")
_PROVIDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def env_name(setting: str) -> str:
    return VARIABLES[setting][0]


@dataclass(frozen=True)
class Settings:
    """Where to connect and as whom. ``api_key`` never appears in ``repr``."""

    api_key: str = field(repr=False)
    base_url: str  # normalised: https://host[:port]/path, no trailing slash
    provider: str
    model: str = DEFAULT_MODEL
    voice: str = DEFAULT_VOICE
    provider_kind: str = "gemini"
    api_version: str = DEFAULT_API_VERSION
    ca_bundle: Path | None = None
    setup_timeout_s: float = 20.0  # how long to wait for setupComplete
    # Setting name (as in VARIABLES) -> where its value came from (one of SOURCES).
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def with_target(self, **changes: Any) -> "Settings":
        return replace(self, **changes)


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables of a ``.env`` file; an absent file is empty, a broken one a ConfigError."""
    if not path.is_file():
        return {}
    try:
        from dotenv import dotenv_values

        # interpolate=False: "${TFY_API_KEY}" in another value stays those characters.
        return {k: v for k, v in dotenv_values(path, interpolate=False, encoding="utf-8").items() if v is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}; fix or remove the file") from exc


def apply_dotenv(dotenv: Mapping[str, str], environ: "os._Environ[str] | dict[str, str]") -> set[str]:
    """Fill unset ``TFY_*`` variables of ``environ`` from a ``.env`` file's contents; the names filled.

    The names are also left in ``environ[DOTENV_MARK]`` (replacing any inherited one), where
    ``resolve`` finds them wherever the environment is passed.
    """
    applied = {key for key in dotenv if key.startswith("TFY_") and key != DOTENV_MARK and key not in environ}
    for key in applied:
        environ[key] = dotenv[key]
    environ.pop(DOTENV_MARK, None)
    if applied:
        environ[DOTENV_MARK] = " ".join(sorted(applied))
    return applied


def from_dotenv(environ: Mapping[str, str]) -> frozenset[str]:
    """The variables of ``environ`` that ``apply_dotenv`` took from ``.env``."""
    return frozenset(environ.get(DOTENV_MARK, "").split())


def _given(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def pick_with_source(name: str, flags: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[Any, str]:
    """One setting by precedence — flag, environment (``.env`` already merged), default — and where it came from."""
    variable, default = VARIABLES[name]
    if _given(value := flags.get(name)):
        return (value.strip() if isinstance(value, str) else value), "flag"
    if _given(value := environ.get(variable)):
        return str(value).strip(), ".env" if variable in from_dotenv(environ) else "environment"
    return default, "default"


def pick(name: str, flags: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    """One setting by precedence: flag, environment (``.env`` already merged), default."""
    return pick_with_source(name, flags, environ)[0]


def setting_sources(flags: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Where each setting comes from (flag, environment, .env, default), whether or not it is valid."""
    return {name: pick_with_source(name, flags, environ)[1] for name in VARIABLES}


def describe_sources(sources: Mapping[str, str]) -> str:
    """``from .env: base URL, CA bundle · environment: key · …``, in the order of SOURCES."""
    order = dict.fromkeys([*SOURCES, *sources.values()])  # then any other, such as the built-in gateway
    groups = [(source, [LABELS.get(name, name) for name, s in sources.items() if s == source]) for source in order]
    return " · ".join(f"{source}: {', '.join(names)}" for source, names in groups if names)


def normalise_base_url(raw: str) -> str:
    """``https://host/api/llm`` from what a user may paste (wss://, a trailing /, the /live/… suffix).

    Credentials in the URL are refused: the key goes in TFY_API_KEY only, sent as a Bearer
    header; a ``user:password@`` would be shown in the connecting line and sent as Basic auth.
    """
    variable = env_name("base_url")
    raw = raw.strip()
    if not raw.isprintable():  # urlsplit would quietly drop a tab or newline; the terminal would obey an ESC
        raise ConfigError(f"{variable} contains control characters; paste the gateway base URL again")
    shown = without_userinfo(raw)
    try:
        parts = urlsplit(raw)
    except ValueError as exc:  # an unbalanced [ or ] around an IPv6 address
        # Not urlsplit's own words: they quote the host part, a password included.
        raise ConfigError(f"{variable} is not a valid URL (its [ and ] around an IPv6 address do not pair up): "
                          f"{shown!r}; copy the AI Gateway base URL from the TrueFoundry console") from exc
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError as exc:
        raise ConfigError(f"{variable} has an invalid port: {shown!r}") from exc
    if "@" in parts.netloc:
        raise ConfigError(
            f"{variable} must not carry a user name or password (got {shown!r}); remove the 'user:password@' "
            f"part and put the TrueFoundry API key in {env_name('api_key')}"
        )
    if parts.scheme not in ("https", "http", "wss", "ws") or not parts.hostname:
        raise ConfigError(
            f"{variable} must be a URL such as https://<control-plane>/api/llm (got {shown!r}); "
            "copy the AI Gateway base URL from the TrueFoundry console"
        )
    if any(c.isspace() for c in raw):
        raise ConfigError(f"{variable} contains spaces (got {shown!r}); paste the gateway base URL again")
    if parts.query or parts.fragment:
        raise ConfigError(f"{variable} must not carry a query or fragment; use just https://<control-plane>/api/llm")
    path = parts.path.rstrip("/")
    if "/live/" in path + "/":
        raise ConfigError(
            f"{variable} should be the gateway base URL without /live/…: use "
            f"{urlunsplit(('https', parts.netloc, path.split('/live')[0], '', ''))} and pass the account with --provider"
        )
    return urlunsplit(("https", parts.netloc, path, "", ""))


def without_userinfo(url: str) -> str:
    """``url`` as it may be shown: everything between ``scheme://`` and the last ``@`` becomes ``***``.

    Wider than the URL's own idea of its user information (a password may hold a "/"): this is
    for error messages about a URL that is refused anyway.
    """
    scheme = _SCHEME.match(url)
    prefix = scheme[0] if scheme else ""
    rest = url[len(prefix):]
    return f"{prefix}***@{rest.rsplit('@', 1)[1]}" if "@" in rest else url


def model_name(flag: Any, value: Any) -> str:
    """The model's name as the SDK will take it, or a ConfigError before anything connects.

    ``--model ""`` is refused rather than read as "not given" (the default). The SDK
    itself refuses ``..``, ``?`` and ``&`` (which would change the request's path),
    but only once connecting, where its ValueError reads as the server's fault.
    """
    fix = "pass --model with the model's name in TrueFoundry, e.g. --model gemini-live-2.5-flash"
    if isinstance(flag, str) and not flag.strip():
        raise ConfigError(f"--model is empty; {fix}, or leave it out for the default ({DEFAULT_MODEL})")
    model = str(value).strip()
    for prefix in ("models/", "publishers/google/models/"):
        model = model.removeprefix(prefix)
    if not model or not model.isprintable() or any(c.isspace() or c == "/" for c in model):
        raise ConfigError(f"model name {value!r} is not valid; {fix}")
    if any(bad in model for bad in ("..", "?", "&")):
        raise ConfigError(f"model name {value!r} is not valid: a model name has no '..', '?' or '&'; {fix}")
    return model


def _not_a_file(path: Path) -> str | None:
    """What is wrong with ``path`` as a file to read ("does not exist", "is a directory"…), None when it is one.

    ``Path.is_file`` raises, rather than answering False, for a name too long (ENAMETOOLONG) or a folder that
    may not be searched (EACCES): a traceback for a mistyped --ca-bundle.
    """
    import stat

    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL in the name
        return "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    return "is a directory" if stat.S_ISDIR(mode) else "is not a regular file"


def resolve(
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    need_target: bool = True,
) -> Settings:
    """The settings, or a ConfigError naming the first problem and its fix.

    With ``need_target=False`` (the built-in local gateway supplies them) the
    key, URL and provider may be absent.
    """
    value = {name: pick(name, flags, environ) for name in VARIABLES}
    sources = setting_sources(flags, environ)

    kind = str(value["provider_kind"]).lower()
    if kind not in PROVIDER_KINDS:
        raise ConfigError(
            f"provider kind must be one of {', '.join(PROVIDER_KINDS)} (got {value['provider_kind']!r}); "
            f"set --provider-kind or {env_name('provider_kind')}"
        )
    # The model and voice, when not given, are the kind's own: a Gemini voice means nothing to OpenAI.
    if sources["model"] == "default":
        value["model"] = DEFAULT_MODELS[kind]
    if sources["voice"] == "default":
        value["voice"] = default_voice(kind)
    api_version = str(value["api_version"])
    if not _API_VERSION.match(api_version):
        raise ConfigError(f"API version must look like v1, v1beta or v1alpha (got {api_version!r}); fix --api-version")
    model = model_name(flags.get("model"), value["model"])
    voice = resolve_voice(str(value["voice"]), kind)

    ca_bundle = None
    if value["ca_bundle"]:
        try:
            ca_bundle = Path(str(value["ca_bundle"])).expanduser()
        except RuntimeError:  # "~name" for a user this machine does not know
            raise ConfigError(
                f"CA bundle {str(value['ca_bundle'])!r} names a home directory this machine does not have; "
                f"give --ca-bundle or {env_name('ca_bundle')} a full path"
            ) from None
        what = _not_a_file(ca_bundle)
        if what is not None:
            raise ConfigError(
                f"CA bundle {str(ca_bundle)!r} {what}; point --ca-bundle or "
                f"{env_name('ca_bundle')} at the PEM file of your gateway's certificate authority"
            )

    try:
        setup_timeout = float(value["setup_timeout"])
    except (TypeError, ValueError):
        setup_timeout = -1.0
    if not 0 < setup_timeout <= MAX_SETUP_TIMEOUT_S:
        # 0 itself is refused (no time to answer), so not "from 0 to 600".
        raise ConfigError(f"setup timeout must be a number of seconds greater than 0 and at most "
                          f"{MAX_SETUP_TIMEOUT_S} "
                          f"(got {value['setup_timeout']!r}); "
                          f"fix --setup-timeout or {env_name('setup_timeout')}")

    api_key = value["api_key"] or ""
    base_url = value["base_url"] or ""
    provider = value["provider"] or ""
    if need_target:
        if not api_key:
            raise ConfigError(
                f"no API key: set {env_name('api_key')} to your TrueFoundry API key "
                "(or put it in .env), or try the built-in gateway with --local"
            )
        if any(c.isspace() for c in api_key) or not api_key.isprintable():
            raise ConfigError(f"{env_name('api_key')} contains spaces or control characters; paste the key again")
        if not base_url:
            raise ConfigError(
                f"no gateway URL: set {env_name('base_url')}=https://<control-plane>/api/llm "
                "(the AI Gateway base URL), or try the built-in gateway with --local"
            )
        base_url = normalise_base_url(str(base_url))
        if not provider:
            raise ConfigError(
                f"no provider account: pass --provider NAME or set {env_name('provider')} "
                "(the provider account's name in TrueFoundry)"
            )
        if not _PROVIDER.match(str(provider)):
            raise ConfigError(
                f"provider account {provider!r} is not a valid name; pass the account's display name "
                "from TrueFoundry, e.g. --provider gemini-acct"
            )
    return Settings(
        api_key=str(api_key),
        base_url=str(base_url),
        provider=str(provider),
        model=model,
        voice=voice,
        provider_kind=kind,
        api_version=api_version,
        ca_bundle=ca_bundle,
        setup_timeout_s=setup_timeout,
        sources=sources,
    )


def settings_line(settings: Settings) -> str:
    """Each setting's value and where it came from, on one line (for --debug; the key as ``***``)."""
    values = {
        "api_key": "***" if settings.api_key else "(none)", "base_url": settings.base_url or "(none)",
        "provider": settings.provider or "(none)", "model": settings.model, "voice": settings.voice,
        "provider_kind": settings.provider_kind, "api_version": settings.api_version,
        "ca_bundle": str(settings.ca_bundle) if settings.ca_bundle else "(none: SSL_CERT_FILE or the system store)",
        "setup_timeout": f"{settings.setup_timeout_s:g} s",
    }
    return " · ".join(f"{LABELS[name]} {value} ({settings.sources.get(name, 'default')})" for name, value in values.items())
