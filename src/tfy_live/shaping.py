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


# The ranges the settings accept; the CLI's usage error for nan or inf names them too.
TEMPERATURE = (0.0, 2.0)
VAD_THRESHOLD = (0.0, 1.0)


def span(bounds: tuple[float, float]) -> str:
    """``0.0 to 2.0``: a range as the messages say it."""
    return f"{bounds[0]} to {bounds[1]}"


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
    # OpenAI's realtime kinds (openai, azure): which voice detection the server runs, and its knobs.
    turn_detection: Literal["server", "semantic"] | None = None  # None: server (server_vad)
    vad_threshold: float | None = None  # server_vad: how loud speech must be, 0.0-1.0
    eagerness: Literal["low", "medium", "high", "auto"] | None = None  # semantic_vad: how soon it answers


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
    turn_detection: str | None = None,
    vad_threshold: float | None = None,
    eagerness: str | None = None,
    kind: str | None = None,
) -> ModelOptions:
    """Validated options, or a ConfigError naming the fix.

    With ``kind`` (the provider kind), an option that kind does not read is refused first: the checks of
    how options combine suggest options of one family (``add --turn-detection semantic``), which would be
    the wrong fix for the other.
    """
    if kind is not None:
        _check_family({"vad_start": vad_start, "vad_end": vad_end, "temperature": temperature,
                       "affective_dialog": affective_dialog, "proactive_audio": proactive_audio,
                       "thinking_budget": thinking_budget, "google_search": google_search,
                       "code_execution": code_execution, "compression_trigger_tokens": compression_trigger_tokens,
                       "compression_target_tokens": compression_target_tokens, "compression": compression,
                       "turn_detection": turn_detection, "vad_threshold": vad_threshold, "eagerness": eagerness},
                      kind)
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
    if temperature is not None and not TEMPERATURE[0] <= temperature <= TEMPERATURE[1]:
        raise ConfigError(f"--temperature {temperature} is out of range; use a value from "
                          f"{span(TEMPERATURE)}")
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
    if turn_detection is not None and turn_detection.lower() not in ("server", "semantic"):
        raise ConfigError(f"--turn-detection must be 'server' or 'semantic' (got {turn_detection!r})")
    if vad_threshold is not None and not VAD_THRESHOLD[0] <= vad_threshold <= VAD_THRESHOLD[1]:
        raise ConfigError(f"--vad-threshold {vad_threshold} is out of range; use a value from "
                          f"{span(VAD_THRESHOLD)}")
    if eagerness is not None and eagerness.lower() not in ("low", "medium", "high", "auto"):
        raise ConfigError(f"--eagerness must be low, medium, high or auto (got {eagerness!r})")
    semantic = (turn_detection or "").lower() == "semantic"
    if semantic and (vad_threshold is not None or vad_silence_ms is not None or vad_prefix_ms is not None):
        raise ConfigError("--vad-threshold, --vad-silence-ms and --vad-prefix-ms tune server voice detection; drop "
                          "them or --turn-detection semantic")
    if eagerness is not None and not semantic:
        raise ConfigError("--eagerness tunes semantic voice detection: add --turn-detection semantic")
    if push_to_talk and (turn_detection is not None or vad_threshold is not None or eagerness is not None):
        raise ConfigError("--push-to-talk turns the server's voice detection off; drop --turn-detection, "
                          "--vad-threshold and --eagerness")
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
        turn_detection=turn_detection.lower() if turn_detection else None,  # type: ignore[arg-type]
        vad_threshold=vad_threshold,
        eagerness=eagerness.lower() if eagerness else None,  # type: ignore[arg-type]
    )


# The options that only one family of provider kinds reads, by field: the other family would ignore them, so
# tfy-live refuses them there rather than let the user believe they took effect (README: "Options per kind").
GEMINI_ONLY = {"vad_start": "--vad-start", "vad_end": "--vad-end", "temperature": "--temperature",
               "affective_dialog": "--affective-dialog", "proactive_audio": "--proactive-audio",
               "thinking_budget": "--thinking-budget", "google_search": "--google-search",
               "code_execution": "--code-execution", "compression_trigger_tokens": "--compression-trigger",
               "compression_target_tokens": "--compression-target"}
OPENAI_ONLY = {"turn_detection": "--turn-detection", "vad_threshold": "--vad-threshold", "eagerness": "--eagerness"}


def check_kind(options: ModelOptions, kind: str) -> None:
    """A ConfigError naming the first option given that provider kind ``kind`` does not read."""
    _check_family({name: getattr(options, name) for name in (*GEMINI_ONLY, *OPENAI_ONLY, "compression")}, kind)


def _check_family(given: dict[str, object], kind: str) -> None:
    openai = kind in ("openai", "azure")
    foreign = GEMINI_ONLY if openai else OPENAI_ONLY
    for field, flag in foreign.items():
        if given.get(field) not in (None, False):
            family = "gemini and vertex" if openai else "openai and azure"
            raise ConfigError(f"{flag} applies to the {family} provider kinds only (this is {kind}); drop it, or "
                              "see the README's table of options per kind")
    if openai and given.get("compression") is False:
        raise ConfigError(f"--no-compression applies to the gemini and vertex provider kinds only (this is {kind}); "
                          "drop it")
