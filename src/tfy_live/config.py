"""Settings, resolved once: command-line flag, then environment, then ``.env``, then default.

``apply_dotenv`` copies the ``TFY_*`` variables of ``./.env`` into the
environment where the environment does not already set them (so the
environment wins), once, before the command line is parsed; from then on every
option is read as flag, then environment, then default — by Typer
(``envvar=``, shown in ``--help``) for the audio options, and by ``resolve``
for the connection settings. ``resolve`` is pure: flags and environment in, one
frozen ``Settings`` (or a ``ConfigError`` whose message names the fix) out.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

from tfy_live.errors import ConfigError
from tfy_live.voices import DEFAULT_VOICE, resolve_voice

PROVIDER_KINDS = ("gemini", "vertex")
DEFAULT_MODEL = "gemini-live-2.5-flash"
DEFAULT_API_VERSION = "v1beta"

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

_API_VERSION = re.compile(r"^v\d+(?:(?:alpha|beta)\d*)?$")
_PROVIDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


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

        return {k: v for k, v in dotenv_values(path).items() if v is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}; fix or remove the file") from exc


def apply_dotenv(dotenv: Mapping[str, str], environ: "os._Environ[str] | dict[str, str]") -> None:
    """Fill unset ``TFY_*`` variables of ``environ`` from a ``.env`` file's contents."""
    for key, value in dotenv.items():
        if key.startswith("TFY_") and key not in environ:
            environ[key] = value


def pick(name: str, flags: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    """One setting by precedence: flag, environment (``.env`` already merged), default."""
    variable, default = VARIABLES[name]
    for value in (flags.get(name), environ.get(variable)):
        if value is not None and str(value).strip() != "":
            return value.strip() if isinstance(value, str) else value
    return default


def normalise_base_url(raw: str) -> str:
    """``https://host/api/llm`` from what a user may paste (wss://, a trailing /, the /live/… suffix)."""
    variable = env_name("base_url")
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("https", "http", "wss", "ws") or not parts.hostname:
        raise ConfigError(
            f"{variable} must be a URL such as https://<control-plane>/api/llm (got {raw.strip()!r}); "
            "copy the AI Gateway base URL from the TrueFoundry console"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{variable} must not carry a query or fragment; use just https://<control-plane>/api/llm")
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError as exc:
        raise ConfigError(f"{variable} has an invalid port: {raw.strip()!r}") from exc
    path = parts.path.rstrip("/")
    if "/live/" in path + "/":
        raise ConfigError(
            f"{variable} should be the gateway base URL without /live/…: use "
            f"{urlunsplit(('https', parts.netloc, path.split('/live')[0], '', ''))} and pass the account with --provider"
        )
    return urlunsplit(("https", parts.netloc, path, "", ""))


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

    kind = str(value["provider_kind"]).lower()
    if kind not in PROVIDER_KINDS:
        raise ConfigError(
            f"provider kind must be 'gemini' or 'vertex' (got {value['provider_kind']!r}); "
            f"set --provider-kind or {env_name('provider_kind')}"
        )
    api_version = str(value["api_version"])
    if not _API_VERSION.match(api_version):
        raise ConfigError(f"API version must look like v1, v1beta or v1alpha (got {api_version!r}); fix --api-version")
    model = str(value["model"]).strip()
    for prefix in ("models/", "publishers/google/models/"):
        model = model.removeprefix(prefix)
    if not model or any(c.isspace() or c == "/" for c in model):
        raise ConfigError(f"model name {value['model']!r} is not valid; pass --model with the model's name in TrueFoundry")
    voice = resolve_voice(str(value["voice"]))

    ca_bundle = None
    if value["ca_bundle"]:
        ca_bundle = Path(str(value["ca_bundle"])).expanduser()
        if not ca_bundle.is_file():
            raise ConfigError(
                f"CA bundle {str(ca_bundle)!r} does not exist; point --ca-bundle or "
                f"{env_name('ca_bundle')} at the PEM file of your gateway's certificate authority"
            )

    try:
        setup_timeout = float(value["setup_timeout"])
    except (TypeError, ValueError):
        setup_timeout = -1.0
    if not 0 < setup_timeout <= 600:
        raise ConfigError(f"setup timeout must be a number of seconds from 0 to 600 (got {value['setup_timeout']!r}); "
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
    )
