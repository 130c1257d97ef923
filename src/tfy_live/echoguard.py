"""What happens to the microphone while the model may be heard through the speaker.

``EchoGuard`` sits between the microphone and the wire (and is told what the
speaker plays). Pure logic around two optional parts, both given ready-made:

- ``canceller`` (``audio.echo.EchoCanceller``): the model's voice is taken out
  of the microphone before it is sent; its reference is what the speaker
  played, silence included, sample for sample with the microphone
  (``audio.reference.PlayedReference``);
- ``onset`` (``audio.vad.SpeechOnset``): the user starting to speak while the
  model is audible is a local barge-in — playback can stop now, before the
  server's ``interrupted`` arrives. With ``doubletalk`` it listens to the part of
  the raw microphone over the echo's bound (the suppressor turned the user's
  first words down by 9–61 dB when the echo was as loud), else to the cleaned
  microphone;
- ``doubletalk`` (``audio.doubletalk.DoubleTalk``): whether the raw microphone
  holds more than the echo the reference predicts. A canceller still learning
  the room leaks echo that sounds like the user; so a barge-in needs this
  evidence too, and while the model is heard and there is none, what is sent is
  held at least ``MIN_ATTENUATION_DB`` under the raw microphone, so a leak never
  reaches the server's own voice detection either.

Or, instead of cancelling, ``half_duplex``: the microphone sends silence while
the model is audible and for ``tail_s`` after (the room's echo dies away), so the
model never hears itself — nor the user, until it stops.

"Audible" is reckoned from the slices handed to the speaker: each plays after
those before it, so the model is audible until the last one ends.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Callable, Literal

from tfy_live.audio import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH
from tfy_live.audio.reference import PlayedReference
from tfy_live.extras import install_extra

AecChoice = Literal["auto", "on", "off"]
BargeInChoice = Literal["auto", "local", "server"]
HALF_DUPLEX_TAIL_S = 0.3
ECHO_TAIL_S = 0.5  # after the last sample played the room still echoes (delay and reverberation)
NEAR_HOLD_S = 0.3  # evidence of the user keeps the microphone open this long
BARGE_IN_EVIDENCE_S = 0.2  # a voice onset counts as the user's if the evidence is this recent
MIN_ATTENUATION_DB = 40.0
# More than the echo in this many of the detector's last frames (10 ms each) is the user even before the voice
# detector agrees: at echo 10 dB over the user, what stands out of it can be too patchy for the detector for a
# second, while over 36 rooms and levels of the model alone the double-talk detector never fired once.
SUSTAINED_NEAR, SUSTAINED_OF = 4, 10
OVER_ECHO_THRESHOLD = 0.5  # the voice detector's bar on the part of the microphone over the echo


@dataclass(frozen=True)
class EchoOptions:
    aec: AecChoice = "auto"
    noise_suppression: bool = False
    high_pass: bool = False
    half_duplex: bool = False
    tail_s: float = HALF_DUPLEX_TAIL_S
    barge_in: BargeInChoice = "auto"


@dataclass(frozen=True)
class EchoPlan:
    """What ``EchoOptions`` come to on this machine, with the reason, for the status line."""

    aec: bool
    local_barge_in: bool
    half_duplex: bool
    note: str


def echo_options(*, aec: str = "auto", noise_suppression: bool = False, high_pass: bool = False,
                 half_duplex: bool = False, barge_in: str = "auto", tail_ms: int | None = None) -> EchoOptions:
    """Validated options, or a ConfigError naming the fix."""
    from tfy_live.errors import ConfigError

    aec, barge_in = aec.strip().lower(), barge_in.strip().lower()
    if aec not in ("auto", "on", "off"):
        raise ConfigError(f"--aec must be auto, on or off (got {aec!r})")
    if barge_in not in ("auto", "local", "server"):
        raise ConfigError(f"--barge-in must be auto, local or server (got {barge_in!r})")
    if tail_ms is not None and tail_ms < 0:
        raise ConfigError(f"--half-duplex-tail-ms must be 0 or more (got {tail_ms})")
    tail_s = HALF_DUPLEX_TAIL_S if tail_ms is None else tail_ms / 1000
    if aec == "on" and half_duplex:
        raise ConfigError("--half-duplex is the alternative to echo cancellation: use --aec off or drop --half-duplex")
    if barge_in == "local" and half_duplex:
        raise ConfigError("--half-duplex mutes the microphone while the model speaks, so it cannot hear you "
                          "barge in: use --barge-in server or drop --half-duplex")
    if barge_in == "local" and aec == "off":
        raise ConfigError("--barge-in local listens on the echo-cancelled microphone: drop --aec off "
                          "(with headphones, use --barge-in server)")
    return EchoOptions(aec=aec, noise_suppression=noise_suppression, high_pass=high_pass,  # type: ignore[arg-type]
                       half_duplex=half_duplex, tail_s=tail_s, barge_in=barge_in)  # type: ignore[arg-type]


def plan(options: EchoOptions, *, microphone: bool, aec_installed: bool, vad_installed: bool,
         install: Callable[[str], str] = install_extra) -> EchoPlan:
    """Resolve ``auto``: echo cancellation when a microphone meets a speaker and the extra is there.

    Asking for what is not installed (``--aec on``, ``--barge-in local``) is left to the
    constructors, which raise a ConfigError naming the install command. ``install``: the command that
    installs an extra (called only when the note names it).
    """
    if options.aec == "on":
        aec = True
    elif options.aec == "off" or options.half_duplex or not microphone:
        aec = False
    else:
        aec = aec_installed
    if options.barge_in == "local":
        aec = True  # asked for: the canceller's constructor says if it is missing
        local = True
    elif options.barge_in == "server":
        local = False
    else:
        local = aec and vad_installed
    if options.half_duplex:
        note = "half-duplex: the microphone is muted while the model speaks"
    elif aec:
        note = "echo cancellation on" + (", local barge-in on" if local else "")
    elif options.aec == "auto" and microphone and not aec_installed:
        note = (f"echo cancellation off (not installed: `{install('aec')}`); "
                "use headphones or --half-duplex")
    else:
        note = "echo cancellation off"
    return EchoPlan(aec=aec, local_barge_in=local, half_duplex=options.half_duplex, note=note)


class EchoGuard:
    def __init__(
        self,
        *,
        canceller: Any = None,
        onset: Any = None,
        doubletalk: Any = None,
        half_duplex: bool = False,
        tail_s: float = HALF_DUPLEX_TAIL_S,
        far_rate: int = OUTPUT_RATE,
        near_rate: int = INPUT_RATE,
    ) -> None:
        self.canceller = canceller
        self.onset = onset
        self.doubletalk = doubletalk
        self.half_duplex = half_duplex
        self.tail_s = tail_s
        self.far_rate = far_rate
        self.near_rate = near_rate
        self.reference = PlayedReference(far_rate, near_rate)
        self.audible_until = -float("inf")  # when the last slice handed to the speaker ends
        self.muted_chunks = 0
        self.onsets = 0
        self.held_chunks = 0  # chunks turned down: echo the canceller had not taken out, and no user
        self._listening = False
        self._near_at = -float("inf")  # when the double-talk detector last heard more than the echo
        self._fired = False  # a barge-in was reported for this stretch of the user's speech
        self._recent: collections.deque[bool] = collections.deque(maxlen=SUSTAINED_OF)  # the detector's last verdicts

    def played(self, pcm: bytes, now: float) -> None:
        """A slice of model audio was handed to the speaker at ``now``."""
        start = max(self.audible_until, now)
        self.audible_until = start + len(pcm) / SAMPLE_WIDTH / self.far_rate
        if self.canceller is not None:
            self.reference.played(pcm, now)

    def audible(self, now: float) -> bool:
        return now < self.audible_until

    def mic(self, pcm: bytes, now: float) -> tuple[bytes, bool]:
        """Microphone audio -> (what to send, whether the user began speaking over the model)."""
        raw = pcm
        heard = None  # what the voice detector listens to, if not the cleaned microphone
        if self.canceller is not None:
            far = self.reference.take(len(pcm) // SAMPLE_WIDTH, now)
            self.canceller.far(far)
            pcm = self.canceller.near(pcm)
            if self.doubletalk is not None:
                for frame in self.doubletalk.feed(raw, far):
                    self._recent.append(frame.near)
                    if frame.near:
                        self._near_at = now
                heard = self.doubletalk.take_over_echo()
                if now < self.audible_until + ECHO_TAIL_S and now - self._near_at > NEAR_HOLD_S:
                    pcm = self._hold_down(raw, pcm)
        if self.half_duplex and now < self.audible_until + self.tail_s:
            self.muted_chunks += 1
            return bytes(len(pcm)), False
        began = False
        if self.onset is not None:
            # The detector runs only while the model is heard, the only time there is something to
            # stop: it is the most expensive step of the microphone path.
            if self.audible(now):
                self._listening = True
                fired = self.onset.feed(pcm if heard is None else heard)
                if self.doubletalk is None:
                    began = fired
                else:  # the onset counts once the raw microphone, too, holds more than the echo
                    voice = fired or self.onset.speaking
                    sustained = sum(self._recent) >= SUSTAINED_NEAR
                    user = voice and now - self._near_at <= BARGE_IN_EVIDENCE_S or sustained
                    began = user and not self._fired
                    self._fired = self._fired and (voice or sustained) or began
                if began:
                    self.onsets += 1
            elif self._listening:
                self._listening = False
                self._fired = False
                self.onset.reset()
        return pcm, began

    def _hold_down(self, raw: bytes, out: bytes) -> bytes:
        """``out`` at least ``MIN_ATTENUATION_DB`` under ``raw``: what the canceller left of the echo."""
        if not out:
            return out
        import numpy as np  # only with echo cancellation, which loads it anyway: start-up stays without it

        x = np.frombuffer(out, "<i2").astype(np.float32)
        r = np.frombuffer(raw, "<i2").astype(np.float32)
        kept = float(np.dot(x, x)) / max(len(x), 1)
        heard = float(np.dot(r, r)) / max(len(r), 1)
        allowed = heard * 10 ** (-MIN_ATTENUATION_DB / 10)
        if kept <= allowed:
            return out
        self.held_chunks += 1
        return bytes((x * np.sqrt(allowed / kept)).astype("<i2").tobytes())
