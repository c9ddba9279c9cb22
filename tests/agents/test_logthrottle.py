"""The one log throttle of the agents, on an injected clock (no sleeping, no wall time)."""

from __future__ import annotations

import logging

import pytest

from bobby_edge.logthrottle import LogThrottle

LOGGER = "test.logthrottle"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_one_line_per_period_then_says_how_many_were_held_back(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = LogThrottle(logging.getLogger(LOGGER), 60, clock=clock)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        results = [log.warning("bad frame %d", i, key="frame") for i in range(50)]
        assert results == [True] + [False] * 49
        assert log.held_back("frame") == 49
        clock.now += 59.9
        assert not log.warning("bad frame %d", 50, key="frame")
        clock.now += 0.1  # the period has passed
        assert log.warning("bad frame %d", 51, key="frame")
        assert log.held_back("frame") == 0
        clock.now += 60
        log.warning("bad frame %d", 52, key="frame")  # nothing held back since: no suffix
    assert _messages(caplog) == [
        "bad frame 0",
        "bad frame 51 (50 more since the last report)",
        "bad frame 52",
    ]


def test_keys_are_throttled_independently(caplog: pytest.LogCaptureFixture) -> None:
    log = LogThrottle(logging.getLogger(LOGGER), 60, clock=Clock())
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for camera in ("porch", "garden", "porch", "garden"):
            log.warning("bad frame from %s", camera, key=camera)
    assert _messages(caplog) == ["bad frame from porch", "bad frame from garden"]


def test_keys_are_capped_so_hostile_ids_cannot_grow_memory(caplog: pytest.LogCaptureFixture) -> None:
    log = LogThrottle(logging.getLogger(LOGGER), 60, clock=Clock(), max_keys=3)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for i in range(1000):
            log.warning("bad id", key=f"id{i}")
        assert len(log._keys) == 3
        assert log.warning("bad id", key="id999") is False  # the most recent keys are still throttled
        assert log.warning("bad id", key="id0") is True  # the oldest was forgotten: it logs again


def test_levels_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    log = LogThrottle(logging.getLogger(LOGGER), 60, clock=Clock())
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        log.error("refused", key="a")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("handler failed on %s", "bobby/x/set", key="b")
    records = [r for r in caplog.records if r.name == LOGGER]
    assert [r.levelno for r in records] == [logging.ERROR, logging.ERROR]
    assert not records[0].exc_info
    assert records[1].exc_info is not None
    assert records[1].exc_info[0] is RuntimeError
    assert {r.filename for r in records} == {"test_logthrottle.py"}  # the caller's line, not ours
