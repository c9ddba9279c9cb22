"""The hub: the MQTT subscriptions of one config entry and the agents they report on.

It plays the part a DataUpdateCoordinator plays for a polling integration: entities read
`Agent` objects and refresh on the dispatcher signals of `signals.py`. The hub only wires:
it parses each message and hands it to the part that owns it — `control` (desired state,
commands), `problems` (monitoring made visible), `person` (person state),
`recording` (clips), `devices` and `store`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util

from . import protocol
from .agent import Agent, agent_key
from .arming import Arming
from .bad_input import MQTT_CLIENT_LOGGER, BadInputLog, UndecodableFilter
from .capacity import CapacityWatch
from .connection import BrokerConnection
from .const import (
    AGENT_CHANNELS,
    CONF_ALLOW_DISARM_WITH_PERSON,
    CONF_BASE_TOPIC,
    CONF_CLEAR_AFTER,
    CONF_COMMAND_TIMEOUT,
    CONF_LIVE_FPS,
    CONF_MAX_AGENTS,
    CONF_NATIVE_VIDEO,
    CONF_OFFLINE_GRACE,
    CONF_SELFTEST_INTERVAL,
    CONF_THRESHOLD,
    CONF_TRIGGER_AFTER,
    DEFAULT_OPTIONS,
    DOMAIN,
    ISSUE_AGENT_LIMIT,
    LOGGER,
    MISMATCH_MARGIN,
)
from .control import Control
from .devices import AgentDevices, agent_key_of
from .live import LiveViews
from .person import PersonEvents
from .problems import ProblemReporter, create_issue, delete_issue
from .recording.index import HubLinks
from .recording.manager import Recordings
from .selftest import SelfTests
from .signals import Signals
from .store import REMEMBERED_CHANNELS, HubStore
from .watching import Watching

type BobbyConfigEntry = ConfigEntry[BobbyHub]

# Channels that change who asks for detection and who offers it (capacity.py); stats
# are handled in `_on_stats`.
FLEET_CHANNELS = frozenset({"status", "state"})


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel the hub subscribes to (`<base>/<kind>/+/<name>`) and what it does with it."""

    name: str
    handler: Callable[[Agent, Any], None]  # called with the parsed payload
    kind: str = "+"  # a topic level: every kind, or only this one
    evidence: bool = False  # shows that a camera exists even when no agent announces it
    hub_wide: bool = False  # can change what the hub switch shows
    # Called for agents already known only (a message on it creates no agent, no device);
    # `unknown(agent_id)` hears of the others.
    unknown: Callable[[str], None] | None = None


def _now() -> datetime:
    # Looked up at each call: tests freeze the clock by patching dt_util.
    return dt_util.utcnow()


class BobbyHub:
    """Subscriptions and agents of one config entry, wired to the parts that own them."""

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
        self.signals = Signals(hass, entry.entry_id)
        self.store = HubStore(hass, entry.entry_id)
        self.devices = AgentDevices(hass, entry)
        self.problems = ProblemReporter(
            hass,
            base_topic=self.base_topic,
            command_timeout=self.command_timeout,
            fire=self.devices.async_fire,
            signals=self.signals,
        )
        self.watching = Watching(
            hass, agents=self.agents.values, devices=self.devices, signals=self.signals, clock=_now
        )
        self.control = Control(
            hass,
            entry,
            base_topic=self.base_topic,
            timeout=self.command_timeout,
            agents=self.agents.values,
            store=self.store,
            problems=self.problems,
            signals=self.signals,
            on_desired=self.watching.update,
        )
        self.arming = Arming(
            hass,
            agents=self.agents.values,
            control=self.control,
            store=self.store,
            signals=self.signals,
            command_timeout=self.command_timeout,
            allow_disarm_with_person=bool(options[CONF_ALLOW_DISARM_WITH_PERSON]),
            # A detector that answers self-tests counts once it passed one (selftest.py).
            proven=lambda agent: not SelfTests.capable(agent) or self.selftests.verified(agent),
        )
        self.person = PersonEvents(
            hass, base_topic=self.base_topic, devices=self.devices, signals=self.signals
        )
        links = HubLinks(
            base_topic=self.base_topic,
            agents=self.agents,
            signals=self.signals,
            fire=self.devices.async_fire,
            background=self._background,
        )
        self.recordings = Recordings(hass, links, options)
        self.capacity = CapacityWatch(hass, self.agents.values, self.signals, _now)
        self.live = LiveViews(
            hass,
            self.control.commands,
            base_topic=self.base_topic,
            rate=float(options[CONF_LIVE_FPS]),
            background=self._background,
        )
        # The cameras whose RTSP stream HA may play, with the owner's login for each (options).
        self.native_video: dict[str, Any] = dict(options.get(CONF_NATIVE_VIDEO, {}))
        self.selftests = SelfTests(
            hass,
            base_topic=self.base_topic,
            timeout=self.command_timeout,
            interval=float(options[CONF_SELFTEST_INTERVAL]),
            problems=self.problems,
            signals=self.signals,
            background=self._background,
        )
        self.channels: dict[str, Channel] = {}
        for channel in (
            # ack first: Home Assistant subscribes wildcard topics one at a time, each after
            # the broker's SUBACK, in this order. Retained status, info and state make the
            # hub send commands at once (the owner's wishes re-asserted); their acks, and
            # those of a command sent as soon as an agent shows up, must find it in place.
            Channel("ack", self.control.on_ack, hub_wide=True),
            Channel("status", self.control.on_status, hub_wide=True),
            Channel("info", self._on_info, hub_wide=True),
            Channel("state", self.control.on_state, hub_wide=True),
            Channel("stats", self._on_stats),
            Channel("detection", self.person.on_detection, kind=protocol.KIND_CAMERA, evidence=True),
            Channel("snapshot", self._on_snapshot, kind=protocol.KIND_CAMERA, evidence=True),
            Channel("preview", self._on_preview, kind=protocol.KIND_CAMERA, evidence=True),
            # Live frames only from cameras already known (a lease is asked of announced ones).
            Channel(
                protocol.LIVE, self.live.on_live, kind=protocol.KIND_CAMERA, unknown=lambda _agent_id: None
            ),
            # Not evidence: only a camera agent that announced itself records (recording/limits.py),
            # so a client that only sends chunks gets no device.
            Channel(
                protocol.CHUNK_CHANNEL,
                self.recordings.on_chunk,
                kind=protocol.KIND_CAMERA,
                unknown=self.recordings.gate.unknown_camera,
            ),
            # A detector's answer to the self-test: from a known detector only.
            Channel(
                protocol.SELFTEST_RESULT_CHANNEL,
                self.selftests.on_result,
                kind=protocol.KIND_DETECTOR,
                unknown=lambda _agent_id: None,
            ),
        ):
            self.add_channel(channel)
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self.connection = BrokerConnection(
            hass,
            clock=_now,
            on_lost=self._broker_lost,
            on_back=self._broker_back,
            on_settled=self._broker_settled,
        )

    def add_channel(self, channel: Channel) -> None:
        """Handle one more channel (call before async_start).

        Entities refresh on the channels their description lists, so a new channel
        refreshes nothing that does not read it.
        """
        self.channels[channel.name] = channel

    def _background(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.entry.async_create_background_task(self.hass, coro, f"{DOMAIN} {name}")

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
        delete_issue(self.hass, ISSUE_AGENT_LIMIT)  # the options may have changed
        # Agents seen before a restart get their entities at once, with the last valid
        # status, info and state they reported (retained garbage cannot take them away),
        # even those that announce nothing retained, such as cameras that only stream.
        for kind, agent_id in self.devices.known_agents():
            agent = self._add_agent(kind, agent_id)
            self._restore(agent)
        self._unsubscribe.append(
            mqtt.async_subscribe_connection_status(self.hass, self.connection.on_connection)
        )
        undecodable = UndecodableFilter(self.base_topic)
        logging.getLogger(MQTT_CLIENT_LOGGER).addFilter(undecodable)
        self._unsubscribe.append(lambda: logging.getLogger(MQTT_CLIENT_LOGGER).removeFilter(undecodable))
        if not mqtt.is_connected(self.hass):
            self.connection.on_connection(False)  # started during an outage: nothing is known yet
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
        self.watching.async_start()
        self.arming.async_start()

    @callback
    def async_stop(self) -> None:
        """Unsubscribe, cancel timers and fail pending commands."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        self.connection.async_stop()
        self.control.async_stop()
        self.recordings.async_stop()
        self.selftests.async_stop()
        self.person.async_stop()
        self.problems.async_stop()
        self.watching.async_stop()
        self.arming.async_stop()
        self.control.commands.async_cancel()

    # --- Home Assistant's own connection to the broker (connection.py) -------------------

    @property
    def cut_off(self) -> bool:
        """Whether Home Assistant itself has no connection to the broker now."""
        return self.connection.cut_off

    @callback
    def _broker_lost(self) -> None:
        """Nothing is known about the agents (connectivity unknown), none of their deadlines runs."""
        for agent in self.agents.values():
            agent.health.suspend()
            self.problems.async_report(agent)
        self.watching.suspend()
        self._refresh_all()

    @callback
    def _broker_back(self) -> None:
        for agent in self.agents.values():
            agent.health.reconnected()
        self._refresh_all()

    @callback
    def _broker_settled(self) -> None:
        """The retained reports are in: watch every agent again, and assert what the owner set once."""
        for agent in self.agents.values():
            agent.health.resume()
            self.control.reconcile(agent)  # re-asserts what differs (once, then backs off)
        self._refresh_all()
        self.watching.resume()

    def _refresh_all(self) -> None:
        for agent in self.agents.values():
            self.selftests.follow(agent)  # none while cut off: a missing answer is not the detector's
            self.signals.refresh(agent)

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
            lie_after=self.command_timeout,  # it acked, then reported otherwise
            desired=self.store.desired_for(key),
        )
        self.person.async_watch(agent)
        self.problems.async_watch(agent)
        if self.cut_off:
            agent.health.suspend()
        self.watching.update(agent)
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
        self.problems.async_report(agent)
        self.watching.update(agent)

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
        create_issue(
            self.hass,
            ISSUE_AGENT_LIMIT,
            ISSUE_AGENT_LIMIT,
            {"limit": str(self.max_agents), "first": f"{kind} {agent_id}", "base_topic": self.base_topic},
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
        self.person.async_forget(agent)
        self.control.commands.async_cancel(agent)
        self.control.async_stop(agent)
        self.selftests.async_forget(agent)
        self.problems.async_clear(agent)
        self.capacity.forget(agent)
        self.watching.forget(agent)
        self.store.forget(agent.key)
        for channel in sorted(protocol.RETAINED):
            if not agent.is_camera and channel in protocol.CAMERA_ONLY_CHANNELS:
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
        key = agent_key(topic.kind, topic.agent_id)
        if self.store.is_forgotten(key):
            if data != protocol.ONLINE:
                return  # removed by the owner: only the agent coming back online revives it
            self.store.revive(key)
        if channel.unknown is not None and key not in self.agents:
            channel.unknown(topic.agent_id)
            return
        if (agent := self._agent(topic.kind, topic.agent_id)) is None:
            return
        was_announced = agent.announced
        # A person seen or gone, a problem raised or cleared: the alarm panel judges again.
        verified = (agent.person.on, agent.problems)
        channel.handler(agent, data)
        if channel.name in AGENT_CHANNELS and channel.name != "stats":
            self.watching.update(agent)  # stats: its handler feeds the coverage itself
        if not agent.is_camera:
            self.selftests.follow(agent)  # online and enabled: tested; switched off: not
        if channel.name in REMEMBERED_CHANNELS:
            self.store.remember(agent.key, channel.name, data)
        # Entities appear once the agent's info names it, or (for a camera that only
        # streams) once something shows it exists: so entity ids come from the real name.
        if agent.announced != was_announced or (not agent.offered and channel.evidence):
            agent.offered = True
            self.signals.new(agent)
        hub_wide = channel.hub_wide or (agent.person.on, agent.problems) != verified
        self.signals.refresh(agent, channel.name, hub_wide=hub_wide)
        if channel.name in FLEET_CHANNELS:
            self.capacity.update()

    def _on_info(self, agent: Agent, info: protocol.InfoPayload) -> None:
        agent.info = info
        agent.health.info_received(info["stats_interval"])
        self.devices.async_update(agent)
        self.control.reconcile(agent)

    def _on_stats(self, agent: Agent, stats: protocol.StatsPayload) -> None:
        agent.stats = stats
        agent.health.stats_received(stats.get("problems"))
        self.problems.async_report(agent)
        self.capacity.on_stats(agent)
        if agent.is_camera:
            self.watching.update(agent)
        else:
            self.watching.detector_stats(agent, stats)

    def _on_snapshot(self, agent: Agent, image: bytes) -> None:
        agent.snapshot = image
        self.recordings.on_snapshot(agent, image)  # the thumbnail of the event it belongs to

    def _on_preview(self, agent: Agent, image: bytes) -> None:
        agent.preview = image
