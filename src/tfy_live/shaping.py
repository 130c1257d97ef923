"""How the model is asked to behave: system prompt, language, sampling, voice
detection, push-to-talk and the native-audio features. Pure and SDK-free;
``gateway.build_config`` turns it into the SDK's ``LiveConnectConfig``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tfy_live.errors import ConfigError
from tfy_live.events import ToolSpec

Sensitivity = Literal["high", "low"]
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class ModelOptions:
    system: str | None = None
    language: str | None = None  # BCP-47, e.g. en-US
    temperature: float | None = None
    vad_start: Sensitivity | None = None  # how readily the server decides the user started speaking
    vad_end: Sensitivity | None = None  # how readily it decides the user stopped
    vad_silence_ms: int | None = None  # silence that ends the user's turn
    vad_prefix_ms: int | None = None  # speech needed before a start is committed
    push_to_talk: bool = False  # automatic activity detection off; the client marks the user's turn
    affective_dialog: bool = False
    proactive_audio: bool = False
    thinking_budget: int | None = None
    google_search: bool = False
    code_execution: bool = False  # the model may write and run code on the server
    tools: tuple[ToolSpec, ...] = ()  # functions the model may call (tools.catalog.specs)
    modality: Literal["audio", "text"] = "audio"
    compression: bool = True  # a sliding context window, so a session can run for an hour
    compression_trigger_tokens: int | None = None  # None: the server's default (80% of the context window)
    compression_target_tokens: int | None = None  # None: the server's default (half the trigger)


def model_options(
    *,
    system: str | None = None,
    system_file: Path | None = None,
    language: str | None = None,
    temperature: float | None = None,
    vad_start: str | None = None,
    vad_end: str | None = None,
    vad_silence_ms: int | None = None,
    vad_prefix_ms: int | None = None,
    push_to_talk: bool = False,
    affective_dialog: bool = False,
    proactive_audio: bool = False,
    thinking_budget: int | None = None,
    google_search: bool = False,
    code_execution: bool = False,
    modality: str = "audio",
    compression: bool = True,
    compression_trigger_tokens: int | None = None,
    compression_target_tokens: int | None = None,
) -> ModelOptions:
    """Validated options, or a ConfigError naming the fix."""
    if system and system_file:
        raise ConfigError("give the system prompt once: --system TEXT or --system-file FILE, not both")
    if system_file is not None:
        try:
            system = system_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise ConfigError(f"cannot read --system-file {str(system_file)!r}: {reason}; give a readable text file") from exc
        if not system:
            raise ConfigError(f"--system-file {str(system_file)!r} is empty; write the system prompt in it")
    if language is not None and not _LANGUAGE.match(language):
        raise ConfigError(f"--language {language!r} is not a BCP-47 code; use e.g. en-US, de-DE, hi-IN")
    if temperature is not None and not 0.0 <= temperature <= 2.0:
        raise ConfigError(f"--temperature {temperature} is out of range; use a value from 0.0 to 2.0")
    sensitivities = {"--vad-start": vad_start, "--vad-end": vad_end}
    for flag, value in sensitivities.items():
        if value is not None and value.lower() not in ("high", "low"):
            raise ConfigError(f"{flag} must be 'high' or 'low' (got {value!r})")
    if push_to_talk and any(v is not None for v in (vad_start, vad_end, vad_silence_ms, vad_prefix_ms)):
        raise ConfigError("--push-to-talk turns the server's voice detection off; drop the --vad-* options")
    if compression_trigger_tokens is not None and compression_target_tokens is not None \
            and compression_target_tokens >= compression_trigger_tokens:
        raise ConfigError(f"--compression-target ({compression_target_tokens}) must be below --compression-trigger "
                          f"({compression_trigger_tokens}): the window shrinks to the target when it reaches the trigger")
    if not compression and (compression_trigger_tokens is not None or compression_target_tokens is not None):
        raise ConfigError("--no-compression turns the sliding window off; drop --compression-trigger/--compression-target")
    if modality not in ("audio", "text"):
        raise ConfigError(f"--modality must be 'audio' or 'text' (got {modality!r})")
    return ModelOptions(
        system=system or None,
        language=language,
        temperature=temperature,
        vad_start=vad_start.lower() if vad_start else None,  # type: ignore[arg-type]
        vad_end=vad_end.lower() if vad_end else None,  # type: ignore[arg-type]
        vad_silence_ms=vad_silence_ms,
        vad_prefix_ms=vad_prefix_ms,
        push_to_talk=push_to_talk,
        affective_dialog=affective_dialog,
        proactive_audio=proactive_audio,
        thinking_budget=thinking_budget,
        google_search=google_search,
        code_execution=code_execution,
        modality=modality,  # type: ignore[arg-type]
        compression=compression,
        compression_trigger_tokens=compression_trigger_tokens,
        compression_target_tokens=compression_target_tokens,
    )
