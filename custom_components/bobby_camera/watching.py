"""Whether each camera is watched, made visible: `coverage.Coverage` fed from the hub's handlers.

The hub tells `Watching` what an agent reported (status, info, state, stats) and the
detectors' per-camera reports; `Control` tells it when the owner changes what an agent
should do. It keeps each camera's `Agent.watch` up to date (the Watched and Coverage
entities read it), fires `bobby_camera_coverage_gap` when a gap ends, and runs the timer
of the next coverage deadline and a once-a-minute refresh of the percentages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from . import protocol
from .agent import Agent
from .alarm import Alarm
from .const import COVERAGE_CHANNEL, DEFAULT_DETECTOR_INTERVAL, EVENT_COVERAGE_GAP
from .coverage import CameraFacts, CameraWatch, Coverage, Gap
from .devices import AgentDevices
from .signals import Signals

# How often the Coverage sensors are brought up to date while nothing else happens.
PERCENT_REFRESH = timedelta(minutes=1)


def camera_facts(agent: Agent) -> CameraFacts:
    """What a camera's own reports and the owner's wish say about it."""
    wish = agent.desired.enabled
    meant = wish if wish is not None else agent.enabled is not False
    if not agent.announced:
        return CameraFacts(meant=meant)  # a camera that only streams: nothing else is known
    stats = agent.stats
    reported = agent.health.reported if agent.online else {}
    sending = None
    if agent.online and stats is not None:
        sending = not agent.health.silent and stats["fps"] > 0 and protocol.SOURCE_UNAVAILABLE not in reported
    fps = agent.state.get("fps") if agent.state is not None else None
    if not fps and stats is not None:
        fps = stats.get("fps_target")
    return CameraFacts(
        meant=meant,
        online=agent.online and agent.enabled is not False,
        sending=sending,
        tampered=bool(set(protocol.TAMPER_PROBLEMS) & reported.keys()),
        frame_interval=1 / fps if fps else None,
    )


class Watching:
    """Feeds the coverage of one hub's cameras and shows what it decides."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        agents: Callable[[], Iterable[Agent]],
        devices: AgentDevices,
        signals: Signals,
        clock: Callable[[], datetime],
    ) -> None:
        """Nothing runs until `async_start`."""
        self.hass = hass
        self._agents = agents
        self._devices = devices
        self._signals = signals
        self.coverage = Coverage(clock)
        self._deadline = Alarm(hass, self._deadline_passed)
        self._timers: list[CALLBACK_TYPE] = []
        self._reporting: set[str] = set()  # detectors whose stats carry per-camera reports

    @callback
    def async_start(self) -> None:
        """Refresh the percentages once a minute."""
        self._timers.append(async_track_time_interval(self.hass, self._refresh_percentages, PERCENT_REFRESH))

    @callback
    def async_stop(self) -> None:
        """Cancel the timers (the hub stops)."""
        self._deadline.cancel()
        while self._timers:
            self._timers.pop()()

    # --- facts from the hub and from Control -------------------------------------------

    @callback
    def update(self, agent: Agent) -> None:
        """An agent reported something, or the owner changed its desired state."""
        if agent.is_camera:
            self.coverage.camera(agent.agent_id, camera_facts(agent))
            self._publish(agent)
            return
        self.coverage.detector(
            agent.agent_id,
            interval=agent.health.stats_interval,
            # Reporting what it analyses per camera is proven by its stats (detector_stats).
            analysing=agent.online
            and agent.enabled is not False
            and not agent.health.silent
            and agent.agent_id in self._reporting,
        )
        self._publish()

    @callback
    def detector_stats(self, agent: Agent, stats: protocol.StatsPayload) -> None:
        """A detector's stats: its per-camera report is the proof that cameras are watched."""
        if "cameras" not in stats or agent.enabled is False:
            # An older detector reports no cameras: it cannot prove anything watched.
            self._reporting.discard(agent.agent_id)
            self.coverage.detector(agent.agent_id, interval=agent.health.stats_interval, analysing=False)
        else:
            self._reporting.add(agent.agent_id)
            interval = agent.health.stats_interval or DEFAULT_DETECTOR_INTERVAL
            self.coverage.detector_report(agent.agent_id, interval, stats["cameras"])
        self._publish()

    @callback
    def forget(self, agent: Agent) -> None:
        """The agent's device was removed."""
        if agent.is_camera:
            self.coverage.forget(agent.agent_id)
        else:
            self._reporting.discard(agent.agent_id)
            self.coverage.forget_detector(agent.agent_id)
        self._publish()

    @callback
    def suspend(self) -> None:
        """Home Assistant lost the broker: nothing is judged until it is back."""
        self.coverage.suspend()
        self._publish()

    @callback
    def resume(self) -> None:
        """The retained reports are in: judge again, each camera's bound counted from now."""
        self.coverage.resume()
        self._publish()

    # --- decisions made visible ---------------------------------------------------------

    def _refresh_facts(self) -> None:
        """Facts that change with time alone (a camera gone silent), as they are now."""
        for agent in list(self._agents()):
            if agent.is_camera:
                self.coverage.camera(agent.agent_id, camera_facts(agent))

    @callback
    def _deadline_passed(self) -> None:
        self._refresh_facts()
        self.coverage.check()
        self._publish()

    @callback
    def _refresh_percentages(self, _now: datetime) -> None:
        self._refresh_facts()
        self._publish(percentages=True)

    def _publish(self, about: Agent | None = None, *, percentages: bool = False) -> None:
        """Show what changed: Watched at once, the details of the camera reported on, every
        camera's percentage once a minute."""
        changed, ended = self.coverage.take_changes()
        by_id = {a.agent_id: a for a in self._agents() if a.is_camera}
        shown = set(by_id) if percentages else {*changed, *([about.agent_id] if about else [])}
        for camera, agent in by_id.items():
            if camera not in shown:
                continue
            before = agent.watch
            agent.watch = CameraWatch(
                watched=self.coverage.watched(camera),
                cause=self.coverage.cause(camera),
                bound=round(self.coverage.bound(camera), 1),
                percent=self.coverage.percent(camera),
            )
            if agent.watch != before:
                # The hub-wide refresh reaches the alarm panel, which verifies Watched.
                self._signals.refresh(agent, COVERAGE_CHANNEL, hub_wide=camera in changed)
        for gap in ended:
            self._fire(by_id.get(gap.camera), gap)
        self._deadline.set(self.coverage.next_check_at())

    def _fire(self, agent: Agent | None, gap: Gap) -> None:
        if agent is None:
            return  # forgotten meanwhile
        self._devices.async_fire(
            EVENT_COVERAGE_GAP,
            agent,
            {
                "camera": gap.camera,
                "name": agent.name,
                "start": dt_util.as_utc(gap.start).isoformat(),
                "end": dt_util.as_utc(gap.end).isoformat(),
                "seconds": round(gap.seconds, 1),
                "cause": gap.cause,
            },
        )
