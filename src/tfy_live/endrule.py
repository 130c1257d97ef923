"""When a conversation is over: pure bookkeeping of turns against a clock.

A microphone conversation runs until Ctrl-C (or ``--turns N`` replies). A
conversation fed from a file ends after the model's reply to it: once the file
has been sent, the conversation ends at the end of the model turn in progress,
or, if the reply already came while the file's trailing silence was still
streaming, after a short grace period in which no new reply starts. If the
model never replies, it is an error (``decide`` says ``"no-reply"``).

Only a turn with audio or text in it is a reply: Vertex, after a tool response,
closes an empty turn (a finished transcription and nothing else) and answers in
the next one, so an empty turn ends nothing and counts for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decision = Literal["continue", "end", "no-reply", "stalled"]


@dataclass
class EndRule:
    max_turns: int | None = None
    grace_s: float = 2.0
    reply_timeout_s: float = 30.0

    completed_turns: int = 0
    in_turn: bool = False
    exhausted_at: float | None = None
    turns_since_exhausted: int = 0
    reply_pending: bool = False  # the server heard the user after the input ended
    last_event: float | None = None  # when the server last sent anything

    def server_event(self, now: float) -> None:
        self.last_event = now

    def model_turn_started(self, now: float) -> None:
        self.in_turn = True
        self.reply_pending = False

    def user_heard(self, now: float) -> None:
        if self.exhausted_at is not None and not self.in_turn:
            self.reply_pending = True

    def turn_interrupted(self, now: float) -> None:
        self.in_turn = False

    def turn_complete(self, now: float, *, replied: bool = True) -> None:
        """The server ended a turn; ``replied``: it held the model's audio or text (else it is not a reply)."""
        self.in_turn = False
        if not replied:
            return
        self.completed_turns += 1
        if self.exhausted_at is not None:
            self.turns_since_exhausted += 1

    def input_exhausted(self, now: float) -> None:
        self.exhausted_at = now

    def _stall_at(self) -> float | None:
        """When a reply begun after the input ended counts as abandoned: ``reply_timeout_s`` without a word from
        the server (a server that stops mid-reply, its connection open, would otherwise keep the session forever)."""
        if not self.in_turn or self.exhausted_at is None:
            return None
        return max(self.exhausted_at, self.last_event or self.exhausted_at) + self.reply_timeout_s

    def decide(self, now: float) -> Decision:
        if self.in_turn:
            stall_at = self._stall_at()
            return "stalled" if stall_at is not None and now >= stall_at else "continue"
        if self.max_turns is not None and self.completed_turns >= self.max_turns:
            return "end"
        if self.exhausted_at is None:
            return "continue"
        if self.turns_since_exhausted > 0:
            return "end"
        if self.completed_turns > 0 and not self.reply_pending:
            return "end" if now >= self.exhausted_at + self.grace_s else "continue"
        return "no-reply" if now >= self.exhausted_at + self.reply_timeout_s else "continue"

    def deadline(self) -> float | None:
        """The next moment ``decide`` may change on its own, without a new event."""
        if self.in_turn:
            return self._stall_at()
        if self.exhausted_at is None or self.turns_since_exhausted > 0:
            return None
        if self.completed_turns > 0 and not self.reply_pending:
            return self.exhausted_at + self.grace_s
        return self.exhausted_at + self.reply_timeout_s
