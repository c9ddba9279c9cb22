"""The person debounce on its own: scores and a hand-driven clock in, transitions out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custom_components.bobby_camera.debounce import PersonDebounce, PersonTransition

from .common import START, Clock

DETECTED, CLEARED = PersonTransition.DETECTED, PersonTransition.CLEARED


@pytest.fixture
def auto_enable_custom_integrations() -> None:
    """Pure code: no Home Assistant instance needed."""


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _debounce(clock: Clock, *, trigger_after: float = 0.0, clear_after: float = 30.0) -> PersonDebounce:
    return PersonDebounce(threshold=0.5, trigger_after=trigger_after, clear_after=clear_after, clock=clock)


def test_first_detection_turns_on_at_trigger_after_zero(clock: Clock) -> None:
    person = _debounce(clock)
    assert person.detection(0.9) == (DETECTED,)
    assert person.on
    assert person.detection(0.9) == ()  # already on: no second transition


def test_scores_below_threshold_change_nothing(clock: Clock) -> None:
    person = _debounce(clock)
    assert person.detection(0.49) == ()
    assert not person.on
    assert person.last_hit is None
    assert person.clear_at() is None
    assert person.detection(0.5) == (DETECTED,)  # the threshold itself counts


def test_clears_clear_after_the_last_detection(clock: Clock) -> None:
    person = _debounce(clock)
    person.detection(0.9)
    clock.tick(20)
    person.detection(0.9)  # moves the deadline
    assert person.clear_at() == START + timedelta(seconds=50)
    clock.tick(29.9)
    assert person.expire() is None
    assert person.on
    clock.tick(0.1)
    assert person.expire() is CLEARED
    assert not person.on
    assert person.clear_at() is None
    assert person.expire() is None  # once


def test_trigger_after_needs_a_lasting_streak(clock: Clock) -> None:
    person = _debounce(clock, trigger_after=5, clear_after=10)
    assert person.detection(0.9) == ()
    clock.tick(11)
    assert person.expire() is None  # the streak ends without the person having been on
    assert person.detection(0.9) == ()  # a new streak starts here
    for _ in range(4):
        clock.tick(1)
        assert person.detection(0.9) == ()
    clock.tick(1)
    assert person.detection(0.9) == (DETECTED,)


def test_a_gap_shorter_than_clear_after_keeps_the_streak(clock: Clock) -> None:
    person = _debounce(clock, trigger_after=10, clear_after=10)
    person.detection(0.9)
    clock.tick(9)
    assert person.detection(0.9) == ()  # within clear_after: the same streak, 9 s long
    assert not person.on
    clock.tick(1)
    assert person.detection(0.9) == (DETECTED,)


def test_detection_after_a_missed_expiry_clears_then_detects(clock: Clock) -> None:
    """A late timer must not hide that the person left: CLEARED, then DETECTED."""
    person = _debounce(clock, clear_after=10)
    person.detection(0.9)
    clock.tick(15)  # expire() never ran
    assert person.detection(0.9) == (CLEARED, DETECTED)
    assert person.on


def test_late_detection_with_trigger_after_starts_a_new_streak(clock: Clock) -> None:
    person = _debounce(clock, trigger_after=5, clear_after=10)
    for _ in range(6):
        person.detection(0.9)
        clock.tick(1)
    assert person.on
    clock.tick(20)
    assert person.detection(0.9) == (CLEARED,)  # the new streak is 0 s long
    assert not person.on


def test_restore_within_clear_after(clock: Clock) -> None:
    person = _debounce(clock)
    assert person.restore(START - timedelta(seconds=10))
    assert person.on
    assert person.clear_at() == START + timedelta(seconds=20)
    clock.tick(20)
    assert person.expire() is CLEARED


def test_restore_too_old_does_nothing(clock: Clock) -> None:
    person = _debounce(clock)
    assert not person.restore(START - timedelta(seconds=30))
    assert not person.on
    assert person.last_hit is None


def test_restore_after_a_detection_keeps_the_detection(clock: Clock) -> None:
    """A detection since start is the truth: the restored sighting is ignored."""
    person = _debounce(clock)
    person.detection(0.9)
    assert not person.restore(START - timedelta(seconds=5))
    assert person.last_hit == START
