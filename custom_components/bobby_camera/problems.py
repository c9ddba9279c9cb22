"""Problems made visible: every repair issue of the integration, and the agents' problem events.

`monitoring.AgentHealth` decides what an agent's problems are; `ProblemReporter` shows
each change (a repair issue per problem, the `bobby_camera_agent_problem` bus event, the
agent's problem event entity) and runs the timer of the next monitoring deadline. The
hub-wide issues (too many agents, a command to all agents left some behind) and the
recordings' storage issue are created through the same `create_issue`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from . import protocol
from .agent import Agent
from .alarm import Alarm
from .const import (
    DOMAIN,
    EVENT_AGENT_PROBLEM,
    FOLD_AT,
    ISSUE_COMMAND_ALL,
    ISSUE_MANY_PREFIX,
    LOGGER,
    MISSED_HEARTBEATS,
    PROBLEM_BLIND,
    PROBLEM_STATE_MISMATCH,
    PROBLEMS,
    UNANNOUNCED_STATS_INTERVAL,
)
from .monitoring import ProblemReport
from .signals import Signals

type FireEvent = Callable[[str, Agent | None, dict[str, Any]], None]


@callback
def create_issue(
    hass: HomeAssistant,
    issue_id: str,
    translation_key: str,
    placeholders: dict[str, str],
    *,
    severity: ir.IssueSeverity = ir.IssueSeverity.WARNING,
) -> None:
    """Open (or update) one of the integration's repair issues; none of them is fixable."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=severity,
        translation_key=translation_key,
        translation_placeholders=placeholders,
    )


@callback
def delete_issue(hass: HomeAssistant, issue_id: str) -> None:
    """Close one of the integration's repair issues (nothing happens if it is not open)."""
    ir.async_delete_issue(hass, DOMAIN, issue_id)


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
        "resent": str(agent.health.resent),
        # A failed self-test's figures (selftest.py): what was expected, what came back.
        **(agent.health.blind.figures if agent.health.blind is not None else {}),
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
    protocol.COVERED,
    protocol.DEFOCUSED,
    protocol.TURNED_AWAY,
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
    if problem == PROBLEM_BLIND and agent.health.blind is not None:
        return f"{problem}_{agent.health.blind.cause}", placeholders
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
    """Makes the agents' problems visible in Home Assistant and watches their next deadline."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        base_topic: str,
        command_timeout: float,
        fire: FireEvent,
        signals: Signals,
    ) -> None:
        """`fire(event_type, agent, data)` fires a bus event naming the agent's device."""
        self.hass = hass
        self.base_topic = base_topic
        self.command_timeout = command_timeout
        self._fire_event = fire
        self._signals = signals
        self._deadlines: dict[str, Alarm] = {}  # per agent key: the next monitoring deadline
        # Agents a command to all left behind: the one summary issue speaks for them.
        self._summarised: set[str] = set()
        # Per problem of PROBLEMS: the agents that have it. From FOLD_AT agents on, one
        # `many_<problem>` issue speaks for all of them instead of one issue each.
        self._holders: dict[str, dict[str, Agent]] = {problem: {} for problem in PROBLEMS}

    # --- one agent's problems -----------------------------------------------------------

    @callback
    def async_watch(self, agent: Agent) -> None:
        """Watch the agent's deadlines (silence, offline grace, state mismatch) from now on."""
        self._deadlines[agent.key] = Alarm(self.hass, lambda: self._deadline_passed(agent))

    @callback
    def async_report(self, agent: Agent) -> None:
        """Report what changed in the agent's problems, and watch its next deadline."""
        self._report(agent)
        if (alarm := self._deadlines.get(agent.key)) is not None:
            alarm.set(agent.health.next_check_at())

    @callback
    def _deadline_passed(self, agent: Agent) -> None:
        problems, connected = agent.problems, agent.connected
        agent.health.check()
        self.async_report(agent)
        if (agent.problems, agent.connected) != (problems, connected):
            self._signals.refresh(agent)

    def _report(self, agent: Agent) -> None:
        """Issues, bus events and the event entity for what changed since the last report."""
        if (report := agent.health.take_report()) is None:
            return
        placeholders = issue_placeholders(agent, self.base_topic, self.command_timeout)
        for problem in report.raised:
            if problem == PROBLEM_STATE_MISMATCH and agent.key in self._summarised:
                continue  # the summary issue names it; no issue, event or log line each
            # Info, as HA's log-when-unavailable rule asks: the repair issue is the alarm.
            LOGGER.info("%s %s has a problem: %s", agent.kind, agent.agent_id, problem)
            if problem in self._holders:
                self._holders[problem][agent.key] = agent
                self._fold(problem, placeholders, agent)
            else:
                create_issue(
                    self.hass, issue_id(agent, problem), *_issue_translation(agent, problem, placeholders)
                )
            self._fire(agent, problem, report, active=True)
        for problem in report.cleared:
            LOGGER.info("%s %s recovered from: %s", agent.kind, agent.agent_id, problem)
            delete_issue(self.hass, issue_id(agent, problem))
            if self._holders.get(problem, {}).pop(agent.key, None) is not None:
                self._fold(problem)
            self._fire(agent, problem, report, active=False)
        self._signals.send(
            self._signals.problem(agent), report.event_type, {"problems": list(report.problems)}
        )

    @callback
    def async_update_issue(self, agent: Agent, problem: str) -> None:
        """Show new details (such as a count) in the agent's open issue for `problem`."""
        holders = self._holders.get(problem, {})
        if agent.key in holders and len(holders) < FOLD_AT:
            placeholders = issue_placeholders(agent, self.base_topic, self.command_timeout)
            create_issue(
                self.hass, issue_id(agent, problem), *_issue_translation(agent, problem, placeholders)
            )

    def _fold(
        self, problem: str, placeholders: dict[str, str] | None = None, new: Agent | None = None
    ) -> None:
        """One issue per agent with `problem`, or one summary for them all from FOLD_AT agents on."""
        holders = self._holders[problem]
        summary = f"{ISSUE_MANY_PREFIX}{problem}"
        if len(holders) < FOLD_AT:
            if ir.async_get(self.hass).async_get_issue(DOMAIN, summary) is not None:
                delete_issue(self.hass, summary)
                for agent in holders.values():  # unfolded again: each its own issue
                    own = issue_placeholders(agent, self.base_topic, self.command_timeout)
                    create_issue(
                        self.hass, issue_id(agent, problem), *_issue_translation(agent, problem, own)
                    )
            elif new is not None and placeholders is not None:
                create_issue(
                    self.hass, issue_id(new, problem), *_issue_translation(new, problem, placeholders)
                )
            return
        for agent in holders.values():
            delete_issue(self.hass, issue_id(agent, problem))
        names = sorted(agent.name for agent in holders.values())
        create_issue(
            self.hass,
            summary,
            "many_agents",
            {
                "count": str(len(names)),
                "problem": problem,
                "names": ", ".join(names[:5]) + (", …" if len(names) > 5 else ""),
                "fold_at": str(FOLD_AT),
            },
        )

    def _fire(self, agent: Agent, problem: str, report: ProblemReport, *, active: bool) -> None:
        self._fire_event(
            EVENT_AGENT_PROBLEM,
            agent,
            {
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
        """Delete the repair issues and the deadline of an agent that is forgotten."""
        if (alarm := self._deadlines.pop(agent.key, None)) is not None:
            alarm.cancel()
        for problem in (*PROBLEMS, *agent.health.reported):
            delete_issue(self.hass, issue_id(agent, problem))
        for problem, holders in self._holders.items():
            if holders.pop(agent.key, None) is not None:
                self._fold(problem)

    @callback
    def async_stop(self) -> None:
        """Cancel the deadline timers (the hub stops)."""
        for alarm in self._deadlines.values():
            alarm.cancel()

    # --- the summary of a command to all agents ----------------------------------------

    def summarise(self, agents: list[Agent]) -> None:
        """From now on the summary issue speaks for these agents' state mismatch."""
        self._summarised = {agent.key for agent in agents}

    def unsummarise(self, agent: Agent) -> None:
        """The summary no longer speaks for this agent; it goes with the last one."""
        if agent.key in self._summarised:
            self._summarised.discard(agent.key)
            if not self._summarised:
                delete_issue(self.hass, ISSUE_COMMAND_ALL)

    def command_to_all_done(self, failed: list[Agent], placeholders: dict[str, str]) -> None:
        """One summary issue for the agents a command to all left behind (none: it closes)."""
        self.summarise(failed)
        if failed:
            create_issue(self.hass, ISSUE_COMMAND_ALL, ISSUE_COMMAND_ALL, placeholders)
        else:
            delete_issue(self.hass, ISSUE_COMMAND_ALL)
