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
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from . import protocol
from .agent import Agent, agent_key, people_in
from .alarm import Alarm
from .commands import Commands
from .const import (
    CONF_BASE_TOPIC,
    CONF_CLEAR_AFTER,
    CONF_COMMAND_TIMEOUT,
    CONF_THRESHOLD,
    CONF_TRIGGER_AFTER,
    DEFAULT_OPTIONS,
    DOMAIN,
    EVENT_PERSON_DETECTED,
    LOGGER,
)
from .debounce import PersonTransition
from .devices import AgentDevices, agent_key_of
from .monitoring import ProblemReporter
from .recording.manager import Recordings

type BobbyConfigEntry = ConfigEntry[BobbyHub]


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
    silent: Alarm

    def cancel(self) -> None:
        self.person_clears.cancel()
        self.silent.cancel()


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
        self.agents: dict[str, Agent] = {}
        self.invalid_messages = 0
        self.recent_errors: deque[str] = deque(maxlen=10)
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
        )
        self.recordings = Recordings(hass, self, options)
        self.channels: dict[str, Channel] = {}
        for channel in (
            Channel("status", self._on_status, hub_wide=True),
            Channel("info", self._on_info, hub_wide=True),
            Channel("state", self._on_state, hub_wide=True),
            Channel("ack", self._on_ack, hub_wide=True),
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
        self._warned_topics: set[str] = set()

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

    async def async_start(self) -> None:
        """Register the hub device, restore known agents and subscribe."""
        self.devices.async_register_hub()
        await self.recordings.async_load()  # before any chunk can arrive
        # Agents seen before a restart get their entities at once (restored state),
        # even those that announce nothing retained, such as cameras that only stream.
        for kind, agent_id in self.devices.known_agents():
            self._add_agent(kind, agent_id)
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
        agent = self.agents[agent_key(kind, agent_id)] = Agent.create(
            kind,
            agent_id,
            threshold=self.threshold,
            trigger_after=self.trigger_after,
            clear_after=self.clear_after,
            clock=_now,
        )
        self._alarms[agent.key] = _AgentAlarms(
            person_clears=Alarm(self.hass, lambda: self._person_timer(agent)),
            silent=Alarm(self.hass, lambda: self._silence_timer(agent)),
        )
        return agent

    def _agent(self, kind: str, agent_id: str) -> Agent:
        if (agent := self.agents.get(agent_key(kind, agent_id))) is None:
            agent = self._add_agent(kind, agent_id)
            self.devices.async_update(agent)
        return agent

    def agent_for_device(self, device: dr.DeviceEntry) -> Agent | None:
        """The agent a device stands for, if any."""
        key = agent_key_of(device)
        return None if key is None else self.agents.get(key)

    async def async_forget(self, agent: Agent) -> None:
        """Forget an agent whose device the user removes; clear its retained topics."""
        self.agents.pop(agent.key, None)
        if (alarms := self._alarms.pop(agent.key, None)) is not None:
            alarms.cancel()
        self.commands.async_cancel(agent)
        self.problems.async_clear(agent)
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
        if msg.retain and payload in (b"", ""):
            return  # a retained topic being cleared
        try:
            topic, data = protocol.parse_message(msg.topic, payload, self.base_topic)
        except protocol.ProtocolError as err:
            self.invalid_messages += 1
            self.recent_errors.append(f"{msg.topic}: {err}")
            log = LOGGER.debug if msg.topic in self._warned_topics else LOGGER.warning
            self._warned_topics.add(msg.topic)
            log("Ignoring a message on %s that does not follow docs/protocol.md: %s", msg.topic, err)
            return
        if (channel := self.channels.get(topic.channel)) is None:
            return  # a valid channel the hub does not read (another subscriber's topic)
        agent = self._agent(topic.kind, topic.service_id)
        was_announced = agent.announced
        channel.handler(agent, data)
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
        agent.health.status_received(status)
        self._health_changed(agent)

    def _on_info(self, agent: Agent, info: protocol.InfoPayload) -> None:
        agent.info = info
        agent.health.info_received(info["stats_interval"])
        self.devices.async_update(agent)
        self._health_changed(agent)

    def _on_state(self, agent: Agent, state: protocol.StatePayload) -> None:
        agent.state = state

    def _on_stats(self, agent: Agent, stats: protocol.StatsPayload) -> None:
        agent.stats = stats
        agent.health.stats_received()
        self._health_changed(agent)

    def _on_ack(self, agent: Agent, ack: protocol.AckPayload) -> None:
        if not self.commands.resolve(agent, ack):
            return
        if ack["ok"] and "state" in ack:
            agent.state = ack["state"]
        agent.health.command_answered()
        self._health_changed(agent)

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
        """Report problems that appeared or cleared, and watch the next heartbeat."""
        self.problems.async_report(agent)
        self._alarms[agent.key].silent.set(agent.health.silent_at())

    @callback
    def _silence_timer(self, agent: Agent) -> None:
        was_connected = agent.connected
        agent.health.check_silence()
        self._health_changed(agent)
        if agent.connected != was_connected:
            self._notify(agent)

    @callback
    def _command_timed_out(self, agent: Agent, description: str) -> None:
        agent.health.command_timed_out(description)
        self._health_changed(agent)
        self._notify(agent)

    # --- commands ---------------------------------------------------------------------

    async def async_command(self, agent: Agent, **fields: Any) -> protocol.StatePayload:
        """Send a command and wait for its ack; settings in it become the desired state."""
        agent.desired.update(fields)
        return await self.commands.async_send(agent, **fields)

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
        """Enable or disable every agent; raises the first failure once all have answered."""
        targets = [a for a in self.announced_agents() if a.health.status != protocol.OFFLINE]
        results = await asyncio.gather(
            *(self.async_set_enabled(a, enabled) for a in targets), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    @property
    def all_enabled(self) -> bool | None:
        """Whether every agent with a known state is enabled (None: none known)."""
        states = [a.enabled for a in self.announced_agents() if a.enabled is not None]
        return all(states) if states else None
