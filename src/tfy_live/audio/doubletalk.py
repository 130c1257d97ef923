"""Double talk: does the microphone hold more than the echo the reference predicts?

The echo canceller's own output cannot say: while it is still learning the
room its leaks sound like the user, and when the echo is louder than the user
its suppressor turns the user down with the echo. So this looks at the raw
microphone and at the reference (what the speaker played, sample for sample
with the microphone: ``audio.reference``), in 16 bands every 10 ms.

The echo in a band can never be louder than the reference's envelope in that
band some ``delay`` earlier, times the room's coupling: the envelope holds each
peak and lets it fade no faster than a room's reverberation does, so the echo
of everything played since is under it. For every delay up to ``MAX_DELAY_MS``
the detector learns the largest microphone-to-envelope ratio seen while only
the model was heard (``coupling``); the delay whose ratios are smallest is the
echo's (any other leaves the echo of a word's onset unexplained). The bound
then is that delay's envelope times its coupling; a band of the microphone
``MARGIN_DB`` over it holds sound the speaker did not make.

Until a delay has been seen ``MIN_FRAMES`` times with the reference playing, no
bound is trusted and nothing counts as the user: a canceller that has not
converged cannot make the detector fire. Once a bound is trusted, a frame with
some of the microphone over it (``SUSPECT_SHARE``) teaches it nothing, nor does
a band over it in any frame: learning from the user's first syllables grew the
bound over their voice, and a user who began a second into a reply, as loud as
its echo, went unheard for another second.

``take_over_echo`` gives the microphone kept only in the bands over the bound
(silence while only the model is heard): the user's voice as it stands out of
the echo, for a voice detector that the canceller's suppressor would starve.

Pure: fed bytes, returns decisions; numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tfy_live.audio import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH

FRAME_MS = 10
MAX_DELAY_MS = 500  # the longest speaker-to-microphone delay the bound looks back over, reverberation aside
BANDS = 16
MIN_FRAMES = 12  # frames with the reference playing in a band before that band's bound is trusted
DECAY_DB = 1.5  # per 10 ms: how fast the reference's envelope fades (a 400 ms reverberation time)
FORGET_DB = 0.02  # per 10 ms: how fast a learnt coupling relaxes (2 dB a second)
SUSPECT_SHARE = 0.02  # a frame with this much over the bound teaches it nothing: it may be the user
MARGIN_DB = 4.0  # a band this far over the echo's bound holds something else
FLOOR_DBFS = -60.0  # a near end quieter than this is not the user
MIN_BANDS = 2  # the user's voice stands out in two bands at least; one band alone was a harmonic the bound missed
LEARN_AFTER = 8  # a band teaches the room only after this many frames in a row over the floor: not a click, not noise
NOISE_WINDOW = 25  # frames per part of the noise floor's window; the floor is the least of the last NOISE_PARTS
NOISE_PARTS = 5  # so a floor reaches over 1-1.25 s of the frames where the reference is silent


@dataclass(frozen=True)
class Frame:
    """One 10 ms frame's verdict."""

    near: bool  # the microphone holds more than the echo
    share: float  # of the microphone's energy, the part over the echo's bound (0..1)
    level_dbfs: float  # that part's level
    ready: bool  # a bound is trusted


class DoubleTalk:
    """Feed the raw microphone and the reference beside it (same duration, any chunk size)."""

    def __init__(self, near_rate: int = INPUT_RATE, far_rate: int = OUTPUT_RATE, *, min_share: float = 0.02) -> None:
        self.near_rate, self.far_rate = near_rate, far_rate
        self.min_share = min_share
        self.n_near = near_rate * FRAME_MS // 1000
        self.n_far = far_rate * FRAME_MS // 1000
        # 20 ms Hann windows at both rates: 50 Hz bins, the same frequencies on both sides
        self._win_near = np.hanning(2 * self.n_near + 1)[:-1].astype(np.float32)
        self._win_far = np.hanning(2 * self.n_far + 1)[:-1].astype(np.float32)
        hz = 1000 / (2 * FRAME_MS)
        top = min(near_rate, far_rate) / 2 * 0.94
        edges = np.unique(np.round(np.geomspace(100 / hz, top / hz, BANDS + 1)).astype(int))
        self._edges = edges
        bands = len(edges) - 1
        self.delays = MAX_DELAY_MS // FRAME_MS
        self._prev_near = np.zeros(self.n_near, np.float32)
        self._prev_far = np.zeros(self.n_far, np.float32)
        self._rest_near = b""
        self._rest_far = b""
        self._envelope = np.zeros(bands)
        self._history = np.zeros((self.delays, bands))  # the envelope k frames ago, k = 0 .. delays-1
        self._coupling = np.zeros((self.delays, bands))  # log10 of the largest mic / envelope ratio seen
        self._seen = np.zeros((self.delays, bands), np.int32)
        # The background's floor per band (a fan, a café): the least of the smoothed microphone over about a second
        # of the frames in which that band's reference is silent (the echo only ever adds). A band over the echo by
        # less than the floor's usual spread is not evidence: 1/f noise in a 1-bin band reaches 17 dB over its
        # floor (99.9th percentile 16 dB), in a 35-bin band 4 dB; ``_spread`` is that, per band, from their width.
        self._smooth = np.zeros(bands)
        self._part_min = np.full(bands, np.inf)
        self._part_count = np.zeros(bands, np.int32)
        self._parts = np.full((NOISE_PARTS, bands), np.inf)
        self._noise = np.zeros(bands)
        self._spread = 10 ** ((4 + 14 / np.sqrt(np.diff(edges))) / 10)
        self._loud_for = np.zeros(bands, np.int32)  # frames in a row each band has been over its floor
        self._ratios = np.full((2, self.delays, bands), np.inf)  # the last two frames' ratios
        self._decay = 10 ** (-DECAY_DB / 10)
        self._forget = FORGET_DB / 10
        self._margin = 10 ** (MARGIN_DB / 10)
        self._floor = 10 ** (FLOOR_DBFS / 10)
        self._active = 10 ** (-75 / 10)  # a reference band quieter than this is silence (per band, full scale 1)
        self._ola = np.zeros(self.n_near)
        self._over = bytearray()
        self.delay_frames: int | None = None  # the echo's delay as found, in frames
        self.frames = 0

    def _spectrum(self, x: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The windowed spectrum, and its power per band (a full-scale sine comes to about 1 in its band)."""
        spectrum = np.fft.rfft(x * window)
        power = np.abs(spectrum) ** 2 / ((np.sum(window) / 2) ** 2 / 2)
        sums = np.add.reduceat(power, self._edges[:-1])
        return spectrum, sums[: len(self._edges) - 1]

    def feed(self, mic: bytes, far: bytes) -> list[Frame]:
        """The verdicts of the whole 10 ms frames completed by this audio."""
        near_data, far_data = self._rest_near + mic, self._rest_far + far
        size_n, size_f = self.n_near * SAMPLE_WIDTH, self.n_far * SAMPLE_WIDTH
        count = min(len(near_data) // size_n, len(far_data) // size_f)
        out = []
        for i in range(count):
            m = np.frombuffer(near_data, "<i2", self.n_near, i * size_n).astype(np.float32) / 32768
            f = np.frombuffer(far_data, "<i2", self.n_far, i * size_f).astype(np.float32) / 32768
            out.append(self._frame(m, f))
        self._rest_near, self._rest_far = near_data[count * size_n:], far_data[count * size_f:]
        return out

    def _frame(self, m: np.ndarray, f: np.ndarray) -> Frame:
        self.frames += 1
        spectrum, mic = self._spectrum(np.concatenate([self._prev_near, m]), self._win_near)
        _, ref = self._spectrum(np.concatenate([self._prev_far, f]), self._win_far)
        self._prev_near, self._prev_far = m, f
        self._envelope = np.maximum(ref, self._envelope * self._decay)
        self._history[1:] = self._history[:-1]
        self._history[0] = self._envelope
        active = self._history > self._active
        self._track_noise(mic, np.logical_not(active.any(axis=0)))
        loud = mic > self._noise * np.sqrt(self._spread)  # half the spread: an echo under the noise teaches too
        self._loud_for = np.where(loud, self._loud_for + 1, 0)
        trusted = self._seen >= MIN_FRAMES
        bound = self._bound(trusted)
        total = float(mic.sum())
        over = np.where(mic > self._margin * bound + self._spread * self._noise, mic - bound - self._noise, 0.0)
        share = float(over.sum() / total) if total > 0 else 0.0
        level = 10 * math.log10(float(over.sum()) + 1e-20)
        ready = bound is not None and self.delay_frames is not None
        several = int((over > 0).sum()) >= MIN_BANDS
        near = ready and share >= self.min_share and level >= FLOOR_DBFS and several
        ratio = np.log10(np.maximum(mic, 1e-12) / np.maximum(self._history, 1e-12))
        # The room's coupling holds for 30 ms at least; a key's click lasts two windows. Learnt from one frame, a click
        # lifted the coupling at the true delay and the bound went by another, 300 ms off.
        steady = np.minimum(ratio, self._ratios.min(axis=0))
        self._ratios[1], self._ratios[0] = self._ratios[0], ratio
        if not (ready and share >= SUSPECT_SHARE and level >= FLOOR_DBFS):
            # Only the model is heard (as far as the bound can tell): learn the coupling at every delay, but
            # not in a band over a trusted bound: that is more likely the user's first syllable than the room.
            # A click before the echo arrived taught the short delays first, and the bound went by the wrong one.
            learn = active & (self._loud_for >= LEARN_AFTER) & ~(over > 0)
            decayed = self._coupling - self._forget
            first = learn & (self._seen == 0)
            self._coupling = np.where(first, steady, np.where(learn, np.maximum(decayed, steady), self._coupling))
            self._seen += learn
        self._resynthesise(spectrum, np.where(over > 0, over / np.maximum(mic, 1e-20), 0.0) if ready and several else None)
        return Frame(near=near, share=share, level_dbfs=level, ready=ready)

    def _track_noise(self, mic: np.ndarray, quiet: np.ndarray) -> None:
        """The floor from the bands whose reference has been silent for the whole delay range (a sliding minimum)."""
        if self.frames == 1:
            return  # half its window is the silence before the first sample
        self._smooth = np.where(quiet & (self._smooth > 0), 0.6 * self._smooth + 0.4 * mic, mic)
        self._part_min = np.where(quiet, np.minimum(self._part_min, self._smooth), self._part_min)
        self._part_count += quiet
        full = self._part_count >= NOISE_WINDOW
        if full.any():
            self._parts[:, full] = np.roll(self._parts[:, full], 1, axis=0)
            self._parts[0, full] = self._part_min[full]
            self._part_min[full] = np.inf
            self._part_count[full] = 0
        floor = np.minimum(self._parts.min(axis=0), self._part_min)
        self._noise = np.where(np.isfinite(floor), floor, self._noise)

    def _resynthesise(self, spectrum: np.ndarray, gains: np.ndarray | None) -> None:
        """Add this window's part over the echo to ``over_echo``: Hann windows at half overlap sum to one."""
        mask = np.zeros(len(spectrum))
        if gains is not None:
            mask[self._edges[0]:self._edges[-1]] = np.repeat(np.sqrt(gains), np.diff(self._edges))
        y = np.fft.irfft(spectrum * mask, 2 * self.n_near)
        done = self._ola + y[: self.n_near]
        self._ola = y[self.n_near:]
        self._over += (np.clip(done, -1, 1) * 32767).astype("<i2").tobytes()

    def take_over_echo(self) -> bytes:
        """The raw microphone kept only where it is over the echo's bound (10 ms behind), since the last call:
        silence while only the model is heard, the user's voice where it stands out of the echo."""
        out, self._over = bytes(self._over), bytearray()
        return out

    def _bound(self, trusted: np.ndarray) -> np.ndarray:
        """The echo's largest possible power per band now (inf where nothing is trusted yet)."""
        usable = trusted.sum(axis=1) >= trusted.shape[1] // 4  # delays learnt in at least a quarter of the bands
        if not usable.any():
            self.delay_frames = None
            return np.full(trusted.shape[1], np.inf)
        counts = trusted.sum(axis=1)
        # Each band against its own mean over the delays: a delay learnt in only the quiet bands must not win on
        # their low coupling (a click that taught the earlier delays a higher one made one do so, 300 ms off).
        per_band = (self._coupling * trusted).sum(axis=0) / np.maximum(trusted.sum(axis=0), 1)
        relative = (self._coupling - per_band) * trusted
        typical = np.where(usable, relative.sum(axis=1) / np.maximum(counts, 1), np.inf)
        k = int(np.argmin(typical))
        self.delay_frames = k
        lo, hi = max(0, k - 1), min(self.delays, k + 2)  # a frame either side: the bound survives jitter
        value = 10 ** self._coupling[lo:hi] * self._history[lo:hi]
        bound: np.ndarray = np.where(trusted[lo:hi], value, np.inf).max(axis=0)
        return bound
