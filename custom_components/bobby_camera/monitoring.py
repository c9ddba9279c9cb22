"""Monitoring: whether an agent is alive and obeys, and how its problems are made visible.

`AgentHealth` decides (pure: facts in, problems out, injected clock, no timers);
`ProblemReporter` makes each decision visible in Home Assistant: a repair issue per
problem, the `bobby_camera_agent_problem` bus event and the agent's problem event entity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

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
    PROBLEM_REPORTED,
    PROBLEM_SILENT,
    PROBLEM_STATE_MISMATCH,
    PROBLEMS,
    UNANNOUNCED_STATS_INTERVAL,
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
        if not self.problems:
            return RECOVERED
        return self.problems[0] if self.problems[0] in PROBLEMS else PROBLEM_REPORTED


class AgentHealth:
    """Liveness of one agent (status, heartbeat, commands, desired state) and its problems."""

    def __init__(
        self, clock: Callable[[], datetime], *, offline_grace: float = 0.0, mismatch_after: float = 0.0
    ) -> None:
        """`clock` returns the current aware time.

        `offline_grace`: how long an `offline` lasts before it is a problem (the status
        itself shows at once). `mismatch_after`: how long the reported state may differ
        from the desired one (the command timeout: a re-asserted command had its chance).
        """
        self._clock = clock
        self._offline_grace = timedelta(seconds=offline_grace)
        self._mismatch_after = timedelta(seconds=mismatch_after)
        self.status: str | None = None
        self.silent = False
        self.failed_command: str | None = None  # what the last unanswered command asked
        self.stats_interval: float | None = None  # heartbeat period the agent announced
        # Problems the agent reports in its stats, by code (docs/protocol.md, "problems").
        self.reported: dict[str, protocol.Problem] = {}
        self.mismatch: dict[str, Any] = {}  # desired settings the reported state lacks
        self._mismatch_since: datetime | None = None
        self._mismatch_lasting = False
        self._offline_since: datetime | None = None
        self._offline_lasting = False
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
        """The problems in force: PROBLEMS order, then the agent's own codes."""
        active = {
            PROBLEM_OFFLINE: self.status == protocol.OFFLINE and self._offline_lasting,
            PROBLEM_SILENT: self.online and self.silent,  # an offline agent is expected to be silent
            PROBLEM_COMMAND_TIMEOUT: self.failed_command is not None,
            # An unanswered command says it already: one cause, one problem.
            PROBLEM_STATE_MISMATCH: self.online and self._mismatch_lasting and self.failed_command is None,
        }
        own = sorted(self.reported) if self.online else []
        return (*(p for p in PROBLEMS if active[p]), *own)

    # --- facts ------------------------------------------------------------------------

    def status_received(self, status: str) -> None:
        """The agent published `online` or `offline` (its last will)."""
        was_online, self.status = self.online, status
        if self.online:
            if not was_online:
                # A (re)started agent has forgotten old commands: start afresh.
                self.failed_command = None
                self.silent = False
                self.reported = {}
            self._offline_since, self._offline_lasting = None, False
            self._last_heard = self._clock()
        else:
            self.silent = False
            if self._offline_since is None:
                self._offline_since = self._clock()
                self._offline_lasting = not self._offline_grace
            self.state_compared({})  # an offline agent's state is not compared

    def info_received(self, stats_interval: float) -> None:
        """The agent announced itself; its heartbeat is watched from now on."""
        self.stats_interval = stats_interval
        if self._last_heard is None:
            self._last_heard = self._clock()

    def stats_received(self, problems: list[protocol.Problem] | None = None) -> None:
        """A heartbeat arrived, with the problems the agent reports (None: it reports none)."""
        self.silent = False
        self._last_heard = self._clock()
        self.reported = {p["code"]: p for p in problems or []}

    def state_compared(self, mismatch: dict[str, Any]) -> None:
        """The desired settings the agent's reported state lacks, compared just now ({}: none)."""
        self.mismatch = mismatch
        if not mismatch:
            self._mismatch_since, self._mismatch_lasting = None, False
        elif self._mismatch_since is None:
            self._mismatch_since = self._clock()
            self._mismatch_lasting = not self._mismatch_after

    def check(self) -> None:
        """Apply the deadlines that have passed (silence, offline grace, mismatch)."""
        now = self._clock()
        if (due := self.silent_at()) is not None and now >= due:
            self.silent = True
        if self._offline_since is not None and now >= self._offline_since + self._offline_grace:
            self._offline_lasting = True
        if self._mismatch_since is not None and now >= self._mismatch_since + self._mismatch_after:
            self._mismatch_lasting = True

    def check_silence(self) -> None:
        """Mark the agent silent if `silent_at` has passed (and apply the other deadlines)."""
        self.check()

    def silent_at(self) -> datetime | None:
        """When an online agent becomes silent without a heartbeat; None when not watched.

        Bounded even for an agent that never announced its heartbeat period.
        """
        if not self.online or self.silent or self._last_heard is None:
            return None
        interval = self.stats_interval or UNANNOUNCED_STATS_INTERVAL
        return self._last_heard + timedelta(seconds=MISSED_HEARTBEATS * interval)

    def next_check_at(self) -> datetime | None:
        """The next deadline `check` must apply; None when nothing is pending."""
        due = [self.silent_at()]
        if self._offline_since is not None and not self._offline_lasting:
            due.append(self._offline_since + self._offline_grace)
        if self._mismatch_since is not None and not self._mismatch_lasting:
            due.append(self._mismatch_since + self._mismatch_after)
        return min((d for d in due if d is not None), default=None)

    def command_timed_out(self, description: str) -> None:
        """A command (`enabled=False`, ...) got no ack within the command timeout."""
        self.failed_command = description

    def command_answered(self) -> None:
        """An ack (ok or not, in time or late) proves the agent listens again."""
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
    interval = agent.health.stats_interval or UNANNOUNCED_STATS_INTERVAL
    reported: Mapping[str, Any] = agent.state or {}
    return {
        "name": agent.name,
        "kind": agent.kind,
        "agent_id": agent.agent_id,
        "topic": protocol.build_topic(base_topic, agent.kind, agent.agent_id, "status"),
        "missed_after": f"{MISSED_HEARTBEATS * interval:g}",
        "command": agent.health.failed_command or "",
        "timeout": f"{command_timeout:g}",
        "desired": ", ".join(f"{k}={v}" for k, v in agent.health.mismatch.items()),
        "reported": ", ".join(f"{k}={reported.get(k)}" for k in agent.health.mismatch),
    }


def issue_id(agent: Agent, problem: str) -> str:
    """The repair issue of one problem of one agent."""
    return f"{agent.key}_{problem}"


# Codes an agent reports (docs/protocol.md, "problems") by prefix, and their translation key.
_REPORTED_KINDS: Final = (
    "not_authorised_publish",
    "not_authorised_subscribe",
    "refused_publish",
    "refused_subscribe",
    "state_not_saved",
    "source_unavailable",
)


def reported_translation(code: str) -> tuple[str, str]:
    """(translation key, channel) of a problem code the agent reported itself."""
    for prefix in _REPORTED_KINDS:
        if code == prefix:
            return prefix, ""
        if code.startswith(f"{prefix}_"):
            return prefix, code[len(prefix) + 1 :]
    return "agent_reported", ""


def _issue_translation(
    agent: Agent, problem: str, placeholders: dict[str, str]
) -> tuple[str, dict[str, str]]:
    if problem in PROBLEMS:
        return problem, placeholders
    key, channel = reported_translation(problem)
    reported = agent.health.reported.get(problem)
    return key, {
        **placeholders,
        "code": problem,
        "channel": channel,
        "agent_topic": reported.get("topic", "") if reported else "",
        "detail": reported.get("detail", "") if reported else "",
    }


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
        summarised: Callable[[Agent], bool] = lambda _agent: False,
    ) -> None:
        """`device_id` finds an agent's device; `signal` names its problem event signal.

        `summarised(agent)`: whether a hub-wide issue already speaks for the agent's
        state mismatch (a command to all agents), so it gets no issue of its own.
        """
        self.hass = hass
        self.base_topic = base_topic
        self.command_timeout = command_timeout
        self._device_id = device_id
        self._signal = signal
        self._summarised = summarised

    @callback
    def async_report(self, agent: Agent) -> None:
        """Report what changed in the agent's problems: issues, bus events, event entity."""
        if (report := agent.health.take_report()) is None:
            return
        placeholders = issue_placeholders(agent, self.base_topic, self.command_timeout)
        for problem in report.raised:
            if problem == PROBLEM_STATE_MISMATCH and self._summarised(agent):
                continue  # the hub's summary issue names it; no issue, event or log line each
            # Info, as HA's log-when-unavailable rule asks: the repair issue is the alarm.
            LOGGER.info("%s %s has a problem: %s", agent.kind, agent.agent_id, problem)
            translation_key, issue_placeholders_ = _issue_translation(agent, problem, placeholders)
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id(agent, problem),
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=translation_key,
                translation_placeholders=issue_placeholders_,
            )
            self._fire(agent, problem, report, active=True)
        for problem in report.cleared:
            LOGGER.info("%s %s recovered from: %s", agent.kind, agent.agent_id, problem)
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(agent, problem))
            self._fire(agent, problem, report, active=False)
        async_dispatcher_send(
            self.hass, self._signal(agent), report.event_type, {"problems": list(report.problems)}
        )

    def _fire(self, agent: Agent, problem: str, report: ProblemReport, *, active: bool) -> None:
        self.hass.bus.async_fire(
            EVENT_AGENT_PROBLEM,
            {
                "device_id": self._device_id(agent),
                "kind": agent.kind,
                "agent_id": agent.agent_id,
                "name": agent.name,
                "problem": problem,
                "active": active,
                "problems": list(report.problems),
            },
        )

    @callback
    def async_clear(self, agent: Agent) -> None:
        """Delete the repair issues of an agent that is forgotten."""
        for problem in (*PROBLEMS, *agent.health.reported):
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(agent, problem))
