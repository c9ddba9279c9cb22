"""Person state of one camera, from its detections: a pure state machine.

On once detections at or above the threshold have lasted `trigger_after` seconds (0: at
the first one); off `clear_after` seconds after the last one. The clock is injected, and
nothing here schedules anything: the hub asks `clear_at()` when to call `expire()`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum


class PersonTransition(StrEnum):
    """A change of the person state; the values are the person event entity's event types."""

    DETECTED = "detected"
    CLEARED = "cleared"


class PersonDebounce:
    """Turns a stream of detection scores into person on/off transitions."""

    def __init__(
        self,
        *,
        threshold: float,
        trigger_after: float,
        clear_after: float,
        clock: Callable[[], datetime],
    ) -> None:
        """Settings from the hub's options; `clock` returns the current aware time."""
        self.threshold = threshold
        self.trigger_after = timedelta(seconds=trigger_after)
        self.clear_after = timedelta(seconds=clear_after)
        self._clock = clock
        self.on = False
        # When the last detection at or above the threshold arrived (kept over restarts).
        self.last_hit: datetime | None = None
        # When the current streak of detections began; None when there is no streak.
        self._streak_start: datetime | None = None

    def sibling(self) -> PersonDebounce:
        """A new, idle debounce with the same settings (a zone's, an object's)."""
        return PersonDebounce(
            threshold=self.threshold,
            trigger_after=self.trigger_after.total_seconds(),
            clear_after=self.clear_after.total_seconds(),
            clock=self._clock,
        )

    def detection(self, score: float) -> tuple[PersonTransition, ...]:
        """A detection with this score arrived; the transitions it causes, in order.

        A streak whose `clear_at` passed before its timer ran ends first, so a person
        who left and came back gives CLEARED then DETECTED, never nothing.
        """
        if score < self.threshold:
            return ()
        transitions = [cleared] if (cleared := self.expire()) else []
        now = self._clock()
        if self._streak_start is None:
            self._streak_start = now
        self.last_hit = now
        if not self.on and now - self._streak_start >= self.trigger_after:
            self.on = True
            transitions.append(PersonTransition.DETECTED)
        return tuple(transitions)

    def clear_at(self) -> datetime | None:
        """When the streak ends if no detection comes; None when there is no streak."""
        if self._streak_start is None or self.last_hit is None:
            return None
        return self.last_hit + self.clear_after

    def expire(self) -> PersonTransition | None:
        """End the streak if `clear_at` has passed; CLEARED when the person turns off."""
        if self._streak_start is None or not self._expired(self._clock()):
            return None
        self._streak_start = None
        if self.on:
            self.on = False
            return PersonTransition.CLEARED
        return None

    def restore(self, last_hit: datetime) -> bool:
        """Carry the state over a restart: on while `clear_after` has not passed since `last_hit`.

        A detection since start is the truth: then nothing is restored. Returns whether
        the person is on because of the restored sighting.
        """
        if self.last_hit is not None or self._clock() - last_hit >= self.clear_after:
            return False
        self.last_hit = self._streak_start = last_hit
        self.on = True
        return True

    def _expired(self, now: datetime) -> bool:
        return self.last_hit is not None and now - self.last_hit >= self.clear_after
