"""Detection demand against detection capacity, and the repair when the detectors fall short.

*Demand*: the frames per second the enabled, online camera agents send (the `fps` of
their acknowledged state). *Capacity*: the sum of what the online, enabled detectors
say they could analyse (`capacity_fps` in their stats: their workers at the per-frame
cost they measure, regions and tiles included). A camera that only streams frames
(an ESP32-CAM) announces no rate and is not counted.

The `detection_capacity` repair opens when demand exceeds OPEN_AT of capacity, or when a
detector has been dropping frames (a newer frame replaced one before it was analysed)
in every stats report for DROPPING_FOR; it names the figures and what would help, and
clears by itself below CLEAR_BELOW with no detector dropping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from homeassistant.core import HomeAssistant, callback

from .agent import Agent
from .const import ISSUE_CAPACITY
from .problems import create_issue, delete_issue
from .signals import Signals

OPEN_AT: Final = 0.9  # demand / capacity that opens the repair
CLEAR_BELOW: Final = 0.85  # ... and below which it clears (no flapping at the edge)
DROPPING_FOR: Final = timedelta(minutes=1)
NAMED_CAMERAS: Final = 3  # the busiest cameras the repair names


@dataclass(frozen=True, slots=True)
class Fleet:
    """The detection figures of one moment."""

    demand: float  # fps the cameras ask for
    capacity: float | None  # fps the detectors can analyse; None: no detector reports one
    cameras: tuple[tuple[str, float], ...]  # (name, fps) of the counted cameras, busiest first
    detectors: int  # online detectors that report a capacity

    @property
    def ratio(self) -> float | None:
        """Demand / capacity; None when no capacity is known."""
        if not self.capacity:
            return None
        return self.demand / self.capacity


def camera_fps(agent: Agent) -> float | None:
    """The rate an online, enabled camera agent sends at; None if it counts for nothing."""
    state = agent.state
    if not agent.is_camera or not agent.online or state is None or not state["enabled"]:
        return None
    return state.get("fps")


def detector_capacity(agent: Agent) -> float | None:
    """What an online, enabled detector says it can analyse (fps); None if unknown."""
    if agent.is_camera or not agent.connected or agent.enabled is False or agent.stats is None:
        return None
    return agent.stats.get("capacity_fps")


def fleet(agents: Iterable[Agent]) -> Fleet:
    """Demand and capacity of these agents now."""
    cameras: list[tuple[str, float]] = []
    capacities: list[float] = []
    for agent in agents:
        if (fps := camera_fps(agent)) is not None:
            cameras.append((agent.name, fps))
        elif (capacity := detector_capacity(agent)) is not None:
            capacities.append(capacity)
    cameras.sort(key=lambda c: (-c[1], c[0]))
    return Fleet(
        demand=round(sum(fps for _, fps in cameras), 2),
        capacity=round(sum(capacities), 1) if capacities else None,
        cameras=tuple(cameras),
        detectors=len(capacities),
    )


class CapacityWatch:
    """Keeps the fleet figures current for the hub's sensors, and the repair open or closed."""

    def __init__(
        self,
        hass: HomeAssistant,
        agents: Callable[[], Iterable[Agent]],
        signals: Signals,
        clock: Callable[[], datetime],
    ) -> None:
        """`agents`: the hub's agents, looked up at each update."""
        self.hass = hass
        self._agents = agents
        self._signals = signals
        self._clock = clock
        self.fleet = Fleet(demand=0.0, capacity=None, cameras=(), detectors=0)
        self.open = False
        # Per detector key: its last frames_dropped, and since when every report dropped some.
        self._dropped: dict[str, int] = {}
        self._dropping_since: dict[str, datetime] = {}

    @callback
    def on_stats(self, agent: Agent) -> None:
        """A detector's stats arrived: follow its dropped frames, then update."""
        if not agent.is_camera and agent.stats is not None and "frames_dropped" in agent.stats:
            dropped = agent.stats["frames_dropped"]
            before = self._dropped.get(agent.key)
            self._dropped[agent.key] = dropped
            if before is not None and dropped > before:
                self._dropping_since.setdefault(agent.key, self._clock())
            else:
                self._dropping_since.pop(agent.key, None)
        self.update()

    @callback
    def forget(self, agent: Agent) -> None:
        """An agent was removed."""
        self._dropped.pop(agent.key, None)
        self._dropping_since.pop(agent.key, None)
        self.update()

    @callback
    def update(self) -> None:
        """Recompute the figures; tell the hub's sensors when they changed; open or close the repair."""
        agents = list(self._agents())
        current = fleet(agents)
        if current != self.fleet:
            self.fleet = current
            self._signals.send(self._signals.fleet_update)
        dropping = self._dropping(agents)
        ratio = current.ratio
        short = ratio is not None and (ratio > OPEN_AT or (self.open and ratio >= CLEAR_BELOW))
        if short or dropping:
            self._open(current, dropping)
        elif self.open:
            self.open = False
            delete_issue(self.hass, ISSUE_CAPACITY)

    def _dropping(self, agents: list[Agent]) -> list[str]:
        """Online detectors that have dropped frames in every report for DROPPING_FOR."""
        now = self._clock()
        return sorted(
            agent.name
            for agent in agents
            if (since := self._dropping_since.get(agent.key)) is not None
            and agent.connected
            and now - since >= DROPPING_FOR
        )

    def _open(self, current: Fleet, dropping: list[str]) -> None:
        self.open = True
        capacity, ratio = current.capacity, current.ratio
        # Frames per second the cameras would have to give up to be back under OPEN_AT.
        excess = None if capacity is None else max(0.0, current.demand - OPEN_AT * capacity)
        busiest = current.cameras[:NAMED_CAMERAS]
        create_issue(
            self.hass,
            ISSUE_CAPACITY,
            ISSUE_CAPACITY,
            {
                "demand": f"{current.demand:g}",
                # An older detector reports no capacity: it can still be seen dropping frames.
                "capacity": "?" if capacity is None else f"{capacity:g}",
                "percent": "?" if ratio is None else f"{100 * ratio:.0f}",
                "detectors": str(current.detectors),
                "dropping": ", ".join(dropping) or "none",
                "excess": "?" if excess is None else f"{excess:.1f}",
                "cameras": ", ".join(f"{name} ({fps:g} fps)" for name, fps in busiest) or "none",
            },
        )
