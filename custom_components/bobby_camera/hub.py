"""The hub: the MQTT subscriptions of one config entry and the agents they report on.

It plays the part a DataUpdateCoordinator plays for a polling integration: entities read
`Agent` objects and refresh when the hub sends them a dispatcher signal naming the
channel that changed. The decisions live in pure modules (`debounce` for the person
state, `monitoring` for problems); commands and devices have modules of their own.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from . import protocol
from .agent import Agent, agent_key, people_in
from .alarm import Alarm
from .bad_input import BadInputLog
from .commands import AckMatch, CommandError, CommandRejectedError, Commands, CommandToAllError
from .const import (
    CONF_BASE_TOPIC,
    CONF_CLEAR_AFTER,
    CONF_COMMAND_TIMEOUT,
    CONF_MAX_AGENTS,
    CONF_OFFLINE_GRACE,
    CONF_THRESHOLD,
    CONF_TRIGGER_AFTER,
    DEFAULT_OPTIONS,
    DOMAIN,
    EVENT_PERSON_DETECTED,
    ISSUE_AGENT_LIMIT,
    ISSUE_COMMAND_ALL,
    LOGGER,
)
from .debounce import PersonTransition
from .devices import AgentDevices, agent_key_of
from .monitoring import ProblemReporter
from .recording.manager import Recordings
from .store import HubStore

type BobbyConfigEntry = ConfigEntry[BobbyHub]

# Seconds a state may differ from the desired one beyond the command timeout before it
# is a problem: a re-assertion had its chance, and its own timeout is reported first.
MISMATCH_MARGIN: Final = 1.0

# Channels whose last valid message is kept across restarts (store.py).
REMEMBERED: Final = frozenset({"status", "info", "state"})


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel the hub subscribes to (`<base>/<kind>/+/<name>`) and what it does with it."""

    name: str
    handler: Callable[[Agent, Any], None]  # called with the parsed payload
    kind: str = "+"  # a topic level: every kind, or only this one
    evidence: bool = False  # shows that a camera exists even when no agent announces it
    hub_wide: bool = False  # can change what the hub switch shows


@dataclass(slots=True)
class _AgentAlarms:
    person_clears: Alarm
    health: Alarm  # the next monitoring deadline: silence, offline grace, state mismatch

    def cancel(self) -> None:
        self.person_clears.cancel()
        self.health.cancel()


def _now() -> datetime:
    # Looked up at each call: tests freeze the clock by patching dt_util.
    return dt_util.utcnow()


class BobbyHub:
    """Subscriptions, agents, commands and monitoring for one config entry."""

    def __init__(self, hass: HomeAssistant, entry: BobbyConfigEntry) -> None:
        """Read the options; nothing runs until async_start."""
        self.hass = hass
        self.entry = entry
        options = {**DEFAULT_OPTIONS, **entry.options}
        self.base_topic: str = entry.data[CONF_BASE_TOPIC]
        self.threshold: float = float(options[CONF_THRESHOLD])
        self.trigger_after: float = float(options[CONF_TRIGGER_AFTER])
        self.clear_after: float = float(options[CONF_CLEAR_AFTER])
        self.command_timeout: float = float(options[CONF_COMMAND_TIMEOUT])
        self.max_agents: int = int(options[CONF_MAX_AGENTS])
        self.offline_grace: float = float(options[CONF_OFFLINE_GRACE])
        self.agents: dict[str, Agent] = {}
        self.bad_input = BadInputLog()
        self.refused_agents = 0  # new agents refused since start (over max_agents)
        self.store = HubStore(hass, entry.entry_id)
        self.devices = AgentDevices(hass, entry)
        self.commands = Commands(
            hass, base_topic=self.base_topic, timeout=self.command_timeout, on_timeout=self._command_timed_out
        )
        self.problems = ProblemReporter(
            hass,
            base_topic=self.base_topic,
            command_timeout=self.command_timeout,
            device_id=self.devices.device_id,
            signal=self.signal_problem,
            summarised=lambda agent: agent.key in self._summarised,
        )
        self.recordings = Recordings(hass, self, options)
        self.channels: dict[str, Channel] = {}
        for channel in (
            # ack first: Home Assistant subscribes wildcard topics one at a time, each after
            # the broker's SUBACK, in this order. Retained status, info and state make the
            # hub send commands at once (the owner's wishes re-asserted); their acks, and
            # those of a command sent as soon as an agent shows up, must find it in place.
            Channel("ack", self._on_ack, hub_wide=True),
            Channel("status", self._on_status, hub_wide=True),
            Channel("info", self._on_info, hub_wide=True),
            Channel("state", self._on_state, hub_wide=True),
            Channel("stats", self._on_stats),
            Channel("detection", self._on_detection, kind=protocol.KIND_CAMERA, evidence=True),
            Channel("snapshot", self._on_snapshot, kind=protocol.KIND_CAMERA, evidence=True),
            Channel("preview", self._on_preview, kind=protocol.KIND_CAMERA, evidence=True),
            Channel(
                protocol.CHUNK_CHANNEL, self.recordings.on_chunk, kind=protocol.KIND_CAMERA, evidence=True
            ),
        ):
            self.add_channel(channel)
        self._alarms: dict[str, _AgentAlarms] = {}
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._reasserting: set[str] = set()  # agent keys with a re-assertion in flight
        # Agents a command to all left behind: the one summary issue speaks for them.
        self._summarised: set[str] = set()

    def add_channel(self, channel: Channel) -> None:
        """Handle one more channel (call before async_start).

        Entities refresh on the channels their description lists, so a new channel
        refreshes nothing that does not read it.
        """
        self.channels[channel.name] = channel

    # --- signals ----------------------------------------------------------------------

    @property
    def signal_new_agent(self) -> str:
        """Sent with an Agent when it appears or gains entities."""
        return f"{DOMAIN}_{self.entry.entry_id}_new_agent"

    @property
    def signal_hub_update(self) -> str:
        """Sent on any change that the hub switch shows."""
        return f"{DOMAIN}_{self.entry.entry_id}_update"

    def signal_update(self, agent: Agent) -> str:
        """Sent with the channel (None for timers) when the state of one agent changes."""
        return f"{DOMAIN}_{self.entry.entry_id}_update_{agent.key}"

    def signal_person(self, agent: Agent) -> str:
        """Sent with (event type, attributes) on a person transition of a camera."""
        return f"{DOMAIN}_{self.entry.entry_id}_person_{agent.key}"

    def signal_problem(self, agent: Agent) -> str:
        """Sent with (event type, attributes) when the problems of an agent change."""
        return f"{DOMAIN}_{self.entry.entry_id}_problem_{agent.key}"

    # --- life cycle -------------------------------------------------------------------

    @property
    def invalid_messages(self) -> int:
        """Messages ignored because they do not follow the contract."""
        return self.bad_input.count

    @property
    def recent_errors(self) -> deque[str]:
        """The last invalid messages: topic, size and reason (never the payload)."""
        return self.bad_input.recent

    async def async_start(self) -> None:
        """Register the hub device, restore known agents and subscribe."""
        await self.store.async_load()
        self.devices.async_register_hub()
        await self.recordings.async_load()  # before any chunk can arrive
        ir.async_delete_issue(self.hass, DOMAIN, ISSUE_AGENT_LIMIT)  # the options may have changed
        # Agents seen before a restart get their entities at once, with the last valid
        # status, info and state they reported (retained garbage cannot take them away),
        # even those that announce nothing retained, such as cameras that only stream.
        for kind, agent_id in self.devices.known_agents():
            agent = self._add_agent(kind, agent_id)
            self._restore(agent)
        for channel in self.channels.values():
            self._unsubscribe.append(
                await mqtt.async_subscribe(
                    self.hass,
                    f"{self.base_topic}/{channel.kind}/+/{channel.name}",
                    self._async_message,
                    qos=protocol.QOS[channel.name],
                    encoding=None,
                )
            )
        self.recordings.async_start()

    @callback
    def async_stop(self) -> None:
        """Unsubscribe, cancel timers and fail pending commands."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        self.recordings.async_stop()
        for alarms in self._alarms.values():
            alarms.cancel()
        self.commands.async_cancel()

    # --- agents -----------------------------------------------------------------------

    def _add_agent(self, kind: str, agent_id: str) -> Agent:
        key = agent_key(kind, agent_id)
        agent = self.agents[key] = Agent.create(
            kind,
            agent_id,
            threshold=self.threshold,
            trigger_after=self.trigger_after,
            clear_after=self.clear_after,
            clock=_now,
            offline_grace=self.offline_grace,
            # Past the command timeout, and after it: an unanswered command reports first.
            mismatch_after=self.command_timeout + MISMATCH_MARGIN,
            desired=self.store.desired_for(key),
        )
        self._alarms[agent.key] = _AgentAlarms(
            person_clears=Alarm(self.hass, lambda: self._person_timer(agent)),
            health=Alarm(self.hass, lambda: self._health_timer(agent)),
        )
        return agent

    def _restore(self, agent: Agent) -> None:
        """Give a known agent the last valid reports it sent before the restart."""
        reports = self.store.last_good.get(agent.key, {})
        if "info" in reports:
            agent.info = reports["info"]
            agent.offered = True
        if "state" in reports:
            agent.state = reports["state"]
        if "status" in reports:
            agent.health.status_received(reports["status"])
        if agent.info is not None:
            agent.health.info_received(agent.info["stats_interval"])
        self._health_changed(agent)

    def _agent(self, kind: str, agent_id: str) -> Agent | None:
        """The agent of a topic; created if new and the cap allows (None: refused)."""
        if (agent := self.agents.get(agent_key(kind, agent_id))) is not None:
            return agent
        if len(self.agents) >= self.max_agents:
            self._refuse_agent(kind, agent_id)
            return None
        agent = self._add_agent(kind, agent_id)
        self.devices.async_update(agent)
        return agent

    def _refuse_agent(self, kind: str, agent_id: str) -> None:
        """One repair issue and one log line for the cap, whatever the number of agents it keeps out."""
        self.refused_agents += 1
        if self.refused_agents > 1:
            return
        LOGGER.warning(
            "Not adding %s %s: Bobby Camera already has %d agents (option max_agents)",
            kind,
            agent_id,
            self.max_agents,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            ISSUE_AGENT_LIMIT,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_AGENT_LIMIT,
            translation_placeholders={
                "limit": str(self.max_agents),
                "first": f"{kind} {agent_id}",
                "base_topic": self.base_topic,
            },
        )

    def agent_for_device(self, device: dr.DeviceEntry) -> Agent | None:
        """The agent a device stands for, if any."""
        key = agent_key_of(device)
        return None if key is None else self.agents.get(key)

    async def async_forget(self, agent: Agent) -> None:
        """Forget an agent whose device the user removes; clear its retained topics.

        It stays forgotten: the echo of the clears and any stray message are ignored,
        until the agent itself comes back `online`.
        """
        self.agents.pop(agent.key, None)
        if (alarms := self._alarms.pop(agent.key, None)) is not None:
            alarms.cancel()
        self.commands.async_cancel(agent)
        self.problems.async_clear(agent)
        self.store.forget(agent.key)
        for channel in sorted(protocol.RETAINED):
            if agent.kind != protocol.KIND_CAMERA and channel in protocol.CAMERA_ONLY_CHANNELS:
                continue
            await mqtt.async_publish(
                self.hass,
                protocol.build_topic(self.base_topic, agent.kind, agent.agent_id, channel),
                b"",
                qos=protocol.QOS[channel],
                retain=True,
            )

    # --- incoming messages ------------------------------------------------------------

    @callback
    def _async_message(self, msg: mqtt.ReceiveMessage) -> None:
        payload = msg.payload
        if not payload and msg.topic.rpartition("/")[2] in protocol.RETAINED:
            # A retained topic being cleared (ours when a device is removed). Its echo to
            # live subscribers comes with retain=False: the empty payload says it all.
            return
        try:
            topic, data = protocol.parse_message(msg.topic, payload, self.base_topic)
        except protocol.ProtocolError as err:
            self.bad_input.report(msg.topic, len(payload), str(err))
            return
        if (channel := self.channels.get(topic.channel)) is None:
            return  # a valid channel the hub does not read (another subscriber's topic)
        key = agent_key(topic.kind, topic.service_id)
        if self.store.is_forgotten(key):
            if data != protocol.ONLINE:
                return  # removed by the owner: only the agent coming back online revives it
            self.store.revive(key)
        if (agent := self._agent(topic.kind, topic.service_id)) is None:
            return
        was_announced = agent.announced
        channel.handler(agent, data)
        if channel.name in REMEMBERED:
            self.store.remember(agent.key, channel.name, data)
        # Entities appear once the agent's info names it, or (for a camera that only
        # streams) once something shows it exists: so entity ids come from the real name.
        if agent.announced != was_announced or (not agent.offered and channel.evidence):
            agent.offered = True
            async_dispatcher_send(self.hass, self.signal_new_agent, agent)
        self._notify(agent, channel)

    @callback
    def _notify(self, agent: Agent, channel: Channel | None = None) -> None:
        """Refresh the agent's entities that read this channel (None: all of them)."""
        async_dispatcher_send(self.hass, self.signal_update(agent), None if channel is None else channel.name)
        if channel is None or channel.hub_wide:
            async_dispatcher_send(self.hass, self.signal_hub_update)

    def _on_status(self, agent: Agent, status: str) -> None:
        was_online = agent.online
        agent.health.status_received(status)
        # Back online: whatever it restored, the owner's choice is asserted again.
        self._reconcile(agent, reassert=agent.online and not was_online)

    def _on_info(self, agent: Agent, info: protocol.InfoPayload) -> None:
        agent.info = info
        agent.health.info_received(info["stats_interval"])
        self.devices.async_update(agent)
        self._reconcile(agent)

    def _on_state(self, agent: Agent, state: protocol.StatePayload) -> None:
        agent.state = state
        self._reconcile(agent)

    def _on_stats(self, agent: Agent, stats: protocol.StatsPayload) -> None:
        agent.stats = stats
        agent.health.stats_received(stats.get("problems"))
        self._health_changed(agent)

    def _on_ack(self, agent: Agent, ack: protocol.AckPayload) -> None:
        if self.commands.resolve(agent, ack) is AckMatch.UNKNOWN:
            return
        # In time or late, an ack proves the agent listens: the timeout it caused clears.
        if ack["ok"] and "state" in ack:
            agent.state = ack["state"]
        agent.health.command_answered()
        self._reconcile(agent)

    def _on_snapshot(self, agent: Agent, image: bytes) -> None:
        agent.snapshot = image
        self.recordings.on_snapshot(agent, image)  # the thumbnail of the event it belongs to

    def _on_preview(self, agent: Agent, image: bytes) -> None:
        agent.preview = image

    def _on_detection(self, agent: Agent, detection: protocol.DetectionPayload) -> None:
        agent.last_detection = detection
        if detection["score"] >= agent.person.threshold:  # what the person sensor counts
            agent.people = people_in(detection)
        for transition in agent.person.detection(detection["score"]):
            if transition is PersonTransition.DETECTED:
                self._person_detected(agent, detection)
            else:
                self._person_cleared(agent)
        self._alarms[agent.key].person_clears.set(agent.person.clear_at())

    # --- person state -----------------------------------------------------------------

    @callback
    def _person_timer(self, agent: Agent) -> None:
        if agent.person.expire():
            self._person_cleared(agent)
            self._notify(agent)
        self._alarms[agent.key].person_clears.set(agent.person.clear_at())

    def _person_detected(self, agent: Agent, detection: protocol.DetectionPayload) -> None:
        data = {
            "camera": agent.agent_id,
            "name": agent.name,
            "score": detection["score"],
            "boxes": detection["boxes"],
            "detector": detection["detector"],
            "frame_time": detection["frame_time"],
            "snapshot": detection.get("snapshot", False),
            "snapshot_topic": protocol.build_topic(self.base_topic, agent.kind, agent.agent_id, "snapshot"),
        }
        self.hass.bus.async_fire(EVENT_PERSON_DETECTED, {"device_id": self.devices.device_id(agent), **data})
        async_dispatcher_send(self.hass, self.signal_person(agent), PersonTransition.DETECTED.value, data)

    def _person_cleared(self, agent: Agent) -> None:
        async_dispatcher_send(self.hass, self.signal_person(agent), PersonTransition.CLEARED.value, {})

    @callback
    def async_restore_person(self, agent: Agent, last_hit: datetime) -> None:
        """Carry the person state over a restart: on while `clear_after` has not passed."""
        if agent.person.restore(last_hit):
            self._alarms[agent.key].person_clears.set(agent.person.clear_at())
            self._notify(agent)

    # --- monitoring -------------------------------------------------------------------

    def _health_changed(self, agent: Agent) -> None:
        """Report problems that appeared or cleared, and watch the next deadline."""
        self.problems.async_report(agent)
        if (alarms := self._alarms.get(agent.key)) is not None:
            alarms.health.set(agent.health.next_check_at())

    @callback
    def _health_timer(self, agent: Agent) -> None:
        problems, connected = agent.problems, agent.connected
        agent.health.check()
        self._health_changed(agent)
        if (agent.problems, agent.connected) != (problems, connected):
            self._notify(agent)

    # --- desired state ----------------------------------------------------------------

    def _reconcile(self, agent: Agent, *, reassert: bool = True) -> None:
        """Compare the agent's state with the desired one; re-assert what differs.

        A difference that lasts past the command timeout becomes the state_mismatch
        problem (the health alarm watches it); a match clears it.
        """
        comparable = agent.announced and agent.online and agent.state is not None
        mismatch = agent.desired.differences(agent.state) if comparable else {}
        agent.health.state_compared(mismatch)
        self._health_changed(agent)
        if not mismatch:
            self._unsummarise(agent)
        if mismatch and reassert and agent.key not in self._reasserting:
            self._reasserting.add(agent.key)
            self.entry.async_create_background_task(
                self.hass, self._async_reassert(agent, mismatch), f"{DOMAIN} re-assert {agent.key}"
            )

    def _unsummarise(self, agent: Agent) -> None:
        """The summary of a command to all no longer speaks for this agent; gone with the last."""
        if agent.key in self._summarised:
            self._summarised.discard(agent.key)
            if not self._summarised:
                ir.async_delete_issue(self.hass, DOMAIN, ISSUE_COMMAND_ALL)

    async def _async_reassert(self, agent: Agent, fields: dict[str, Any]) -> None:
        LOGGER.info("%s differs from what was set in Home Assistant (%s): sent again", agent.key, fields)
        try:
            await self.commands.async_send(agent, report_timeout=False, **fields)
        except CommandError as err:
            # The state_mismatch problem reports it if the difference lasts.
            LOGGER.debug("Re-asserting the desired state of %s failed: %s", agent.key, err)
        finally:
            self._reasserting.discard(agent.key)

    @callback
    def _command_timed_out(self, agent: Agent, description: str) -> None:
        agent.health.command_timed_out(description)
        self._health_changed(agent)
        self._notify(agent)

    # --- commands ---------------------------------------------------------------------

    async def async_command(self, agent: Agent, **fields: Any) -> protocol.StatePayload:
        """Send a command and wait for its ack; settings in it become the desired state.

        Unanswered, it stays desired (re-asserted when the agent is back); refused by the
        agent (a setting it cannot apply), the previous desired state comes back.
        """
        before = agent.desired.command_fields()
        self._unsummarise(agent)  # a newer choice than the one the summary names
        self._desire(agent, fields)
        try:
            return await self.commands.async_send(agent, **fields)
        except CommandRejectedError:
            agent.desired.replace(before)
            self._desire(agent, {})
            raise

    def _desire(self, agent: Agent, fields: dict[str, Any]) -> None:
        """Record the owner's choice (kept across restarts) and start comparing against it."""
        agent.desired.update(fields)
        self.store.async_schedule_save()
        self._reconcile(agent, reassert=False)

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
        return [a for a in self.agents.values() if a.announced]

    async def async_set_all_enabled(self, enabled: bool) -> None:
        """Enable or disable every agent, at once, within one command timeout.

        Every announced agent gets the desired state (an offline one gets it asserted
        when it comes back); the online ones get the command. Those that do not apply it
        make ONE summary problem (a repair issue naming how many and which), not one per
        agent; raises CommandToAllError then.
        """
        agents = self.announced_agents()
        # Their mismatches are due with the commands' timeouts: covered by the summary.
        self._summarised = {a.key for a in agents}
        for agent in agents:
            agent.desired.update({"enabled": enabled})
            self._reconcile(agent, reassert=False)
        self.store.async_schedule_save()
        targets = [a for a in agents if a.online]
        results = await asyncio.gather(
            *(self.commands.async_send(a, report_timeout=False, enabled=enabled) for a in targets),
            return_exceptions=True,
        )
        failed = [a for a, result in zip(targets, results, strict=True) if isinstance(result, BaseException)]
        self._summarised = {a.key for a in failed}
        if not failed:
            ir.async_delete_issue(self.hass, DOMAIN, ISSUE_COMMAND_ALL)
            return
        error = CommandToAllError(failed, len(targets))
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            ISSUE_COMMAND_ALL,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_COMMAND_ALL,
            translation_placeholders={
                "failed": str(len(failed)),
                "total": str(len(targets)),
                "names": error.names,
                "command": f"enabled={enabled}",
            },
        )
        raise error

    @property
    def all_enabled(self) -> bool | None:
        """Whether every agent with a known state is enabled (None: none known)."""
        states = [a.enabled for a in self.announced_agents() if a.enabled is not None]
        return all(states) if states else None
