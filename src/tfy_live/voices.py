"""The prebuilt voices per provider kind: Gemini's Live models (gemini, vertex) and OpenAI's realtime models (openai, azure)."""

from __future__ import annotations

from tfy_live.errors import ConfigError

# Name -> the one-word character Google gives each voice, and a line on how it sounds.
VOICES: dict[str, str] = {
    "Zephyr": "Bright — clear and lively, the default",
    "Puck": "Upbeat — energetic and playful",
    "Charon": "Informative — steady, explanatory",
    "Kore": "Firm — confident and direct",
    "Fenrir": "Excitable — animated and quick",
    "Leda": "Youthful — light and fresh",
    "Orus": "Firm — grounded and assured",
    "Aoede": "Breezy — relaxed and airy",
    "Callirrhoe": "Easy-going — calm and unhurried",
    "Autonoe": "Bright — crisp and optimistic",
    "Enceladus": "Breathy — soft and intimate",
    "Iapetus": "Clear — precise articulation",
    "Umbriel": "Easy-going — warm and casual",
    "Algieba": "Smooth — polished and even",
    "Despina": "Smooth — gentle and flowing",
    "Erinome": "Clear — clean and neutral",
    "Algenib": "Gravelly — textured and low",
    "Rasalgethi": "Informative — measured, newsreader-like",
    "Laomedeia": "Upbeat — cheerful and bouncy",
    "Achernar": "Soft — quiet and tender",
    "Alnilam": "Firm — strong and steady",
    "Schedar": "Even — balanced and level",
    "Gacrux": "Mature — seasoned and rich",
    "Pulcherrima": "Forward — bold and projecting",
    "Achird": "Friendly — approachable and kind",
    "Zubenelgenubi": "Casual — conversational and loose",
    "Vindemiatrix": "Gentle — soft-spoken and patient",
    "Sadachbia": "Lively — bright and spirited",
    "Sadaltager": "Knowledgeable — assured and expert",
    "Sulafat": "Warm — rounded and comforting",
}

DEFAULT_VOICE = "Zephyr"

# OpenAI's realtime voices (the same on Azure OpenAI), as the realtime API's session.audio.output.voice names them.
OPENAI_VOICES: dict[str, str] = {
    "marin": "Warm and natural — OpenAI's recommended voice, the default",
    "cedar": "Deep and natural — OpenAI's other recommended voice",
    "alloy": "Neutral and balanced",
    "ash": "Clear and precise",
    "ballad": "Melodic and smooth",
    "coral": "Warm and friendly",
    "echo": "Resonant and deep",
    "sage": "Calm and thoughtful",
    "shimmer": "Bright and energetic",
    "verse": "Versatile and expressive",
}
OPENAI_DEFAULT_VOICE = "marin"
OPENAI_KINDS = ("openai", "azure")  # the provider kinds that speak OpenAI's realtime protocol


def voices_for(kind: str) -> dict[str, str]:
    """The voices a provider kind offers."""
    return OPENAI_VOICES if kind in OPENAI_KINDS else VOICES


def default_voice(kind: str) -> str:
    return OPENAI_DEFAULT_VOICE if kind in OPENAI_KINDS else DEFAULT_VOICE


def resolve_voice(name: str, kind: str = "gemini") -> str:
    """The canonical spelling of ``name`` (case-insensitive) for ``kind``, or a ConfigError listing its voices."""
    voices = voices_for(kind)
    for voice in voices:
        if voice.lower() == name.strip().lower():
            return voice
    other = kind in OPENAI_KINDS
    raise ConfigError(
        f"unknown voice {name!r}{f' for provider kind {kind}' if other else ''}; choose one of: {', '.join(voices)} "
        f"(see `tfy-live voices{f' --provider-kind {kind}' if other else ''}`)"
    )
