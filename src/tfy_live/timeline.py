"""What the conversation is doing, turn by turn: pure bookkeeping against a clock.

The conversation tells the timeline what happened (a microphone level, the
model's first output, the first of it the user perceives, an interruption, a
turn's end, token usage); the timeline answers what a person wants to see: the
current state, the latency of each turn — from the end of the user's speech to
the first model output the user perceives: its first audio handed to the
speaker, or its first text (never a thought) — and a summary at the end (turns,
median and p95 latency, tokens, duration, frames skipped).
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
    started: float  # the model's first output of the turn (a thought is not output)
    latency_ms: float | None = None
    interrupted: bool = False
    prompt_tokens: int = 0
    response_tokens: int | None = None  # None: not reported (3.x models may leave it out)
    total_tokens: int = 0
    thoughts_tokens: int | None = None
    prompt_tokens_details: dict[str, int] = field(default_factory=dict)  # per modality: {"AUDIO": 58, "TEXT": 11}
    response_tokens_details: dict[str, int] = field(default_factory=dict)
    ended: float | None = None
    user_ended: float | None = None  # when the user's speech (or typing) this answers ended: the latency's start

    def add_usage(self, prompt: int | None, response: int | None, total: int | None, thoughts: int | None = None,
                  prompt_details: dict[str, int] | None = None, response_details: dict[str, int] | None = None) -> None:
        """Add one usage report; a count the report leaves out stays unknown (None) unless another gives it."""
        self.prompt_tokens += prompt or 0
        self.total_tokens += total or 0
        if response is not None:
            self.response_tokens = (self.response_tokens or 0) + response
        if thoughts is not None:
            self.thoughts_tokens = (self.thoughts_tokens or 0) + thoughts
        for mine, theirs in ((self.prompt_tokens_details, prompt_details), (self.response_tokens_details,
                                                                              response_details)):
            for modality, count in (theirs or {}).items():
                mine[modality] = mine.get(modality, 0) + count

    def add_turn_usage(self, other: "Turn") -> None:
        self.add_usage(other.prompt_tokens, other.response_tokens, other.total_tokens, other.thoughts_tokens,
                       other.prompt_tokens_details, other.response_tokens_details)

    @property
    def has_usage(self) -> bool:
        return bool(self.total_tokens or self.prompt_tokens or self.response_tokens is not None
                    or self.thoughts_tokens is not None)


@dataclass
class Summary:
    turns: int
    interrupted: int
    duration_s: float
    latency_median_ms: float | None
    latency_p95_ms: float | None
    prompt_tokens: int
    response_tokens: int | None  # None: some turn's usage left it out
    total_tokens: int
    malformed_frames: int = 0
    thoughts_tokens: int | None = None
    unknown_frames: int = 0  # frames of a message type the session does not know, skipped
    tools: dict[str, int] = field(default_factory=dict)  # tool calls by how they ended: done, failed, declined…


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
    malformed_frames: int = 0  # skipped frames from the server: not JSON, not a Live message
    unknown_frames: int = 0  # skipped frames from the server: an unknown message type
    turn: Turn | None = None  # the model turn in progress
    turns: list[Turn] = field(default_factory=list)
    _pending_usage: Turn = field(default_factory=lambda: Turn(index=0, started=0.0))  # usage before any turn

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
        """The model produced audio, text or a transcript (not a thought); returns the turn if this began it.

        The turn's latency waits for ``perceived``: the first output may be a
        transcript that arrives before the audio it transcribes.
        """
        if self.turn is not None:
            return None
        user_ended = None
        typed_last = self.last_typed is not None and (self.last_voiced is None or self.last_typed >= self.last_voiced)
        if self.user_turn_pending and typed_last:
            user_ended = self.last_typed
        elif self.user_turn_pending and self.last_voiced is not None and not self.user_speaking(now):
            user_ended = self.last_voiced
        self.user_turn_pending = False
        self.turn = Turn(index=len(self.turns) + 1, started=now, user_ended=user_ended)
        return self.turn

    def perceived(self, turn: Turn, now: float) -> None:
        """The user perceives ``turn``'s first output now (its first audio reached the speaker, or its first text
        was shown): the turn's latency, if it answers the user and has none yet."""
        if turn.latency_ms is None and turn.user_ended is not None:
            turn.latency_ms = 1000 * (now - turn.user_ended)

    def interrupted(self, now: float) -> None:
        if self.turn is not None:
            self.turn.interrupted = True

    def usage(self, prompt: int | None, response: int | None, total: int | None, thoughts: int | None = None,
              prompt_details: dict[str, int] | None = None, response_details: dict[str, int] | None = None) -> None:
        """Usage may come just before or just after turnComplete; it goes to the turn it ends or follows."""
        target = self.turn or (self.turns[-1] if self.turns else self._pending_usage)
        target.add_usage(prompt, response, total, thoughts, prompt_details, response_details)

    def turn_complete(self, now: float) -> Turn | None:
        """The server ended the model's turn; returns it (None if the model said nothing)."""
        turn, self.turn = self.turn, None
        if turn is None:
            return None
        turn.ended = now
        turn.add_turn_usage(self._pending_usage)
        self._pending_usage = Turn(index=0, started=0.0)
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
        counted = [*self.turns, self._pending_usage]
        if self.turn is not None:
            counted.append(self.turn)
        reported = [t for t in counted if t.has_usage]
        # A sum over the turns that reported a count would pass for the whole: unknown if any turn left it out.
        response = None if any(t.response_tokens is None for t in reported) else sum(
            t.response_tokens or 0 for t in reported)
        thoughts = [t.thoughts_tokens for t in counted if t.thoughts_tokens is not None]
        return Summary(
            turns=len(self.turns),
            interrupted=sum(t.interrupted for t in self.turns),
            duration_s=now - self.started,
            latency_median_ms=percentile(latencies, 50),
            latency_p95_ms=percentile(latencies, 95),
            prompt_tokens=sum(t.prompt_tokens for t in counted),
            response_tokens=response,
            total_tokens=sum(t.total_tokens for t in counted),
            malformed_frames=self.malformed_frames,
            thoughts_tokens=sum(thoughts) if thoughts else None,
            unknown_frames=self.unknown_frames,
        )
