"""Sensors: camera fps, last score, person count, last clip, motion time and stream; detector
costs, load and capacity; on the hub, detection demand against capacity (capacity.py).

Person count: while the person sensor is on, the people in the last detection at or above
the threshold (`person_count`, or its boxes from an older detector); 0 while it is off.
Detections come only when someone is seen, so the count cannot fall by itself: it drops
to 0 when the person sensor clears, never in between, and never says people are there
while the person sensor says nobody is. Over a restart it comes back with the person
state (restored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTemperature, UnitOfTime
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from . import protocol
from .agent import Agent, label_key
from .capacity import Fleet
from .const import CLIP_CHANNEL, COVERAGE_CHANNEL, DETECTION_CHANNELS, DOMAIN
from .devices import resolution_text
from .entity import BobbyEntity, BobbyEntityDescription, async_add_agent_entities
from .hub import BobbyConfigEntry, BobbyHub

PARALLEL_UPDATES = 0

FPS = "fps"


def _stat(read: Callable[[protocol.StatsPayload], float | None]) -> Callable[[Agent], float | None]:
    """A value of the agent's last stats; None before any arrived."""
    return lambda a: None if a.stats is None else read(a.stats)


def _reporting(agent: Agent) -> bool:
    return bool(agent.connected)


@dataclass(frozen=True, kw_only=True)
class BobbySensorDescription(BobbyEntityDescription, SensorEntityDescription):
    """A sensor of an agent."""

    value_fn: Callable[[Agent], Any]
    available_fn: Callable[[Agent], bool] = _reporting


def _camera_agent(agent: Agent) -> bool:
    return agent.is_camera and agent.announced


def _detector(agent: Agent) -> bool:
    return agent.kind == "detector" and agent.announced


def _load_percent(stats: protocol.StatsPayload) -> float | None:
    load = stats.get("load")
    return None if load is None else round(100 * load, 1)


def _people(agent: Agent) -> int | None:
    return agent.people if agent.person.on else 0


# Sources that deliver a video stream (their info carries `stream_*`: docs/protocol.md).
STREAM_SOURCES = frozenset({"rtsp", "rtsps", "v4l2"})


def _streaming_camera(agent: Agent) -> bool:
    info = agent.info
    return (
        agent.is_camera
        and info is not None
        and (info.get("source") in STREAM_SOURCES or "stream_codec" in info or "stream_resolution" in info)
    )


def _stream_resolution(agent: Agent) -> str | None:
    size = None if agent.info is None else agent.info.get("stream_resolution")
    return None if size is None else resolution_text(size)


PERSON_COUNT = "person_count"


DESCRIPTIONS: tuple[BobbySensorDescription, ...] = (
    BobbySensorDescription(
        key="fps",
        translation_key="camera_fps",
        native_unit_of_measurement=FPS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_stat(lambda s: s["fps"]),
        exists_fn=_camera_agent,
    ),
    BobbySensorDescription(
        key="last_score",
        translation_key="last_score",
        native_unit_of_measurement="%",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda a: None if a.last_detection is None else round(a.last_detection["score"] * 100, 1),
        exists_fn=lambda a: a.is_camera,
        available_fn=lambda a: True,
        channels=DETECTION_CHANNELS,
    ),
    BobbySensorDescription(
        key="last_clip",
        translation_key="last_clip",
        device_class=SensorDeviceClass.TIMESTAMP,
        # When the newest clip was ready; its ids and URL for automations in the attributes.
        value_fn=lambda a: None if a.last_clip is None else dt_util.parse_datetime(a.last_clip["ready"]),
        attributes_fn=lambda a: (
            None if a.last_clip is None else {k: v for k, v in a.last_clip.items() if k != "ready"}
        ),
        exists_fn=lambda a: a.is_camera and (a.last_clip is not None or a.can_record),
        available_fn=lambda a: True,
        channels=frozenset({CLIP_CHANNEL, "info"}),
    ),
    BobbySensorDescription(
        key="inference_time",
        translation_key="inference_time",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_stat(lambda s: s.get("inference_ms_p50")),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="analysed_fps",
        translation_key="analysed_fps",
        native_unit_of_measurement=FPS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_stat(lambda s: s["fps"]),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="frames_dropped",
        translation_key="frames_dropped",
        native_unit_of_measurement="frames",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_stat(lambda s: s.get("frames_dropped")),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="cpu_temperature",
        translation_key="cpu_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_stat(lambda s: s.get("cpu_temperature")),
        exists_fn=lambda a: a.announced,
    ),
    # --- people and the cost of finding them (issue 13) ---
    BobbySensorDescription(
        key=PERSON_COUNT,
        translation_key=PERSON_COUNT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_people,
        exists_fn=lambda a: a.is_camera,
        available_fn=lambda a: True,  # like the person sensor: detections, not the heartbeat
        channels=DETECTION_CHANNELS,  # the clearing timer refreshes every entity of the agent
    ),
    BobbySensorDescription(
        key="frame_time",
        translation_key="frame_time",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_stat(lambda s: s.get("frame_ms_p50")),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="regions_per_frame",
        translation_key="regions_per_frame",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,  # follows the motion in every camera
        value_fn=_stat(lambda s: s.get("regions_per_frame")),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="tiles_per_frame",
        translation_key="tiles_per_frame",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,  # follows which cameras send regions
        value_fn=_stat(lambda s: s.get("tiles_per_frame")),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="workers",
        translation_key="workers",
        entity_category=EntityCategory.DIAGNOSTIC,  # a setting: no statistics
        value_fn=_stat(lambda s: s.get("workers")),
        exists_fn=_detector,
    ),
    # --- load and headroom (issue 26) ---
    BobbySensorDescription(
        key="load",
        translation_key="load",
        native_unit_of_measurement="%",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_stat(_load_percent),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="capacity",
        translation_key="capacity",
        native_unit_of_measurement=FPS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_stat(lambda s: s.get("capacity_fps")),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="motion_time",
        translation_key="motion_time",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_stat(lambda s: s.get("motion_ms")),
        exists_fn=_camera_agent,
    ),
    # --- the stream of an RTSP camera or a webcam (issue 14); the device page also shows
    # the source type (model) and the whole stream (hardware): devices.py ---
    BobbySensorDescription(
        key="stream_resolution",
        translation_key="stream_resolution",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_stream_resolution,
        exists_fn=_streaming_camera,
    ),
    BobbySensorDescription(
        key="stream_codec",
        translation_key="stream_codec",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda a: None if a.info is None else a.info.get("stream_codec"),
        exists_fn=_streaming_camera,
    ),
    # --- watched (issue 22): share of the last 24 h an enabled camera was watched ---
    BobbySensorDescription(
        key="coverage",
        translation_key="coverage",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda a: None if a.watch is None else a.watch.percent,
        exists_fn=lambda a: a.is_camera,
        available_fn=lambda a: True,  # a day's figure: a camera offline now still has one
        channels=frozenset({COVERAGE_CHANNEL}),
    ),
)


@dataclass(frozen=True, kw_only=True)
class BobbyHubSensorDescription(SensorEntityDescription):
    """A sensor of the hub: a figure of the whole fleet."""

    value_fn: Callable[[Fleet], float | None]
    attributes_fn: Callable[[Fleet], dict[str, Any]]


HUB_DESCRIPTIONS: tuple[BobbyHubSensorDescription, ...] = (
    BobbyHubSensorDescription(
        key="detection_demand",
        translation_key="detection_demand",
        native_unit_of_measurement=FPS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda f: f.demand,
        attributes_fn=lambda f: {"cameras": dict(f.cameras)},
    ),
    BobbyHubSensorDescription(
        key="detection_capacity",
        translation_key="detection_capacity",
        native_unit_of_measurement=FPS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda f: f.capacity,
        attributes_fn=lambda f: {"detectors": f.detectors},
    ),
)


def _object_count(label: str) -> BobbySensorDescription:
    """*Car count*: like the person count, the objects of the last detection while present."""
    return BobbySensorDescription(
        key=f"object_{label}_count",
        translation_key=f"object_count_{label}",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda a: a.counts.get(label, 0) if a.present(label_key(label)) else 0,
        exists_fn=lambda a: a.is_camera and label in (a.desired.objects or ()),
        available_fn=lambda a: True,  # like the person count: detections, not the heartbeat
        channels=DETECTION_CHANNELS,
    )


OBJECT_COUNTS: tuple[BobbySensorDescription, ...] = tuple(
    _object_count(label) for label in protocol.OBJECT_LABELS if label != protocol.PERSON
)


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the hub's sensors, and sensors for known agents and for those that appear later."""
    async_add_entities([BobbyHubSensor(entry.runtime_data, d) for d in HUB_DESCRIPTIONS])
    async_add_agent_entities(
        entry, async_add_entities, [d for d in DESCRIPTIONS if d.key != PERSON_COUNT], BobbySensor
    )
    async_add_agent_entities(
        entry, async_add_entities, [d for d in DESCRIPTIONS if d.key == PERSON_COUNT], BobbyPersonCountSensor
    )
    async_add_agent_entities(entry, async_add_entities, OBJECT_COUNTS, BobbySensor)


class BobbySensor(BobbyEntity, SensorEntity):
    """A sensor that reads its value from the agent."""

    entity_description: BobbySensorDescription

    @property
    @override
    def available(self) -> bool:
        """Stats-based sensors are unavailable while the agent is offline or silent."""
        return self.entity_description.available_fn(self.agent)

    @property
    @override
    def native_value(self) -> Any:
        """Return the value."""
        return self.entity_description.value_fn(self.agent)


class BobbyHubSensor(SensorEntity):
    """Detection demand or capacity of all agents, on the hub device."""

    entity_description: BobbyHubSensorDescription
    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, hub: BobbyHub, description: BobbyHubSensorDescription) -> None:
        """Attach to the hub device."""
        self.hub = hub
        self.entity_description = description
        self._attr_unique_id = f"hub_{description.key}"  # one hub entry per installation
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, hub.entry.entry_id)})

    @override
    async def async_added_to_hass(self) -> None:
        """Refresh when demand or capacity changes."""
        self.async_on_remove(
            async_dispatcher_connect(self.hass, self.hub.signals.fleet_update, self.async_write_ha_state)
        )

    @property
    @override
    def native_value(self) -> float | None:
        """Return the figure."""
        return self.entity_description.value_fn(self.hub.capacity.fleet)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """What the figure is made of."""
        return self.entity_description.attributes_fn(self.hub.capacity.fleet)


class BobbyPersonCountSensor(BobbySensor, RestoreSensor):
    """Person count; comes back with the person state over a restart (detections are not retained).

    Written only when the count changes: detections come many times a second and mostly
    repeat it.
    """

    _written: int | None = None

    @callback
    @override
    def _handle_update(self, channel: str | None) -> None:
        if channel is not None and channel not in self.entity_description.channels:
            return
        if self.native_value != self._written:
            self.async_write_ha_state()

    @callback
    @override
    def async_write_ha_state(self) -> None:
        # Every write counts, the platform's first one included: the person sensor may
        # restore a sighting after it, and that must still reach the state machine.
        self._written = self.native_value
        super().async_write_ha_state()

    @override
    async def async_added_to_hass(self) -> None:
        """Take the count from before the restart where no detection has arrived since."""
        await super().async_added_to_hass()
        if self.agent.people is None and (last := await self.async_get_last_sensor_data()) is not None:
            value = last.native_value
            # 0 was stored while nobody was there: it says nothing about the people of a
            # sighting the person sensor restores.
            if isinstance(value, int | float) and value >= 1:
                self.agent.people = int(value)
