"""Sensors: camera fps and last score; detector inference time, analysed fps, dropped frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTemperature, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import protocol
from .agent import Agent
from .const import DETECTION_CHANNELS
from .entity import BobbyEntity, BobbyEntityDescription, async_add_agent_entities
from .hub import BobbyConfigEntry

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
    return agent.kind == "camera" and agent.announced


def _detector(agent: Agent) -> bool:
    return agent.kind == "detector" and agent.announced


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
        exists_fn=lambda a: a.kind == "camera",
        available_fn=lambda a: True,
        channels=DETECTION_CHANNELS,
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
)


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add sensors for known agents and for those that appear later."""
    async_add_agent_entities(entry, async_add_entities, DESCRIPTIONS, BobbySensor)


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
