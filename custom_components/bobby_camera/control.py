"""Desired state and commands: what the owner set in Home Assistant, asserted on every agent.

Home Assistant owns the desired state (docs/architecture.md, "Who owns what"). `Control` records
it whenever the owner changes a setting, whether or not the agent acknowledges (only a
refusal undoes it); `store.py` keeps it across restarts. The hub's handlers tell `Control`
what an agent reported (status, state, ack); it compares that with the desired state,
re-asserts what differs, and a difference that lasts past the command timeout becomes the
state_mismatch problem. A command to every agent (the hub switch) that leaves some behind
makes one summary issue, not one per agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from . import protocol
from .agent import Agent
from .commands import (
    AckMatch,
    CommandError,
    CommandNotAppliedError,
    CommandRejectedError,
    Commands,
    CommandToAllError,
)
from .const import DOMAIN, LOGGER, PROBLEM_STATE_MISMATCH, REASSERT_BACKOFF_MAX
from .problems import ProblemReporter
from .signals import Signals
from .store import HubStore


class Control:
    """Commands, reconciliation, re-assertion and command timeouts for the agents of one hub."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        base_topic: str,
        timeout: float,
        agents: Callable[[], Iterable[Agent]],
        store: HubStore,
        problems: ProblemReporter,
        signals: Signals,
        on_desired: Callable[[Agent], None] | None = None,
    ) -> None:
        """`agents()` lists the hub's agents; nothing is sent until a command or a report.

        `on_desired(agent)` hears of every change of an agent's desired state (coverage
        counts a camera as meant to be watched while the owner wants it enabled).
        """
        self.hass = hass
        self._on_desired = on_desired
        self.entry = entry
        self._agents = agents
        self._store = store
        self._problems = problems
        self._signals = signals
        self.commands = Commands(hass, base_topic=base_topic, timeout=timeout, on_timeout=self._timed_out)
        self._timeout = timeout
        self._reasserting: set[str] = set()  # agent keys with a re-assertion in flight
        # Re-assertions back off while a difference lasts (an agent that lies must not
        # make us send forever): when the next one may go, and its timer, per agent key.
        self._next_reassert: dict[str, float] = {}
        self._retry: dict[str, CALLBACK_TYPE] = {}

    # --- what agents report (the hub's handlers) ----------------------------------------

    def on_status(self, agent: Agent, status: str) -> None:
        """`online` or `offline`: back online, whatever it restored, the owner's choice is asserted again."""
        was_online = agent.online
        agent.health.status_received(status)
        self.reconcile(agent, reassert=agent.online and not was_online)

    def on_state(self, agent: Agent, state: protocol.StatePayload) -> None:
        """The state the agent runs in."""
        agent.state = state
        self.reconcile(agent)

    def on_ack(self, agent: Agent, ack: protocol.AckPayload) -> None:
        """An answer to a command: in time or late, it proves the agent listens."""
        if self.commands.resolve(agent, ack) is AckMatch.UNKNOWN:
            return
        if ack["ok"] and "state" in ack:
            agent.state = ack["state"]
        agent.health.command_answered()  # the timeout it caused clears
        self.reconcile(agent, source="ack")

    def reconcile(self, agent: Agent, *, reassert: bool = True, source: str = "state") -> None:
        """Compare the agent's state with the desired one; re-assert what differs.

        A difference that lasts past the command timeout becomes the state_mismatch
        problem (the monitoring deadline watches it); a match clears it.
        """
        comparable = agent.announced and agent.online and agent.state is not None
        mismatch = agent.desired.differences(agent.state) if comparable else {}
        agent.health.state_compared(mismatch, source=source)
        self._problems.async_report(agent)
        if not agent.health.mismatch:
            self._problems.unsummarise(agent)
            self._next_reassert.pop(agent.key, None)
            if (cancel := self._retry.pop(agent.key, None)) is not None:
                cancel()
        if mismatch and reassert and agent.key not in self._reasserting:
            self._reassert_when_due(agent)

    def _reassert_when_due(self, agent: Agent) -> None:
        """Send the desired state again now, or when its back-off ends (one timer per agent)."""
        wait = self._next_reassert.get(agent.key, 0.0) - self.hass.loop.time()
        if wait > 0:
            if agent.key not in self._retry:
                self._retry[agent.key] = async_call_later(self.hass, wait, partial(self._retry_due, agent))
            return
        agent.health.resent += 1
        self._problems.async_update_issue(agent, PROBLEM_STATE_MISMATCH)
        backoff = min(self._timeout * 2 ** (agent.health.resent - 1), REASSERT_BACKOFF_MAX)
        self._next_reassert[agent.key] = self.hass.loop.time() + backoff
        self._reasserting.add(agent.key)
        self.entry.async_create_background_task(
            self.hass, self._async_reassert(agent, agent.health.mismatch), f"{DOMAIN} re-assert {agent.key}"
        )

    @callback
    def _retry_due(self, agent: Agent, _now: Any) -> None:
        self._retry.pop(agent.key, None)
        if agent in self._agents():
            self.reconcile(agent)

    @callback
    def async_stop(self, agent: Agent | None = None) -> None:
        """Cancel the re-assertion timers of one agent (None: of all; the hub stops)."""
        for key in [k for k in self._retry if agent is None or k == agent.key]:
            self._retry.pop(key)()
            self._next_reassert.pop(key, None)

    def check_applied(self, agent: Agent, fields: dict[str, Any], state: protocol.StatePayload) -> None:
        """An ok ack must show what the command asked; one that does not is a lie, at once."""
        asked = {k: v for k, v in agent.desired.differences(state).items() if k in fields}
        if asked:
            agent.health.ack_contradicted(asked)
            self._problems.async_report(agent)
            self._signals.refresh(agent)
            raise CommandNotAppliedError(agent, ", ".join(f"{k}={state.get(k)}" for k in asked))

    async def _async_reassert(self, agent: Agent, fields: dict[str, Any]) -> None:
        LOGGER.info(
            "%s differs from what was set in Home Assistant (%s): sent again (%d)",
            agent.key,
            fields,
            agent.health.resent,
        )
        try:
            state = await self.commands.async_send(agent, report_timeout=False, **fields)
            self.check_applied(agent, fields, state)
        except CommandError as err:
            # The state_mismatch problem reports it if the difference lasts.
            LOGGER.debug("Re-asserting the desired state of %s failed: %s", agent.key, err)
        finally:
            self._reasserting.discard(agent.key)

    @callback
    def _timed_out(self, agent: Agent, description: str) -> None:
        agent.health.command_timed_out(description)
        self._problems.async_report(agent)
        self._signals.refresh(agent)

    # --- commands from Home Assistant ---------------------------------------------------

    async def async_command(self, agent: Agent, **fields: Any) -> protocol.StatePayload:
        """Send a command and wait for its ack; settings in it become the desired state.

        Unanswered, it stays desired (re-asserted when the agent is back); refused by the
        agent (a setting it cannot apply), the previous desired state comes back.
        """
        before = agent.desired.stored_fields()
        self._problems.unsummarise(agent)  # a newer choice than the one the summary names
        self._desire(agent, fields)
        try:
            state = await self.commands.async_send(agent, **fields)
        except CommandRejectedError:
            agent.desired.replace(before)
            self._desire(agent, {})
            raise
        self.check_applied(agent, fields, state)
        return state

    def _desire(self, agent: Agent, fields: dict[str, Any]) -> None:
        """Record the owner's choice (kept across restarts) and start comparing against it."""
        agent.desired.update(fields)
        self._store.async_schedule_save()
        self.reconcile(agent, reassert=False, source="desired")
        if self._on_desired is not None:
            self._on_desired(agent)

    async def async_set_zones(
        self, agent: Agent, zones: dict[str, list[list[float]]] | None, **fields: Any
    ) -> None:
        """A camera's zones (kept here) and its masks and objects (commanded, acknowledged).

        Zones are decided in Home Assistant: they change at once. Masks and objects go to
        the camera and, as any setting, stay desired and are re-asserted.
        """
        if zones is not None:
            agent.desired.zones = zones
            self._desire(agent, {})
        if fields:
            await self.async_command(agent, **fields)

    async def async_set_enabled(self, agent: Agent, enabled: bool) -> None:
        """Enable or disable one agent; returns once the agent acknowledged."""
        await self.async_command(agent, enabled=enabled)

    async def async_request_preview(self, agent: Agent) -> None:
        """Ask a camera agent for a fresh full-size preview."""
        await self.async_command(agent, action="preview")

    async def async_record(self, agent: Agent, seconds: float) -> None:
        """Ask a camera agent to record an event now, for `seconds` (longer while detections go on)."""
        await self.async_command(agent, action="record", duration=seconds)

    def announced_agents(self) -> list[Agent]:
        """Agents that take commands."""
        return [a for a in self._agents() if a.announced]

    async def async_set_all_enabled(self, enabled: bool) -> None:
        """Enable or disable every agent, at once, within one command timeout.

        Every announced agent gets the desired state (an offline one gets it asserted
        when it comes back); the online ones get the command. Those that do not apply it
        make ONE summary problem (a repair issue naming how many and which), not one per
        agent; raises CommandToAllError then.
        """
        agents = self.announced_agents()
        # Their mismatches are due with the commands' timeouts: covered by the summary.
        self._problems.summarise(agents)
        for agent in agents:
            agent.desired.update({"enabled": enabled})
            self.reconcile(agent, reassert=False, source="desired")
            if self._on_desired is not None:
                self._on_desired(agent)
        self._store.async_schedule_save()
        targets = [a for a in agents if a.online]
        results = await asyncio.gather(
            *(self.commands.async_send(a, report_timeout=False, enabled=enabled) for a in targets),
            return_exceptions=True,
        )
        failed = [a for a, result in zip(targets, results, strict=True) if isinstance(result, BaseException)]
        error = CommandToAllError(failed, len(targets))
        self._problems.command_to_all_done(
            failed,
            {
                "failed": str(len(failed)),
                "total": str(len(targets)),
                "names": error.names,
                "command": f"enabled={enabled}",
            },
        )
        if failed:
            raise error

    @property
    def all_enabled(self) -> bool | None:
        """Whether every online agent with a known state is enabled (None: none known).

        An offline agent's last state is history, not what runs: it does not count.
        """
        states = [a.enabled for a in self.announced_agents() if a.online and a.enabled is not None]
        return all(states) if states else None
