"""The prebuilt voices of Gemini's native-audio and half-cascade Live models."""

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


def resolve_voice(name: str) -> str:
    """The canonical spelling of ``name`` (case-insensitive), or a ConfigError listing the voices."""
    for voice in VOICES:
        if voice.lower() == name.strip().lower():
            return voice
    raise ConfigError(
        f"unknown voice {name!r}; choose one of: {', '.join(VOICES)} (see `tfy-live voices`)"
    )
