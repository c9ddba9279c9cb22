"""Monitoring: whether an agent is alive and obeys.

`AgentHealth` decides (pure: facts in, problems out, injected clock, no timers);
`problems.ProblemReporter` makes each decision visible in Home Assistant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import protocol
from .const import (
    MISSED_HEARTBEATS,
    PROBLEM_BLIND,
    PROBLEM_COMMAND_TIMEOUT,
    PROBLEM_OFFLINE,
    PROBLEM_REPORTED,
    PROBLEM_SILENT,
    PROBLEM_STATE_MISMATCH,
    PROBLEMS,
    UNANNOUNCED_STATS_INTERVAL,
)

# The problem event entity's event type when no problem is left.
RECOVERED = "recovered"


@dataclass(frozen=True, slots=True)
class SelfTestFailure:
    """Why a detector's last self-test failed: a BLIND_CAUSES cause and its figures (as text)."""

    cause: str
    figures: dict[str, str]


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
        self,
        clock: Callable[[], datetime],
        *,
        offline_grace: float = 0.0,
        mismatch_after: float = 0.0,
        lie_after: float | None = None,
    ) -> None:
        """`clock` returns the current aware time.

        `offline_grace`: how long an `offline` lasts before it is a problem (the status
        itself shows at once). `mismatch_after`: how long the reported state may differ
        from the desired one (the command timeout: a re-asserted command had its chance).
        `lie_after` (default: `mismatch_after`): the same for an agent whose report
        contradicts what it acked (the command timeout, with no margin: it answered).
        """
        self._clock = clock
        self._offline_grace = timedelta(seconds=offline_grace)
        self._mismatch_after = timedelta(seconds=mismatch_after)
        self._lie_after = timedelta(seconds=mismatch_after if lie_after is None else lie_after)
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
        # Home Assistant itself is cut off from the broker (`suspend`): nothing is known
        # about the agent, and none of its deadlines may blame it for the silence.
        self.cut_off = False
        self.suspended = False
        # The last ok ack showed the desired state: a state report that contradicts it is
        # a lie (`lying`), and the agent's acks prove nothing until a report agrees.
        self._ack_agreed = False
        self.lying = False
        self.resent = 0  # times the desired state was sent again while it differed
        # A detector's last self-test failed (None: passed, or not tested): it stays blind
        # across a restart, until a test passes or the detector is no longer tested.
        self.blind: SelfTestFailure | None = None

    @property
    def online(self) -> bool:
        """Whether the agent says it is online."""
        return self.status == protocol.ONLINE

    @property
    def connected(self) -> bool | None:
        """Online and sending its heartbeat; None before anything is known."""
        if self.status is None or self.cut_off:
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
            PROBLEM_BLIND: self.online and self.blind is not None,
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
                self._ack_agreed = self.lying = False
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

    def state_compared(self, mismatch: dict[str, Any], *, source: str = "state") -> None:
        """The desired settings the agent's state lacks, compared just now ({}: none).

        `source`: where that state comes from — `state` (the agent's own report), `ack`
        (the state an ack claims) or `desired` (the owner changed the wish). An agent's
        report that contradicts what it acked is a lie: the mismatch is a problem after
        `lie_after`, and its acks no longer clear it (only a report that agrees does).
        """
        if source == "ack" and self.lying:
            return  # its word against its own reports: the reports win
        if source == "state":
            if mismatch and self._ack_agreed:
                self.lying = True
            self._ack_agreed = False
            if not mismatch:
                self.lying = False
        elif source == "ack":
            self._ack_agreed = not mismatch
        self.mismatch = mismatch
        if not mismatch:
            self._mismatch_since, self._mismatch_lasting = None, False
            self.resent = 0
        elif self._mismatch_since is None:
            self._mismatch_since = self._clock()
            self._mismatch_lasting = not self._mismatch_after

    def ack_contradicted(self, mismatch: dict[str, Any]) -> None:
        """An ok ack whose own state lacks what the command asked: a problem at once."""
        self.mismatch = mismatch
        self._mismatch_since = self._mismatch_since or self._clock()
        self._mismatch_lasting = self.lying = True

    # --- Home Assistant's own connection to the broker ---------------------------------

    def suspend(self) -> None:
        """Home Assistant lost the broker: unknown until it is back, and no deadline runs."""
        self.cut_off = self.suspended = True

    def reconnected(self) -> None:
        """Home Assistant is back on the broker: the agent's reports count again."""
        self.cut_off = False

    def resume(self) -> None:
        """The retained reports are in: deadlines run again, counted from now, not the outage."""
        self.suspended = False
        now = self._clock()
        if self._last_heard is not None:
            self._last_heard = max(self._last_heard, now)
        if self._offline_since is not None and not self._offline_lasting:
            self._offline_since = now
        if self._mismatch_since is not None and not self._mismatch_lasting:
            self._mismatch_since = now

    def check(self) -> None:
        """Apply the deadlines that have passed (silence, offline grace, mismatch)."""
        if self.suspended:
            return
        now = self._clock()
        if (due := self.silent_at()) is not None and now >= due:
            self.silent = True
        if self._offline_since is not None and now >= self._offline_since + self._offline_grace:
            self._offline_lasting = True
        if self._mismatch_since is not None and now >= self._mismatch_since + self._mismatch_deadline:
            self._mismatch_lasting = True

    @property
    def _mismatch_deadline(self) -> timedelta:
        return self._lie_after if self.lying else self._mismatch_after

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
        if self.suspended:
            return None
        due = [self.silent_at()]
        if self._offline_since is not None and not self._offline_lasting:
            due.append(self._offline_since + self._offline_grace)
        if self._mismatch_since is not None and not self._mismatch_lasting:
            due.append(self._mismatch_since + self._mismatch_deadline)
        return min((d for d in due if d is not None), default=None)

    def command_timed_out(self, description: str) -> None:
        """A command (`enabled=False`, ...) got no ack within the command timeout."""
        if self.suspended:
            return  # Home Assistant could not reach the broker: not the agent's fault
        self.failed_command = description

    def command_answered(self) -> None:
        """An ack (ok or not, in time or late) proves the agent listens again."""
        self.failed_command = None

    def selftest_done(self, failure: SelfTestFailure | None) -> None:
        """A detector's self-test passed (None), failed, or is no longer run (None)."""
        self.blind = failure

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
