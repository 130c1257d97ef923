"""Real-time pacing for endpoints that are not paced by hardware.

A WAV file, or an ALSA file-backed test device (a ``file`` plugin with a
``null`` slave), accepts and delivers audio as fast as it is driven. These
clocks make such endpoints behave like a microphone or a speaker. They are
pure: the caller passes ``now`` (seconds on a monotonic clock) and does the
sleeping, so the same arithmetic serves asyncio code and threads.
"""

from __future__ import annotations


class SpeakerClock:
    """How long a speaker with a ``buffer_s`` buffer makes a writer wait.

    Written audio plays from the first write on; a write of ``frames`` may
    proceed once the audio already written plus these frames ends no more
    than ``buffer_s`` after ``now``. When real time passes the end of the
    written audio the speaker has run dry, and the clock restarts at the next
    write: an idle speaker plays the next sample immediately.
    """

    def __init__(self, sample_rate: int, buffer_s: float) -> None:
        self.sample_rate = sample_rate
        self.buffer_s = buffer_s
        self._end: float | None = None  # when the written audio finishes playing

    def wait_s(self, frames: int, now: float) -> float:
        """Seconds to wait before ``frames`` more frames fit in the buffer."""
        end = self._end if self._end is not None and self._end > now else now
        return max(0.0, end + frames / self.sample_rate - self.buffer_s - now)

    def commit(self, frames: int, now: float) -> None:
        """Record that ``frames`` frames were handed to the speaker at ``now``."""
        end = self._end if self._end is not None and self._end > now else now
        self._end = end + frames / self.sample_rate

    def queued_s(self, now: float) -> float:
        """Audio written but not yet played, in seconds."""
        return max(0.0, self._end - now) if self._end is not None else 0.0

    def room(self, now: float) -> int:
        """Frames that fit in the buffer at ``now`` without a wait."""
        return max(0, int((self.buffer_s - self.queued_s(now)) * self.sample_rate))


class MicClock:
    """When a microphone would deliver each chunk.

    A chunk can be delivered once it has been recorded: the chunk that ends
    at frame ``n`` is due ``n / sample_rate`` seconds after ``start``.
    Deadlines are computed from the start, never by adding up sleeps, so
    oversleeping never accumulates into drift; a consumer that fell behind
    gets the overdue chunks at once.
    """

    def __init__(self, sample_rate: int, start: float) -> None:
        self.sample_rate = sample_rate
        self.start = start
        self.frames = 0  # frames delivered so far

    def wait_s(self, frames: int, now: float) -> float:
        """Seconds until a chunk of ``frames`` more frames is due."""
        return max(0.0, self.start + (self.frames + frames) / self.sample_rate - now)

    def tick(self, frames: int) -> None:
        """Count ``frames`` delivered frames."""
        self.frames += frames
