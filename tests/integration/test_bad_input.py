"""The bad-input log on its own: per topic and per period, bounded, never the payload."""

from __future__ import annotations

import logging

import pytest

from custom_components.bobby_camera.bad_input import BadInputLog


@pytest.fixture
def auto_enable_custom_integrations() -> None:
    """Pure code: no Home Assistant instance needed."""


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "custom_components.bobby_camera"]


def test_one_line_per_topic_and_a_bounded_number_per_period(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    log = BadInputLog(period=60, lines_per_period=3, clock=clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            log.report("bobby/camera/a/info", 10, "bad")
        for n in range(100):
            log.report(f"bobby/camera/x{n}/info", 10, "bad")
        assert len(_lines(caplog)) == 3
        clock.now = 61  # the next period: a line says how many were not logged
        log.report("bobby/camera/a/info", 10, "bad")
    lines = _lines(caplog)
    assert lines[3] == "102 more invalid messages in the last 60 s were not logged (see the diagnostics)"
    assert lines[4].startswith("Ignoring a message on bobby/camera/a/info (10 bytes)")
    assert log.count == 106
    assert len(log.recent) == 10


def test_a_hostile_topic_is_shortened_and_escaped(caplog: pytest.LogCaptureFixture) -> None:
    log = BadInputLog()
    with caplog.at_level(logging.WARNING):
        log.report("bobby/camera/" + "\n\x1b[31m" * 5000 + "/info", 60_000, "reason " * 1000)
    (line,) = _lines(caplog)
    assert "\n" not in line
    assert "\x1b" not in line
    assert len(line) < 500
    assert "(60000 bytes)" in line
