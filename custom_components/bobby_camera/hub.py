"""The hub: owns the MQTT subscriptions and the state of every camera and detector.

It plays the part a DataUpdateCoordinator plays for a polling integration: entities read
`Service` objects and refresh when the hub sends them a dispatcher signal.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from uuid import uuid4

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from . import protocol
from .compat import find_device, via_device
from .const import (
    CONF_BASE_TOPIC,
    CONF_CLEAR_AFTER,
    CONF_COMMAND_TIMEOUT,
    CONF_THRESHOLD,
    CONF_TRIGGER_AFTER,
    DEFAULT_OPTIONS,
    DOMAIN,
    EVENT_PERSON_DETECTED,
    EVENT_SERVICE_PROBLEM,
    LOGGER,
    MISSED_HEARTBEATS,
    PROBLEM_COMMAND_TIMEOUT,
    PROBLEM_OFFLINE,
    PROBLEM_SILENT,
    PROBLEMS,
)

type BobbyConfigEntry = ConfigEntry[BobbyHub]

# Channels the hub subscribes to: per channel the kind filter and the QoS.
_SUBSCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("+", "status"),
    ("+", "info"),
    ("+", "state"),
    ("+", "ack"),
    ("+", "stats"),
    ("camera", "detection"),
    ("camera", "snapshot"),
    ("camera", "preview"),
)
# Messages that show a camera exists even when no agent announces it.
_EVIDENCE = frozenset({"detection", "snapshot", "preview"})
# Channels that can change what the hub switch shows.
_HUB_CHANNELS = frozenset({"status", "info", "state", "ack"})
_RETAINED_TO_CLEAR = ("status", "info", "state", "snapshot", "preview")


class BobbyCommandError(Exception):
    """A command was not applied; subclasses say why."""

    def __init__(self, service: Service, detail: str = "") -> None:
        """Remember the service and the detail for the translated message."""
        super().__init__(f"{service.key}: {detail}" if detail else service.key)
        self.service = service
        self.detail = detail


class CommandTimeoutError(BobbyCommandError):
    """No ack within the command timeout."""


class CommandRejectedError(BobbyCommandError):
    """The agent answered ok: false."""


class NotControllableError(BobbyCommandError):
    """The service is a camera that only publishes frames: it takes no commands."""


@dataclass(eq=False)
class Service:
    """What the hub knows about one camera or detector."""

    kind: str
    service_id: str
    status: str | None = None
    info: protocol.InfoPayload | None = None
    state: protocol.StatePayload | None = None
    stats: protocol.StatsPayload | None = None
    silent: bool = False
    failed_command: str | None = None
    # Cameras only.
    person: bool = False
    last_detection: protocol.DetectionPayload | None = None
    last_hit: datetime | None = None
    snapshot: bytes | None = None
    preview: bytes | None = None
    # Bookkeeping of the hub and the platforms.
    reported_problems: tuple[str, ...] = ()
    entity_tags: set[str] = field(default_factory=set)
    offered: bool = False
    streak_start: datetime | None = None
    cancel_heartbeat: CALLBACK_TYPE | None = None
    cancel_clear: CALLBACK_TYPE | None = None

    @property
    def key(self) -> str:
        """Identifier of the device and prefix of the unique ids."""
        return f"{self.kind}_{self.service_id}"

    @property
    def name(self) -> str:
        """Name the agent announced, else its id."""
        return (self.info and self.info.get("name")) or self.service_id

    @property
    def is_agent(self) -> bool:
        """Whether a Bobby agent runs it: it announced its info (a dumb camera only streams)."""
        return self.info is not None

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
    def enabled(self) -> bool | None:
        """The acknowledged `enabled` state."""
        return None if self.state is None else bool(self.state.get("enabled"))

    @property
    def stats_interval(self) -> float | None:
        """Heartbeat period the agent announced."""
        return None if self.info is None else float(self.info["stats_interval"])

    @property
    def problems(self) -> tuple[str, ...]:
        """The problems in force, in PROBLEMS order."""
        active = {
            PROBLEM_OFFLINE: self.status == protocol.OFFLINE,
            PROBLEM_SILENT: self.online and self.silent,
            PROBLEM_COMMAND_TIMEOUT: self.failed_command is not None,
        }
        return tuple(p for p in PROBLEMS if active[p])


@dataclass(slots=True)
class _Pending:
    service: Service
    future: asyncio.Future[protocol.StatePayload]
    description: str
    cancel_timeout: CALLBACK_TYPE | None = None


class BobbyHub:
    """Subscriptions, per-service state, commands and monitoring for one config entry."""

    def __init__(self, hass: HomeAssistant, entry: BobbyConfigEntry) -> None:
        """Read the options; nothing runs until async_start."""
        self.hass = hass
        self.entry = entry
        options = {**DEFAULT_OPTIONS, **entry.options}
        self.base_topic: str = options[CONF_BASE_TOPIC]
        self.threshold: float = float(options[CONF_THRESHOLD])
        self.trigger_after: float = float(options[CONF_TRIGGER_AFTER])
        self.clear_after: float = float(options[CONF_CLEAR_AFTER])
        self.command_timeout: float = float(options[CONF_COMMAND_TIMEOUT])
        self.services: dict[str, Service] = {}
        self.invalid_messages = 0
        self.recent_errors: deque[str] = deque(maxlen=10)
        self._pending: dict[str, _Pending] = {}
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._warned_topics: set[str] = set()
        self.hub_device: dr.DeviceEntry | None = None

    # --- signals ----------------------------------------------------------------------

    @property
    def signal_new_service(self) -> str:
        """Sent with a Service when it appears or gains entities."""
        return f"{DOMAIN}_{self.entry.entry_id}_new_service"

    @property
    def signal_hub_update(self) -> str:
        """Sent on any change of any service (for the hub switch)."""
        return f"{DOMAIN}_{self.entry.entry_id}_update"

    def signal_update(self, service: Service) -> str:
        """Sent with the channel (None for timers) when the state of one service changes."""
        return f"{DOMAIN}_{self.entry.entry_id}_update_{service.key}"

    def signal_person(self, service: Service) -> str:
        """Sent with (event type, attributes) on a person transition of a camera."""
        return f"{DOMAIN}_{self.entry.entry_id}_person_{service.key}"

    def signal_problem(self, service: Service) -> str:
        """Sent with (event type, attributes) when the problems of a service change."""
        return f"{DOMAIN}_{self.entry.entry_id}_problem_{service.key}"

    # --- life cycle -------------------------------------------------------------------

    async def async_start(self) -> None:
        """Register the hub device, restore known services and subscribe."""
        registry = dr.async_get(self.hass)
        self.hub_device = registry.async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, self.entry.entry_id)},
            manufacturer="Bobby Camera",
            model="MQTT hub",
            name="Bobby Camera",
            entry_type=dr.DeviceEntryType.SERVICE,
        )
        # Services seen before a restart get their entities at once (restored state),
        # even those that announce nothing retained, such as cameras that only stream.
        for device in dr.async_entries_for_config_entry(registry, self.entry.entry_id):
            for domain, key in device.identifiers:
                kind, _, service_id = key.partition("_")
                if domain == DOMAIN and kind in protocol.KINDS and protocol.is_valid_service_id(service_id):
                    self.services[key] = Service(kind, service_id)
        for kind, channel in _SUBSCRIPTIONS:
            self._unsubscribe.append(
                await mqtt.async_subscribe(
                    self.hass,
                    f"{self.base_topic}/{kind}/+/{channel}",
                    self._async_message,
                    qos=protocol.QOS[channel],
                    encoding=None,
                )
            )

    @callback
    def async_stop(self) -> None:
        """Unsubscribe, cancel timers and fail pending commands."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        for service in self.services.values():
            for cancel in (service.cancel_heartbeat, service.cancel_clear):
                if cancel:
                    cancel()
            service.cancel_heartbeat = service.cancel_clear = None
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(CommandTimeoutError(pending.service, pending.description))
        self._pending.clear()

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
        service = self._service(topic.kind, topic.service_id)
        was_agent = service.is_agent
        handler: Callable[[Service, Any], None] = getattr(self, f"_on_{topic.channel}")
        handler(service, data)
        # Entities appear once the agent's info names it, or (for a camera that only
        # streams) once something shows it exists: so entity ids come from the real name.
        if service.is_agent != was_agent or (not service.offered and topic.channel in _EVIDENCE):
            service.offered = True
            async_dispatcher_send(self.hass, self.signal_new_service, service)
        self._notify(service, topic.channel)

    def _service(self, kind: str, service_id: str) -> Service:
        key = f"{kind}_{service_id}"
        if (service := self.services.get(key)) is None:
            service = self.services[key] = Service(kind, service_id)
            self._update_device(service)
        return service

    @callback
    def _notify(self, service: Service, channel: str | None = None) -> None:
        """Refresh the service's entities that read this channel (None: all of them)."""
        async_dispatcher_send(self.hass, self.signal_update(service), channel)
        if channel is None or channel in _HUB_CHANNELS:
            async_dispatcher_send(self.hass, self.signal_hub_update)

    def _on_status(self, service: Service, status: str) -> None:
        previous, service.status = service.status, status
        if status == protocol.ONLINE:
            if previous != protocol.ONLINE:
                # A (re)started agent has forgotten old commands: start afresh.
                service.failed_command = None
                service.silent = False
            self._schedule_heartbeat(service)
        else:
            self._cancel_heartbeat(service)
            service.silent = False
        self._refresh_problems(service)

    def _on_info(self, service: Service, info: protocol.InfoPayload) -> None:
        service.info = info
        self._update_device(service)
        if service.cancel_heartbeat is None:
            self._schedule_heartbeat(service)

    def _on_state(self, service: Service, state: protocol.StatePayload) -> None:
        service.state = state

    def _on_stats(self, service: Service, stats: protocol.StatsPayload) -> None:
        service.stats = stats
        service.silent = False
        self._schedule_heartbeat(service)
        self._refresh_problems(service)

    def _on_ack(self, service: Service, ack: protocol.AckPayload) -> None:
        pending = self._pending.get(ack["id"]) if ack["id"] is not None else None
        if pending is None or pending.service is not service:
            LOGGER.debug("Ack %s from %s answers no command of ours", ack["id"], service.key)
            return
        if ack["ok"]:
            service.state = ack["state"]
            # An answered command proves the agent listens again.
            service.failed_command = None
            self._refresh_problems(service)
            if not pending.future.done():
                pending.future.set_result(ack["state"])
        elif not pending.future.done():
            service.failed_command = None
            self._refresh_problems(service)
            pending.future.set_exception(CommandRejectedError(service, ack["error"]))

    def _on_snapshot(self, service: Service, image: bytes) -> None:
        service.snapshot = image

    def _on_preview(self, service: Service, image: bytes) -> None:
        service.preview = image

    # --- person state -----------------------------------------------------------------

    def _on_detection(self, service: Service, detection: protocol.DetectionPayload) -> None:
        service.last_detection = detection
        if detection["score"] < self.threshold:
            return
        now = dt_util.utcnow()
        service.last_hit = now
        if service.streak_start is None:
            service.streak_start = now
        if service.cancel_clear:
            service.cancel_clear()
        service.cancel_clear = async_call_later(
            self.hass, self.clear_after, partial(self._async_clear_person, service)
        )
        if not service.person and (now - service.streak_start).total_seconds() >= self.trigger_after:
            service.person = True
            self._fire_person(service, detection)

    @callback
    def _async_clear_person(self, service: Service, _now: datetime | None = None) -> None:
        service.cancel_clear = None
        service.streak_start = None
        if service.person:
            service.person = False
            async_dispatcher_send(self.hass, self.signal_person(service), "cleared", {})
        self._notify(service)

    @callback
    def async_restore_person(self, service: Service, last_hit: datetime) -> None:
        """Carry the person state over a restart: on while `clear_after` has not passed."""
        if service.last_hit is not None:
            return  # a detection arrived since start: it is the truth
        remaining = self.clear_after - (dt_util.utcnow() - last_hit).total_seconds()
        if remaining <= 0:
            return
        service.last_hit = last_hit
        service.person = True
        service.streak_start = last_hit
        service.cancel_clear = async_call_later(
            self.hass, remaining, partial(self._async_clear_person, service)
        )
        self._notify(service)

    def _fire_person(self, service: Service, detection: protocol.DetectionPayload) -> None:
        data = {
            "camera": service.service_id,
            "name": service.name,
            "score": detection["score"],
            "boxes": detection["boxes"],
            "detector": detection["detector"],
            "frame_time": detection["frame_time"],
            "snapshot": detection.get("snapshot", False),
            "snapshot_topic": protocol.build_topic(self.base_topic, "camera", service.service_id, "snapshot"),
        }
        self.hass.bus.async_fire(EVENT_PERSON_DETECTED, {"device_id": self._device_id(service), **data})
        async_dispatcher_send(self.hass, self.signal_person(service), "detected", data)

    # --- monitoring -------------------------------------------------------------------

    def _schedule_heartbeat(self, service: Service) -> None:
        self._cancel_heartbeat(service)
        if service.online and (interval := service.stats_interval):
            service.cancel_heartbeat = async_call_later(
                self.hass, MISSED_HEARTBEATS * interval, partial(self._async_heartbeat_missed, service)
            )

    @staticmethod
    def _cancel_heartbeat(service: Service) -> None:
        if service.cancel_heartbeat:
            service.cancel_heartbeat()
            service.cancel_heartbeat = None

    @callback
    def _async_heartbeat_missed(self, service: Service, _now: datetime) -> None:
        service.cancel_heartbeat = None
        service.silent = True
        self._refresh_problems(service)
        self._notify(service)

    def _refresh_problems(self, service: Service) -> None:
        """Report problems that appeared or cleared: event, repair issue, event entity."""
        current, previous = service.problems, service.reported_problems
        if current == previous:
            return
        service.reported_problems = current
        placeholders = {
            "name": service.name,
            "kind": service.kind,
            "service_id": service.service_id,
            "topic": protocol.build_topic(self.base_topic, service.kind, service.service_id, "status"),
            "missed_after": f"{MISSED_HEARTBEATS * (service.stats_interval or 0):g}",
            "command": service.failed_command or "",
            "timeout": f"{self.command_timeout:g}",
        }
        for problem in PROBLEMS:
            active = problem in current
            if active == (problem in previous):
                continue
            issue_id = f"{service.key}_{problem}"
            if active:
                LOGGER.warning("%s %s: %s", service.kind, service.service_id, problem)
                ir.async_create_issue(
                    self.hass,
                    DOMAIN,
                    issue_id,
                    is_fixable=False,
                    severity=ir.IssueSeverity.WARNING,
                    translation_key=problem,
                    translation_placeholders=placeholders,
                )
            else:
                LOGGER.info("%s %s recovered from: %s", service.kind, service.service_id, problem)
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            self.hass.bus.async_fire(
                EVENT_SERVICE_PROBLEM,
                {
                    "device_id": self._device_id(service),
                    "kind": service.kind,
                    "service_id": service.service_id,
                    "name": service.name,
                    "problem": problem,
                    "active": active,
                    "problems": list(current),
                },
            )
        event_type = current[0] if current else "recovered"
        async_dispatcher_send(
            self.hass, self.signal_problem(service), event_type, {"problems": list(current)}
        )

    # --- commands ---------------------------------------------------------------------

    async def async_command(self, service: Service, **fields: Any) -> protocol.StatePayload:
        """Send a command and wait for its ack; returns the applied state."""
        if not service.is_agent:
            raise NotControllableError(service)
        request_id = uuid4().hex[:16]
        description = ", ".join(f"{k}={v}" for k, v in fields.items())
        payload = protocol.encode_command(request_id, **fields)
        protocol.check_command(service.kind, protocol.decode_json(payload))
        pending = self._pending[request_id] = _Pending(service, self.hass.loop.create_future(), description)
        pending.cancel_timeout = async_call_later(
            self.hass, self.command_timeout, partial(self._async_command_timeout, request_id)
        )
        try:
            await mqtt.async_publish(
                self.hass,
                protocol.build_topic(self.base_topic, service.kind, service.service_id, "set"),
                payload,
                qos=protocol.QOS["set"],
                retain=False,
            )
            return await pending.future
        finally:
            self._pending.pop(request_id, None)
            if pending.cancel_timeout is not None:
                pending.cancel_timeout()

    @callback
    def _async_command_timeout(self, request_id: str, _now: datetime) -> None:
        if (pending := self._pending.pop(request_id, None)) is None:
            return
        pending.cancel_timeout = None
        service = pending.service
        service.failed_command = pending.description
        self._refresh_problems(service)
        self._notify(service)
        if not pending.future.done():
            pending.future.set_exception(CommandTimeoutError(service, pending.description))

    async def async_set_enabled(self, service: Service, enabled: bool) -> None:
        """Enable or disable one service; returns once the agent acknowledged."""
        await self.async_command(service, enabled=enabled)

    async def async_request_preview(self, service: Service) -> None:
        """Ask a camera agent for a fresh full-size preview."""
        await self.async_command(service, action="preview")

    @property
    def agents(self) -> list[Service]:
        """Services that take commands."""
        return [s for s in self.services.values() if s.is_agent]

    async def async_set_all_enabled(self, enabled: bool) -> None:
        """Enable or disable every agent; raises the first failure once all have answered."""
        targets = [s for s in self.agents if s.status != protocol.OFFLINE]
        results = await asyncio.gather(
            *(self.async_set_enabled(s, enabled) for s in targets), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    @property
    def all_enabled(self) -> bool | None:
        """Whether every agent with a known state is enabled (None: none known)."""
        states = [s.enabled for s in self.agents if s.enabled is not None]
        return all(states) if states else None

    # --- devices ----------------------------------------------------------------------

    def _update_device(self, service: Service) -> None:
        info: protocol.InfoPayload | dict[str, str] = service.info or {}
        extra = via_device(self.hub_device) if self.hub_device else {}
        dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, service.key)},
            manufacturer="Bobby Camera",
            model=f"{service.kind.capitalize()} agent" if service.is_agent else "MQTT camera",
            model_id=info.get("model"),
            name=service.name,
            sw_version=info.get("version"),
            **extra,
        )

    def _device_id(self, service: Service) -> str | None:
        device = find_device(dr.async_get(self.hass), self.entry.entry_id, (DOMAIN, service.key))
        return device.id if device else None

    def service_for_device(self, device: dr.DeviceEntry) -> Service | None:
        """The service a device stands for, if any."""
        for domain, key in device.identifiers:
            if domain == DOMAIN and key in self.services:
                return self.services[key]
        return None

    async def async_forget(self, service: Service) -> None:
        """Forget a service whose device the user removes; clear its retained topics."""
        self.services.pop(service.key, None)
        for cancel in (service.cancel_heartbeat, service.cancel_clear):
            if cancel:
                cancel()
        for problem in PROBLEMS:
            ir.async_delete_issue(self.hass, DOMAIN, f"{service.key}_{problem}")
        channels = _RETAINED_TO_CLEAR if service.kind == "camera" else _RETAINED_TO_CLEAR[:3]
        for channel in channels:
            await mqtt.async_publish(
                self.hass,
                protocol.build_topic(self.base_topic, service.kind, service.service_id, channel),
                b"",
                qos=protocol.QOS[channel],
                retain=True,
            )
