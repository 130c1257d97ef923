"""What the conversation is doing, turn by turn: pure bookkeeping against a clock.

The conversation tells the timeline what happened (a microphone level, the
model's first audio, an interruption, a turn's end, token usage); the
timeline answers what a person wants to see: the current state, the latency
of each turn — from the end of the user's speech to the model's first audio —
and a summary at the end (turns, median and p95 latency, tokens, duration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

State = Literal["listening", "user speaking", "model thinking", "model speaking", "reconnecting"]

SPEECH_DBFS = -45.0  # a microphone chunk louder than this is the user speaking
HANGOVER_S = 0.3  # speech this recently still counts as "speaking" (gaps between words)


@dataclass
class Turn:
    index: int
    started: float  # the model's first output of the turn
    latency_ms: float | None = None
    interrupted: bool = False
    prompt_tokens: int = 0
    response_tokens: int = 0
    total_tokens: int = 0
    ended: float | None = None


@dataclass
class Summary:
    turns: int
    interrupted: int
    duration_s: float
    latency_median_ms: float | None
    latency_p95_ms: float | None
    prompt_tokens: int
    response_tokens: int
    total_tokens: int
    malformed_frames: int = 0


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Timeline:
    started: float
    speech_dbfs: float = SPEECH_DBFS
    hangover_s: float = HANGOVER_S

    level_dbfs: float = -math.inf
    last_voiced: float | None = None  # when the user was last heard speaking
    last_typed: float | None = None  # when the user last sent a typed line
    user_turn_pending: bool = False  # the user spoke (or typed) since the model's last turn began
    reconnecting: bool = False
    malformed_frames: int = 0  # skipped frames from the server
    turn: Turn | None = None  # the model turn in progress
    turns: list[Turn] = field(default_factory=list)
    _pending_usage: tuple[int, int, int] = (0, 0, 0)

    # -- what happened ---------------------------------------------------------
    def mic(self, now: float, dbfs: float, *, sent: bool = True) -> None:
        """A microphone chunk's level; only audio sent to the model counts as the user speaking."""
        self.level_dbfs = dbfs
        if sent and dbfs > self.speech_dbfs:
            self.last_voiced = now
            self.user_turn_pending = True

    def user_typed(self, now: float) -> None:
        """A typed line was sent, or (push-to-talk) the user said their turn is over."""
        self.last_typed = now
        self.user_turn_pending = True

    def user_turn_ended(self, now: float) -> None:
        self.user_typed(now)

    def model_output(self, now: float) -> Turn | None:
        """The model produced audio or text; returns the turn if this began it."""
        if self.turn is not None:
            return None
        latency = None
        typed_last = self.last_typed is not None and (self.last_voiced is None or self.last_typed >= self.last_voiced)
        if self.user_turn_pending and typed_last:
            latency = 1000 * (now - self.last_typed)  # type: ignore[operator]
        elif self.user_turn_pending and self.last_voiced is not None and not self.user_speaking(now):
            latency = 1000 * (now - self.last_voiced)
        self.user_turn_pending = False
        self.turn = Turn(index=len(self.turns) + 1, started=now, latency_ms=latency)
        return self.turn

    def interrupted(self, now: float) -> None:
        if self.turn is not None:
            self.turn.interrupted = True

    def usage(self, prompt: int | None, response: int | None, total: int | None) -> None:
        """Usage may come just before or just after turnComplete; it goes to the turn it ends or follows."""
        target = self.turn or (self.turns[-1] if self.turns else None)
        if target is None:
            p, r, t = self._pending_usage
            self._pending_usage = (p + (prompt or 0), r + (response or 0), t + (total or 0))
            return
        target.prompt_tokens += prompt or 0
        target.response_tokens += response or 0
        target.total_tokens += total or 0

    def turn_complete(self, now: float) -> Turn | None:
        """The server ended the model's turn; returns it (None if the model said nothing)."""
        turn, self.turn = self.turn, None
        if turn is None:
            return None
        turn.ended = now
        p, r, t = self._pending_usage
        turn.prompt_tokens, turn.response_tokens, turn.total_tokens = (
            turn.prompt_tokens + p, turn.response_tokens + r, turn.total_tokens + t)
        self._pending_usage = (0, 0, 0)
        self.turns.append(turn)
        return turn

    # -- what to show ----------------------------------------------------------
    def user_speaking(self, now: float) -> bool:
        if self.last_voiced is None or (self.last_typed is not None and self.last_typed >= self.last_voiced):
            return False  # silent since, or the turn was ended by hand (push-to-talk)
        return now - self.last_voiced <= self.hangover_s

    def state(self, now: float, *, playing: bool) -> State:
        if self.reconnecting:
            return "reconnecting"
        if self.user_speaking(now):
            return "user speaking"
        if playing or self.turn is not None:
            return "model speaking"
        if self.user_turn_pending:
            return "model thinking"
        return "listening"

    def summary(self, now: float) -> Summary:
        latencies = [t.latency_ms for t in self.turns if t.latency_ms is not None]
        p, r, t = self._pending_usage
        return Summary(
            turns=len(self.turns),
            interrupted=sum(t.interrupted for t in self.turns),
            duration_s=now - self.started,
            latency_median_ms=percentile(latencies, 50),
            latency_p95_ms=percentile(latencies, 95),
            prompt_tokens=sum(t.prompt_tokens for t in self.turns) + p,
            response_tokens=sum(t.response_tokens for t in self.turns) + r,
            total_tokens=sum(t.total_tokens for t in self.turns) + t,
            malformed_frames=self.malformed_frames,
        )
