"""coverage.py alone: the detectors' per-camera reports in, Watched, gaps and percentages out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custom_components.bobby_camera.coverage import CameraFacts, Coverage, Gap

from .common import Clock

SENDING = CameraFacts(online=True, sending=True, frame_interval=1.0)  # a camera agent at 1 fps
# 2 × 10 s (the detector's stats interval) + 3 × 1 s (the camera's frame interval) + 1 s
BOUND = 24.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def coverage(clock: Clock) -> Coverage:
    tracker = Coverage(clock)
    tracker.camera("porch", SENDING)
    return tracker


def _report(coverage: Coverage, analysed: int = 1, dropped: int = 0, camera: str = "porch") -> None:
    coverage.detector_report("pi4", 10.0, {camera: {"analysed": analysed, "dropped": dropped}})


def _gaps(coverage: Coverage) -> list[Gap]:
    return coverage.take_changes()[1]


def test_the_bound_follows_the_detectors_interval_and_the_cameras_rate(
    coverage: Coverage, clock: Clock
) -> None:
    assert coverage.bound("porch") == BOUND  # no detector yet: the agents' default 10 s reports
    coverage.detector("slow", interval=30.0, analysing=False)  # the longest announced interval counts,
    assert coverage.bound("porch") == 2 * 30 + 3 + 1  # also of a detector gone away
    coverage.forget_detector("slow")
    assert coverage.bound("porch") == BOUND
    coverage.camera("esp32", CameraFacts())  # rate unknown: the slowest allowed, 10 s between frames
    assert coverage.bound("esp32") == 2 * 10 + 3 * 10 + 1


def test_analysed_frames_make_it_watched_until_the_bound_passes(coverage: Coverage, clock: Clock) -> None:
    assert coverage.watched("porch") is None  # not judged yet: no proof, bound not passed
    assert coverage.cause("porch") is None
    _report(coverage)
    assert coverage.watched("porch") is True
    assert coverage.next_check_at() == clock.now + timedelta(seconds=BOUND)
    clock.tick(BOUND - 0.5)  # a silence shorter than the bound is scheduling, not a gap
    coverage.check()
    assert coverage.watched("porch") is True
    _report(coverage)
    clock.tick(BOUND)
    coverage.check()
    assert coverage.watched("porch") is False
    assert coverage.cause("porch") == "no_detector"
    assert _gaps(coverage) == []  # open until the frames are analysed again
    opened = clock.now - timedelta(seconds=BOUND)
    clock.tick(100)
    _report(coverage)
    assert coverage.watched("porch") is True
    assert _gaps(coverage) == [Gap("porch", opened, clock.now, "no_detector")]
    assert _gaps(coverage) == []  # reported once


def test_no_frame_ever_analysed_is_a_gap_from_the_start(coverage: Coverage, clock: Clock) -> None:
    start = clock.now
    clock.tick(60)
    coverage.check()
    assert coverage.watched("porch") is False
    _report(coverage)
    (gap,) = _gaps(coverage)
    assert (gap.start, gap.end, gap.seconds, gap.cause) == (start, clock.now, 60.0, "no_detector")


def test_a_detector_dropping_the_cameras_frames_is_overloaded(coverage: Coverage, clock: Clock) -> None:
    _report(coverage)
    for _ in range(4):
        clock.tick(10)
        _report(coverage, analysed=0, dropped=9)  # busy with other cameras: latest wins, it drops
    coverage.check()
    assert coverage.watched("porch") is False
    assert coverage.cause("porch") == "detector_overloaded"
    _report(coverage)
    assert _gaps(coverage)[0].cause == "detector_overloaded"


def test_the_cameras_own_state_is_the_most_telling_cause(coverage: Coverage, clock: Clock) -> None:
    _report(coverage)
    clock.tick(BOUND)
    coverage.check()
    assert coverage.cause("porch") == "no_detector"
    coverage.camera("porch", CameraFacts(online=True, sending=False, frame_interval=1.0))
    assert coverage.cause("porch") == "camera_silent"
    coverage.camera("porch", CameraFacts(online=False, sending=None, frame_interval=1.0))
    assert coverage.cause("porch") == "camera_off"
    coverage.camera("porch", SENDING)
    _report(coverage)
    # Seen while it lasted: off beats silent beats no detector.
    assert _gaps(coverage)[0].cause == "camera_off"


def test_a_tampered_camera_is_a_gap_at_once_and_ends_when_it_sees_again(
    coverage: Coverage, clock: Clock
) -> None:
    _report(coverage)
    coverage.camera("porch", CameraFacts(online=True, sending=True, tampered=True, frame_interval=1.0))
    covered_at = clock.now
    assert coverage.watched("porch") is False  # its frames are analysed, but show nothing
    assert coverage.cause("porch") == "camera_tampered"
    clock.tick(5)
    _report(coverage)
    assert coverage.watched("porch") is False
    coverage.camera("porch", SENDING)
    assert coverage.watched("porch") is True
    assert _gaps(coverage) == [Gap("porch", covered_at, clock.now, "camera_tampered")]


def test_a_camera_switched_off_is_not_meant_to_be_watched(coverage: Coverage, clock: Clock) -> None:
    _report(coverage)
    clock.tick(30)
    coverage.check()  # a gap of 6 s past its 24 s bound
    coverage.camera("porch", CameraFacts(meant=False, online=False))
    assert coverage.watched("porch") is False
    assert coverage.cause("porch") is None
    (gap,) = _gaps(coverage)  # the owner switched it off: the gap ends there
    assert gap.seconds == 30
    clock.tick(1000)  # not meant: no gap, no deadline, and it does not count against coverage
    coverage.check()
    assert coverage.next_check_at() is None
    assert _gaps(coverage) == []
    assert coverage.percent("porch") == 0.0
    coverage.camera("porch", SENDING)  # back on: a fresh bound before anything is judged
    assert coverage.watched("porch") is None
    clock.tick(10)
    _report(coverage)
    assert coverage.watched("porch") is True
    clock.tick(20)
    # Meant for 30 + 30 s, unwatched for 30 s of it.
    assert coverage.percent("porch") == 50.0


def test_coverage_is_the_watched_share_of_the_last_24_hours(coverage: Coverage, clock: Clock) -> None:
    assert coverage.percent("nowhere") is None
    assert coverage.percent("porch") is None  # no time meant yet
    for _ in range(360):  # an hour, reported every 10 s
        clock.tick(10)
        _report(coverage)
    assert coverage.percent("porch") == 100.0
    clock.tick(3600)  # an hour without frames analysed
    coverage.check()
    assert coverage.percent("porch") == 50.0
    for _ in range(23 * 360):  # 23 hours watched
        clock.tick(10)
        _report(coverage)
    assert coverage.percent("porch") == round(100 * (1 - 1 / 24), 1)
    for _ in range(360):  # one more: the gap leaves the 24-hour window
        clock.tick(10)
        _report(coverage)
    assert coverage.percent("porch") == 100.0


def test_a_camera_that_only_streams(clock: Clock) -> None:
    coverage = Coverage(clock)
    coverage.camera("esp32", CameraFacts())
    clock.tick(60)
    coverage.check()
    assert coverage.cause("esp32") == "no_detector"  # no detector at all
    coverage.detector_report("pi4", 10.0, {})
    assert coverage.cause("esp32") == "camera_silent"  # a detector analyses, its frames do not come
    coverage.detector("pi4", interval=10.0, analysing=False)  # switched off
    assert coverage.cause("esp32") == "no_detector"


def test_reports_of_unknown_cameras_and_forgotten_cameras(coverage: Coverage, clock: Clock) -> None:
    _report(coverage, camera="stranger")
    assert coverage.watched("stranger") is None
    coverage.forget("porch")
    assert coverage.watched("porch") is None
    assert coverage.next_check_at() is None


def test_cut_off_from_the_broker_nothing_is_judged(coverage: Coverage, clock: Clock) -> None:
    _report(coverage)
    coverage.suspend()
    assert coverage.watched("porch") is None
    assert coverage.next_check_at() is None
    clock.tick(600)
    coverage.check()
    coverage.resume()  # a fresh bound from now
    assert coverage.watched("porch") is None
    assert coverage.next_check_at() == clock.now + timedelta(seconds=BOUND)
    _report(coverage)
    assert coverage.watched("porch") is True
    assert _gaps(coverage) == []


def test_watched_changes_are_reported_once(coverage: Coverage, clock: Clock) -> None:
    assert coverage.take_changes() == ([], [])  # None at first, as reported
    _report(coverage)
    assert coverage.take_changes() == (["porch"], [])
    assert coverage.take_changes() == ([], [])


def test_the_next_deadline_is_never_in_the_past(coverage: Coverage, clock: Clock) -> None:
    _report(coverage)
    clock.tick(BOUND)
    assert coverage.next_check_at() is None  # due now: the check applies it
    coverage.check()
    assert coverage.next_check_at() is None  # the gap is open: nothing more is due


def test_a_camera_known_switched_off_and_repeated_facts(clock: Clock) -> None:
    coverage = Coverage(clock)
    coverage.camera("attic", CameraFacts(meant=False))  # switched off from the start
    assert coverage.percent("attic") is None
    assert coverage.watched("attic") is False
    covered = CameraFacts(online=True, sending=True, tampered=True, frame_interval=1.0)
    coverage.camera("attic", covered)
    coverage.camera("attic", covered)  # the same report again: the gap keeps its start
    start = clock.now
    clock.tick(5)
    coverage.detector_report("pi4", 10.0, {"attic": {"analysed": 0, "dropped": 0}})  # nothing of it
    coverage.detector_report("pi4", 10.0, {"attic": {"analysed": 1, "dropped": 0}})
    coverage.camera("attic", SENDING)
    assert coverage.take_changes()[1] == [Gap("attic", start, clock.now, "camera_tampered")]


def test_old_periods_leave_the_window(coverage: Coverage, clock: Clock) -> None:
    _report(coverage)
    clock.tick(30)
    coverage.check()  # a gap from the report
    coverage.camera("porch", CameraFacts(meant=False))
    coverage.camera("porch", SENDING)
    _report(coverage)
    for _ in range(25 * 360):  # a day and an hour watched
        clock.tick(10)
        _report(coverage)
    assert coverage.percent("porch") == 100.0
    camera = coverage._cameras["porch"]
    assert len(camera.periods) == 1
    assert not camera.gaps
