"""Coverage: whether each camera's frames are analysed, and the gaps when they are not.

Pure, like `monitoring.py`: facts in (what each detector reported analysing per camera,
what each camera reports of itself), decisions out (Watched, the coverage percentage, the
gaps that ended), an injected clock and no timers. `watching.py` feeds it from the hub's
handlers and makes its decisions visible.

**Watched** means: a detector reported analysing the camera's frames within the bound
`2 × I + 3 × P + 1 s` (I: the longest stats interval the detectors announced; P: the
camera's frame interval). A detector reports once per I what it analysed in that interval,
so a camera analysed without pause is reported at least every I + P; one lost report
(stats are QoS 0) adds I, two lost or dropped frames add 2 P, and a second covers delivery
and scheduling. A silence shorter than the bound is normal scheduling, not a gap.

A **gap** opens when an enabled camera has had no analysed frame for the bound (counted
from the last report that had one, or from when the camera was enabled or Home Assistant
started), or at once when the camera reports that it is tampered with (its own check
already waits for the picture to stay so). It starts at that last proof and ends with the
next report of an analysed frame (and no tamper report), or when the camera is switched
off on purpose. Its cause is the most telling one seen while it lasted (`GAP_CAUSES`
order): the camera tampered with, off, or silent, else a detector dropping its frames
(overloaded), else no detector analysing them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from . import protocol
from .const import (
    COVERAGE_WINDOW_HOURS,
    DEFAULT_DETECTOR_INTERVAL,
    GAP_CAMERA_OFF,
    GAP_CAMERA_SILENT,
    GAP_CAMERA_TAMPERED,
    GAP_CAUSES,
    GAP_DETECTOR_OVERLOADED,
    GAP_NO_DETECTOR,
    UNKNOWN_FRAME_INTERVAL,
    WATCH_FRAMES,
    WATCH_REPORTS,
    WATCH_SLACK,
)

# Periods and gaps kept per camera for the window: a camera switched on and off all day
# long keeps the newest ones (its percentage then covers less than the window).
MAX_PERIODS: Final = 1024


@dataclass(frozen=True, slots=True)
class CameraFacts:
    """What is known of a camera itself, from its own reports."""

    meant: bool = True  # the owner wants it watching: enabled (a camera that takes no commands: always)
    online: bool | None = None  # online and switched on; None: it never announced itself
    sending: bool | None = None  # its stats say frames go out and its heartbeat is on time; None: unknown
    tampered: bool = False  # its stats report covered, defocused or turned away
    frame_interval: float | None = None  # seconds between its frames; None: unknown


@dataclass(frozen=True, slots=True)
class CameraWatch:
    """What the Watched and Coverage entities of a camera show."""

    watched: bool | None
    cause: str | None  # why it is not watched now
    bound: float  # seconds
    percent: float | None


@dataclass(frozen=True, slots=True)
class Gap:
    """A time an enabled camera was not watched for longer than its bound."""

    camera: str
    start: datetime
    end: datetime
    cause: str

    @property
    def seconds(self) -> float:
        """How long it lasted."""
        return (self.end - self.start).total_seconds()


@dataclass(slots=True)
class _Camera:
    facts: CameraFacts
    grace_from: datetime  # a gap is counted from here at the earliest (enabled, started, reconnected)
    last_analysed: datetime | None = None  # arrival of the newest report of an analysed frame
    last_dropped: datetime | None = None  # arrival of the newest report of its frames dropped unanalysed
    tampered_since: datetime | None = None
    gap_start: datetime | None = None  # an open gap: Watched is off
    gap_causes: set[str] = field(default_factory=set)
    gaps: deque[tuple[datetime, datetime]] = field(default_factory=lambda: deque(maxlen=MAX_PERIODS))
    # When it was meant to be watched: [start, end], end None while it still is.
    periods: deque[list[datetime | None]] = field(default_factory=lambda: deque(maxlen=MAX_PERIODS))
    reported_watched: bool | None = None


class Coverage:
    """Which cameras are watched, from the detectors' per-camera reports."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        """`clock` returns the current aware time."""
        self._clock = clock
        self._window = timedelta(hours=COVERAGE_WINDOW_HOURS)
        self._cameras: dict[str, _Camera] = {}
        self._intervals: dict[str, float] = {}  # stats interval each known detector announced
        self._analysing: set[str] = set()  # detectors online and switched on, reporting per camera
        self._ended: list[Gap] = []
        self.suspended = False

    # --- facts ------------------------------------------------------------------------

    def camera(self, camera: str, facts: CameraFacts) -> None:
        """What a camera reports of itself changed (or the owner switched it)."""
        now = self._clock()
        known = self._cameras.get(camera)
        if known is None:
            known = self._cameras[camera] = _Camera(facts, grace_from=now)
            if facts.meant:
                known.periods.append([now, None])
        elif facts.meant != known.facts.meant:
            if facts.meant:
                known.grace_from = now
                known.periods.append([now, None])
            else:
                self._close(camera, known, now)
                known.periods[-1][1] = now  # it was meant: its period is the last one
        if facts.tampered and not known.facts.tampered:
            known.tampered_since = now
        elif not facts.tampered:
            known.tampered_since = None
        known.facts = facts
        self._evaluate(camera, known, now)

    def detector(self, detector: str, *, interval: float | None, analysing: bool) -> None:
        """A detector's announced stats interval (None: unknown), and whether it analyses now.

        The interval of a detector that went away still counts for the bound: it says
        how often reports come when all is well.
        """
        if interval is not None:
            self._intervals[detector] = interval
        if analysing:
            self._analysing.add(detector)
        else:
            self._analysing.discard(detector)
        self.check()

    def forget_detector(self, detector: str) -> None:
        """The detector's device was removed."""
        self._intervals.pop(detector, None)
        self._analysing.discard(detector)

    def detector_report(
        self, detector: str, interval: float, cameras: Mapping[str, protocol.CameraReport]
    ) -> None:
        """A detector's stats: what it analysed and dropped of each camera in its last interval."""
        now = self._clock()
        self._intervals[detector] = interval
        self._analysing.add(detector)
        for camera, report in cameras.items():
            if (known := self._cameras.get(camera)) is None:
                continue  # not a camera of ours (yet): its own messages make it one
            if report["analysed"]:
                known.last_analysed = now
            elif report["dropped"]:
                known.last_dropped = now
        self.check()

    def forget(self, camera: str) -> None:
        """The camera's device was removed."""
        self._cameras.pop(camera, None)

    # --- Home Assistant's own connection to the broker ---------------------------------

    def suspend(self) -> None:
        """Home Assistant lost the broker: no report can arrive, so nothing is judged."""
        self.suspended = True

    def resume(self) -> None:
        """The reports flow again: every camera gets its bound afresh from now."""
        self.suspended = False
        now = self._clock()
        for known in self._cameras.values():
            known.grace_from = max(known.grace_from, now)
        self.check()

    # --- decisions --------------------------------------------------------------------

    def bound(self, camera: str) -> float:
        """Seconds without an analysed frame after which the camera is not watched."""
        known = self._cameras.get(camera)
        interval = max(self._intervals.values(), default=DEFAULT_DETECTOR_INTERVAL)
        frame = (known.facts.frame_interval if known else None) or UNKNOWN_FRAME_INTERVAL
        return WATCH_REPORTS * interval + WATCH_FRAMES * frame + WATCH_SLACK

    def watched(self, camera: str) -> bool | None:
        """Whether the camera's frames are analysed within its bound.

        None: not judged — Home Assistant is cut off from the broker, or no proof came yet
        since the camera was enabled (or HA started) and its bound has not passed.
        """
        known = self._cameras.get(camera)
        if known is None or self.suspended:
            return None
        return self._watched(camera, known, self._clock())

    def cause(self, camera: str) -> str | None:
        """Why the camera is not watched now (None: it is, it is not meant to be, or not judged yet)."""
        known = self._cameras.get(camera)
        if known is None or not known.facts.meant or self.watched(camera) is not False:
            return None
        return self._cause(camera, known, self._clock())

    def percent(self, camera: str) -> float | None:
        """Watched share of the time it was meant to be watched, over the window; None: no such time."""
        known = self._cameras.get(camera)
        if known is None:
            return None
        now = self._clock()
        since = now - self._window
        while known.gaps and known.gaps[0][1] < since:
            known.gaps.popleft()
        while len(known.periods) > 1 and (end := known.periods[0][1]) is not None and end < since:
            known.periods.popleft()
        meant = _overlap(((s, e or now) for s, e in known.periods if s is not None), since, now)
        if meant <= 0:
            return None
        gaps = list(known.gaps)
        if known.gap_start is not None:
            gaps.append((known.gap_start, now))
        unwatched = _overlap(gaps, since, now)
        return round(max(0.0, 100.0 * (1 - unwatched / meant)), 1)

    def next_check_at(self) -> datetime | None:
        """When a camera's Watched may turn off or a gap open without any new fact."""
        if self.suspended:
            return None
        now = self._clock()
        due: list[datetime] = []
        for camera, known in self._cameras.items():
            if not known.facts.meant or known.gap_start is not None:
                continue
            bound = timedelta(seconds=self.bound(camera))
            if known.last_analysed is not None:
                due.append(known.last_analysed + bound)
            due.append(self._reference(known) + bound)
        # Deadlines already passed were applied by the last check.
        return min((d for d in due if d > now), default=None)

    def check(self) -> None:
        """Apply the deadlines that have passed."""
        now = self._clock()
        for camera, known in self._cameras.items():
            self._evaluate(camera, known, now)

    def take_changes(self) -> tuple[list[str], list[Gap]]:
        """(cameras whose Watched changed, gaps that ended) since the last call, once."""
        changed = []
        for camera, known in self._cameras.items():
            watched = self.watched(camera)
            if watched != known.reported_watched:
                known.reported_watched = watched
                changed.append(camera)
        ended, self._ended = self._ended, []
        return changed, ended

    # --- inside -----------------------------------------------------------------------

    def _reference(self, known: _Camera) -> datetime:
        """The last proof it was watched, or when it began to be meant to be."""
        if known.last_analysed is None:
            return known.grace_from
        return max(known.last_analysed, known.grace_from)

    def _watched(self, camera: str, known: _Camera, now: datetime) -> bool | None:
        if not known.facts.meant or known.gap_start is not None or known.facts.tampered:
            return False
        if self._fresh(camera, known, now):
            return True
        return None  # no proof yet since it was enabled (or HA started), and its bound has not passed

    def _fresh(self, camera: str, known: _Camera, now: datetime) -> bool:
        last = known.last_analysed
        return last is not None and (now - last).total_seconds() < self.bound(camera)

    def _evaluate(self, camera: str, known: _Camera, now: datetime) -> None:
        if not known.facts.meant:
            return
        if known.gap_start is None and not self.suspended:
            bound = timedelta(seconds=self.bound(camera))
            if known.tampered_since is not None:
                known.gap_start = max(known.tampered_since, known.grace_from)
            elif now >= self._reference(known) + bound:
                known.gap_start = self._reference(known)
        if known.gap_start is None:
            return
        known.gap_causes.add(self._cause(camera, known, now))
        if (
            not known.facts.tampered
            and self._fresh(camera, known, now)
            and (known.last_analysed is not None and known.last_analysed > known.gap_start)
        ):
            self._close(camera, known, now)

    def _cause(self, camera: str, known: _Camera, now: datetime) -> str:
        facts = known.facts
        if facts.tampered:
            return GAP_CAMERA_TAMPERED
        if facts.online is False:
            return GAP_CAMERA_OFF
        if facts.sending is False:
            return GAP_CAMERA_SILENT
        dropped = known.last_dropped
        if dropped is not None and (now - dropped).total_seconds() < self.bound(camera):
            return GAP_DETECTOR_OVERLOADED
        if facts.sending is None and self._analysing:
            # A camera that sends no stats (an ESP32-CAM): with a detector analysing and
            # none reporting its frames, the frames most likely do not come.
            return GAP_CAMERA_SILENT
        return GAP_NO_DETECTOR

    def _close(self, camera: str, known: _Camera, now: datetime) -> None:
        if known.gap_start is None:
            return
        cause = next(c for c in GAP_CAUSES if c in known.gap_causes) if known.gap_causes else GAP_NO_DETECTOR
        known.gaps.append((known.gap_start, now))
        self._ended.append(Gap(camera, known.gap_start, now, cause))
        known.gap_start = None
        known.gap_causes = set()


def _overlap(periods: Iterable[tuple[datetime, datetime]], since: datetime, until: datetime) -> float:
    """Seconds of the periods within [since, until] (they do not overlap each other)."""
    total = 0.0
    for start, end in periods:
        seconds = (min(end, until) - max(start, since)).total_seconds()
        total += max(0.0, seconds)
    return total
