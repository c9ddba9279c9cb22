"""Monitoring: whether an agent is alive and obeys, and how its problems are made visible.

`AgentHealth` decides (pure: facts in, problems out, injected clock, no timers);
`ProblemReporter` makes each decision visible in Home Assistant: a repair issue per
problem, the `bobby_camera_agent_problem` bus event and the agent's problem event entity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send

from . import protocol
from .const import (
    DOMAIN,
    EVENT_AGENT_PROBLEM,
    LOGGER,
    MISSED_HEARTBEATS,
    PROBLEM_COMMAND_TIMEOUT,
    PROBLEM_OFFLINE,
    PROBLEM_SILENT,
    PROBLEMS,
)

if TYPE_CHECKING:
    from .agent import Agent

# The problem event entity's event type when no problem is left.
RECOVERED = "recovered"


@dataclass(frozen=True, slots=True)
class ProblemReport:
    """The problems of an agent that changed since the last report."""

    problems: tuple[str, ...]  # in force now, in PROBLEMS order
    raised: tuple[str, ...]
    cleared: tuple[str, ...]

    @property
    def event_type(self) -> str:
        """The problem event entity's event type: the first problem in force, or recovered."""
        return self.problems[0] if self.problems else RECOVERED


class AgentHealth:
    """Liveness of one agent (status, heartbeat, unanswered commands) and its problems."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        """`clock` returns the current aware time."""
        self._clock = clock
        self.status: str | None = None
        self.silent = False
        self.failed_command: str | None = None  # what the last unanswered command asked
        self.stats_interval: float | None = None  # heartbeat period the agent announced
        self._last_heard: datetime | None = None
        self._reported: tuple[str, ...] = ()

    @property
    def online(self) -> bool:
        """Whether the agent says it is online."""
        return self.status == protocol.ONLINE

    @property
    def connected(self) -> bool | None:
        """Online and sending its heartbeat; None before anything is known."""
        if self.status is None:
            return None
        return self.online and not self.silent

    @property
    def problems(self) -> tuple[str, ...]:
        """The problems in force, in PROBLEMS order."""
        active = {
            PROBLEM_OFFLINE: self.status == protocol.OFFLINE,
            PROBLEM_SILENT: self.online and self.silent,  # an offline agent is expected to be silent
            PROBLEM_COMMAND_TIMEOUT: self.failed_command is not None,
        }
        return tuple(p for p in PROBLEMS if active[p])

    # --- facts ------------------------------------------------------------------------

    def status_received(self, status: str) -> None:
        """The agent published `online` or `offline` (its last will)."""
        was_online, self.status = self.online, status
        if self.online:
            if not was_online:
                # A (re)started agent has forgotten old commands: start afresh.
                self.failed_command = None
                self.silent = False
            self._last_heard = self._clock()
        else:
            self.silent = False

    def info_received(self, stats_interval: float) -> None:
        """The agent announced itself; its heartbeat is watched from now on."""
        self.stats_interval = stats_interval
        if self._last_heard is None:
            self._last_heard = self._clock()

    def stats_received(self) -> None:
        """A heartbeat arrived."""
        self.silent = False
        self._last_heard = self._clock()

    def check_silence(self) -> None:
        """Mark the agent silent if `silent_at` has passed."""
        if (due := self.silent_at()) is not None and self._clock() >= due:
            self.silent = True

    def silent_at(self) -> datetime | None:
        """When an online agent becomes silent without a heartbeat; None when not watched."""
        if not self.online or self.silent or not self.stats_interval or self._last_heard is None:
            return None
        return self._last_heard + timedelta(seconds=MISSED_HEARTBEATS * self.stats_interval)

    def command_timed_out(self, description: str) -> None:
        """A command (`enabled=False`, ...) got no ack within the command timeout."""
        self.failed_command = description

    def command_answered(self) -> None:
        """An ack (ok or not) proves the agent listens again."""
        self.failed_command = None

    # --- decisions --------------------------------------------------------------------

    def take_report(self) -> ProblemReport | None:
        """What changed since the last report, once; None when nothing did."""
        current, previous = self.problems, self._reported
        if current == previous:
            return None
        self._reported = current
        return ProblemReport(
            problems=current,
            raised=tuple(p for p in current if p not in previous),
            cleared=tuple(p for p in previous if p not in current),
        )


def issue_placeholders(agent: Agent, base_topic: str, command_timeout: float) -> dict[str, str]:
    """The placeholders of the repair issues' translations."""
    interval = agent.health.stats_interval or 0
    return {
        "name": agent.name,
        "kind": agent.kind,
        "agent_id": agent.agent_id,
        "topic": protocol.build_topic(base_topic, agent.kind, agent.agent_id, "status"),
        "missed_after": f"{MISSED_HEARTBEATS * interval:g}",
        "command": agent.health.failed_command or "",
        "timeout": f"{command_timeout:g}",
    }


def issue_id(agent: Agent, problem: str) -> str:
    """The repair issue of one problem of one agent."""
    return f"{agent.key}_{problem}"


class ProblemReporter:
    """Makes an agent's problem reports visible in Home Assistant."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        base_topic: str,
        command_timeout: float,
        device_id: Callable[[Agent], str | None],
        signal: Callable[[Agent], str],
    ) -> None:
        """`device_id` finds an agent's device; `signal` names its problem event signal."""
        self.hass = hass
        self.base_topic = base_topic
        self.command_timeout = command_timeout
        self._device_id = device_id
        self._signal = signal

    @callback
    def async_report(self, agent: Agent) -> None:
        """Report what changed in the agent's problems: issues, bus events, event entity."""
        if (report := agent.health.take_report()) is None:
            return
        placeholders = issue_placeholders(agent, self.base_topic, self.command_timeout)
        for problem in PROBLEMS:
            if problem in report.raised:
                # Info, as HA's log-when-unavailable rule asks: the repair issue is the alarm.
                LOGGER.info("%s %s has a problem: %s", agent.kind, agent.agent_id, problem)
                ir.async_create_issue(
                    self.hass,
                    DOMAIN,
                    issue_id(agent, problem),
                    is_fixable=False,
                    severity=ir.IssueSeverity.WARNING,
                    translation_key=problem,
                    translation_placeholders=placeholders,
                )
            elif problem in report.cleared:
                LOGGER.info("%s %s recovered from: %s", agent.kind, agent.agent_id, problem)
                ir.async_delete_issue(self.hass, DOMAIN, issue_id(agent, problem))
            else:
                continue
            self.hass.bus.async_fire(
                EVENT_AGENT_PROBLEM,
                {
                    "device_id": self._device_id(agent),
                    "kind": agent.kind,
                    "agent_id": agent.agent_id,
                    "name": agent.name,
                    "problem": problem,
                    "active": problem in report.raised,
                    "problems": list(report.problems),
                },
            )
        async_dispatcher_send(
            self.hass, self._signal(agent), report.event_type, {"problems": list(report.problems)}
        )

    @callback
    def async_clear(self, agent: Agent) -> None:
        """Delete the repair issues of an agent that is forgotten."""
        for problem in PROBLEMS:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(agent, problem))
